//! API keys for the merchant's checkout: the secret is shown once and stored as a SHA-256
//! hash (it is random and long, so a slow hash adds nothing).

use diesel::prelude::*;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::db::schema::api_keys;
use crate::db::{now_utc, DbConnection};

/// A created key: its id and the secret, which is never shown again.
pub struct CreatedKey {
    pub id: i64,
    pub secret: String,
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn create(
    conn: &mut DbConnection,
    name: &str,
    created_by: Option<i64>,
) -> QueryResult<CreatedKey> {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let secret = format!("cdk_{random}");
    let id = diesel::insert_into(api_keys::table)
        .values((
            api_keys::name.eq(name.trim()),
            api_keys::prefix.eq(&secret[..12]),
            api_keys::secret_hash.eq(hash_secret(&secret)),
            api_keys::created_by.eq(created_by),
            api_keys::created_at.eq(now_utc()),
        ))
        .returning(api_keys::id)
        .get_result(conn)?;
    Ok(CreatedKey { id, secret })
}

/// An API key that may be used now.
#[derive(Debug, Clone)]
pub struct LiveKey {
    pub id: i64,
    pub name: String,
}

/// The key of a secret, unless revoked; its last-used time is written at most once a minute.
pub fn find_live(conn: &mut DbConnection, secret: &str) -> QueryResult<Option<LiveKey>> {
    let now = now_utc();
    let found: Option<(i64, String, Option<time::PrimitiveDateTime>)> = api_keys::table
        .filter(api_keys::secret_hash.eq(hash_secret(secret)))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, api_keys::name, api_keys::last_used_at))
        .first(conn)
        .optional()?;
    let Some((id, name, last_used)) = found else {
        return Ok(None);
    };
    if last_used.is_none_or(|at| at <= now - time::Duration::minutes(1)) {
        diesel::update(api_keys::table.find(id))
            .set(api_keys::last_used_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(Some(LiveKey { id, name }))
}
