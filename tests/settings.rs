//! Promo credit settings per currency: adding a currency, the rate and its history, what a
//! new rate does to the liability, turning credits off, and who may change them.

mod common;

use common::{TestApp, PASSWORD};
use creditdesk::db::schema::{activity_log, promo_credit_configs, promo_credit_rates};
use creditdesk::domain::{Change, Note, Role};
use creditdesk::ledger::{self, Actor, Adjustment, Source};
use diesel::prelude::*;

fn settings_fields<'a>(currency: &'a str, rate: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("currency", currency),
        ("enabled", "true"),
        ("exchange_rate", rate),
        ("preview_default_used", "on"),
    ]
}

fn configs(app: &TestApp) -> i64 {
    promo_credit_configs::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The activity rows of `action` made by people (the test set-up's own are by `system`).
fn activity_details(app: &TestApp, action: &str) -> Vec<(String, String)> {
    activity_log::table
        .filter(activity_log::action.eq(action))
        .filter(activity_log::actor.ne("system"))
        .order(activity_log::id)
        .select((activity_log::actor, activity_log::details))
        .load(&mut app.conn())
        .unwrap()
}

#[test]
fn an_owner_adds_a_currency_with_its_rate() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);

    let list = owner.get("/settings/promo-credit");
    let form = owner.get("/settings/promo-credit?currency=USD");
    let saved = owner.post("/settings/promo-credit", &settings_fields("USD", "0.25"));
    let page = owner.get(saved.location());

    assert!(list.body.contains("table id=\"promo-credit-currencies\""));
    assert!(list
        .body
        .contains("<option value=\"USD\">USD — United States dollar</option>"));
    assert!(
        !list.body.contains("<option value=\"EUR\">"),
        "EUR is set up already"
    );
    assert!(
        !list.body.contains("<option value=\"XAU\">"),
        "not a currency to keep credits in"
    );
    assert!(
        form.body.contains("form id=\"promo-credit-config\"") && form.body.contains("Set up USD")
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location(),
        "/settings/promo-credit?currency=USD&saved=changed"
    );
    assert!(page.body.contains("Promo credit settings for USD saved."));
    assert!(page.body.contains("0.25 USD") && page.body.contains("owner@example.com"));
    let config: (bool, i64, bool) = promo_credit_configs::table
        .find("USD")
        .select((
            promo_credit_configs::enabled,
            promo_credit_configs::exchange_rate_e4,
            promo_credit_configs::preview_default_used,
        ))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(config, (true, 2_500, true));
    assert_eq!(
        activity_details(&app, "settings.promo_credit"),
        vec![(
            "owner@example.com".to_owned(),
            "added: promo credits on, rate 0.25, discount code with credits off, auto-apply off, preview default on, low balance below none, expiry notice 7 days".to_owned()
        )]
    );
}

#[test]
fn settings_that_cannot_be_are_refused_and_nothing_is_saved() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let before = configs(&app);
    let cases = [
        ("EUR", "0", "greater than zero"),
        ("EUR", "-1", "as a number"),
        ("EUR", "0.00001", "at most 4 decimal places"),
        ("EUR", "1,5", "as a number"),
        ("EUR", "one", "as a number"),
        ("EUR", "", "as a number"),
        ("EUR", "1000000.5", "at most 1,000,000"),
        ("JPY", "0.5", "JPY has no minor unit"),
        ("JPY", "3.0", "JPY has no minor unit"),
        ("GBP", "1e3", "as a number"),
    ];
    for (currency, rate, message) in cases {
        let reply = owner.post("/settings/promo-credit", &settings_fields(currency, rate));
        assert_eq!(reply.status, 422, "{currency} {rate}");
        assert!(
            reply.body.contains(message),
            "{currency} {rate}: {}",
            reply.body
        );
        assert!(reply.body.contains("field-error") || reply.body.contains("rate-preview refused"));
    }
    for currency in ["ABC", "XAU", "eur", "EURO", ""] {
        let reply = owner.post("/settings/promo-credit", &settings_fields(currency, "1"));
        assert_eq!(reply.status, 422, "{currency:?}");
    }
    let mut odd_box = settings_fields("EUR", "1");
    odd_box.push(("auto_apply_next_invoice", "yes please"));
    assert_eq!(owner.post("/settings/promo-credit", &odd_box).status, 422);

    assert_eq!(configs(&app), before, "nothing saved");
    assert!(activity_details(&app, "settings.promo_credit").is_empty());
}

