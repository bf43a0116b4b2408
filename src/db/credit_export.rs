//! The promo credit list's CSV export as each database runs it (docs/exports.md, "How an
//! export runs"): one statement over the rows the filter selects, joined to the customer and
//! the author each names, in the list's time order. No paging and no look-ups per chunk: the
//! database reads the rows once, at its own speed.
//!
//! - **PostgreSQL** writes the CSV itself: the SELECT formats every cell exactly as
//!   `crate::views::promo_credits::CsvRows` does (formula guard, exchange rate, ISO 8601
//!   time), and `COPY … TO STDOUT WITH (FORMAT csv)` quotes the fields, streamed through a
//!   connection of the export's own ([`super::copy`]). Its quoting is csv-core's
//!   `QuoteStyle::Necessary` as ours is configured: a field is quoted when it holds a
//!   comma, a quote, a CR or a LF, and quotes inside are doubled. The two differences are
//!   dealt with here: an empty text would be written `""` (PostgreSQL's mark of an empty
//!   string as opposed to NULL), so every text cell is NULL when empty, and rows end in
//!   `\n`, which [`super::copy::RowEnds`] makes `\r\n`.
//! - **SQLite** returns the raw cells of one prepared statement stepped row by row (diesel
//!   steps SQLite lazily), and the caller formats them in Rust. Formatting in SQL was
//!   measured almost three times slower than the `sqlite3 -csv` dump of the same rows.

use diesel::connection::DefaultLoadingMode;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::prelude::*;
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::{Date as SqlDate, Timestamp};
use diesel::sqlite::Sqlite;
use time::{Date, PrimitiveDateTime};

use super::copy::{CopyOut, RowEnds};
use super::literal::{self, NulInText};
use super::{DatabaseUrl, DbConnection, Pool, POSTGRES_SETTINGS};
use crate::csv_export::FORMULA_STARTS;
use crate::domain::{rate_text, CurrencyCode};
use crate::store::credit_list::CreditCells;
use crate::store::credits::SYSTEM_AUTHOR;

/// Where the export's rows go.
pub trait CreditRowSink {
    /// Rows the database wrote as CSV, each ending in `\r\n`, and how many they are.
    fn formatted(&mut self, csv: &[u8], rows: u64) -> anyhow::Result<()>;
    /// One row's cells as the database returned them, for the sink to format.
    fn cells(&mut self, row: &CreditCells<'_>) -> anyhow::Result<()>;
}

/// An export whose statement the database has accepted, ready to be read.
pub struct CreditExport(Started);

enum Started {
    Copy(CopyOut),
    Statement(String),
}

/// CSV handed to the sink at a time, about.
const BATCH_BYTES: usize = 64 * 1024;

/// Sent to PostgreSQL on the export's own connection before the COPY: what diesel sets on
/// its connections (UTC, UTF-8), the pool's settings, and a name to find it by in
/// `pg_stat_activity`.
const COPY_SETTINGS: &str = "SET TIME ZONE 'UTC'; SET client_encoding = 'UTF8'; \
     SET application_name = 'creditdesk export';";

impl CreditExport {
    /// Starts the export of the rows where every one of `conditions` (SQL text over
    /// `credit_transactions`) holds, oldest first when `ascending`. On PostgreSQL this opens
    /// the export's connection and starts the COPY, so a refusal is known before the first
    /// byte is sent; on SQLite the statement runs on `conn` when read.
    pub fn start(
        conn: &mut DbConnection,
        pool: &Pool,
        conditions: &[String],
        ascending: bool,
    ) -> anyhow::Result<CreditExport> {
        let rest = from_where_order(conditions, ascending);
        match (&*conn, pool.database_url()) {
            (DbConnection::Sqlite(_), _) => Ok(CreditExport(Started::Statement(format!(
                "{} {rest}",
                sqlite_cells()
            )))),
            (DbConnection::Pg(_), DatabaseUrl::Postgres(url)) => {
                let cells = postgres_cells(&known_rates(conn)?)?;
                let copy = format!("COPY (SELECT {cells} {rest}) TO STDOUT WITH (FORMAT csv)");
                let settings = format!("{POSTGRES_SETTINGS} {COPY_SETTINGS}");
                Ok(CreditExport(Started::Copy(CopyOut::start(
                    url, &settings, &copy,
                )?)))
            }
            (DbConnection::Pg(_), DatabaseUrl::Sqlite(_)) => {
                anyhow::bail!("a PostgreSQL connection from a pool of SQLite")
            }
        }
    }

