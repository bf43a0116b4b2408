//! The JSON API over HTTP, on the database `TEST_DATABASE_URL` names (docs/api.md): every
//! route, every error code, idempotency and one payment per invoice under concurrency,
//! refunds, the preview table of tests/data/preview_cases.csv, rate limits, and the OpenAPI
//! document against the route table.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use common::api::{Answer, Api};
use common::{configure_with, currency, set_balance, TestApp};
use creditdesk::db::schema::{activity_log, credit_transactions, idempotency_keys};
use creditdesk::domain::Role;
use creditdesk::ledger;
use creditdesk::routes::API_ROUTES;
use creditdesk::store::activity::Audit;
use diesel::prelude::*;
use serde_json::{json, Value};

fn ledger_rows(app: &TestApp) -> i64 {
    credit_transactions::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn activity_by(app: &TestApp, action: &str) -> Vec<(String, String)> {
    activity_log::table
        .filter(activity_log::action.eq(action))
        .order(activity_log::id)
        .select((activity_log::actor, activity_log::target))
        .load(&mut app.conn())
        .unwrap()
}

#[test]
fn customers_are_created_found_and_recorded() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let ann = json!({"email": "Ann@Example.com", "external_id": "cus_ann", "first_name": "Ann", "country": "de"});

    let created = api.post("/users", &ann);
    let id = created.json["id"].as_i64().unwrap();
    let same_email = api.post("/users", &json!({"email": "ann@example.COM"}));
    let same_external = api.post(
        "/users",
        &json!({"email": "b@example.com", "external_id": "cus_ann"}),
    );
    let bad = api.post("/users", &json!({"email": "not an email", "country": "XX"}));
    let by_email = api.get("/users?email=ANN%40example.com");
    let by_external = api.get("/users?external_id=cus_ann");
    let nobody = api.get("/users?email=nobody%40example.com");
    let shown = api.get(&format!("/users/{id}"));

    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json["email"], "Ann@Example.com");
    assert_eq!(created.json["country"], "DE");
    assert_eq!(created.json["last_name"], "");
    assert_eq!(
        (same_email.status, same_email.code(), same_email.field()),
        (409, "already_exists", "email")
    );
    assert_eq!(
        (
            same_external.status,
            same_external.code(),
            same_external.field()
        ),
        (409, "already_exists", "external_id")
    );
    assert_eq!(
        (bad.status, bad.code(), bad.field()),
        (422, "validation_failed", "email")
    );
    assert_eq!(by_email.json["data"][0]["id"], id);
    assert_eq!(by_external.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(nobody.json, json!({"data": [], "next_cursor": null}));
    assert_eq!(shown.json, created.json);
    for missing in [
        "/users/999999",
        "/users/0",
        "/users/-1",
        "/users/abc",
        "/users/1.5",
    ] {
        let answer = api.get(missing);
        assert_eq!(
            (answer.status, answer.code()),
            (404, "not_found"),
            "{missing}"
        );
    }
    assert_eq!(
        activity_by(&app, "customer.create"),
        [(
            "Checkout".to_owned(),
            format!("customer {id} (Ann@Example.com)")
        )]
    );
}

