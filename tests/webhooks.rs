//! Outgoing webhooks end to end (docs/webhooks.md): a receiver on 127.0.0.1 (the insecure
//! setting on) checks every signature with its own implementation and records what arrived.
//! Every test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::process::DEADLINE;
use common::receiver::{verifies, Arrival, Receiver, Reply};
use common::served::Served;
use common::{adjustment, TestApp, TestDb};
use creditdesk::db::schema::{
    activity_log, credit_transactions, promo_credit_configs, webhook_deliveries, webhook_endpoints,
    webhook_events,
};
use creditdesk::db::{now_utc, DbConnection};
use creditdesk::domain::Change;
use creditdesk::ledger::{self, LedgerError};
use creditdesk::store::activity::Audit;
use creditdesk::store::webhooks::{self as endpoints, NewEndpoint};
use creditdesk::webhooks::events::EventType;
use diesel::prelude::*;

/// An endpoint for `url` receiving `events`; its secret.
fn endpoint(conn: &mut DbConnection, url: &str, events: &[EventType]) -> (i64, String) {
    let (endpoint, secret) = endpoints::create(
        conn,
        &NewEndpoint {
            url: url.to_owned(),
            description: "test receiver".to_owned(),
            events: events.to_vec(),
        },
        &Audit::system(),
    )
    .unwrap();
    (endpoint.id, secret.text())
}

/// A test server whose deliveries may go to loopback over plain HTTP, with retries a
/// thousand times sooner than the schedule (5 ms, 300 ms, 1.8 s, …).
fn app() -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.webhooks.send = true;
        settings.webhooks.allow_insecure = true;
        settings.webhooks.retry_divisor = 1000;
        settings.webhooks.timeout = Duration::from_secs(2);
    })
}

fn change(conn: &mut DbConnection, user_id: i64, by: i64) -> Result<i64, LedgerError> {
    ledger::adjust(conn, adjustment(user_id, "EUR", Change::By(by), None))
        .map(|posted| posted.transaction.id)
}

/// (status, attempts) of each delivery of `endpoint`, in order.
fn deliveries(conn: &mut DbConnection, endpoint: i64) -> Vec<(String, i32)> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order(webhook_deliveries::id)
        .select((webhook_deliveries::status, webhook_deliveries::attempts))
        .load(conn)
        .unwrap()
}

/// Waits until the first attempt at each of `endpoint`'s deliveries has its answer written
/// (the attempt itself is written down before it is sent).
fn wait_for_answers(conn: &mut DbConnection, endpoint: i64) {
    wait_until("the answers are recorded", || {
        let answers: Vec<(Option<i32>, Option<String>)> = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint))
            .select((
                webhook_deliveries::response_code,
                webhook_deliveries::response_excerpt,
            ))
            .load(conn)
            .unwrap();
        !answers.is_empty()
            && answers
                .iter()
                .all(|(code, excerpt)| code.is_some() || excerpt.is_some())
    });
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < DEADLINE, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn event_count(conn: &mut DbConnection) -> i64 {
    webhook_events::table.count().get_result(conn).unwrap()
}

#[test]
fn the_receivers_signature_check_reproduces_the_published_vector() {
    // Standard Webhooks' own example, checked with the test's independent implementation.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (id, timestamp, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
    );
    let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verifies(secret, id, timestamp, body, signature));
    assert!(verifies(
        secret,
        id,
        timestamp,
        body,
        &format!("v1,bm9wZQ== {signature}")
    ));
    assert!(!verifies(secret, id, timestamp + 1, body, signature));
    assert!(!verifies(
        secret,
        id,
        timestamp,
        &body.replace('2', "3"),
        signature
    ));
    assert!(!verifies(
        "whsec_bm90IHRoZSBzZWNyZXQ=",
        id,
        timestamp,
        body,
        signature
    ));
}

