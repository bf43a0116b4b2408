//! Opening balances, many at once: how an import gives new accounts their first credits
//! (docs/import.md, "Opening balances"). The same invariants as [`super::post`], checked
//! for every account before anything is written, then written in batches inside one write
//! transaction: the account with its balance, its one `imported` ledger row, and the day's
//! totals. An account that exists already is not opened again: the whole batch is refused.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::dialect::per_backend;
use crate::db::models::{
    CreditAccount, CreditTransaction, NewCreditAccount, NewCreditTransaction, PromoCreditConfig,
};
use crate::db::schema::{credit_accounts, credit_transactions, users};
use crate::db::{is_unique_violation, now_utc, write_transaction, DbConnection};
use crate::domain::{
    apply_delta, money_value, CurrencyCode, ExchangeRate, Note, Reason, TransactionType,
};
use crate::store::{configs, credits};

use crate::store::credits::author_label;
use crate::webhooks::events::{of_rows, EventType};
use crate::webhooks::outbox::{self, enqueue, Listeners};

use super::{add_day_totals, grants, Actor, DayTotals, Holder, LedgerError};

/// One new account's first balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub user_id: i64,
    pub currency: CurrencyCode,
    pub credits: i64,
    /// When the opening's credits expire (docs/concepts.md, "Expiry").
    pub expires_at: Option<time::Date>,
}

/// Rows written per statement: well under SQLite's limit of bound parameters.
const ROWS_PER_INSERT: usize = 400;

/// Opens an account with its balance for each of `openings`, each with an `imported` row
/// carrying `note` and `actor`. All of them or none: [`LedgerError::AlreadyOpened`] when
/// one of the accounts exists, the currency errors of [`super::post`], or a balance error.
pub fn open_accounts(
    conn: &mut DbConnection,
    openings: &[Opening],
    note: &Note,
    actor: Actor,
) -> Result<usize, LedgerError> {
    if openings.is_empty() {
        return Ok(0);
    }
    let opened = write_transaction(conn, |conn| {
        let rates = enabled_rates(conn, openings)?;
        for opening in openings {
            // Zero is refused here too: a row never moves nothing.
            apply_delta(0, opening.credits)?;
        }
        let now = now_utc();
        let accounts: Vec<NewCreditAccount<'_>> = openings
            .iter()
            .map(|o| NewCreditAccount {
                user_id: o.user_id,
                currency: o.currency.as_str(),
                balance: o.credits,
                enabled: true,
                total_added: o.credits,
                total_deducted: 0,
                version: 1,
                created_at: now,
                updated_at: now,
            })
            .collect();
        for chunk in accounts.chunks(ROWS_PER_INSERT) {
            per_backend!(conn, |c| diesel::insert_into(credit_accounts::table)
                .values(chunk)
                .execute(c))
            .map_err(|e| match is_unique_violation(&e) {
                true => LedgerError::AlreadyOpened,
                false => e.into(),
            })?;
        }
        let user_ids: Vec<i64> = openings.iter().map(|o| o.user_id).collect();
        let ids: HashMap<(i64, String), i64> = credits::accounts_of_all(conn, &user_ids)?
            .into_iter()
            .map(|a| ((a.user_id, a.currency), a.id))
            .collect();
        let values: Vec<String> = openings
            .iter()
            .map(|o| money_value(o.credits, rates[&o.currency], &o.currency).plain())
            .collect();
        let rows: Vec<NewCreditTransaction<'_>> = openings
            .iter()
            .zip(&values)
            .map(|(o, value)| NewCreditTransaction {
                account_id: ids[&(o.user_id, o.currency.as_str().to_owned())],
                user_id: o.user_id,
                currency: o.currency.as_str(),
                kind: TransactionType::Imported.as_str(),
                reason: Some(Reason::Migration.as_str()),
                delta: o.credits,
                balance_before: 0,
                balance_after: o.credits,
                exchange_rate_e4: rates[&o.currency].e4(),
                currency_value: value,
                note: note.as_str(),
                actor_kind: actor.kind(),
                actor_id: actor.id(),
                invoice_id: None,
                idempotency_key: None,
                created_at: now,
                expires_at: o.expires_at,
            })
            .collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            per_backend!(conn, |c| diesel::insert_into(credit_transactions::table)
                .values(chunk)
                .execute(c))?;
        }
        let account_ids: Vec<i64> = openings
            .iter()
            .map(|o| ids[&(o.user_id, o.currency.as_str().to_owned())])
            .collect();
        for chunk in account_ids.chunks(ROWS_PER_INSERT) {
            grants::grant_rows_of(conn, chunk)?;
        }
        let listeners = Listeners::read(conn)?;
        if !listeners.is_empty() {
            announce(conn, &listeners, &account_ids, actor)?;
        }
        add_to_daily_totals(conn, openings, now.date())?;
        for _ in openings {
            crate::metrics::ledger_write(TransactionType::Imported.as_str());
        }
        Ok(openings.len())
    });
    outbox::wake_dispatcher();
    opened
}

