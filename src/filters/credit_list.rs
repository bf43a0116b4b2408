//! The promo credit list's filters (`/promo-credits` and its export).

use serde::Deserialize;

use super::{currency, date, search_text, QueryPairs};
use crate::domain::{quoted, Reason, TransactionType};
use crate::forms::{FieldError, FieldErrors};
use crate::store::credit_list::CreditFilter;

/// The filters as typed in the URL (every field optional; `type` may repeat).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawCreditFilter {
    pub email: String,
    pub external_id: String,
    pub invoice_id: String,
    pub currency: String,
    #[serde(rename = "type")]
    pub types: Vec<String>,
    pub reason: String,
    pub from: String,
    pub to: String,
    pub order: String,
    /// One ledger row, by its record id (links from the activity log).
    pub record_id: String,
}

impl RawCreditFilter {
    pub fn parse(&self) -> Result<CreditFilter, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email_prefix = errors
            .take(search_text("email", &self.email))
            .map(|e| e.to_lowercase());
        let external_id = errors.take(search_text("external_id", &self.external_id));
        let invoice_id = errors.take(search_text("invoice_id", &self.invoice_id));
        let currency = errors.take(currency("currency", &self.currency));
        let mut types = Vec::new();
        for text in self
            .types
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
        {
            match TransactionType::parse(text) {
                Ok(kind) if !types.contains(&kind) => types.push(kind),
                Ok(_) => {}
                Err(_) => errors.push(FieldError::new(
                    "type",
                    format!("There is no type {}.", quoted(text)),
                )),
            }
        }
        let reason = errors.take(match self.reason.trim() {
            "" => Ok(None),
            text => Reason::parse(text).map(Some).map_err(|_| {
                FieldError::new("reason", format!("There is no reason {}.", quoted(text)))
            }),
        });
        let from = errors.take(date("from", &self.from));
        let to = errors.take(date("to", &self.to));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.push(FieldError::new(
                    "to",
                    "The end date is before the start date.",
                ));
            }
        }
        let record_id = errors.take(super::record_id("record_id", &self.record_id));
        let ascending = errors.take(match self.order.trim() {
            "" | "desc" => Ok(false),
            "asc" => Ok(true),
            other => Err(FieldError::new(
                "order",
                format!("Order is asc or desc, not {}.", quoted(other)),
            )),
        });
        errors.finish(|| {
            Some(CreditFilter {
                email_prefix,
                external_id,
                invoice_id,
                currency,
                types,
                reason,
                from,
                to,
                ascending,
                record_id,
            })
        })
    }
}

/// The filter as URL query pairs (without paging), for links and exports.
pub fn query_pairs(filter: &CreditFilter) -> Vec<(&'static str, String)> {
    let mut pairs = QueryPairs::default()
        .add("email", filter.email_prefix.as_ref())
        .add("external_id", filter.external_id.as_ref())
        .add("invoice_id", filter.invoice_id.as_ref())
        .add("currency", filter.currency)
        .add("reason", filter.reason)
        .add("from", filter.from)
        .add("to", filter.to);
    for kind in &filter.types {
        pairs = pairs.add("type", Some(kind));
    }
    pairs
        .add("order", filter.ascending.then_some("asc"))
        .add("record_id", filter.record_id)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters() {
        let raw = RawCreditFilter {
            email: " Ann@Ex ".into(),
            types: vec![
                "admin_added".into(),
                "invoice_applied".into(),
                "admin_added".into(),
                "".into(),
            ],
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            order: "asc".into(),
            ..RawCreditFilter::default()
        };
        let filter = raw.parse().unwrap();
        assert_eq!(filter.email_prefix.as_deref(), Some("ann@ex"));
        assert_eq!(
            filter.types,
            vec![TransactionType::AdminAdded, TransactionType::InvoiceApplied]
        );
        assert!(filter.ascending);
        assert_eq!(
            filter.from.map(|d| d.to_string()).as_deref(),
            Some("2026-11-01")
        );
        let again = RawCreditFilter {
            types: vec!["admin_added".into(), "invoice_applied".into()],
            email: "ann@ex".into(),
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            order: "asc".into(),
            ..RawCreditFilter::default()
        };
        assert_eq!(query_pairs(&filter), query_pairs(&again.parse().unwrap()));
    }

    #[test]
    fn says_what_is_wrong() {
        let raw = RawCreditFilter {
            email: "a\u{0}".into(),
            currency: "euro".into(),
            types: vec!["gift".into()],
            reason: "bribe".into(),
            from: "01/11/2026".into(),
            to: "2026-13-01".into(),
            order: "up".into(),
            ..RawCreditFilter::default()
        };
        let fields: Vec<&str> = raw.parse().unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec!["email", "currency", "type", "reason", "from", "to", "order"]
        );
        let backwards = RawCreditFilter {
            from: "2026-11-02".into(),
            to: "2026-11-01".into(),
            ..RawCreditFilter::default()
        };
        assert_eq!(
            backwards.parse().unwrap_err().iter().next().unwrap().field,
            "to"
        );
    }
}
