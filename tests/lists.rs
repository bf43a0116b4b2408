//! The promo credit list, balances, summary and their CSV exports, checked against direct
//! queries of the same database.

mod common;

use std::collections::{HashMap, HashSet};

use common::{Client, TestApp};
use creditdesk::db::models::CreditTransaction;
use creditdesk::db::schema::{credit_accounts, credit_transactions, users};
use creditdesk::domain::{Change, Note, Role};
use creditdesk::ledger::{self, Actor, Adjustment, Source};
use creditdesk::seed::{self, Plan};
use diesel::prelude::*;
use time::{Date, PrimitiveDateTime};

/// A ledger row with its customer, as the filters see it.
#[derive(Debug, Clone)]
struct Known {
    row: CreditTransaction,
    email: String,
    external_id: String,
}

fn seeded(customers: u64, rows: u64, days: i64) -> TestApp {
    let app = TestApp::spawn();
    seed::seed(
        &mut app.conn(),
        &Plan {
            customers,
            rows,
            days,
            seed: 7,
        },
        |_| {},
    )
    .expect("seed");
    app
}

fn all_rows(app: &TestApp) -> Vec<Known> {
    let rows: Vec<(CreditTransaction, String, Option<String>)> = credit_transactions::table
        .inner_join(users::table)
        .select((
            CreditTransaction::as_select(),
            users::email,
            users::external_id,
        ))
        .load(&mut app.conn())
        .unwrap();
    let mut known: Vec<Known> = rows
        .into_iter()
        .map(|(row, email, external)| Known {
            row,
            email,
            external_id: external.unwrap_or_default(),
        })
        .collect();
    known.sort_by_key(|k| std::cmp::Reverse((k.row.created_at, k.row.id)));
    known
}

