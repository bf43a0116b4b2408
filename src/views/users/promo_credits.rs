//! `/users/{id}/promo-credits`: the Promo Credits tab and the Update Promo Credit form.

use askama::Template;
use time::Date;

use super::CustomerView;
use crate::db::models::{CreditAccount, CreditTransaction, PromoCreditConfig};
use crate::domain::{
    apply, counted, expiry_label, format_credits, latest_expiry, money_value,
    normalize_line_breaks, parse_amount, parse_expiry, CurrencyCode, ExchangeRate, Mode, Reason,
};
use crate::forms::adjustment::AdjustmentFields;
use crate::forms::FieldErrors;
use crate::ledger::LedgerError;
use crate::store::credits::{AccountContext, TabReads};
use crate::store::expiring::{self, SOON_DAYS};
use crate::store::grants::{Held, HeldGrant};
use crate::views::{reason_label, short_time, type_label, Layout};

/// The full tab page (no JavaScript, or a first visit).
#[derive(Template)]
#[template(path = "users/promo_credits.html")]
pub struct PromoCreditsPage {
    pub layout: Layout,
    pub customer: CustomerView,
    pub tab: &'static str,
    pub panel: Panel,
}

/// The tab's panel alone, for htmx.
#[derive(Template)]
#[template(path = "users/promo_credits_panel.html")]
pub struct PanelFragment {
    pub panel: Panel,
}

#[derive(Template)]
#[template(path = "users/update_page.html")]
pub struct UpdatePage {
    pub layout: Layout,
    pub customer: CustomerView,
    pub tab: &'static str,
    pub form: UpdateForm,
}

#[derive(Template)]
#[template(path = "users/update_modal.html")]
pub struct UpdateModal {
    pub form: UpdateForm,
}

pub struct Panel {
    pub user_id: i64,
    pub csrf_token: String,
    pub currencies: Vec<CurrencyTab>,
    pub selected: Option<Selected>,
}

pub struct CurrencyTab {
    pub code: String,
    pub href: String,
    pub selected: bool,
}

pub struct Selected {
    pub currency: String,
    pub currency_enabled: bool,
    pub rate_text: String,
    pub balance: i64,
    pub version: i64,
    pub balance_text: String,
    pub money_text: String,
    pub total_added_text: String,
    pub total_deducted_text: String,
    pub usage_enabled: bool,
    pub can_adjust: bool,
    pub confirmation: Option<String>,
    pub history: Vec<HistoryRow>,
    pub older_href: Option<String>,
    pub newer_href: Option<String>,
    /// The grants that still hold credits, in spending order.
    pub grants: Vec<GrantRow>,
    /// `and 1,234 more grants`, when the account holds more than the tab lists.
    pub more_grants: Option<String>,
    /// Credits that expire in the next [`SOON_DAYS`] days unless spent.
    pub expiring: i64,
    pub expiring_text: String,
}

/// One grant on the tab: what is left of it, when and by whom it was given, when it expires.
pub struct GrantRow {
    pub record_id: Option<i64>,
    pub left_text: String,
    pub granted_text: String,
    pub granted_at: String,
    pub by: String,
    pub expires_text: String,
    /// `YYYY-MM-DD`, empty when it never expires.
    pub expires_at: String,
    pub soon: bool,
}

impl GrantRow {
    fn new(held: &HeldGrant, today: Date) -> GrantRow {
        let grant = &held.grant;
        let expires_text = match grant.expires_at {
            None => "Never".to_owned(),
            Some(day) => {
                let days = (day - today).whole_days();
                let when = match days {
                    ..=-1 => "ended".to_owned(),
                    0 => "end of today".to_owned(),
                    1 => "tomorrow".to_owned(),
                    n => format!("in {n} days"),
                };
                format!("{} ({when})", expiry_label(day))
            }
        };
        GrantRow {
            record_id: grant.transaction_id,
            left_text: format_credits(grant.remaining),
            granted_text: format_credits(grant.granted),
            granted_at: held.row.as_ref().map_or_else(
                || "before expiry dates".to_owned(),
                |r| short_time(r.created_at),
            ),
            by: held.by.clone(),
            expires_text,
            expires_at: grant.expires_at.map(|d| d.to_string()).unwrap_or_default(),
            soon: expiring::counts(grant, expiring::within(today, SOON_DAYS)),
        }
    }
}

