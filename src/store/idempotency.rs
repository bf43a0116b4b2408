//! Idempotency keys of API writes (docs/api.md, "Idempotency"): claimed in the transaction
//! that does the write, so of two requests with one key only one writes, and the first
//! answer is kept to be given again for 24 hours.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::dialect::insert_idempotency_key;
use crate::db::schema::idempotency_keys;
use crate::db::{now_utc, DbConnection};

/// How long a key is remembered.
pub const KEEP_FOR: Duration = Duration::hours(24);

/// A key as one request uses it: for one API key and route, with the hash of its body.
#[derive(Debug, Clone)]
pub struct KeyUse<'a> {
    pub api_key_id: i64,
    pub route: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// The answer that went with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub request_hash: String,
    pub status: u16,
    pub response: String,
}

/// Claims the key for this request, or returns what an earlier request with it stored. Call
/// inside a write transaction: on PostgreSQL the insert waits for a request in flight with
/// the same key, and on SQLite the transaction holds the write lock. A key older than
/// [`KEEP_FOR`] counts as never used.
pub fn claim(conn: &mut DbConnection, key: &KeyUse) -> QueryResult<Option<Stored>> {
    let now = now_utc();
    let this = || {
        idempotency_keys::table
            .filter(idempotency_keys::api_key_id.eq(key.api_key_id))
            .filter(idempotency_keys::route.eq(key.route.to_owned()))
            .filter(idempotency_keys::key.eq(key.key.to_owned()))
    };
    diesel::delete(this().filter(idempotency_keys::created_at.lt(now - KEEP_FOR))).execute(conn)?;
    if insert_idempotency_key(conn, key, now)? {
        return Ok(None);
    }
    let (request_hash, status, response) = this()
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::response,
        ))
        .first::<(String, i64, String)>(conn)?;
    Ok(Some(Stored {
        request_hash,
        status: u16::try_from(status).unwrap_or(500),
        response,
    }))
}

/// Keeps the answer of a claimed key, in the same transaction as the claim.
pub fn remember(
    conn: &mut DbConnection,
    key: &KeyUse,
    status: u16,
    response: &str,
) -> QueryResult<()> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::api_key_id.eq(key.api_key_id))
            .filter(idempotency_keys::route.eq(key.route))
            .filter(idempotency_keys::key.eq(key.key)),
    )
    .set((
        idempotency_keys::status.eq(i64::from(status)),
        idempotency_keys::response.eq(response),
    ))
    .execute(conn)?;
    Ok(())
}

/// Forgets keys older than [`KEEP_FOR`]; returns how many.
pub fn purge(conn: &mut DbConnection, now: PrimitiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(now - KEEP_FOR)))
        .execute(conn)
}
