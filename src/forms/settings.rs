//! The promo credit settings of one currency (`form#promo-credit-config`,
//! `POST /settings/promo-credit`). Checkboxes post `true` (or `on`) when ticked and are
//! absent when not.

use serde::Deserialize;

use super::{FieldError, FieldErrors};
use crate::domain::{CurrencyCode, ExchangeRate};
use crate::store::configs::Settings;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SettingsFields {
    pub currency: String,
    pub enabled: Option<String>,
    pub exchange_rate: String,
    pub allow_with_discount_code: Option<String>,
    pub auto_apply_next_invoice: Option<String>,
    pub preview_default_used: Option<String>,
    /// `preview`: show what the typed rate does to the liability, save nothing.
    pub action: String,
}

/// A checkbox: ticked (`true`, `on`) or not (absent, `false`, `off`).
fn checkbox(field: &'static str, value: &Option<String>) -> Result<bool, FieldError> {
    match value.as_deref().map(str::trim) {
        None | Some("false" | "off") => Ok(false),
        Some("true" | "on") => Ok(true),
        Some(_) => Err(FieldError::new(field, "Tick the box or leave it empty.")),
    }
}

impl SettingsFields {
    pub fn parse(&self) -> Result<Settings, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = errors
            .check(CurrencyCode::parse(&self.currency).map_err(|e| FieldError::new("currency", e)));
        let exchange_rate = currency.and_then(|currency| {
            errors.check(
                ExchangeRate::parse_for(&self.exchange_rate, &currency)
                    .map_err(|e| FieldError::new("exchange_rate", e)),
            )
        });
        let enabled = errors.take(checkbox("enabled", &self.enabled));
        let allow_with_discount_code = errors.take(checkbox(
            "allow_with_discount_code",
            &self.allow_with_discount_code,
        ));
        let auto_apply_next_invoice = errors.take(checkbox(
            "auto_apply_next_invoice",
            &self.auto_apply_next_invoice,
        ));
        let preview_default_used =
            errors.take(checkbox("preview_default_used", &self.preview_default_used));
        errors.finish(|| {
            Some(Settings {
                currency: currency?,
                enabled,
                exchange_rate: exchange_rate?,
                allow_with_discount_code,
                auto_apply_next_invoice,
                preview_default_used,
            })
        })
    }

    /// Only a preview of the rate's effect was asked for.
    pub fn is_preview(&self) -> bool {
        self.action == "preview"
    }

    /// The form for a currency not set up yet: on, 1 credit = 1 unit, previews apply credits.
    pub fn new_currency(currency: CurrencyCode) -> SettingsFields {
        SettingsFields {
            currency: currency.to_string(),
            enabled: Some("true".to_owned()),
            exchange_rate: "1".to_owned(),
            preview_default_used: Some("true".to_owned()),
            ..SettingsFields::default()
        }
    }

    /// The form filled in from saved settings.
    pub fn of(config: &crate::db::models::PromoCreditConfig) -> SettingsFields {
        let tick = |on: bool| on.then(|| "true".to_owned());
        let minor = CurrencyCode::parse(&config.currency)
            .map(|c| c.minor_units())
            .unwrap_or(2);
        SettingsFields {
            currency: config.currency.clone(),
            enabled: tick(config.enabled),
            exchange_rate: ExchangeRate::from_e4(config.exchange_rate_e4)
                .map(|r| r.display_for(minor))
                .unwrap_or_default(),
            allow_with_discount_code: tick(config.allow_with_discount_code),
            auto_apply_next_invoice: tick(config.auto_apply_next_invoice),
            preview_default_used: tick(config.preview_default_used),
            action: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(currency: &str, rate: &str) -> SettingsFields {
        SettingsFields {
            currency: currency.into(),
            exchange_rate: rate.into(),
            enabled: Some("on".into()),
            ..SettingsFields::default()
        }
    }

    #[test]
    fn reads_checkboxes_and_the_rate() {
        let settings = fields("EUR", "0.25").parse().unwrap();
        assert!(settings.enabled && !settings.preview_default_used);
        assert_eq!(settings.exchange_rate.e4(), 2_500);
        let mut bad_box = fields("EUR", "1");
        bad_box.preview_default_used = Some("yes please".into());
        assert_eq!(
            bad_box.parse().unwrap_err().iter().next().unwrap().field,
            "preview_default_used"
        );
    }

    #[test]
    fn refuses_what_the_settings_cannot_hold() {
        for (currency, rate, field) in [
            ("EUR", "0", "exchange_rate"),
            ("EUR", "-1", "exchange_rate"),
            ("EUR", "0.00001", "exchange_rate"),
            ("EUR", "one", "exchange_rate"),
            ("EUR", "", "exchange_rate"),
            ("JPY", "0.5", "exchange_rate"),
            ("ABC", "1", "currency"),
            ("eur", "1", "currency"),
            ("XAU", "1", "currency"),
        ] {
            let errors = fields(currency, rate).parse().unwrap_err();
            assert_eq!(
                errors.iter().next().unwrap().field,
                field,
                "{currency} {rate}"
            );
        }
    }
}
