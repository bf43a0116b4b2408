//! The ledger on a real database: concurrency, invariants under random operations, and the
//! append-only guarantee.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::{configure, currency, customer, TestDb};
use creditdesk::db::{self, DbConnection, Pool};
use creditdesk::domain::{BalanceError, Change, Note, MAX_BALANCE};
use creditdesk::ledger::verify::verify;
use creditdesk::ledger::{self, Actor, Adjustment, LedgerError, Posted, Source};
use diesel::connection::SimpleConnection;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn adjust(
    conn: &mut DbConnection,
    user_id: i64,
    change: Change,
    expected_version: Option<i64>,
) -> Result<Posted, LedgerError> {
    ledger::adjust(conn, adjustment(user_id, change, expected_version))
}

fn adjustment(user_id: i64, change: Change, expected_version: Option<i64>) -> Adjustment {
    Adjustment {
        user_id,
        currency: currency("EUR"),
        change,
        note: Note::parse("test change").unwrap(),
        reason: None,
        expires_at: None,
        expected_version,
        actor: Actor::System,
        source: Source::Console,
        idempotency_key: None,
        audit: None,
    }
}

fn setup() -> (TestDb, Pool, i64) {
    let db = TestDb::new();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    configure(&mut conn, "EUR", "1.00");
    let user = customer(&mut conn, 1);
    (db, pool, user)
}

fn assert_verified(pool: &Pool) {
    let report = verify(&mut pool.get().unwrap()).unwrap();
    assert!(report.is_clean(), "verify found: {:?}", report.problems);
}

#[test]
fn concurrent_changes_without_a_version_all_land() {
    // Arrange: an account holding 10,000 credits.
    let (_db, pool, user) = setup();
    adjust(&mut pool.get().unwrap(), user, Change::SetTo(10_000), None).unwrap();
    let barrier = Arc::new(Barrier::new(32));

    // Act: 32 threads × 50 changes of ±1.
    let handles: Vec<_> = (0..32)
        .map(|t| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut sum = 0i64;
                for i in 0..50 {
                    let delta = if (t + i) % 3 == 0 { -1 } else { 1 };
                    let mut conn = pool.get().unwrap();
                    adjust(&mut conn, user, Change::By(delta), None).expect("change lands");
                    sum += delta;
                }
                sum
            })
        })
        .collect();
    let total: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();

    // Assert
    let account = adjust(&mut pool.get().unwrap(), user, Change::By(1), None)
        .unwrap()
        .account;
    assert_eq!(account.balance, 10_000 + total + 1);
    assert_eq!(account.version, 1 + 32 * 50 + 1);
    assert_verified(&pool);
}

/// 64 writers, each on its own connection, on 8 accounts at once, with readers alongside:
/// every change lands. On SQLite each connection's own wait for the lock is switched off
/// (`busy_timeout = 0`), so any writer that reached SQLite's lock while another held it
/// would fail at once with "database is locked": the writers of the process must queue
/// before it (`db::write_transaction`). On PostgreSQL: no deadlock, no lost change.
#[test]
fn sixty_four_writers_on_one_database_never_see_it_locked() {
    const WRITERS: usize = 64;
    const CHANGES: usize = 25;
    let db = TestDb::new();
    let pool = db.pool_with(db::PoolOptions::new(WRITERS as u32 + 8));
    let mut conn = pool.get().unwrap();
    configure(&mut conn, "EUR", "1.00");
    let users: Vec<i64> = (1..=8).map(|n| customer(&mut conn, n)).collect();
    drop(conn);
    let barrier = Arc::new(Barrier::new(WRITERS + 4));

    // Act: each writer holds its own connection and changes the accounts in turn; four
    // readers read the accounts' history meanwhile.
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (pool, barrier, users) = (pool.clone(), barrier.clone(), users.clone());
            thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                if conn.backend() == db::Backend::Sqlite {
                    conn.batch_execute("PRAGMA busy_timeout = 0").unwrap();
                }
                barrier.wait();
                for i in 0..CHANGES {
                    let user = users[(t + i) % users.len()];
                    if let Err(error) = adjust(&mut conn, user, Change::By(1), None) {
                        panic!("writer {t}, change {i}: {error}");
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (pool, barrier, users) = (pool.clone(), barrier.clone(), users.clone());
            thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                if conn.backend() == db::Backend::Sqlite {
                    conn.batch_execute("PRAGMA busy_timeout = 0").unwrap();
                }
                barrier.wait();
                for i in 0..200 {
                    let user = users[i % users.len()];
                    creditdesk::store::credits::history(&mut conn, user, "EUR", None, 20)
                        .expect("history reads while writers write");
                }
            })
        })
        .collect();
    for handle in writers.into_iter().chain(readers) {
        handle.join().expect("no writer or reader failed");
    }

    // Assert: every change is there, and every invariant holds.
    let mut conn = pool.get().unwrap();
    let total: i64 = users
        .iter()
        .map(|&user| {
            creditdesk::store::credits::account(&mut conn, user, "EUR")
                .unwrap()
                .expect("account")
                .balance
        })
        .sum();
    assert_eq!(total, (WRITERS * CHANGES) as i64);
    assert_verified(&pool);
}

