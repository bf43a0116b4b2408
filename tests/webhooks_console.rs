//! The console's webhook pages (docs/console.md, "Webhooks"): an owner adds endpoints (the
//! secret shown once), disables, enables, rotates and pings them; the delivery log with its
//! filters, paging, resend and replay; refused addresses; who may do what; the dashboard's
//! warning. No dispatcher runs here, so every delivery stays pending: nothing is sent.

mod common;

use common::{escape, Client, TestApp};
use creditdesk::db::schema::{activity_log, webhook_deliveries, webhook_endpoints, webhook_events};
use creditdesk::domain::Role;
use creditdesk::store::activity::Audit;
use creditdesk::store::webhooks::{self, NewEndpoint};
use creditdesk::webhooks::events::EventType;
use diesel::prelude::*;

const URL: &str = "https://hooks.example.com/creditdesk";

fn secret_in(body: &str) -> Option<String> {
    let marker = "<code id=\"webhook-secret\">";
    let start = body.find(marker)? + marker.len();
    body[start..].split('<').next().map(str::to_owned)
}

/// The values of `attribute` in the page, in order (`data-webhook-id`, `data-delivery-id`).
fn ids(body: &str, attribute: &str) -> Vec<i64> {
    body.split(&format!("{attribute}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

fn endpoints(app: &TestApp) -> i64 {
    webhook_endpoints::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// (previous secret, secret) of an endpoint as stored.
fn secrets(app: &TestApp, id: i64) -> (Option<String>, String) {
    webhook_endpoints::table
        .find(id)
        .select((
            webhook_endpoints::previous_secret,
            webhook_endpoints::secret,
        ))
        .first(&mut app.conn())
        .unwrap()
}

/// (delivery id, event id, event type, status) of an endpoint's deliveries, oldest first.
fn deliveries(app: &TestApp, endpoint: i64) -> Vec<(i64, String, String, String)> {
    webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order(webhook_deliveries::id)
        .select((
            webhook_deliveries::id,
            webhook_events::event_id,
            webhook_events::kind,
            webhook_deliveries::status,
        ))
        .load(&mut app.conn())
        .unwrap()
}

/// The `webhook.*` actions recorded by people, in order, with their actor.
fn webhook_activity(app: &TestApp) -> Vec<(String, String)> {
    activity_log::table
        .filter(activity_log::action.like("webhook.%"))
        .filter(activity_log::actor.ne("system"))
        .order(activity_log::id)
        .select((activity_log::action, activity_log::actor))
        .load(&mut app.conn())
        .unwrap()
}

/// An endpoint added by the owner through the form; returns its id.
fn add(app: &TestApp, owner: &mut Client, url: &str, events: &[&str]) -> i64 {
    let mut fields = vec![("url", url), ("description", "Billing system")];
    fields.extend(events.iter().map(|e| ("events", *e)));
    let reply = owner.post("/webhooks", &fields);
    assert_eq!(reply.status, 200, "{}", reply.body);
    webhook_endpoints::table
        .filter(webhook_endpoints::url.eq(url))
        .select(webhook_endpoints::id)
        .order(webhook_endpoints::id.desc())
        .first(&mut app.conn())
        .unwrap()
}

/// An endpoint added behind the console's back, by the system.
fn endpoint_of_system(app: &TestApp, url: &str) -> i64 {
    let new = NewEndpoint {
        url: url.into(),
        description: String::new(),
        events: vec![EventType::CreditChanged],
    };
    webhooks::create(&mut app.conn(), &new, &Audit::system())
        .unwrap()
        .0
        .id
}

#[test]
fn an_owner_adds_an_endpoint_and_sees_its_secret_once() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);

    let form = owner.get("/webhooks");
    let added = owner.post(
        "/webhooks",
        &[
            ("url", " https://Hooks.Example.com/creditdesk "),
            ("events", "credit.changed"),
            ("events", "credit.balance_low"),
            ("description", "Billing <b>system</b>"),
        ],
    );
    let listed = owner.get("/webhooks");

    assert_eq!(form.status, 200);
    assert!(form.body.contains(
        "<form class=\"card add-webhook\" method=\"post\" action=\"/webhooks\" id=\"webhook-new\">"
    ));
    assert!(
        form.body
            .contains("name=\"events\" value=\"credit.changed\" checked"),
        "credit.changed is ticked by default"
    );
    assert!(form
        .body
        .contains("name=\"events\" value=\"credit.expiring\">"));
    assert!(form.body.contains(&escape(EventType::Expiring.describe())));
    assert!(form
        .body
        .contains("href=\"/webhooks\" aria-current=\"page\">Webhooks</a>"));

    assert_eq!(added.status, 200, "{}", added.body);
    let secret = secret_in(&added.body).expect("the secret in #webhook-secret");
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert!(added.body.contains("It will not be shown again"));
    assert!(added.body.contains("Standard Webhooks"));
    let id = ids(&added.body, "data-webhook-id");
    assert_eq!(id.len(), 1);
    let (previous, stored) = secrets(&app, id[0]);
    assert_eq!((previous, stored), (None, secret.clone()));

    assert!(secret_in(&listed.body).is_none() && !listed.body.contains(&secret));
    assert!(listed.body.contains("table id=\"webhook-endpoints\""));
    assert!(listed
        .body
        .contains(&format!("<tr data-webhook-id=\"{}\">", id[0])));
    assert!(listed
        .body
        .contains("<code>https://hooks.example.com/creditdesk</code>"));
    assert!(listed.body.contains(&escape("Billing <b>system</b>")));
    assert!(!listed.body.contains("<b>system</b>"));
    assert!(listed.body.contains("<code>credit.balance_low</code>"));
    assert!(listed.body.contains("0 pending") && listed.body.contains("never"));
    assert!(listed
        .body
        .contains(&format!("href=\"/webhooks/{}\"", id[0])));
    for button in ["Disable", "Rotate secret", "Send test ping", "Deliveries"] {
        assert!(listed.body.contains(button), "{button}");
    }
    assert_eq!(
        webhook_activity(&app),
        vec![("webhook.create".into(), "owner@example.com".into())]
    );
}

#[test]
fn an_owner_disables_enables_rotates_and_pings_an_endpoint() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let id = add(&app, &mut owner, URL, &["credit.changed"]);
    let (_, first_secret) = secrets(&app, id);
    let path = format!("/webhooks/{id}");

    let disabled = owner.post(&path, &[("action", "disable")]);
    let again = owner.post(&path, &[("action", "disable")]);
    let enabled = owner.post(&path, &[("action", "enable")]);
    let rotated = owner.post(&path, &[("action", "rotate")]);
    let pinged = owner.post(&path, &[("action", "test")]);

    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(disabled.body.contains("is disabled"));
    assert!(disabled.body.contains("badge off\">Disabled</span>"));
    assert!(disabled.body.contains(">Enable</button>"));
    assert!(again.body.contains("was disabled already: nothing changed"));
    assert!(enabled.body.contains("is enabled") && enabled.body.contains(">Disable</button>"));

    assert_eq!(rotated.status, 200);
    let new_secret = secret_in(&rotated.body).expect("the new secret in #webhook-secret");
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, first_secret);
    assert!(rotated
        .body
        .contains("keeps signing beside the new one for 24 hours"));
    assert_eq!(
        secrets(&app, id),
        (Some(first_secret.clone()), new_secret.clone())
    );
    assert!(rotated.body.contains("The old secret signs too until"));
    assert!(
        !rotated.body.contains(&first_secret),
        "the old secret is never shown"
    );

    assert_eq!(pinged.status, 200);
    assert!(pinged
        .body
        .contains("A test ping to https://hooks.example.com/creditdesk is queued"));
    assert!(pinged
        .body
        .contains(&format!("href=\"/webhooks/{id}\">See the delivery log")));
    let queued = deliveries(&app, id);
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].2.as_str(), queued[0].3.as_str()),
        ("ping", "pending")
    );
    assert!(pinged.body.contains(&queued[0].1), "the ping's webhook-id");
    assert!(pinged.body.contains("1 pending"));
    assert!(secret_in(&pinged.body).is_none());

    let actions: Vec<String> = webhook_activity(&app).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        [
            "webhook.create",
            "webhook.disable",
            "webhook.enable",
            "webhook.rotate",
            "webhook.test"
        ]
    );
    let filtered = owner.get("/activity?action=webhook.");
    assert_eq!(ids(&filtered.body, "data-activity-id").len(), 5);
    assert!(filtered
        .body
        .contains("<option value=\"webhook.\" selected>Webhook changes</option>"));
    assert!(filtered.body.contains(&format!(
        "webhook {id} (https://hooks.example.com/creditdesk)"
    )));
    let unknown = owner.post(&path, &[("action", "delete")]);
    assert_eq!(unknown.status, 422);
    assert!(unknown
        .body
        .contains("Say what to do with the endpoint: disable, enable, rotate or test."));
    assert_eq!(webhook_activity(&app).len(), 5, "nothing recorded");
}