#[test]
fn customer_lists_page_by_cursor() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    for n in 1..=5 {
        common::customer(&mut app.conn(), n);
    }
    let mut seen = Vec::new();
    let mut path = "/users?limit=2".to_owned();
    loop {
        let page = api.get(&path);
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        match page.json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[test]
fn an_adjustment_may_give_credits_an_expiry() {
    use creditdesk::db::schema::credit_grants;
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout (prod)");
    let user = app.customer_with(1, 10);
    let path = format!("/users/{user}/promo-credit/adjustments");
    let today = creditdesk::db::now_utc().date();
    let day = |days: i64| (today + time::Duration::days(days)).to_string();
    let too_far = (creditdesk::domain::latest_expiry(today) + time::Duration::days(1)).to_string();

    let added = api.post(
        &path,
        &json!({"currency": "EUR", "change": 25, "note": "Autumn", "expires_at": day(30)}),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let rows: Vec<(i64, Option<time::Date>)> = credit_grants::table
        .order(credit_grants::id)
        .select((credit_grants::remaining, credit_grants::expires_at))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        rows,
        [(10, None), (25, Some(today + time::Duration::days(30)))]
    );

    let refused = [
        json!({"currency": "EUR", "change": 5, "note": "x", "expires_at": day(-1)}),
        json!({"currency": "EUR", "change": 5, "note": "x", "expires_at": too_far}),
        json!({"currency": "EUR", "change": 5, "note": "x", "expires_at": "31.12.2030"}),
        json!({"currency": "EUR", "change": 5, "note": "x", "expires_at": "2030-02-30"}),
        json!({"currency": "EUR", "change": 5, "note": "x", "expires_at": "2030-1-1"}),
        json!({"currency": "EUR", "change": -5, "note": "x", "expires_at": day(3)}),
        json!({"currency": "EUR", "set_to": 1, "note": "x", "expires_at": day(3)}),
    ];
    for body in refused {
        let answer = api.post(&path, &body);
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert_eq!(answer.code(), "validation_failed", "{body}");
        assert_eq!(answer.field(), "expires_at", "{body}");
    }
    let wrong_type = api.post(
        &path,
        &json!({"currency": "EUR", "change": 5, "note": "x", "expires_at": 20301231}),
    );
    assert_eq!(wrong_type.status, 422, "{}", wrong_type.body);
    assert_eq!(wrong_type.field(), "expires_at");
    let null = api.post(
        &path,
        &json!({"currency": "EUR", "change": 5, "note": "no expiry", "expires_at": null}),
    );
    assert_eq!(null.status, 201, "{}", null.body);
    app.assert_verified();
}

#[test]
fn adjustments_are_ledger_rows_made_by_the_key() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout (prod)");
    let user = app.customer_with(1, 0);
    let path = format!("/users/{user}/promo-credit/adjustments");

    let added = api.post(
        &path,
        &json!({"currency": "EUR", "change": 100, "note": "Welcome", "reason": "promotion"}),
    );
    let set = api.post(
        &path,
        &json!({"currency": "EUR", "set_to": 30, "note": "Correction", "expected_version": 1}),
    );
    let stale = api.post(
        &path,
        &json!({"currency": "EUR", "change": 5, "note": "late", "expected_version": 1}),
    );
    let below = api.post(
        &path,
        &json!({"currency": "EUR", "change": -31, "note": "too much"}),
    );
    let same = api.post(
        &path,
        &json!({"currency": "EUR", "set_to": 30, "note": "no change"}),
    );
    let above = api.post(
        &path,
        &json!({"currency": "EUR", "change": 1_000_000_000_000i64, "note": "too much"}),
    );
    let unknown = api.post(
        "/users/999999/promo-credit/adjustments",
        &json!({"currency": "EUR", "change": 1, "note": "x"}),
    );
    let not_offered = api.post(&path, &json!({"currency": "USD", "change": 1, "note": "x"}));
    let accounts = api.get(&format!("/users/{user}/promo-credit"));
    let history = api.get(&format!(
        "/users/{user}/promo-credit/transactions?currency=EUR&limit=1"
    ));
    let older = api.get(&format!(
        "/users/{user}/promo-credit/transactions?limit=1&cursor={}",
        history.json["next_cursor"].as_str().unwrap()
    ));
    configure_with(&mut app.conn(), "EUR", "1.00", [false, false, true]);
    let disabled = api.post(&path, &json!({"currency": "EUR", "change": 1, "note": "x"}));

    assert_eq!(added.status, 201, "{}", added.body);
    let row = &added.json["transaction"];
    assert_eq!(
        (row["type"].as_str(), row["reason"].as_str()),
        (Some("api_added"), Some("promotion"))
    );
    assert_eq!(
        (row["amount"].as_i64(), row["balance_after"].as_i64()),
        (Some(100), Some(100))
    );
    assert_eq!(row["by"], "Checkout (prod)");
    assert_eq!(row["currency_value"], "100.00");
    assert_eq!(added.json["account"]["version"], 1);
    assert_eq!(set.status, 201, "{}", set.body);
    assert_eq!(set.json["transaction"]["type"], "api_reduced");
    assert_eq!(set.json["transaction"]["amount"], -70);
    assert_eq!((stale.status, stale.code()), (409, "version_conflict"));
    assert_eq!((below.status, below.code()), (422, "insufficient_credits"));
    assert_eq!(
        (same.status, same.code(), same.field()),
        (422, "validation_failed", "set_to")
    );
    assert_eq!((above.status, above.code()), (422, "validation_failed"));
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    assert_eq!((not_offered.status, not_offered.field()), (422, "currency"));
    assert_eq!(
        (disabled.status, disabled.code()),
        (422, "currency_disabled")
    );
    assert_eq!(
        accounts.json,
        json!({"user_id": user, "accounts": [{"currency": "EUR", "balance": 30, "currency_value": "30.00",
            "enabled": true, "total_added": 100, "total_deducted": 70, "version": 2}]})
    );
    assert_eq!(history.json["data"][0]["note"], "Correction");
    assert_eq!(older.json["data"][0]["note"], "Welcome");
    assert_eq!(older.json["next_cursor"], Value::Null);

    // The console shows the key's changes like an admin's, by the key's name.
    let mut owner = app.signed_in(Role::Owner);
    let list = owner.get("/promo-credits");
    assert!(list.body.contains("Added by API") && list.body.contains("Checkout (prod)"));
    let csv = owner.get("/promo-credits/export.csv");
    assert!(
        csv.body
            .contains(",api_added,promotion,100,0,100,100.00,1.00,Checkout (prod),Welcome,"),
        "{}",
        csv.body
    );
    let adjusted = activity_by(&app, "credit.adjust");
    assert_eq!(adjusted.len(), 2);
    assert!(adjusted.iter().all(|(actor, _)| actor == "Checkout (prod)"));
    app.assert_verified();
}

