//! `/settings/promo-credit`: the list of currencies with promo credits, and the settings of
//! one currency with its rate history and what a new rate does to the liability.

use std::collections::HashMap;

use askama::Template;

use super::{short_time, Layout};
use crate::db::models::{PromoCreditConfig, PromoCreditRate};
use crate::domain::{format_credits, money_value, CurrencyCode, ExchangeRate};
use crate::forms::settings::SettingsFields;
use crate::forms::FieldErrors;

/// A configured currency as the list shows it.
pub struct CurrencyRow {
    pub code: String,
    pub name: String,
    pub href: String,
    pub enabled: bool,
    pub rate_text: String,
    pub outstanding_text: String,
    pub liability_text: String,
    pub updated: String,
}

/// A currency that can be added.
pub struct CurrencyChoice {
    pub code: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "settings/list.html")]
pub struct SettingsListPage {
    pub layout: Layout,
    pub rows: Vec<CurrencyRow>,
    pub can_edit: bool,
    pub addable: Vec<CurrencyChoice>,
}

/// `1.00 EUR`, or empty for a rate that cannot be shown.
fn rate_text(currency: &CurrencyCode, rate_e4: i64) -> String {
    ExchangeRate::from_e4(rate_e4)
        .map(|rate| format!("{} {currency}", rate.display_for(currency.minor_units())))
        .unwrap_or_default()
}

fn liability_text(currency: &CurrencyCode, credits: i64, rate_e4: i64) -> String {
    ExchangeRate::from_e4(rate_e4)
        .map(|rate| money_value(credits, rate, currency).grouped())
        .unwrap_or_default()
}

impl SettingsListPage {
    pub fn new(
        layout: Layout,
        configs: &[PromoCreditConfig],
        outstanding: &HashMap<String, i64>,
        can_edit: bool,
    ) -> SettingsListPage {
        let rows = configs
            .iter()
            .filter_map(|config| {
                let code = CurrencyCode::parse(&config.currency).ok()?;
                let credits = outstanding.get(&config.currency).copied().unwrap_or(0);
                Some(CurrencyRow {
                    name: code.name(),
                    href: format!("/settings/promo-credit?currency={code}"),
                    enabled: config.enabled,
                    rate_text: rate_text(&code, config.exchange_rate_e4),
                    outstanding_text: format_credits(credits),
                    liability_text: liability_text(&code, credits, config.exchange_rate_e4),
                    updated: short_time(config.updated_at),
                    code: code.to_string(),
                })
            })
            .collect();
        let addable = CurrencyCode::all()
            .into_iter()
            .filter(|code| !configs.iter().any(|c| c.currency == code.as_str()))
            .map(|code| CurrencyChoice {
                label: format!("{code} — {}", code.name()),
                code: code.to_string(),
            })
            .collect();
        SettingsListPage {
            layout,
            rows,
            can_edit,
            addable,
        }
    }
}

/// One past rate.
pub struct RateRow {
    pub rate_text: String,
    pub since: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "settings/promo_credit.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub code: String,
    pub name: String,
    /// The currency has no settings yet: this form adds it.
    pub is_new: bool,
    pub can_edit: bool,
    /// Promo credits are on as saved (the browser asks before turning them off).
    pub was_enabled: bool,
    pub fields: SettingsFields,
    pub errors: FieldErrors,
    /// The unit the rate is typed in: 4 decimal places, or whole numbers (JPY).
    pub rate_hint: String,
    /// What the typed rate does to the liability, or the rate's message.
    pub preview: String,
    pub now_text: String,
    pub history: Vec<RateRow>,
    pub saved: Option<String>,
}

/// The settings page's inputs, before the form and the preview are worked out.
pub struct SettingsContext<'a> {
    pub currency: CurrencyCode,
    pub config: Option<&'a PromoCreditConfig>,
    pub outstanding: i64,
    pub history: &'a [PromoCreditRate],
    pub can_edit: bool,
}

impl SettingsPage {
    /// The page with `fields` in the form (as saved, or as typed) and their messages.
    pub fn new(
        layout: Layout,
        context: SettingsContext<'_>,
        fields: SettingsFields,
        errors: FieldErrors,
    ) -> SettingsPage {
        let SettingsContext {
            currency,
            config,
            outstanding,
            history,
            can_edit,
        } = context;
        let saved_rate = config.map(|c| c.exchange_rate_e4);
        let preview = match (
            errors.get("exchange_rate"),
            ExchangeRate::parse_for(&fields.exchange_rate, &currency),
        ) {
            (Some(message), _) => message.to_owned(),
            (None, Err(error)) => error.to_string(),
            (None, Ok(typed)) => rate_effect(&currency, outstanding, saved_rate, typed.e4()),
        };
        let now_text = match saved_rate {
            Some(rate) => format!(
                "{} credits outstanding, worth {} at {} a credit.",
                format_credits(outstanding),
                liability_text(&currency, outstanding, rate),
                rate_text(&currency, rate)
            ),
            None => format!("Promo credits are not set up in {currency} yet."),
        };
        SettingsPage {
            layout,
            name: currency.name(),
            code: currency.to_string(),
            is_new: config.is_none(),
            can_edit,
            was_enabled: config.is_some_and(|c| c.enabled),
            rate_hint: if currency.minor_units() == 0 {
                format!("A whole number of {currency}, like 3.")
            } else {
                "A number above 0 with at most 4 decimal places, like 1, 0.25 or 10.00.".to_owned()
            },
            preview,
            now_text,
            history: history
                .iter()
                .map(|row| RateRow {
                    rate_text: rate_text(&currency, row.exchange_rate_e4),
                    since: short_time(row.changed_at),
                    by: row.changed_by.clone(),
                })
                .collect(),
            fields,
            errors,
            saved: None,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    pub fn ticked(value: &Option<String>) -> bool {
        value.is_some()
    }
}

/// `1,204,310 credits: 12,043.10 EUR → 24,086.20 EUR`: what the outstanding credits are
/// worth at the saved rate and at the typed one.
pub fn rate_effect(
    currency: &CurrencyCode,
    outstanding: i64,
    saved_rate: Option<i64>,
    typed_rate: i64,
) -> String {
    let credits = format_credits(outstanding);
    let at_typed = liability_text(currency, outstanding, typed_rate);
    match saved_rate {
        Some(saved) if saved != typed_rate => format!(
            "{credits} credits: {} → {at_typed}",
            liability_text(currency, outstanding, saved)
        ),
        Some(_) => format!("{credits} credits outstanding: {at_typed}, unchanged."),
        None => format!(
            "No credits outstanding in {currency} yet: 1 credit will be worth {}.",
            rate_text(currency, typed_rate)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_a_new_rate_does_to_the_liability() {
        let eur = CurrencyCode::parse("EUR").unwrap();
        assert_eq!(
            rate_effect(&eur, 1_204_310, Some(100), 200),
            "1,204,310 credits: 12,043.10 EUR → 24,086.20 EUR"
        );
        assert_eq!(
            rate_effect(&eur, 5, Some(10_000), 10_000),
            "5 credits outstanding: 5.00 EUR, unchanged."
        );
        let jpy = CurrencyCode::parse("JPY").unwrap();
        assert_eq!(
            rate_effect(&jpy, 0, None, 30_000),
            "No credits outstanding in JPY yet: 1 credit will be worth 3 JPY."
        );
    }
}