#[test]
fn the_delivery_log_shows_filters_pages_resends_and_replays() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let id = add(&app, &mut owner, URL, &["credit.changed"]);
    let other = add(
        &app,
        &mut owner,
        "https://other.example.com/hook",
        &["credit.changed"],
    );
    // A ledger row sends credit.changed to both endpoints; the test button pings one.
    app.customer_with(1, 120);
    owner.post(&format!("/webhooks/{id}"), &[("action", "test")]);
    let log_path = format!("/webhooks/{id}");

    let log = owner.get(&log_path);
    let pending = owner.get(&format!("{log_path}?status=pending"));
    let delivered = owner.get(&format!("{log_path}?status=delivered"));
    let pings = owner.get(&format!("{log_path}?type=ping"));
    let changes = owner.get(&format!("{log_path}?type=credit.changed&status=pending"));
    let refused = owner.get(&format!("{log_path}?status=sent&type=credit.deleted"));

    let queued = deliveries(&app, id);
    assert_eq!(queued.len(), 2, "{queued:?}");
    let (change, ping) = (&queued[0], &queued[1]);
    assert_eq!(
        (change.2.as_str(), ping.2.as_str()),
        ("credit.changed", "ping")
    );
    assert_eq!(log.status, 200);
    assert!(log.body.contains("table id=\"webhook-deliveries\""));
    assert_eq!(
        ids(&log.body, "data-delivery-id"),
        vec![ping.0, change.0],
        "newest first"
    );
    assert!(log.body.contains(&ping.1) && log.body.contains(&change.1));
    assert!(log
        .body
        .contains("<code>https://hooks.example.com/creditdesk</code>"));
    assert!(!log.body.contains("whsec_"), "the secret is never shown");
    assert!(log.body.contains(">Resend</button>") && log.body.contains("id=\"webhook-replay\""));
    assert!(log.body.contains("type=\"datetime-local\""));
    assert_eq!(ids(&pending.body, "data-delivery-id").len(), 2);
    assert!(ids(&delivered.body, "data-delivery-id").is_empty());
    assert!(delivered.body.contains("No deliveries match."));
    assert_eq!(ids(&pings.body, "data-delivery-id"), vec![ping.0]);
    assert_eq!(ids(&changes.body, "data-delivery-id"), vec![change.0]);
    assert_eq!(refused.status, 422);
    assert!(refused
        .body
        .contains("pending, delivered or failed, not &#34;sent&#34;"));
    assert!(refused
        .body
        .contains("There is no event type &#34;credit.deleted&#34;"));
    assert!(ids(&refused.body, "data-delivery-id").is_empty());

    // Resend: a new pending delivery of the same event.
    let resent = owner.post(&format!("{log_path}/deliveries/{}/resend", change.0), &[]);
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert!(resent.body.contains("is queued again"));
    let after_resend = deliveries(&app, id);
    assert_eq!(after_resend.len(), 3);
    assert_eq!(after_resend[2].1, change.1, "same webhook-id");
    assert_eq!(after_resend[2].3, "pending");
    assert_eq!(ids(&resent.body, "data-delivery-id")[0], after_resend[2].0);
    let wrong_endpoint = owner.post(
        &format!("/webhooks/{other}/deliveries/{}/resend", change.0),
        &[],
    );
    assert_eq!(wrong_endpoint.status, 404, "a delivery of another endpoint");

    // Replay since: the credit change happened two days ago, the ping now.
    let two_days_ago = time::OffsetDateTime::now_utc() - time::Duration::days(2);
    let two_days_ago = time::PrimitiveDateTime::new(two_days_ago.date(), two_days_ago.time());
    diesel::update(webhook_events::table.filter(webhook_events::event_id.eq(&change.1)))
        .set(webhook_events::created_at.eq(two_days_ago))
        .execute(&mut app.conn())
        .unwrap();
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1)).date();
    let since_yesterday = format!("{yesterday}T00:00");
    let recent = owner.post(
        &format!("{log_path}/replay"),
        &[("since", since_yesterday.as_str())],
    );
    let after_recent = deliveries(&app, id);
    let three_days_ago = (time::OffsetDateTime::now_utc() - time::Duration::days(3)).date();
    let all = owner.post(
        &format!("{log_path}/replay"),
        &[("since", three_days_ago.to_string().as_str())],
    );
    let after_all = deliveries(&app, id);

    assert_eq!(recent.status, 200, "{}", recent.body);
    assert!(recent.body.contains("1 event since"), "{}", recent.body);
    assert_eq!(after_recent.len(), 4);
    assert_eq!(
        after_recent[3].1, ping.1,
        "only the ping is since yesterday"
    );
    assert!(all.body.contains("2 events since"));
    assert_eq!(after_all.len(), 6);
    assert_eq!(
        (after_all[4].1.as_str(), after_all[5].1.as_str()),
        (change.1.as_str(), ping.1.as_str()),
        "in event order"
    );
    assert!(after_all.iter().all(|d| d.3 == "pending"));
    assert_eq!(
        deliveries(&app, other).len(),
        1,
        "the other endpoint is left alone"
    );

    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date();
    for (since, message) in [
        ("", "Enter the time"),
        ("last week", "YYYY-MM-DDTHH:MM"),
        (&format!("{tomorrow}T00:00")[..], "in the future"),
    ] {
        let reply = owner.post(&format!("{log_path}/replay"), &[("since", since)]);
        assert_eq!(reply.status, 422, "{since}");
        assert!(reply.body.contains(message), "{since}: {}", reply.body);
        assert!(reply.body.contains("field-error"));
    }
    assert_eq!(
        deliveries(&app, id).len(),
        6,
        "nothing queued by a refused replay"
    );

    let actions: Vec<String> = webhook_activity(&app).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        [
            "webhook.create",
            "webhook.create",
            "webhook.test",
            "webhook.resend",
            "webhook.replay",
            "webhook.replay"
        ]
    );
}