    /// Reads every row into `sink`.
    pub fn write_to(
        self,
        conn: &mut DbConnection,
        sink: &mut dyn CreditRowSink,
    ) -> anyhow::Result<()> {
        match (self.0, conn) {
            (Started::Copy(mut copy), _) => {
                let mut ends = RowEnds::default();
                let mut batch = Vec::with_capacity(BATCH_BYTES + 4096);
                let mut rows = 0;
                while let Some(piece) = copy.next_piece()? {
                    rows += ends.translate(&piece, &mut batch);
                    if batch.len() >= BATCH_BYTES {
                        sink.formatted(&batch, rows)?;
                        batch.clear();
                        rows = 0;
                    }
                }
                if !batch.is_empty() {
                    sink.formatted(&batch, rows)?;
                }
                Ok(())
            }
            (Started::Statement(sql), DbConnection::Sqlite(sqlite)) => {
                let rows =
                    diesel::sql_query(sql).load_iter::<SqliteRow, DefaultLoadingMode>(sqlite)?;
                for row in rows {
                    sink.cells(&row?.cells())?;
                }
                Ok(())
            }
            (Started::Statement(_), DbConnection::Pg(_)) => {
                anyhow::bail!("a PostgreSQL export must run through COPY")
            }
        }
    }
}

/// The joins, filter and order both databases share. The author is the admin's email or
/// the API key's name, or `system` when it is neither or its row is gone, as
/// `crate::store::credits::actor_labels` says; a missing customer has empty cells, as
/// `crate::store::credit_list::with_names` gives.
fn from_where_order(conditions: &[String], ascending: bool) -> String {
    let direction = if ascending { "ASC" } else { "DESC" };
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    format!(
        "FROM credit_transactions \
         LEFT JOIN users u ON u.id = credit_transactions.user_id \
         LEFT JOIN admins a ON credit_transactions.actor_kind = 'admin' \
            AND a.id = credit_transactions.actor_id \
         LEFT JOIN api_keys k ON credit_transactions.actor_kind = 'api_key' \
            AND k.id = credit_transactions.actor_id \
         {filter} \
         ORDER BY credit_transactions.created_at {direction}, credit_transactions.id {direction}"
    )
}

fn author() -> String {
    format!("COALESCE(a.email, k.name, '{SYSTEM_AUTHOR}')")
}

/// The cells of a row in the order of `crate::views::promo_credits::CSV_HEADER`, as
/// SQLite returns them ([`SqliteRow`] reads them by position).
fn sqlite_cells() -> String {
    format!(
        "SELECT credit_transactions.id, credit_transactions.user_id, u.external_id, u.email, \
         credit_transactions.currency, credit_transactions.kind, credit_transactions.reason, \
         credit_transactions.delta, credit_transactions.balance_before, \
         credit_transactions.balance_after, credit_transactions.currency_value, \
         credit_transactions.exchange_rate_e4, {}, credit_transactions.note, \
         credit_transactions.invoice_id, credit_transactions.created_at, \
         credit_transactions.expires_at",
        author()
    )
}

/// The rates the ledger rows most likely carry (every rate a currency has had, newest
/// first), each with its text as `crate::domain::rate_text` writes it.
fn known_rates(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64, String)>> {
    use super::schema::promo_credit_rates as rates;
    let pairs: Vec<(String, i64)> = rates::table
        .group_by((rates::currency, rates::exchange_rate_e4))
        .select((rates::currency, rates::exchange_rate_e4))
        .order(diesel::dsl::max(rates::id).desc())
        .limit(KNOWN_RATES)
        .load(conn)?;
    Ok(pairs
        .into_iter()
        .map(|(currency, e4)| {
            let text = rate_text(&currency, e4);
            (currency, e4, text)
        })
        .collect())
}

/// Rates written out as [`known_rates`] at most.
const KNOWN_RATES: i64 = 32;

/// The cells of a row as CSV text, in the order of `crate::views::promo_credits::CSV_HEADER`,
/// formatted as `crate::views::promo_credits::CsvRows` formats them.
fn postgres_cells(known_rates: &[(String, i64, String)]) -> Result<String, NulInText> {
    let column = |name: &str| format!("credit_transactions.{name}");
    Ok([
        column("id"),
        column("user_id"),
        postgres::text_cell("u.external_id"),
        postgres::text_cell("u.email"),
        postgres::text_cell(&column("currency")),
        postgres::plain(&column("kind")),
        postgres::plain(&column("reason")),
        column("delta"),
        column("balance_before"),
        column("balance_after"),
        postgres::plain(&column("currency_value")),
        postgres::rate(
            &column("exchange_rate_e4"),
            &column("currency"),
            known_rates,
        )?,
        postgres::text_cell(&author()),
        postgres::text_cell(&column("note")),
        postgres::text_cell(&column("invoice_id")),
        postgres::iso8601(&column("created_at")),
        postgres::iso_date(&column("expires_at")),
    ]
    .join(", "))
}

/// PostgreSQL expressions for the cells of the export; each text cell is NULL when empty,
/// so COPY writes it as an empty unquoted field, as the csv crate does.
pub mod postgres {
    use super::*;

