//! The ledger: the ONLY code that changes a credit balance (docs/concepts.md, "Ledger" and
//! "Invariants").
//!
//! Every change runs in one write transaction that locks the account, re-reads it, checks the
//! invariants (expected version, currency enabled, the balance rule of
//! [`crate::domain::apply_delta`]), then writes the ledger row, the new balance, totals and
//! version, the day's totals and the activity row together: all of them or none. An account
//! is created inside that transaction, and only when a row is written, so a refused change
//! leaves nothing behind. Callers describe the change with a closure that sees the locked
//! account, so a "set to" or an invoice cap is computed from the balance as it is inside the
//! lock, never from a stale read.

pub mod expiry;
pub mod grants;
pub mod invoices;
pub mod openings;
pub mod verify;

use diesel::prelude::*;

use crate::db::dialect::{insert_account_if_absent, lock_account_for_change, per_backend};
use crate::db::models::{
    CreditAccount, CreditGrant, CreditTransaction, NewCreditAccount, NewCreditGrant,
    NewCreditTransaction, PromoCreditConfig,
};
use crate::db::prepared::Prepared;
use crate::db::schema::{
    credit_accounts, credit_daily_totals, credit_transactions, promo_credit_configs, users,
};
use crate::db::{lock_account, now_utc, write_transaction, DbConnection};
use crate::domain::{
    apply_delta, holder_change, money_value, BalanceError, Change, CurrencyCode, ExchangeRate,
    Money, Note, Reason, TransactionType,
};
use crate::store::activity::{self, Audit};
use crate::store::credit_list::NamedRow;
use crate::webhooks::outbox::{self, Listeners};

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

    pub fn api_key_id(self) -> Option<i64> {
        match self {
            Actor::ApiKey(id) => Some(id),
            _ => None,
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
    #[error(transparent)]
    Balance(#[from] BalanceError),
    #[error("The balance changed while you were editing: it is now {balance} credits (version {version}). Check it and try again.")]
    VersionConflict { balance: i64, version: i64 },
    #[error("This customer has an account in this currency already: an opening balance is only for a new account.")]
    AlreadyOpened,
    #[error("This invoice was paid already with another request.")]
    InvoiceConflict,
    #[error("A discount code is on the invoice, and this currency's settings do not allow promo credits with one.")]
    DiscountCodeConflict,
    #[error("No promo credits were spent on this invoice.")]
    InvoiceNotPaid,
    #[error("Nothing is left to refund: this invoice spent no credits, or has had them all back.")]
    NothingToRefund,
    #[error("Refund between 1 and {refundable} credits: that is what this invoice spent and has not had back.")]
    RefundOutOfRange { refundable: i64 },
    /// Not transparent: the diesel error stays in the chain of sources, where
    /// `AppError::internal` looks for a database that stopped answering.
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
    #[error(
        "Only credits being added can have an expiry date: leave it empty when you remove credits."
    )]
    ExpiryWithoutGrant,
    /// The account's grants hold fewer credits than its balance: only a database changed
    /// by hand can get here, and `creditdesk verify` names the account.
    #[error("This account's grants do not add up to its balance; nothing was changed. Run creditdesk verify.")]
    GrantsOutOfStep,
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
    /// A grant's expiry (docs/concepts.md, "Expiry"); only adding rows carry one.
    pub expires_at: Option<time::Date>,
    /// A refund's credits given back to the grants they came from ([`grants::give_back`]);
    /// what this does not cover becomes a new grant that never expires.
    pub returns: Vec<grants::Draw>,
}

impl Entry {
    /// A row of `kind` moving `delta` credits with nothing else special about it.
    pub fn new(delta: i64, kind: TransactionType, note: Note, actor: Actor) -> Entry {
        Entry {
            delta,
            kind,
            reason: None,
            note,
            actor,
            invoice_id: None,
            idempotency_key: None,
            currency_value: None,
            expires_at: None,
            returns: Vec::new(),
        }
    }
}

/// A change that was written: the ledger row, the account after it, and what the locked
/// transaction read to write them (the currency's settings, the customer's names), so an
/// answer needs no second read.
#[derive(Debug, Clone)]
pub struct Posted {
    pub transaction: CreditTransaction,
    pub account: CreditAccount,
    pub config: PromoCreditConfig,
    pub customer: Holder,
    /// `expired` rows written in the same transaction: grants that had ended before the
    /// change (when the scheduler had not run yet), and credits a refund gave back to ended
    /// grants (docs/concepts.md, "Expiry").
    pub expired: Vec<CreditTransaction>,
}

