//! The credit-use switch (`POST /users/{id}/promo-credits/usage`).

use serde::Deserialize;

use super::{FieldError, FieldErrors};
use crate::domain::CurrencyCode;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UsageFields {
    pub currency: String,
    pub enabled: String,
}

/// Credit use in one currency, switched on or off.
#[derive(Debug, Clone)]
pub struct UsageInput {
    pub currency: CurrencyCode,
    pub enabled: bool,
}

impl UsageFields {
    pub fn parse(&self) -> Result<UsageInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = errors
            .check(CurrencyCode::parse(&self.currency).map_err(|e| FieldError::new("currency", e)));
        let enabled = errors.check(match self.enabled.trim() {
            "true" | "on" => Ok(true),
            "false" | "off" => Ok(false),
            _ => Err(FieldError::new(
                "enabled",
                "Say whether credit use is on (true) or off (false).",
            )),
        });
        errors.finish(|| {
            Some(UsageInput {
                currency: currency?,
                enabled: enabled?,
            })
        })
    }
}
