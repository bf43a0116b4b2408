//! Every route as each role and as a signed-out visitor, compared with the permission table
//! of docs/concepts.md. A route missing from the table below fails this test: whoever adds a
//! route says here who may use it.

mod common;

use common::{Client, TestApp};
use creditdesk::domain::Role;
use creditdesk::routes::{all_routes, Route};

/// Who may use a route.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Signed-in admins of these roles.
    Roles(&'static [Role]),
    /// An API key, whatever the console session.
    ApiKey,
}

use Access::*;
use Role::*;

const EVERYONE: &[Role] = &[Owner, BillingAdmin, Support, Operator];
const ADJUSTERS: &[Role] = &[Owner, BillingAdmin];
const OWNERS: &[Role] = &[Owner];
const AUDITORS: &[Role] = &[Owner, BillingAdmin, Operator];

/// The permission table, route by route.
const TABLE: &[(&str, &str, Access)] = &[
    ("get", "/login", Public),
    ("post", "/login", Public),
    ("get", "/healthz", Public),
    ("get", "/metrics", Public),
    ("get", "/static/{path:.*}", Public),
    ("get", "/api/openapi.json", Public),
    ("post", "/logout", Roles(EVERYONE)),
    ("get", "/", Roles(EVERYONE)),
    ("post", "/demo", Roles(OWNERS)),
    ("get", "/users", Roles(EVERYONE)),
    ("get", "/users/{id}", Roles(EVERYONE)),
    ("get", "/users/{id}/promo-credits", Roles(EVERYONE)),
    ("post", "/users/{id}/promo-credits", Roles(ADJUSTERS)),
    ("get", "/users/{id}/promo-credits/update", Roles(ADJUSTERS)),
    ("post", "/users/{id}/promo-credits/usage", Roles(ADJUSTERS)),
    ("get", "/users/{id}/promo-credits/preview", Roles(ADJUSTERS)),
    ("get", "/account/password", Roles(EVERYONE)),
    ("post", "/account/password", Roles(EVERYONE)),
    ("get", "/promo-credits", Roles(EVERYONE)),
    ("get", "/promo-credits/export.csv", Roles(EVERYONE)),
    ("get", "/promo-credits/balances", Roles(EVERYONE)),
    ("get", "/promo-credits/balances/export.csv", Roles(EVERYONE)),
    ("get", "/promo-credits/summary", Roles(EVERYONE)),
    ("get", "/promo-credits/summary.csv", Roles(EVERYONE)),
    ("get", "/settings/promo-credit", Roles(EVERYONE)),
    ("post", "/settings/promo-credit", Roles(OWNERS)),
    ("get", "/activity", Roles(AUDITORS)),
    ("get", "/activity/export.csv", Roles(AUDITORS)),
    ("get", "/admins", Roles(OWNERS)),
    ("post", "/admins", Roles(OWNERS)),
    ("post", "/admins/{id}", Roles(OWNERS)),
    ("get", "/users/import", Roles(OWNERS)),
    ("post", "/users/import", Roles(OWNERS)),
    ("get", "/api-keys", Roles(OWNERS)),
    ("post", "/api-keys", Roles(OWNERS)),
    ("post", "/api-keys/{id}/revoke", Roles(OWNERS)),
    ("get", "/webhooks", Roles(AUDITORS)),
    ("post", "/webhooks", Roles(OWNERS)),
    ("get", "/webhooks/{id}", Roles(AUDITORS)),
    ("post", "/webhooks/{id}", Roles(OWNERS)),
    ("post", "/webhooks/{id}/replay", Roles(OWNERS)),
    (
        "post",
        "/webhooks/{id}/deliveries/{delivery_id}/resend",
        Roles(OWNERS),
    ),
];

fn access_of(route: &Route) -> Access {
    if route.path.starts_with("/api/v1") {
        return ApiKey;
    }
    TABLE
        .iter()
        .find(|(method, path, _)| *method == route.method && *path == route.path)
        .map(|(.., access)| *access)
        .unwrap_or_else(|| {
            panic!(
                "{} {} is not in the permission table of tests/roles.rs: say who may use it",
                route.method, route.path
            )
        })
}

/// Real rows for the routes' ids.
struct Ids {
    user: i64,
    admin: i64,
    key: i64,
    webhook: i64,
    delivery: i64,
}