/// The customer an account belongs to, as a ledger row names them.
#[derive(Debug, Clone)]
pub struct Holder {
    pub email: String,
    pub external_id: Option<String>,
}

impl Posted {
    /// The row with its customer and its author's label (`by`, docs/concepts.md, "The
    /// ledger"), which the caller knows.
    pub fn named(&self, by: String) -> NamedRow {
        NamedRow {
            row: self.transaction.clone(),
            email: self.customer.email.clone(),
            external_id: self.customer.external_id.clone().unwrap_or_default(),
            by,
        }
    }
}

/// An account as the locked transaction sees it (zero and version 0 when it does not exist
/// yet), with its currency's settings.
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
    /// When the change adds credits: the day they expire at the end of.
    pub expires_at: Option<time::Date>,
    pub expected_version: Option<i64>,
    pub actor: Actor,
    pub source: Source,
    /// The API request's `Idempotency-Key`, kept on the row.
    pub idempotency_key: Option<String>,
    /// Recorded in the activity log, in the change's transaction.
    pub audit: Option<Audit>,
}

/// Sets or changes a balance by an admin's or the API's request.
pub fn adjust(conn: &mut DbConnection, adjustment: Adjustment) -> Result<Posted, LedgerError> {
    let Adjustment {
        user_id,
        currency,
        change,
        note,
        reason,
        expires_at,
        expected_version,
        actor,
        source,
        idempotency_key,
        audit,
    } = adjustment;
    let target = Target {
        user_id,
        currency: &currency,
        expected_version,
        audit: audit.as_ref(),
    };
    post(conn, target, |locked| {
        let delta = change.delta_from(locked.account.balance);
        if expires_at.is_some() && delta < 0 {
            return Err(LedgerError::ExpiryWithoutGrant);
        }
        let kind = match (source, delta > 0) {
            (Source::Console, true) => TransactionType::AdminAdded,
            (Source::Console, false) => TransactionType::AdminReduced,
            (Source::Api, true) => TransactionType::ApiAdded,
            (Source::Api, false) => TransactionType::ApiReduced,
        };
        Ok(Entry {
            reason,
            idempotency_key: idempotency_key.clone(),
            expires_at,
            ..Entry::new(delta, kind, note.clone(), actor)
        })
    })
}

/// Which account a change is for, the version the caller saw, and who to record.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub user_id: i64,
    pub currency: &'a CurrencyCode,
    /// When given and not the account's version: [`LedgerError::VersionConflict`].
    pub expected_version: Option<i64>,
    pub audit: Option<&'a Audit>,
}

