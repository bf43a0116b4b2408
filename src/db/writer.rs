//! SQLite's one writer connection per database file (docs/operations.md, "Databases", how
//! writes meet).
//!
//! SQLite lets one connection write at a time, and a connection in WAL mode throws its whole
//! page cache away whenever another connection has written since its last transaction. With
//! writes spread over the pool, every write transaction therefore read its pages again from
//! the file. All write transactions of the process run on this one connection instead
//! ([`crate::db::write_transaction`]), taking turns first come first served, so the pages a
//! write needs are still in its cache from the write before; reads stay on the pool.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::result::{DatabaseErrorKind, Error};
use parking_lot::{FairMutex, FairMutexGuard};

use super::{ConnectError, ConnectionManager, DbConnection};

/// The writer connection of one SQLite database, kept by the pools that connect to it.
pub struct SqliteWriter {
    file: String,
    manager: ConnectionManager,
    conn: FairMutex<DbConnection>,
}

/// The writers of the process by database file; a writer lives as long as a pool keeps it.
static WRITERS: Mutex<Vec<Weak<SqliteWriter>>> = Mutex::new(Vec::new());

diesel::table! {
    /// SQLite's list of the files a connection has open (`PRAGMA database_list`).
    pragma_database_list (name) {
        name -> Text,
        file -> Text,
    }
}

/// The file of the connection's main database (empty for an in-memory one).
fn file_of(conn: &mut SqliteConnection) -> QueryResult<String> {
    pragma_database_list::table
        .filter(pragma_database_list::name.eq("main"))
        .select(pragma_database_list::file)
        .first(conn)
}

impl SqliteWriter {
    /// The writer of `conn`'s database file, made of `conn` itself; or the writer another pool
    /// made for the same file already. None for an in-memory database, which no other
    /// connection sees.
    pub(crate) fn adopt(
        mut conn: DbConnection,
        manager: ConnectionManager,
    ) -> QueryResult<Option<Arc<SqliteWriter>>> {
        let DbConnection::Sqlite(sqlite) = &mut conn else {
            return Ok(None);
        };
        let file = file_of(sqlite)?;
        if file.is_empty() {
            return Ok(None);
        }
        let mut writers = registry();
        writers.retain(|writer| writer.strong_count() > 0);
        if let Some(existing) = registered(&writers, &file) {
            return Ok(Some(existing));
        }
        let writer = Arc::new(SqliteWriter {
            file,
            manager,
            conn: FairMutex::new(conn),
        });
        writers.push(Arc::downgrade(&writer));
        Ok(Some(writer))
    }

    /// The writer of the database `conn` is open on, if a pool of the process made one.
    pub(crate) fn of(conn: &mut SqliteConnection) -> QueryResult<Option<Arc<SqliteWriter>>> {
        let file = file_of(conn)?;
        Ok(registered(&registry(), &file))
    }

    /// Waits for the writer's turn, first come first served. A connection left inside a
    /// transaction (its user panicked) is closed, which rolls the transaction back, and
    /// replaced.
    pub(crate) fn turn(&self) -> QueryResult<FairMutexGuard<'_, DbConnection>> {
        let mut conn = self.conn.lock();
        if conn.is_broken() {
            *conn = self.manager.open().map_err(reopen_failed)?;
        }
        Ok(conn)
    }
}

fn registry() -> MutexGuard<'static, Vec<Weak<SqliteWriter>>> {
    WRITERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The live writer of `file`, if any.
fn registered(writers: &[Weak<SqliteWriter>], file: &str) -> Option<Arc<SqliteWriter>> {
    writers
        .iter()
        .filter_map(Weak::upgrade)
        .find(|writer| writer.file == file)
}

fn reopen_failed(error: ConnectError) -> Error {
    match error {
        ConnectError::Setup(error) => error,
        other => Error::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new(other.to_string()),
        ),
    }
}
