//! The promo credit settings of one currency (`form#promo-credit-config`,
//! `POST /settings/promo-credit`). Checkboxes post `true` (or `on`) when ticked and are
//! absent when not.

use serde::Deserialize;

use super::{FieldError, FieldErrors};
use crate::domain::{CurrencyCode, ExchangeRate, MAX_BALANCE};
use crate::filters::whole_number;
use crate::store::configs::{Settings, DEFAULT_NOTICE_DAYS};

/// The most days of notice before a grant ends (docs/webhooks.md, "Events").
pub const MAX_NOTICE_DAYS: i64 = 365;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SettingsFields {
    pub currency: String,
    pub enabled: Option<String>,
    pub exchange_rate: String,
    pub allow_with_discount_code: Option<String>,
    pub auto_apply_next_invoice: Option<String>,
    pub preview_default_used: Option<String>,
    /// Credits below which an account is low (`credit.balance_low`); empty for none.
    pub low_balance_threshold: String,
    /// Days before a grant ends that `credit.expiring` goes out.
    pub expiring_notice_days: String,
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
        let low_balance_threshold = errors.check(whole_number(
            "low_balance_threshold",
            &self.low_balance_threshold,
            1,
            MAX_BALANCE,
            "the low-balance threshold in credits",
        ));
        // Empty keeps the default: forms saved before this field existed still save.
        let expiring_notice_days = errors.check(whole_number(
            "expiring_notice_days",
            &self.expiring_notice_days,
            1,
            MAX_NOTICE_DAYS,
            "the days of notice before credits expire",
        ));
        errors.finish(|| {
            Some(Settings {
                currency: currency?,
                enabled,
                exchange_rate: exchange_rate?,
                allow_with_discount_code,
                auto_apply_next_invoice,
                preview_default_used,
                low_balance_threshold: low_balance_threshold?,
                expiring_notice_days: expiring_notice_days?
                    .map_or(Some(DEFAULT_NOTICE_DAYS), |d| i32::try_from(d).ok())?,
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
            expiring_notice_days: DEFAULT_NOTICE_DAYS.to_string(),
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
            low_balance_threshold: config
                .low_balance_threshold
                .map(|t| t.to_string())
                .unwrap_or_default(),
            expiring_notice_days: config.expiring_notice_days.to_string(),
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
            expiring_notice_days: "7".into(),
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

    #[test]
    fn reads_the_webhook_thresholds() {
        let mut typed = fields("EUR", "1");
        typed.expiring_notice_days = " ".into();
        let settings = typed.parse().unwrap();
        assert_eq!(settings.low_balance_threshold, None);
        assert_eq!(settings.expiring_notice_days, 7);
        typed.low_balance_threshold = " 500 ".into();
        typed.expiring_notice_days = "30".into();
        let settings = typed.parse().unwrap();
        assert_eq!(settings.low_balance_threshold, Some(500));
        assert_eq!(settings.expiring_notice_days, 30);
        for (threshold, days, field) in [
            ("0", "7", "low_balance_threshold"),
            ("-5", "7", "low_balance_threshold"),
            ("1.5", "7", "low_balance_threshold"),
            ("1000000000001", "7", "low_balance_threshold"),
            ("ten", "7", "low_balance_threshold"),
            ("", "0", "expiring_notice_days"),
            ("", "366", "expiring_notice_days"),
            ("", "7 days", "expiring_notice_days"),
            ("", "\u{0}", "expiring_notice_days"),
        ] {
            let mut bad = fields("EUR", "1");
            bad.low_balance_threshold = threshold.into();
            bad.expiring_notice_days = days.into();
            let errors = bad.parse().unwrap_err();
            let error = errors.iter().next().unwrap();
            assert_eq!(error.field, field, "{threshold:?} {days:?}");
            assert!(
                crate::testing::unclear(&error.message, days).is_none(),
                "{}",
                error.message
            );
        }
    }
}