impl<'a> Target<'a> {
    /// A change with no version check and no activity row (system rows, seeding).
    pub fn system(user_id: i64, currency: &'a CurrencyCode) -> Target<'a> {
        Target {
            user_id,
            currency,
            expected_version: None,
            audit: None,
        }
    }
}

/// The one write path. `plan` sees the locked account and returns the row to write; `post`
/// enforces the invariants whatever `plan` returns. `plan` may run again when another
/// transaction creates the same account at the same moment.
pub fn post<F>(conn: &mut DbConnection, target: Target<'_>, plan: F) -> Result<Posted, LedgerError>
where
    F: Fn(&Locked) -> Result<Entry, LedgerError>,
{
    loop {
        let written = write_transaction(conn, |conn| attempt(conn, target, &plan));
        outbox::wake_dispatcher();
        if let Some(posted) = written? {
            crate::metrics::ledger_write(&posted.transaction.kind);
            for row in &posted.expired {
                crate::metrics::ledger_write(&row.kind);
            }
            return Ok(posted);
        }
    }
}

/// One try at a change inside the write transaction; none when the account appeared
/// meanwhile (only possible on PostgreSQL), and the caller tries again.
fn attempt<F>(
    conn: &mut DbConnection,
    target: Target<'_>,
    plan: &F,
) -> Result<Option<Posted>, LedgerError>
where
    F: Fn(&Locked) -> Result<Entry, LedgerError>,
{
    let Target {
        user_id,
        currency,
        expected_version,
        audit,
    } = target;
    let Opened {
        customer,
        listening,
        ended,
        existing,
        mut locked,
        now,
    } = open(conn, user_id, currency)?;
    if let Some(expected) = expected_version {
        if expected != locked.account.version {
            return Err(LedgerError::VersionConflict {
                balance: locked.account.balance,
                version: locked.account.version,
            });
        }
    }
    let mut expired = match ended {
        true => expire_ended(conn, &mut locked, now.date(), now)?,
        false => Vec::new(),
    };
    let entry = plan(&locked)?;
    if !locked.config.enabled && entry.kind != TransactionType::InvoiceRefunded {
        return Err(LedgerError::CurrencyDisabled(currency.to_string()));
    }
    apply_delta(locked.account.balance, entry.delta)?;
    if existing.is_none() {
        match insert_account_if_absent(conn, &new_account(&locked.account, true))? {
            Some(id) => locked.account.id = id,
            None => return Ok(None),
        }
    }
    let live = match entry.delta < 0 {
        true => grants::covering(conn, locked.account.id, -entry.delta)?,
        false => Vec::new(),
    };
    let moves = moves_of(&entry, &live)?;
    let returned: Vec<i64> = entry.returns.iter().map(|&(grant, _)| grant).collect();
    let transaction = write_entry(conn, &mut locked, entry, moves, now)?;
    // Credits a refund gave back to a grant that has ended expire again at once.
    let ended: Vec<CreditGrant> = match returned.is_empty() {
        true => Vec::new(),
        false => grants::by_ids(conn, &returned)?
            .into_iter()
            .filter(|g| g.remaining > 0 && grants::has_ended(g, now.date()))
            .collect(),
    };
    for grant in &ended {
        expired.push(write_expiry(conn, &mut locked, grant, now)?);
    }
    let posted = Posted {
        transaction,
        account: locked.account,
        config: locked.config,
        customer,
        expired,
    };
    if let Some(audit) = audit {
        let row = &posted.transaction;
        activity::record(
            conn,
            activity::Record {
                audit,
                action: audit_action(row.kind.as_str()),
                target: &format!(
                    "customer {user_id} ({}) {}",
                    posted.customer.email, row.currency
                ),
                details: &format!(
                    "{} → {} ({:+}): {}",
                    row.balance_before, row.balance_after, row.delta, row.note
                ),
                subject: activity::Subject {
                    user_id: Some(user_id),
                    record_id: Some(row.id),
                },
            },
        )?;
    }
    let mut rows: Vec<&CreditTransaction> = posted.expired.iter().collect();
    rows.push(&posted.transaction);
    rows.sort_by_key(|row| row.id);
    if listening {
        let (account, config, holder) = (&posted.account, &posted.config, &posted.customer);
        announce(conn, &rows, account, config, holder)?;
    }
    for row in posted.expired.iter().chain([&posted.transaction]) {
        add_to_daily_totals(conn, row)?;
    }
    Ok(Some(posted))
}

/// The webhook events of `rows` (written together, in id order; `account` is the account
/// after the last), in the outbox of the same transaction (docs/webhooks.md, "Never lost"),
/// for the endpoints enabled now.
fn announce(
    conn: &mut DbConnection,
    rows: &[&CreditTransaction],
    account: &CreditAccount,
    config: &PromoCreditConfig,
    holder: &Holder,
) -> QueryResult<()> {
    let listeners = Listeners::read(conn)?;
    if listeners.is_empty() || rows.is_empty() {
        return Ok(());
    }
    let rows: Vec<CreditTransaction> = rows.iter().map(|&row| row.clone()).collect();
    outbox::ledger_rows(conn, &listeners, &rows, account, config, holder).map(|_| ())
}

/// Expires the grants of `user_id`'s account in `currency` that have ended on `today`, in one
/// write transaction (the scheduler's step, docs/concepts.md "Expiry"); returns the
/// `expired` rows, none when nothing had ended (or it was expired already).
pub fn expire_account(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
    today: time::Date,
) -> Result<Vec<CreditTransaction>, LedgerError> {
    let rows = write_transaction(conn, |conn| -> Result<_, LedgerError> {
        let Opened {
            customer,
            listening,
            existing,
            mut locked,
            now,
            ..
        } = open(conn, user_id, currency)?;
        if existing.is_none() {
            return Ok(Vec::new());
        }
        let expired = expire_ended(conn, &mut locked, today, now)?;
        if listening {
            let rows: Vec<&CreditTransaction> = expired.iter().collect();
            announce(conn, &rows, &locked.account, &locked.config, &customer)?;
        }
        for row in &expired {
            add_to_daily_totals(conn, row)?;
        }
        Ok(expired)
    });
    outbox::wake_dispatcher();
    let rows = rows?;
    for row in &rows {
        crate::metrics::ledger_write(&row.kind);
    }
    Ok(rows)
}

/// The account of `user_id` in `currency` locked for a change (zero and version 0 when it
/// does not exist yet), its customer and its currency's settings.
struct Opened {
    customer: Holder,
    /// A webhook endpoint may be enabled: the change's events are written
    /// (docs/webhooks.md, "Never lost").
    listening: bool,
    /// A grant of the account may have ended (and is not expired yet).
    ended: bool,
    existing: Option<CreditAccount>,
    locked: Locked,
    now: time::PrimitiveDateTime,
}

fn open(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
) -> Result<Opened, LedgerError> {
    let (customer, config) = holder_and_config(conn, user_id, currency)?;
    let day = now_utc().date();
    let (existing, ended, listening) =
        match lock_account_for_change(conn, user_id, currency.as_str(), day)? {
            Some((account, ended, listening)) => (Some(account), ended, listening),
            // A new account: whether an endpoint listens is read when its row is written.
            None => (None, false, true),
        };
    let now = now_utc();
    let account = existing
        .clone()
        .unwrap_or_else(|| empty_account(user_id, currency, now));
    let rate = ExchangeRate::from_e4(config.exchange_rate_e4)
        .map_err(|_| LedgerError::CurrencyNotOffered(currency.to_string()))?;
    Ok(Opened {
        customer,
        listening,
        // Midnight may have passed while the lock was awaited: then look again.
        ended: ended || now.date() != day,
        existing,
        locked: Locked {
            account,
            config,
            currency: *currency,
            rate,
        },
        now,
    })
}

/// Writes an `expired` row for every grant of the locked account that has ended on `today`;
/// returns those rows.
fn expire_ended(
    conn: &mut DbConnection,
    locked: &mut Locked,
    today: time::Date,
    now: time::PrimitiveDateTime,
) -> Result<Vec<CreditTransaction>, LedgerError> {
    if locked.account.balance == 0 {
        return Ok(Vec::new());
    }
    let mut expired = Vec::new();
    for grant in &grants::ended(conn, locked.account.id, today)? {
        expired.push(write_expiry(conn, locked, grant, now)?);
    }
    Ok(expired)
}

/// The `expired` row that takes what is left of `grant` out of the balance.
fn write_expiry(
    conn: &mut DbConnection,
    locked: &mut Locked,
    grant: &CreditGrant,
    now: time::PrimitiveDateTime,
) -> Result<CreditTransaction, LedgerError> {
    let note = Note::generated(&expiry_note(grant));
    let entry = Entry::new(
        -grant.remaining,
        TransactionType::Expired,
        note,
        Actor::System,
    );
    let moves = Moves {
        draws: vec![(grant.id, grant.remaining)],
        new_grant: None,
    };
    write_entry(conn, locked, entry, moves, now)
}

/// The note of an `expired` row: which grant ended, and when.
pub fn expiry_note(grant: &CreditGrant) -> String {
    let day = grant
        .expires_at
        .map_or_else(|| "no date".to_owned(), |d| d.to_string());
    match grant.transaction_id {
        Some(record) => format!("Expired: grant of record {record}, expires_at {day}"),
        None => format!(
            "Expired: grant {} held before expiry, expires_at {day}",
            grant.id
        ),
    }
}

/// How a row moves grants: what it takes from (or gives back to) each, and the grant it
/// makes.
struct Moves {
    draws: Vec<grants::Draw>,
    new_grant: Option<(i64, Option<time::Date>)>,
}

/// The grant moves of `entry`, decided from the account's live grants (spending order):
/// an adding row makes a grant, a taking row takes in spending order, a refund gives back.
fn moves_of(entry: &Entry, live: &[CreditGrant]) -> Result<Moves, LedgerError> {
    if entry.kind.is_grant() {
        return Ok(Moves {
            draws: Vec::new(),
            new_grant: Some((entry.delta, entry.expires_at)),
        });
    }
    if entry.delta < 0 {
        let draws = grants::take(live, -entry.delta).ok_or(LedgerError::GrantsOutOfStep)?;
        return Ok(Moves {
            draws,
            new_grant: None,
        });
    }
    let given: i64 = entry.returns.iter().map(|&(_, credits)| -credits).sum();
    let rest = entry.delta - given;
    Ok(Moves {
        draws: entry.returns.clone(),
        new_grant: (rest > 0).then_some((rest, None)),
    })
}

/// The activity action that records a ledger row of `kind`.
fn audit_action(kind: &str) -> &'static str {
    match TransactionType::parse(kind) {
        Ok(TransactionType::InvoiceApplied) => "credit.payment",
        Ok(TransactionType::InvoiceRefunded) => "credit.refund",
        Ok(TransactionType::Imported) => "credit.import",
        _ => "credit.adjust",
    }
}

/// The customer and the settings of the currency, in one statement (one round trip less
/// for every change on PostgreSQL): no customer, or no such currency, refuses the change.
fn holder_and_config(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
) -> Result<(Holder, PromoCreditConfig), LedgerError> {
    let (email, external_id, config) = users::table
        .left_join(
            promo_credit_configs::table
                .on(promo_credit_configs::currency.eq(currency.as_str().to_owned())),
        )
        .filter(users::id.eq(user_id))
        .select((
            users::email,
            users::external_id,
            promo_credit_configs::all_columns.nullable(),
        ))
        .first::<(String, Option<String>, Option<PromoCreditConfig>)>(conn)
        .optional()?
        .ok_or(LedgerError::CustomerNotFound)?;
    let config = config.ok_or_else(|| LedgerError::CurrencyNotOffered(currency.to_string()))?;
    Ok((Holder { email, external_id }, config))
}

/// The account a customer has in a configured currency before its first change.
fn empty_account(
    user_id: i64,
    currency: &CurrencyCode,
    now: time::PrimitiveDateTime,
) -> CreditAccount {
    CreditAccount {
        id: 0,
        user_id,
        currency: currency.to_string(),
        balance: 0,
        enabled: true,
        total_added: 0,
        total_deducted: 0,
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

fn new_account(account: &CreditAccount, enabled: bool) -> NewCreditAccount<'_> {
    NewCreditAccount {
        user_id: account.user_id,
        currency: &account.currency,
        balance: 0,
        enabled,
        total_added: 0,
        total_deducted: 0,
        version: 0,
        created_at: account.created_at,
        updated_at: account.updated_at,
    }
}

/// Writes the row (already checked), its grant moves, and the account's new balance, totals
/// and version; `locked` then holds the account after it. The caller adds the row to the
/// day's totals (`add_to_daily_totals`), last, for the reason given there.
fn write_entry(
    conn: &mut DbConnection,
    locked: &mut Locked,
    entry: Entry,
    moves: Moves,
    now: time::PrimitiveDateTime,
) -> Result<CreditTransaction, LedgerError> {
    let account = &locked.account;
    let delta = entry.delta;
    let balance_after = apply_delta(account.balance, delta)?;
    let currency_value = entry
        .currency_value
        .unwrap_or_else(|| money_value(delta.abs(), locked.rate, &locked.currency))
        .plain();
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
        expires_at: entry.expires_at,
    };
    let id: i64 = Prepared(
        diesel::insert_into(credit_transactions::table)
            .values(&new_row)
            .returning(credit_transactions::id),
    )
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
    Prepared(
        diesel::update(credit_accounts::table.find(account.id))
            .set((
                credit_accounts::balance.eq(updated.balance),
                credit_accounts::total_added.eq(updated.total_added),
                credit_accounts::total_deducted.eq(updated.total_deducted),
                credit_accounts::version.eq(updated.version),
                credit_accounts::updated_at.eq(now),
            ))
            .returning(credit_accounts::id),
    )
    .get_result::<i64>(conn)?;
    grants::record_draws(
        conn,
        id,
        &moves.draws,
        entry.kind == TransactionType::Expired,
    )?;
    if let Some((granted, expires_at)) = moves.new_grant {
        grants::insert(
            conn,
            &NewCreditGrant {
                account_id: account.id,
                transaction_id: Some(id),
                expires_at,
                granted,
                remaining: granted,
                closed: false,
                created_at: now,
            },
        )?;
    }
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
        expires_at: entry.expires_at,
    };
    locked.account = updated;
    Ok(transaction)
}

