//! Where SQLite and PostgreSQL differ, in one place. Everything else is written once against
//! [`DbConnection`]; the statements the enum cannot carry (`ON CONFLICT`, `FOR UPDATE`) are
//! written once too, with [`per_backend!`] expanding the same body for each backend.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

use super::models::{
    CreditAccount, CustomerImport, InvoicePayment, NewCreditAccount, PromoCreditConfig,
};
use super::prepared::Prepared;
use super::schema::{
    admins, credit_accounts, credit_grants, customer_imports, idempotency_keys, invoice_payments,
    promo_credit_configs, webhook_endpoints,
};
use super::writer::SqliteWriter;
use super::DbConnection;
use crate::store::idempotency::KeyUse;

/// Runs `$body` with `$conn` bound to the backend's own connection type, for a statement
/// that is the same SQL on both but that the connection enum cannot carry.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub use per_backend;

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// SQLite's planner does not use an index for a bound `LIKE 'prefix%'` parameter, but it
    /// does for the same prefix given as a range; PostgreSQL's `text_pattern_ops` index
    /// answers the LIKE itself.
    pub fn needs_prefix_range(self) -> bool {
        self == Backend::Sqlite
    }
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

type Manager = <DbConnection as Connection>::TransactionManager;

/// Writers of this process that have no [`SqliteWriter`] (a connection opened outside a
/// pool) take turns here before SQLite's write lock, first come first served. SQLite lets one
/// writer in at a time and makes the others poll with growing sleeps (`busy_timeout`): under
/// 16 concurrent writers a request could wait over a second while later ones passed it.
static SQLITE_WRITERS: parking_lot::FairMutex<()> = parking_lot::const_fair_mutex(());

/// Whose turn it is to write to a SQLite database: its writer connection's, or a connection's
/// of its own behind [`SQLITE_WRITERS`].
enum Turn<'w> {
    Writer(parking_lot::FairMutexGuard<'w, DbConnection>),
    Shared {
        _held: parking_lot::FairMutexGuard<'static, ()>,
    },
}

/// How a PostgreSQL write transaction starts, in one round trip: its statements (lookups by
/// key, one-row writes) are planned once per session and the plan reused (`auto`), not
/// planned again at every run as the connection's setting says for the lists'
/// ([`super::POSTGRES_SETTINGS`]); planning each run cost a quarter of the database's
/// throughput for an adjustment (bench/RESULTS.md).
const POSTGRES_WRITE_BEGIN: &str = "BEGIN; SET LOCAL plan_cache_mode = auto";

/// A transaction that will write. On SQLite it runs on the database's writer connection
/// ([`SqliteWriter`]), whatever connection the caller holds, in arrival order, and starts
/// with `BEGIN IMMEDIATE`, which takes SQLite's single write lock at once (only writers in
/// other processes, the command line, make it wait on `busy_timeout`), so a read-then-write
/// inside cannot fail with "database is locked" half-way. On PostgreSQL it is an ordinary
/// transaction on the caller's connection, whose rows are locked as they are read
/// ([`lock_account`]). Inside an open transaction it nests as a savepoint.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let nested = Manager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_err(E::from)?
        .is_some();
    let writer = match conn {
        DbConnection::Sqlite(sqlite) if !nested => SqliteWriter::of(sqlite).map_err(E::from)?,
        _ => None,
    };
    let mut turn = match (&writer, &*conn) {
        (Some(writer), _) => Some(Turn::Writer(writer.turn().map_err(E::from)?)),
        (None, DbConnection::Sqlite(_)) if !nested => Some(Turn::Shared {
            _held: SQLITE_WRITERS.lock(),
        }),
        _ => None,
    };
    let conn = match &mut turn {
        Some(Turn::Writer(writer)) => &mut **writer,
        _ => conn,
    };
    match conn {
        DbConnection::Sqlite(sqlite) if !nested => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        DbConnection::Pg(pg) if !nested => {
            AnsiTransactionManager::begin_transaction_sql(pg, POSTGRES_WRITE_BEGIN)?
        }
        _ => Manager::begin_transaction(conn)?,
    }
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// The account of (customer, currency), locked for the rest of the write transaction: a row
/// lock on PostgreSQL; on SQLite the transaction already holds the write lock.
pub fn lock_account(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
) -> QueryResult<Option<CreditAccount>> {
    let account = credit_accounts::table
        .filter(credit_accounts::user_id.eq(user_id))
        .filter(credit_accounts::currency.eq(currency.to_owned()));
    match conn {
        DbConnection::Pg(pg) => account
            .select(CreditAccount::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(sqlite) => account
            .select(CreditAccount::as_select())
            .first(sqlite)
            .optional(),
    }
}

/// `credit_grants.remaining > 0` as the partial indexes of `credit_grants` spell it: written
/// out, not bound, so that both databases read through those indexes (a bound `> $1` they
/// cannot match to the index). Statements holding it run through `Prepared` to stay cached.
pub fn grant_holds_credits() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("credit_grants.remaining > 0")
}

