//! The edge for GET parameters: each page's query as typed in a URL, parsed into the checked
//! values the store takes (with a message per field when something is wrong), and written
//! back as query pairs for links and exports. Every number is range-checked here, every text
//! bounded, before anything reaches arithmetic or SQL (docs/console.md, "Parameters").

pub mod activity;
pub mod balances;
pub mod credit_list;
pub mod customers;
pub mod import;
pub mod settings;
pub mod summary;
pub mod tab;
pub mod webhooks;

use serde::de::DeserializeOwned;
use time::Date;

use crate::domain::{forbidden_character, quoted, CurrencyCode};
use crate::error::AppError;
use crate::forms::{FieldError, FieldErrors};

/// The longest search text accepted (an email is at most 254 characters).
pub const MAX_SEARCH_CHARS: usize = 254;

/// The query string of a request read into `T`; 422 when it cannot be read at all.
pub fn from_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    serde_html_form::from_str(query).map_err(|error| {
        AppError::Unprocessable(format!(
            "The link's parameters could not be read ({error})."
        ))
    })
}

fn trimmed(raw: &str) -> Option<&str> {
    let text = raw.trim();
    (!text.is_empty()).then_some(text)
}

/// Search text: trimmed, at most [`MAX_SEARCH_CHARS`], nothing invisible or control.
pub fn search_text(field: &'static str, raw: &str) -> Result<Option<String>, FieldError> {
    let Some(text) = trimmed(raw) else {
        return Ok(None);
    };
    if let Some(character) = forbidden_character(text, false) {
        return Err(FieldError::new(
            field,
            format!("The search contains {character}."),
        ));
    }
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(FieldError::new(
            field,
            "Search with at most 254 characters.",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// `2026-11-26`.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

pub fn date(field: &'static str, raw: &str) -> Result<Option<Date>, FieldError> {
    let Some(text) = trimmed(raw) else {
        return Ok(None);
    };
    parse_date(text).map(Some).ok_or_else(|| {
        FieldError::new(
            field,
            format!(
                "Enter the date as YYYY-MM-DD, like 2026-11-01 (got {}).",
                quoted(text)
            ),
        )
    })
}

pub fn currency(field: &'static str, raw: &str) -> Result<Option<CurrencyCode>, FieldError> {
    trimmed(raw)
        .map(|code| CurrencyCode::parse(code).map_err(|e| FieldError::new(field, e)))
        .transpose()
}

/// A whole number within `min..=max`, where `what` says what it counts for the message.
pub fn whole_number(
    field: &'static str,
    raw: &str,
    min: i64,
    max: i64,
    what: &str,
) -> Result<Option<i64>, FieldError> {
    let Some(text) = trimmed(raw) else {
        return Ok(None);
    };
    let in_range = text.len() <= 19
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && text.parse::<i64>().is_ok_and(|n| (min..=max).contains(&n));
    if in_range {
        Ok(text.parse().ok())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "Enter {what} as a whole number from {} to {} (got {}).",
                crate::domain::format_credits(min),
                crate::domain::format_credits(max),
                quoted(text)
            ),
        ))
    }
}

/// A record id in a link (`after=`, `before=`, `updated=`): 1 or more.
pub fn record_id(field: &'static str, raw: &str) -> Result<Option<i64>, FieldError> {
    whole_number(field, raw, 1, i64::MAX, "a record ID")
}

/// Query pairs of a filter, for links and exports: optional values are left out.
#[derive(Debug, Default)]
pub struct QueryPairs(Vec<(&'static str, String)>);

impl QueryPairs {
    /// Adds `key=value` when there is a value.
    pub fn add(mut self, key: &'static str, value: Option<impl ToString>) -> QueryPairs {
        if let Some(value) = value {
            self.0.push((key, value.to_string()));
        }
        self
    }

    pub fn done(self) -> Vec<(&'static str, String)> {
        self.0
    }
}

/// `per_page` and `after` of the lists with keyset pages.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawPaging {
    pub per_page: String,
    pub after: String,
}

/// A page of a list: its size (20, 50 or 100) and the last record of the page before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub per_page: i64,
    pub after: Option<i64>,
}

/// The page sizes offered.
pub const PAGE_SIZES: [i64; 3] = [20, 50, 100];

impl RawPaging {
    pub fn parse(&self) -> Result<Paging, FieldError> {
        let per_page = match trimmed(&self.per_page) {
            None => 50,
            Some(text) => PAGE_SIZES
                .into_iter()
                .find(|n| n.to_string() == text)
                .ok_or_else(|| FieldError::new("per_page", "Show 20, 50 or 100 a page."))?,
        };
        Ok(Paging {
            per_page,
            after: record_id("after", &self.after)?,
        })
    }
}

