//! What the server does under pressure and with nonsense: a full connection pool, slow and
//! vanishing download clients, a database failing mid-export, absurd parameters on every
//! route, odd methods, and a connection whose user panicked.

mod common;

use std::time::{Duration, Instant};

use common::{customer, raw_get, raw_request, RawExchange, TestApp, TestDb};
use creditdesk::domain::Role;
use creditdesk::seed::{self, Plan};

/// A console with enough history that a full export outgrows every buffer between the
/// database and a client that stops reading (about 13 MB of CSV).
fn app_with_history() -> TestApp {
    app_with_history_and(|_| {})
}

fn app_with_history_and(change: impl FnOnce(&mut creditdesk::config::Settings)) -> TestApp {
    let app = TestApp::spawn_with(change);
    seed::seed(
        &mut app.conn(),
        &Plan {
            customers: 2000,
            rows: 80_000,
            days: 30,
            seed: 11,
        },
        |_| {},
    )
    .expect("seed");
    app
}

/// Starts an export whose client reads its first bytes and then stops reading.
fn slow_export(app: &TestApp, client: &common::Client) -> (RawExchange, String) {
    let mut exchange =
        RawExchange::send(&app.address, &raw_get(client, "/promo-credits/export.csv"));
    let head = exchange.read_head_and(16 * 1024);
    (exchange, head)
}

fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_full_pool_answers_503_with_retry_after_at_once() {
    let app = TestApp::spawn();
    let mut client = app.signed_in(Role::Support);
    let size = app.pool.state().connections.max(16);
    let held: Vec<_> = (0..size).map(|_| app.pool.get().unwrap()).collect();

    let started = Instant::now();
    let reply = client.get("/users");
    let took = started.elapsed();

    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    assert!(reply.body.contains("try again"), "{}", reply.body);
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    drop(held);
    assert_eq!(client.get("/users").status, 200, "and recovers by itself");
}

#[test]
fn slow_export_readers_cannot_take_every_connection() {
    let app = app_with_history();
    let client = app.signed_in(Role::Support);
    let mut pages = client.clone();
    let limit = creditdesk::config::default_max_exports(16);

    let exports: Vec<(RawExchange, String)> = (0..16).map(|_| slow_export(&app, &client)).collect();
    let started = Instant::now();
    let page = pages.get("/users");
    let took = started.elapsed();

    let streaming = exports.iter().filter(|(_, h)| status_of(h) == 200).count();
    let refused: Vec<&String> = exports
        .iter()
        .map(|(_, h)| h)
        .filter(|h| status_of(h) == 503)
        .collect();
    assert_eq!(page.status, 200, "pages still answer: {}", page.body);
    assert!(took < Duration::from_secs(5), "the page took {took:?}");
    assert_eq!(streaming, limit, "exports run up to the limit");
    assert_eq!(refused.len(), 16 - limit);
    for head in refused {
        assert!(head.to_lowercase().contains("retry-after:"), "{head}");
        assert!(head.contains("Too many exports"), "{head}");
    }

    drop(exports);
    let started = Instant::now();
    while app.activity_count("export.credits.abandoned") < limit as i64 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "exports end with their clients"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let again = pages.get("/promo-credits/export.csv?type=imported");
    assert_eq!(again.status, 200, "the permits came back");
}

#[test]
fn a_database_failure_mid_export_breaks_the_download() {
    let app = app_with_history();
    let client = app.signed_in(Role::Owner);
    // SQLite: the export reads one snapshot, which nothing done meanwhile can break, so the
    // failure is in it from the start: a row written behind the application's back whose
    // time cannot be read. It is the oldest, so it comes last.
    app.execute_sql(
        "INSERT INTO credit_transactions (account_id, user_id, currency, kind, delta, \
         balance_before, balance_after, exchange_rate_e4, currency_value, note, actor_kind, \
         created_at) SELECT account_id, user_id, currency, kind, delta, balance_before, \
         balance_after, exchange_rate_e4, currency_value, note, actor_kind, '0000-garbled' \
         FROM credit_transactions LIMIT 1;",
        "SELECT 1;",
    );
    let (mut exchange, head) = slow_export(&app, &client);
    assert_eq!(status_of(&head), 200, "{head}");
    assert!(head.to_lowercase().contains("transfer-encoding: chunked"));
    std::thread::sleep(Duration::from_millis(500));

    // PostgreSQL: the server ends the export's connection while it is half-way through.
    app.execute_sql(
        "SELECT 1;",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'creditdesk export' AND backend_type = 'client backend' \
         AND datname = current_database();",
    );
    let rest = exchange.read_rest();

    assert!(
        !rest.ends_with(b"0\r\n\r\n"),
        "the chunked body must not end cleanly ({} bytes read)",
        rest.len()
    );
    assert!(app.wait_for_activity("export.credits.failed", 20));
    assert_eq!(app.activity_count("export.credits"), 0);
}

