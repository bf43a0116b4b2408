//! The SQL the promo credit export writes for itself, against the database: values written
//! as literals read back as the same values (docs/exports.md, "How an export runs"), and on
//! PostgreSQL every cell the SELECT formats, and the quoting COPY gives it, equal to what the
//! Rust formatting writes, for thousands of generated values.

mod common;

use common::TestDb;
use creditdesk::csv_export::text_cell;
use creditdesk::db::copy::{CopyOut, RowEnds};
use creditdesk::db::credit_export::postgres;
use creditdesk::db::{iso8601, iso_date, literal, Backend, DatabaseUrl};
use creditdesk::domain::{rate_text, CurrencyCode, MAX_RATE_E4};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use time::{Date, Month, PrimitiveDateTime, Time};

/// Texts with everything a literal or a CSV cell has to get right, and any Unicode at all.
fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[=+@\\-\t\r\n,\"'\\\\ aZ0é東😀]{0,12}",
        any::<String>().prop_map(|s| s.replace('\0', "")),
    ]
}

fn backend(db: &TestDb) -> Backend {
    if db.is_postgres() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

#[test]
fn any_text_written_as_a_literal_reads_back_the_same() {
    let db = TestDb::new();
    let conn = std::cell::RefCell::new(db.pool().get().unwrap());
    for fixed in [
        "",
        "'",
        "''",
        "\\",
        "\\'",
        "O'Brien\\INV-1",
        "=\"a\",\n\r\t",
        "ü東😀",
    ] {
        let literal = literal::text(fixed).unwrap();
        let read: String = diesel::select(sql::<Text>(&literal))
            .get_result(&mut *conn.borrow_mut())
            .unwrap();
        assert_eq!(read, fixed, "{literal}");
    }
    assert!(literal::text("a\0b").is_err(), "no database keeps a NUL");

    let mut runner = TestRunner::new(Config::with_cases(2000));
    runner
        .run(&awkward_text(), |text| {
            let literal = literal::text(&text).unwrap();
            let read: String = diesel::select(sql::<Text>(&literal))
                .get_result(&mut *conn.borrow_mut())
                .unwrap();
            prop_assert_eq!(read, text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_postgres_connection_reads_backslashes_as_text() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return; // SQLite has no other kind of string literal.
    }
    let conn = std::cell::RefCell::new(db.pool().get().unwrap());
    let setting: String = diesel::select(sql::<Text>(
        "current_setting('standard_conforming_strings')",
    ))
    .get_result(&mut *conn.borrow_mut())
    .unwrap();
    assert_eq!(setting, "on");
}

fn any_time() -> impl Strategy<Value = PrimitiveDateTime> {
    (
        1i32..=9999,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
        prop_oneof![
            Just(0u32),
            0u32..1_000_000,
            Just(500_000),
            Just(999_999),
            Just(1),
        ],
    )
        .prop_map(|(year, month, day, hour, minute, second, micros)| {
            PrimitiveDateTime::new(
                Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap(),
                Time::from_hms_micro(hour, minute, second, micros).unwrap(),
            )
        })
}

#[test]
fn a_time_written_as_a_literal_equals_the_bound_time() {
    let db = TestDb::new();
    let backend = backend(&db);
    let conn = std::cell::RefCell::new(db.pool().get().unwrap());
    let mut runner = TestRunner::new(Config::with_cases(1000));
    runner
        .run(&any_time(), |at| {
            let literal = literal::timestamp(backend, at);
            let equal: bool = diesel::select(
                sql::<Bool>("")
                    .bind::<Timestamp, _>(at)
                    .sql(" = ")
                    .sql(&literal),
            )
            .get_result(&mut *conn.borrow_mut())
            .unwrap();
            prop_assert!(equal, "{} is not the bound {}", literal, at);
            Ok(())
        })
        .unwrap();
}

/// Rates around every edge (trailing zeros, each decimal, zero and out of range) and
/// currencies with 0, 2 and 3 minor units, and codes that are no currency.
fn any_rate() -> impl Strategy<Value = (String, i64)> {
    let codes: Vec<String> = CurrencyCode::all()
        .iter()
        .map(ToString::to_string)
        .chain(["XXX", "ABC", "eur", "", "E'R"].map(String::from))
        .collect();
    let rate = prop_oneof![
        1i64..=100_000,
        (1i64..=100_000_000).prop_map(|r| r * 100),
        1i64..=MAX_RATE_E4,
        prop::sample::select(vec![
            -1,
            0,
            1,
            10,
            100,
            1000,
            10_000,
            MAX_RATE_E4,
            MAX_RATE_E4 + 1
        ]),
    ];
    (prop::sample::select(codes), rate)
}

#[test]
fn postgres_builds_the_rate_text_rust_writes() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return; // SQLite's export formats its rows in Rust, with `rate_text` itself.
    }
    let conn = std::cell::RefCell::new(db.pool().get().unwrap());
    let mut runner = TestRunner::new(Config::with_cases(3000));
    runner
        .run(&any_rate(), |(currency, rate_e4)| {
            let code = literal::text(&currency).unwrap();
            let expression = postgres::computed_rate(&format!("{rate_e4}::int8"), &code);
            let built: Option<String> = diesel::select(sql::<Nullable<Text>>(&expression))
                .get_result(&mut *conn.borrow_mut())
                .unwrap();
            prop_assert_eq!(built.unwrap_or_default(), rate_text(&currency, rate_e4));
            Ok(())
        })
        .unwrap();
    // The rates looked up instead are the same texts, and others still built.
    let known = vec![("EUR".to_owned(), 12_345, rate_text("EUR", 12_345))];
    for (currency, rate_e4) in [("EUR", 12_345), ("EUR", 10_000), ("JPY", 12_345)] {
        let expression = postgres::rate(
            &format!("{rate_e4}::int8"),
            &literal::text(currency).unwrap(),
            &known,
        )
        .unwrap();
        let text: Option<String> = diesel::select(sql::<Nullable<Text>>(&expression))
            .get_result(&mut *conn.borrow_mut())
            .unwrap();
        assert_eq!(text.unwrap_or_default(), rate_text(currency, rate_e4));
    }
}

#[test]
fn postgres_writes_times_as_rust_does() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return; // SQLite's export formats its rows in Rust, with `iso8601` itself.
    }
    let conn = std::cell::RefCell::new(db.pool().get().unwrap());
    let mut runner = TestRunner::new(Config::with_cases(2000));
    runner
        .run(&any_time(), |at| {
            let expression = postgres::iso8601(&literal::timestamp(Backend::Postgres, at));
            let written: String = diesel::select(sql::<Text>(&expression))
                .get_result(&mut *conn.borrow_mut())
                .unwrap();
            prop_assert_eq!(written, iso8601(at));
            Ok(())
        })
        .unwrap();
}

