//! The console over HTTP against the real server: sign-in, the guard, CSRF, the Promo
//! Credits tab and the Update Promo Credit form.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::{escape, hidden_value, Client, TestApp, PASSWORD};
use creditdesk::domain::Role;

fn tab(user: i64) -> String {
    format!("/users/{user}/promo-credits?currency=EUR")
}

fn update_path(user: i64) -> String {
    format!("/users/{user}/promo-credits")
}

fn activity_count(app: &TestApp, action: &str) -> i64 {
    use creditdesk::db::schema::activity_log;
    use diesel::prelude::*;
    activity_log::table
        .filter(activity_log::action.eq(action))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[test]
fn sign_in_right_wrong_and_throttled() {
    let app = TestApp::spawn();
    let mut client = app.client();

    let wrong = client.login("owner@example.com", "not the password");
    let right = client.login("OWNER@example.com", PASSWORD);

    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("The email or password is wrong."));
    assert!(
        wrong.body.contains("value=\"owner@example.com\""),
        "the typed email is kept"
    );
    assert_eq!(right.status, 303);
    let cookie = right
        .set_cookies
        .iter()
        .find(|c| c.starts_with("creditdesk_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("creditdesk_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(client.get("/users").status, 200);
    assert_eq!(activity_count(&app, "login.failed"), 1);
    assert_eq!(activity_count(&app, "login.succeeded"), 1);

    // More than 5 failures for one email within a minute: even the right password waits.
    let mut attacker = app.client();
    for _ in 0..4 {
        assert_eq!(attacker.login("owner@example.com", "guess").status, 401);
    }
    let throttled = attacker.login("owner@example.com", PASSWORD);
    assert_eq!(throttled.status, 429);
    assert!(throttled
        .body
        .contains("Too many failed sign-ins. Wait a minute"));
    assert!(!throttled
        .set_cookies
        .iter()
        .any(|c| c.contains("creditdesk_session")));
}

#[test]
fn failures_from_one_ip_are_throttled_across_emails() {
    let app = TestApp::spawn();
    let mut client = app.client();
    for n in 0..5 {
        assert_eq!(
            client
                .login(&format!("nobody{n}@example.com"), "guess")
                .status,
            401
        );
    }
    assert_eq!(
        client.login("billing_admin@example.com", PASSWORD).status,
        429
    );
}

#[test]
fn a_login_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn();
    let mut client = app.client();
    client.get("/login");
    let reply = client.post_with(
        "/login",
        &[("email", "owner@example.com"), ("password", PASSWORD)],
        &[],
    );
    assert_eq!(reply.status, 403);
    assert_eq!(activity_count(&app, "login.succeeded"), 0);
}

#[test]
fn logout_revokes_the_session() {
    let app = TestApp::spawn();
    let mut client = app.signed_in(Role::Owner);
    let stolen = client.clone();

    let reply = client.post("/logout", &[]);

    assert_eq!(reply.status, 303);
    assert_eq!(reply.location(), "/login");
    let mut stolen = stolen;
    let after = stolen.get("/users");
    assert_eq!(after.status, 303, "the old cookie no longer works");
    assert_eq!(after.location(), "/login?next=%2Fusers");
}

#[test]
fn every_console_page_redirects_a_signed_out_visitor() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let mut client = app.client();
    for path in [
        "/users".to_owned(),
        "/users?q=a&page=2".to_owned(),
        format!("/users/{user}"),
        tab(user),
        format!("/users/{user}/promo-credits/update?currency=EUR"),
        "/no-such-page".to_owned(),
    ] {
        let reply = client.get(&path);
        assert_eq!(reply.status, 303, "{path}");
        assert!(
            reply.location().starts_with("/login?next=%2F"),
            "{path} → {}",
            reply.location()
        );
    }
    assert_eq!(client.get("/").location(), "/login");
    let htmx = client.get_htmx(&tab(user));
    assert_eq!(htmx.status, 401);
    assert!(htmx
        .header("hx-redirect")
        .unwrap_or("")
        .starts_with("/login?next="));
    for public in [
        "/login",
        "/healthz",
        "/metrics",
        "/static/app.css",
        "/static/htmx.min.js",
    ] {
        assert_eq!(client.get(public).status, 200, "{public}");
    }
}

