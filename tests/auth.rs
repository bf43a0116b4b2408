//! Signing in and staying signed in, tried as an attacker would: where `next` may lead, what
//! a login form can make the server store, guesses in parallel, idle and expired sessions,
//! and the API scope's own credential.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::{hidden_value, TestApp, PASSWORD};
use creditdesk::db::now_utc;
use creditdesk::db::schema::{activity_log, api_keys, sessions};
use creditdesk::domain::Role;
use creditdesk::web::query_escape;
use diesel::prelude::*;
use time::Duration;

/// Signs in as the owner with `next` and returns where the server sends the browser.
fn login_with_next(app: &TestApp, next: &str) -> String {
    let mut client = app.client();
    let page = client.get("/login");
    let token = hidden_value(&page.body, "csrf_token").unwrap();
    let reply = client.post_with(
        "/login",
        &[
            ("csrf_token", &token),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
            ("next", next),
        ],
        &[],
    );
    assert_eq!(reply.status, 303, "next={next:?}: {}", reply.body);
    reply.location().to_owned()
}

#[test]
fn next_only_ever_leads_to_a_path_on_this_site() {
    let app = TestApp::spawn();
    let refused = [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
        "/\u{0}/evil.example",
        "/\u{7f}/evil.example",
        "/ /evil.example",
        " /users",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "evil.example",
        "",
        "/é",
        "/users\u{2028}",
        "/login?next=/users",
    ];
    for next in refused {
        assert_eq!(login_with_next(&app, next), "/", "next={next:?}");
        let mut visitor = app.client();
        let page = visitor.get(&format!("/login?next={}", query_escape(next)));
        assert_eq!(
            hidden_value(&page.body, "next").as_deref(),
            Some("/"),
            "GET /login?next={next:?}"
        );
    }
    for next in [
        "/users/1?currency=EUR",
        "/promo-credits?email=a%40b&type=x",
        "/",
    ] {
        assert_eq!(login_with_next(&app, next), next);
    }
}

#[test]
fn a_login_form_cannot_make_the_server_store_or_hash_huge_input() {
    let app = TestApp::spawn();
    let mut client = app.client();
    let huge_email = format!("{}@example.com", "a".repeat(16_000));
    let long_password = "p".repeat(2_000);
    let huge_body = "p".repeat(100_000);

    let long_email = client.login(&huge_email, PASSWORD);
    let long_password = client.login("owner@example.com", &long_password);
    let not_an_email = client.login("nobody", PASSWORD);
    let control = client.login("owner\u{0}@example.com", PASSWORD);
    let too_large = client.login("owner@example.com", &huge_body);

    for reply in [&long_email, &long_password, &not_an_email, &control] {
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert!(reply.body.contains("role=\"alert\""), "{}", reply.body);
    }
    assert_eq!(
        too_large.status, 413,
        "a body past the form limit is not read"
    );
    assert!(too_large.body.contains("role=\"alert\""));
    let stored: Vec<(String, String)> = activity_log::table
        .select((activity_log::actor, activity_log::target))
        .load(&mut app.conn())
        .unwrap();
    assert!(
        stored.iter().all(|(a, t)| a.len() <= 254 && t.len() <= 254),
        "nothing longer than an email is stored"
    );
    assert_eq!(
        app.activity_count("login.failed"),
        0,
        "none was a real guess"
    );
}