#[test]
fn postgres_writes_days_as_rust_does() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return; // SQLite's export formats its rows in Rust, with `write_iso_date` itself.
    }
    let conn = std::cell::RefCell::new(db.pool().get().unwrap());
    let mut runner = TestRunner::new(Config::with_cases(1000));
    runner
        .run(&any_time(), |at| {
            let day = at.date();
            let expression = postgres::iso_date(&format!("DATE '{day}'"));
            let written: String = diesel::select(sql::<Text>(&expression))
                .get_result(&mut *conn.borrow_mut())
                .unwrap();
            prop_assert_eq!(written, iso_date(day));
            Ok(())
        })
        .unwrap();
    let none: Option<String> = diesel::select(sql::<Nullable<Text>>(&postgres::iso_date(
        "CAST(NULL AS DATE)",
    )))
    .get_result(&mut *conn.borrow_mut())
    .unwrap();
    assert_eq!(none, None, "no day: an empty cell");
}

/// PostgreSQL's COPY of text cells, row ends made `\r\n`, against the csv crate writing the
/// same cells as the export configures it: the formula guard, the empty cells and the
/// quoting agree byte for byte.
#[test]
fn postgres_copy_quotes_text_cells_as_the_csv_crate_does() {
    let db = TestDb::new();
    if !db.is_postgres() {
        return; // SQLite's export writes its rows with the csv crate itself.
    }
    drop(db.pool()); // migrations are not needed, only the database
    let DatabaseUrl::Postgres(url) = DatabaseUrl::parse(&db.url) else {
        unreachable!()
    };
    let mut runner = TestRunner::new(Config::with_cases(300));
    runner
        .run(&prop::collection::vec(awkward_text(), 1..20), |texts| {
            // A NULL (a customer without an email) is written as an empty cell.
            let values: Vec<String> = texts
                .iter()
                .enumerate()
                .map(|(n, text)| format!("({n}, {})", literal::text(text).unwrap()))
                .chain([format!("({}, NULL)", texts.len())])
                .collect();
            let copy = format!(
                "COPY (SELECT n, {}, {}, n FROM (VALUES {}) v(n, x) ORDER BY n) \
                 TO STDOUT WITH (FORMAT csv)",
                postgres::text_cell("x"),
                postgres::plain("x"),
                values.join(", ")
            );
            let mut out = CopyOut::start(&url, "SET standard_conforming_strings = on", &copy)
                .expect("COPY starts");
            let mut ends = RowEnds::default();
            let mut written = Vec::new();
            let mut rows = 0;
            while let Some(piece) = out.next_piece().expect("COPY runs") {
                rows += ends.translate(&piece, &mut written);
            }

            let mut expected = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new());
            for (n, text) in texts.iter().enumerate() {
                let n = n.to_string();
                expected
                    .write_record([n.as_str(), &text_cell(text), text, n.as_str()])
                    .unwrap();
            }
            let n = texts.len().to_string();
            expected
                .write_record([n.as_str(), "", "", n.as_str()])
                .unwrap();
            let expected = expected.into_inner().unwrap();
            prop_assert_eq!(rows, texts.len() as u64 + 1);
            prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
            Ok(())
        })
        .unwrap();
}