#[test]
fn next_brings_the_admin_back_but_only_to_a_local_path() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let mut client = app.client();
    let page = client.get(&format!("/login?next=%2Fusers%2F{user}%2Fpromo-credits"));
    let token = hidden_value(&page.body, "csrf_token").unwrap();
    let next = hidden_value(&page.body, "next").unwrap();
    let reply = client.post_with(
        "/login",
        &[
            ("csrf_token", &token),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
            ("next", &next),
        ],
        &[],
    );
    assert_eq!(reply.location(), format!("/users/{user}/promo-credits"));

    let mut other = app.client();
    let page = other.get("/login");
    let token = hidden_value(&page.body, "csrf_token").unwrap();
    let reply = other.post_with(
        "/login",
        &[
            ("csrf_token", &token),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ],
        &[],
    );
    assert_eq!(reply.location(), "/");
}

#[test]
fn csrf_missing_or_wrong_is_403_and_changes_nothing() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut client = app.signed_in(Role::Owner);
    let before = app.account_state(user);
    let fields = [
        ("currency", "EUR"),
        ("mode", "change"),
        ("amount", "5"),
        ("note", "csrf test"),
    ];

    let missing = client.post_with(&update_path(user), &fields, &[]);
    let mut wrong_fields = vec![("csrf_token", "0000")];
    wrong_fields.extend_from_slice(&fields);
    let wrong = client.post_with(&update_path(user), &wrong_fields, &[]);
    let wrong_header = client.post_with(&update_path(user), &fields, &[("X-CSRF-Token", "nope")]);
    let usage = client.post_with(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "false")],
        &[],
    );
    let logout = client.post_with("/logout", &[], &[]);

    for reply in [&missing, &wrong, &wrong_header, &usage, &logout] {
        assert_eq!(reply.status, 403);
        assert!(
            reply.body.contains("The form has expired"),
            "{}",
            reply.body
        );
    }
    assert_eq!(app.account_state(user), before);
    assert_eq!(client.get("/users").status, 200, "still signed in");

    let csrf = client.csrf.clone();
    let with_header = client.post_with(&update_path(user), &fields, &[("X-CSRF-Token", &csrf)]);
    assert_eq!(with_header.status, 303);
    assert_eq!(app.account_state(user).0, 125);
}

#[test]
fn set_new_total_without_javascript() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut client = app.signed_in(Role::Owner);

    let reply = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "set"),
            ("amount", " 170 "),
            ("note", "Goodwill for the delay"),
            ("reason", "goodwill"),
            ("expected_version", "1"),
        ],
    );

    assert_eq!(reply.status, 303);
    assert!(
        reply
            .location()
            .starts_with(&format!("{}&updated=", tab(user))),
        "{}",
        reply.location()
    );
    let page = client.get(reply.location());
    assert!(
        page.body.contains("Added 50 credits: 120 → 170"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains(r#"data-credits="170" data-currency="EUR" data-version="2""#));
    assert!(page.body.contains("Goodwill for the delay"));
    assert!(
        page.body.contains("owner@example.com"),
        "the history says who"
    );
    assert_eq!(app.account_state(user), (170, 2, 2));
    assert_eq!(activity_count(&app, "credit.adjust"), 1);
}

#[test]
fn add_or_remove_with_htmx_answers_the_panel() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 170);
    let mut client = app.signed_in(Role::BillingAdmin);

    let modal = client.get_htmx(&format!("/users/{user}/promo-credits/update?currency=EUR"));
    let reply = client.post_htmx(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "-20"),
            ("note", "Correction"),
        ],
    );

    assert_eq!(modal.status, 200);
    assert!(
        modal.body.contains("id=\"update-promo-credit\"") && !modal.body.contains("<html"),
        "a fragment"
    );
    assert!(modal.body.contains("name=\"expected_version\" value=\"1\""));
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .starts_with("<section id=\"promo-credits-panel\""),
        "{}",
        &reply.body[..200.min(reply.body.len())]
    );
    assert!(reply.body.contains("Removed 20 credits: 170 → 150"));
    assert!(reply.body.contains(r#"data-credits="150""#));
    assert_eq!(app.account_state(user), (150, 2, 2));
}

#[test]
fn the_form_without_javascript_is_a_full_page() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 5);
    let mut client = app.signed_in(Role::Owner);
    let page = client.get(&format!("/users/{user}/promo-credits/update?currency=EUR"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html") && page.body.contains("id=\"update-promo-credit\""));
    assert!(page
        .body
        .contains("Current balance: <strong>5 credits</strong>"));
}