#[test]
fn the_log_pages_by_fifty_and_escapes_what_receivers_answer() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let id = endpoint_of_system(&app, URL);
    for _ in 0..55 {
        webhooks::ping(&mut app.conn(), id, &Audit::system()).unwrap();
    }
    let newest: i64 = deliveries(&app, id).last().unwrap().0;
    let excerpt = format!("<script>alert(1)</script>{}", "x".repeat(200));
    diesel::update(webhook_deliveries::table.find(newest))
        .set((
            webhook_deliveries::response_code.eq(Some(500)),
            webhook_deliveries::response_excerpt.eq(Some(&excerpt)),
            webhook_deliveries::attempts.eq(1),
            webhook_deliveries::last_attempt_at.eq(Some(creditdesk::db::now_utc())),
        ))
        .execute(&mut app.conn())
        .unwrap();

    let first = owner.get(&format!("/webhooks/{id}?type=ping"));
    let first_rows = ids(&first.body, "data-delivery-id");
    let older_href = first
        .body
        .split("<a href=\"")
        .find_map(|rest| {
            let href = rest.split('"').next()?;
            href.contains("before=").then(|| href.replace("&#38;", "&"))
        })
        .expect("an Older link");
    let second = owner.get(&older_href);
    let listed = owner.get("/webhooks");

    assert_eq!(first_rows.len(), 50);
    assert_eq!(first_rows[0], newest);
    assert!(first.body.contains("Older →"));
    assert_eq!(
        older_href,
        format!("/webhooks/{id}?type=ping&before={}", first_rows[49])
    );
    let second_rows = ids(&second.body, "data-delivery-id");
    assert_eq!(second_rows.len(), 5);
    assert!(second_rows.iter().all(|row| *row < first_rows[49]));
    assert!(!second.body.contains("Older →") && second.body.contains("← Newest"));
    assert!(!first.body.contains("<script>alert(1)"));
    assert!(first
        .body
        .contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(first.body.contains("<strong>500</strong>"));
    let shortened = format!(
        "&#60;script&#62;alert(1)&#60;/script&#62;{}…",
        "x".repeat(55)
    );
    assert!(
        first.body.contains(&shortened),
        "a long excerpt is shortened"
    );
    assert!(
        listed
            .body
            .contains("<div class=\"small muted\">pending</div>"),
        "the last attempt"
    );
    assert!(listed.body.contains("55 pending"));
}

