//! Checking a file (plan it, keep it) and applying a checked one: all of it in one write
//! transaction, or nothing (docs/import.md, "Applying").

use sha2::{Digest, Sha256};

use crate::db::dialect::lock_import;
use crate::db::models::CustomerImportRow;
use crate::db::{write_transaction, DbConnection};
use crate::domain::{counted, format_grouped, Note};
use crate::ledger::openings::Opening;
use crate::ledger::{self, Actor};
use crate::store::activity::{self, Audit};
use crate::store::customers;
use crate::store::imports::{self, Checked, Ending};

use super::file::CustomerFile;
use super::plan::{plan, Counts, Outcome, Plan, RowPlan};
use super::ImportError;

/// Who checks or applies a file: the ledger's actor and the activity log's author.
#[derive(Debug, Clone)]
pub struct Importer {
    pub actor: Actor,
    pub audit: Audit,
}

/// What applying did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub counts: Counts,
    pub outcome: String,
}

/// Plans `file` and keeps it with its plan: the dry run every import starts with. Returns
/// the import's id and the plan.
pub fn check(
    conn: &mut DbConnection,
    file: &CustomerFile,
    importer: &Importer,
) -> Result<(i64, Plan), ImportError> {
    let plan = plan(conn, file)?;
    let rows: Vec<CustomerImportRow> = plan.rows.iter().map(report_row).collect();
    let sha256 = format!("{:x}", Sha256::digest(file.text.as_bytes()));
    let checked = Checked {
        file_name: &file.name,
        content: &file.text,
        sha256: &sha256,
        byte_size: file.text.len() as i64,
        counts: plan.counts,
        checked_by: &importer.audit.actor,
    };
    let id = imports::insert(conn, checked, &rows)?;
    Ok((id, plan))
}

fn report_row(row: &RowPlan) -> CustomerImportRow {
    CustomerImportRow {
        import_id: 0,
        line: row.line as i64,
        outcome: row.outcome.name().to_owned(),
        user_id: row.outcome.user_id(),
        external_id: crate::domain::without_controls(&row.external_id, 255),
        email: crate::domain::without_controls(&row.email, 254),
        details: row.details(),
    }
}

/// Applies the checked import `id`: plans it again inside the transaction, refuses when
/// the plan is no longer what was checked or has refused rows the importer did not choose
/// to skip, then writes every row. `progress` hears how many [`steps`] are done. A failure
/// after the checks is recorded on the import (nothing else is written).
pub fn apply(
    conn: &mut DbConnection,
    id: i64,
    skip_refused: bool,
    importer: &Importer,
    progress: &mut dyn FnMut(u64),
) -> Result<Applied, ImportError> {
    let applied = write_transaction(conn, |conn| {
        apply_locked(conn, id, skip_refused, importer, progress)
    });
    if let Err(error) = &applied {
        let ends_it = matches!(
            error,
            ImportError::Changed
                | ImportError::Row { .. }
                | ImportError::Openings(_)
                | ImportError::Conflict(_)
                | ImportError::File(_)
                | ImportError::Database(_)
        );
        if ends_it {
            let ending = Ending {
                status: "failed",
                by: &importer.audit.actor,
                skipped_refused: skip_refused,
                outcome: &error.to_string(),
            };
            write_transaction(conn, |conn| imports::finish(conn, id, ending))?;
        }
    }
    applied
}