/// Every POST route of the API, with a body it accepts.
fn writes(user: i64) -> Vec<(String, Value)> {
    vec![
        ("/users".to_owned(), json!({"email": "new@example.com"})),
        (
            format!("/users/{user}/promo-credit/adjustments"),
            json!({"currency": "EUR", "change": 1, "note": "n"}),
        ),
        (
            format!("/users/{user}/promo-credit/preview"),
            json!({"currency": "EUR", "invoice_amount": "1.00"}),
        ),
        (
            format!("/users/{user}/promo-credit/payments"),
            json!({"invoice_id": "INV-9", "currency": "EUR", "invoice_amount": "1.00"}),
        ),
        (
            "/promo-credit/payments/INV-9/refunds".to_owned(),
            json!({"credits": 1}),
        ),
    ]
}

#[test]
fn bodies_and_queries_are_read_strictly_on_every_route() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let user = app.customer_with(1, 100);
    let rows_before = ledger_rows(&app);
    for (path, good) in writes(user) {
        let mut unknown = good.clone();
        unknown["chagne"] = json!(1);
        let answer = api.post(&path, &unknown);
        assert_eq!(
            (answer.status, answer.field()),
            (422, "chagne"),
            "{path}: {}",
            answer.body
        );
        assert!(answer.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chagne"));

        for (field, value) in good.as_object().unwrap() {
            let wrong = if value.is_string() {
                json!(12)
            } else {
                json!("12")
            };
            let mut body = good.clone();
            body[field] = wrong;
            let answer = api.post(&path, &body);
            assert_eq!(
                (answer.status, answer.field()),
                (422, field.as_str()),
                "{path} {field}: {}",
                answer.body
            );
            for odd in [
                json!(null),
                json!([1]),
                json!({"a": 1}),
                json!(1.5),
                json!(true),
            ] {
                let mut body = good.clone();
                body[field] = odd.clone();
                let answer = api.post(&path, &body);
                assert!(
                    matches!(answer.status, 200 | 201 | 422 | 404),
                    "{path} {field}={odd}: {}",
                    answer.body
                );
                if answer.status == 422 {
                    assert_eq!(answer.field(), field.as_str(), "{path} {field}={odd}");
                }
            }
        }
        for (body, status) in [
            ("{", 400),
            ("[]", 422),
            ("\"text\"", 422),
            ("null", 422),
            ("{\"a\":1,}", 400),
        ] {
            let answer = api.post_raw(&path, body, &[]);
            assert_eq!(answer.status, status, "{path} {body}: {}", answer.body);
            assert_eq!(answer.code(), "validation_failed");
        }
        let huge = format!("{{\"note\": \"{}\"}}", "x".repeat(20_000));
        assert_eq!(api.post_raw(&path, &huge, &[]).status, 413, "{path}");
        let form = api.post_raw(
            &path,
            "a=1",
            &[("Content-Type", "application/x-www-form-urlencoded")],
        );
        assert_eq!(
            (form.status, form.code()),
            (415, "validation_failed"),
            "{path}"
        );
        let takes_a_key = !path.ends_with("/preview");
        for key in ["", &"k".repeat(256)].into_iter().filter(|_| takes_a_key) {
            let answer = api.post_raw(&path, &good.to_string(), &[("Idempotency-Key", key)]);
            assert_eq!(
                (answer.status, answer.field()),
                (422, "Idempotency-Key"),
                "{path} key {key:?}"
            );
        }
    }
    for path in [
        "/users?emial=a",
        &format!("/users/{user}/promo-credit/transactions?curency=EUR"),
    ] {
        let answer = api.get(path);
        assert_eq!(
            (answer.status, answer.code()),
            (422, "validation_failed"),
            "{path}"
        );
        assert!(
            answer.body.contains("emial") || answer.body.contains("curency"),
            "{}",
            answer.body
        );
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("cursor=-1", "cursor"),
        ("currency=eur", "currency"),
    ] {
        let answer = api.get(&format!("/users/{user}/promo-credit/transactions?{query}"));
        assert_eq!((answer.status, answer.field()), (422, field), "{query}");
    }
    assert_eq!(api.get("/users?email=not-an-email").field(), "email");
    assert_eq!(
        ledger_rows(&app),
        rows_before,
        "nothing written by a refused request"
    );
}

