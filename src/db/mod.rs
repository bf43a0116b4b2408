//! The database: one connection type over SQLite and PostgreSQL, picked at run time from the
//! URL, a pool of them, embedded migrations, and (in [`dialect`]) the few places where a
//! backend needs its own SQL. Code outside this module never matches on the backend.

pub mod backup;
pub mod copy;
pub mod credit_export;
pub mod dialect;
pub mod literal;
pub mod models;
pub mod prepared;
pub mod schema;
pub mod writer;

pub use dialect::{lock_account, write_transaction, Backend};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use time::{OffsetDateTime, PrimitiveDateTime};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection, to either backend. Keep `Sqlite` last: SQLite accepts any string.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The pool of connections, and whether the database answered the last attempt to connect
/// (docs/operations.md, "When the database is down").
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    reach: Arc<Reach>,
    checkout_timeout: Duration,
    url: DatabaseUrl,
    /// SQLite's writer connection, kept for as long as the pool lives.
    _writer: Option<Arc<writer::SqliteWriter>>,
}

/// While the last attempt to connect failed, a checkout waits at most this long.
pub const OUTAGE_CHECKOUT_WAIT: Duration = Duration::from_secs(1);

/// A waiting checkout looks again at whether the database is reachable this often.
const CHECKOUT_SLICE: Duration = Duration::from_millis(200);

/// While the database cannot be reached the pool tries to connect again at least this
/// often, so it is back within about this long after the database is (r2d2 waits between
/// attempts up to half its `connection_timeout`, which serves no other purpose here: every
/// checkout passes its own timeout).
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

impl Pool {
    /// A connection, each checked with `SELECT 1` before it is handed out (a connection the
    /// database dropped is closed and replaced, never used). Waits for one up to the checkout
    /// timeout; but while the database cannot be reached only [`OUTAGE_CHECKOUT_WAIT`], so
    /// that in an outage every request gets its 503 at once. The pool keeps trying to
    /// connect meanwhile, and the first request after the database is back gets a
    /// connection.
    pub fn get(&self) -> Result<PooledConnection, r2d2::Error> {
        self.get_timeout(self.checkout_timeout)
    }

    /// [`Pool::get`] with another timeout.
    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledConnection, r2d2::Error> {
        let started = Instant::now();
        let limit = || {
            if self.reach.unreachable.load(Ordering::Relaxed) {
                timeout.min(OUTAGE_CHECKOUT_WAIT)
            } else {
                timeout
            }
        };
        loop {
            let left = limit().saturating_sub(started.elapsed());
            match self.inner.get_timeout(left.min(CHECKOUT_SLICE)) {
                Ok(conn) => return Ok(conn),
                Err(error) if started.elapsed() >= limit() => return Err(error),
                Err(_) => {}
            }
        }
    }

    /// Connections open and idle.
    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }

    /// The database the pool connects to, for a connection of its own (PostgreSQL's COPY).
    pub fn database_url(&self) -> &DatabaseUrl {
        &self.url
    }
}

/// Shared by the pool and its manager: set when opening a connection fails, cleared when one
/// opens.
#[derive(Debug, Default)]
struct Reach {
    unreachable: AtomicBool,
}

/// Which backend a `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(String),
}

impl DatabaseUrl {
    /// `postgres://...` or `postgresql://...` is PostgreSQL; `sqlite://path`, `sqlite:path` or a
    /// plain file path is SQLite.
    pub fn parse(url: &str) -> DatabaseUrl {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseUrl::Postgres(url.to_owned())
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            DatabaseUrl::Sqlite(path.to_owned())
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Postgres(_) => "PostgreSQL",
            DatabaseUrl::Sqlite(_) => "SQLite",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to {backend}: {cause}")]
    Connect {
        backend: &'static str,
        cause: diesel::ConnectionError,
    },
    #[error("could not prepare the SQLite connection: {0}")]
    Setup(#[from] diesel::result::Error),
}

/// An r2d2 manager that picks the backend by URL scheme, so a wrong host, port or role shows
/// the server's own message (the derived `establish` tries every backend and hides it).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    reach: Arc<Reach>,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        ConnectionManager {
            url,
            reach: Arc::default(),
        }
    }

    fn open(&self) -> Result<DbConnection, ConnectError> {
        let backend = self.url.backend_name();
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)
                    .map_err(|cause| ConnectError::Connect { backend, cause })?;
                conn.batch_execute(POSTGRES_SETTINGS)?;
                Ok(DbConnection::Pg(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(|cause| ConnectError::Connect { backend, cause })?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Every pooled SQLite connection waits for the write lock instead of failing at once, logs
/// ahead, and enforces foreign keys. (A memory map was tried twice: with it the whole file
/// counts in the server's RSS during an export, and every connection maps the file again
/// whenever it grows, which made each API write cost 300 µs more CPU than it saved a page
/// read; bench/RESULTS.md.) A writer copies the write-ahead log into the file only once it
/// holds 10,000 pages (40 MB, SQLite's default is 1,000): the server does it in the
/// background ([`dialect::checkpoint`]), so a request seldom waits for it; the command
/// line's writers still do.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

/// Plan every prepared statement with its parameters: after five runs PostgreSQL otherwise
/// switches to a generic plan that cannot use an index for `email LIKE $1` or a partial index,
/// and a 2 ms list page became a 150 ms one (bench/RESULTS.md). Standard string literals,
/// whatever the server's configuration: the export writes its filter's values into its SQL
/// ([`literal`]), and only then is doubling `'` the whole of the quoting.
pub(crate) const POSTGRES_SETTINGS: &str =
    "SET plan_cache_mode = force_custom_plan; SET standard_conforming_strings = on;";

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        let opened = self.open();
        let was_unreachable = self
            .reach
            .unreachable
            .swap(opened.is_err(), Ordering::Relaxed);
        match (&opened, was_unreachable) {
            (Err(error), false) => tracing::warn!(%error, "the database cannot be reached"),
            (Ok(_), true) => tracing::info!("the database can be reached again"),
            _ => {}
        }
        opened
    }

    /// A PostgreSQL connection is asked `SELECT 1` (the server may have closed it); an open
    /// SQLite file cannot go away, so asking would only cost every checkout a statement.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        match conn {
            DbConnection::Pg(pg) => pg.batch_execute("SELECT 1").map_err(ConnectError::Setup),
            DbConnection::Sqlite(_) => Ok(()),
        }
    }

    /// A connection goes back to the pool only if nobody panicked while holding it and no
    /// transaction is left open on it (on SQLite that would hold the write lock for ever);
    /// r2d2 closes it otherwise, which rolls the transaction back.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// How many connections the pool keeps and how long a request waits for one.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: u32,
    /// After this, the request is answered 503 with `Retry-After` rather than left waiting.
    pub checkout_timeout: Duration,
}