/// Adds a new row to its day's totals (per currency, type and reason), in the same
/// transaction as the row itself: the last statement before the commit, because every change
/// of the day in that currency and type updates the same totals row, and on PostgreSQL it
/// stays locked from this update to the commit.
fn add_to_daily_totals(conn: &mut DbConnection, row: &CreditTransaction) -> QueryResult<()> {
    let (added, deducted) = if row.delta > 0 {
        (row.delta, 0)
    } else {
        (0, -row.delta)
    };
    add_day_totals(
        conn,
        &DayTotals {
            day: row.created_at.date(),
            currency: &row.currency,
            kind: &row.kind,
            reason: row.reason.as_deref().unwrap_or(""),
            rows: 1,
            added,
            deducted,
            holders: holder_change(row.balance_before, row.balance_after),
            slot: row.account_id % DAY_TOTAL_SLOTS,
        },
    )
}

/// How many rows a day's totals per currency, type and reason are spread over: changes of
/// different accounts update different rows (by account id), so on PostgreSQL they do not
/// queue on one row's lock until each commits. Readers add the slots up.
pub(crate) const DAY_TOTAL_SLOTS: i64 = 16;

/// What some new rows of one day, currency, type and reason add to that day's totals.
pub(crate) struct DayTotals<'a> {
    pub day: time::Date,
    pub currency: &'a str,
    pub kind: &'a str,
    pub reason: &'a str,
    pub rows: i64,
    pub added: i64,
    pub deducted: i64,
    /// Accounts that went from 0 to more, less those that went to 0.
    pub holders: i64,
    /// Which of the [`DAY_TOTAL_SLOTS`] rows to add to.
    pub slot: i64,
}

