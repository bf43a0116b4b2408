//! The reading side of expiry (docs/console.md, docs/exports.md, docs/api.md): a grant's
//! `expires_at` in the credit list, its CSV and the API; `expired` rows in the type filter
//! and the finance summary; the credits expiring within 30 days on the balances list and its
//! CSV; and the dashboard's breakage forecast. Grants are made through the ledger; grants
//! that have ended are posted with a past day and expired as the scheduler would.

mod common;

use std::collections::HashMap;

use common::api::Api;
use common::{configure, customer, Client, TestApp};
use creditdesk::db::models::CreditTransaction;
use creditdesk::domain::{expiry_label, Change, Role};
use creditdesk::ledger;
use serde_json::json;
use time::{Date, Duration, OffsetDateTime};

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// A change by the console (`admin_added` / `admin_reduced`), expiring at the end of
/// `expires_at` when it adds credits; returns its ledger row.
fn change(
    app: &TestApp,
    user_id: i64,
    code: &str,
    by: i64,
    expires_at: Option<Date>,
) -> CreditTransaction {
    ledger::adjust(
        &mut app.conn(),
        common::adjustment(user_id, code, Change::By(by), expires_at),
    )
    .expect("change")
    .transaction
}

/// A grant of `credits` that ended at the end of `ended_on` (before today), expired as the
/// scheduler does; returns the `expired` row.
fn expired_grant(
    app: &TestApp,
    user_id: i64,
    code: &str,
    credits: i64,
    ended_on: Date,
) -> CreditTransaction {
    common::ended_grant(
        &mut app.conn(),
        user_id,
        code,
        credits,
        ended_on,
        "ended campaign",
    )
}