    /// The text as it is (NULL when empty).
    pub fn plain(text: &str) -> String {
        format!("NULLIF({text}, '')")
    }

    /// `crate::csv_export::text_cell`: a `'` before a text starting with a formula
    /// character. `ascii` gives the first character's code point, which is one of those
    /// ASCII codes exactly when the first byte is.
    pub fn text_cell(text: &str) -> String {
        let codes: Vec<String> = FORMULA_STARTS.iter().map(|b| b.to_string()).collect();
        format!(
            "CASE WHEN ascii({text}) IN ({}) THEN '''' || {text} ELSE NULLIF({text}, '') END",
            codes.join(", ")
        )
    }

    /// `crate::db::iso8601`: `2026-11-26T09:30:00.123456Z`.
    pub fn iso8601(time: &str) -> String {
        format!("to_char({time}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    }

    /// `crate::db::iso_date`: `2026-12-31` (NULL when there is no day).
    pub fn iso_date(day: &str) -> String {
        format!("to_char({day}, 'YYYY-MM-DD')")
    }

    /// `crate::domain::rate_text`. The rates in `known` (currency, rate, text) are looked
    /// up: comparing two values costs a fraction of building the text. Any other is built
    /// by [`computed_rate`].
    pub fn rate(
        e4: &str,
        currency: &str,
        known: &[(String, i64, String)],
    ) -> Result<String, NulInText> {
        let mut arms = String::new();
        for (code, rate, text) in known {
            arms.push_str(&format!(
                "WHEN {e4} = {rate} AND {currency} = {} THEN {} ",
                literal::text(code)?,
                literal::text(text)?
            ));
        }
        Ok(format!(
            "CASE {arms}ELSE {} END",
            computed_rate(e4, currency)
        ))
    }

    /// `crate::domain::rate_text` in SQL: the rate (in 1/10,000) with its trailing zeros
    /// dropped but at least the currency's minor units of decimals; none for a rate out of
    /// range. The currencies whose minor units are not 2 are listed from the currency
    /// table; any other code, known or not, has 2.
    pub fn computed_rate(e4: &str, currency: &str) -> String {
        let mut exceptions: Vec<(u32, Vec<String>)> = Vec::new();
        for code in CurrencyCode::all() {
            let minor = code.minor_units();
            if minor == 2 {
                continue;
            }
            match exceptions.iter_mut().find(|(m, _)| *m == minor) {
                Some((_, codes)) => codes.push(code.to_string()),
                None => exceptions.push((minor, vec![code.to_string()])),
            }
        }
        let mut arms = String::new();
        for (minor, codes) in &exceptions {
            arms.push_str(&format!(
                "WHEN {currency} IN ('{}') THEN {} ",
                codes.join("', '"),
                rate_with_minor_units(e4, *minor)
            ));
        }
        format!(
            "CASE WHEN {e4} BETWEEN 1 AND {max} THEN CASE {arms}ELSE {two} END END",
            max = crate::domain::MAX_RATE_E4,
            two = rate_with_minor_units(e4, 2)
        )
    }

    /// The whole units, then the four decimals of the rate: the first `minor` of them
    /// always, the rest without trailing zeros (no point when nothing follows it).
    fn rate_with_minor_units(e4: &str, minor: u32) -> String {
        let whole = format!("({e4} / 10000)::text");
        let decimals = format!("lpad(({e4} % 10000)::text, 4, '0')");
        match minor {
            0 => format!("{whole} || COALESCE('.' || NULLIF(rtrim({decimals}, '0'), ''), '')"),
            1..=3 => format!(
                "{whole} || '.' || substr({decimals}, 1, {minor}) || rtrim(substr({decimals}, {}), '0')",
                minor + 1
            ),
            _ => format!(
                "{whole} || '.' || {decimals} || '{}'",
                "0".repeat(minor as usize - 4)
            ),
        }
    }
}

/// A row of the export as SQLite returns it ([`sqlite_cells`]): its text cells one after
/// another in one string (one allocation a row, none per cell), its numbers and its time
/// and its day of expiry (parsed by diesel, as every other read of a time). A text that is not UTF-8, which
/// nothing here writes, reads with replacement characters (reading a `String` refused it).
struct SqliteRow {
    text: String,
    text_ends: [usize; TEXT_CELLS.len()],
    numbers: [i64; NUMBER_CELLS.len()],
    created_at: PrimitiveDateTime,
    expires_at: Option<Date>,
}

/// The positions of the text cells in [`sqlite_cells`]; NULL reads as empty.
const TEXT_CELLS: [usize; 9] = [2, 3, 4, 5, 6, 10, 12, 13, 14];
/// The positions of the number cells.
const NUMBER_CELLS: [usize; 6] = [0, 1, 7, 8, 9, 11];
const CREATED_AT_CELL: usize = 15;
const EXPIRES_AT_CELL: usize = 16;

impl QueryableByName<Sqlite> for SqliteRow {
    fn build<'a>(row: &impl NamedRow<'a, Sqlite>) -> deserialize::Result<Self> {
        let field = |index: usize| {
            Row::get(row, index).ok_or_else(|| format!("the export has no column {index}"))
        };
        let mut text = String::with_capacity(256);
        let mut text_ends = [0; TEXT_CELLS.len()];
        for (end, index) in text_ends.iter_mut().zip(TEXT_CELLS) {
            if let Some(mut value) = field(index)?.value() {
                text.push_str(value.read_text());
            }
            *end = text.len();
        }
        let mut numbers = [0; NUMBER_CELLS.len()];
        for (number, index) in numbers.iter_mut().zip(NUMBER_CELLS) {
            let field = field(index)?;
            let mut value = field
                .value()
                .ok_or_else(|| format!("column {index} of the export is NULL"))?;
            *number = value.read_long();
        }
        let created_at = <PrimitiveDateTime as FromSql<Timestamp, Sqlite>>::from_nullable_sql(
            field(CREATED_AT_CELL)?.value(),
        )?;
        let expires_at = match field(EXPIRES_AT_CELL)?.value() {
            None => None,
            Some(value) => Some(<Date as FromSql<SqlDate, Sqlite>>::from_sql(value)?),
        };
        Ok(SqliteRow {
            text,
            text_ends,
            numbers,
            created_at,
            expires_at,
        })
    }
}

impl SqliteRow {
    fn cells(&self) -> CreditCells<'_> {
        let text = |n: usize| {
            let start = if n == 0 { 0 } else { self.text_ends[n - 1] };
            &self.text[start..self.text_ends[n]]
        };
        let [id, user_id, delta, balance_before, balance_after, exchange_rate_e4] = self.numbers;
        CreditCells {
            id,
            user_id,
            external_id: text(0),
            email: text(1),
            currency: text(2),
            kind: text(3),
            reason: text(4),
            delta,
            balance_before,
            balance_after,
            currency_value: text(5),
            exchange_rate_e4,
            by: text(6),
            note: text(7),
            invoice_id: text(8),
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}