#[test]
fn a_new_rate_shows_its_effect_before_it_is_saved_and_is_kept_in_the_history() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 1_204_310);
    let mut owner = app.signed_in(Role::Owner);
    owner.post("/settings/promo-credit", &settings_fields("EUR", "0.01"));

    let mut preview = settings_fields("EUR", "0.02");
    preview.push(("action", "preview"));
    let previewed = owner.post("/settings/promo-credit", &preview);
    let rate_before: i64 = promo_credit_configs::table
        .find("EUR")
        .select(promo_credit_configs::exchange_rate_e4)
        .first(&mut app.conn())
        .unwrap();
    let saved = owner.post("/settings/promo-credit", &settings_fields("EUR", "0.02"));
    let page = owner.get(saved.location());
    let tab = owner.get(&format!("/users/{user}/promo-credits?currency=EUR"));

    assert_eq!(previewed.status, 200);
    assert!(
        previewed
            .body
            .contains("1,204,310 credits: 12,043.10 EUR → 24,086.20 EUR"),
        "{}",
        previewed.body
    );
    assert_eq!(rate_before, 100, "a preview saves nothing");
    assert_eq!(saved.status, 303);
    let rates: Vec<i64> = promo_credit_rates::table
        .filter(promo_credit_rates::currency.eq("EUR"))
        .order(promo_credit_rates::id)
        .select(promo_credit_rates::exchange_rate_e4)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(rates, vec![10_000, 100, 200], "every rate, oldest first");
    assert!(page.body.contains("0.02 EUR") && page.body.contains("0.01 EUR"));
    assert!(
        tab.body.contains("24,086.20 EUR"),
        "the tab shows the new value"
    );
    let details = activity_details(&app, "settings.promo_credit");
    assert_eq!(details.last().unwrap().1, "rate 0.01 → 0.02");
}

#[test]
fn saving_what_is_there_changes_nothing() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let same = owner.post("/settings/promo-credit", &settings_fields("EUR", "1.00"));
    assert_eq!(
        same.location(),
        "/settings/promo-credit?currency=EUR&saved=unchanged"
    );
    assert!(owner.get(same.location()).body.contains("Nothing changed"));
    assert!(activity_details(&app, "settings.promo_credit").is_empty());
}