fn parse_csv(body: &str) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            header
                .iter()
                .cloned()
                .zip(record.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn get_ok(client: &mut Client, path: &str) -> String {
    let reply = client.get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.body
}

fn record_ids(body: &str) -> Vec<i64> {
    body.split("data-record-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

#[test]
fn a_grant_s_expiry_shows_in_the_list_its_csv_and_the_api() {
    let app = TestApp::spawn();
    let user = customer(&mut app.conn(), 1);
    let api = Api::new(&app, "Checkout");
    let day = today() + Duration::days(45);

    let granted = api.post(
        &format!("/users/{user}/promo-credit/adjustments"),
        &json!({"currency": "EUR", "change": 40, "note": "Spring", "expires_at": day.to_string()}),
    );
    let reduced = api.post(
        &format!("/users/{user}/promo-credit/adjustments"),
        &json!({"currency": "EUR", "change": -5, "note": "Correction"}),
    );

    assert_eq!(granted.status, 201, "{}", granted.body);
    assert_eq!(
        granted.json["transaction"]["expires_at"],
        json!(day.to_string())
    );
    assert_eq!(reduced.status, 201, "{}", reduced.body);
    assert_eq!(
        reduced.json["transaction"]["expires_at"],
        serde_json::Value::Null,
        "present, and null where there is no expiry"
    );
    let listed = api.get(&format!("/users/{user}/promo-credit/transactions"));
    let expiries: Vec<&serde_json::Value> = listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["expires_at"])
        .collect();
    assert_eq!(expiries, [&json!(null), &json!(day.to_string())]);

    let document: serde_json::Value =
        serde_json::from_str(&app.client().get("/api/openapi.json").body).unwrap();
    let field = &document["components"]["schemas"]["TransactionJson"]["properties"]["expires_at"];
    assert_eq!(field["format"], "date", "{field}");
    assert!(
        field["type"] == json!(["string", "null"]) || field["type"] == json!(["null", "string"]),
        "{field}"
    );

    let mut support = app.signed_in(Role::Support);
    let page = get_ok(&mut support, "/promo-credits");
    assert!(
        page.contains(&format!("expires {}", expiry_label(day))),
        "the grant's row says when it expires"
    );
    assert_eq!(page.matches("class=\"small expiry\"").count(), 1);
    let (header, rows) = parse_csv(&get_ok(&mut support, "/promo-credits/export.csv"));
    assert_eq!(header.last().map(String::as_str), Some("expires_at"));
    let by_type: HashMap<&str, &str> = rows
        .iter()
        .map(|row| (row["type"].as_str(), row["expires_at"].as_str()))
        .collect();
    assert_eq!(
        by_type,
        HashMap::from([("api_added", day.to_string().as_str()), ("api_reduced", "")])
    );
}

#[test]
fn the_type_filter_offers_and_selects_expired_rows() {
    let app = TestApp::spawn();
    let ended = customer(&mut app.conn(), 1);
    let other = customer(&mut app.conn(), 2);
    change(&app, ended, "EUR", 50, None);
    let expired = expired_grant(&app, ended, "EUR", 6, today() - Duration::days(1));
    change(&app, other, "EUR", 9, Some(today() + Duration::days(3)));
    let mut support = app.signed_in(Role::Support);

    let form = get_ok(&mut support, "/promo-credits");
    let page = get_ok(&mut support, "/promo-credits?type=expired");
    let export = get_ok(&mut support, "/promo-credits/export.csv?type=expired");
    let both = get_ok(
        &mut support,
        "/promo-credits/export.csv?type=expired&type=admin_added",
    );

    assert!(form.contains("name=\"type\" value=\"expired\""), "offered");
    assert_eq!(record_ids(&page), [expired.id]);
    assert!(page.contains("1 record · 0 credits added · 6 credits used"));
    assert!(page.contains("Expired"), "labelled");
    let (_, rows) = parse_csv(&export);
    let ids: Vec<String> = rows.iter().map(|row| row["record_id"].clone()).collect();
    assert_eq!(ids, [expired.id.to_string()]);
    assert_eq!(rows[0]["type"], "expired");
    assert_eq!(rows[0]["amount"], "-6");
    assert_eq!(rows[0]["by"], "system");
    let (_, rows) = parse_csv(&both);
    assert_eq!(rows.len(), 4, "the expired row and the three grants");
}

#[test]
fn the_summary_subtracts_expired_credits() {
    let app = TestApp::spawn();
    let user = customer(&mut app.conn(), 1);
    change(&app, user, "EUR", 100, None);
    expired_grant(&app, user, "EUR", 30, today() - Duration::days(2));
    change(&app, user, "EUR", -5, None);
    let mut finance = app.signed_in(Role::Operator);
    let period = format!("from={}&to={}", today(), today());

    let csv = get_ok(
        &mut finance,
        &format!("/promo-credits/summary.csv?{period}"),
    );
    let page = get_ok(&mut finance, &format!("/promo-credits/summary?{period}"));

    let (header, lines) = parse_csv(&csv);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        at("expired"),
        at("api_reduced") + 1,
        "right after api_reduced"
    );
    assert_eq!(at("closing_balance"), at("expired") + 1);
    let line = &lines[0];
    let n = |column: &str| line[column].parse::<i64>().unwrap();
    assert_eq!(n("expired"), 30);
    assert_eq!(n("admin_added"), 130);
    assert_eq!(n("admin_reduced"), 5);
    assert_eq!(
        n("opening_balance")
            + n("admin_added")
            + n("api_added")
            + n("imported")
            + n("invoice_refunded")
            - n("invoice_applied")
            - n("admin_reduced")
            - n("api_reduced")
            - n("expired"),
        n("closing_balance")
    );
    assert_eq!(n("closing_balance"), 95, "the balance");
    assert!(page.contains("<th class=\"num\">Expired</th>"));
    assert!(page.contains("− reduced by API − expired"));
}

#[test]
fn balances_show_the_credits_expiring_within_30_days() {
    let app = TestApp::spawn();
    configure(&mut app.conn(), "USD", "1.00");
    let (a, b, c) = (
        customer(&mut app.conn(), 1),
        customer(&mut app.conn(), 2),
        customer(&mut app.conn(), 3),
    );
    let day = |n: i64| Some(today() + Duration::days(n));
    change(&app, a, "EUR", 10, day(0)); // ends tonight: counts
    change(&app, a, "EUR", 20, day(29)); // the last day that counts
    change(&app, a, "EUR", 40, day(30)); // one day too late
    change(&app, a, "EUR", 80, None);
    change(&app, a, "EUR", -4, None); // spent from the soonest grant: 6 of it left
    change(&app, b, "EUR", 7, day(1));
    change(&app, b, "USD", 9, day(2));
    change(&app, c, "EUR", 50, None);
    expired_grant(&app, c, "EUR", 3, today() - Duration::days(1));
    let mut support = app.signed_in(Role::Support);

    let page = get_ok(&mut support, "/promo-credits/balances?per_page=20");
    let csv = get_ok(&mut support, "/promo-credits/balances/export.csv");
    let past = get_ok(
        &mut support,
        &format!("/promo-credits/balances/export.csv?as_of={}", today()),
    );
    let past_page = get_ok(
        &mut support,
        &format!("/promo-credits/balances?as_of={}", today()),
    );

    let (header, rows) = parse_csv(&csv);
    assert_eq!(
        header.join(","),
        "user_id,external_id,user_email,currency,balance,currency_value,enabled,total_added,total_deducted,updated_at,expiring_30_days"
    );
    let expiring: HashMap<(String, String), String> = rows
        .iter()
        .map(|row| {
            (
                (row["user_id"].clone(), row["currency"].clone()),
                row["expiring_30_days"].clone(),
            )
        })
        .collect();
    let key = |user: i64, code: &str| (user.to_string(), code.to_owned());
    assert_eq!(
        expiring,
        HashMap::from([
            (key(a, "EUR"), "26".to_owned()),
            (key(b, "EUR"), "7".to_owned()),
            (key(b, "USD"), "9".to_owned()),
            (key(c, "EUR"), "0".to_owned()),
        ])
    );
    assert!(page.contains("Expiring within 30 days"));
    for credits in [26, 7, 9, 0] {
        assert!(
            page.contains(&format!("data-expiring=\"{credits}\"")),
            "{credits} on the page"
        );
    }
    let (_, rows) = parse_csv(&past);
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|row| row["expiring_30_days"].is_empty()),
        "not replayed for a past day: empty"
    );
    assert!(!past_page.contains("Expiring within 30 days"));
}

