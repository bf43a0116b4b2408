//! The balances list's filters (`/promo-credits/balances` and its export).

use serde::Deserialize;

use super::{currency, date, search_text, whole_number, QueryPairs};
use crate::domain::{quoted, MAX_BALANCE};
use crate::forms::{FieldError, FieldErrors};
use crate::store::balances::{BalanceFilter, BalanceSort};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawBalanceFilter {
    pub email: String,
    pub currency: String,
    pub min: String,
    pub max: String,
    pub as_of: String,
    pub sort: String,
}

/// Each order: its name in the URL and the words in the form.
pub const SORTS: [(BalanceSort, &str, &str); 4] = [
    (
        BalanceSort::BalanceDesc,
        "-balance",
        "Largest balance first",
    ),
    (BalanceSort::BalanceAsc, "balance", "Smallest balance first"),
    (BalanceSort::UpdatedDesc, "-updated", "Last changed first"),
    (
        BalanceSort::UpdatedAsc,
        "updated",
        "Least recently changed first",
    ),
];

fn sort_name(sort: BalanceSort) -> &'static str {
    SORTS
        .iter()
        .find(|(s, ..)| *s == sort)
        .map_or("-balance", |(_, name, _)| name)
}

impl RawBalanceFilter {
    pub fn parse(&self) -> Result<BalanceFilter, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email_prefix = errors
            .take(search_text("email", &self.email))
            .map(|e| e.to_lowercase());
        let currency = errors.take(currency("currency", &self.currency));
        let credits = |field, raw: &str| whole_number(field, raw, 0, MAX_BALANCE, "credits");
        let min = errors.take(credits("min", &self.min));
        let max = errors.take(credits("max", &self.max));
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                errors.push(FieldError::new("max", "The maximum is below the minimum."));
            }
        }
        let as_of = errors.take(date("as_of", &self.as_of));
        let sort = errors.take(match self.sort.trim() {
            "" => Ok(BalanceSort::default()),
            text => SORTS
                .iter()
                .find(|(_, name, _)| *name == text)
                .map(|(sort, ..)| *sort)
                .ok_or_else(|| {
                    FieldError::new(
                        "sort",
                        format!(
                            "Sort by -balance, balance, -updated or updated, not {}.",
                            quoted(text)
                        ),
                    )
                }),
        });
        errors.finish(|| {
            Some(BalanceFilter {
                email_prefix,
                currency,
                min,
                max,
                as_of,
                sort,
            })
        })
    }
}

/// The filter as URL query pairs (without paging), for links and exports.
pub fn query_pairs(filter: &BalanceFilter) -> Vec<(&'static str, String)> {
    let sort = (filter.sort != BalanceSort::default()).then(|| sort_name(filter.sort));
    QueryPairs::default()
        .add("email", filter.email_prefix.as_ref())
        .add("currency", filter.currency)
        .add("min", filter.min)
        .add("max", filter.max)
        .add("as_of", filter.as_of)
        .add("sort", sort)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_balance_filters() {
        let raw = RawBalanceFilter {
            min: "10".into(),
            max: "5".into(),
            as_of: "31/10".into(),
            sort: "size".into(),
            ..Default::default()
        };
        let fields: Vec<&str> = raw.parse().unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["max", "as_of", "sort"]);
        let ok = RawBalanceFilter {
            email: "A@".into(),
            min: "0".into(),
            as_of: "2026-10-31".into(),
            sort: "-updated".into(),
            ..Default::default()
        };
        let filter = ok.parse().unwrap();
        assert_eq!(
            (filter.email_prefix.as_deref(), filter.min, filter.sort),
            (Some("a@"), Some(0), BalanceSort::UpdatedDesc)
        );
        assert_eq!(query_pairs(&filter).len(), 4);
        for absurd in ["-1", "1000000000001", "9223372036854775808", "1e3", "\u{0}"] {
            let raw = RawBalanceFilter {
                min: absurd.into(),
                ..Default::default()
            };
            assert!(raw.parse().is_err(), "{absurd:?}");
        }
    }
}
