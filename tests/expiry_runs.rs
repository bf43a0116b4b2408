//! Who expires grants (docs/concepts.md, "Expiry"; docs/operations.md, "Expiry"): a server
//! catches up when it starts, two servers on one database expire each grant once, several
//! transactions racing on one account expire it once, and `creditdesk expire --dry-run`
//! writes nothing.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration as StdDuration, Instant};

use common::process::{creditdesk, printed, serve, DEADLINE};
use common::{configure, currency, customer, TestDb};
use creditdesk::db::schema::{credit_draws, credit_grants, credit_transactions};
use creditdesk::db::{now_utc, DbConnection, Pool};
use creditdesk::domain::Change;
use creditdesk::ledger;
use creditdesk::ledger::verify::verify;
use diesel::prelude::*;
use time::{Date, Duration};

/// A migrated database with EUR, and `customers` customers each holding a grant of 10 that
/// ended yesterday (no run since: the server was down) and one of 5 that never expires.
fn with_ended_grants(customers: u32) -> (TestDb, Pool, Vec<i64>) {
    let db = TestDb::new();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    configure(&mut conn, "EUR", "1");
    let yesterday = now_utc().date() - Duration::days(1);
    let ids = (1..=customers)
        .map(|n| {
            let id = customer(&mut conn, n);
            // The ended grant last: a change to the account would expire it first.
            grant(&mut conn, id, 5, None);
            grant(&mut conn, id, 10, Some(yesterday));
            id
        })
        .collect();
    drop(conn);
    (db, pool, ids)
}

fn grant(conn: &mut DbConnection, user_id: i64, credits: i64, expires_at: Option<Date>) {
    let change = Change::By(credits);
    ledger::adjust(conn, common::adjustment(user_id, "EUR", change, expires_at)).unwrap();
}

fn expired_rows(conn: &mut DbConnection) -> i64 {
    credit_transactions::table
        .filter(credit_transactions::kind.eq("expired"))
        .count()
        .get_result(conn)
        .unwrap()
}

/// Every grant that ended has exactly one expiry draw, and verify is clean.
fn assert_each_grant_expired_once(conn: &mut DbConnection, customers: i64) {
    let per_grant: Vec<(i64, i64)> = credit_draws::table
        .inner_join(credit_transactions::table)
        .filter(credit_transactions::kind.eq("expired"))
        .group_by(credit_draws::grant_id)
        .select((credit_draws::grant_id, diesel::dsl::count_star()))
        .load(conn)
        .unwrap();
    assert_eq!(per_grant.len() as i64, customers, "{per_grant:?}");
    assert!(per_grant.iter().all(|(_, n)| *n == 1), "{per_grant:?}");
    assert_eq!(expired_rows(conn), customers);
    let left: Vec<i64> = credit_grants::table
        .filter(credit_grants::expires_at.is_not_null())
        .select(credit_grants::remaining)
        .load(conn)
        .unwrap();
    assert!(left.iter().all(|n| *n == 0), "{left:?}");
    let report = verify(conn).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < DEADLINE, "waited too long for {what}");
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

#[test]
fn a_server_that_was_down_at_midnight_catches_up_when_it_starts() {
    let (db, pool, _) = with_ended_grants(3);
    let mut conn = pool.get().unwrap();
    assert_eq!(expired_rows(&mut conn), 0);
    let server = serve(&db.url);
    wait_until("the catch-up run", || expired_rows(&mut conn) == 3);
    drop(server);
    assert_each_grant_expired_once(&mut conn, 3);
}

#[test]
fn two_servers_on_one_database_expire_each_grant_once() {
    let (db, pool, _) = with_ended_grants(40);
    let mut conn = pool.get().unwrap();
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| serve(&db.url));
        let b = s.spawn(|| serve(&db.url));
        (a.join().unwrap(), b.join().unwrap())
    });
    wait_until("both servers' runs", || expired_rows(&mut conn) == 40);
    // Let a late run of either server finish before counting again.
    std::thread::sleep(StdDuration::from_millis(500));
    drop((first, second));
    assert_each_grant_expired_once(&mut conn, 40);
}

#[test]
fn transactions_racing_on_one_account_expire_it_once() {
    let (_db, pool, ids) = with_ended_grants(4);
    let today = now_utc().date();
    let barrier = Arc::new(Barrier::new(6));
    std::thread::scope(|s| {
        for _ in 0..6 {
            let (pool, barrier, ids) = (pool.clone(), barrier.clone(), ids.clone());
            s.spawn(move || {
                let mut conn = pool.get().unwrap();
                barrier.wait();
                for id in ids {
                    ledger::expire_account(&mut conn, id, &currency("EUR"), today).unwrap();
                }
            });
        }
    });
    assert_each_grant_expired_once(&mut pool.get().unwrap(), 4);
}

#[test]
fn the_expire_command_lists_with_dry_run_and_writes_once_without() {
    let (db, pool, _) = with_ended_grants(2);
    let mut conn = pool.get().unwrap();
    let dry = creditdesk(&db.url, &["expire", "--dry-run"]);
    let said = printed(&dry);
    assert!(dry.status.success(), "{said}");
    assert_eq!(
        said.matches("would expire 10 credits of customer").count(),
        2,
        "{said}"
    );
    assert!(
        said.contains("2 grants would expire (20 EUR). Dry run: nothing was written."),
        "{said}"
    );
    assert_eq!(expired_rows(&mut conn), 0, "a dry run wrote");

    let run = creditdesk(&db.url, &["expire"]);
    assert!(run.status.success(), "{}", printed(&run));
    assert!(
        printed(&run).contains("Wrote 2 expired rows (20 EUR)."),
        "{}",
        printed(&run)
    );
    let again = creditdesk(&db.url, &["expire"]);
    assert!(
        printed(&again).contains("Nothing to expire today"),
        "{}",
        printed(&again)
    );
    let dry_after = creditdesk(&db.url, &["expire", "--dry-run"]);
    assert!(printed(&dry_after).contains("Nothing to expire today"));
    assert_each_grant_expired_once(&mut conn, 2);
    let help = creditdesk(&db.url, &["expire", "--help"]);
    assert!(printed(&help).contains("--dry-run"), "{}", printed(&help));
}
