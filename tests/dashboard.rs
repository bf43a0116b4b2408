//! The dashboard's figures against direct sums over the database, and the first run.

mod common;

use common::TestApp;
use creditdesk::db::schema::{credit_accounts, credit_transactions, users};
use creditdesk::domain::Role;
use creditdesk::seed::{self, Plan};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// The `data-…` attribute of the liability row of `currency`.
fn figure(body: &str, currency: &str, attribute: &str) -> i64 {
    let row_start = body
        .find(&format!("data-currency=\"{currency}\""))
        .unwrap_or_else(|| panic!("a row for {currency}"));
    let row = &body[row_start..];
    let marker = format!("{attribute}=\"");
    let start = row.find(&marker).unwrap() + marker.len();
    row[start..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn the_dashboard_figures_equal_direct_sums_over_the_ledger() {
    let app = TestApp::spawn();
    seed::seed(
        &mut app.conn(),
        &Plan {
            customers: 300,
            rows: 5_000,
            days: 60,
            seed: 3,
        },
        |_| {},
    )
    .unwrap();
    let mut support = app.signed_in(Role::Support);

    let page = support.get("/");

    assert_eq!(page.status, 200);
    assert!(page.body.contains("table id=\"liability\""));
    assert!(page.body.contains("<svg class=\"chart\"") && page.body.contains("role=\"img\""));
    for currency in ["EUR", "USD"] {
        let balances: i64 = credit_accounts::table
            .filter(credit_accounts::currency.eq(currency))
            .select(sql::<BigInt>("CAST(COALESCE(SUM(balance), 0) AS BIGINT)"))
            .first(&mut app.conn())
            .unwrap();
        let deltas: i64 = credit_transactions::table
            .filter(credit_transactions::currency.eq(currency))
            .select(sql::<BigInt>("CAST(COALESCE(SUM(delta), 0) AS BIGINT)"))
            .first(&mut app.conn())
            .unwrap();
        let holders: i64 = credit_accounts::table
            .filter(credit_accounts::currency.eq(currency))
            .filter(credit_accounts::balance.gt(0))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(
            figure(&page.body, currency, "data-outstanding"),
            balances,
            "{currency}"
        );
        assert_eq!(balances, deltas);
        assert_eq!(
            figure(&page.body, currency, "data-customers"),
            holders,
            "{currency}"
        );
    }
}

#[test]
fn an_empty_console_shows_the_first_run_guide_and_loads_demo_data_once() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let mut support = app.signed_in(Role::Support);

    let guide = owner.get("/");
    let guide_for_support = support.get("/");
    let loaded = owner.post("/demo", &[]);
    let dashboard = owner.get("/");
    let again = owner.post("/demo", &[]);
    let forbidden = support.post("/demo", &[]);

    assert!(guide.body.contains("Welcome to Creditdesk"));
    assert!(
        guide.body.contains("✓ Set up promo credits"),
        "EUR is set up in tests"
    );
    assert!(guide.body.contains("Load demo data"));
    assert!(
        !guide_for_support.body.contains("Load demo data"),
        "owners only"
    );
    assert_eq!(loaded.status, 303);
    assert!(dashboard.body.contains("table id=\"liability\""));
    let customers: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(customers, 50);
    assert_eq!(again.status, 422);
    assert!(again.body.contains("only for an empty console"));
    assert_eq!(forbidden.status, 403);
    app.assert_verified();
}

#[test]
fn a_fresh_install_starts_with_setting_up_a_currency() {
    let app = TestApp::spawn_bare();
    let mut owner = app.signed_in(Role::Owner);
    let mut support = app.signed_in(Role::Support);

    let guide = owner.get("/");
    let for_support = support.get("/");

    assert!(guide.body.contains("Welcome to Creditdesk"));
    assert!(guide
        .body
        .contains("href=\"/settings/promo-credit\">Set up a currency</a>"));
    assert!(!guide.body.contains("✓"), "nothing done yet");
    assert!(for_support.body.contains("An owner does this."));
}