#[test]
fn every_ledger_row_arrives_signed_and_in_order_and_a_refused_change_sends_nothing() {
    let app = app();
    let receiver = Receiver::start();
    let mut conn = app.conn();
    diesel::update(promo_credit_configs::table.find("EUR"))
        .set(promo_credit_configs::low_balance_threshold.eq(Some(100_i64)))
        .execute(&mut conn)
        .unwrap();
    let all = EventType::CHOOSABLE;
    let (id, secret) = endpoint(&mut conn, &receiver.url, &all);
    let (_, other_secret) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    let mut records = Vec::new();
    for by in [500, -450, 30, 200, -80] {
        records.push(change(&mut conn, user, by).unwrap());
    }
    // Refused: more than the balance; nothing is written, so nothing is sent.
    let events_before = event_count(&mut conn);
    assert!(change(&mut conn, user, -10_000).is_err());
    assert_eq!(event_count(&mut conn), events_before);

    // 5 rows: 5 credit.changed to each endpoint, plus low (500 → 50) and recovered
    // (80 → 280) to the first. The first row (0 → 500) recovers nothing.
    receiver.wait_for(12);
    std::thread::sleep(Duration::from_millis(300));
    let arrived = receiver.arrivals();
    assert_eq!(arrived.len(), 12, "{arrived:#?}");
    let to_first: Vec<&Arrival> = arrived.iter().filter(|a| a.signed_by(&secret)).collect();
    let to_second: Vec<&Arrival> = arrived
        .iter()
        .filter(|a| a.signed_by(&other_secret))
        .collect();
    assert_eq!(
        (to_first.len(), to_second.len()),
        (7, 5),
        "every request is signed by one"
    );
    let kinds: Vec<String> = to_first.iter().map(|a| a.kind()).collect();
    assert_eq!(
        kinds,
        [
            "credit.changed",
            "credit.changed",
            "credit.balance_low",
            "credit.changed",
            "credit.changed",
            "credit.balance_recovered",
            "credit.changed"
        ]
    );
    let changed_records = |list: &[&Arrival]| -> Vec<i64> {
        list.iter()
            .filter(|a| a.kind() == "credit.changed")
            .map(|a| {
                a.json()["data"]["transaction"]["record_id"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(changed_records(&to_first), records, "in ledger order");
    assert_eq!(changed_records(&to_second), records, "in ledger order");
    for arrival in &arrived {
        assert_eq!(arrival.path, "/hook");
        assert_eq!(arrival.content_type, "application/json");
        assert!(arrival.id.starts_with("evt_"));
        assert!((arrival.timestamp - now_utc().assume_utc().unix_timestamp()).abs() < 120);
    }
    let first = to_first[0].json();
    assert_eq!(first["data"]["transaction"]["amount"], 500);
    assert_eq!(first["data"]["transaction"]["balance_after"], 500);
    assert_eq!(first["data"]["transaction"]["by"], "system");
    assert_eq!(
        first["data"]["transaction"]["user_email"],
        "customer1@example.com"
    );
    assert_eq!(first["data"]["account"]["balance"], 500);
    assert_eq!(first["data"]["account"]["version"], 1);
    let low = to_first[2].json();
    assert_eq!(low["data"]["balance"], 50);
    assert_eq!(low["data"]["low_balance_threshold"], 100);
    assert_eq!(low["data"]["record_id"], records[1]);
    let last = to_first[6].json();
    assert_eq!(last["data"]["account"]["balance"], 200);
    assert_eq!(last["data"]["account"]["version"], 5);
    assert_eq!(last["data"]["account"]["total_added"], 730);
    assert_eq!(last["data"]["account"]["total_deducted"], 530);
    wait_until("every delivery recorded as delivered", || {
        deliveries(&mut conn, id)
            .iter()
            .all(|(status, attempts)| status == "delivered" && *attempts == 1)
    });
    app.assert_verified();
}

#[test]
fn a_committed_change_always_has_its_event_and_a_rolled_back_one_never() {
    let app = app();
    let mut conn = app.conn();
    // An endpoint nobody answers at (the dispatcher's attempts do not matter here).
    let (_, _) = endpoint(
        &mut conn,
        "http://127.0.0.1:9/",
        &[EventType::CreditChanged],
    );
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 10).unwrap();
    assert_eq!(event_count(&mut conn), 1);
    // The same change inside a transaction that then fails: no row, no event.
    let rolled_back: Result<(), LedgerError> =
        creditdesk::db::write_transaction(&mut conn, |conn| {
            change(conn, user, 10)?;
            Err(LedgerError::InvoiceConflict)
        });
    assert!(rolled_back.is_err());
    assert_eq!(event_count(&mut conn), 1);
    let rows: i64 = credit_transactions::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(rows, 1);
    // No endpoint listening: nothing is kept for a change.
    diesel::update(webhook_endpoints::table)
        .set(webhook_endpoints::enabled.eq(false))
        .execute(&mut conn)
        .unwrap();
    change(&mut conn, user, 10).unwrap();
    assert_eq!(event_count(&mut conn), 1);
}

#[test]
fn two_server_errors_then_success_delivers_on_the_third_attempt_with_the_same_id() {
    let app = app();
    let receiver = Receiver::start();
    receiver.script([Reply::status(500), Reply::status(500)]);
    let mut conn = app.conn();
    let (id, secret) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 25).unwrap();
    let arrived = receiver.wait_for(3);
    assert_eq!(
        arrived.iter().map(|a| a.answered).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(200)]
    );
    assert!(arrived
        .iter()
        .all(|a| a.id == arrived[0].id && a.signed_by(&secret)));
    assert!(
        arrived.iter().all(|a| a.body == arrived[0].body),
        "the same body each time"
    );
    // Each attempt is signed at its own time.
    assert!(arrived[2].timestamp >= arrived[0].timestamp);
    wait_until("the delivery is recorded", || {
        deliveries(&mut conn, id) == [("delivered".to_owned(), 3)]
    });
    let (code, failing_since): (Option<i32>, Option<time::PrimitiveDateTime>) =
        webhook_deliveries::table
            .inner_join(webhook_endpoints::table)
            .select((
                webhook_deliveries::response_code,
                webhook_endpoints::failing_since,
            ))
            .first(&mut conn)
            .unwrap();
    assert_eq!(code, Some(200));
    assert_eq!(failing_since, None, "a delivery ends the failing streak");
}

#[test]
fn an_endpoint_answering_410_is_disabled_and_the_next_events_wait() {
    let app = app();
    let receiver = Receiver::start();
    receiver.script([Reply::status(410)]);
    let mut conn = app.conn();
    let (id, _) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    receiver.wait_for(1);
    wait_until("the endpoint is disabled", || {
        !endpoints::find(&mut conn, id).unwrap().unwrap().enabled
    });
    let endpoint = endpoints::find(&mut conn, id).unwrap().unwrap();
    assert_eq!(
        endpoint.disabled_reason.as_deref(),
        Some("the endpoint answered 410 Gone")
    );
    assert_eq!(deliveries(&mut conn, id), [("failed".to_owned(), 1)]);
    let logged: Vec<(String, String)> = activity_log::table
        .filter(activity_log::action.eq("webhook.disable"))
        .select((activity_log::actor, activity_log::details))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        logged,
        [(
            "system".to_owned(),
            "the endpoint answered 410 Gone".to_owned()
        )]
    );
    assert_eq!(endpoints::disabled_by_server(&mut conn).unwrap().len(), 1);
    // A disabled endpoint hears of nothing new.
    change(&mut conn, user, 5).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(receiver.arrivals().len(), 1);
    assert_eq!(deliveries(&mut conn, id).len(), 1);
}