#[test]
fn money_fields_refuse_what_is_not_exact() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let user = app.customer_with(1, 100);
    for amount in [
        "1.001",
        "-1",
        "1e3",
        "",
        " 1",
        "1,50",
        "0x10",
        "１",
        "1000000000000.01",
        "NaN",
    ] {
        let preview = json!({"currency": "EUR", "invoice_amount": amount});
        let mut payment = preview.clone();
        payment["invoice_id"] = json!("INV-1");
        for (route, body) in [("preview", preview), ("payments", payment)] {
            let answer = api.post(&format!("/users/{user}/promo-credit/{route}"), &body);
            assert_eq!(
                (answer.status, answer.field()),
                (422, "invoice_amount"),
                "{route} {amount:?}"
            );
        }
    }
    for bad in [json!(-1), json!(1_000_000_000_001i64)] {
        let answer = api.post(
            &format!("/users/{user}/promo-credit/preview"),
            &json!({"currency": "EUR", "invoice_amount": "1.00", "apply_credits": bad}),
        );
        assert_eq!(answer.field(), "apply_credits", "{bad}");
    }
    for bad in [json!(0), json!(-5)] {
        let answer = api.post(
            "/promo-credit/payments/INV-1/refunds",
            &json!({"credits": bad}),
        );
        assert_eq!((answer.status, answer.field()), (422, "credits"), "{bad}");
    }
    for id in ["%20INV", "INV%00", "a%E2%80%AEb"] {
        let answer = api.post(&format!("/promo-credit/payments/{id}/refunds"), &json!({}));
        assert_eq!((answer.status, answer.field()), (422, "invoice_id"), "{id}");
    }
}

