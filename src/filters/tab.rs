//! The Promo Credits tab's parameters (`/users/{id}/promo-credits?currency=&before=`), and
//! the live preview's (`…/preview?currency=&mode=&amount=&expires_at=`).

use serde::Deserialize;

use super::{currency, record_id};
use crate::domain::CurrencyCode;
use crate::forms::{FieldError, FieldErrors};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawTabQuery {
    pub currency: String,
    pub before: String,
    pub updated: String,
    pub usage: String,
}

/// What the tab shows: a currency (else the first configured), history before a record,
/// and the confirmation of a change just made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TabQuery {
    pub currency: Option<CurrencyCode>,
    pub before: Option<i64>,
    /// The record just written, to confirm (after a redirect without JavaScript).
    pub updated: Option<i64>,
    /// Credit use just switched on or off.
    pub usage: Option<bool>,
}

impl RawTabQuery {
    pub fn parse(&self) -> Result<TabQuery, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = errors.take(currency("currency", &self.currency));
        let before = errors.take(record_id("before", &self.before));
        let updated = errors.take(record_id("updated", &self.updated));
        let usage = errors.take(match self.usage.trim() {
            "" => Ok(None),
            "on" => Ok(Some(true)),
            "off" => Ok(Some(false)),
            _ => Err(FieldError::new("usage", "usage is on or off.")),
        });
        errors.finish(|| {
            Some(TabQuery {
                currency,
                before,
                updated,
                usage,
            })
        })
    }
}

/// The live preview's query: what is typed in the form so far.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawPreviewQuery {
    pub currency: String,
    pub mode: String,
    pub amount: String,
    pub expires_at: String,
}