#[test]
fn an_abandoned_export_is_recorded() {
    let app = app_with_history();
    let client = app.signed_in(Role::Owner);
    let (exchange, head) = slow_export(&app, &client);
    assert_eq!(status_of(&head), 200, "{head}");

    assert_eq!(
        export_connections(&app),
        i64::from(app.db.is_postgres()),
        "on PostgreSQL the export reads through a connection of its own"
    );
    drop(exchange);

    assert!(app.wait_for_activity("export.credits.abandoned", 20));
    assert!(
        export_connections_close(&app, 10),
        "PostgreSQL's export connection ends with the export"
    );
}

/// Waits up to `seconds` until no connection of an export is open on the app's database
/// (PostgreSQL exports run on a connection of their own; SQLite has none).
fn export_connections_close(app: &TestApp, seconds: u64) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        if export_connections(app) == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The connections of exports open on the app's database.
fn export_connections(app: &TestApp) -> i64 {
    use diesel::dsl::sql;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    if !app.db.is_postgres() {
        return 0;
    }
    diesel::select(sql::<BigInt>(
        "(SELECT COUNT(*) FROM pg_stat_activity \
         WHERE application_name = 'creditdesk export' AND backend_type = 'client backend' \
         AND datname = current_database())",
    ))
    .get_result(&mut app.conn())
    .unwrap()
}

#[test]
fn an_export_whose_client_stops_reading_ends_by_itself() {
    let app = app_with_history_and(|settings| {
        settings.export_stall_limit = Duration::from_secs(1);
        settings.max_exports = 1;
    });
    let client = app.signed_in(Role::Owner);
    let (stalled, head) = slow_export(&app, &client);
    assert_eq!(status_of(&head), 200, "{head}");

    assert!(
        app.wait_for_activity("export.credits.abandoned", 20),
        "ended while its client still holds the connection"
    );
    let mut other = client.clone();
    assert_eq!(
        other.get("/promo-credits/export.csv?type=imported").status,
        200,
        "and its place is free again"
    );
    drop(stalled);
}