/// `/users/{id}/promo-credits?currency=EUR`.
pub fn tab_href(user_id: i64, currency: &str) -> String {
    format!("/users/{user_id}/promo-credits?currency={currency}")
}

impl Panel {
    /// The panel of `context`'s currency with a page of its history. `before` is the page's
    /// cursor; `confirmation` says what just changed.
    pub fn new(
        csrf_token: &str,
        can_adjust: bool,
        context: &AccountContext,
        reads: TabReads,
        before: Option<i64>,
        confirmation: Option<String>,
    ) -> Panel {
        let TabReads {
            history,
            held:
                Held {
                    grants,
                    all: all_grants,
                    expiring,
                },
            today,
        } = reads;
        let user_id = context.customer.id;
        let selected_code = context.config.as_ref().map(|c| c.currency.as_str());
        let currencies = context
            .configs
            .iter()
            .map(|c| CurrencyTab {
                code: c.currency.clone(),
                href: tab_href(user_id, &c.currency),
                selected: selected_code == Some(c.currency.as_str()),
            })
            .collect();
        let selected = context.config.as_ref().map(|config| {
            let figures = AccountFigures::from(context.account.as_ref());
            let here = tab_href(user_id, &config.currency);
            let expiring_text = format!(
                "{} expire in the next {SOON_DAYS} days ({})",
                if expiring == 1 {
                    "1 credit".to_owned()
                } else {
                    format!("{} credits", format_credits(expiring))
                },
                money_text(expiring, config.exchange_rate_e4, &config.currency)
            );
            Selected {
                currency: config.currency.clone(),
                currency_enabled: config.enabled,
                rate_text: rate_text(config),
                balance: figures.balance,
                version: figures.version,
                balance_text: format_credits(figures.balance),
                money_text: money_text(figures.balance, config.exchange_rate_e4, &config.currency),
                total_added_text: format_credits(figures.total_added),
                total_deducted_text: format_credits(figures.total_deducted),
                usage_enabled: figures.usage_enabled,
                can_adjust,
                confirmation,
                older_href: history
                    .has_older
                    .then(|| {
                        history
                            .rows
                            .last()
                            .map(|(r, _)| format!("{here}&before={}", r.id))
                    })
                    .flatten(),
                newer_href: before.map(|_| here.clone()),
                history: history
                    .rows
                    .iter()
                    .map(|(row, by)| HistoryRow::new(row, by))
                    .collect(),
                more_grants: (all_grants > grants.len() as i64).then(|| {
                    counted(
                        all_grants - grants.len() as i64,
                        "more grant",
                        "more grants",
                    )
                }),
                grants: grants.iter().map(|h| GrantRow::new(h, today)).collect(),
                expiring,
                expiring_text,
            }
        });
        Panel {
            user_id,
            csrf_token: csrf_token.to_owned(),
            currencies,
            selected,
        }
    }
}

pub struct HistoryRow {
    pub id: i64,
    pub time: String,
    pub type_label: &'static str,
    pub delta_text: String,
    pub delta_class: &'static str,
    pub value_text: String,
    pub before_text: String,
    pub after_text: String,
    pub reason_label: &'static str,
    pub note: String,
    pub by: String,
    pub invoice_id: String,
}

/// Money at a rate, for display: `1,234.00 EUR`.
pub fn money_text(credits: i64, rate_e4: i64, currency: &str) -> String {
    match (
        CurrencyCode::parse(currency),
        ExchangeRate::from_e4(rate_e4),
    ) {
        (Ok(code), Ok(rate)) => money_value(credits, rate, &code).grouped(),
        _ => String::new(),
    }
}