pub(crate) fn add_day_totals(conn: &mut DbConnection, new: &DayTotals<'_>) -> QueryResult<()> {
    use credit_daily_totals::dsl as totals;
    let values = (
        totals::day.eq(new.day),
        totals::currency.eq(new.currency),
        totals::kind.eq(new.kind),
        totals::reason.eq(new.reason),
        totals::row_count.eq(new.rows),
        totals::added.eq(new.added),
        totals::deducted.eq(new.deducted),
        totals::holders_delta.eq(new.holders),
        totals::slot.eq(new.slot),
    );
    let sums = (
        totals::row_count.eq(totals::row_count + new.rows),
        totals::added.eq(totals::added + new.added),
        totals::deducted.eq(totals::deducted + new.deducted),
        totals::holders_delta.eq(totals::holders_delta + new.holders),
    );
    let key = (
        totals::day,
        totals::currency,
        totals::kind,
        totals::reason,
        totals::slot,
    );
    per_backend!(conn, |c| Prepared(
        diesel::insert_into(totals::credit_daily_totals)
            .values(values)
            .on_conflict(key)
            .do_update()
            .set(sums)
            .returning(totals::slot)
    )
    .get_result::<i64>(c))
    .map(|_| ())
}

/// What a credit-use switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSwitch {
    pub was_enabled: bool,
    pub enabled: bool,
}