#[test]
fn metric_labels_stay_bounded_whatever_clients_send() {
    let app = TestApp::spawn();
    for n in 0..20 {
        raw_request(
            &app.address,
            &format!(
                "METHOD{n} /made-up-{n} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            ),
        );
        raw_request(
            &app.address,
            &format!(
                "GET /users/{n}/x{n} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            ),
        );
    }
    let metrics = app.client().get("/metrics").body;

    assert!(!metrics.contains("METHOD"), "raw methods are not labels");
    assert!(!metrics.contains("made-up"), "raw paths are not labels");
    assert!(metrics.contains("method=\"OTHER\""));
    assert!(metrics.contains("route=\"unmatched\""));
}

/// Values no form would send: past every integer type, negative, not numbers, NUL, invalid
/// UTF-8, direction controls, very long.
const ABSURD: &[&str] = &[
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "99999999999999999999999999999",
    "-1",
    "0",
    "abc",
    "1e3",
    "%00",
    "a%00b",
    "%FF%FE",
    "%E2%80%AE",
    "%0D%0A",
    "",
];

const PARAMETERS: &[&str] = &[
    "page",
    "q",
    "per_page",
    "after",
    "before",
    "updated",
    "usage",
    "currency",
    "mode",
    "amount",
    "email",
    "external_id",
    "invoice_id",
    "type",
    "reason",
    "from",
    "to",
    "order",
    "min",
    "max",
    "as_of",
    "sort",
    "next",
];

/// Every field name a console form posts.
const FIELDS: &[&str] = &[
    "currency",
    "mode",
    "amount",
    "note",
    "reason",
    "expected_version",
    "enabled",
    "current_password",
    "new_password",
    "confirm_password",
    "email",
    "password",
    "next",
];

/// Every route of the route tables with `{id}` (and any other placeholder) filled in.
fn routes_of(method: &str, id: i64) -> Vec<String> {
    creditdesk::routes::all_routes()
        .filter(|route| route.method == method)
        .map(|route| {
            route
                .path
                .replace("{id}", &id.to_string())
                .replace("{path:.*}", "app.css")
        })
        .collect()
}

/// `%00` as the byte it stands for: a form field carries the raw character.
fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&value[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn absurd_parameters_never_cause_a_server_error() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut client = app.signed_in(Role::Owner);
    let long = "9".repeat(5000);
    let values: Vec<&str> = ABSURD.iter().copied().chain([long.as_str()]).collect();
    let mut failures = Vec::new();
    let mut check = |what: String, status: u16| {
        if status >= 500 || status == 0 {
            failures.push(format!("{what} → {status}"));
        }
    };
    let gets = routes_of("get", user);
    assert!(gets.len() >= 15, "{gets:?}");
    for path in &gets {
        for parameter in PARAMETERS {
            for value in &values {
                let url = format!("{path}?{parameter}={value}");
                let answer = raw_request(&app.address, &raw_get(&client, &url));
                check(url, status_of(&answer));
            }
        }
    }
    for path in routes_of("post", user) {
        for field in FIELDS {
            for value in &values {
                let decoded = percent_decoded(value);
                let reply = client.post(&path, &[(field, decoded.as_str())]);
                check(format!("POST {path} {field}={value}"), reply.status);
            }
        }
        client = app.signed_in(Role::Owner);
    }
    for template in creditdesk::routes::all_routes().filter(|r| r.path.contains("{id}")) {
        for id in &values {
            let path = template.path.replace("{id}", id);
            let status = if template.method == "get" {
                client.get(&path).status
            } else {
                client.post(&path, &[]).status
            };
            check(format!("{} {path}", template.method), status);
        }
    }
    assert!(
        failures.is_empty(),
        "{} 5xx answers: {:#?}",
        failures.len(),
        failures
    );
}

#[test]
fn a_connection_whose_user_panicked_is_not_handed_out_again() {
    use creditdesk::db::schema::users;
    use diesel::prelude::*;

    let db = TestDb::new();
    let pool = creditdesk::db::connect(&db.url, creditdesk::db::PoolOptions::new(1)).unwrap();
    creditdesk::db::run_migrations(&mut pool.get().unwrap()).unwrap();

    // A worker opens a transaction, writes, and panics before it commits.
    let worker_pool = pool.clone();
    let panicked = std::thread::spawn(move || {
        let mut conn = worker_pool.get().unwrap();
        let _ =
            diesel::Connection::transaction::<(), diesel::result::Error, _>(&mut *conn, |conn| {
                customer(conn, 1);
                panic!("a bug inside a transaction");
            });
    })
    .join();
    assert!(panicked.is_err());

    // The pool's one connection is used again: what it writes must really commit.
    customer(&mut pool.get().unwrap(), 2);

    let independent =
        creditdesk::db::connect(&db.url, creditdesk::db::PoolOptions::new(1)).unwrap();
    let emails: Vec<String> = users::table
        .select(users::email)
        .load(&mut independent.get().unwrap())
        .unwrap();
    assert_eq!(emails, vec!["customer2@example.com".to_owned()]);
}

/// A write whose code panics half-way leaves no transaction open on the connection writes
/// run on (SQLite's writer connection, `db::writer`, or the caller's on PostgreSQL): the next
/// write commits, and what the panicking one wrote is gone.
#[test]
fn a_write_whose_user_panicked_leaves_writing_possible() {
    use creditdesk::db::schema::users;
    use diesel::prelude::*;

    let db = TestDb::new();
    let pool = db.pool();
    let worker_pool = pool.clone();
    let panicked = std::thread::spawn(move || {
        let mut conn = worker_pool.get().unwrap();
        let _ =
            creditdesk::db::write_transaction::<(), diesel::result::Error, _>(&mut conn, |conn| {
                customer(conn, 1);
                panic!("a bug inside a write");
            });
    })
    .join();
    assert!(panicked.is_err());

    customer(&mut pool.get().unwrap(), 2);

    let emails: Vec<String> = users::table
        .select(users::email)
        .load(&mut pool.get().unwrap())
        .unwrap();
    assert_eq!(emails, vec!["customer2@example.com".to_owned()]);
}