#[test]
fn a_stale_version_is_409_and_changes_nothing() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut client = app.signed_in(Role::Owner);
    let fields = [
        ("currency", "EUR"),
        ("mode", "set"),
        ("amount", "200"),
        ("note", "stale"),
        ("expected_version", "0"),
    ];
    let before = app.account_state(user);

    let plain = client.post(&update_path(user), &fields);
    let htmx = client.post_htmx(&update_path(user), &fields);

    assert_eq!(plain.status, 409);
    assert!(plain.body.contains("role=\"alert\""));
    assert!(plain.body.contains("it is now 120 credits"));
    assert!(plain
        .body
        .contains("Current balance: <strong>120 credits</strong>"));
    assert!(
        plain.body.contains("name=\"expected_version\" value=\"1\""),
        "the form now carries the current version"
    );
    assert!(
        plain.body.contains("value=\"200\""),
        "what was typed is kept"
    );
    assert_eq!(htmx.status, 409);
    assert_eq!(htmx.header("hx-retarget"), Some("#modal"));
    assert!(!htmx.body.contains("<html"));
    assert_eq!(app.account_state(user), before);
}

#[test]
fn unknown_customers_and_pages_are_404() {
    let app = TestApp::spawn();
    let mut client = app.signed_in(Role::Owner);
    for path in [
        "/users/99999",
        "/users/abc",
        "/users/99999/promo-credits",
        "/users/99999/promo-credits/update",
        "/nothing-here",
    ] {
        let reply = client.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.body.contains("was not found"), "{path}");
    }
    let post = client.post(
        "/users/99999/promo-credits",
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "5"),
            ("note", "x"),
        ],
    );
    assert_eq!(post.status, 404);
}