#[test]
fn addresses_that_cannot_receive_webhooks_are_refused_and_nothing_is_added() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let long = format!("https://example.com/{}", "a".repeat(2_000));
    let cases: Vec<(&str, String)> = vec![
        ("", "Enter the address".into()),
        (
            "javascript:alert(1)",
            "Start the address with https://".into(),
        ),
        ("http://example.com/hook", "Use https://".into()),
        ("https://localhost/hook", "this server itself".into()),
        ("https://LOCALHOST./hook", "this server itself".into()),
        (
            "https://user:pass@example.com/hook",
            "user name and password".into(),
        ),
        ("https://", "host name".into()),
        ("https:///", "host name".into()),
        (&long, "2,000 characters".into()),
        ("https://0.0.0.0/", "(this network)".into()),
        ("https://10.0.0.1/", "(private)".into()),
        ("https://172.16.0.1/", "(private)".into()),
        ("https://192.168.0.1/", "(private)".into()),
        ("https://100.64.0.1/", "(shared address space)".into()),
        ("https://127.0.0.1/", "(loopback)".into()),
        ("https://169.254.169.254/", "(link-local)".into()),
        ("https://192.0.0.8/", "(IETF protocol assignments)".into()),
        ("https://192.0.2.1/", "(documentation)".into()),
        ("https://192.88.99.1/", "(6to4 relay anycast)".into()),
        ("https://198.18.0.1/", "(benchmarking)".into()),
        ("https://224.0.0.1/", "(multicast)".into()),
        ("https://240.0.0.1/", "(reserved)".into()),
        ("https://[::]/", "(unspecified)".into()),
        ("https://[::1]/", "(loopback)".into()),
        (
            "https://[::10.0.0.1]/",
            "(IPv4-compatible (deprecated))".into(),
        ),
        ("https://[64:ff9b::a00:1]/", "(NAT64)".into()),
        ("https://[64:ff9b:1::1]/", "(NAT64 (local use))".into()),
        ("https://[100::1]/", "(discard-only)".into()),
        ("https://[2001::1]/", "(IETF protocol assignments)".into()),
        ("https://[2001:db8::1]/", "(documentation)".into()),
        ("https://[2002:a00:1::1]/", "(6to4)".into()),
        ("https://[3fff::1]/", "(documentation)".into()),
        ("https://[5f00::1]/", "(segment routing)".into()),
        ("https://[fc00::1]/", "(unique local (private))".into()),
        ("https://[fe80::1]/", "(link-local)".into()),
        ("https://[fec0::1]/", "(site-local (deprecated))".into()),
        ("https://[ff02::1]/", "(multicast)".into()),
        ("https://[::ffff:10.0.0.1]/", "(private)".into()),
        ("https://[::ffff:127.0.0.1]/", "(loopback)".into()),
        ("https://[::ffff:169.254.169.254]/", "(link-local)".into()),
    ];
    for (url, message) in &cases {
        let reply = owner.post(
            "/webhooks",
            &[
                ("url", *url),
                ("events", "credit.changed"),
                ("description", "typed"),
            ],
        );
        assert_eq!(reply.status, 422, "{url}");
        assert!(reply.body.contains(&escape(message)), "{url}: {message}");
        assert!(reply.body.contains("class=\"field-error\""), "{url}");
        assert!(
            reply.body.contains("value=\"typed\""),
            "{url}: the form is refilled"
        );
        assert!(secret_in(&reply.body).is_none());
    }
    let no_events = owner.post("/webhooks", &[("url", URL)]);
    let unknown_event = owner.post(
        "/webhooks",
        &[
            ("url", URL),
            ("events", "credit.changed"),
            ("events", "credit.deleted"),
        ],
    );
    let long_description = "d".repeat(201);
    let bad_description = owner.post(
        "/webhooks",
        &[
            ("url", URL),
            ("events", "credit.expiring"),
            ("description", long_description.as_str()),
        ],
    );

    assert_eq!(no_events.status, 422);
    assert!(no_events
        .body
        .contains("Choose at least one event to send."));
    assert!(
        no_events.body.contains(&format!("value=\"{URL}\"")),
        "the address is kept"
    );
    assert!(
        !no_events.body.contains("value=\"credit.changed\" checked"),
        "as sent: none ticked"
    );
    assert_eq!(unknown_event.status, 422);
    assert!(unknown_event
        .body
        .contains("There is no event &#34;credit.deleted&#34; to send."));
    assert_eq!(bad_description.status, 422);
    assert!(bad_description
        .body
        .contains("Keep the description to 200 characters."));
    assert!(bad_description
        .body
        .contains("value=\"credit.expiring\" checked"));
    assert_eq!(endpoints(&app), 0, "nothing added");
    assert!(webhook_activity(&app).is_empty());
}

