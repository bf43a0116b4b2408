//! Admins and API keys from the console: adding, roles, disabling, one-time passwords, the
//! last owner, and keys whose secret is shown once and whose revocation is immediate.

mod common;

use std::sync::{Arc, Barrier};

use common::{TestApp, PASSWORD};
use creditdesk::db::schema::{activity_log, admins};
use creditdesk::domain::Role;
use diesel::prelude::*;

fn one_time_password(body: &str, id: &str) -> String {
    let marker = format!("<code id=\"{id}\">");
    let start = body.find(&marker).expect("a one-time secret") + marker.len();
    body[start..].split('<').next().unwrap().to_owned()
}

fn admin_id(app: &TestApp, email: &str) -> i64 {
    admins::table
        .filter(admins::email.eq(email))
        .select(admins::id)
        .first(&mut app.conn())
        .unwrap()
}

fn activity(app: &TestApp, action: &str) -> Vec<(String, String, String)> {
    activity_log::table
        .filter(activity_log::action.eq(action))
        .filter(activity_log::actor.ne("system"))
        .order(activity_log::id)
        .select((
            activity_log::actor,
            activity_log::target,
            activity_log::details,
        ))
        .load(&mut app.conn())
        .unwrap()
}

#[test]
fn an_owner_adds_an_admin_who_signs_in_with_the_one_time_password() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);

    let added = owner.post(
        "/admins",
        &[
            ("email", "Sam@Example.com"),
            ("name", "Sam"),
            ("role", "support"),
        ],
    );
    let password = one_time_password(&added.body, "one-time-password");
    let list = owner.get("/admins");
    let mut sam = app.client();
    let signed_in = sam.login("sam@example.com", &password);

    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added
        .body
        .contains("sam@example.com can now sign in as Support."));
    assert!(password.len() >= 12);
    assert!(
        !list.body.contains(&password),
        "the password is shown once, not again"
    );
    assert!(list.body.contains("table id=\"admins\"") && list.body.contains("data-admin-id="));
    assert_eq!(signed_in.status, 303);
    assert_eq!(
        activity(&app, "admin.create"),
        vec![(
            "owner@example.com".into(),
            "sam@example.com".into(),
            "Sam (support)".into()
        )]
    );
}

#[test]
fn a_new_admin_that_cannot_be_is_refused_with_the_form_kept() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let before: i64 = admins::table.count().get_result(&mut app.conn()).unwrap();
    for (email, name, role, field) in [
        ("sam", "Sam", "support", "email"),
        ("support@example.com", "Sam", "support", "email"),
        ("sam@example.com", "", "support", "name"),
        ("sam@example.com", "Sam\u{202E}", "support", "name"),
        ("sam@example.com", &"x".repeat(101), "support", "name"),
        ("sam@example.com", "Sam", "root", "role"),
    ] {
        let reply = owner.post(
            "/admins",
            &[("email", email), ("name", name), ("role", role)],
        );
        assert_eq!(reply.status, 422, "{email} {name} {role}");
        assert!(reply.body.contains("field-error"), "{field}");
        assert!(reply
            .body
            .contains(&format!("value=\"{}\"", common::escape(email))));
    }
    let after: i64 = admins::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(after, before);
}

#[test]
fn roles_change_and_a_disabled_admin_is_signed_out_at_once() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let mut owner = app.signed_in(Role::Owner);
    let mut support = app.signed_in(Role::Support);
    let id = admin_id(&app, "support@example.com");
    let before = support.get(&format!("/users/{user}/promo-credits/update?currency=EUR"));

    let promoted = owner.post(
        &format!("/admins/{id}"),
        &[("action", "set_role"), ("role", "billing_admin")],
    );
    let can_adjust_now = support.get(&format!("/users/{user}/promo-credits/update?currency=EUR"));
    let disabled = owner.post(&format!("/admins/{id}"), &[("action", "disable")]);
    let next_request = support.get("/users");
    let refused_login = app.client().login("support@example.com", PASSWORD);
    let enabled = owner.post(&format!("/admins/{id}"), &[("action", "enable")]);
    let login_again = app.client().login("support@example.com", PASSWORD);

    assert!(promoted
        .body
        .contains("support@example.com is now Billing admin."));
    assert_eq!(before.status, 403);
    assert_eq!(
        can_adjust_now.status, 200,
        "the new role counts at the next request"
    );
    assert!(disabled
        .body
        .contains("is disabled and signed out everywhere"));
    assert_eq!(next_request.status, 303);
    assert!(next_request.location().starts_with("/login"));
    assert_eq!(refused_login.status, 401);
    assert!(enabled.body.contains("can sign in again"));
    assert_eq!(login_again.status, 303);
    let actions: Vec<String> = activity(&app, "admin.role")
        .into_iter()
        .chain(activity(&app, "admin.disable"))
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(actions, vec!["support → billing_admin", "1 sessions ended"]);
}

