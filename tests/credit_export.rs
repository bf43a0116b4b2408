//! The promo credit list's CSV export, byte for byte. A small history is built through the
//! server, the API and the ledger, with every awkward text the export meets (commas, quotes,
//! line breaks, formula starts, Unicode, empty and missing values), every transaction type,
//! admins, an API key and the system as authors, and currencies with 0, 2 and 3 minor units.
//! Its times are then pinned to fixed values, and the exports of a set of filters are
//! compared with the files in tests/data/credit_export/: written by the export as it was
//! when it formatted every row in Rust (commit ed0e5c9; `expires_at` appended since), and
//! the same on SQLite and on PostgreSQL. `UPDATE_GOLDEN=1 cargo test --test credit_export` writes them again.

mod common;

use common::api::Api;
use common::{configure, set_balance, Client, TestApp, PASSWORD};
use creditdesk::db::schema::{credit_transactions, users};
use creditdesk::domain::{CurrencyCode, Email, Note, Role};
use creditdesk::ledger::{self, openings::Opening, Actor};
use creditdesk::store::activity::Audit;
use creditdesk::store::customers::{self, NewCustomer};
use diesel::prelude::*;
use serde_json::{json, Value};
use time::macros::{date, datetime};
use time::PrimitiveDateTime;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/credit_export");

/// The filters exported, by golden file name. Values are URL-encoded when sent.
const CASES: &[(&str, &[(&str, &str)])] = &[
    ("all", &[]),
    ("oldest_first", &[("order", "asc")]),
    ("currency_bhd", &[("currency", "BHD")]),
    (
        "currency_jpy_oldest_first",
        &[("currency", "JPY"), ("order", "asc")],
    ),
    (
        "two_types",
        &[("type", "admin_added"), ("type", "invoice_refunded")],
    ),
    ("reason", &[("reason", "goodwill")]),
    ("email_prefix", &[("email", "ZO")]),
    ("email_prefix_apostrophe", &[("email", "o'n")]),
    ("email_prefix_quote", &[("email", "\"q")]),
    // More than 1,000 customers match: the rows are filtered by a subquery, and `_` must not
    // match any character.
    ("email_prefix_many", &[("email", "many_")]),
    (
        "email_prefix_many_and_external_id",
        &[("email", "many_"), ("external_id", "many-7")],
    ),
    ("external_id", &[("external_id", "+49 151, \"mobile\"")]),
    (
        "external_id_and_email",
        &[("external_id", "cus_1"), ("email", "ann")],
    ),
    (
        "invoice_apostrophe_backslash",
        &[("invoice_id", "O'Brien\\INV-1")],
    ),
    ("invoice_formula", &[("invoice_id", "=INV,\"7\"")]),
    ("from_to", &[("from", "2026-03-02"), ("to", "2026-03-03")]),
    (
        "combined",
        &[
            ("currency", "EUR"),
            ("type", "admin_added"),
            ("type", "api_added"),
            ("type", "imported"),
            ("from", "2026-03-01"),
            ("to", "2026-03-03"),
            ("order", "asc"),
        ],
    ),
    ("record", &[("record_id", "5")]),
    ("type_expired", &[("type", "expired")]),
    ("nobody", &[("email", "nobody")]),
];