#[test]
fn an_idempotency_key_answers_once() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let other_key = Api::new(&app, "Back office");
    let user = app.customer_with(1, 0);
    let path = format!("/users/{user}/promo-credit/adjustments");
    let body = json!({"currency": "EUR", "change": 10, "note": "once"});

    let first = api.post_once(&path, "retry-1", &body);
    let again = api.post_once(
        &path,
        "retry-1",
        &json!({"note": "once", "change": 10, "currency": "EUR"}),
    );
    let other_body = api.post_once(
        &path,
        "retry-1",
        &json!({"currency": "EUR", "change": 11, "note": "once"}),
    );
    let other_api_key = other_key.post_once(&path, "retry-1", &body);
    let other_route = api.post_once("/users", "retry-1", &json!({"email": "x@example.com"}));

    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the first answer, byte for byte");
    assert_eq!(
        (other_body.status, other_body.code()),
        (422, "idempotency_mismatch")
    );
    assert_eq!(other_api_key.status, 201, "keys are scoped to the API key");
    assert_eq!(other_route.status, 201, "and to the route");
    assert_eq!(app.account_state(user), (20, 2, 2));
    let kept: Vec<Option<String>> = credit_transactions::table
        .filter(credit_transactions::user_id.eq(user))
        .select(credit_transactions::idempotency_key)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        kept,
        [Some("retry-1".to_owned()), Some("retry-1".to_owned())]
    );

    // A refused request keeps no key: the retry runs.
    let refused = api.post_once(
        &path,
        "retry-2",
        &json!({"currency": "EUR", "change": -100, "note": "x"}),
    );
    set_balance(&mut app.conn(), user, "EUR", 500);
    let retried = api.post_once(
        &path,
        "retry-2",
        &json!({"currency": "EUR", "change": -100, "note": "x"}),
    );
    assert_eq!((refused.status, retried.status), (422, 201));

    // After 24 hours a key is forgotten.
    let day_ago = creditdesk::db::now_utc() - time::Duration::hours(25);
    diesel::update(idempotency_keys::table)
        .set(idempotency_keys::created_at.eq(day_ago))
        .execute(&mut app.conn())
        .unwrap();
    let later = api.post_once(
        &path,
        "retry-1",
        &json!({"currency": "EUR", "change": 11, "note": "once"}),
    );
    assert_eq!(later.status, 201, "{}", later.body);
    let purged =
        creditdesk::store::idempotency::purge(&mut app.conn(), creditdesk::db::now_utc()).unwrap();
    assert_eq!(purged, 3, "the other expired keys");
}

/// Sends `count` copies of the same request at once; their answers.
fn at_once(api: &Api, count: usize, path: &str, key: Option<&str>, body: &Value) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(count));
    let threads: Vec<_> = (0..count)
        .map(|_| {
            let (api, barrier, path, body) =
                (api.clone(), barrier.clone(), path.to_owned(), body.clone());
            let key = key.map(str::to_owned);
            std::thread::spawn(move || {
                barrier.wait();
                match key {
                    Some(key) => api.post_once(&path, &key, &body),
                    None => api.post(&path, &body),
                }
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn concurrent_requests_with_one_key_write_once() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let user = app.customer_with(1, 0);
    let body = json!({"currency": "EUR", "change": 7, "note": "at once"});

    let answers = at_once(
        &api,
        20,
        &format!("/users/{user}/promo-credit/adjustments"),
        Some("same"),
        &body,
    );

    assert!(
        answers.iter().all(|a| a.status == 201),
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a.body == answers[0].body));
    let replayed = answers
        .iter()
        .filter(|a| a.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 19);
    assert_eq!(app.account_state(user), (7, 1, 1));
    app.assert_verified();
}

#[test]
fn an_invoice_is_paid_once_whatever_the_concurrency() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let user = app.customer_with(1, 100);
    let path = format!("/users/{user}/promo-credit/payments");
    let body = json!({"invoice_id": "INV-1", "currency": "EUR", "invoice_amount": "30.00"});

    let answers = at_once(&api, 20, &path, None, &body);
    let other = api.post(
        &path,
        &json!({"invoice_id": "INV-1", "currency": "EUR", "invoice_amount": "31.00"}),
    );
    let other_customer = app.customer_with(2, 100);
    let stolen = api.post(
        &format!("/users/{other_customer}/promo-credit/payments"),
        &body,
    );

    let statuses: BTreeSet<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 201]),
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 1);
    assert!(
        answers.iter().all(|a| a.body == answers[0].body),
        "the same answer to each"
    );
    assert_eq!(answers[0].json["credits_applied"], 30);
    assert_eq!(answers[0].json["transaction"]["type"], "invoice_applied");
    assert_eq!(
        answers[0].json["transaction"]["note"],
        "Applied to invoice INV-1"
    );
    assert_eq!((other.status, other.code()), (409, "invoice_conflict"));
    assert_eq!((stolen.status, stolen.code()), (409, "invoice_conflict"));
    assert_eq!(app.account_state(user), (70, 2, 2));
    assert_eq!(activity_by(&app, "credit.payment").len(), 1);
    app.assert_verified();
}