/// The first day of the month `n` months after `day`'s.
fn month_start(day: Date, n: u32) -> Date {
    let mut date = Date::from_calendar_date(day.year(), day.month(), 1).unwrap();
    for _ in 0..n {
        date = (date + Duration::days(31)).replace_day(1).unwrap();
    }
    date
}

/// `data-month` → `data-credits` of the forecast row of `code`, and its total.
fn forecast(body: &str, code: &str) -> (Vec<(String, i64)>, i64) {
    let table = body
        .split("<table id=\"breakage-forecast\">")
        .nth(1)
        .expect("the forecast table");
    let row = table
        .split(&format!("<tr data-currency=\"{code}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("a row for {code}"))
        .split("</tr>")
        .next()
        .unwrap();
    let attribute = |text: &str, name: &str| -> String {
        text.split(&format!("{name}=\""))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let months = row
        .split("data-month=\"")
        .skip(1)
        .map(|cell| {
            let month = cell.split('"').next().unwrap().to_owned();
            (month, attribute(cell, "data-credits").parse().unwrap())
        })
        .collect();
    (months, attribute(row, "data-total").parse().unwrap())
}

#[test]
fn the_dashboard_forecasts_breakage_per_month() {
    let app = TestApp::spawn();
    configure(&mut app.conn(), "USD", "0.25");
    let (a, b) = (customer(&mut app.conn(), 1), customer(&mut app.conn(), 2));
    let now = today();
    let last_of_this_month = month_start(now, 1) - Duration::days(1);
    change(&app, a, "EUR", 10, Some(now));
    change(&app, a, "EUR", 20, Some(last_of_this_month));
    change(&app, a, "EUR", 30, Some(month_start(now, 1)));
    change(
        &app,
        b,
        "EUR",
        40,
        Some(month_start(now, 6) - Duration::days(1)),
    );
    change(&app, b, "EUR", 50, Some(month_start(now, 6))); // after the sixth month
    change(&app, b, "EUR", 60, None);
    change(&app, a, "EUR", -4, None); // spent from tonight's grant: 6 left
    expired_grant(&app, b, "EUR", 5, now - Duration::days(1));
    change(
        &app,
        b,
        "USD",
        8,
        Some(month_start(now, 2) + Duration::days(3)),
    );
    let mut support = app.signed_in(Role::Support);

    let page = get_ok(&mut support, "/");

    let keys: Vec<String> = (0..6)
        .map(|n| {
            let start = month_start(now, n);
            format!("{}-{:02}", start.year(), u8::from(start.month()))
        })
        .collect();
    let expected =
        |credits: [i64; 6]| -> Vec<(String, i64)> { keys.iter().cloned().zip(credits).collect() };
    assert_eq!(
        forecast(&page, "EUR"),
        (expected([26, 30, 0, 0, 0, 40]), 96)
    );
    assert_eq!(forecast(&page, "USD"), (expected([0, 0, 8, 0, 0, 0]), 8));
    assert!(page.contains("2.00 USD"), "8 credits at 0.25");
    assert!(page.contains("96.00 EUR"));
    // "1 Dec 2026" → "Dec 2026".
    let label = expiry_label(month_start(now, 0))[2..].to_owned();
    assert!(
        page.contains(&format!("<th class=\"num\" scope=\"col\">{label}</th>")),
        "{label}"
    );
}