#[test]
fn a_disabled_currency_refuses_every_change_but_stays_visible() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 50);
    let mut owner = app.signed_in(Role::Owner);
    let off = owner.post(
        "/settings/promo-credit",
        &[("currency", "EUR"), ("exchange_rate", "1")],
    );
    assert_eq!(off.status, 303);

    let adjust = owner.post(
        &format!("/users/{user}/promo-credits"),
        &[
            ("currency", "EUR"),
            ("mode", "change"),
            ("amount", "5"),
            ("note", "while disabled"),
        ],
    );
    let form = owner.get(&format!("/users/{user}/promo-credits/update?currency=EUR"));
    let tab = owner.get(&format!("/users/{user}/promo-credits?currency=EUR"));
    let direct = ledger::adjust(
        &mut app.conn(),
        Adjustment {
            user_id: user,
            currency: common::currency("EUR"),
            change: Change::By(5),
            note: Note::parse("through the ledger").unwrap(),
            reason: None,
            expires_at: None,
            expected_version: None,
            actor: Actor::System,
            source: Source::Api,
            idempotency_key: None,
            audit: None,
        },
    );
    let balances = owner.get("/promo-credits/balances/export.csv");

    assert_eq!(adjust.status, 422);
    assert!(adjust.body.contains("Promo credits in EUR are disabled"));
    assert!(form.body.contains("Promo credits in EUR are disabled"));
    assert!(tab.body.contains("are disabled") && tab.body.contains(r#"data-credits="50""#));
    assert!(
        !tab.body.contains("Update Promo Credit</a>"),
        "no dead button"
    );
    assert!(direct.is_err());
    assert!(
        balances.body.contains("customer1@example.com"),
        "still exportable"
    );
    assert_eq!(app.account_state(user), (50, 1, 1));
    assert_eq!(
        activity_details(&app, "settings.promo_credit")[0].1,
        "promo credits on → off; preview default on → off"
    );
}

#[test]
fn only_an_owner_changes_settings_everyone_reads_them() {
    let app = TestApp::spawn();
    for role in [Role::BillingAdmin, Role::Support, Role::Operator] {
        let mut client = app.signed_in(role);
        let page = client.get("/settings/promo-credit?currency=EUR");
        let new_currency = client.get("/settings/promo-credit?currency=USD");
        let post = client.post("/settings/promo-credit", &settings_fields("EUR", "5"));

        assert_eq!(page.status, 200, "{role}");
        assert!(page
            .body
            .contains("Only an owner can change these settings."));
        assert!(
            page.body.contains("<fieldset disabled>"),
            "{role}: read-only"
        );
        assert!(!page.body.contains(">Save</button>"));
        assert_eq!(new_currency.status, 404, "{role}: nothing to show for USD");
        assert_eq!(post.status, 403, "{role}");
        assert!(post.body.contains("This needs the Owner role."));
    }
    let rate: i64 = promo_credit_configs::table
        .find("EUR")
        .select(promo_credit_configs::exchange_rate_e4)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(rate, 10_000);
    let _ = PASSWORD;
}

/// The part of a page from the input `id` to the end of its field: where its message shows.
fn field_of<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no input {id}"));
    let rest = &body[start..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

/// (low_balance_threshold, expiring_notice_days) of a currency as stored.
fn notices(app: &TestApp, currency: &str) -> (Option<i64>, i32) {
    promo_credit_configs::table
        .find(currency)
        .select((
            promo_credit_configs::low_balance_threshold,
            promo_credit_configs::expiring_notice_days,
        ))
        .first(&mut app.conn())
        .unwrap()
}

#[test]
fn an_owner_sets_the_webhook_notices_and_a_wrong_one_is_refused_beside_its_field() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let with_notices = |threshold: &'static str, days: &'static str| {
        let mut fields = settings_fields("EUR", "1.00");
        fields.push(("low_balance_threshold", threshold));
        fields.push(("expiring_notice_days", days));
        fields
    };

    let form = owner.get("/settings/promo-credit?currency=EUR");
    let saved = owner.post("/settings/promo-credit", &with_notices(" 500 ", "14"));
    let page = owner.get(saved.location());
    let stored = notices(&app, "EUR");
    let low = owner.post("/settings/promo-credit", &with_notices("-5", "14"));
    let zero_days = owner.post("/settings/promo-credit", &with_notices("500", "0"));
    let too_many_days = owner.post("/settings/promo-credit", &with_notices("500", "366"));
    let after_refusals = notices(&app, "EUR");
    let cleared = owner.post("/settings/promo-credit", &with_notices("", "14"));

    assert!(field_of(&form.body, "low_balance_threshold").contains("value=\"\""));
    assert!(field_of(&form.body, "expiring_notice_days").contains("value=\"7\""));
    assert!(form.body.contains("<code>credit.balance_low</code>"));
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(stored, (Some(500), 14));
    assert!(field_of(&page.body, "low_balance_threshold").contains("value=\"500\""));
    assert!(field_of(&page.body, "expiring_notice_days").contains("value=\"14\""));

    assert_eq!(low.status, 422);
    let beside = field_of(&low.body, "low_balance_threshold");
    assert!(beside.contains("value=\"-5\""), "what was typed is kept");
    assert!(beside.contains("aria-invalid=\"true\""));
    assert!(
        beside.contains("class=\"field-error\">Enter the low-balance threshold in credits as a whole number from 1 to 1,000,000,000,000"),
        "{beside}"
    );
    assert!(!field_of(&low.body, "expiring_notice_days").contains("field-error"));
    for (reply, typed) in [(&zero_days, "0"), (&too_many_days, "366")] {
        assert_eq!(reply.status, 422, "{typed}");
        let beside = field_of(&reply.body, "expiring_notice_days");
        assert!(beside.contains(&format!("value=\"{typed}\"")), "{typed}");
        assert!(
            beside.contains("class=\"field-error\">Enter the days of notice before credits expire as a whole number from 1 to 365"),
            "{typed}: {beside}"
        );
    }
    assert_eq!(after_refusals, (Some(500), 14), "nothing saved");

    assert_eq!(cleared.status, 303);
    assert_eq!(
        notices(&app, "EUR"),
        (None, 14),
        "empty: no low-balance events"
    );
    let changes: Vec<String> = activity_details(&app, "settings.promo_credit")
        .into_iter()
        .map(|(_, details)| details)
        .collect();
    assert_eq!(
        changes,
        [
            "low balance below none → 500; expiry notice 7 → 14 days",
            "low balance below 500 → none"
        ]
    );
}
