//! A grant's expiry date as people and scripts type it (docs/concepts.md, "Expiry"): a
//! calendar date `YYYY-MM-DD`; the credits expire at the end of that UTC day.

use time::{Date, Duration, Month};

/// The furthest ahead an expiry may be: ten years from today.
pub const MAX_YEARS_AHEAD: i32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error("Enter the expiry date as YYYY-MM-DD, for example 2026-12-31.")]
    Format,
    #[error("The expiry date {0} has passed: choose today or a later day.")]
    Past(Date),
    #[error("The expiry date {0} is more than 10 years ahead: choose {1} or earlier.")]
    TooFar(Date, Date),
}

/// Parses an optional expiry (empty → none) as of `today` (UTC): today is the earliest day
/// (credits given today can expire tonight), ten years ahead the latest.
pub fn parse_expiry(input: &str, today: Date) -> Result<Option<Date>, ExpiryError> {
    let text = input.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Ok(None);
    }
    let day = parse_day(text).ok_or(ExpiryError::Format)?;
    if day < today {
        return Err(ExpiryError::Past(day));
    }
    let latest = latest_expiry(today);
    if day > latest {
        return Err(ExpiryError::TooFar(day, latest));
    }
    Ok(Some(day))
}

/// Today ten years on (28 February for 29 February).
pub fn latest_expiry(today: Date) -> Date {
    let year = today.year() + MAX_YEARS_AHEAD;
    Date::from_calendar_date(year, today.month(), today.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .unwrap_or(today + Duration::days(3652))
}

/// Exactly `YYYY-MM-DD` with ASCII digits.
fn parse_day(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape {
        return None;
    }
    let year: i32 = text[0..4].parse().ok()?;
    let month: u8 = text[5..7].parse().ok()?;
    let day: u8 = text[8..10].parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// How people read an expiry: `31 Dec 2026`.
pub fn expiry_label(day: Date) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {}",
        day.day(),
        MONTHS[usize::from(u8::from(day.month())) - 1],
        day.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);

    #[test]
    fn takes_an_empty_field_as_never_expiring() {
        for blank in ["", " ", "\t\n"] {
            assert_eq!(parse_expiry(blank, TODAY), Ok(None));
        }
    }

    #[test]
    fn takes_today_up_to_ten_years_ahead() {
        assert_eq!(parse_expiry(" 2026-11-28 ", TODAY), Ok(Some(TODAY)));
        assert_eq!(
            parse_expiry("2036-11-28", TODAY),
            Ok(Some(date!(2036 - 11 - 28)))
        );
        assert_eq!(
            parse_expiry("2036-11-29", TODAY),
            Err(ExpiryError::TooFar(
                date!(2036 - 11 - 29),
                date!(2036 - 11 - 28)
            ))
        );
        assert_eq!(
            parse_expiry("2026-11-27", TODAY),
            Err(ExpiryError::Past(date!(2026 - 11 - 27)))
        );
        assert_eq!(latest_expiry(date!(2028 - 02 - 29)), date!(2038 - 02 - 28));
    }

    #[test]
    fn refuses_every_other_shape() {
        for bad in [
            "2026-12-32",
            "2026-13-01",
            "2027-02-29",
            "31/12/2026",
            "2026-1-01",
            "20261231",
            "+2026-12-31",
            "２０２６-12-31",
            "2026-12-31T00:00",
            "2026-12-31\u{0}",
            "tomorrow",
        ] {
            assert_eq!(
                parse_expiry(bad, TODAY),
                Err(ExpiryError::Format),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn labels_a_day_for_people() {
        assert_eq!(expiry_label(date!(2026 - 12 - 31)), "31 Dec 2026");
        assert_eq!(expiry_label(date!(2027 - 01 - 05)), "5 Jan 2027");
    }
}