/// A case name, the fields that differ from a valid form, and what the answer must show.
type BadInput<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// Each bad input is refused with 422, a message beside its field (or for the form), what was
/// typed kept, and nothing changed.
#[test]
fn bad_inputs_are_422_with_the_message_beside_the_field() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut client = app.signed_in(Role::Owner);
    let before = app.account_state(user);
    let long_note = "x".repeat(251);
    let today = creditdesk::db::now_utc().date();
    let day = |days: i64| (today + time::Duration::days(days)).to_string();
    let (yesterday, tomorrow) = (day(-1), day(1));
    let too_far = (creditdesk::domain::latest_expiry(today) + time::Duration::days(1)).to_string();
    let cases: Vec<BadInput> = vec![
        (
            "expiry yesterday",
            vec![("expires_at", &yesterday)],
            "expires_at-error",
        ),
        (
            "expiry past ten years",
            vec![("expires_at", &too_far)],
            "expires_at-error",
        ),
        (
            "expiry day first",
            vec![("expires_at", "31/12/2030")],
            "expires_at-error",
        ),
        (
            "expiry no such day",
            vec![("expires_at", "2030-02-30")],
            "expires_at-error",
        ),
        (
            "expiry with a time",
            vec![("expires_at", "2030-12-31T00:00")],
            "expires_at-error",
        ),
        (
            "expiry in wide digits",
            vec![("expires_at", "２０３０-12-31")],
            "expires_at-error",
        ),
        (
            "expiry with NUL",
            vec![("expires_at", "2030-12-31\u{0}")],
            "expires_at-error",
        ),
        (
            "expiry in words",
            vec![("expires_at", "next friday")],
            "expires_at-error",
        ),
        (
            "expiry on a removal",
            vec![("amount", "-5"), ("expires_at", &tomorrow)],
            "expires_at-error",
        ),
        (
            "expiry on a lower total",
            vec![
                ("mode", "set"),
                ("amount", "100"),
                ("expires_at", &tomorrow),
            ],
            "expires_at-error",
        ),
        ("decimal", vec![("amount", "1.5")], "amount-error"),
        ("exponent", vec![("amount", "1e3")], "amount-error"),
        ("hex", vec![("amount", "0x10")], "amount-error"),
        ("arabic digits", vec![("amount", "١٢")], "amount-error"),
        ("fraction char", vec![("amount", "½")], "amount-error"),
        (
            "14 digits",
            vec![("amount", "12345678901234")],
            "amount-error",
        ),
        ("empty", vec![("amount", "")], "amount-error"),
        ("blank", vec![("amount", "   ")], "amount-error"),
        ("letters", vec![("amount", "abc")], "amount-error"),
        ("sign only", vec![("amount", "+")], "amount-error"),
        ("double sign", vec![("amount", "--1")], "amount-error"),
        ("plus minus", vec![("amount", "+-3")], "amount-error"),
        ("space inside", vec![("amount", "1 000")], "amount-error"),
        ("thousands comma", vec![("amount", "1,000")], "amount-error"),
        ("minus zero change", vec![("amount", "-0")], "amount-error"),
        ("zero change", vec![("amount", "0")], "amount-error"),
        ("with unit", vec![("amount", "5 credits")], "amount-error"),
        ("currency sign", vec![("amount", "$5")], "amount-error"),
        ("trailing dot", vec![("amount", "5.")], "amount-error"),
        ("leading dot", vec![("amount", ".5")], "amount-error"),
        (
            "above 10^12",
            vec![("amount", "1000000000001")],
            "amount-error",
        ),
        ("html", vec![("amount", "<b>5</b>")], "amount-error"),
        (
            "negative set",
            vec![("mode", "set"), ("amount", "-5")],
            "amount-error",
        ),
        (
            "set above max",
            vec![("mode", "set"), ("amount", "1000000000001")],
            "amount-error",
        ),
        ("below zero", vec![("amount", "-121")], "amount-error"),
        (
            "above maximum",
            vec![("amount", "999999999999")],
            "amount-error",
        ),
        (
            "set to the same",
            vec![("mode", "set"), ("amount", "120")],
            "nothing to change",
        ),
        (
            "missing amount",
            vec![("amount", "\u{0}omit")],
            "amount-error",
        ),
        ("empty note", vec![("note", "")], "note-error"),
        ("blank note", vec![("note", "  \n ")], "note-error"),
        ("tab in note", vec![("note", "a\tb")], "note-error"),
        ("NUL in note", vec![("note", "a\u{0}b")], "note-error"),
        (
            "escape in note",
            vec![("note", "a\u{1b}[31mb")],
            "note-error",
        ),
        ("251 chars", vec![("note", &long_note)], "note-error"),
        ("missing note", vec![("note", "\u{0}omit")], "note-error"),
        (
            "lower-case currency",
            vec![("currency", "eur")],
            "currency-error",
        ),
        ("empty currency", vec![("currency", "")], "currency-error"),
        ("four letters", vec![("currency", "EURO")], "currency-error"),
        (
            "unconfigured currency",
            vec![("currency", "GBP")],
            "currency-error",
        ),
        (
            "digit in currency",
            vec![("currency", "E1R")],
            "currency-error",
        ),
        (
            "missing currency",
            vec![("currency", "\u{0}omit")],
            "currency-error",
        ),
        ("unknown mode", vec![("mode", "add")], "mode-error"),
        ("upper-case mode", vec![("mode", "SET")], "mode-error"),
        ("empty mode", vec![("mode", "")], "mode-error"),
        ("missing mode", vec![("mode", "\u{0}omit")], "mode-error"),
        ("unknown reason", vec![("reason", "bribe")], "reason-error"),
        (
            "bad version",
            vec![("expected_version", "abc")],
            "role=\"alert\"",
        ),
    ];
    assert!(cases.len() >= 40);
    for (name, overrides, expected) in cases {
        let mut fields: Vec<(&str, &str)> = vec![
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "5"),
            ("note", "a valid note"),
            ("reason", ""),
        ];
        for (key, value) in overrides {
            fields.retain(|(k, _)| *k != key);
            if value != "\u{0}omit" {
                fields.push((key, value));
            }
        }
        let reply = client.post(&update_path(user), &fields);
        assert_eq!(reply.status, 422, "{name}: {}", reply.body);
        assert!(
            reply.body.contains(expected),
            "{name}: expected {expected:?} in {}",
            reply.body
        );
        assert!(
            reply.body.contains("field-error") || reply.body.contains("role=\"alert\""),
            "{name}"
        );
        if let Some((_, amount)) = fields.iter().find(|(k, _)| *k == "amount") {
            assert!(
                reply
                    .body
                    .contains(&format!("value=\"{}\"", escape(amount))),
                "{name}: the typed amount is kept"
            );
        }
        if let Some((_, note)) = fields.iter().find(|(k, _)| *k == "note") {
            assert!(
                reply.body.contains(&escape(note)),
                "{name}: the typed note is kept"
            );
        }
        assert_eq!(app.account_state(user), before, "{name}: nothing changed");
    }
}