/// `1.00 EUR`: the value of one credit.
pub fn rate_text(config: &PromoCreditConfig) -> String {
    let minor = CurrencyCode::parse(&config.currency)
        .map(|c| c.minor_units())
        .unwrap_or(2);
    match ExchangeRate::from_e4(config.exchange_rate_e4) {
        Ok(rate) => format!("{} {}", rate.display_for(minor), config.currency),
        Err(_) => String::new(),
    }
}

fn signed(delta: i64) -> String {
    if delta > 0 {
        format!("+{}", format_credits(delta))
    } else {
        format_credits(delta)
    }
}

impl HistoryRow {
    pub fn new(row: &CreditTransaction, by: &str) -> HistoryRow {
        let value = row.currency_value.parse::<rust_decimal::Decimal>().ok();
        let value_text = match value {
            Some(v) => format!(
                "{}{} {}",
                if row.delta < 0 { "−" } else { "+" },
                crate::domain::format_grouped(&v.to_string()),
                row.currency
            ),
            None => String::new(),
        };
        HistoryRow {
            id: row.id,
            time: short_time(row.created_at),
            type_label: type_label(&row.kind),
            delta_text: signed(row.delta),
            delta_class: if row.delta > 0 { "plus" } else { "minus" },
            value_text,
            before_text: format_credits(row.balance_before),
            after_text: format_credits(row.balance_after),
            reason_label: reason_label(row.reason.as_deref()),
            note: row.note.clone(),
            by: by.to_owned(),
            invoice_id: row.invoice_id.clone().unwrap_or_default(),
        }
    }
}

/// The words of the confirmation after a change: `Added 50 credits: 120 → 170`.
pub fn confirmation(row: &CreditTransaction) -> String {
    let verb = if row.delta > 0 { "Added" } else { "Removed" };
    let amount = row.delta.abs();
    let expiry = row
        .expires_at
        .map(|day| format!(", expiring on {}", expiry_label(day)))
        .unwrap_or_default();
    format!(
        "{verb} {} credit{}: {} → {}{expiry}",
        format_credits(amount),
        if amount == 1 { "" } else { "s" },
        format_credits(row.balance_before),
        format_credits(row.balance_after)
    )
}

/// The confirmation after the credit-use switch.
pub fn usage_confirmation(enabled: bool, currency: &str) -> String {
    let word = if enabled { "on" } else { "off" };
    format!("Credit use turned {word} for {currency}.")
}

/// Balances and totals of an account (or of none yet: all zero).
pub struct AccountFigures {
    pub balance: i64,
    pub version: i64,
    pub total_added: i64,
    pub total_deducted: i64,
    pub usage_enabled: bool,
}

impl From<Option<&CreditAccount>> for AccountFigures {
    fn from(account: Option<&CreditAccount>) -> Self {
        match account {
            Some(a) => AccountFigures {
                balance: a.balance,
                version: a.version,
                total_added: a.total_added,
                total_deducted: a.total_deducted,
                usage_enabled: a.enabled,
            },
            None => AccountFigures {
                balance: 0,
                version: 0,
                total_added: 0,
                total_deducted: 0,
                usage_enabled: true,
            },
        }
    }
}

/// The Update Promo Credit form: what was typed, what is wrong with it, and the account as
/// it is now.
pub struct UpdateForm {
    pub user_id: i64,
    pub csrf_token: String,
    pub fields: AdjustmentFields,
    pub errors: FieldErrors,
    pub balance: i64,
    pub balance_text: String,
    pub money_text: String,
    pub rate_text: String,
    pub cancel_href: String,
    pub preview: Option<Preview>,
    /// The range of the *Expires on* date: today up to ten years ahead (`YYYY-MM-DD`).
    pub expires_min: String,
    pub expires_max: String,
}

