//! Promo credit settings, one row per currency.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::models::PromoCreditConfig;
use crate::db::schema::promo_credit_configs;
use crate::db::{is_unique_violation, now_utc, DbConnection};
use crate::domain::{CurrencyCode, ExchangeRate};

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
}

/// Creates or replaces the settings of a currency; returns what was there before.
pub fn save(
    conn: &mut DbConnection,
    settings: &Settings,
) -> QueryResult<Option<PromoCreditConfig>> {
    let now = now_utc();
    let currency = settings.currency.as_str();
    let changes = (
        promo_credit_configs::enabled.eq(settings.enabled),
        promo_credit_configs::exchange_rate_e4.eq(settings.exchange_rate.e4()),
        promo_credit_configs::allow_with_discount_code.eq(settings.allow_with_discount_code),
        promo_credit_configs::auto_apply_next_invoice.eq(settings.auto_apply_next_invoice),
        promo_credit_configs::preview_default_used.eq(settings.preview_default_used),
        promo_credit_configs::updated_at.eq(now),
    );
    loop {
        if let Some(before) = find(conn, currency)? {
            diesel::update(promo_credit_configs::table.find(currency))
                .set(changes)
                .execute(conn)?;
            return Ok(Some(before));
        }
        let inserted = diesel::insert_into(promo_credit_configs::table)
            .values(PromoCreditConfig {
                currency: currency.to_owned(),
                enabled: settings.enabled,
                exchange_rate_e4: settings.exchange_rate.e4(),
                allow_with_discount_code: settings.allow_with_discount_code,
                auto_apply_next_invoice: settings.auto_apply_next_invoice,
                preview_default_used: settings.preview_default_used,
                created_at: now,
                updated_at: now,
            })
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(None),
            // Someone else created it first: update theirs.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Enables `currency` at 1.00 a credit with `preview_default_used` on, unless it is already
/// configured (as the demo and the bench seeder want it).
pub fn ensure_demo_currency(conn: &mut DbConnection, currency: &CurrencyCode) -> QueryResult<()> {
    if find(conn, currency.as_str())?.is_none() {
        save(
            conn,
            &Settings {
                currency: currency.clone(),
                enabled: true,
                exchange_rate: ExchangeRate::from_e4(10_000).expect("1.00 is a valid rate"),
                allow_with_discount_code: false,
                auto_apply_next_invoice: false,
                preview_default_used: true,
            },
        )?;
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