fn apply_locked(
    conn: &mut DbConnection,
    id: i64,
    skip_refused: bool,
    importer: &Importer,
    progress: &mut dyn FnMut(u64),
) -> Result<Applied, ImportError> {
    let import = lock_import(conn, id)?.ok_or(ImportError::NotFound)?;
    let when = || {
        let at = import.applied_at.map(|at| at.date().to_string());
        format!(
            "on {} by {}",
            at.unwrap_or_default(),
            import.applied_by.as_deref().unwrap_or("")
        )
    };
    match import.status.as_str() {
        "applied" => return Err(ImportError::AlreadyApplied(when())),
        "failed" => return Err(ImportError::AlreadyFailed(import.outcome.clone())),
        _ => {}
    }
    let content = imports::content(conn, id)?;
    let file = CustomerFile::read(&import.file_name, content.as_bytes(), usize::MAX)?;
    let plan = plan(conn, &file)?;
    let checked = Counts {
        create: import.planned_create,
        update: import.planned_update,
        unchanged: import.planned_unchanged,
        refused: import.planned_refused,
        openings: import.planned_openings,
    };
    if plan.counts != checked {
        return Err(ImportError::Changed);
    }
    if plan.counts.refused > 0 && !skip_refused {
        return Err(ImportError::RefusedRows(plan.counts.refused));
    }
    let note = Note::generated(&format!("Opening balance from {}", file.name));
    let mut done = 0u64;
    let mut step = |count: usize| {
        done += count as u64;
        progress(done);
    };
    let created = create_customers(conn, &plan, &mut step)?;
    let mut openings = Vec::new();
    for row in &plan.rows {
        let user_id = match (&row.outcome, &row.customer) {
            (Outcome::Create, Some(customer)) => created[&customer.email.normalized()],
            (Outcome::Update { user_id, .. }, Some(customer)) => {
                customers::update_from(conn, *user_id, customer)
                    .map_err(|error| ImportError::customer(row.line, error))?;
                step(1);
                *user_id
            }
            (Outcome::Unchanged { user_id }, _) => {
                step(1);
                *user_id
            }
            _ => continue,
        };
        openings.extend(
            row.openings
                .iter()
                .filter(|o| o.applies())
                .map(|o| Opening {
                    user_id,
                    currency: o.currency,
                    credits: o.credits,
                    expires_at: o.expires_at,
                }),
        );
    }
    for chunk in openings.chunks(STEP) {
        ledger::openings::open_accounts(conn, chunk, &note, importer.actor)
            .map_err(ImportError::ledger)?;
        step(chunk.len());
    }
    let outcome = summary(&plan.counts);
    let ending = Ending {
        status: "applied",
        by: &importer.audit.actor,
        skipped_refused: skip_refused && plan.counts.refused > 0,
        outcome: &outcome,
    };
    imports::finish(conn, id, ending)?;
    activity::record(
        conn,
        activity::Record {
            audit: &importer.audit,
            action: "customers.import",
            target: &file.name,
            details: &outcome,
            subject: activity::Subject::default(),
        },
    )?;
    Ok(Applied {
        counts: plan.counts,
        outcome,
    })
}

/// What an applied plan did, in one line.
pub fn summary(counts: &Counts) -> String {
    let grouped = |n: i64| format_grouped(&n.to_string());
    let mut text = format!(
        "{} created, {} updated, {} unchanged; {} posted",
        grouped(counts.create),
        grouped(counts.update),
        grouped(counts.unchanged),
        counted(counts.openings, "opening balance", "opening balances")
    );
    if counts.refused > 0 {
        let refused = counted(counts.refused, "refused row", "refused rows");
        text.push_str(&format!("; {refused} skipped"));
    }
    text
}

/// Customers created or opening balances posted between two reports of progress.
const STEP: usize = 5_000;

/// The steps of applying a plan, for its progress: each customer written (created,
/// updated or left unchanged) and each opening balance posted.
pub fn steps(rows: i64, refused: i64, openings: i64) -> u64 {
    (rows - refused + openings).max(0) as u64
}

/// Creates the customers of the rows to create, [`STEP`] at a time; their ids by
/// lower-cased email.
fn create_customers(
    conn: &mut DbConnection,
    plan: &Plan,
    step: &mut dyn FnMut(usize),
) -> Result<std::collections::HashMap<String, i64>, ImportError> {
    let new: Vec<_> = plan
        .rows
        .iter()
        .filter(|row| row.outcome == Outcome::Create)
        .filter_map(|row| row.customer.as_ref())
        .collect();
    let mut created = std::collections::HashMap::with_capacity(new.len());
    for chunk in new.chunks(STEP) {
        created.extend(
            customers::insert_all(conn, chunk).map_err(|error| ImportError::customer(0, error))?,
        );
        step(chunk.len());
    }
    Ok(created)
}
