//! Checked customer files and their plans (docs/import.md): kept so that applying uses
//! exactly the file that was checked, and the preview can be paged.

use diesel::prelude::*;

use crate::db::models::{CustomerImport, CustomerImportRow, NewCustomerImport};
use crate::db::schema::{customer_import_rows, customer_imports};
use crate::db::{now_utc, DbConnection};
use crate::per_backend;

/// What a checked file is kept with.
#[derive(Debug, Clone, Copy)]
pub struct Checked<'a> {
    pub file_name: &'a str,
    pub content: &'a str,
    pub sha256: &'a str,
    pub byte_size: i64,
    pub counts: crate::import::Counts,
    pub checked_by: &'a str,
}

/// Rows inserted per statement: well under SQLite's limit of bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// Keeps a checked file and its plan's rows; returns the import's id.
pub fn insert(
    conn: &mut DbConnection,
    checked: Checked<'_>,
    rows: &[CustomerImportRow],
) -> QueryResult<i64> {
    crate::db::write_transaction(conn, |conn| {
        let counts = checked.counts;
        let id = diesel::insert_into(customer_imports::table)
            .values(NewCustomerImport {
                file_name: checked.file_name,
                content: checked.content,
                sha256: checked.sha256,
                byte_size: checked.byte_size,
                row_count: counts.rows(),
                planned_create: counts.create,
                planned_update: counts.update,
                planned_unchanged: counts.unchanged,
                planned_refused: counts.refused,
                planned_openings: counts.openings,
                checked_by: checked.checked_by,
                checked_at: now_utc(),
                status: "checked",
            })
            .returning(customer_imports::id)
            .get_result::<i64>(conn)?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let chunk: Vec<CustomerImportRow> = chunk
                .iter()
                .map(|row| CustomerImportRow {
                    import_id: id,
                    ..row.clone()
                })
                .collect();
            per_backend!(conn, |c| diesel::insert_into(customer_import_rows::table)
                .values(&chunk)
                .execute(c))?;
        }
        Ok(id)
    })
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<CustomerImport>> {
    customer_imports::table
        .find(id)
        .select(CustomerImport::as_select())
        .first(conn)
        .optional()
}

/// The file's text, as it was checked.
pub fn content(conn: &mut DbConnection, id: i64) -> QueryResult<String> {
    customer_imports::table
        .find(id)
        .select(customer_imports::content)
        .first(conn)
}

/// The latest imports, newest first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<CustomerImport>> {
    customer_imports::table
        .order(customer_imports::id.desc())
        .limit(limit)
        .select(CustomerImport::as_select())
        .load(conn)
}

/// Up to `limit` rows of an import's plan after line `after`, in line order, only those
/// with `outcome` when given.
pub fn rows(
    conn: &mut DbConnection,
    import_id: i64,
    outcome: Option<&str>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<CustomerImportRow>> {
    let mut query = customer_import_rows::table
        .filter(customer_import_rows::import_id.eq(import_id))
        .filter(customer_import_rows::line.gt(after))
        .into_boxed();
    if let Some(outcome) = outcome {
        query = query.filter(customer_import_rows::outcome.eq(outcome.to_owned()));
    }
    query
        .order(customer_import_rows::line)
        .limit(limit)
        .select(CustomerImportRow::as_select())
        .load(conn)
}

/// How an import ended.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    pub status: &'a str,
    pub by: &'a str,
    pub skipped_refused: bool,
    pub outcome: &'a str,
}

pub fn finish(conn: &mut DbConnection, id: i64, ending: Ending<'_>) -> QueryResult<()> {
    diesel::update(customer_imports::table.find(id))
        .set((
            customer_imports::status.eq(ending.status),
            customer_imports::applied_by.eq(ending.by),
            customer_imports::applied_at.eq(now_utc()),
            customer_imports::skipped_refused.eq(ending.skipped_refused),
            customer_imports::outcome.eq(ending.outcome),
        ))
        .execute(conn)
        .map(|_| ())
}
