//! The activity log as operators read it: every action with its actor and details, filters,
//! keyset pages, the CSV, and the two clicks between an audit row and its ledger row.

mod common;

use common::{TestApp, PASSWORD};
use creditdesk::domain::Role;

fn record_ids(body: &str, attribute: &str) -> Vec<i64> {
    body.split(&format!("{attribute}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

fn href_after(body: &str, marker: &str) -> String {
    let at = body
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in the page"));
    let start = body[..at].rfind("href=\"").expect("a link") + "href=\"".len();
    body[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
}

#[test]
fn every_action_lands_with_its_actor_and_details() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut owner = app.signed_in(Role::Owner);
    let mut billing = app.signed_in(Role::BillingAdmin);
    let mut operator = app.signed_in(Role::Operator);
    app.client().login("owner@example.com", "a wrong password");

    billing.post(
        &format!("/users/{user}/promo-credits"),
        &[
            ("currency", "EUR"),
            ("mode", "set"),
            ("amount", "170"),
            ("note", "Goodwill for the delay"),
        ],
    );
    billing.post(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "false")],
    );
    owner.post(
        "/settings/promo-credit",
        &[
            ("currency", "EUR"),
            ("enabled", "true"),
            ("exchange_rate", "2"),
            ("preview_default_used", "true"),
        ],
    );
    owner.post(
        "/admins",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("role", "operator"),
        ],
    );
    owner.post("/api-keys", &[("name", "Checkout")]);
    billing.get("/promo-credits/export.csv?currency=EUR");
    std::thread::sleep(std::time::Duration::from_millis(300));

    let page = operator.get("/activity");
    let expected = [
        (
            "billing_admin@example.com",
            "credit.adjust",
            "120 → 170 (+50): Goodwill for the delay",
        ),
        (
            "billing_admin@example.com",
            "credit.usage",
            "credit use on → off",
        ),
        (
            "owner@example.com",
            "settings.promo_credit",
            "rate 1.00 → 2.00",
        ),
        ("owner@example.com", "admin.create", "New (operator)"),
        ("owner@example.com", "api_key.create", "cdk_"),
        (
            "billing_admin@example.com",
            "export.credits",
            "currency=EUR; 2 rows",
        ),
        ("owner@example.com", "login.failed", ""),
        ("operator@example.com", "login.succeeded", ""),
    ];
    assert_eq!(page.status, 200);
    assert!(page.body.contains("table id=\"activity-log\""));
    for (actor, action, details) in expected {
        let row = page
            .body
            .split("<tr data-activity-id=")
            .find(|row| row.contains(&format!("<code>{action}</code>")) && row.contains(actor))
            .unwrap_or_else(|| panic!("{action} by {actor}"));
        assert!(row.contains(details), "{action}: {row}");
    }
    let _ = PASSWORD;
}

#[test]
fn an_audit_row_and_its_ledger_row_are_one_click_apart() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let mut billing = app.signed_in(Role::BillingAdmin);
    billing.post(
        &format!("/users/{user}/promo-credits"),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "5"),
            ("note", "Why it changed"),
        ],
    );
    app.customer_with(2, 99);
    let mut operator = app.signed_in(Role::Operator);

    let activity = operator.get("/activity?action=credit.adjust");
    let customer = operator.get(&href_after(
        &activity.body,
        "(customer1@example.com) EUR</a>",
    ));
    let ledger = operator.get(&href_after(&activity.body, "Ledger row →"));
    let back = operator.get(&href_after(&ledger.body, "\">Activity</a></div>"));

    assert!(
        customer.body.contains(r#"data-credits="15""#),
        "the customer's tab"
    );
    assert_eq!(
        record_ids(&ledger.body, "data-record-id").len(),
        1,
        "that one ledger row"
    );
    assert!(ledger.body.contains("Why it changed"));
    let rows = record_ids(&back.body, "data-activity-id");
    assert_eq!(rows.len(), 1, "{}", back.body);
    assert!(back.body.contains("billing_admin@example.com") && back.body.contains("credit.adjust"));
    let mut support = app.signed_in(Role::Support);
    assert!(
        !support
            .get("/promo-credits")
            .body
            .contains("/activity?record_id="),
        "no link where the log cannot be read"
    );
}

#[test]
fn filters_keyset_pages_and_the_csv_select_the_same_rows() {
    let app = TestApp::spawn();
    let mut operator = app.signed_in(Role::Operator);
    for n in 0..130 {
        app.client()
            .login(&format!("nobody{n}@example.com"), "guess");
    }
    let mut ids = Vec::new();
    let mut path = "/activity?action=login.failed&per_page=50".to_owned();
    loop {
        let page = operator.get(&path);
        assert_eq!(page.status, 200);
        ids.extend(record_ids(&page.body, "data-activity-id"));
        if !page.body.contains("rel=\"next\"") {
            break;
        }
        path = href_after(&page.body, "rel=\"next\"");
    }
    let csv = operator.get("/activity/export.csv?action=login.failed");
    let by_actor = operator.get("/activity?actor=nobody12");
    let bad = operator.get("/activity?action=drop&from=2026-13-01&user_id=-4");

    // One client: the throttle stops logging after 5 failures a minute per address.
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,created_at,actor,action,target,details,ip");
    assert_eq!(lines.len(), 6);
    assert!(record_ids(&by_actor.body, "data-activity-id").len() <= 1);
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("There is no action") && bad.body.contains("YYYY-MM-DD"));
}

#[test]
fn the_activity_csv_neutralises_formulas_and_only_readers_get_it() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    owner.post("/api-keys", &[("name", "=HYPERLINK(\"http://evil\")")]);

    let csv = owner.get("/activity/export.csv?action=api_key.");
    let mut support = app.signed_in(Role::Support);

    assert!(csv.body.contains("'=HYPERLINK"), "{}", csv.body);
    assert!(!csv.body.contains(",=HYPERLINK"));
    assert_eq!(support.get("/activity").status, 403);
    assert_eq!(support.get("/activity/export.csv").status, 403);
}