#[test]
fn the_insecure_setting_lets_plain_http_and_loopback_in_and_nothing_else() {
    let app = TestApp::spawn_with(|settings| settings.webhooks.allow_insecure = true);
    let mut owner = app.signed_in(Role::Owner);

    let form = owner.get("/webhooks");
    let local = owner.post(
        "/webhooks",
        &[
            ("url", "http://127.0.0.1:9/hook"),
            ("events", "credit.changed"),
        ],
    );
    let named = owner.post(
        "/webhooks",
        &[
            ("url", "http://localhost:9/hook"),
            ("events", "credit.changed"),
        ],
    );
    let private = owner.post(
        "/webhooks",
        &[
            ("url", "http://10.0.0.1/hook"),
            ("events", "credit.changed"),
        ],
    );

    assert!(form.body.contains("plain http://"));
    assert_eq!(local.status, 200, "{}", local.body);
    assert!(secret_in(&local.body).is_some());
    assert_eq!(named.status, 200, "{}", named.body);
    assert_eq!(private.status, 422);
    assert!(private.body.contains("(private)"));
    assert_eq!(endpoints(&app), 2);
}

#[test]
fn billing_admins_and_operators_read_endpoints_and_log_only_and_support_sees_nothing() {
    let app = TestApp::spawn();
    let id = endpoint_of_system(&app, URL);
    webhooks::ping(&mut app.conn(), id, &Audit::system()).unwrap();
    let delivery = deliveries(&app, id)[0].0;
    let log = format!("/webhooks/{id}");
    let before = deliveries(&app, id).len();

    for role in [Role::BillingAdmin, Role::Operator] {
        let mut reader = app.signed_in(role);
        let page = reader.get(&log);
        assert_eq!(page.status, 200, "{role}");
        assert_eq!(
            ids(&page.body, "data-delivery-id"),
            vec![delivery],
            "{role}"
        );
        assert!(!page.body.contains(">Resend</button>"), "{role}: read-only");
        assert!(
            !page.body.contains("id=\"webhook-replay\""),
            "{role}: read-only"
        );
        let list = reader.get("/webhooks");
        assert_eq!(list.status, 200, "{role}: the endpoints, read-only");
        assert!(
            list.body.contains(&format!("data-webhook-id=\"{id}\"")),
            "{role}"
        );
        for owner_only in [
            "id=\"webhook-new\"",
            "value=\"rotate\"",
            "value=\"test\"",
            "value=\"disable\"",
        ] {
            assert!(!list.body.contains(owner_only), "{role}: {owner_only}");
        }
        assert!(
            reader.get("/").body.contains("href=\"/webhooks\""),
            "{role}: in the menu"
        );
        for reply in [
            reader.post("/webhooks", &[("url", URL), ("events", "credit.changed")]),
            reader.post(&log, &[("action", "disable")]),
            reader.post(&log, &[("action", "test")]),
            reader.post(&format!("{log}/replay"), &[("since", "2026-01-01")]),
            reader.post(&format!("{log}/deliveries/{delivery}/resend"), &[]),
        ] {
            assert_eq!(reply.status, 403, "{role}");
            assert!(reply.body.contains("This needs the Owner role."), "{role}");
        }
    }
    let mut support = app.signed_in(Role::Support);
    for reply in [
        support.get("/webhooks"),
        support.get(&log),
        support.get(&format!("{log}?status=pending")),
        support.post("/webhooks", &[("url", URL), ("events", "credit.changed")]),
        support.post(&log, &[("action", "enable")]),
        support.post(&format!("{log}/replay"), &[("since", "2026-01-01")]),
        support.post(&format!("{log}/deliveries/{delivery}/resend"), &[]),
    ] {
        assert_eq!(reply.status, 403);
    }
    let mut owner = app.signed_in(Role::Owner);
    assert!(
        owner.get("/").body.contains("href=\"/webhooks\""),
        "in the owner's menu"
    );
    assert!(!support.get("/").body.contains("href=\"/webhooks\""));

    assert_eq!(endpoints(&app), 1);
    assert_eq!(deliveries(&app, id).len(), before, "nothing queued");
    assert!(webhook_activity(&app).is_empty(), "nothing done");
}