/// A list's filter and its paging together, with the messages of both.
pub fn with_paging<T>(
    filter: Result<T, FieldErrors>,
    paging: &RawPaging,
) -> Result<(T, Paging), FieldErrors> {
    match (filter, paging.parse()) {
        (Ok(filter), Ok(paging)) => Ok((filter, paging)),
        (filter, paging) => {
            let mut errors = filter.err().unwrap_or_default();
            if let Err(error) = paging {
                errors.push(error);
            }
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_range_checked() {
        assert_eq!(whole_number("page", " 7 ", 1, 10, "a page"), Ok(Some(7)));
        assert_eq!(whole_number("page", "", 1, 10, "a page"), Ok(None));
        for bad in [
            "0",
            "11",
            "-1",
            "abc",
            "1e3",
            "9223372036854775808",
            "99999999999999999999",
            "1.0",
            "\u{0}",
        ] {
            assert!(
                whole_number("page", bad, 1, 10, "a page").is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            record_id("after", "9223372036854775807"),
            Ok(Some(i64::MAX))
        );
        assert!(record_id("after", "-9223372036854775808").is_err());
    }

    #[test]
    fn search_text_is_bounded_and_visible() {
        assert_eq!(search_text("q", "  ann "), Ok(Some("ann".into())));
        assert_eq!(search_text("q", " "), Ok(None));
        assert!(search_text("q", "a\u{0}b").is_err());
        assert!(search_text("q", "a\u{202E}b").is_err());
        assert!(search_text("q", &"a".repeat(255)).is_err());
    }

    #[test]
    fn page_sizes_are_the_offered_ones() {
        let paging = |per_page: &str, after: &str| {
            RawPaging {
                per_page: per_page.into(),
                after: after.into(),
            }
            .parse()
        };
        assert_eq!(
            paging("", ""),
            Ok(Paging {
                per_page: 50,
                after: None
            })
        );
        assert_eq!(
            paging("100", "12"),
            Ok(Paging {
                per_page: 100,
                after: Some(12)
            })
        );
        assert!(paging("1000", "").is_err());
        assert!(paging("20", "0").is_err());
    }
}

/// Every filter and list query against anything a URL can carry: no panic, and every
/// refusal a clear message that names one of the query's parameters.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{decoded, query, unclear, unclear_errors};
    use proptest::prelude::*;

    /// Why the refusal of `typed`, read as `T` and checked by `check`, is not clear.
    fn unclear_refusal<T: DeserializeOwned, U>(
        typed: &str,
        fields: &[&str],
        check: impl Fn(&T) -> Result<U, FieldErrors>,
    ) -> Option<String> {
        let seen = decoded(typed);
        match from_query::<T>(typed) {
            Err(AppError::Unprocessable(message)) => unclear(&message, &seen),
            Err(other) => Some(format!("not a 422: {other}")),
            Ok(raw) => check(&raw)
                .err()
                .and_then(|errors| unclear_errors(&errors, fields, &seen)),
        }
    }

    /// A list's filter with its paging, as the list pages read them.
    fn paged<'a, T: DeserializeOwned, U>(
        check: impl Fn(&T) -> Result<U, FieldErrors> + 'a,
        typed: &'a str,
    ) -> impl Fn(&T) -> Result<(U, Paging), FieldErrors> + 'a {
        move |raw| {
            with_paging(
                check(raw),
                &from_query::<RawPaging>(typed).unwrap_or_default(),
            )
        }
    }

    const CREDIT_LIST: &[&str] = &[
        "email",
        "external_id",
        "invoice_id",
        "currency",
        "type",
        "reason",
        "from",
        "to",
        "order",
        "record_id",
        "per_page",
        "after",
    ];
    const BALANCES: &[&str] = &[
        "email", "currency", "min", "max", "as_of", "sort", "per_page", "after",
    ];
    const ACTIVITY: &[&str] = &[
        "actor",
        "action",
        "from",
        "to",
        "user_id",
        "record_id",
        "per_page",
        "after",
    ];
    const SUMMARY: &[&str] = &["currency", "from", "to"];
    const CUSTOMERS: &[&str] = &["q", "page"];
    const TAB: &[&str] = &["currency", "before", "updated", "usage"];
    const SETTINGS: &[&str] = &["currency", "saved"];
    const DELIVERIES: &[&str] = &["status", "type", "before"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn credit_list(typed in query(CREDIT_LIST)) {
            let check = paged(credit_list::RawCreditFilter::parse, &typed);
            prop_assert_eq!(unclear_refusal(&typed, CREDIT_LIST, check), None);
        }

        #[test]
        fn balances(typed in query(BALANCES)) {
            let check = paged(balances::RawBalanceFilter::parse, &typed);
            prop_assert_eq!(unclear_refusal(&typed, BALANCES, check), None);
        }

        #[test]
        fn activity(typed in query(ACTIVITY)) {
            let check = paged(activity::RawActivityFilter::parse, &typed);
            prop_assert_eq!(unclear_refusal(&typed, ACTIVITY, check), None);
        }

        #[test]
        fn summary(typed in query(SUMMARY)) {
            prop_assert_eq!(unclear_refusal(&typed, SUMMARY, summary::RawSummaryQuery::parse), None);
        }

        #[test]
        fn customers(typed in query(CUSTOMERS)) {
            prop_assert_eq!(unclear_refusal(&typed, CUSTOMERS, customers::RawCustomerSearch::parse), None);
        }

        #[test]
        fn tab(typed in query(TAB)) {
            prop_assert_eq!(unclear_refusal(&typed, TAB, tab::RawTabQuery::parse), None);
        }

        #[test]
        fn settings(typed in query(SETTINGS)) {
            prop_assert_eq!(unclear_refusal(&typed, SETTINGS, settings::RawSettingsQuery::parse), None);
        }

        #[test]
        fn webhook_deliveries(typed in query(DELIVERIES)) {
            prop_assert_eq!(unclear_refusal(&typed, DELIVERIES, webhooks::RawDeliveryFilter::parse), None);
        }
    }
}
