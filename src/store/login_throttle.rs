//! Sign-in attempts counted per key (`email:…`, `ip:…`) in one-minute windows. An attempt is
//! counted before its password is checked, atomically, so guesses sent in parallel cannot all
//! pass the check; a successful sign-in gives its attempt back (docs/console.md, "Signing
//! in").

use diesel::prelude::*;
use time::Duration;

use crate::db::dialect::per_backend;
use crate::db::schema::login_throttle;
use crate::db::{now_utc, write_transaction, DbConnection};

/// How long a window lasts from its first attempt.
pub const WINDOW: Duration = Duration::minutes(1);

/// Counts one attempt for each key, all in one transaction (so every key sees concurrent
/// attempts in the same order), and returns each key's attempts in its current window, this
/// one included.
pub fn count_attempt(conn: &mut DbConnection, keys: &[&str]) -> QueryResult<Vec<i64>> {
    let now = now_utc();
    write_transaction(conn, |conn| {
        keys.iter()
            .map(|key| {
                diesel::delete(
                    login_throttle::table
                        .find(key)
                        .filter(login_throttle::window_started_at.le(now - WINDOW)),
                )
                .execute(conn)?;
                per_backend!(conn, |c| diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::key.eq(key),
                        login_throttle::window_started_at.eq(now),
                        login_throttle::attempts.eq(1i64),
                    ))
                    .on_conflict(login_throttle::key)
                    .do_update()
                    .set(login_throttle::attempts.eq(login_throttle::attempts + 1i64))
                    .returning(login_throttle::attempts)
                    .get_result(c))
            })
            .collect()
    })
}

/// Gives back an attempt that turned out to be a success.
pub fn give_back(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    diesel::update(
        login_throttle::table
            .find(key)
            .filter(login_throttle::attempts.gt(0i64)),
    )
    .set(login_throttle::attempts.eq(login_throttle::attempts - 1i64))
    .execute(conn)
    .map(|_| ())
}

/// Deletes the windows that have ended.
pub fn purge(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::delete(
        login_throttle::table.filter(login_throttle::window_started_at.le(now_utc() - WINDOW)),
    )
    .execute(conn)
}