/// The webhook events of the new accounts' `imported` rows, in the outbox of the import's
/// transaction (docs/webhooks.md, "Never lost").
fn announce(
    conn: &mut DbConnection,
    listeners: &Listeners,
    account_ids: &[i64],
    actor: Actor,
) -> QueryResult<()> {
    // An opening row is its account's first: it crosses no threshold (docs/webhooks.md).
    if !listeners.want(EventType::CreditChanged) {
        return Ok(());
    }
    let by = [author_label(conn, actor.kind(), actor.id())?];
    let configs: HashMap<String, PromoCreditConfig> = configs::list(conn)?
        .into_iter()
        .map(|config| (config.currency.clone(), config))
        .collect();
    for chunk in account_ids.chunks(ROWS_PER_INSERT) {
        let rows: Vec<(CreditTransaction, CreditAccount, String, Option<String>)> =
            credit_transactions::table
                .inner_join(credit_accounts::table)
                .inner_join(users::table)
                .filter(credit_transactions::account_id.eq_any(chunk))
                .order(credit_transactions::id)
                .select((
                    CreditTransaction::as_select(),
                    CreditAccount::as_select(),
                    users::email,
                    users::external_id,
                ))
                .load(conn)?;
        let mut events = Vec::with_capacity(rows.len());
        for (row, account, email, external_id) in rows {
            let holder = Holder { email, external_id };
            let config = &configs[&account.currency];
            events.extend(of_rows(&[row], &by, &account, config, &holder));
        }
        enqueue(conn, listeners, &events)?;
    }
    Ok(())
}

/// The rate of each currency the openings are in; refused when one is not offered or is
/// disabled.
fn enabled_rates(
    conn: &mut DbConnection,
    openings: &[Opening],
) -> Result<HashMap<CurrencyCode, ExchangeRate>, LedgerError> {
    let configs: HashMap<String, _> = configs::list(conn)?
        .into_iter()
        .map(|c| (c.currency.clone(), c))
        .collect();
    let mut rates = HashMap::new();
    for opening in openings {
        let code = opening.currency;
        let config = configs
            .get(code.as_str())
            .ok_or_else(|| LedgerError::CurrencyNotOffered(code.to_string()))?;
        if !config.enabled {
            return Err(LedgerError::CurrencyDisabled(code.to_string()));
        }
        let rate = ExchangeRate::from_e4(config.exchange_rate_e4)
            .map_err(|_| LedgerError::CurrencyNotOffered(code.to_string()))?;
        rates.insert(code, rate);
    }
    Ok(rates)
}

/// The openings' share of the day's totals: per currency, every row added credits and
/// made one more holder.
fn add_to_daily_totals(
    conn: &mut DbConnection,
    openings: &[Opening],
    day: time::Date,
) -> QueryResult<()> {
    let mut per_currency: HashMap<CurrencyCode, (i64, i64)> = HashMap::new();
    for opening in openings {
        let sums = per_currency.entry(opening.currency).or_default();
        sums.0 += 1;
        sums.1 += opening.credits;
    }
    for (currency, (rows, added)) in per_currency {
        let totals = DayTotals {
            day,
            currency: currency.as_str(),
            kind: TransactionType::Imported.as_str(),
            reason: Reason::Migration.as_str(),
            rows,
            added,
            deducted: 0,
            holders: rows,
            // Imports apply one at a time (`lock_import`): no other import contends.
            slot: 0,
        };
        add_day_totals(conn, &totals)?;
    }
    Ok(())
}