#[test]
fn a_grant_with_an_expiry_shows_on_the_tab_with_the_credits_about_to_expire() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 20);
    let mut client = app.signed_in(Role::BillingAdmin);
    let today = creditdesk::db::now_utc().date();
    let soon = (today + time::Duration::days(10)).to_string();
    let later = (today + time::Duration::days(90)).to_string();
    for (amount, expires_at) in [("50", soon.as_str()), ("30", later.as_str())] {
        let reply = client.post(
            &update_path(user),
            &[
                ("currency", "EUR"),
                ("mode", "change"),
                ("amount", amount),
                ("note", "Autumn promotion"),
                ("reason", "promotion"),
                ("expires_at", expires_at),
            ],
        );
        assert_eq!(reply.status, 303, "{}", reply.body);
    }
    let page = client.get(&tab(user));
    assert!(
        page.body.contains("table id=\"promo-credit-grants\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"id="expiring-credits" data-credits="50""#),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("50 credits expire in the next 30 days (50.00 EUR)"));
    // Spent top to bottom: the soonest expiry first, the credits held before (never) last.
    let rows: Vec<&str> = page
        .body
        .match_indices("data-expires-at=\"")
        .map(|(i, _)| &page.body[i + 17..i + 27])
        .collect();
    assert_eq!(rows[0], soon);
    assert_eq!(rows[1], later);
    assert!(
        page.body.contains("data-expires-at=\"\""),
        "the never-expiring grant"
    );
    assert!(page.body.contains("(in 10 days)"));
    // Removing 60 takes the 50 expiring soonest and 10 of the next.
    let reply = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "-60"),
            ("note", "Correction"),
        ],
    );
    assert_eq!(reply.status, 303);
    let page = client.get(&tab(user));
    assert!(page
        .body
        .contains(r#"id="expiring-credits" data-credits="0""#));
    assert!(!page.body.contains(&format!("data-expires-at=\"{soon}\"")));
    app.assert_verified();
}

#[test]
fn concurrent_updates_all_land_and_one_version_wins_once() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 1000);
    let client = app.signed_in(Role::Owner);
    let path = update_path(user);

    let barrier = Arc::new(Barrier::new(32));
    let statuses: Vec<u16> = (0..32)
        .map(|i| {
            let (mut client, barrier, path) = (client.clone(), barrier.clone(), path.clone());
            thread::spawn(move || {
                let amount = if i % 2 == 0 { "3" } else { "-1" };
                barrier.wait();
                client
                    .post(
                        &path,
                        &[
                            ("currency", "EUR"),
                            ("mode", "change"),
                            ("amount", amount),
                            ("note", "concurrent"),
                        ],
                    )
                    .status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(app.account_state(user), (1000 + 16 * 3 - 16, 33, 33));

    let barrier = Arc::new(Barrier::new(16));
    let statuses: Vec<u16> = (0..16)
        .map(|i| {
            let (mut client, barrier, path) = (client.clone(), barrier.clone(), path.clone());
            thread::spawn(move || {
                let amount = (i + 1).to_string();
                barrier.wait();
                client
                    .post(
                        &path,
                        &[
                            ("currency", "EUR"),
                            ("mode", "change"),
                            ("amount", &amount),
                            ("note", "racing"),
                            ("expected_version", "33"),
                        ],
                    )
                    .status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(app.account_state(user).1, 34);
    app.assert_verified();
}

#[test]
fn a_script_in_a_note_is_shown_as_text_under_a_strict_csp() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let mut client = app.signed_in(Role::Owner);
    let reply = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "1"),
            ("note", "<script>alert(1)</script>"),
        ],
    );
    let page = client.get(reply.location());

    assert!(page
        .body
        .contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!page.body.contains("<script>alert(1)"));
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.header("referrer-policy").is_some());
    assert!(!page.body.contains("<script>"), "no inline script at all");
}

#[test]
fn support_and_operator_can_look_but_not_change() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 50);
    for role in [Role::Support, Role::Operator] {
        let mut client = app.signed_in(role);
        let page = client.get(&tab(user));
        assert_eq!(page.status, 200);
        assert!(page.body.contains(r#"data-credits="50""#));
        assert!(
            !page.body.contains("Update Promo Credit</a>"),
            "{role}: no Update button"
        );
        assert!(
            !page.body.contains("/usage"),
            "{role}: no credit-use switch"
        );

        let form = client.get(&format!("/users/{user}/promo-credits/update?currency=EUR"));
        let forged = client.post(
            &update_path(user),
            &[
                ("currency", "EUR"),
                ("mode", "change"),
                ("amount", "5"),
                ("note", "forged"),
            ],
        );
        let switch = client.post(
            &format!("/users/{user}/promo-credits/usage"),
            &[("currency", "EUR"), ("enabled", "false")],
        );
        for reply in [form, forged, switch] {
            assert_eq!(reply.status, 403, "{role}");
            assert!(
                reply
                    .body
                    .contains("This needs the Owner or Billing admin role."),
                "{role}: {}",
                reply.body
            );
        }
    }
    assert_eq!(app.account_state(user), (50, 1, 1));
}

#[test]
fn the_credit_use_switch_is_recorded() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 50);
    let mut client = app.signed_in(Role::BillingAdmin);

    let off = client.post(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "false")],
    );
    let page = client.get(off.location());
    let on = client.post_htmx(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "true")],
    );

    assert_eq!(off.status, 303);
    assert!(
        page.body.contains("Credit use turned off for EUR.") && page.body.contains("badge off")
    );
    assert_eq!(on.status, 200);
    assert!(on.body.contains("Credit use turned on for EUR.") && on.body.contains("badge on"));
    assert_eq!(activity_count(&app, "credit.usage"), 2);
    assert_eq!(app.account_state(user), (50, 1, 1), "not a balance change");
}