impl UpdateForm {
    /// A fresh form for the account of `context`: "set", the current version, nothing typed.
    pub fn blank(csrf_token: &str, context: &AccountContext) -> UpdateForm {
        let figures = AccountFigures::from(context.account.as_ref());
        let fields = AdjustmentFields {
            currency: context
                .config
                .as_ref()
                .map(|c| c.currency.clone())
                .unwrap_or_default(),
            mode: "set".to_owned(),
            expected_version: figures.version.to_string(),
            ..AdjustmentFields::default()
        };
        UpdateForm::refilled(csrf_token, context, fields, FieldErrors::default())
    }

    /// The form again with what was typed and a message beside each field that needs one.
    pub fn refilled(
        csrf_token: &str,
        context: &AccountContext,
        fields: AdjustmentFields,
        errors: FieldErrors,
    ) -> UpdateForm {
        let figures = AccountFigures::from(context.account.as_ref());
        let today = crate::db::now_utc().date();
        let (money, rate) = match &context.config {
            Some(config) => (
                money_text(figures.balance, config.exchange_rate_e4, &config.currency),
                rate_text(config),
            ),
            None => (String::new(), String::new()),
        };
        UpdateForm {
            user_id: context.customer.id,
            csrf_token: csrf_token.to_owned(),
            cancel_href: tab_href(context.customer.id, &fields.currency),
            fields,
            errors,
            balance: figures.balance,
            balance_text: format_credits(figures.balance),
            money_text: money,
            rate_text: rate,
            preview: None,
            expires_min: today.to_string(),
            expires_max: latest_expiry(today).to_string(),
        }
    }

    /// The message beside one field; `form` for the whole form.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    /// The note's length as the server counts it, for the counter.
    pub fn note_length(&self) -> usize {
        normalize_line_breaks(&self.fields.note)
            .trim()
            .chars()
            .count()
    }

    /// The reason choices, with the typed one selected.
    pub fn reasons(&self) -> Vec<ReasonOption> {
        Reason::ALL
            .iter()
            .map(|r| ReasonOption {
                value: r.as_str(),
                label: r.label(),
                selected: self.fields.reason == r.as_str(),
            })
            .collect()
    }
}

pub struct ReasonOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// What the typed change would do, shown before saving.
pub struct Preview {
    pub text: String,
    pub class: &'static str,
    pub large: bool,
}

/// A change this large asks the admin to confirm (in the browser).
pub fn is_large_change(delta: i64, balance: i64) -> bool {
    delta.abs() >= 10_000 || (balance > 0 && delta.abs() >= balance.saturating_mul(10))
}

impl Preview {
    fn refused(text: String) -> Option<Preview> {
        Some(Preview {
            text,
            class: "refused",
            large: false,
        })
    }

    /// `120 → 170, +50 credits, +50.00 EUR`, or why the change would be refused: the same
    /// grammar and balance rule the ledger applies.
    pub fn of(
        typed: &AdjustmentFields,
        balance: i64,
        config: &PromoCreditConfig,
        today: Date,
    ) -> Option<Preview> {
        let (mode, amount) = (typed.mode.as_str(), typed.amount.as_str());
        if amount.trim().is_empty() {
            return None;
        }
        let Some(mode) = Mode::parse(mode) else {
            return Preview::refused("Choose Set new total or Add or remove.".to_owned());
        };
        let change = match parse_amount(amount, mode) {
            Ok(change) => change,
            Err(error) => return Preview::refused(error.to_string()),
        };
        let (delta, after) = match apply(balance, change) {
            Ok(applied) => applied,
            Err(error) => return Preview::refused(error.to_string()),
        };
        let expiry = match parse_expiry(&typed.expires_at, today) {
            Ok(None) => String::new(),
            Ok(Some(_)) if delta < 0 => {
                return Preview::refused(LedgerError::ExpiryWithoutGrant.to_string())
            }
            Ok(Some(day)) => format!(", expire on {}", expiry_label(day)),
            Err(error) => return Preview::refused(error.to_string()),
        };
        let value = money_text(delta.abs(), config.exchange_rate_e4, &config.currency);
        let sign = if delta > 0 { "+" } else { "−" };
        let large = is_large_change(delta, balance);
        Some(Preview {
            text: format!(
                "{} → {}, {sign}{} credits{expiry}, {sign}{value}{}",
                format_credits(balance),
                format_credits(after),
                format_credits(delta.abs()),
                if large {
                    " · Large change: you will be asked to confirm."
                } else {
                    ""
                }
            ),
            class: if large { "large" } else { "ok" },
            large,
        })
    }

