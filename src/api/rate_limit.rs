//! Per-key rate limits of the API (docs/api.md, "Rate limits"), by the generic cell rate
//! algorithm: each key has a theoretical arrival time that every request pushes on by one
//! interval (a minute divided by the limit); a request that would push it more than a
//! minute ahead of now is refused, with the wait until it would not. So a key may send its
//! whole minute's allowance at once, then one request per interval. Exact integer time, one
//! small map entry per key, no timer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub struct RateLimiter {
    /// None: no limit.
    interval: Option<Duration>,
    arrivals: Mutex<HashMap<i64, Instant>>,
}

impl RateLimiter {
    /// At most `per_minute` requests a minute per key; 0 for no limit.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            interval: (per_minute > 0).then(|| WINDOW / per_minute),
            arrivals: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of key `key_id` at `now`, or refuses it with the whole seconds to
    /// wait (at least 1).
    pub fn check(&self, key_id: i64, now: Instant) -> Result<(), u32> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        let theoretical = arrivals.get(&key_id).copied().unwrap_or(now).max(now);
        let pushed = theoretical + interval;
        let ahead = pushed - now;
        if ahead > WINDOW {
            let wait = ahead - WINDOW;
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(u32::try_from(seconds.max(1)).unwrap_or(u32::MAX));
        }
        arrivals.insert(key_id, pushed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_minute_s_worth_then_one_per_interval() {
        let limiter = RateLimiter::new(60);
        let start = Instant::now();
        for _ in 0..60 {
            assert_eq!(limiter.check(1, start), Ok(()));
        }
        assert_eq!(
            limiter.check(1, start),
            Err(1),
            "the 61st in the same instant"
        );
        assert_eq!(
            limiter.check(2, start),
            Ok(()),
            "another key has its own allowance"
        );
        let later = start + Duration::from_millis(999);
        assert_eq!(limiter.check(1, later), Err(1));
        let second = start + Duration::from_secs(1);
        assert_eq!(
            limiter.check(1, second),
            Ok(()),
            "one interval later, one more"
        );
        assert_eq!(limiter.check(1, second), Err(1));
        let idle = start + Duration::from_secs(600);
        for _ in 0..60 {
            assert_eq!(
                limiter.check(1, idle),
                Ok(()),
                "unused allowance comes back"
            );
        }
        assert!(limiter.check(1, idle).is_err());
    }

    #[test]
    fn says_how_long_to_wait() {
        let limiter = RateLimiter::new(2);
        let start = Instant::now();
        assert_eq!(limiter.check(7, start), Ok(()));
        assert_eq!(limiter.check(7, start), Ok(()));
        assert_eq!(limiter.check(7, start), Err(30));
        assert_eq!(limiter.check(7, start + Duration::from_secs(29)), Err(1));
        assert_eq!(limiter.check(7, start + Duration::from_secs(30)), Ok(()));
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0);
        let now = Instant::now();
        assert!((0..100_000).all(|_| limiter.check(1, now).is_ok()));
    }
}