#[test]
fn customers_are_searchable_and_paged() {
    let app = TestApp::spawn();
    for n in 1..=60 {
        app.customer_with(n, 0);
    }
    let mut client = app.signed_in(Role::Support);

    let first = client.get("/users");
    let second = client.get("/users?page=2");
    let found = client.get("/users?q=CUSTOMER42%40");
    let by_external = client.get("/users?q=ext-7");

    assert!(first.body.contains("table id=\"customers\"") && first.body.contains("60 customers"));
    assert_eq!(first.body.matches("<tr>").count(), 51, "header + 50 rows");
    assert_eq!(second.body.matches("<tr>").count(), 11);
    assert!(found.body.contains("customer42@example.com") && found.body.contains("1 customer"));
    assert!(
        by_external.body.contains("customer7@example.com")
            && by_external.body.contains("1 customer")
    );
}

#[test]
fn static_files_are_revalidated_by_etag() {
    let app = TestApp::spawn();
    let mut client: Client = app.client();
    let first = client.get("/static/htmx.min.js");
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again = client.get_with("/static/htmx.min.js", &[("If-None-Match", &etag)]);
    assert_eq!(first.status, 200);
    assert!(first
        .header("content-type")
        .unwrap_or("")
        .contains("javascript"));
    assert_eq!(again.status, 304);
}

