//! What a delivery attempt's answer means and when the next attempt goes (docs/webhooks.md,
//! "Retries"): only a 2xx answer is success; 410 disables the endpoint; 429, 502 and 504
//! may say when to come back (`Retry-After`); anything else, a redirect, a timeout or no
//! answer is a failure retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h,
//! each with some jitter, then the delivery is `failed`.

use std::time::Duration;

/// Waits before each retry: after the first attempt 5 s, ..., after the ninth retry none.
pub const RETRY_AFTER: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The most a `Retry-After` may push an attempt back: the next scheduled wait is a floor,
/// a day the ceiling, so a receiver cannot park a delivery for ever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status, and the seconds of its `Retry-After` header when it had a valid one.
    Status { code: u16, retry_after: Option<u64> },
    /// No answer within the time allowed, or no connection.
    NoAnswer,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    /// Try again after this long.
    Retry(Duration),
    /// No attempt is left: the delivery failed.
    Failed,
    /// 410 Gone: the receiver asked to be forgotten; disable the endpoint.
    Disable,
}

/// The decision after attempt number `attempt` (1 for the first) ended with `answer`.
/// `jitter_permille` (0 to 1000, drawn by the caller) adds that many thousandths of a tenth
/// of the wait, so that the retries of many deliveries do not all arrive at once.
pub fn decide(attempt: u32, answer: Answer, jitter_permille: u32) -> Decision {
    let (code, retry_after) = match answer {
        Answer::Status { code, retry_after } => (Some(code), retry_after),
        Answer::NoAnswer => (None, None),
    };
    match code {
        Some(200..=299) => return Decision::Delivered,
        Some(410) => return Decision::Disable,
        _ => {}
    }
    let Some(wait) = usize::try_from(attempt)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| RETRY_AFTER.get(i))
    else {
        return Decision::Failed;
    };
    let jitter = *wait / 10 * jitter_permille.min(1000) / 1000;
    let scheduled = *wait + jitter;
    let asked = match code {
        Some(429 | 502 | 504) => retry_after.map(Duration::from_secs),
        _ => None,
    };
    match asked {
        Some(asked) => Decision::Retry(asked.clamp(scheduled, MAX_RETRY_AFTER.max(scheduled))),
        None => Decision::Retry(scheduled),
    }
}

/// A `Retry-After` header as seconds: a whole number of seconds (an HTTP date is not taken:
/// the schedule applies).
pub fn retry_after_seconds(header: &str) -> Option<u64> {
    let text = header.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(code: u16) -> Answer {
        Answer::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn only_2xx_delivers_and_410_disables() {
        for code in [200, 201, 204, 299] {
            assert_eq!(decide(1, status(code), 0), Decision::Delivered, "{code}");
        }
        assert_eq!(decide(3, status(410), 0), Decision::Disable);
        for code in [100, 301, 302, 307, 308, 400, 401, 404, 409, 500, 503] {
            assert_eq!(
                decide(1, status(code), 0),
                Decision::Retry(Duration::from_secs(5)),
                "{code}"
            );
        }
        assert_eq!(
            decide(1, Answer::NoAnswer, 0),
            Decision::Retry(Duration::from_secs(5))
        );
    }

    #[test]
    fn retries_follow_the_schedule_then_fail() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let expected = [
            Duration::from_secs(5),
            Duration::from_secs(300),
            Duration::from_secs(1800),
            hours(2),
            hours(5),
            hours(10),
            hours(14),
            hours(20),
            hours(24),
        ];
        for (i, wait) in expected.iter().enumerate() {
            assert_eq!(decide(i as u32 + 1, status(500), 0), Decision::Retry(*wait));
        }
        assert_eq!(decide(10, status(500), 0), Decision::Failed);
        assert_eq!(decide(0, status(500), 0), Decision::Failed);
        assert_eq!(decide(10, status(200), 0), Decision::Delivered);
    }

    #[test]
    fn retry_after_is_honoured_for_429_502_504_within_bounds() {
        let asked = |code, seconds| Answer::Status {
            code,
            retry_after: Some(seconds),
        };
        for code in [429, 502, 504] {
            assert_eq!(
                decide(1, asked(code, 120), 0),
                Decision::Retry(Duration::from_secs(120))
            );
            // Never sooner than the schedule, never later than a day.
            assert_eq!(
                decide(2, asked(code, 1), 0),
                Decision::Retry(Duration::from_secs(300))
            );
            assert_eq!(
                decide(1, asked(code, 10_000_000), 0),
                Decision::Retry(MAX_RETRY_AFTER)
            );
        }
        // Another status's Retry-After is not taken.
        assert_eq!(
            decide(1, asked(500, 120), 0),
            Decision::Retry(Duration::from_secs(5))
        );
        assert_eq!(retry_after_seconds(" 120 "), Some(120));
        for bad in [
            "",
            "-1",
            "1.5",
            "Wed, 21 Oct 2026 07:28:00 GMT",
            "99999999999999999999999",
        ] {
            assert_eq!(retry_after_seconds(bad), None, "{bad:?}");
        }
    }

    proptest! {
        /// Jitter adds at most a tenth of the scheduled wait, never takes any away.
        #[test]
        fn jitter_stays_within_a_tenth(attempt in 1u32..=9, permille in 0u32..=5000) {
            let wait = RETRY_AFTER[attempt as usize - 1];
            match decide(attempt, Answer::NoAnswer, permille) {
                Decision::Retry(after) => {
                    prop_assert!(after >= wait);
                    prop_assert!(after <= wait + wait / 10);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
