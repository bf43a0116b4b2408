//! Promo credit settings, one row per currency, and the history of their rates
//! (docs/concepts.md, "Promo credit settings").

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::dialect::{insert_config_if_absent, lock_config};
use crate::db::models::{PromoCreditConfig, PromoCreditRate};
use crate::db::schema::{promo_credit_configs, promo_credit_rates};
use crate::db::{now_utc, write_transaction, DbConnection};
use crate::domain::{format_credits, CurrencyCode, ExchangeRate};
use crate::store::activity::{self, Audit};

/// Every configured currency, in code order.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<PromoCreditConfig>> {
    promo_credit_configs::table
        .order(promo_credit_configs::currency)
        .select(PromoCreditConfig::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, currency: &str) -> QueryResult<Option<PromoCreditConfig>> {
    promo_credit_configs::table
        .find(currency)
        .select(PromoCreditConfig::as_select())
        .first(conn)
        .optional()
}

/// The settings of one currency as a person sets them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub currency: CurrencyCode,
    pub enabled: bool,
    pub exchange_rate: ExchangeRate,
    pub allow_with_discount_code: bool,
    pub auto_apply_next_invoice: bool,
    pub preview_default_used: bool,
    /// Webhooks (docs/webhooks.md, "Events"): below this an account is low; none for off.
    pub low_balance_threshold: Option<i64>,
    /// Webhooks: days before a grant ends that its `credit.expiring` goes out.
    pub expiring_notice_days: i32,
}

/// The days of notice before a grant ends that a currency starts with.
pub const DEFAULT_NOTICE_DAYS: i32 = 7;

/// What a save did: the settings before (none for a new currency) and each change in words.
#[derive(Debug, Clone)]
pub struct Saved {
    pub before: Option<PromoCreditConfig>,
    /// `rate 1.00 → 2.00`, …; empty when nothing changed (and nothing was written).
    pub changes: Vec<String>,
}

/// The changes from `before` to `after`, in words, for the activity log and the page.
pub fn describe_changes(before: Option<&PromoCreditConfig>, after: &Settings) -> Vec<String> {
    let minor = after.currency.minor_units();
    let rate = |e4: i64| {
        ExchangeRate::from_e4(e4)
            .map(|r| r.display_for(minor))
            .unwrap_or_default()
    };
    let word = |on: bool| if on { "on" } else { "off" };
    let threshold = |t: Option<i64>| t.map_or_else(|| "none".to_owned(), format_credits);
    let Some(before) = before else {
        return vec![format!(
            "added: promo credits {}, rate {}, discount code with credits {}, auto-apply {}, \
             preview default {}, low balance below {}, expiry notice {} days",
            word(after.enabled),
            rate(after.exchange_rate.e4()),
            word(after.allow_with_discount_code),
            word(after.auto_apply_next_invoice),
            word(after.preview_default_used),
            threshold(after.low_balance_threshold),
            after.expiring_notice_days
        )];
    };
    let mut changes = Vec::new();
    let mut flag = |name: &str, old: bool, new: bool| {
        if old != new {
            changes.push(format!("{name} {} → {}", word(old), word(new)));
        }
    };
    flag("promo credits", before.enabled, after.enabled);
    flag(
        "discount code with credits",
        before.allow_with_discount_code,
        after.allow_with_discount_code,
    );
    flag(
        "auto-apply",
        before.auto_apply_next_invoice,
        after.auto_apply_next_invoice,
    );
    flag(
        "preview default",
        before.preview_default_used,
        after.preview_default_used,
    );
    if before.low_balance_threshold != after.low_balance_threshold {
        changes.push(format!(
            "low balance below {} → {}",
            threshold(before.low_balance_threshold),
            threshold(after.low_balance_threshold)
        ));
    }
    if before.expiring_notice_days != after.expiring_notice_days {
        changes.push(format!(
            "expiry notice {} → {} days",
            before.expiring_notice_days, after.expiring_notice_days
        ));
    }
    if before.exchange_rate_e4 != after.exchange_rate.e4() {
        changes.insert(
            0,
            format!(
                "rate {} → {}",
                rate(before.exchange_rate_e4),
                rate(after.exchange_rate.e4())
            ),
        );
    }
    changes
}

