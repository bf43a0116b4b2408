//! The ledger: the ONLY code that changes a credit balance.
//!
//! Every change runs in one database transaction that locks the account, re-reads it, checks
//! the SPEC's invariants (bounds, expected version, currency enabled), then writes the ledger
//! row and the new balance, totals and version together. Callers describe the change with a
//! closure that sees the locked account, so a "set to" or an invoice cap is computed from the
//! balance as it is inside the lock, never from a stale read.

pub mod verify;

use diesel::prelude::*;

use crate::db::models::{
    CreditAccount, CreditTransaction, NewCreditAccount, NewCreditTransaction, PromoCreditConfig,
};
use crate::db::schema::{
    credit_accounts, credit_daily_totals, credit_transactions, promo_credit_configs, users,
};
use crate::db::{is_unique_violation, now_utc, DbConnection};
use crate::domain::{
    money_value, Change, CurrencyCode, ExchangeRate, Money, Note, Reason, TransactionType,
    MAX_BALANCE,
};

/// Who made a change; exported as `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Admin(i64),
    ApiKey(i64),
    System,
}

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Actor::Admin(_) => "admin",
            Actor::ApiKey(_) => "api_key",
            Actor::System => "system",
        }
    }

    pub fn id(self) -> Option<i64> {
        match self {
            Actor::Admin(id) | Actor::ApiKey(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// Why the ledger refused a change. Each is something a person or a checkout can cause, and
/// the message says it in a billing admin's words.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("This customer does not exist.")]
    CustomerNotFound,
    #[error("Promo credits are not offered in {0}.")]
    CurrencyNotOffered(String),
    #[error("Promo credits in {0} are disabled: no credit can be added, deducted or spent.")]
    CurrencyDisabled(String),
    #[error("This customer's credit use is switched off.")]
    UsageDisabled,
    #[error("nothing to change: the balance would stay the same.")]
    NothingToChange,
    #[error("The balance is {balance} credits; removing {} would take it below zero.", -.delta)]
    BelowZero { balance: i64, delta: i64 },
    #[error("The balance is {balance} credits; adding {delta} would take it above the maximum of 1,000,000,000,000.")]
    AboveMaximum { balance: i64, delta: i64 },
    #[error("The balance changed while you were editing: it is now {balance} credits (version {version}). Check it and try again.")]
    VersionConflict { balance: i64, version: i64 },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// One ledger row to write, decided inside the lock.
#[derive(Debug, Clone)]
pub struct Entry {
    pub delta: i64,
    pub kind: TransactionType,
    pub reason: Option<Reason>,
    pub note: Note,
    pub actor: Actor,
    pub invoice_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The money this row moved when it is not `|delta| × rate` (invoice rows: the discount
    /// actually applied).
    pub currency_value: Option<Money>,
}

/// A change that was written: the ledger row and the account after it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub transaction: CreditTransaction,
    pub account: CreditAccount,
}

/// An account as the locked transaction sees it, with its currency's settings.
#[derive(Debug, Clone)]
pub struct Locked {
    pub account: CreditAccount,
    pub config: PromoCreditConfig,
    pub currency: CurrencyCode,
    pub rate: ExchangeRate,
}

/// Where a person's adjustment comes from: picks `admin_*` or `api_*` row types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Console,
    Api,
}

/// An adjustment typed by an admin or sent through the API.
#[derive(Debug, Clone)]
pub struct Adjustment {
    pub user_id: i64,
    pub currency: CurrencyCode,
    pub change: Change,
    pub note: Note,
    pub reason: Option<Reason>,
    pub expected_version: Option<i64>,
    pub actor: Actor,
    pub source: Source,
}

/// Sets or changes a balance by an admin's or the API's request.
pub fn adjust(conn: &mut DbConnection, adjustment: Adjustment) -> Result<Posted, LedgerError> {
    let Adjustment {
        user_id,
        currency,
        change,
        note,
        reason,
        expected_version,
        actor,
        source,
    } = adjustment;
    post(conn, user_id, &currency, expected_version, |locked| {
        let delta = change.delta_from(locked.account.balance);
        let kind = match (source, delta > 0) {
            (Source::Console, true) => TransactionType::AdminAdded,
            (Source::Console, false) => TransactionType::AdminReduced,
            (Source::Api, true) => TransactionType::ApiAdded,
            (Source::Api, false) => TransactionType::ApiReduced,
        };
        Ok(Entry {
            delta,
            kind,
            reason,
            note,
            actor,
            invoice_id: None,
            idempotency_key: None,
            currency_value: None,
        })
    })
}

/// The one write path. `plan` sees the locked account and returns the row to write; `post`
/// enforces the invariants whatever `plan` returns.
pub fn post<F>(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
    expected_version: Option<i64>,
    plan: F,
) -> Result<Posted, LedgerError>
where
    F: FnOnce(&Locked) -> Result<Entry, LedgerError>,
{
    let account_id = ensure_account(conn, user_id, currency)?;
    let posted = conn.transaction(|conn| {
        let account = lock_account(conn, account_id)?;
        let config: PromoCreditConfig = promo_credit_configs::table
            .find(currency.as_str())
            .select(PromoCreditConfig::as_select())
            .first(conn)?;
        if let Some(expected) = expected_version {
            if expected != account.version {
                return Err(LedgerError::VersionConflict {
                    balance: account.balance,
                    version: account.version,
                });
            }
        }
        let rate = ExchangeRate::from_e4(config.exchange_rate_e4)
            .map_err(|_| LedgerError::CurrencyNotOffered(currency.to_string()))?;
        let locked = Locked {
            account,
            config,
            currency: currency.clone(),
            rate,
        };
        let entry = plan(&locked)?;
        if !locked.config.enabled && entry.kind != TransactionType::InvoiceRefunded {
            return Err(LedgerError::CurrencyDisabled(currency.to_string()));
        }
        write_entry(conn, &locked, entry)
    })?;
    crate::metrics::ledger_write(&posted.transaction.kind);
    Ok(posted)
}

/// Checks the entry against the locked account and writes the row and the new balance.
fn write_entry(
    conn: &mut DbConnection,
    locked: &Locked,
    entry: Entry,
) -> Result<Posted, LedgerError> {
    let account = &locked.account;
    let delta = entry.delta;
    if delta == 0 {
        return Err(LedgerError::NothingToChange);
    }
    let balance_after = account.balance.checked_add(delta).unwrap_or(i64::MAX);
    if balance_after < 0 {
        return Err(LedgerError::BelowZero {
            balance: account.balance,
            delta,
        });
    }
    if balance_after > MAX_BALANCE {
        return Err(LedgerError::AboveMaximum {
            balance: account.balance,
            delta,
        });
    }
    let currency_value = entry
        .currency_value
        .unwrap_or_else(|| money_value(delta.abs(), locked.rate, &locked.currency))
        .plain();
    // Taken after the lock, so the rows of one account are in time order.
    let now = now_utc();
    let new_row = NewCreditTransaction {
        account_id: account.id,
        user_id: account.user_id,
        currency: &account.currency,
        kind: entry.kind.as_str(),
        reason: entry.reason.map(Reason::as_str),
        delta,
        balance_before: account.balance,
        balance_after,
        exchange_rate_e4: locked.rate.e4(),
        currency_value: &currency_value,
        note: entry.note.as_str(),
        actor_kind: entry.actor.kind(),
        actor_id: entry.actor.id(),
        invoice_id: entry.invoice_id.as_deref(),
        idempotency_key: entry.idempotency_key.as_deref(),
        created_at: now,
    };
    let id: i64 = diesel::insert_into(credit_transactions::table)
        .values(&new_row)
        .returning(credit_transactions::id)
        .get_result(conn)?;
    let (added, deducted) = if delta > 0 { (delta, 0) } else { (0, -delta) };
    let updated = CreditAccount {
        balance: balance_after,
        total_added: account.total_added + added,
        total_deducted: account.total_deducted + deducted,
        version: account.version + 1,
        updated_at: now,
        ..account.clone()
    };
    diesel::update(credit_accounts::table.find(account.id))
        .set((
            credit_accounts::balance.eq(updated.balance),
            credit_accounts::total_added.eq(updated.total_added),
            credit_accounts::total_deducted.eq(updated.total_deducted),
            credit_accounts::version.eq(updated.version),
            credit_accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    add_to_daily_totals(conn, &new_row)?;
    let transaction = CreditTransaction {
        id,
        account_id: account.id,
        user_id: account.user_id,
        currency: account.currency.clone(),
        kind: entry.kind.as_str().to_owned(),
        reason: entry.reason.map(|r| r.as_str().to_owned()),
        delta,
        balance_before: account.balance,
        balance_after,
        exchange_rate_e4: locked.rate.e4(),
        currency_value,
        note: entry.note.as_str().to_owned(),
        actor_kind: entry.actor.kind().to_owned(),
        actor_id: entry.actor.id(),
        invoice_id: entry.invoice_id,
        idempotency_key: entry.idempotency_key,
        created_at: now,
    };
    Ok(Posted {
        transaction,
        account: updated,
    })
}

/// Adds a new row to its day's totals (per currency, type and reason), in the same
/// transaction as the row itself.
fn add_to_daily_totals(conn: &mut DbConnection, row: &NewCreditTransaction<'_>) -> QueryResult<()> {
    use credit_daily_totals::dsl as totals;
    let (added, deducted) = if row.delta > 0 {
        (row.delta, 0)
    } else {
        (0, -row.delta)
    };
    let values = (
        totals::day.eq(row.created_at.date()),
        totals::currency.eq(row.currency),
        totals::kind.eq(row.kind),
        totals::reason.eq(row.reason.unwrap_or("")),
        totals::row_count.eq(1i64),
        totals::added.eq(added),
        totals::deducted.eq(deducted),
    );
    let sums = (
        totals::row_count.eq(totals::row_count + 1i64),
        totals::added.eq(totals::added + added),
        totals::deducted.eq(totals::deducted + deducted),
    );
    let key = (totals::day, totals::currency, totals::kind, totals::reason);
    // The upsert is the same SQL on both; the enum cannot carry ON CONFLICT, its variants can.
    match conn {
        DbConnection::Pg(pg) => diesel::insert_into(totals::credit_daily_totals)
            .values(values)
            .on_conflict(key)
            .do_update()
            .set(sums)
            .execute(pg),
        DbConnection::Sqlite(sqlite) => diesel::insert_into(totals::credit_daily_totals)
            .values(values)
            .on_conflict(key)
            .do_update()
            .set(sums)
            .execute(sqlite),
    }
    .map(|_| ())
}

/// Locks the account row for the rest of the transaction and returns it as stored now.
fn lock_account(conn: &mut DbConnection, account_id: i64) -> QueryResult<CreditAccount> {
    let account = credit_accounts::table.find(account_id);
    match conn {
        DbConnection::Pg(pg) => account
            .select(CreditAccount::as_select())
            .for_update()
            .first(pg),
        DbConnection::Sqlite(sqlite) => {
            // A write as the transaction's first statement takes SQLite's single write lock
            // now, waiting on busy_timeout; reading first and writing later would instead fail
            // with "database is locked" when another writer got in between.
            diesel::update(credit_accounts::table.find(account_id))
                .set(credit_accounts::version.eq(credit_accounts::version))
                .execute(sqlite)?;
            account.select(CreditAccount::as_select()).first(sqlite)
        }
    }
}

/// The account of (customer, currency), created empty on first use. Runs outside the write
/// transaction: on PostgreSQL a unique violation would abort the transaction around it.
fn ensure_account(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
) -> Result<i64, LedgerError> {
    if let Some(id) = find_account_id(conn, user_id, currency)? {
        return Ok(id);
    }
    let customer_exists: bool =
        diesel::select(diesel::dsl::exists(users::table.find(user_id))).get_result(conn)?;
    if !customer_exists {
        return Err(LedgerError::CustomerNotFound);
    }
    let configured: bool = diesel::select(diesel::dsl::exists(
        promo_credit_configs::table.find(currency.as_str()),
    ))
    .get_result(conn)?;
    if !configured {
        return Err(LedgerError::CurrencyNotOffered(currency.to_string()));
    }
    let now = now_utc();
    let inserted = diesel::insert_into(credit_accounts::table)
        .values(NewCreditAccount {
            user_id,
            currency: currency.as_str(),
            balance: 0,
            enabled: true,
            total_added: 0,
            total_deducted: 0,
            version: 0,
            created_at: now,
            updated_at: now,
        })
        .returning(credit_accounts::id)
        .get_result(conn);
    match inserted {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => find_account_id(conn, user_id, currency)?
            .ok_or(LedgerError::Database(diesel::result::Error::NotFound)),
        Err(e) => Err(e.into()),
    }
}

fn find_account_id(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
) -> QueryResult<Option<i64>> {
    credit_accounts::table
        .filter(credit_accounts::user_id.eq(user_id))
        .filter(credit_accounts::currency.eq(currency.as_str()))
        .select(credit_accounts::id)
        .first(conn)
        .optional()
}

/// Switches whether the customer may spend credits in `currency`; returns the account before
/// and after. Not a balance change: no ledger row, no new version.
pub fn set_usage(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
    enabled: bool,
) -> Result<(CreditAccount, CreditAccount), LedgerError> {
    let account_id = ensure_account(conn, user_id, currency)?;
    conn.transaction(|conn| {
        let before = lock_account(conn, account_id)?;
        let now = now_utc();
        diesel::update(credit_accounts::table.find(account_id))
            .set((
                credit_accounts::enabled.eq(enabled),
                credit_accounts::updated_at.eq(now),
            ))
            .execute(conn)?;
        let after = CreditAccount {
            enabled,
            updated_at: now,
            ..before.clone()
        };
        Ok((before, after))
    })
}