#[test]
fn a_reset_password_replaces_the_old_one_and_ends_every_session() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let mut operator = app.signed_in(Role::Operator);
    let id = admin_id(&app, "operator@example.com");

    let reset = owner.post(&format!("/admins/{id}"), &[("action", "reset_password")]);
    let password = one_time_password(&reset.body, "one-time-password");

    assert_eq!(operator.get("/users").status, 303, "signed out");
    assert_eq!(
        app.client().login("operator@example.com", PASSWORD).status,
        401
    );
    assert_eq!(
        app.client().login("operator@example.com", &password).status,
        303
    );
}

#[test]
fn the_last_enabled_owner_cannot_be_disabled_or_demoted() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let id = admin_id(&app, "owner@example.com");

    let disable = owner.post(&format!("/admins/{id}"), &[("action", "disable")]);
    let demote = owner.post(
        &format!("/admins/{id}"),
        &[("action", "set_role"), ("role", "support")],
    );

    for reply in [&disable, &demote] {
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert!(reply.body.contains("This is the last enabled owner"));
    }
    assert_eq!(
        owner.get("/users").status,
        200,
        "still signed in, still owner"
    );
}

#[test]
fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let billing = admin_id(&app, "billing_admin@example.com");
    owner.post(
        &format!("/admins/{billing}"),
        &[("action", "set_role"), ("role", "owner")],
    );
    let mut second = app.client();
    assert_eq!(
        second.login("billing_admin@example.com", PASSWORD).status,
        303
    );
    second.refresh_csrf();
    let first_id = admin_id(&app, "owner@example.com");

    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = [(owner.clone(), billing), (second.clone(), first_id)]
        .into_iter()
        .map(|(mut client, target)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                client
                    .post(
                        &format!("/admins/{target}"),
                        &[("action", "set_role"), ("role", "support")],
                    )
                    .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort();

    // The loser is either refused as the last owner (422) or, if the winner was quicker,
    // no longer an owner at all (403).
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses[1] == 403 || statuses[1] == 422, "{statuses:?}");
    let owners: i64 = admins::table
        .filter(admins::role.eq("owner"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(owners, 1);
}

#[test]
fn api_keys_are_shown_once_work_at_once_and_stop_at_once() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);

    let created = owner.post("/api-keys", &[("name", "Checkout (production)")]);
    let secret = one_time_password(&created.body, "api-key-secret");
    let list = owner.get("/api-keys");
    let mut checkout = app.client();
    let bearer = format!("Bearer {secret}");
    let before = checkout.get_with("/api/v1/anything", &[("Authorization", &bearer)]);
    let id: i64 = list
        .body
        .split("data-api-key-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|id| id.parse().ok())
        .expect("a key row");
    let revoked = owner.post(&format!("/api-keys/{id}/revoke"), &[]);
    let after = checkout.get_with("/api/v1/anything", &[("Authorization", &bearer)]);
    let listed_again = owner.get("/api-keys");

    assert_eq!(created.status, 200);
    assert!(secret.starts_with("cdk_") && secret.len() == 44, "{secret}");
    assert!(!list.body.contains(&secret), "shown once");
    assert!(list.body.contains("table id=\"api-keys\"") && list.body.contains(&secret[..12]));
    assert!(list.body.contains("owner@example.com"), "by whom");
    assert_eq!(
        before.status, 404,
        "the key is good: only the route is unknown"
    );
    assert!(revoked.body.contains("is revoked"));
    assert_eq!(after.status, 401);
    assert!(listed_again.body.contains("Revoked "));
    assert!(listed_again.body.contains("data-api-key-id"));
    assert_eq!(activity(&app, "api_key.create").len(), 1);
    assert_eq!(activity(&app, "api_key.revoke").len(), 1);
    assert_eq!(owner.post("/api-keys", &[("name", " ")]).status, 422);
    assert_eq!(owner.post("/api-keys/999999/revoke", &[]).status, 404);
}

#[test]
fn only_owners_manage_admins_and_keys() {
    let app = TestApp::spawn();
    for role in [Role::BillingAdmin, Role::Support, Role::Operator] {
        let mut client = app.signed_in(role);
        for reply in [
            client.get("/admins"),
            client.get("/api-keys"),
            client.post(
                "/admins",
                &[("email", "x@example.com"), ("name", "X"), ("role", "owner")],
            ),
            client.post("/admins/1", &[("action", "disable")]),
            client.post("/api-keys", &[("name", "mine")]),
            client.post("/api-keys/1/revoke", &[]),
        ] {
            assert_eq!(reply.status, 403, "{role}");
            assert!(reply.body.contains("This needs the Owner role."));
        }
    }
}
