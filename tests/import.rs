//! Customer import through the console (docs/import.md): a file is checked first, applied
//! all or nothing, re-importing changes nothing, and hostile files are refused or kept as
//! plain text. Every test runs on SQLite and on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Reply, TestApp};
use creditdesk::db::schema::{activity_log, credit_transactions, users};
use creditdesk::domain::Role;
use diesel::prelude::*;

/// Checks `bytes` as `name`; the import's id from the redirect.
fn check(client: &mut Client, name: &str, bytes: &[u8]) -> Result<i64, Reply> {
    let reply = client.post_multipart("/users/import", &[("action", "check")], Some((name, bytes)));
    if reply.status != 303 {
        return Err(reply);
    }
    let id = reply
        .location()
        .strip_prefix("/users/import?id=")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirect to the import: {}", reply.location()));
    Ok(id)
}

fn apply(client: &mut Client, id: i64, skip_refused: bool) -> Reply {
    let id = id.to_string();
    let mut fields = vec![("action", "apply"), ("import_id", id.as_str())];
    if skip_refused {
        fields.push(("skip_refused", "true"));
    }
    client.post_multipart("/users/import", &fields, None)
}

/// Waits (60 s at most) until the import is no longer being applied; its page then.
fn settled(client: &mut Client, id: i64) -> Reply {
    let started = Instant::now();
    loop {
        let page = client.get(&format!("/users/import?id={id}"));
        assert_eq!(page.status, 200, "{}", page.body);
        if !page.body.contains("data-status=\"applying\"") {
            return page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still applying"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_of(page: &str) -> &str {
    let start = page.find("data-status=\"").expect("an import") + 13;
    &page[start..start + page[start..].find('"').unwrap()]
}

/// The number in the count tile `count-<outcome>`.
fn count(page: &str, outcome: &str) -> i64 {
    let tile = &page[page
        .find(&format!("id=\"count-{outcome}\""))
        .expect(outcome)..];
    let value = &tile[tile.find("class=\"value\">").unwrap() + 14..];
    value[..value.find('<').unwrap()]
        .replace(',', "")
        .parse()
        .unwrap()
}

fn customers(app: &TestApp) -> i64 {
    users::table.count().get_result(&mut app.conn()).unwrap()
}

fn ledger_rows(app: &TestApp) -> i64 {
    credit_transactions::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

#[test]
fn a_file_is_checked_first_then_applied_and_again_changes_nothing() {
    let app = TestApp::spawn();
    let existing = app.customer_with(1, 40); // customer1@example.com with 40 EUR credits
    let other = app.customer_with(2, 0);
    let mut owner = app.signed_in(Role::Owner);
    let file = "\u{feff}external_id;email;first_name;last_name;country;credits_EUR\r\n\
                cus_a;ann@example.com;Ann;\"Lee; Jr.\";de;120\r\n\
                ;customer1@example.com;Renamed;;;500\r\n\
                ext-2;\"Customer2@Example.com\";;;US;0\r\n\
                cus_d;not-an-email;Dan;;;-3\r\n";
    let (customers_before, rows_before) = (customers(&app), ledger_rows(&app));

    let id = check(&mut owner, "Q4 customers.csv", file.as_bytes()).unwrap();
    let page = settled(&mut owner, id);
    assert_eq!(status_of(&page.body), "checked");
    assert_eq!(
        ["create", "update", "unchanged", "refused", "openings"].map(|o| count(&page.body, o)),
        [1, 2, 0, 1, 1],
        "{}",
        page.body
    );
    for expected in [
        "opening balance 120 credits in EUR",
        "first name: Test → Renamed",
        "EUR account exists with 40 credits: left as it is",
        "country: DE → US",
        "email: Enter an email address",
        "credits_EUR: An opening balance cannot be negative.",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    assert!(page
        .body
        .contains("data-line=\"5\" data-outcome=\"refused\""));
    // The check wrote nothing but the import itself.
    assert_eq!(
        (customers(&app), ledger_rows(&app)),
        (customers_before, rows_before)
    );

    // While a row is refused nothing is applied, unless the owner skips it.
    let refused = apply(&mut owner, id, false);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("1 row is refused"),
        "{}",
        refused.body
    );
    assert_eq!(customers(&app), customers_before);
    let started = apply(&mut owner, id, true);
    assert_eq!(started.status, 303, "{}", started.body);
    let page = settled(&mut owner, id);
    assert_eq!(status_of(&page.body), "applied", "{}", page.body);
    assert!(page.body.contains(
        "1 created, 2 updated, 0 unchanged; 1 opening balance posted; 1 refused row skipped"
    ));

    assert_eq!(customers(&app), customers_before + 1);
    let (kept, country): (String, Option<String>) = users::table
        .find(other)
        .select((users::first_name, users::country))
        .first(&mut app.conn())
        .unwrap();
    // An empty cell leaves the field as it is.
    assert_eq!((kept.as_str(), country.as_deref()), ("Test", Some("US")));
    let (first, last, country): (String, String, Option<String>) = users::table
        .filter(users::email_lower.eq("ann@example.com"))
        .select((users::first_name, users::last_name, users::country))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(
        (first.as_str(), last.as_str(), country.as_deref()),
        ("Ann", "Lee; Jr.", Some("DE"))
    );
    let imported: Vec<(String, i64, String, Option<i64>)> = credit_transactions::table
        .filter(credit_transactions::kind.eq("imported"))
        .select((
            credit_transactions::currency,
            credit_transactions::delta,
            credit_transactions::note,
            credit_transactions::actor_id,
        ))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].1, 120);
    assert_eq!(imported[0].2, "Opening balance from Q4 customers.csv");
    assert!(imported[0].3.is_some(), "the owner is the actor");
    assert_eq!(
        app.account_state(existing).0,
        40,
        "an existing account is left as it is"
    );
    let logged: i64 = activity_log::table
        .filter(activity_log::action.eq("customers.import"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(logged, 1);
    app.assert_verified();

    // Applying twice does nothing; the same file again changes nothing.
    let again = apply(&mut owner, id, true);
    assert_eq!(again.status, 303);
    let rows = ledger_rows(&app);
    let second = check(&mut owner, "Q4 customers.csv", file.as_bytes()).unwrap();
    let page = settled(&mut owner, second);
    assert_eq!(
        ["create", "update", "unchanged", "openings"].map(|o| count(&page.body, o)),
        [0, 0, 3, 0],
        "{}",
        page.body
    );
    assert_eq!(apply(&mut owner, second, true).status, 303);
    assert_eq!(status_of(&settled(&mut owner, second).body), "applied");
    assert_eq!(
        (customers(&app), ledger_rows(&app)),
        (customers_before + 1, rows)
    );

    // The list of imports shows both.
    let list = owner.get("/users/import");
    assert!(list.body.contains(&format!("data-import-id=\"{id}\"")));
    assert!(list.body.contains(&format!("data-import-id=\"{second}\"")));
}

#[test]
fn opening_balances_may_expire() {
    use creditdesk::db::schema::credit_grants;
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let today = creditdesk::db::now_utc().date();
    let day = (today + time::Duration::days(45)).to_string();
    let past = (today - time::Duration::days(1)).to_string();
    let file = format!(
        "email,credits_EUR,expires_EUR\n\
         a@example.com,100,{day}\n\
         b@example.com,7,\n\
         c@example.com,5,{past}\n\
         d@example.com,,{day}\n"
    );
    let id = check(&mut owner, "autumn.csv", file.as_bytes()).unwrap();
    let page = settled(&mut owner, id);
    assert_eq!(
        ["create", "refused", "openings"].map(|o| count(&page.body, o)),
        [2, 2, 2],
        "{}",
        page.body
    );
    for expected in [
        format!(
            "opening balance 100 credits in EUR, expiring on {}",
            creditdesk::domain::expiry_label(today + time::Duration::days(45))
        ),
        format!("expires_EUR: The expiry date {past} has passed"),
        "expires_EUR: An expiry date needs an opening balance in credits_EUR.".to_owned(),
    ] {
        assert!(page.body.contains(&expected), "{expected}: {}", page.body);
    }
    assert_eq!(apply(&mut owner, id, true).status, 303);
    assert_eq!(status_of(&settled(&mut owner, id).body), "applied");
    let grants: Vec<(i64, Option<time::Date>)> = credit_grants::table
        .order(credit_grants::id)
        .select((credit_grants::granted, credit_grants::expires_at))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        grants,
        [(100, Some(today + time::Duration::days(45))), (7, None)]
    );
    let expiries: Vec<Option<time::Date>> = credit_transactions::table
        .filter(credit_transactions::kind.eq("imported"))
        .order(credit_transactions::id)
        .select(credit_transactions::expires_at)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(expiries, [Some(today + time::Duration::days(45)), None]);
    app.assert_verified();
}

#[test]
fn one_bad_row_in_ten_thousand_applies_nothing_unless_skipped() {
    let app = TestApp::spawn();
    let mut owner = app.signed_in(Role::Owner);
    let mut file = String::from("external_id,email,first_name,credits_EUR\n");
    for n in 1..=10_000 {
        if n == 5_000 {
            file.push_str("bad,this is not an email,X,5\n");
        } else {
            file.push_str(&format!(
                "ext-{n},person{n}@example.com,Person {n},{}\n",
                n % 7
            ));
        }
    }
    let before = customers(&app);
    let id = check(&mut owner, "big.csv", file.as_bytes()).unwrap();
    let page = owner.get(&format!("/users/import?id={id}&outcome=refused"));
    assert_eq!(count(&page.body, "refused"), 1);
    assert_eq!(count(&page.body, "create"), 9_999);
    // The header is line 1: the 5,000th customer is on line 5,001.
    assert!(
        page.body
            .contains("data-line=\"5001\" data-outcome=\"refused\""),
        "{}",
        page.body
    );

    assert_eq!(apply(&mut owner, id, false).status, 422);
    assert_eq!(customers(&app), before, "nothing applied");
    assert_eq!(apply(&mut owner, id, true).status, 303);
    assert_eq!(status_of(&settled(&mut owner, id).body), "applied");
    assert_eq!(customers(&app), before + 9_999);
    let openings: i64 = credit_transactions::table
        .filter(credit_transactions::kind.eq("imported"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(
        openings,
        (1..=10_000).filter(|n| n % 7 != 0 && *n != 5_000).count() as i64
    );
    app.assert_verified();
}

#[test]
fn hostile_files_are_refused_or_kept_as_plain_text() {
    let app = TestApp::spawn_with(|settings| settings.import_max_bytes = 12 * 1024 * 1024);
    let mut owner = app.signed_in(Role::Owner);
    let before = customers(&app);

    // Whole files refused, each with its reason, and nothing kept.
    let huge_field = format!(
        "email,first_name\nbig@example.com,{}\n",
        "A".repeat(10 * 1024 * 1024)
    );
    let too_big = "email\n".to_owned() + &"x@example.com\n".repeat(1_000_000);
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "latin1.csv",
            b"email,first_name\nren\xe9@example.com,Ren\xe9\n".to_vec(),
            "line 2 has a byte that is not",
        ),
        (
            "mixed.csv",
            [
                b"email\nann@example.com\n".as_slice(),
                b"\xff\xfeb\x00o\x00b\x00\n",
            ]
            .concat(),
            "not UTF-8 text: line 3",
        ),
        (
            "unknown.csv",
            b"email,balance\na@b.co,5\n".to_vec(),
            "does not know: “balance”",
        ),
        (
            "nul.csv",
            b"email,first_name\nann@example.com,A\x00B\n".to_vec(),
            "Line 2 holds a NUL byte",
        ),
        (
            "noemail.csv",
            b"external_id\nx\n".to_vec(),
            "has no email column",
        ),
        ("empty.csv", Vec::new(), "Choose a CSV file"),
        ("header.csv", b"email\r\n".to_vec(), "no customer below it"),
        (
            "big.csv",
            too_big.into_bytes(),
            "larger than the console accepts",
        ),
    ];
    for (name, bytes, message) in refused {
        let reply = check(&mut owner, name, &bytes).expect_err(name);
        assert!(
            matches!(reply.status, 413 | 422),
            "{name}: {}",
            reply.status
        );
        assert!(
            reply.body.contains(&common::escape(message)),
            "{name}: {}",
            reply.body
        );
    }
    assert_eq!(customers(&app), before);
    let list = owner.get("/users/import");
    assert!(
        !list.body.contains("data-import-id="),
        "no refused file is kept"
    );

    // Formula cells, a 10 MB field, invisible and control characters: refused rows or plain
    // text, never run.
    let rows = [
        "email,first_name,last_name,external_id",
        "formula@example.com,=HYPERLINK(\"http://evil.example\"),+1+2,@SUM(A1)",
        "bidi@example.com,Ann\u{202e}gnp.exe,,",
        "\"quoted,\n@example.com\",x,,",
        "-2+3@example.com,Minus,,",
    ];
    let mut file = rows.join("\r\n").into_bytes();
    file.extend_from_slice(b"\r\n");
    file.extend_from_slice(huge_field.split_once('\n').unwrap().1.trim_end().as_bytes());
    file.extend_from_slice(b",,\r\n");
    let id = check(&mut owner, "hostile.csv", &file).unwrap();
    let page = owner.get(&format!("/users/import?id={id}"));
    assert!(page.body.contains("The text contains"), "{}", page.body);
    assert!(
        page.body.contains("Keep it to 100 characters."),
        "{}",
        page.body
    );
    assert_eq!(apply(&mut owner, id, true).status, 303);
    assert_eq!(status_of(&settled(&mut owner, id).body), "applied");
    let (first, last, external): (String, String, Option<String>) = users::table
        .filter(users::email_lower.eq("formula@example.com"))
        .select((users::first_name, users::last_name, users::external_id))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(first, "=HYPERLINK(\"http://evil.example\")");
    assert_eq!(
        (last.as_str(), external.as_deref()),
        ("+1+2", Some("@SUM(A1)"))
    );
    // The console shows it as text.
    let list = owner.get("/users?q=formula");
    assert!(list.body.contains(&common::escape(&first)), "{}", list.body);
    app.assert_verified();
}

#[test]
fn uploads_need_the_owner_and_the_csrf_token() {
    let app = TestApp::spawn();
    let file: &[u8] = b"email\nx@example.com\n";
    for role in [Role::BillingAdmin, Role::Support, Role::Operator] {
        let mut client = app.signed_in(role);
        assert_eq!(client.get("/users/import").status, 403, "{role}");
        let reply = check(&mut client, "a.csv", file).expect_err("refused");
        assert_eq!(reply.status, 403, "{role}");
    }
    let mut owner = app.signed_in(Role::Owner);
    owner.csrf = "forged".repeat(8);
    assert_eq!(
        check(&mut owner, "a.csv", file).expect_err("forged").status,
        403
    );
    owner.csrf.clear();
    assert_eq!(
        check(&mut owner, "a.csv", file)
            .expect_err("no token")
            .status,
        403
    );
    owner.refresh_csrf();
    let id = check(&mut owner, "a.csv", file).unwrap();
    // Bad links and forms are answered, not crashed on.
    for path in [
        "/users/import?id=abc",
        "/users/import?outcome=all",
        "/users/import?after=-1",
    ] {
        assert_eq!(owner.get(path).status, 422, "{path}");
    }
    assert_eq!(owner.get("/users/import?id=999999").status, 404);
    let unknown = owner.post_multipart("/users/import", &[("action", "delete")], None);
    assert_eq!(unknown.status, 422);
    let not_multipart = owner.post(
        "/users/import",
        &[("action", "apply"), ("import_id", &id.to_string())],
    );
    assert_eq!(not_multipart.status, 422, "{}", not_multipart.body);
    assert_eq!(customers(&app), 0);
}