#[test]
fn redirects_and_silence_are_failures_retried_later() {
    let app = TestApp::spawn_with(|settings| {
        settings.webhooks.send = true;
        settings.webhooks.allow_insecure = true;
        settings.webhooks.timeout = Duration::from_secs(1);
    });
    let receiver = Receiver::start();
    receiver.script([Reply::Status(
        302,
        vec![("location", format!("{}-elsewhere", receiver.url))],
    )]);
    let mut conn = app.conn();
    let (id, _) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    receiver.wait_for(1);
    wait_for_answers(&mut conn, id);
    assert_eq!(deliveries(&mut conn, id), [("pending".to_owned(), 1)]);
    let (code, next, excerpt): (Option<i32>, time::PrimitiveDateTime, Option<String>) =
        webhook_deliveries::table
            .select((
                webhook_deliveries::response_code,
                webhook_deliveries::next_attempt_at,
                webhook_deliveries::response_excerpt,
            ))
            .first(&mut conn)
            .unwrap();
    assert_eq!(code, Some(302));
    assert_eq!(excerpt.as_deref(), Some("answer 302"));
    assert!(
        next > now_utc() + time::Duration::seconds(3),
        "retried after 5 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        receiver.arrivals().len(),
        1,
        "the redirect was not followed"
    );

    // A receiver that holds the answer past the timeout.
    let silent = Receiver::start();
    silent.script([Reply::Hold]);
    let (quiet, _) = endpoint(&mut conn, &silent.url, &[EventType::CreditChanged]);
    change(&mut conn, user, 5).unwrap();
    silent.wait_for(1);
    wait_until("the timeout is recorded", || {
        deliveries(&mut conn, quiet) == [("pending".to_owned(), 1)]
            && webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(quiet))
                .select(webhook_deliveries::response_excerpt)
                .first::<Option<String>>(&mut conn)
                .unwrap()
                .is_some()
    });
    let excerpt: Option<String> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(quiet))
        .select(webhook_deliveries::response_excerpt)
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        excerpt.as_deref(),
        Some("No answer within the time allowed.")
    );
}