/// `webhook_deliveries.status = 'pending'` as the partial index `webhook_deliveries_queue`
/// spells it, written out for the reason given at [`grant_holds_credits`].
pub fn delivery_pending() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("webhook_deliveries.status = 'pending'")
}

/// `webhook_deliveries.status = 'failed'` as the partial index `webhook_deliveries_failed`
/// spells it.
pub fn delivery_failed() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("webhook_deliveries.status = 'failed'")
}

/// [`lock_account`] for a change, with whether one of the account's grants has ended before
/// `today` and still holds credits (docs/concepts.md, "Expiry"): the ledger then expires it
/// first; and whether any webhook endpoint is enabled (docs/webhooks.md, "Never lost"): the
/// ledger then writes the change's events. One statement, so a change costs no round trip
/// more for expiry when nothing has ended, nor for webhooks when no endpoint listens.
pub fn lock_account_for_change(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
    today: time::Date,
) -> QueryResult<Option<(CreditAccount, bool, bool)>> {
    macro_rules! account {
        () => {
            credit_accounts::table
                .filter(credit_accounts::user_id.eq(user_id))
                .filter(credit_accounts::currency.eq(currency.to_owned()))
                .select((
                    CreditAccount::as_select(),
                    diesel::dsl::exists(
                        credit_grants::table
                            .filter(credit_grants::account_id.eq(credit_accounts::id))
                            .filter(grant_holds_credits())
                            .filter(credit_grants::expires_at.lt(today)),
                    ),
                    diesel::dsl::exists(
                        webhook_endpoints::table.filter(webhook_endpoints::enabled.eq(true)),
                    ),
                ))
                .limit(1)
        };
    }
    match conn {
        DbConnection::Pg(pg) => Prepared(account!().for_update()).get_result(pg).optional(),
        DbConnection::Sqlite(sqlite) => Prepared(account!()).get_result(sqlite).optional(),
    }
}

/// Inserts the account unless another transaction created it first; returns the new id, or
/// none when it already existed (on PostgreSQL the insert waits for that transaction).
pub fn insert_account_if_absent(
    conn: &mut DbConnection,
    account: &NewCreditAccount<'_>,
) -> QueryResult<Option<i64>> {
    per_backend!(conn, |c| diesel::insert_into(credit_accounts::table)
        .values(account)
        .on_conflict((credit_accounts::user_id, credit_accounts::currency))
        .do_nothing()
        .returning(credit_accounts::id)
        .get_result(c)
        .optional())
}