impl PoolOptions {
    pub fn new(max_size: u32) -> PoolOptions {
        PoolOptions {
            max_size,
            checkout_timeout: Duration::from_secs(5),
        }
    }
}

/// Connects once (so a bad URL fails at once with the real error; on SQLite that connection
/// becomes the database's writer, `writer`), then builds the pool.
pub fn connect(url: &str, options: PoolOptions) -> Result<Pool, ConnectError> {
    let url = DatabaseUrl::parse(url);
    let manager = ConnectionManager::new(url.clone());
    let first = r2d2::ManageConnection::connect(&manager)?;
    let writer = writer::SqliteWriter::adopt(first, manager.clone())?;
    let reach = manager.reach.clone();
    let inner = r2d2::Pool::builder()
        .max_size(options.max_size.max(1))
        .min_idle(Some(1))
        .connection_timeout(RECONNECT_EVERY * 2)
        .test_on_check_out(true)
        .error_handler(Box::new(LogConnectError))
        .build_unchecked(manager);
    Ok(Pool {
        inner,
        reach,
        checkout_timeout: options.checkout_timeout,
        url,
        _writer: writer,
    })
}

/// r2d2 logs every failed attempt to connect, and every connection found dead when it was
/// checked, at error level. While the database is down that is several a second; the
/// manager logs when the database goes and comes back, these are details.
#[derive(Debug)]
struct LogConnectError;

impl r2d2::HandleError<ConnectError> for LogConnectError {
    fn handle_error(&self, error: ConnectError) {
        tracing::debug!(%error, "database connection failed");
    }
}

/// True when `error` says the database cannot be reached: the connection was closed or a
/// command could not be sent. Such a failure is a 503 worth retrying, not a 500.
pub fn is_unreachable(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::RollbackErrorOnCommit { commit_error, .. } => is_unreachable(commit_error),
        _ => false,
    }
}

/// Applies the migrations this backend has not run yet; returns how many ran.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let migrations = match conn.backend() {
        Backend::Postgres => POSTGRES_MIGRATIONS,
        Backend::Sqlite => SQLITE_MIGRATIONS,
    };
    let applied = conn
        .run_pending_migrations(migrations)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}

/// The current UTC time at the microsecond precision both databases keep.
pub fn now_utc() -> PrimitiveDateTime {
    let now = OffsetDateTime::now_utc();
    let micros = now.microsecond();
    let now = now.replace_microsecond(micros).unwrap_or(now);
    PrimitiveDateTime::new(now.date(), now.time())
}

const ISO8601: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// `2026-11-26T09:30:00.123456Z`: ISO 8601 UTC, as CSV and JSON carry times.
pub fn iso8601(at: PrimitiveDateTime) -> String {
    at.format(ISO8601).unwrap_or_else(|_| at.to_string())
}

/// [`iso8601`] written into `out` (cleared first), for a caller that reuses its buffer.
pub fn write_iso8601(out: &mut Vec<u8>, at: PrimitiveDateTime) {
    out.clear();
    if at.format_into(out, ISO8601).is_err() {
        out.clear();
        out.extend_from_slice(at.to_string().as_bytes());
    }
}

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `2026-12-31`: a calendar day as CSV and JSON carry it (a grant's `expires_at`).
pub fn iso_date(day: time::Date) -> String {
    let mut out = Vec::with_capacity(10);
    write_iso_date(&mut out, Some(day));
    String::from_utf8(out).unwrap_or_else(|_| day.to_string())
}

/// [`iso_date`] written into `out` (cleared first; left empty for no day), for a caller
/// that reuses its buffer.
pub fn write_iso_date(out: &mut Vec<u8>, day: Option<time::Date>) {
    out.clear();
    if let Some(day) = day {
        if day.format_into(out, ISO_DATE).is_err() {
            out.clear();
            out.extend_from_slice(day.to_string().as_bytes());
        }
    }
}

/// True when an error is a unique-constraint violation (a row another request created first).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
