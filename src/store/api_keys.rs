//! API keys for the merchant's checkout: the secret is shown once and stored as a SHA-256
//! hash (it is random and long, so a slow hash adds nothing).

use diesel::prelude::*;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::db::schema::{admins, api_keys};
use crate::db::{now_utc, write_transaction, DbConnection};
use crate::store::activity::{self, Audit};

/// A created key: its id and the secret, which is never shown again.
pub struct CreatedKey {
    pub id: i64,
    pub secret: String,
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a key and records it. The secret starts with `cdk_` so people and secret
/// scanners recognise it; its first 12 characters are kept to tell keys apart.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    created_by: Option<i64>,
    audit: &Audit,
) -> QueryResult<CreatedKey> {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let secret = format!("cdk_{random}");
    write_transaction(conn, |conn| {
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
        activity::record(
            conn,
            activity::Record {
                audit,
                action: "api_key.create",
                target: name.trim(),
                details: &secret[..12],
                subject: activity::Subject::default(),
            },
        )?;
        Ok(CreatedKey {
            id,
            secret: secret.clone(),
        })
    })
}

/// A key as the list shows it.
#[derive(Debug, Clone, Queryable)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: time::PrimitiveDateTime,
    pub last_used_at: Option<time::PrimitiveDateTime>,
    pub revoked_at: Option<time::PrimitiveDateTime>,
    /// The admin who created it; none from the command line.
    pub created_by: Option<String>,
}

/// Every key, newest first, with who created it.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<KeyRow>> {
    api_keys::table
        .left_join(admins::table.on(admins::id.nullable().eq(api_keys::created_by)))
        .order(api_keys::id.desc())
        .select((
            api_keys::id,
            api_keys::name,
            api_keys::prefix,
            api_keys::created_at,
            api_keys::last_used_at,
            api_keys::revoked_at,
            admins::email.nullable(),
        ))
        .load(conn)
}

/// Revokes a key at once (its next request gets 401) and records it; returns its name, or
/// none when there is no such key. Revoking a revoked key changes nothing.
pub fn revoke(conn: &mut DbConnection, id: i64, audit: &Audit) -> QueryResult<Option<String>> {
    write_transaction(conn, |conn| {
        let Some((name, revoked_at)) = api_keys::table
            .find(id)
            .select((api_keys::name, api_keys::revoked_at))
            .first::<(String, Option<time::PrimitiveDateTime>)>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        if revoked_at.is_none() {
            diesel::update(api_keys::table.find(id))
                .set(api_keys::revoked_at.eq(Some(now_utc())))
                .execute(conn)?;
            activity::record(
                conn,
                activity::Record {
                    audit,
                    action: "api_key.revoke",
                    target: &name,
                    details: "",
                    subject: activity::Subject::default(),
                },
            )?;
        }
        Ok(Some(name))
    })
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