#[test]
fn an_admin_changes_their_password_and_other_sessions_end() {
    let app = TestApp::spawn();
    let mut here = app.signed_in(Role::Support);
    let mut elsewhere = app.signed_in(Role::Support);

    let page = here.get("/account/password");
    let wrong_current = here.post(
        "/account/password",
        &[
            ("current_password", "not it at all"),
            ("new_password", "a brand new password"),
            ("confirm_password", "a brand new password"),
        ],
    );
    let too_short = here.post(
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "short"),
            ("confirm_password", "short"),
        ],
    );
    let mismatch = here.post(
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("confirm_password", "another one entirely"),
        ],
    );
    let changed = here.post(
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("confirm_password", "a brand new password"),
        ],
    );

    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"change-password\""));
    assert_eq!(wrong_current.status, 422);
    assert!(wrong_current
        .body
        .contains("That is not your current password."));
    assert_eq!(too_short.status, 422);
    assert!(too_short.body.contains("at least 12 characters"));
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("The two new passwords differ."));
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(changed
        .body
        .contains("Your password was changed, and your other session was signed out."));
    assert_eq!(here.get("/users").status, 200, "this session stays");
    assert_eq!(
        elsewhere.get("/users").status,
        303,
        "the other session ended"
    );
    let mut fresh = app.client();
    assert_eq!(fresh.login("support@example.com", PASSWORD).status, 401);
    assert_eq!(
        fresh
            .login("support@example.com", "a brand new password")
            .status,
        303
    );
    assert_eq!(activity_count(&app, "password.change"), 1);
}

#[test]
fn the_live_preview_says_what_would_happen() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut client = app.signed_in(Role::BillingAdmin);
    let preview = |client: &mut Client, query: &str| {
        client
            .get_htmx(&format!(
                "/users/{user}/promo-credits/preview?currency=EUR&{query}"
            ))
            .body
    };

    assert!(
        preview(&mut client, "mode=set&amount=170").contains("120 → 170, +50 credits, +50.00 EUR")
    );
    assert!(preview(&mut client, "mode=change&amount=-121").contains("Below zero"));
    assert!(preview(&mut client, "mode=change&amount=1.5").contains("whole number"));
    assert!(preview(&mut client, "mode=set&amount=120").contains("nothing to change"));
    assert!(preview(&mut client, "mode=change&amount=20000").contains("Large change"));
    let mut support = app.signed_in(Role::Support);
    assert_eq!(
        support
            .get(&format!(
                "/users/{user}/promo-credits/preview?currency=EUR&mode=set&amount=1"
            ))
            .status,
        403
    );
    assert_eq!(
        app.account_state(user),
        (120, 1, 1),
        "a preview changes nothing"
    );
}