    /// Why there is no preview: the currency is not offered.
    pub fn not_offered(currency: &str) -> Option<Preview> {
        Preview::refused(format!("Promo credits are not offered in {currency}."))
    }
}

#[derive(Template)]
#[template(path = "users/preview.html")]
pub struct PreviewFragment {
    pub form: UpdateForm,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euro() -> PromoCreditConfig {
        let now = crate::db::now_utc();
        PromoCreditConfig {
            currency: "EUR".into(),
            enabled: true,
            exchange_rate_e4: 10_000,
            allow_with_discount_code: false,
            auto_apply_next_invoice: false,
            preview_default_used: true,
            created_at: now,
            updated_at: now,
            low_balance_threshold: None,
            expiring_notice_days: 7,
        }
    }

    #[test]
    fn previews_say_what_would_happen() {
        let text = |mode: &str, amount: &str, balance| {
            let typed = AdjustmentFields {
                mode: mode.to_owned(),
                amount: amount.to_owned(),
                ..AdjustmentFields::default()
            };
            Preview::of(&typed, balance, &euro(), TODAY).map(|p| (p.text, p.large))
        };
        assert_eq!(
            text("set", "170", 120),
            Some(("120 → 170, +50 credits, +50.00 EUR".to_owned(), false))
        );
        assert_eq!(
            text("change", "-20", 120),
            Some(("120 → 100, −20 credits, −20.00 EUR".to_owned(), false))
        );
        assert!(text("change", "-121", 120)
            .unwrap()
            .0
            .starts_with("Below zero"));
        assert!(text("set", "120", 120)
            .unwrap()
            .0
            .starts_with("There is nothing to change"));
        assert!(text("set", "1.5", 120).unwrap().0.contains("whole number"));
        assert!(text("change", "1000000000000", 5)
            .unwrap()
            .0
            .starts_with("Above the maximum"));
        assert!(
            text("change", "10000", 5_000_000).unwrap().1,
            "10,000 credits is large"
        );
        assert!(
            text("change", "1200", 120).unwrap().1,
            "10× the balance is large"
        );
        assert!(!text("change", "1199", 120).unwrap().1);
        assert_eq!(text("set", "  ", 120), None);
    }

    const TODAY: Date = time::macros::date!(2026 - 11 - 28);

    #[test]
    fn previews_say_when_added_credits_expire() {
        let text = |mode: &str, amount: &str, expires_at: &str| {
            let typed = AdjustmentFields {
                mode: mode.to_owned(),
                amount: amount.to_owned(),
                expires_at: expires_at.to_owned(),
                ..AdjustmentFields::default()
            };
            Preview::of(&typed, 120, &euro(), TODAY).map(|p| (p.text, p.class))
        };
        assert_eq!(
            text("change", "50", "2026-12-31"),
            Some((
                "120 → 170, +50 credits, expire on 31 Dec 2026, +50.00 EUR".to_owned(),
                "ok"
            ))
        );
        assert_eq!(text("set", "100", "2026-12-31").unwrap().1, "refused");
        assert!(text("change", "5", "2026-11-27")
            .unwrap()
            .0
            .contains("has passed"));
        assert!(text("change", "5", "2040-01-01")
            .unwrap()
            .0
            .contains("10 years"));
        assert!(text("change", "5", "31.12.2026")
            .unwrap()
            .0
            .contains("YYYY-MM-DD"));
    }
}
