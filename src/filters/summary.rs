//! The finance summary's period (`/promo-credits/summary` and its CSV).

use serde::Deserialize;
use time::{Date, OffsetDateTime};

use super::{currency, date, QueryPairs};
use crate::forms::{FieldError, FieldErrors};
use crate::store::summary::SummaryPeriod;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawSummaryQuery {
    pub currency: String,
    pub from: String,
    pub to: String,
}

impl RawSummaryQuery {
    /// The period asked for; by default this month so far.
    pub fn parse(&self) -> Result<SummaryPeriod, FieldErrors> {
        self.parse_on(OffsetDateTime::now_utc().date())
    }

    fn parse_on(&self, today: Date) -> Result<SummaryPeriod, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = errors.take(currency("currency", &self.currency));
        let from = errors
            .take(date("from", &self.from))
            .unwrap_or(today.replace_day(1).unwrap_or(today));
        let to = errors.take(date("to", &self.to)).unwrap_or(today);
        if from > to {
            errors.push(FieldError::new(
                "to",
                "The end date is before the start date.",
            ));
        }
        errors.finish(|| Some(SummaryPeriod { currency, from, to }))
    }
}

/// The period as URL query pairs.
pub fn query_pairs(period: &SummaryPeriod) -> Vec<(&'static str, String)> {
    QueryPairs::default()
        .add("from", Some(period.from))
        .add("to", Some(period.to))
        .add("currency", period.currency)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_this_month_so_far() {
        let today = time::macros::date!(2026 - 11 - 27);
        let period = RawSummaryQuery::default().parse_on(today).unwrap();
        assert_eq!(period.from, time::macros::date!(2026 - 11 - 01));
        assert_eq!(period.to, today);
        let backwards = RawSummaryQuery {
            from: "2026-11-20".into(),
            to: "2026-11-01".into(),
            ..Default::default()
        };
        assert!(backwards.parse_on(today).is_err());
        let wrong = RawSummaryQuery {
            currency: "%00".into(),
            from: "99999-01-01".into(),
            ..Default::default()
        };
        assert_eq!(wrong.parse_on(today).unwrap_err().iter().count(), 2);
    }
}