#[test]
fn payments_follow_the_currency_and_customer_rules() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let user = app.customer_with(1, 100);
    let pay = |invoice: &str, extra: Value| {
        let mut body = json!({"invoice_id": invoice, "currency": "EUR", "invoice_amount": "10.00"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        api.post(&format!("/users/{user}/promo-credit/payments"), &body)
    };

    let with_code = pay("INV-1", json!({"discount_code": true}));
    let without_code = pay("INV-1", json!({"discount_code": false}));
    let nothing = pay("INV-2", json!({"apply_credits": 0}));
    let elsewhere = api.post(
        "/users/999999/promo-credit/payments",
        &json!({"invoice_id": "INV-3", "currency": "EUR", "invoice_amount": "1.00"}),
    );
    let mut admin = app.signed_in(Role::BillingAdmin);
    let switched = admin.post(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "false")],
    );
    let usage_off = pay("INV-4", json!({}));
    admin.post(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "true")],
    );
    configure_with(&mut app.conn(), "EUR", "1.00", [false, false, true]);
    let disabled = pay("INV-5", json!({}));

    assert_eq!(
        (with_code.status, with_code.code()),
        (409, "discount_code_conflict")
    );
    assert_eq!(
        without_code.status, 201,
        "a refused payment does not keep the invoice: {}",
        without_code.body
    );
    assert_eq!(nothing.status, 201);
    assert_eq!(nothing.json["credits_applied"], 0);
    assert_eq!(nothing.json["transaction"], Value::Null);
    assert_eq!((elsewhere.status, elsewhere.code()), (404, "not_found"));
    assert!(switched.status < 400, "{}", switched.body);
    assert_eq!(
        (usage_off.status, usage_off.code()),
        (422, "usage_disabled")
    );
    assert_eq!(
        (disabled.status, disabled.code()),
        (422, "currency_disabled")
    );
    assert_eq!(app.account_state(user).0, 90);
}

