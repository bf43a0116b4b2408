//! Console sessions: a random token in an HttpOnly cookie, stored only as its SHA-256 hash,
//! with one CSRF token for the session's life. Deleting the row revokes the session.

use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::db::models::{Admin, NewSession, Session};
use crate::db::schema::{admins, sessions};
use crate::db::{now_utc, DbConnection};

/// How long a session lasts after sign-in.
pub const SESSION_HOURS: i64 = 12;

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
pub fn create(conn: &mut DbConnection, admin_id: i64) -> QueryResult<(String, Session)> {
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
            expires_at: now + Duration::hours(SESSION_HOURS),
        })
        .returning(sessions::id)
        .get_result::<i64>(conn)?;
    let session = sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)?;
    Ok((token, session))
}

/// The live session of a cookie token with its admin; none when expired, revoked or the
/// admin is disabled.
pub fn find(conn: &mut DbConnection, token: &str) -> QueryResult<Option<(Session, Admin)>> {
    sessions::table
        .inner_join(admins::table)
        .filter(sessions::token_hash.eq(hash_token(token)))
        .filter(sessions::expires_at.gt(now_utc()))
        .filter(admins::disabled.eq(false))
        .select((Session::as_select(), Admin::as_select()))
        .first(conn)
        .optional()
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