#[test]
fn parallel_guesses_cannot_slip_past_the_throttle() {
    let app = TestApp::spawn();
    let barrier = Arc::new(Barrier::new(16));
    let statuses: Vec<u16> = (0..16)
        .map(|_| {
            let (mut client, barrier) = (app.client(), barrier.clone());
            thread::spawn(move || {
                let page = client.get("/login");
                let token = hidden_value(&page.body, "csrf_token").unwrap();
                barrier.wait();
                client
                    .post_with(
                        "/login",
                        &[
                            ("csrf_token", &token),
                            ("email", "owner@example.com"),
                            ("password", "a wrong guess"),
                        ],
                        &[],
                    )
                    .status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();

    let failed = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(failed, 5, "{statuses:?}");
    assert_eq!(throttled, 11, "{statuses:?}");
    assert_eq!(app.activity_count("login.failed"), 5);
    assert!(
        app.activity_count("login.throttled") <= 2,
        "one note per key"
    );
    assert_eq!(
        app.client().login("owner@example.com", PASSWORD).status,
        429,
        "the right password waits out the minute too"
    );
}

fn last_seen(app: &TestApp) -> time::PrimitiveDateTime {
    sessions::table
        .select(sessions::last_seen_at)
        .first(&mut app.conn())
        .unwrap()
}

fn set_last_seen(app: &TestApp, at: time::PrimitiveDateTime) {
    diesel::update(sessions::table)
        .set(sessions::last_seen_at.eq(at))
        .execute(&mut app.conn())
        .unwrap();
}

#[test]
fn a_session_ends_after_thirty_idle_minutes() {
    let app = TestApp::spawn();
    let mut client = app.signed_in(Role::Owner);
    set_last_seen(&app, now_utc() - Duration::minutes(29));
    assert_eq!(client.get("/users").status, 200, "29 minutes idle is fine");

    set_last_seen(&app, now_utc() - Duration::minutes(31));
    let reply = client.get("/users");

    assert_eq!(reply.status, 303);
    assert!(reply.location().starts_with("/login"));
}

#[test]
fn last_seen_is_written_at_most_once_a_minute() {
    let app = TestApp::spawn();
    let mut client = app.signed_in(Role::Owner);
    let recent = now_utc() - Duration::seconds(30);
    set_last_seen(&app, recent);

    client.get("/users");
    assert_eq!(last_seen(&app), recent, "not rewritten within the minute");

    set_last_seen(&app, now_utc() - Duration::seconds(90));
    client.get("/users");
    assert!(last_seen(&app) > now_utc() - Duration::seconds(10));
}

#[test]
fn expired_and_idle_sessions_are_purged() {
    let app = TestApp::spawn();
    let _expired = app.signed_in(Role::Support);
    diesel::update(sessions::table)
        .set(sessions::expires_at.eq(now_utc() - Duration::minutes(1)))
        .execute(&mut app.conn())
        .unwrap();
    let _idle = app.signed_in(Role::Operator);
    set_last_seen(&app, now_utc() - Duration::hours(2));

    let _fresh = app.signed_in(Role::Owner);

    let left: i64 = sessions::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(left, 1, "only the live session is kept");
}

#[test]
fn the_api_scope_needs_a_bearer_key_and_answers_json() {
    let app = TestApp::spawn();
    let system = creditdesk::store::activity::Audit::system();
    let key =
        creditdesk::store::api_keys::create(&mut app.conn(), "Checkout", None, &system).unwrap();
    let mut client = app.client();
    let bearer = format!("Bearer {}", key.secret);

    let anonymous = client.get("/api/v1/users?email=a%40b.c");
    let anonymous_post = client.post_with("/api/v1/users", &[("email", "a@b.c")], &[]);
    let wrong = client.get_with("/api/v1/users", &[("Authorization", "Bearer cdk_nope")]);
    let with_key = client.get_with("/api/v1/no-such-route", &[("Authorization", &bearer)]);
    diesel::update(api_keys::table)
        .set(api_keys::revoked_at.eq(Some(now_utc())))
        .execute(&mut app.conn())
        .unwrap();
    let revoked = client.get_with("/api/v1/no-such-route", &[("Authorization", &bearer)]);

    for reply in [&anonymous, &anonymous_post, &wrong, &revoked] {
        assert_eq!(reply.status, 401, "{}", reply.body);
        assert!(reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json"));
        assert!(
            reply.body.contains("\"code\":\"unauthorized\""),
            "{}",
            reply.body
        );
        assert!(reply.header("location").is_none(), "never a redirect");
    }
    assert_eq!(with_key.status, 404, "{}", with_key.body);
    assert!(with_key.body.contains("\"code\":\"not_found\""));
}

/// A sign-in attempt that arrived through a proxy which says the client is `forwarded_for`.
fn login_via_proxy(app: &TestApp, email: &str, password: &str, forwarded_for: &str) -> u16 {
    let mut client = app.client();
    let page = client.get("/login");
    let token = hidden_value(&page.body, "csrf_token").unwrap();
    client
        .post_with(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
            ],
            &[("X-Forwarded-For", forwarded_for)],
        )
        .status
}

#[test]
fn behind_a_trusted_proxy_each_client_is_throttled_on_its_own() {
    let app = TestApp::spawn_with(|settings| {
        settings.trusted_proxies = creditdesk::config::parse_trusted_proxies("127.0.0.1").unwrap();
    });
    for n in 0..5 {
        let email = format!("typo{n}@example.com");
        assert_eq!(login_via_proxy(&app, &email, "guess", "203.0.113.7"), 401);
    }

    let colleague = login_via_proxy(&app, "owner@example.com", PASSWORD, "198.51.100.2");
    let same_client = login_via_proxy(&app, "support@example.com", PASSWORD, "203.0.113.7");

    assert_eq!(
        colleague, 303,
        "another client behind the proxy is not locked out"
    );
    assert_eq!(same_client, 429, "the client who typed wrong five times is");
    let ips: Vec<Option<String>> = activity_log::table
        .filter(activity_log::action.eq("login.failed"))
        .select(activity_log::ip)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(ips, vec![Some("203.0.113.7".to_owned()); 5]);
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::spawn();
    for n in 0..5 {
        let forged = format!("203.0.113.{n}");
        assert_eq!(
            login_via_proxy(&app, &format!("typo{n}@example.com"), "guess", &forged),
            401
        );
    }
    assert_eq!(
        login_via_proxy(&app, "owner@example.com", PASSWORD, "198.51.100.99"),
        429,
        "a forged header does not escape the throttle"
    );
}

#[test]
fn cookies_are_secure_when_the_settings_say_so() {
    let plain = TestApp::spawn();
    let secure = TestApp::spawn_with(|settings| settings.secure_cookies = true);

    let plain_cookies = plain
        .client()
        .login("owner@example.com", PASSWORD)
        .set_cookies;
    let secure_cookies = secure
        .client()
        .login("owner@example.com", PASSWORD)
        .set_cookies;

    let session = |cookies: &[String]| {
        cookies
            .iter()
            .find(|c| c.starts_with("creditdesk_session="))
            .cloned()
            .unwrap()
    };
    assert!(!session(&plain_cookies).contains("Secure"));
    assert!(session(&secure_cookies).contains("Secure"));
}