#[test]
fn refunds_return_at_most_what_the_invoice_spent() {
    let app = TestApp::spawn();
    configure_with(&mut app.conn(), "EUR", "0.25", [true, false, true]);
    let api = Api::new(&app, "Checkout");
    let user = app.customer_with(1, 100);
    let paid = api.post(
        &format!("/users/{user}/promo-credit/payments"),
        &json!({"invoice_id": "INV/7 2026", "currency": "EUR", "invoice_amount": "10.10"}),
    );
    let refunds = "/promo-credit/payments/INV%2F7%202026/refunds";

    let partial = api.post(refunds, &json!({"credits": 15}));
    let too_many = api.post(refunds, &json!({"credits": 27}));
    configure_with(&mut app.conn(), "EUR", "0.25", [false, false, true]);
    let rest = api.post_raw(refunds, "", &[]);
    let again = api.post(refunds, &json!({}));
    let unknown = api.post("/promo-credit/payments/INV-404/refunds", &json!({}));

    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(
        (
            paid.json["credits_applied"].as_i64(),
            paid.json["discount_amount"].as_str()
        ),
        (Some(41), Some("10.10"))
    );
    assert_eq!(partial.status, 201, "{}", partial.body);
    assert_eq!(partial.json["credits_refunded"], 15);
    assert_eq!(partial.json["credits_refundable"], 26);
    assert_eq!(partial.json["transaction"]["type"], "invoice_refunded");
    assert_eq!(partial.json["transaction"]["currency_value"], "3.75");
    assert_eq!(partial.json["transaction"]["invoice_id"], "INV/7 2026");
    assert_eq!((too_many.status, too_many.field()), (422, "credits"));
    assert!(too_many.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("26"));
    assert_eq!(
        rest.status, 201,
        "refunds go on when the currency is disabled: {}",
        rest.body
    );
    assert_eq!(rest.json["credits_refunded"], 26);
    assert_eq!(
        rest.json["transaction"]["currency_value"], "6.35",
        "the rest of the 10.10"
    );
    assert_eq!(rest.json["account"]["balance"], 100);
    assert_eq!((again.status, again.code()), (422, "nothing_to_refund"));
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    assert_eq!(activity_by(&app, "credit.refund").len(), 2);
    app.assert_verified();

    // The console links the invoice id to every row of the invoice.
    let mut owner = app.signed_in(Role::Owner);
    let list = owner.get("/promo-credits");
    assert!(
        list.body
            .contains("href=\"/promo-credits?invoice_id=INV%2F7%202026\""),
        "{}",
        list.body
    );
    let invoice = owner.get("/promo-credits?invoice_id=INV%2F7%202026");
    assert_eq!(invoice.body.matches("data-record-id=").count(), 3);
}

/// A row of tests/data/preview_cases.csv, each value computed by hand.
#[derive(Debug, serde::Deserialize)]
struct PreviewCase {
    name: String,
    currency: String,
    rate: String,
    balance: i64,
    invoice_amount: String,
    apply_credits: Option<i64>,
    discount_code: bool,
    currency_enabled: bool,
    usage_enabled: bool,
    allow_with_discount_code: bool,
    preview_default_used: bool,
    route: String,
    credits_applied: i64,
    discount_amount: String,
    amount_after_credit: String,
    reasons: String,
}

#[test]
fn previews_and_payments_match_the_hand_computed_table() {
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let mut reader = csv::Reader::from_path("tests/data/preview_cases.csv").unwrap();
    let cases: Vec<PreviewCase> = reader.deserialize().map(Result::unwrap).collect();
    assert!(cases.len() >= 25);
    for (n, case) in cases.iter().enumerate() {
        let mut conn = app.conn();
        let user = common::customer(&mut conn, 100 + n as u32);
        configure_with(
            &mut conn,
            &case.currency,
            &case.rate,
            [
                true,
                case.allow_with_discount_code,
                case.preview_default_used,
            ],
        );
        if case.balance > 0 {
            set_balance(&mut conn, user, &case.currency, case.balance);
        }
        if !case.usage_enabled {
            ledger::set_usage(
                &mut conn,
                user,
                &currency(&case.currency),
                false,
                &Audit::system(),
            )
            .unwrap();
        }
        let switches = [
            case.currency_enabled,
            case.allow_with_discount_code,
            case.preview_default_used,
        ];
        configure_with(&mut conn, &case.currency, &case.rate, switches);
        drop(conn);
        let mut body = json!({"currency": case.currency, "invoice_amount": case.invoice_amount, "discount_code": case.discount_code});
        if let Some(credits) = case.apply_credits {
            body["apply_credits"] = json!(credits);
        }
        let route = match case.route.as_str() {
            "payment" => {
                body["invoice_id"] = json!(format!("INV-{n}"));
                "payments"
            }
            _ => "preview",
        };
        let answer = api.post(&format!("/users/{user}/promo-credit/{route}"), &body);
        let reasons: Vec<&str> = case.reasons.split_whitespace().collect();
        assert!(
            matches!(answer.status, 200 | 201),
            "{}: {}",
            case.name,
            answer.body
        );
        assert_eq!(
            answer.json["credits_applied"], case.credits_applied,
            "{}",
            case.name
        );
        assert_eq!(
            answer.json["discount_amount"],
            case.discount_amount.as_str(),
            "{}",
            case.name
        );
        assert_eq!(
            answer.json["amount_after_credit"],
            case.amount_after_credit.as_str(),
            "{}",
            case.name
        );
        assert_eq!(answer.json["reasons"], json!(reasons), "{}", case.name);
    }
}