#[test]
fn posts_without_the_csrf_token_and_unknown_ids_are_refused() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let id = endpoint_of_system(&app, URL);
    webhooks::ping(&mut app.conn(), id, &Audit::system()).unwrap();
    let delivery = deliveries(&app, id)[0].0;

    for (path, fields) in [
        (
            "/webhooks".to_owned(),
            vec![("url", URL), ("events", "credit.changed")],
        ),
        (format!("/webhooks/{id}"), vec![("action", "disable")]),
        (
            format!("/webhooks/{id}/replay"),
            vec![("since", "2026-01-01")],
        ),
        (
            format!("/webhooks/{id}/deliveries/{delivery}/resend"),
            vec![],
        ),
    ] {
        let reply = owner.post_with(&path, &fields, &[]);
        assert_eq!(reply.status, 403, "{path}");
        let mut wrong = vec![("csrf_token", "not-the-token")];
        wrong.extend(fields.iter().copied());
        assert_eq!(owner.post_with(&path, &wrong, &[]).status, 403, "{path}");
    }
    assert_eq!(endpoints(&app), 1);
    assert_eq!(deliveries(&app, id).len(), 1);
    assert!(webhook_activity(&app).is_empty());

    for reply in [
        owner.get("/webhooks/999999"),
        owner.get("/webhooks/abc"),
        owner.post("/webhooks/999999", &[("action", "disable")]),
        owner.post("/webhooks/999999", &[("action", "rotate")]),
        owner.post("/webhooks/999999", &[("action", "test")]),
        owner.post("/webhooks/999999/replay", &[("since", "2026-01-01")]),
        owner.post(
            &format!("/webhooks/999999/deliveries/{delivery}/resend"),
            &[],
        ),
        owner.post(&format!("/webhooks/{id}/deliveries/999999/resend"), &[]),
        owner.post(&format!("/webhooks/{id}/deliveries/x/resend"), &[]),
    ] {
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert!(reply.body.contains("was not found"));
    }
    assert!(webhook_activity(&app).is_empty());
}