#[test]
fn retry_after_is_honoured_for_429() {
    let app = TestApp::spawn_with(|settings| {
        settings.webhooks.send = true;
        settings.webhooks.allow_insecure = true;
    });
    let receiver = Receiver::start();
    receiver.script([Reply::Status(429, vec![("retry-after", "120".to_owned())])]);
    let mut conn = app.conn();
    let (id, _) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    receiver.wait_for(1);
    wait_for_answers(&mut conn, id);
    assert_eq!(deliveries(&mut conn, id), [("pending".to_owned(), 1)]);
    let next: time::PrimitiveDateTime = webhook_deliveries::table
        .select(webhook_deliveries::next_attempt_at)
        .first(&mut conn)
        .unwrap();
    let wait = next - now_utc();
    assert!(
        wait > time::Duration::seconds(100) && wait <= time::Duration::seconds(121),
        "{wait}"
    );
}

#[test]
fn an_endpoint_failing_for_five_days_is_disabled() {
    let app = app();
    let receiver = Receiver::start();
    receiver.script([Reply::status(503)]);
    let mut conn = app.conn();
    let (id, _) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let five_days_ago = now_utc() - time::Duration::days(5) - time::Duration::minutes(1);
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::failing_since.eq(Some(five_days_ago)))
        .execute(&mut conn)
        .unwrap();
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    receiver.wait_for(1);
    wait_until("the endpoint is disabled", || {
        !endpoints::find(&mut conn, id).unwrap().unwrap().enabled
    });
    let reason = endpoints::find(&mut conn, id)
        .unwrap()
        .unwrap()
        .disabled_reason
        .unwrap();
    assert!(
        reason.starts_with("every attempt failed for 5 days"),
        "{reason}"
    );
}