#[test]
fn each_key_has_its_own_rate_limit() {
    let app = TestApp::spawn_with(|settings| settings.api_rate_limit = 5);
    let api = Api::new(&app, "Checkout");
    let other = Api::new(&app, "Back office");
    let answers: Vec<Answer> = (0..6).map(|_| api.get("/users")).collect();
    assert!(answers[..5].iter().all(|a| a.status == 200));
    let limited = &answers[5];
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"));
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "{wait}");
    assert_eq!(other.get("/users").status, 200);
}

#[test]
fn the_openapi_document_lists_exactly_the_api_routes() {
    let app = TestApp::spawn();
    let reply = app.client().get("/api/openapi.json");
    assert_eq!(reply.status, 200, "public, no key needed");
    let document: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let registered: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|route| (route.method.to_owned(), route.path.to_owned()))
        .collect();
    assert_eq!(documented, registered);

    // Another method on a route's path is 405, naming the methods it answers.
    let api = Api::new(&app, "Checkout");
    for path in document["paths"].as_object().unwrap().keys() {
        let concrete = path.replace("{id}", "1").replace("{invoice_id}", "INV-1");
        let url = format!("{}{}", app.address, concrete);
        let reply = Api::read(
            api.agent
                .delete(url)
                .header("Authorization", &api.bearer)
                .call(),
        );
        let methods: Vec<String> = documented
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(m, _)| m.to_uppercase())
            .collect();
        assert_eq!(
            (reply.status, reply.code()),
            (405, "method_not_allowed"),
            "{path}"
        );
        assert_eq!(
            reply.header("allow"),
            Some(methods.join(", ").as_str()),
            "{path}"
        );
    }
    assert_eq!(api.get("/nothing-here").code(), "not_found");
    assert_eq!(
        document["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}

#[test]
fn a_full_pool_answers_503_json_with_retry_after() {
    let app = TestApp::spawn_with(|settings| {
        settings.pool.checkout_timeout = std::time::Duration::from_secs(1)
    });
    let api = Api::new(&app, "Checkout");
    let size = app.pool.state().connections.max(16);
    let held: Vec<_> = (0..size).map(|_| app.pool.get().unwrap()).collect();

    let busy = api.get("/users");

    assert_eq!(
        (busy.status, busy.code()),
        (503, "unavailable"),
        "{}",
        busy.body
    );
    assert!(busy.header("retry-after").is_some());
    drop(held);
    assert_eq!(api.get("/users").status, 200, "and recovers by itself");
}

#[test]
fn a_key_s_last_use_is_written_at_most_once_a_minute() {
    use creditdesk::db::schema::api_keys;
    let app = TestApp::spawn();
    let api = Api::new(&app, "Checkout");
    let last_used = || -> Option<time::PrimitiveDateTime> {
        api_keys::table
            .select(api_keys::last_used_at)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(last_used(), None);
    api.get("/users");
    let first = last_used().expect("written on first use");
    api.get("/users");
    assert_eq!(last_used(), Some(first), "not again within the minute");
    let earlier = first - time::Duration::minutes(2);
    diesel::update(api_keys::table)
        .set(api_keys::last_used_at.eq(Some(earlier)))
        .execute(&mut app.conn())
        .unwrap();
    api.get("/users");
    assert!(
        last_used().unwrap() > earlier,
        "written again after a minute"
    );
}