/// A path for the route with real ids filled in.
fn concrete(route: &Route, ids: &Ids) -> String {
    let id = if route.path.starts_with("/admins/") {
        ids.admin
    } else if route.path.starts_with("/api-keys/") {
        ids.key
    } else if route.path.starts_with("/webhooks/") {
        ids.webhook
    } else {
        ids.user
    };
    route
        .path
        .replace("{id}", &id.to_string())
        .replace("{delivery_id}", &ids.delivery.to_string())
        .replace("{path:.*}", "app.css")
        .replace("{invoice_id}", "INV-1")
}

fn send(client: &mut Client, route: &Route, path: &str) -> common::Reply {
    match route.method {
        "get" => client.get(path),
        _ => client.post(path, &[]),
    }
}

#[test]
fn every_route_answers_each_role_as_the_permission_table_says() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 10);
    let system = creditdesk::store::activity::Audit::system();
    let key = creditdesk::store::api_keys::create(&mut app.conn(), "Roles test", None, &system)
        .unwrap()
        .id;
    let admin = {
        use creditdesk::db::schema::admins;
        use diesel::prelude::*;
        admins::table
            .filter(admins::email.eq("operator@example.com"))
            .select(admins::id)
            .first::<i64>(&mut app.conn())
            .unwrap()
    };
    let (webhook, delivery) = {
        use creditdesk::db::schema::webhook_deliveries;
        use creditdesk::store::webhooks::{self, NewEndpoint};
        use creditdesk::webhooks::events::EventType;
        use diesel::prelude::*;
        let mut conn = app.conn();
        let new = NewEndpoint {
            url: "https://example.com/roles".into(),
            description: String::new(),
            events: vec![EventType::CreditChanged],
        };
        let (endpoint, _) = webhooks::create(&mut conn, &new, &system).unwrap();
        webhooks::ping(&mut conn, endpoint.id, &system).unwrap();
        let delivery: i64 = webhook_deliveries::table
            .select(webhook_deliveries::id)
            .first(&mut conn)
            .unwrap();
        (endpoint.id, delivery)
    };
    let ids = Ids {
        user,
        admin,
        key,
        webhook,
        delivery,
    };
    for (method, path, _) in TABLE {
        assert!(
            all_routes().any(|r| r.method == *method && r.path == *path),
            "{method} {path} is in the table but not a route"
        );
    }

    let mut checked = 0;
    for route in all_routes() {
        let access = access_of(route);
        let path = concrete(route, &ids);
        for role in Role::ALL {
            // A fresh session each time: one route signs out, another resets passwords.
            let mut client = app.session_for(*role);
            let reply = send(&mut client, route, &path);
            let allowed = match access {
                Public => true,
                Roles(roles) => roles.contains(role),
                ApiKey => false,
            };
            let what = format!("{} {path} as {role}: {}", route.method, reply.status);
            if matches!(access, Public) {
                // Public routes do their own checks (the login form its CSRF token).
                assert!(!reply.location().starts_with("/login?"), "{what}");
            } else if allowed {
                assert_ne!(reply.status, 403, "{what}: {}", reply.body);
                assert!(
                    !reply.location().starts_with("/login") || route.path == "/logout",
                    "{what}"
                );
            } else if matches!(access, ApiKey) {
                assert_eq!(reply.status, 401, "{what}");
            } else {
                assert_eq!(reply.status, 403, "{what}");
                let needed: Vec<&str> = match access {
                    Roles(roles) => roles.iter().map(|r| r.label()).collect(),
                    _ => Vec::new(),
                };
                assert!(
                    reply
                        .body
                        .contains(&format!("This needs the {} role.", needed.join(" or "))),
                    "{what}: {}",
                    reply.body
                );
            }
            checked += 1;
        }
        let mut visitor = app.client();
        let reply = send(&mut visitor, route, &path);
        let what = format!("{} {path} signed out: {}", route.method, reply.status);
        match (access, route.method) {
            (Public, _) => assert!(!reply.location().starts_with("/login"), "{what}"),
            (ApiKey, _) => assert_eq!(reply.status, 401, "{what}"),
            (Roles(_), "get") => {
                assert_eq!(reply.status, 303, "{what}");
                assert!(reply.location().starts_with("/login"), "{what}");
            }
            // A POST without a session has no valid CSRF token: refused before anything.
            (Roles(_), _) => assert_eq!(reply.status, 403, "{what}"),
        }
    }
    assert!(checked >= 4 * 30, "{checked}");
}