fn record_ids(body: &str) -> Vec<i64> {
    body.split("data-record-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

fn next_link(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\"")?;
    let start = body[..at].rfind("<a href=\"")? + "<a href=\"".len();
    Some(body[start..].split('"').next()?.replace("&#38;", "&"))
}

/// Every record id of a filter, following the pages.
fn walk(client: &mut Client, query: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut path = format!("/promo-credits?per_page=100&{query}");
    loop {
        let page = client.get(&path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        ids.extend(record_ids(&page.body));
        match next_link(&page.body) {
            Some(next) => path = next,
            None => return ids,
        }
    }
}

fn starts_of(day: Date) -> PrimitiveDateTime {
    PrimitiveDateTime::new(day, time::Time::MIDNIGHT)
}

#[test]
fn each_filter_and_combinations_select_exactly_the_right_rows() {
    let app = seeded(150, 3000, 30);
    {
        // A few rows by people, with reasons, on top of the bulk history.
        let mut conn = app.conn();
        for (user, amount) in [(3, 40), (5, -1), (7, 25)] {
            ledger::adjust(
                &mut conn,
                Adjustment {
                    user_id: user,
                    currency: common::currency("EUR"),
                    change: Change::By(amount),
                    note: Note::parse("by a person").unwrap(),
                    reason: Some(creditdesk::domain::Reason::Goodwill),
                    expires_at: None,
                    expected_version: None,
                    actor: Actor::Admin(1),
                    source: Source::Console,
                    idempotency_key: None,
                    audit: None,
                },
            )
            .unwrap();
        }
    }
    let rows = all_rows(&app);
    let mut client = app.signed_in(Role::Support);
    let some_invoice = rows.iter().find_map(|k| k.row.invoice_id.clone()).unwrap();
    let some_external = rows[10].external_id.clone();
    let mid = rows[rows.len() / 2].row.created_at.date();
    let (from, to) = (mid.previous_day().unwrap(), mid.next_day().unwrap());
    let in_range = move |k: &Known| {
        k.row.created_at >= starts_of(from) && k.row.created_at < starts_of(to.next_day().unwrap())
    };

    type Check = Box<dyn Fn(&Known) -> bool>;
    let invoice = some_invoice.clone();
    let external = some_external.clone();
    let cases: Vec<(String, Check)> = vec![
        (String::new(), Box::new(|_| true)),
        (
            "email=ANNA.".into(),
            Box::new(|k| k.email.to_lowercase().starts_with("anna.")),
        ),
        (
            "email=zo%C3%AB".into(),
            Box::new(|k| k.email.to_lowercase().starts_with("zoë")),
        ),
        ("email=nobody-matches".into(), Box::new(|_| false)),
        (
            format!("external_id={some_external}"),
            Box::new(move |k| k.external_id == external),
        ),
        (
            format!("invoice_id={some_invoice}"),
            Box::new(move |k| k.row.invoice_id.as_deref() == Some(invoice.as_str())),
        ),
        ("currency=USD".into(), Box::new(|k| k.row.currency == "USD")),
        (
            "type=invoice_applied".into(),
            Box::new(|k| k.row.kind == "invoice_applied"),
        ),
        (
            "type=admin_added&type=api_reduced".into(),
            Box::new(|k| k.row.kind == "admin_added" || k.row.kind == "api_reduced"),
        ),
        (
            "reason=goodwill".into(),
            Box::new(|k| k.row.reason.as_deref() == Some("goodwill")),
        ),
        (format!("from={from}&to={to}"), Box::new(in_range)),
        (
            format!("from={from}"),
            Box::new(move |k| k.row.created_at >= starts_of(from)),
        ),
        (
            format!("to={from}"),
            Box::new(move |k| k.row.created_at < starts_of(from.next_day().unwrap())),
        ),
        (
            format!("currency=EUR&type=admin_added&type=imported&from={from}&to={to}"),
            Box::new(move |k| {
                k.row.currency == "EUR"
                    && (k.row.kind == "admin_added" || k.row.kind == "imported")
                    && in_range(k)
            }),
        ),
        (
            "email=b&currency=EUR&reason=promotion".into(),
            Box::new(|k| {
                k.email.starts_with('b')
                    && k.row.currency == "EUR"
                    && k.row.reason.as_deref() == Some("promotion")
            }),
        ),
    ];
    for (query, check) in &cases {
        let expected: Vec<i64> = rows.iter().filter(|k| check(k)).map(|k| k.row.id).collect();
        let listed = walk(&mut client, query);
        assert_eq!(listed, expected, "filter {query:?}");
        // Oldest first is the same set reversed.
        let ascending = walk(&mut client, &format!("{query}&order=asc"));
        assert_eq!(
            ascending,
            expected.iter().rev().copied().collect::<Vec<_>>(),
            "filter {query:?} ascending"
        );
        // The totals say the same.
        let page = client.get(&format!("/promo-credits?{query}"));
        let selected: Vec<&Known> = rows.iter().filter(|k| check(k)).collect();
        let added: i64 = selected.iter().map(|k| k.row.delta.max(0)).sum();
        let used: i64 = selected.iter().map(|k| (-k.row.delta).max(0)).sum();
        let records = if selected.len() == 1 {
            "record"
        } else {
            "records"
        };
        let expected_totals = format!(
            "{} {records} · {} credits added · {} credits used",
            creditdesk::domain::format_credits(selected.len() as i64),
            creditdesk::domain::format_credits(added),
            creditdesk::domain::format_credits(used)
        );
        assert!(
            page.body.contains(&expected_totals),
            "totals for {query:?}: want {expected_totals}"
        );
    }
}

#[test]
fn bad_filters_say_what_is_wrong() {
    let app = TestApp::spawn();
    let mut client = app.signed_in(Role::Support);
    let page = client.get("/promo-credits?from=yesterday&type=gift&currency=euro");
    assert_eq!(page.status, 422);
    assert!(page.body.contains("Enter the date as YYYY-MM-DD"));
    assert!(page.body.contains("There is no type"));
    assert!(
        page.body.contains("value=\"yesterday\""),
        "what was typed stays"
    );
    let export = client.get("/promo-credits/export.csv?to=13/13/2026");
    assert_eq!(export.status, 422);
}

#[test]
fn paging_returns_every_row_once_while_new_rows_arrive() {
    let app = seeded(40, 400, 10);
    let original: HashSet<i64> = all_rows(&app).iter().map(|k| k.row.id).collect();
    let mut client = app.signed_in(Role::Owner);
    for order in ["desc", "asc"] {
        let mut seen: Vec<i64> = Vec::new();
        let mut path = format!("/promo-credits?per_page=20&order={order}");
        let mut n = 0;
        loop {
            let page = client.get(&path);
            seen.extend(record_ids(&page.body));
            // A change lands between every two pages.
            n += 1;
            ledger::adjust(
                &mut app.conn(),
                Adjustment {
                    user_id: 1 + (n % 40),
                    currency: common::currency("EUR"),
                    change: Change::By(1),
                    note: Note::parse("arrived while paging").unwrap(),
                    reason: None,
                    expires_at: None,
                    expected_version: None,
                    actor: Actor::System,
                    source: Source::Api,
                    idempotency_key: None,
                    audit: None,
                },
            )
            .unwrap();
            match next_link(&page.body) {
                Some(next) => path = next,
                None => break,
            }
        }
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{order}: no row twice");
        assert!(
            original.is_subset(&unique),
            "{order}: every row that was there is listed"
        );
    }
}

fn parse_csv(body: &str) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

fn neutralised(text: &str) -> String {
    creditdesk::csv_export::text_cell(text).into_owned()
}

#[test]
fn the_export_of_a_filter_equals_its_list_and_is_recorded() {
    let app = seeded(60, 900, 12);
    let mut client = app.signed_in(Role::Support);
    let query = "currency=EUR&type=admin_added&type=invoice_applied";

    let listed = walk(&mut client, query);
    let export = client.get(&format!("/promo-credits/export.csv?{query}"));

    assert_eq!(export.status, 200);
    assert!(export
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/csv"));
    let disposition = export.header("content-disposition").unwrap_or("");
    assert!(
        disposition.contains("attachment; filename=\"promo-credits-")
            && disposition.ends_with("Z.csv\""),
        "{disposition}"
    );
    assert!(export.body.contains("\r\n"));
    let (header, rows) = parse_csv(&export.body);
    assert_eq!(
        header.join(","),
        "record_id,user_id,external_id,user_email,currency,type,reason,amount,balance_before,balance_after,currency_value,exchange_rate,by,note,invoice_id,created_at,expires_at"
    );
    let exported: Vec<i64> = rows
        .iter()
        .map(|r| r["record_id"].parse().unwrap())
        .collect();
    assert_eq!(exported, listed);

    use creditdesk::db::schema::activity_log;
    let details: Vec<String> = activity_log::table
        .filter(activity_log::action.eq("export.credits"))
        .select(activity_log::details)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(details.len(), 1);
    assert!(
        details[0].contains("currency=EUR")
            && details[0].ends_with(&format!("; {} rows", listed.len())),
        "{details:?}"
    );
}

#[test]
fn a_250k_row_export_parses_back_to_the_same_values() {
    let app = seeded(20_000, 250_000, 60);
    let mut client = app.signed_in(Role::Support);

    let export = client.get("/promo-credits/export.csv?order=asc");

    assert_eq!(export.status, 200);
    let mut reader = csv::Reader::from_reader(export.body.as_bytes());
    let rows = all_rows(&app);
    let by_id: HashMap<i64, &Known> = rows.iter().map(|k| (k.row.id, k)).collect();
    let mut count = 0;
    let mut saw_formula = false;
    let mut saw_newline = false;
    let mut previous = (PrimitiveDateTime::MIN, 0);
    for record in reader.records() {
        let record = record.unwrap();
        let id: i64 = record[0].parse().unwrap();
        let known = by_id[&id];
        let row = &known.row;
        assert_eq!(record[1].parse::<i64>().unwrap(), row.user_id);
        assert_eq!(&record[2], neutralised(&known.external_id));
        assert_eq!(&record[3], neutralised(&known.email));
        assert_eq!(&record[4], row.currency);
        assert_eq!(&record[5], row.kind);
        assert_eq!(&record[6], row.reason.as_deref().unwrap_or(""));
        assert_eq!(
            record[7].parse::<i64>().unwrap(),
            row.delta,
            "amounts are never prefixed"
        );
        assert_eq!(record[8].parse::<i64>().unwrap(), row.balance_before);
        assert_eq!(record[9].parse::<i64>().unwrap(), row.balance_after);
        assert_eq!(&record[10], row.currency_value);
        assert_eq!(&record[11], "1.00");
        assert_eq!(&record[12], "system");
        assert_eq!(&record[13], neutralised(&row.note));
        assert_eq!(
            &record[14],
            neutralised(row.invoice_id.as_deref().unwrap_or(""))
        );
        assert_eq!(&record[15], creditdesk::db::iso8601(row.created_at));
        saw_formula |= record[13].starts_with("'=")
            || record[13].starts_with("'-")
            || record[13].starts_with("'@");
        saw_newline |= record[13].contains('\n');
        assert!((row.created_at, row.id) > previous, "oldest first");
        previous = (row.created_at, row.id);
        count += 1;
    }
    assert_eq!(count, 250_000);
    assert!(
        saw_formula && saw_newline,
        "the data exercised formula cells and line breaks"
    );
    assert!(export.body.contains("Ü-30"), "Unicode survives");
}

/// Replays the ledger: every account's (balance, added, deducted) at the end of `day`.
fn replay(rows: &[Known], day: Date) -> HashMap<i64, (i64, i64, i64)> {
    let end = starts_of(day.next_day().unwrap());
    let mut ordered: Vec<&Known> = rows.iter().filter(|k| k.row.created_at < end).collect();
    ordered.sort_by_key(|k| k.row.id);
    let mut balances: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for known in ordered {
        let entry = balances.entry(known.row.account_id).or_default();
        entry.0 += known.row.delta;
        if known.row.delta > 0 {
            entry.1 += known.row.delta
        } else {
            entry.2 -= known.row.delta
        }
    }
    balances
}

#[test]
fn balances_as_of_a_day_equal_a_replay_of_the_ledger() {
    let app = seeded(80, 1500, 20);
    let rows = all_rows(&app);
    let mut client = app.signed_in(Role::Support);
    let accounts: Vec<(i64, i64, PrimitiveDateTime)> = credit_accounts::table
        .select((
            credit_accounts::id,
            credit_accounts::user_id,
            credit_accounts::created_at,
        ))
        .load(&mut app.conn())
        .unwrap();
    let first_day = rows.last().unwrap().row.created_at.date();
    for offset in [0, 3, 10, 19, 25] {
        let as_of = first_day + time::Duration::days(offset);
        let export = client.get(&format!("/promo-credits/balances/export.csv?as_of={as_of}"));
        assert_eq!(export.status, 200);
        let (header, exported) = parse_csv(&export.body);
        assert_eq!(header.join(","), "user_id,external_id,user_email,currency,balance,currency_value,enabled,total_added,total_deducted,updated_at,expiring_30_days");
        let expected = replay(&rows, as_of);
        let end = starts_of(as_of.next_day().unwrap());
        let existing: Vec<&(i64, i64, PrimitiveDateTime)> = accounts
            .iter()
            .filter(|(_, _, created)| *created < end)
            .collect();
        assert_eq!(
            exported.len(),
            existing.len(),
            "as of {as_of}: one row per account that existed"
        );
        let by_user_currency: HashMap<(i64, String), (i64, i64, i64)> = exported
            .iter()
            .map(|r| {
                (
                    (r["user_id"].parse().unwrap(), r["currency"].clone()),
                    (
                        r["balance"].parse().unwrap(),
                        r["total_added"].parse().unwrap(),
                        r["total_deducted"].parse().unwrap(),
                    ),
                )
            })
            .collect();
        let currency_of: HashMap<i64, String> = rows
            .iter()
            .map(|k| (k.row.account_id, k.row.currency.clone()))
            .collect();
        for (account_id, user_id, _) in existing {
            let want = expected.get(account_id).copied().unwrap_or_default();
            let currency = currency_of.get(account_id).cloned().unwrap_or_default();
            assert_eq!(
                by_user_currency.get(&(*user_id, currency)),
                Some(&want),
                "account {account_id} as of {as_of}"
            );
        }
    }
    // Without as_of, the balances are the accounts' own.
    let now = client.get("/promo-credits/balances/export.csv?currency=EUR&min=100&max=400");
    let (_, exported) = parse_csv(&now.body);
    let expected: i64 = credit_accounts::table
        .filter(credit_accounts::currency.eq("EUR"))
        .filter(credit_accounts::balance.between(100, 400))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(exported.len() as i64, expected);
    assert!(exported
        .iter()
        .all(|r| (100..=400).contains(&r["balance"].parse::<i64>().unwrap())));
}

#[test]
fn balance_pages_cover_every_account_once_in_each_sort() {
    let app = seeded(90, 600, 5);
    let total: i64 = credit_accounts::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    let mut client = app.signed_in(Role::Support);
    for sort in ["-balance", "balance", "-updated", "updated"] {
        let mut seen = Vec::new();
        let mut path = format!("/promo-credits/balances?per_page=20&sort={sort}");
        loop {
            let page = client.get(&path);
            assert_eq!(page.status, 200);
            let table = page
                .body
                .split("table id=\"promo-credit-balances\"")
                .nth(1)
                .unwrap();
            seen.extend(
                table
                    .split("<td><a href=\"")
                    .skip(1)
                    .map(|s| s.split('"').next().unwrap().to_owned()),
            );
            match next_link(&page.body) {
                Some(next) => path = next,
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len() as i64, total, "{sort}");
        assert_eq!(seen.len() as i64, total, "{sort}");
    }
}

/// Gives `count` customers with an account in `code` a grant that ended yesterday, and
/// expires it as the scheduler does; returns the credits expired.
fn expire_some_grants(app: &TestApp, code: &str, count: i64) -> i64 {
    let today = time::OffsetDateTime::now_utc().date();
    let users: Vec<i64> = credit_accounts::table
        .filter(credit_accounts::currency.eq(code))
        .select(credit_accounts::user_id)
        .order(credit_accounts::id)
        .limit(count)
        .load(&mut app.conn())
        .unwrap();
    let mut credits = 0;
    for (n, user_id) in users.into_iter().enumerate() {
        let grant = 10 + n as i64; // as the assertion below adds them up
        let yesterday = today - time::Duration::days(1);
        let row = common::ended_grant(
            &mut app.conn(),
            user_id,
            code,
            grant,
            yesterday,
            "ended campaign",
        );
        credits -= row.delta;
    }
    assert_eq!(
        credits,
        (0..count).map(|n| 10 + n).sum::<i64>(),
        "each grant expired whole"
    );
    credits
}

#[test]
fn the_summary_reconciles_with_the_ledger() {
    let app = seeded(70, 1200, 20);
    let expired = expire_some_grants(&app, "EUR", 3);
    let rows = all_rows(&app);
    let mut client = app.signed_in(Role::Operator);
    let first_day = rows.last().unwrap().row.created_at.date();
    let today = time::OffsetDateTime::now_utc().date();
    let from = first_day + time::Duration::days(7);

    let csv = client.get(&format!(
        "/promo-credits/summary.csv?from={from}&to={today}"
    ));
    let page = client.get(&format!(
        "/promo-credits/summary?from={from}&to={today}&currency=EUR"
    ));

    assert_eq!(csv.status, 200);
    assert_eq!(page.status, 200);
    let (header, lines) = parse_csv(&csv.body);
    assert_eq!(header.len(), 15);
    for line in &lines {
        let n = |column: &str| line[column].parse::<i64>().unwrap();
        let currency = &line["currency"];
        assert_eq!(
            n("opening_balance")
                + n("admin_added")
                + n("api_added")
                + n("imported")
                + n("invoice_refunded")
                - n("invoice_applied")
                - n("admin_reduced")
                - n("api_reduced")
                - n("expired"),
            n("closing_balance"),
            "{currency} reconciles"
        );
        let opening: i64 = rows
            .iter()
            .filter(|k| &k.row.currency == currency && k.row.created_at < starts_of(from))
            .map(|k| k.row.delta)
            .sum();
        assert_eq!(
            n("opening_balance"),
            opening,
            "{currency} opening = ledger before {from}"
        );
        let closing: i64 = credit_accounts::table
            .filter(credit_accounts::currency.eq(currency))
            .select(credit_accounts::balance)
            .load::<i64>(&mut app.conn())
            .unwrap()
            .iter()
            .sum();
        assert_eq!(
            n("closing_balance"),
            closing,
            "{currency} closing = today's balances"
        );
        assert_eq!(line["closing_liability"], format!("{closing}.00"));
        if currency == "EUR" {
            assert_eq!(n("expired"), expired, "EUR's expired rows");
        }
    }
    assert!(page.body.contains("Finance summary") && page.body.contains("<strong>EUR</strong>"));
}

#[test]
fn every_list_page_and_export_is_denied_when_signed_out() {
    let app = TestApp::spawn();
    let mut client = app.client();
    for path in [
        "/promo-credits",
        "/promo-credits?currency=EUR",
        "/promo-credits/export.csv",
        "/promo-credits/balances",
        "/promo-credits/balances/export.csv",
        "/promo-credits/summary",
        "/promo-credits/summary.csv",
    ] {
        let reply = client.get(path);
        assert_eq!(reply.status, 303, "{path}");
        assert!(reply.location().starts_with("/login?next="), "{path}");
        assert!(!reply.body.contains("record_id"), "{path}");
    }
}

#[test]
fn a_broad_email_prefix_lists_exactly_and_explains_the_missing_totals() {
    // More than 1,000 customers start with "anna.": the list filters by a subquery.
    let app = seeded(20_000, 24_000, 5);
    let rows = all_rows(&app);
    let mut client = app.signed_in(Role::Support);
    let expected: Vec<i64> = rows
        .iter()
        .filter(|k| k.email.starts_with("anna."))
        .map(|k| k.row.id)
        .collect();

    let first = client.get("/promo-credits?email=anna.&per_page=100");
    let listed = walk(&mut client, "email=anna.");

    assert!(first
        .body
        .contains("More than 1,000 customers match this email: narrow it to see totals."));
    assert_eq!(listed, expected);
}

#[test]
fn htmx_gets_the_results_alone_when_it_pages() {
    let app = seeded(20, 300, 10);
    let mut client = app.signed_in(Role::Support);

    let page = client.get("/promo-credits?per_page=20");
    let next = next_link(&page.body).expect("a next page");
    let fragment = client.get_with(
        &next,
        &[("HX-Request", "true"), ("HX-Target", "credit-list-results")],
    );

    assert_eq!(fragment.status, 200);
    assert!(
        fragment
            .body
            .starts_with("<section id=\"credit-list-results\""),
        "{}",
        &fragment.body[..200.min(fragment.body.len())]
    );
    assert!(!fragment.body.contains("<html"));
    assert_eq!(record_ids(&fragment.body).len(), 20);
}