#[test]
fn the_dashboard_warns_of_endpoints_the_server_disabled() {
    let app = TestApp::spawn();
    app.customer_with(1, 10);
    let gone = endpoint_of_system(&app, "https://gone.example.com/hook");
    let by_owner = endpoint_of_system(&app, "https://paused.example.com/hook");
    let mut owner = app.signed_in(Role::Owner);
    let quiet = owner.get("/");
    webhooks::disable_by_server(&mut app.conn(), gone, "the receiver answered 410 Gone").unwrap();
    owner.post(&format!("/webhooks/{by_owner}"), &[("action", "disable")]);

    assert!(!quiet.body.contains("webhooks-disabled"));
    for role in [Role::Owner, Role::BillingAdmin, Role::Operator] {
        let page = app.signed_in(role).get("/");
        assert!(page.body.contains("id=\"webhooks-disabled\""), "{role}");
        assert!(
            page.body
                .contains(&format!("<a href=\"/webhooks/{gone}\">")),
            "{role}"
        );
        assert!(
            page.body.contains("the receiver answered 410 Gone"),
            "{role}"
        );
        assert!(
            !page.body.contains("paused.example.com"),
            "{role}: an owner's own pause"
        );
    }
    let support = app.signed_in(Role::Support).get("/");
    assert!(!support.body.contains("webhooks-disabled"));
    let listed = owner.get("/webhooks");
    assert!(listed.body.contains("Disabled by Creditdesk"));
    assert!(listed.body.contains("the receiver answered 410 Gone"));
}