#[test]
fn a_ping_and_credit_expiring_go_out_once() {
    let app = app();
    let receiver = Receiver::start();
    let mut conn = app.conn();
    let user = common::customer(&mut conn, 1);
    let today = now_utc().date();
    let in_three_days = today + time::Duration::days(3);
    let far = today + time::Duration::days(30);
    ledger::adjust(
        &mut conn,
        adjustment(user, "EUR", Change::By(40), Some(in_three_days)),
    )
    .unwrap();
    ledger::adjust(
        &mut conn,
        adjustment(user, "EUR", Change::By(60), Some(far)),
    )
    .unwrap();
    ledger::adjust(&mut conn, adjustment(user, "EUR", Change::By(-10), None)).unwrap();
    // Listening from now on: the grants made before are noticed too.
    let (id, secret) = endpoint(&mut conn, &receiver.url, &[EventType::Expiring]);
    // The test server's scheduler may write it first: either way, once.
    creditdesk::webhooks::notices::run(&mut conn, today).unwrap();
    assert_eq!(
        creditdesk::webhooks::notices::run(&mut conn, today).unwrap(),
        0
    );
    let expiring: i64 = webhook_events::table
        .filter(webhook_events::kind.eq("credit.expiring"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(expiring, 1);
    endpoints::ping(&mut conn, id, &Audit::system())
        .unwrap()
        .unwrap();
    let arrived = receiver.wait_for(2);
    assert!(arrived.iter().all(|a| a.signed_by(&secret)));
    let expiring = arrived[0].json();
    assert_eq!(expiring["type"], "credit.expiring");
    assert_eq!(expiring["data"]["credits"], 30, "what is left of the grant");
    assert_eq!(expiring["data"]["days_left"], 3);
    assert_eq!(
        expiring["data"]["expires_at"],
        creditdesk::db::iso_date(in_three_days)
    );
    assert_eq!(arrived[1].kind(), "ping");
    // A week later the 30-day grant is still outside the notice of 7 days.
    let later = today + time::Duration::days(22);
    assert_eq!(
        creditdesk::webhooks::notices::run(&mut conn, later).unwrap(),
        0
    );
    let later = today + time::Duration::days(23);
    assert_eq!(
        creditdesk::webhooks::notices::run(&mut conn, later).unwrap(),
        1
    );
}

#[test]
fn the_address_guard_refuses_blocked_ranges_before_connecting() {
    use creditdesk::webhooks::client::{Client, Request};
    // No traffic: every address is an IP literal in a blocked range, refused by the
    // resolver hook before a connection exists; only 127.0.0.1 with the insecure setting
    // is ever connected to (the receiver below).
    let refused = [
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://10.255.255.255:8443/x",
        "http://100.64.0.1/",
        "http://127.0.0.1/",
        "http://127.8.9.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.0.0.8/",
        "http://192.0.2.1/",
        "http://192.88.99.1/",
        "http://192.168.1.1/",
        "http://198.18.0.1/",
        "http://198.51.100.7/",
        "http://203.0.113.9/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://[::]/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:192.168.0.1]/",
        "http://[::10.0.0.1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[64:ff9b:1::1]/",
        "http://[100::1]/",
        "http://[2001::1]/",
        "http://[2001:db8::1]/",
        "http://[3fff::1]/",
        "http://[2002:a00:1::]/",
        "http://[5f00::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[fe80::1]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
    ];
    let strict = Client::new(Duration::from_secs(1), true);
    let request = |url| Request {
        url,
        id: "evt_guard",
        timestamp: 1,
        signature: "v1,x",
        body: "{}",
    };
    for url in refused {
        if url.contains("127.") || url.contains("[::1]") {
            continue; // loopback: refused below without the insecure setting
        }
        let reply = strict.send(request(url));
        assert!(
            reply.excerpt.starts_with("Not sent: ") && reply.excerpt.contains("blocked range"),
            "{url}: {}",
            reply.excerpt
        );
    }
    let secure = Client::new(Duration::from_secs(1), false);
    for url in refused {
        let reply = secure.send(request(url));
        assert!(
            reply.excerpt.starts_with("Not sent: "),
            "{url}: {}",
            reply.excerpt
        );
    }
    // Names resolving to loopback are refused the same way.
    let https_local = secure.send(request("https://localhost:1/"));
    assert!(
        https_local.excerpt.contains("blocked range (loopback)"),
        "{}",
        https_local.excerpt
    );
    // Plain http is refused without the insecure setting, whatever the address.
    let plain = secure.send(request("http://203.0.113.9/"));
    assert_eq!(
        plain.excerpt,
        "Not sent: only https:// addresses are allowed."
    );
    // With the insecure setting, loopback is reached: the receiver answers.
    let receiver = Receiver::start();
    let reached = strict.send(request(&receiver.url));
    assert_eq!(reached.excerpt, "answer 200");
    assert_eq!(receiver.arrivals().len(), 1);
}

#[test]
fn a_server_killed_before_the_answer_sends_again_after_restart_and_nothing_is_lost() {
    let db = TestDb::new();
    let receiver = Receiver::start();
    receiver.script([Reply::Hold]);
    let env = [
        ("CREDITDESK_WEBHOOKS_ALLOW_INSECURE", "true"),
        ("CREDITDESK_WEBHOOKS_TIMEOUT", "1"),
        ("RUST_LOG", "warn"),
    ];
    let first = Served::start(&db.url, &env);
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    common::configure(&mut conn, "EUR", "1.00");
    let (id, secret) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    for by in [10, 20, 30] {
        change(&mut conn, user, by).unwrap();
    }
    let held = receiver.wait_for(1);
    first.kill_9();
    receiver.release();
    let second = Served::start(&db.url, &env);
    let arrived = receiver.wait_for(4);
    assert!(arrived.iter().all(|a| a.signed_by(&secret)));
    assert_eq!(
        arrived[1].id, held[0].id,
        "the unanswered attempt is sent again"
    );
    let mut seen: Vec<String> = Vec::new();
    for arrival in &arrived {
        if !seen.contains(&arrival.id) {
            seen.push(arrival.id.clone());
        }
    }
    assert_eq!(seen.len(), 3, "deduplicated by webhook-id, nothing missing");
    let amounts: Vec<i64> = arrived[1..]
        .iter()
        .map(|a| a.json()["data"]["transaction"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [10, 20, 30], "in order");
    // The restarted server writes the answers down after its batch: it runs until then.
    wait_until("all delivered", || {
        deliveries(&mut conn, id)
            .iter()
            .all(|(status, _)| status == "delivered")
    });
    drop(second);
    // The unanswered attempt counts; the killed server had written down the attempts of its
    // whole batch, so the two it never sent may count one too many (docs/webhooks.md).
    let attempts: Vec<i32> = deliveries(&mut conn, id).iter().map(|d| d.1).collect();
    assert_eq!(attempts[0], 2, "{attempts:?}");
    assert!(
        attempts[1..].iter().all(|&a| (1..=2).contains(&a)),
        "{attempts:?}"
    );
}

#[test]
fn two_servers_on_one_database_never_send_an_attempt_twice() {
    let db = TestDb::new();
    let receiver = Receiver::start();
    let env = [
        ("CREDITDESK_WEBHOOKS_ALLOW_INSECURE", "true"),
        ("RUST_LOG", "warn"),
    ];
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    common::configure(&mut conn, "EUR", "1.00");
    let mut secrets = Vec::new();
    for _ in 0..3 {
        secrets.push(endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]).1);
    }
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| Served::start(&db.url, &env));
        let b = s.spawn(|| Served::start(&db.url, &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    let users: Vec<i64> = (1..=4).map(|n| common::customer(&mut conn, n)).collect();
    let rows = 60;
    for i in 0..rows {
        change(&mut conn, users[i % users.len()], 1 + i as i64).unwrap();
    }
    receiver.wait_for(rows * secrets.len());
    std::thread::sleep(Duration::from_millis(800));
    drop((first, second));
    let arrived = receiver.arrivals();
    assert_eq!(arrived.len(), rows * secrets.len(), "no attempt sent twice");
    let mut per_endpoint: HashMap<usize, Vec<i64>> = HashMap::new();
    for arrival in &arrived {
        let which = secrets
            .iter()
            .position(|s| arrival.signed_by(s))
            .expect("signed by one endpoint's secret");
        per_endpoint.entry(which).or_default().push(
            arrival.json()["data"]["transaction"]["record_id"]
                .as_i64()
                .unwrap(),
        );
    }
    for (which, records) in per_endpoint {
        let mut sorted = records.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(records, sorted, "endpoint {which}: in order, each once");
        assert_eq!(records.len(), rows);
    }
}

#[test]
fn metrics_count_deliveries_and_show_the_queue() {
    let app = app();
    let receiver = Receiver::start();
    let mut conn = app.conn();
    let (id, _) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    receiver.wait_for(1);
    wait_for_answers(&mut conn, id);
    let metrics = app.client().get("/metrics").body;
    assert!(
        metrics.contains("creditdesk_webhook_deliveries_total{outcome=\"delivered\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("creditdesk_webhook_queue_depth 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("creditdesk_webhook_oldest_pending_seconds 0"),
        "{metrics}"
    );
}

#[test]
fn two_dispatchers_racing_for_an_endpoint_never_both_claim_it() {
    use creditdesk::config::WebhookSettings;
    use creditdesk::webhooks::dispatch::Dispatcher;
    use std::sync::{Arc, Barrier};
    let db = TestDb::new();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    common::configure(&mut conn, "EUR", "1.00");
    // Nobody listens at this address; no dispatcher sends here, they only claim.
    let (id, _) = endpoint(
        &mut conn,
        "http://127.0.0.1:9/",
        &[EventType::CreditChanged],
    );
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    let dispatchers = [
        Dispatcher::new(pool.clone(), WebhookSettings::default()),
        Dispatcher::new(pool.clone(), WebhookSettings::default()),
    ];
    for round in 0..40 {
        let barrier = Arc::new(Barrier::new(2));
        let claimed: Vec<Vec<i64>> = std::thread::scope(|s| {
            let racing: Vec<_> = dispatchers
                .iter()
                .map(|dispatcher| {
                    let barrier = barrier.clone();
                    s.spawn(move || {
                        barrier.wait();
                        dispatcher.claim_due(8).unwrap()
                    })
                })
                .collect();
            racing.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let winners = claimed.iter().filter(|c| c.contains(&id)).count();
        assert_eq!(winners, 1, "round {round}: {claimed:?}");
        // Let the claim lapse for the next round.
        diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::claimed_until.eq(None::<time::PrimitiveDateTime>))
            .execute(&mut conn)
            .unwrap();
    }
}

#[test]
fn imports_and_expiries_send_their_rows_and_old_deliveries_are_forgotten() {
    use creditdesk::ledger::openings::{open_accounts, Opening};
    use creditdesk::webhooks::outbox::{purge, KEEP_FOR};
    let app = app();
    let receiver = Receiver::start();
    let mut conn = app.conn();
    let (_, secret) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let users: Vec<i64> = (1..=2).map(|n| common::customer(&mut conn, n)).collect();
    let openings: Vec<Opening> = users
        .iter()
        .zip([100, 200])
        .map(|(&user_id, credits)| Opening {
            user_id,
            currency: common::currency("EUR"),
            credits,
            expires_at: None,
        })
        .collect();
    let note = creditdesk::domain::Note::parse("opening balances").unwrap();
    open_accounts(&mut conn, &openings, &note, ledger::Actor::System).unwrap();
    let yesterday = now_utc().date().previous_day().unwrap();
    common::ended_grant(&mut conn, users[0], "EUR", 30, yesterday, "ends yesterday");
    let arrived = receiver.wait_for(4);
    assert!(arrived.iter().all(|a| a.signed_by(&secret)));
    let rows: Vec<(String, i64, i64)> = arrived
        .iter()
        .map(|a| {
            let row = &a.json()["data"]["transaction"];
            (
                row["type"].as_str().unwrap().to_owned(),
                row["amount"].as_i64().unwrap(),
                row["balance_after"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("imported".to_owned(), 100, 100),
            ("imported".to_owned(), 200, 200),
            ("admin_added".to_owned(), 30, 130),
            ("expired".to_owned(), -30, 100),
        ]
    );
    assert_eq!(arrived[0].json()["data"]["account"]["version"], 1);
    assert_eq!(arrived[3].json()["data"]["account"]["version"], 3);
    wait_until("all delivered", || {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq("delivered"))
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap()
            == 4
    });
    // Thirty days on, delivered deliveries and their events are forgotten; a pending one
    // and its event are kept.
    let user = users[1];
    let later = now_utc() + KEEP_FOR + time::Duration::minutes(1);
    assert_eq!(purge(&mut conn, now_utc() - KEEP_FOR).unwrap(), 0);
    receiver.script([Reply::Hold]);
    change(&mut conn, user, 1).unwrap();
    receiver.wait_for(5);
    assert_eq!(purge(&mut conn, later).unwrap(), 4);
    assert_eq!(
        event_count(&mut conn),
        1,
        "the pending delivery's event is kept"
    );
    receiver.release();
}

#[test]
fn a_server_told_not_to_send_keeps_the_events_waiting() {
    // TestApp's default: CREDITDESK_WEBHOOKS_SEND=false.
    let app = TestApp::spawn_with(|settings| settings.webhooks.allow_insecure = true);
    let receiver = Receiver::start();
    let mut conn = app.conn();
    let (id, _) = endpoint(&mut conn, &receiver.url, &[EventType::CreditChanged]);
    let user = common::customer(&mut conn, 1);
    change(&mut conn, user, 5).unwrap();
    endpoints::ping(&mut conn, id, &Audit::system()).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(receiver.arrivals().is_empty());
    assert_eq!(
        deliveries(&mut conn, id),
        [("pending".to_owned(), 0), ("pending".to_owned(), 0)]
    );
}