#[test]
fn the_audit_row_is_written_with_the_change_or_neither_is() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let mut owner = app.signed_in(Role::Owner);
    let other_session = app.signed_in(Role::Owner);
    app.break_the_activity_log();

    let adjust = owner.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "5"),
            ("note", "audited or not at all"),
        ],
    );
    let usage = owner.post(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "false")],
    );
    let password = owner.post(
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("confirm_password", "a brand new password"),
        ],
    );

    for reply in [&adjust, &usage, &password] {
        assert_eq!(reply.status, 500, "{}", reply.body);
        assert!(reply.body.contains("Reference:"), "{}", reply.body);
    }
    assert_eq!(app.account_state(user), (120, 1, 1), "no unaudited change");
    let account = creditdesk::store::credits::account(&mut app.conn(), user, "EUR")
        .unwrap()
        .unwrap();
    assert!(account.enabled, "no unaudited switch");
    let admin = creditdesk::store::admins::find_by_email(&mut app.conn(), "owner@example.com")
        .unwrap()
        .unwrap();
    assert!(
        creditdesk::passwords::verify_password(PASSWORD, &admin.password_hash),
        "no unaudited password change"
    );
    assert_eq!(
        other_session.clone().get("/users").status,
        200,
        "no unaudited sign-out"
    );
}

#[test]
fn a_refused_change_leaves_no_trace() {
    use creditdesk::db::schema::credit_accounts;
    use diesel::prelude::*;
    let app = TestApp::spawn();
    let user = app.customer_with(1, 0);
    let mut client = app.signed_in(Role::Owner);
    let accounts = || -> i64 {
        credit_accounts::table
            .filter(credit_accounts::user_id.eq(user))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };

    let below_zero = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "-5"),
            ("note", "refused"),
        ],
    );
    let nothing = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "set"),
            ("amount", "0"),
            ("note", "refused"),
        ],
    );
    let stale = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "set"),
            ("amount", "10"),
            ("note", "refused"),
            ("expected_version", "3"),
        ],
    );
    let usage_as_is = client.post(
        &format!("/users/{user}/promo-credits/usage"),
        &[("currency", "EUR"), ("enabled", "true")],
    );
    let balances = client.get("/promo-credits/balances/export.csv");

    assert_eq!(below_zero.status, 422);
    assert_eq!(nothing.status, 422);
    assert_eq!(stale.status, 409);
    assert_eq!(usage_as_is.status, 303);
    assert_eq!(accounts(), 0, "no empty account was created");
    assert!(
        !balances.body.contains("customer1@example.com"),
        "{}",
        balances.body
    );
}

#[test]
fn notes_with_direction_controls_are_refused_and_emoji_kept() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let mut client = app.signed_in(Role::Owner);
    for (control, name) in [
        ('\u{202A}', "U+202A"),
        ('\u{202B}', "U+202B"),
        ('\u{202C}', "U+202C"),
        ('\u{202D}', "U+202D"),
        ('\u{202E}', "U+202E"),
        ('\u{2066}', "U+2066"),
        ('\u{2067}', "U+2067"),
        ('\u{2068}', "U+2068"),
        ('\u{2069}', "U+2069"),
        ('\u{200E}', "U+200E"),
        ('\u{200F}', "U+200F"),
        ('\u{061C}', "U+061C"),
        ('\r', "carriage return"),
    ] {
        let note = format!("refund {control}54321 to customer");
        let reply = client.post(
            &update_path(user),
            &[
                ("currency", "EUR"),
                ("mode", "change"),
                ("amount", "1"),
                ("note", &note),
            ],
        );
        assert_eq!(reply.status, 422, "{name}");
        assert!(reply.body.contains("note-error"), "{name}");
        assert!(reply.body.contains(name), "{name}: {}", reply.body);
    }
    assert_eq!(app.account_state(user), (10, 1, 1));

    let family = "Thanks 👩‍👩‍👧‍👦 and 🏳️‍🌈\r\nsecond line";
    let reply = client.post(
        &update_path(user),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "1"),
            ("note", family),
        ],
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    let page = client.get(reply.location());
    assert!(page.body.contains("Thanks 👩‍👩‍👧‍👦 and 🏳️‍🌈\nsecond line"));
}