/// Switches whether the customer may spend credits in `currency`. Not a balance change: no
/// ledger row, no new version; but an audited state change, recorded in its transaction.
/// Switching to what it already is writes nothing.
pub fn set_usage(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
    enabled: bool,
    audit: &Audit,
) -> Result<UsageSwitch, LedgerError> {
    loop {
        let switched = write_transaction(conn, |conn| -> Result<_, LedgerError> {
            let (customer, _) = holder_and_config(conn, user_id, currency)?;
            let existing = lock_account(conn, user_id, currency.as_str())?;
            let was_enabled = existing.as_ref().is_none_or(|a| a.enabled);
            let switch = UsageSwitch {
                was_enabled,
                enabled,
            };
            if was_enabled == enabled {
                return Ok(Some(switch));
            }
            let now = now_utc();
            match existing {
                Some(account) => {
                    diesel::update(credit_accounts::table.find(account.id))
                        .set((
                            credit_accounts::enabled.eq(enabled),
                            credit_accounts::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                None => {
                    let account = empty_account(user_id, currency, now);
                    if insert_account_if_absent(conn, &new_account(&account, enabled))?.is_none() {
                        return Ok(None);
                    }
                }
            }
            let word = |on: bool| if on { "on" } else { "off" };
            activity::record(
                conn,
                activity::Record {
                    audit,
                    action: "credit.usage",
                    target: &format!("customer {user_id} ({}) {currency}", customer.email),
                    details: &format!("credit use {} → {}", word(was_enabled), word(enabled)),
                    subject: activity::Subject::customer(user_id),
                },
            )?;
            Ok(Some(switch))
        })?;
        if let Some(switch) = switched {
            return Ok(switch);
        }
    }
}