/// The server's background checkpoint (`db::dialect::checkpoint`) reads SQLite's answer to
/// `wal_checkpoint` and runs on either database after changes.
#[test]
fn the_background_checkpoint_runs_after_changes() {
    let (_db, pool, user) = setup();
    let mut conn = pool.get().unwrap();
    for _ in 0..20 {
        adjust(&mut conn, user, Change::By(1), None).unwrap();
    }
    db::dialect::checkpoint(&mut conn).expect("checkpoint");
    assert_verified(&pool);
}

#[test]
fn concurrent_changes_with_one_version_let_exactly_one_win() {
    let (_db, pool, user) = setup();
    let version = adjust(&mut pool.get().unwrap(), user, Change::SetTo(500), None)
        .unwrap()
        .account
        .version;
    let barrier = Arc::new(Barrier::new(16));

    let results: Vec<_> = (0..16)
        .map(|t| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                barrier.wait();
                adjust(&mut conn, user, Change::By(t + 1), Some(version))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();

    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(LedgerError::VersionConflict { .. })))
        .count();
    assert_eq!((wins, conflicts), (1, 15), "{results:?}");
    assert_verified(&pool);
}

#[test]
fn two_accounts_changed_in_opposite_orders_do_not_deadlock() {
    let (_db, pool, first) = setup();
    let second = customer(&mut pool.get().unwrap(), 2);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            thread::spawn(move || {
                let order = if t % 2 == 0 {
                    [first, second]
                } else {
                    [second, first]
                };
                barrier.wait();
                for _ in 0..25 {
                    for user in order {
                        adjust(&mut pool.get().unwrap(), user, Change::By(2), None)
                            .expect("no deadlock");
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    for user in [first, second] {
        let account = adjust(&mut pool.get().unwrap(), user, Change::By(-1), None)
            .unwrap()
            .account;
        assert_eq!(account.balance, 8 * 25 * 2 - 1);
    }
    assert_verified(&pool);
}

/// One step of a random session against an account.
#[derive(Debug, Clone)]
enum Op {
    Set(i64),
    By(i64),
    StaleBy(i64),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        6 => -300i64..300,
        1 => Just(MAX_BALANCE),
        1 => Just(-MAX_BALANCE),
        1 => (MAX_BALANCE - 5)..=MAX_BALANCE,
    ];
    prop_oneof![
        3 => (0i64..600).prop_map(Op::Set),
        1 => prop_oneof![Just(0i64), Just(MAX_BALANCE), (MAX_BALANCE - 3)..=MAX_BALANCE].prop_map(Op::Set),
        5 => amount.prop_filter("a change is never zero", |a| *a != 0).prop_map(Op::By),
        1 => (1i64..50).prop_map(Op::StaleBy),
    ]
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Model {
    balance: i64,
    version: i64,
    added: i64,
    deducted: i64,
}

#[test]
fn random_sequences_keep_every_invariant() {
    let (_db, pool, _) = setup();
    let next_customer = std::sync::atomic::AtomicU32::new(100);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op_strategy(), 1..25), |ops| {
            let mut conn = pool.get().unwrap();
            let n = next_customer.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let user = customer(&mut conn, n);
            let mut model = Model::default();
            for op in ops {
                let (change, version) = match op {
                    Op::Set(v) => (Change::SetTo(v), Some(model.version)),
                    Op::By(d) => (Change::By(d), None),
                    Op::StaleBy(d) => (Change::By(d), Some(model.version + 1)),
                };
                let result = adjust(&mut conn, user, change, version);
                let delta = change.delta_from(model.balance);
                let after = model.balance + delta;
                match (&result, op) {
                    (Err(LedgerError::VersionConflict { balance, .. }), Op::StaleBy(_)) => {
                        prop_assert_eq!(*balance, model.balance)
                    }
                    (Err(LedgerError::Balance(BalanceError::NothingToChange { .. })), _) => {
                        prop_assert_eq!(delta, 0)
                    }
                    (Err(LedgerError::Balance(BalanceError::BelowZero { .. })), _) => {
                        prop_assert!(after < 0)
                    }
                    (Err(LedgerError::Balance(BalanceError::AboveMaximum { .. })), _) => {
                        prop_assert!(after > MAX_BALANCE)
                    }
                    (Ok(posted), Op::Set(_) | Op::By(_)) => {
                        prop_assert!(delta != 0 && (0..=MAX_BALANCE).contains(&after));
                        model.balance = after;
                        model.version += 1;
                        if delta > 0 {
                            model.added += delta
                        } else {
                            model.deducted -= delta
                        }
                        let account = &posted.account;
                        prop_assert_eq!(
                            Model {
                                balance: account.balance,
                                version: account.version,
                                added: account.total_added,
                                deducted: account.total_deducted
                            },
                            model.clone()
                        );
                        prop_assert_eq!(posted.transaction.balance_after, after);
                    }
                    (other, op) => prop_assert!(
                        false,
                        "unexpected {:?} for {:?} with {:?}",
                        other,
                        op,
                        model
                    ),
                }
            }
            Ok(())
        })
        .unwrap();
    assert_verified(&pool);
}

#[test]
fn the_ledger_and_activity_log_refuse_update_and_delete() {
    let (_db, pool, user) = setup();
    let mut conn = pool.get().unwrap();
    adjust(&mut conn, user, Change::SetTo(10), None).unwrap();
    creditdesk::store::activity::record(
        &mut conn,
        creditdesk::store::activity::Record {
            audit: &creditdesk::store::activity::Audit::new("test", None),
            action: "test",
            target: "",
            details: "",
            subject: creditdesk::store::activity::Subject::default(),
        },
    )
    .unwrap();
    for statement in [
        "UPDATE credit_transactions SET delta = 99",
        "DELETE FROM credit_transactions",
        "UPDATE activity_log SET actor = 'someone else'",
        "DELETE FROM activity_log",
    ] {
        let error = conn.batch_execute(statement).expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    assert_verified(&pool);
}

#[test]
fn running_migrations_twice_is_a_no_op() {
    let db = TestDb::new();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    assert_eq!(db::run_migrations(&mut conn).unwrap(), 0);
}

#[test]
fn refuses_what_the_account_cannot_take() {
    let (_db, pool, user) = setup();
    let mut conn = pool.get().unwrap();
    adjust(&mut conn, user, Change::SetTo(120), None).unwrap();
    assert!(matches!(
        adjust(&mut conn, user, Change::By(-121), None),
        Err(LedgerError::Balance(BalanceError::BelowZero {
            balance: 120,
            ..
        }))
    ));
    assert!(matches!(
        adjust(&mut conn, user, Change::SetTo(120), None),
        Err(LedgerError::Balance(BalanceError::NothingToChange { .. }))
    ));
    assert!(matches!(
        adjust(&mut conn, user, Change::By(MAX_BALANCE), None),
        Err(LedgerError::Balance(BalanceError::AboveMaximum { .. }))
    ));
    assert!(matches!(
        adjust(&mut conn, 999_999, Change::By(1), None),
        Err(LedgerError::CustomerNotFound)
    ));
    // A currency without settings: refused, and an unknown customer is said first.
    let in_gbp = |user_id| Adjustment {
        currency: currency("GBP"),
        ..adjustment(user_id, Change::By(1), None)
    };
    assert!(matches!(
        ledger::adjust(&mut conn, in_gbp(user)),
        Err(LedgerError::CurrencyNotOffered(code)) if code == "GBP"
    ));
    assert!(matches!(
        ledger::adjust(&mut conn, in_gbp(999_999)),
        Err(LedgerError::CustomerNotFound)
    ));
    let posted = adjust(&mut conn, user, Change::By(50), Some(1)).unwrap();
    assert_eq!(
        (
            posted.transaction.balance_before,
            posted.transaction.balance_after,
            posted.account.version
        ),
        (120, 170, 2)
    );
    assert_eq!(posted.transaction.currency_value, "50.00");
    assert_verified(&pool);
}

#[test]
fn opening_balances_open_new_accounts_all_or_none() {
    use creditdesk::ledger::openings::{open_accounts, Opening};
    let (_db, pool, first) = setup();
    let mut conn = pool.get().unwrap();
    configure(&mut conn, "USD", "0.50");
    let second = customer(&mut conn, 2);
    let third = customer(&mut conn, 3);
    adjust(&mut conn, third, Change::By(5), None).unwrap();
    let note = Note::parse("Opening balance from test.csv").unwrap();
    let opening = |user_id, code: &str, credits| Opening {
        user_id,
        currency: currency(code),
        credits,
        expires_at: None,
    };
    let rows = |conn: &mut DbConnection| -> i64 {
        use creditdesk::db::schema::credit_transactions;
        use diesel::prelude::*;
        credit_transactions::table.count().get_result(conn).unwrap()
    };
    let before = rows(&mut conn);

    // Every refusal leaves nothing behind, whichever opening in the batch is wrong.
    let refusals: Vec<(Vec<Opening>, &str)> = vec![
        (
            vec![opening(first, "EUR", 10), opening(third, "EUR", 1)],
            "account in this currency already",
        ),
        (
            vec![opening(first, "EUR", 10), opening(second, "GBP", 1)],
            "not offered in GBP",
        ),
        (vec![opening(first, "EUR", 0)], "nothing to change"),
        (vec![opening(first, "EUR", MAX_BALANCE + 1)], "maximum"),
        (vec![opening(first, "EUR", -1)], "Below zero"),
    ];
    for (batch, message) in refusals {
        let error = open_accounts(&mut conn, &batch, &note, Actor::System).unwrap_err();
        assert!(error.to_string().contains(message), "{error}");
        assert_eq!(rows(&mut conn), before);
    }

    let batch = [
        opening(first, "EUR", 120),
        opening(first, "USD", 7),
        opening(second, "EUR", MAX_BALANCE),
    ];
    assert_eq!(
        open_accounts(&mut conn, &batch, &note, Actor::Admin(1)).unwrap(),
        3
    );
    assert_eq!(rows(&mut conn), before + 3);
    let account = creditdesk::store::credits::account(&mut conn, first, "USD")
        .unwrap()
        .unwrap();
    assert_eq!(
        (account.balance, account.version, account.total_added),
        (7, 1, 7)
    );
    // An opened account is no longer new: opening it again is refused.
    let again = open_accounts(&mut conn, &batch[..1], &note, Actor::System).unwrap_err();
    assert!(matches!(again, LedgerError::AlreadyOpened), "{again}");
    drop(conn);
    assert_verified(&pool);
}

/// The ledger's write statements (`db::prepared::Prepared`) are prepared once per connection
/// and reused: three changes on one connection put each in its statement cache once. diesel
/// would otherwise prepare every one-row `INSERT` and `UPDATE` again at each change.
#[test]
fn a_change_prepares_its_write_statements_once_per_connection() {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::Mutex;

    // Arrange: a customer, then a connection of its own (the pool, and with it SQLite's
    // writer connection, is gone), whose prepared statements are recorded.
    let (db, pool, user) = setup();
    drop(pool);
    let mut conn = DbConnection::establish(&db.url).unwrap();
    let events: Arc<Mutex<Vec<(bool, String)>>> = Arc::default();
    let record = events.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        // SQLite quotes names with backticks, PostgreSQL with double quotes.
        let push = |cached: bool, sql: String| {
            record
                .lock()
                .unwrap()
                .push((cached, sql.replace('`', "\"")))
        };
        match event {
            InstrumentationEvent::CacheQuery { sql, .. } => push(true, sql.to_owned()),
            InstrumentationEvent::StartQuery { query, .. } => push(false, query.to_string()),
            _ => {}
        }
    });

    // Act: three changes, each with its activity row.
    let audit = creditdesk::store::activity::Audit::new("test", None);
    for _ in 0..3 {
        let mut change = adjustment(user, Change::By(5), None);
        change.audit = Some(audit.clone());
        ledger::adjust(&mut conn, change).unwrap();
    }

    // Assert: each write ran three times and was prepared for the cache once.
    let events = events.lock().unwrap();
    for start in [
        "INSERT INTO \"credit_transactions\"",
        "UPDATE \"credit_accounts\"",
        "INSERT INTO \"activity_log\"",
        "INSERT INTO \"credit_daily_totals\"",
    ] {
        let count = |cached: bool| {
            events
                .iter()
                .filter(|(c, sql)| *c == cached && sql.starts_with(start))
                .count()
        };
        assert_eq!(count(false), 3, "{start} runs once per change: {events:#?}");
        assert_eq!(count(true), 1, "{start} is prepared once: {events:#?}");
    }
}

/// On SQLite every write transaction of the process runs on the database's one writer
/// connection (`db::writer`), whichever pooled connection asks: a temporary table, which only
/// the connection that made it sees, made in one write is there in a write asked for by
/// another connection. On PostgreSQL each write runs on its caller's connection.
#[test]
fn write_transactions_on_sqlite_share_one_writer_connection() {
    let (db, pool, _user) = setup();
    let mut first = pool.get().unwrap();
    let mut second = pool.get().unwrap();
    db::write_transaction(&mut first, |conn| {
        conn.batch_execute("CREATE TEMPORARY TABLE writer_mark (n INTEGER)")
    })
    .unwrap();
    let seen = db::write_transaction(&mut second, |conn| {
        conn.batch_execute("INSERT INTO writer_mark VALUES (1)")
    });
    if db.is_postgres() {
        assert!(
            seen.is_err(),
            "another session does not see the temporary table"
        );
    } else {
        seen.expect("the second write runs on the connection of the first");
        // The pooled connection itself never saw the table.
        assert!(second.batch_execute("SELECT n FROM writer_mark").is_err());
    }
}

/// A write transaction starts as its database needs (`db::write_transaction`): on SQLite it
/// holds the write lock from its first statement (`BEGIN IMMEDIATE`), so another connection
/// cannot start writing meanwhile; on PostgreSQL its statements use plans kept for the session
/// (`plan_cache_mode = auto`), while every other statement of the connection is planned for
/// its values (`force_custom_plan`, which the lists need).
#[test]
fn a_write_transaction_starts_as_its_database_needs() {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        plan_cache_mode: String,
    }
    let show = |conn: &mut DbConnection| -> diesel::QueryResult<String> {
        use diesel::RunQueryDsl;
        diesel::sql_query("SHOW plan_cache_mode")
            .get_result::<Setting>(conn)
            .map(|s| s.plan_cache_mode)
    };
    let (db, pool, _user) = setup();
    let mut conn = pool.get().unwrap();
    let mut other = pool.get().unwrap();
    if db.is_postgres() {
        let inside = db::write_transaction(&mut conn, |c| show(c)).unwrap();
        assert_eq!(inside, "auto");
        assert_eq!(show(&mut conn).unwrap(), "force_custom_plan");
    } else {
        other.batch_execute("PRAGMA busy_timeout = 0").unwrap();
        db::write_transaction(&mut conn, |_| {
            let error = other.batch_execute("BEGIN IMMEDIATE").unwrap_err();
            assert!(error.to_string().contains("locked"), "{error}");
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
        // Once it has committed, the other connection may write.
        other.batch_execute("BEGIN IMMEDIATE; ROLLBACK").unwrap();
    }
}