#[test]
fn exports_are_byte_for_byte_the_golden_files() {
    let app = TestApp::spawn();
    build_history(&app);
    let mut client = app.signed_in(Role::Support);
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");

    let mut differences = Vec::new();
    for (name, pairs) in CASES {
        let query = serde_urlencoded::to_string(pairs).unwrap();
        let export = client.get(&format!("/promo-credits/export.csv?{query}"));
        assert_eq!(export.status, 200, "{name}: {}", export.body);
        let path = format!("{GOLDEN}/{name}.csv");
        if update {
            std::fs::create_dir_all(GOLDEN).unwrap();
            std::fs::write(&path, export.body.as_bytes()).unwrap();
            continue;
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if let Some(difference) = first_difference(&golden, export.body.as_bytes()) {
            differences.push(format!("{name}: {difference}"));
        }
    }

    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Where two files part, as the line of each (with its line end shown).
fn first_difference(golden: &[u8], exported: &[u8]) -> Option<String> {
    if golden == exported {
        return None;
    }
    let lines = |bytes: &[u8]| -> Vec<String> {
        bytes
            .split_inclusive(|b| *b == b'\n')
            .map(|line| format!("{:?}", String::from_utf8_lossy(line)))
            .collect()
    };
    let (want, got) = (lines(golden), lines(exported));
    let at = want
        .iter()
        .zip(&got)
        .position(|(w, g)| w != g)
        .unwrap_or(want.len().min(got.len()));
    Some(format!(
        "line {}: expected {}, got {} ({} lines expected, {} exported)",
        at + 1,
        want.get(at).map_or("the end", String::as_str),
        got.get(at).map_or("the end", String::as_str),
        want.len(),
        got.len()
    ))
}

/// A checkout with an API key, making the history's API changes.
struct Checkout(Api);

impl Checkout {
    /// POSTs `body` and expects 201; returns the answer.
    fn post(&self, path: &str, body: Value) -> Value {
        let answer = self.0.post(path, &body);
        assert_eq!(answer.status, 201, "POST {path} {body}: {}", answer.body);
        answer.json
    }

    fn customer(&self, email: &str, external_id: Option<&str>) -> i64 {
        let mut body = json!({ "email": email });
        if let Some(external) = external_id {
            body["external_id"] = json!(external);
        }
        self.post("/users", body)["id"].as_i64().unwrap()
    }

    fn adjust(&self, user: i64, body: Value) {
        self.post(&format!("/users/{user}/promo-credit/adjustments"), body);
    }

    fn pay(&self, user: i64, invoice: &str, currency: &str, amount: &str) {
        self.post(
            &format!("/users/{user}/promo-credit/payments"),
            json!({"invoice_id": invoice, "currency": currency, "invoice_amount": amount}),
        );
    }

    fn refund(&self, invoice: &str, credits: i64) {
        self.post(
            &format!("/promo-credit/payments/{}/refunds", path_segment(invoice)),
            json!({ "credits": credits }),
        );
    }
}

/// Percent-encodes everything but unreserved characters.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An adjustment through the console's Update Promo Credit form.
fn console_adjust(client: &mut Client, user: i64, fields: &[(&str, &str)]) {
    let reply = client.post(&format!("/users/{user}/promo-credits"), fields);
    assert_eq!(reply.status, 303, "{fields:?}: {}", reply.body);
}

fn change(currency: &str, amount: &str, note: &str, reason: &str) -> Vec<(&'static str, String)> {
    vec![
        ("currency", currency.to_owned()),
        ("mode", "change".to_owned()),
        ("amount", amount.to_owned()),
        ("note", note.to_owned()),
        ("reason", reason.to_owned()),
    ]
}

fn as_fields<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Every ledger row of the history, in the order they are written. Returns nothing: the
/// golden files say what it exports.
fn build_history(app: &TestApp) {
    // Currencies with 0, 2 and 3 minor units, at rates that show them.
    configure(&mut app.conn(), "JPY", "1000");
    configure(&mut app.conn(), "BHD", "0.125");

    let api = Checkout(Api::new(app, "+Checkout, \"EU\""));
    let ann = api.customer("Ann@Example.com", Some("cus_1"));
    let formula = api.customer("=cmd@example.com", Some("=1+2"));
    let plus = api.customer("+plus@example.com", Some("+49 151, \"mobile\""));
    let minus = api.customer("-minus@example.com", Some("-7"));
    let quoted = api.customer("\"q,c\"@example.com", Some("quote \"inside\""));
    let unicode = api.customer("zoë.ünïcode@exämple.com", Some("ÜML-ß-東京"));
    let apostrophe = api.customer("o'neil@example.com", None);
    let at = api.customer("at-later@example.com", Some("ext-at"));
    let tab = api.customer("tab-later@example.com", Some("ext-tab"));
    let lines = api.customer("lines-later@example.com", Some("ext-lines"));
    let empty = api.customer("empty-external@example.com", Some("ext-empty"));

    // Over 1,000 customers whose emails start with `many_`, and one that only an unescaped
    // `_` would match.
    let many: Vec<i64> = {
        let mut conn = app.conn();
        (0..1001)
            .map(|n| {
                customers::create(
                    &mut conn,
                    &NewCustomer {
                        external_id: Some(format!("many-{n}")),
                        email: Email::parse(&format!("many_{n}@example.com")).unwrap(),
                        first_name: "Many".into(),
                        last_name: format!("{n}"),
                        country: None,
                    },
                    None,
                )
                .unwrap()
                .id
            })
            .collect()
    };
    let decoy = api.customer("manyx@example.com", Some("decoy"));

    // Admins: a billing admin, and one whose email starts with a formula character.
    let mut billing = app.signed_in(Role::BillingAdmin);
    let dash_admin = creditdesk::store::admins::create(
        &mut app.conn(),
        &Email::parse("-ops@example.com").unwrap(),
        "Ops",
        Role::Owner,
        PASSWORD,
        &Audit::system(),
    )
    .unwrap();
    let mut dash = app.client();
    assert_eq!(dash.login("-ops@example.com", PASSWORD).status, 303);
    dash.refresh_csrf();

    // The console: admin_added and admin_reduced, notes with line breaks, quotes, commas
    // and formula starts.
    let welcome = change(
        "EUR",
        "120",
        "Welcome,\n\"friend\" — see ticket #7",
        "goodwill",
    );
    console_adjust(&mut billing, ann, &as_fields(&welcome));
    let sum = change("EUR", "-20", "=SUM(A1:A9)", "correction");
    console_adjust(&mut billing, ann, &as_fields(&sum));
    let plus_one = change("JPY", "+15", "+1 because\r\nsecond line", "promotion");
    console_adjust(&mut dash, formula, &as_fields(&plus_one));
    let minus_two = change("JPY", "-2", "-2, as agreed", "");
    console_adjust(&mut dash, formula, &as_fields(&minus_two));
    let unicode_note = change("EUR", "40", "Ünïcödé 東京 ✓ 'single' quotes", "referral");
    console_adjust(&mut billing, unicode, &as_fields(&unicode_note));

    // The API: api_added and api_reduced, by a key whose name has a comma and quotes.
    api.adjust(
        plus,
        json!({"currency": "BHD", "change": 80, "note": "@channel thanks", "reason": "promotion"}),
    );
    api.adjust(
        plus,
        json!({"currency": "BHD", "change": -30, "note": "Partial reversal"}),
    );
    api.adjust(
        quoted,
        json!({"currency": "EUR", "change": 55, "note": "He said \"hi\", twice"}),
    );
    api.adjust(
        unicode,
        json!({"currency": "EUR", "change": 200, "note": "Top-up for invoices"}),
    );
    api.adjust(
        apostrophe,
        json!({"currency": "EUR", "change": 9, "note": "O'Neil's credit", "reason": "goodwill"}),
    );

    // Invoices: payments and refunds, with ids that need quoting or escaping.
    api.pay(unicode, "O'Brien\\INV-1", "EUR", "12.34");
    api.refund("O'Brien\\INV-1", 4);
    api.pay(unicode, "=INV,\"7\"", "EUR", "100.00");
    api.refund("=INV,\"7\"", 10);
    api.refund("=INV,\"7\"", 5);

    // The system: opening balances set directly, and imported rows by an admin and by the
    // system.
    set_balance(&mut app.conn(), minus, "EUR", 75);
    set_balance(&mut app.conn(), minus, "EUR", 60);
    let imported = Note::parse("Imported from \"old CRM\", batch 1\nline two").unwrap();
    ledger::openings::open_accounts(
        &mut app.conn(),
        &[
            Opening {
                user_id: minus,
                currency: code("BHD"),
                credits: 500,
                expires_at: None,
            },
            Opening {
                user_id: quoted,
                currency: code("JPY"),
                credits: 7,
                expires_at: None,
            },
        ],
        &imported,
        Actor::Admin(dash_admin.id),
    )
    .unwrap();
    ledger::openings::open_accounts(
        &mut app.conn(),
        &[Opening {
            user_id: at,
            currency: code("EUR"),
            credits: 3,
            expires_at: None,
        }],
        &Note::parse("@import by the system").unwrap(),
        Actor::System,
    )
    .unwrap();
    for user in [tab, lines, empty, decoy, many[0], many[7], many[1000]] {
        set_balance(&mut app.conn(), user, "EUR", 10);
    }

    // Rates change: rows keep the rate of their time, shown with the currency's minor units
    // at least (0.0125, 2.50, 3, 1.000).
    configure(&mut app.conn(), "EUR", "0.0125");
    console_adjust(
        &mut billing,
        ann,
        &as_fields(&change("EUR", "1000", "Small rate", "")),
    );
    configure(&mut app.conn(), "EUR", "2.5");
    api.adjust(
        ann,
        json!({"currency": "EUR", "change": 1, "note": "Big rate"}),
    );
    configure(&mut app.conn(), "JPY", "3");
    api.adjust(
        formula,
        json!({"currency": "JPY", "change": 4, "note": "Three yen"}),
    );
    configure(&mut app.conn(), "BHD", "1");
    api.adjust(
        minus,
        json!({"currency": "BHD", "change": -100, "note": "One dinar"}),
    );

    // Expiry (docs/concepts.md, "Expiry"): a grant through the API that expires, and one that
    // has ended and expired (its day and the expired row's note, which names it, are pinned
    // below).
    let in_a_month = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    api.adjust(
        apostrophe,
        json!({"currency": "EUR", "change": 25, "note": "Spring promotion", "reason": "promotion", "expires_at": in_a_month.to_string()}),
    );
    let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
    common::ended_grant(&mut app.conn(), at, "EUR", 6, yesterday, "Winter promotion");

    // Behind the application's back: what it no longer lets in, but older data or other
    // tools may hold, and fixed times.
    let mut conn = app.conn();
    for (user, email, external) in [
        (at, "@at@example.com", Some("ext-at")),
        (tab, "tab@example.com", Some("\tTAB")),
        (
            lines,
            "line\nbreak@example.com",
            Some("\rCR start, \"quoted\""),
        ),
        (empty, "empty-external@example.com", Some("")),
    ] {
        diesel::update(users::table.find(user))
            .set((
                users::email.eq(email),
                users::email_lower.eq(email.to_lowercase()),
                users::external_id.eq(external),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    drop(conn);
    app.execute_sql(
        "DROP TRIGGER credit_transactions_no_update;",
        "ALTER TABLE credit_transactions DISABLE TRIGGER credit_transactions_append_only;",
    );
    let mut conn = app.conn();
    let ids: Vec<i64> = credit_transactions::table
        .order(credit_transactions::id)
        .select(credit_transactions::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(ids.len(), TIMES.len(), "one fixed time per ledger row");
    for (id, at) in ids.iter().zip(TIMES) {
        diesel::update(credit_transactions::table.find(id))
            .set(credit_transactions::created_at.eq(at))
            .execute(&mut conn)
            .unwrap();
    }
    // Notes the forms refuse, and authors that are gone (the export says `system`).
    let note = |id: i64, text: &str| {
        diesel::update(credit_transactions::table.find(id))
            .set(credit_transactions::note.eq(text))
            .execute(&mut app.conn())
            .unwrap();
    };
    note(ids[6], "\tTabbed note");
    note(ids[7], "\rCarriage, return");
    let gone = |id: i64, kind: &str| {
        diesel::update(credit_transactions::table.find(id))
            .set((
                credit_transactions::actor_kind.eq(kind),
                credit_transactions::actor_id.eq(Some(999_999i64)),
            ))
            .execute(&mut app.conn())
            .unwrap();
    };
    gone(ids[8], "admin");
    gone(ids[9], "api_key");
    // Rates no currency setting ever had, out of range, and currencies with no setting.
    let rate = |id: i64, currency: Option<&str>, rate_e4: i64| {
        let row = credit_transactions::table.find(id);
        diesel::update(row)
            .set(credit_transactions::exchange_rate_e4.eq(rate_e4))
            .execute(&mut app.conn())
            .unwrap();
        if let Some(currency) = currency {
            diesel::update(row)
                .set(credit_transactions::currency.eq(currency))
                .execute(&mut app.conn())
                .unwrap();
        }
    };
    rate(ids[2], None, 5);
    rate(ids[4], None, 10_500);
    rate(ids[5], None, 10);
    rate(ids[11], None, 12_345);
    rate(ids[12], Some("KWD"), 20_000);
    rate(ids[13], Some("XXX"), 30_000);
    rate(ids[16], None, 0);
    rate(ids[17], None, 10_000_000_001);
    let expires = |id: i64, day: time::Date| {
        diesel::update(credit_transactions::table.find(id))
            .set(credit_transactions::expires_at.eq(Some(day)))
            .execute(&mut app.conn())
            .unwrap();
    };
    expires(ids[31], date!(2026 - 04 - 30));
    expires(ids[32], date!(2026 - 03 - 31));
    note(
        ids[33],
        &format!(
            "Expired: grant of record {}, expires_at 2026-03-31",
            ids[32]
        ),
    );
    drop(conn);
    app.execute_sql(
        "CREATE TRIGGER credit_transactions_no_update BEFORE UPDATE ON credit_transactions \
         BEGIN SELECT RAISE(ABORT, 'credit_transactions is append-only'); END;",
        "ALTER TABLE credit_transactions ENABLE TRIGGER credit_transactions_append_only;",
    );
}

fn code(text: &str) -> CurrencyCode {
    CurrencyCode::parse(text).unwrap()
}

/// One time per ledger row, in id order: microsecond fractions of every length (none,
/// .000001, .5, .123456), the edges of the `from`/`to` days, and two rows at the same time
/// (ordered by id).
const TIMES: [PrimitiveDateTime; 34] = [
    datetime!(2026-03-01 08:00:00),
    datetime!(2026-03-01 08:00:00.000001),
    datetime!(2026-03-01 09:15:30.5),
    datetime!(2026-03-01 23:59:59.999999),
    datetime!(2026-03-02 00:00:00),
    datetime!(2026-03-02 00:00:00.000001),
    datetime!(2026-03-02 10:20:30.123456),
    datetime!(2026-03-02 10:20:30.123456),
    datetime!(2026-03-02 11:00:00.12),
    datetime!(2026-03-02 12:34:56.654321),
    datetime!(2026-03-02 13:00:00.01),
    datetime!(2026-03-02 14:00:00.1),
    datetime!(2026-03-02 15:00:00.000010),
    datetime!(2026-03-02 16:00:00.999),
    datetime!(2026-03-02 17:45:00),
    datetime!(2026-03-02 23:59:59.999999),
    datetime!(2026-03-03 00:00:00),
    datetime!(2026-03-03 01:02:03.040506),
    datetime!(2026-03-03 06:00:00.5),
    datetime!(2026-03-03 07:00:00.25),
    datetime!(2026-03-03 08:00:00.125),
    datetime!(2026-03-03 09:00:00.0625),
    datetime!(2026-03-03 10:00:00.03125),
    datetime!(2026-03-03 11:00:00.015625),
    datetime!(2026-03-03 12:00:00.007812),
    datetime!(2026-03-03 23:59:59.999999),
    datetime!(2026-03-04 00:00:00),
    datetime!(2026-03-04 00:00:00.000001),
    datetime!(2026-03-06 12:00:00.100001),
    datetime!(2026-03-07 12:00:00.9),
    datetime!(2027-01-01 00:00:00),
    datetime!(2027-01-02 10:00:00),
    datetime!(2027-01-03 11:30:00.25),
    datetime!(2027-01-04 00:00:00),
];
