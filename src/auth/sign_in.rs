//! Signing in, as one sequence no request can reorder: count the attempt (per email and per
//! client address) before the password is checked, refuse when over the limit, check, then
//! record the outcome (docs/console.md, "Signing in"). No HTTP here.

use diesel::QueryResult;

use crate::db::{write_transaction, DbConnection};
use crate::passwords::verify_password;
use crate::store::activity::{self, Audit};
use crate::store::sessions::{self, SessionPolicy};
use crate::store::{admins, login_throttle};

/// Sign-in attempts allowed per email and per client address within a minute.
pub const MAX_ATTEMPTS_PER_MINUTE: i64 = 5;

/// What a person typed into the sign-in form, already bounded: an email that could be one
/// (at most 254 characters, lower-cased) and a password of sane length.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Debug)]
pub enum SignIn {
    /// The cookie token of the new session.
    SignedIn(String),
    Refused,
    Throttled,
}

/// An argon2id hash of a random string nobody knows: an unknown email is checked against it,
/// so the time taken does not tell which emails exist.
const UNKNOWN_ADMIN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$N2WlUhgcgkVjYaN8r+zcCY1IptbYQ1U6jW8zYHdZnDc";

pub fn sign_in(
    conn: &mut DbConnection,
    credentials: &Credentials,
    ip: &str,
    policy: SessionPolicy,
) -> QueryResult<SignIn> {
    let audit = Audit::new(credentials.email.clone(), Some(ip.to_owned()));
    let record = |conn: &mut DbConnection, action: &str| {
        activity::record(
            conn,
            activity::Record {
                audit: &audit,
                action,
                target: &credentials.email,
                details: "",
                subject: activity::Subject::default(),
            },
        )
    };
    let email_key = format!("email:{}", credentials.email);
    let ip_key = format!("ip:{ip}");
    let keys = [email_key.as_str(), ip_key.as_str()];
    let attempts = login_throttle::count_attempt(conn, &keys)?;
    if attempts.iter().any(|n| *n > MAX_ATTEMPTS_PER_MINUTE) {
        // One row when a key first goes over the limit, not one per refused attempt.
        if attempts.contains(&(MAX_ATTEMPTS_PER_MINUTE + 1)) {
            record(conn, "login.throttled")?;
        }
        return Ok(SignIn::Throttled);
    }
    let admin = admins::find_by_email(conn, &credentials.email)?;
    let hash = admin
        .as_ref()
        .map_or(UNKNOWN_ADMIN_HASH, |a| a.password_hash.as_str());
    let valid = verify_password(&credentials.password, hash);
    match admin {
        Some(admin) if valid && !admin.disabled => write_transaction(conn, |conn| {
            for key in keys {
                login_throttle::give_back(conn, key)?;
            }
            login_throttle::purge(conn)?;
            sessions::purge(conn, policy)?;
            let (token, _) = sessions::create(conn, admin.id, policy)?;
            record(conn, "login.succeeded")?;
            Ok(SignIn::SignedIn(token))
        }),
        _ => {
            record(conn, "login.failed")?;
            Ok(SignIn::Refused)
        }
    }
}
