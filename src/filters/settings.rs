//! The settings page's parameters (`/settings/promo-credit?currency=&saved=`).

use serde::Deserialize;

use super::currency;
use crate::domain::CurrencyCode;
use crate::forms::{FieldError, FieldErrors};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawSettingsQuery {
    pub currency: String,
    pub saved: String,
}

/// One currency's page (else the list), and what its last save did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsQuery {
    pub currency: Option<CurrencyCode>,
    /// `Some(true)`: saved with changes; `Some(false)`: saved, nothing had changed.
    pub saved: Option<bool>,
}

impl RawSettingsQuery {
    pub fn parse(&self) -> Result<SettingsQuery, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = errors.take(currency("currency", &self.currency));
        let saved = errors.take(match self.saved.trim() {
            "" => Ok(None),
            "changed" => Ok(Some(true)),
            "unchanged" => Ok(Some(false)),
            _ => Err(FieldError::new("saved", "saved is changed or unchanged.")),
        });
        errors.finish(|| Some(SettingsQuery { currency, saved }))
    }
}