/// Creates or changes the settings of a currency in one transaction with its activity row
/// and, when the rate is new, its row in the rate history. Saving what is already there
/// writes nothing.
pub fn save(conn: &mut DbConnection, settings: &Settings, audit: &Audit) -> QueryResult<Saved> {
    let currency = settings.currency.as_str();
    loop {
        let saved = write_transaction(conn, |conn| -> QueryResult<Option<Saved>> {
            let before = lock_config(conn, currency)?;
            let changes = describe_changes(before.as_ref(), settings);
            if changes.is_empty() {
                return Ok(Some(Saved { before, changes }));
            }
            let now = now_utc();
            let row = PromoCreditConfig {
                currency: currency.to_owned(),
                enabled: settings.enabled,
                exchange_rate_e4: settings.exchange_rate.e4(),
                allow_with_discount_code: settings.allow_with_discount_code,
                auto_apply_next_invoice: settings.auto_apply_next_invoice,
                preview_default_used: settings.preview_default_used,
                created_at: before.as_ref().map_or(now, |b| b.created_at),
                updated_at: now,
                low_balance_threshold: settings.low_balance_threshold,
                expiring_notice_days: settings.expiring_notice_days,
            };
            if before.is_some() {
                diesel::update(promo_credit_configs::table.find(currency))
                    .set((
                        promo_credit_configs::enabled.eq(row.enabled),
                        promo_credit_configs::exchange_rate_e4.eq(row.exchange_rate_e4),
                        promo_credit_configs::allow_with_discount_code
                            .eq(row.allow_with_discount_code),
                        promo_credit_configs::auto_apply_next_invoice
                            .eq(row.auto_apply_next_invoice),
                        promo_credit_configs::preview_default_used.eq(row.preview_default_used),
                        promo_credit_configs::low_balance_threshold.eq(row.low_balance_threshold),
                        promo_credit_configs::expiring_notice_days.eq(row.expiring_notice_days),
                        promo_credit_configs::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            } else if !insert_config_if_absent(conn, &row)? {
                // Another owner added it at the same moment: save over theirs.
                return Ok(None);
            }
            if before.as_ref().map(|b| b.exchange_rate_e4) != Some(row.exchange_rate_e4) {
                diesel::insert_into(promo_credit_rates::table)
                    .values((
                        promo_credit_rates::currency.eq(currency),
                        promo_credit_rates::exchange_rate_e4.eq(row.exchange_rate_e4),
                        promo_credit_rates::changed_at.eq(now),
                        promo_credit_rates::changed_by.eq(&audit.actor),
                    ))
                    .execute(conn)?;
            }
            activity::record(
                conn,
                activity::Record {
                    audit,
                    action: "settings.promo_credit",
                    target: &format!("promo credits in {currency}"),
                    details: &changes.join("; "),
                    subject: activity::Subject::default(),
                },
            )?;
            Ok(Some(Saved { before, changes }))
        })?;
        if let Some(saved) = saved {
            return Ok(saved);
        }
    }
}

/// Every rate a currency has had, newest first.
pub fn rate_history(conn: &mut DbConnection, currency: &str) -> QueryResult<Vec<PromoCreditRate>> {
    promo_credit_rates::table
        .filter(promo_credit_rates::currency.eq(currency))
        .order(promo_credit_rates::id.desc())
        .select(PromoCreditRate::as_select())
        .load(conn)
}

/// Enables `currency` at 1.00 a credit with `preview_default_used` on, unless it is already
/// configured (as the demo and the bench seeder want it).
pub fn ensure_demo_currency(conn: &mut DbConnection, currency: &CurrencyCode) -> QueryResult<()> {
    if find(conn, currency.as_str())?.is_none() {
        let settings = Settings {
            currency: *currency,
            enabled: true,
            exchange_rate: ExchangeRate::from_e4(10_000).expect("1.00 is a valid rate"),
            allow_with_discount_code: false,
            auto_apply_next_invoice: false,
            preview_default_used: true,
            low_balance_threshold: None,
            expiring_notice_days: DEFAULT_NOTICE_DAYS,
        };
        save(conn, &settings, &Audit::system())?;
    }
    Ok(())
}

/// The codes of every configured currency, in code order.
pub fn currency_codes(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    list(conn).map(|configs| codes_of(&configs))
}

/// The codes of `configs`.
pub fn codes_of(configs: &[PromoCreditConfig]) -> Vec<String> {
    configs.iter().map(|c| c.currency.clone()).collect()
}

/// Each currency's rate of one credit, in 1/10,000 units.
pub fn rates_of(configs: &[PromoCreditConfig]) -> HashMap<String, i64> {
    configs
        .iter()
        .map(|c| (c.currency.clone(), c.exchange_rate_e4))
        .collect()
}

/// Every configured currency's rate.
pub fn rates(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    list(conn).map(|configs| rates_of(&configs))
}
