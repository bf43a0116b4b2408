//! Console sessions: a random token in an HttpOnly cookie, stored only as its SHA-256 hash,
//! with one CSRF token for the session's life. Deleting the row revokes the session. A
//! session ends after its lifetime or after a stretch without requests, whichever comes
//! first (docs/console.md, "Sessions").

use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::db::models::{Admin, NewSession, Session};
use crate::db::schema::{admins, sessions};
use crate::db::{now_utc, DbConnection};

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// From sign-in, whatever happens.
    pub lifetime: Duration,
    /// Since the last request.
    pub idle: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            lifetime: Duration::hours(12),
            idle: Duration::minutes(30),
        }
    }
}

/// `last_seen_at` is rewritten at most this often, so reading a page is not a write.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new session: returns the cookie token (never stored) and the session.
pub fn create(
    conn: &mut DbConnection,
    admin_id: i64,
    policy: SessionPolicy,
) -> QueryResult<(String, Session)> {
    let token = random_token();
    let csrf = random_token();
    let now = now_utc();
    let id = diesel::insert_into(sessions::table)
        .values(NewSession {
            token_hash: &hash_token(&token),
            admin_id,
            csrf_token: &csrf,
            created_at: now,
            last_seen_at: now,
            expires_at: now + policy.lifetime,
        })
        .returning(sessions::id)
        .get_result::<i64>(conn)?;
    let session = sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)?;
    Ok((token, session))
}

/// The live session of a cookie token with its admin, marked as seen now (at most once a
/// minute); none when expired, idle too long, revoked, or the admin is disabled.
pub fn find_live(
    conn: &mut DbConnection,
    token: &str,
    policy: SessionPolicy,
) -> QueryResult<Option<(Session, Admin)>> {
    let now = now_utc();
    let found = sessions::table
        .inner_join(admins::table)
        .filter(sessions::token_hash.eq(hash_token(token)))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now - policy.idle))
        .filter(admins::disabled.eq(false))
        .select((Session::as_select(), Admin::as_select()))
        .first::<(Session, Admin)>(conn)
        .optional()?;
    if let Some((session, _)) = &found {
        if session.last_seen_at <= now - TOUCH_EVERY {
            diesel::update(sessions::table.find(session.id))
                .set(sessions::last_seen_at.eq(now))
                .execute(conn)?;
        }
    }
    Ok(found)
}

/// Deletes every session that has expired or been idle too long; returns how many.
pub fn purge(conn: &mut DbConnection, policy: SessionPolicy) -> QueryResult<usize> {
    let now = now_utc();
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(now - policy.idle)),
        ),
    )
    .execute(conn)
}

pub fn delete(conn: &mut DbConnection, session_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)
}

/// Ends every session of an admin but `keep` (their current one, when they stay signed in).
pub fn delete_all_for(
    conn: &mut DbConnection,
    admin_id: i64,
    keep: Option<i64>,
) -> QueryResult<usize> {
    let own = sessions::table.filter(sessions::admin_id.eq(admin_id));
    match keep {
        Some(keep) => diesel::delete(own.filter(sessions::id.ne(keep))).execute(conn),
        None => diesel::delete(own).execute(conn),
    }
}