/// The settings of a currency, locked for the rest of the write transaction.
pub fn lock_config(
    conn: &mut DbConnection,
    currency: &str,
) -> QueryResult<Option<PromoCreditConfig>> {
    let config = promo_credit_configs::table.find(currency.to_owned());
    match conn {
        DbConnection::Pg(pg) => config
            .select(PromoCreditConfig::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(sqlite) => config
            .select(PromoCreditConfig::as_select())
            .first(sqlite)
            .optional(),
    }
}

/// Inserts a currency's settings unless they exist already; false when they did.
pub fn insert_config_if_absent(
    conn: &mut DbConnection,
    config: &PromoCreditConfig,
) -> QueryResult<bool> {
    per_backend!(conn, |c| diesel::insert_into(promo_credit_configs::table)
        .values(config)
        .on_conflict(promo_credit_configs::currency)
        .do_nothing()
        .execute(c))
    .map(|inserted| inserted == 1)
}

/// The ids of the enabled owners, locked for the rest of the write transaction, so two
/// owners demoting each other at once cannot leave the console without one.
pub fn lock_enabled_owners(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
    let owners = admins::table
        .filter(admins::role.eq("owner"))
        .filter(admins::disabled.eq(false))
        .order(admins::id);
    match conn {
        DbConnection::Pg(pg) => owners.select(admins::id).for_update().load(pg),
        DbConnection::Sqlite(sqlite) => owners.select(admins::id).load(sqlite),
    }
}

/// The payment of an invoice, locked for the rest of the write transaction.
pub fn lock_payment(
    conn: &mut DbConnection,
    invoice_id: &str,
) -> QueryResult<Option<InvoicePayment>> {
    let payment = invoice_payments::table.find(invoice_id.to_owned());
    match conn {
        DbConnection::Pg(pg) => payment
            .select(InvoicePayment::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(sqlite) => payment
            .select(InvoicePayment::as_select())
            .first(sqlite)
            .optional(),
    }
}

/// A checked customer file, locked for the rest of the write transaction, so two requests
/// to apply it run one after the other.
pub fn lock_import(conn: &mut DbConnection, id: i64) -> QueryResult<Option<CustomerImport>> {
    let import = customer_imports::table.find(id);
    match conn {
        DbConnection::Pg(pg) => import
            .select(CustomerImport::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(sqlite) => import
            .select(CustomerImport::as_select())
            .first(sqlite)
            .optional(),
    }
}

/// Claims an invoice id for a payment; false when it was paid already (on PostgreSQL the
/// insert first waits for a payment of the same invoice in flight).
pub fn claim_invoice(conn: &mut DbConnection, payment: &InvoicePayment) -> QueryResult<bool> {
    per_backend!(conn, |c| diesel::insert_into(invoice_payments::table)
        .values(payment)
        .on_conflict(invoice_payments::invoice_id)
        .do_nothing()
        .execute(c))
    .map(|inserted| inserted == 1)
}

/// Inserts an idempotency key, pending its answer; false when the key is taken (on
/// PostgreSQL the insert first waits for a request in flight with the same key).
pub fn insert_idempotency_key(
    conn: &mut DbConnection,
    key: &KeyUse,
    now: time::PrimitiveDateTime,
) -> QueryResult<bool> {
    per_backend!(conn, |c| diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::api_key_id.eq(key.api_key_id),
            idempotency_keys::route.eq(key.route),
            idempotency_keys::key.eq(key.key),
            idempotency_keys::request_hash.eq(key.request_hash),
            idempotency_keys::status.eq(0i64),
            idempotency_keys::response.eq(""),
            idempotency_keys::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))
    .map(|inserted| inserted == 1)
}

/// Above this many pages in SQLite's write-ahead log after a background pass, the
/// checkpoint finishes the copy with the writers held back, so the log starts over.
const LOG_PAGES_TO_FINISH: i64 = 2_000;

/// The server's background checkpoint on SQLite: copies the pages of the write-ahead log into
/// the database file outside any request, so a request's writer seldom pays for the copy and
/// its fsync (SQLite's own checkpoint, by the writer that commits the 10,000th page, stays as
/// the fallback). A first pass runs beside the writers (`PASSIVE`), but with writers always
/// appending it never catches up, and the log only starts over once a checkpoint has copied
/// all of it; so when the log holds more than [`LOG_PAGES_TO_FINISH`] pages, a second pass
/// copies the few pages written meanwhile on the writer connection, in the writers' turn
/// ([`SqliteWriter`]), and the next writer starts the log over. Nothing to do on
/// PostgreSQL.
pub fn checkpoint(conn: &mut DbConnection) -> QueryResult<()> {
    #[derive(QueryableByName)]
    struct Pass {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    let DbConnection::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    let pass = || diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)");
    let first: Pass = pass().get_result(sqlite)?;
    if first.log > LOG_PAGES_TO_FINISH {
        match SqliteWriter::of(sqlite)? {
            Some(writer) => per_backend!(&mut *writer.turn()?, |c| pass().execute(c))?,
            None => {
                let _turn = SQLITE_WRITERS.lock();
                pass().execute(sqlite)?
            }
        };
    }
    Ok(())
}

/// Bigger page cache and no fsync on SQLite, no synchronous commit on PostgreSQL, for this
/// connection only: while seeding, a crash loses nothing but synthetic data.
pub fn relax_durability_for_seeding(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(match conn.backend() {
        Backend::Sqlite => {
            "PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;"
        }
        Backend::Postgres => "SET synchronous_commit = off",
    })
}

/// Why a database cannot be copied by `creditdesk backup` (docs/operations.md, "Backup and
/// restore").
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "creditdesk backup copies SQLite databases only; back up PostgreSQL with pg_dump: \
         pg_dump -Fc -d \"$DATABASE_URL\" -f creditdesk.dump (restore with pg_restore)"
    )]
    Postgres,
    #[error("the copy failed: {0}")]
    Database(#[from] diesel::result::Error),
}

/// Writes a consistent copy of the whole database into the new file `path` while other
/// connections keep writing: SQLite's `VACUUM INTO` reads one snapshot (in WAL mode it
/// blocks no writer). The path travels as a bound parameter, so no quoting can go wrong.
pub fn copy_database_into(conn: &mut DbConnection, path: &str) -> Result<(), CopyError> {
    match conn {
        DbConnection::Pg(_) => Err(CopyError::Postgres),
        DbConnection::Sqlite(sqlite) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<diesel::sql_types::Text, _>(path)
                .execute(sqlite)?;
            Ok(())
        }
    }
}
