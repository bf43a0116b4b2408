//! Customer import (docs/import.md): a CSV file is read and checked ([`file`], [`row`]),
//! planned against the database without writing ([`plan`]), kept with its plan
//! (`store::imports`), and only then applied, in one transaction, through the ledger for
//! opening balances ([`apply`]). The console and `creditdesk import customers` share all of
//! it.

pub mod apply;
pub mod file;
pub mod jobs;
pub mod plan;
pub mod row;

pub use apply::{apply, check, steps, Applied, Importer};
pub use file::{CustomerFile, FileError};
pub use plan::{plan, Counts, Outcome, Plan, RowPlan};

use crate::ledger::LedgerError;

/// Why a file was not checked or not applied. Nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("There is no such import.")]
    NotFound,
    #[error("This file was applied already ({0}).")]
    AlreadyApplied(String),
    #[error(
        "Applying this file failed before ({0}); nothing of it was written. Check the file again."
    )]
    AlreadyFailed(String),
    #[error("Customers or balances changed since this file was checked, so what it would do has changed too. Check the file again to see the new plan.")]
    Changed,
    #[error("{} refused. Fix the file and check it again, or choose to skip the refused rows.", refused_rows(*.0))]
    RefusedRows(i64),
    #[error("Line {line}: {message}")]
    Row { line: u64, message: String },
    #[error(
        "{0} Someone created a customer of this file at the same moment: check the file again."
    )]
    Conflict(String),
    #[error("The opening balances could not be posted: {0}")]
    Openings(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// `1 row is`, `3 rows are`.
fn refused_rows(n: i64) -> String {
    let verb = if n == 1 { "is" } else { "are" };
    format!("{} {verb}", crate::domain::counted(n, "row", "rows"))
}

impl ImportError {
    /// A customer that could not be written on `line` (0: among the new customers).
    fn customer(line: u64, error: crate::store::customers::CustomerError) -> ImportError {
        use crate::store::customers::CustomerError;
        match error {
            CustomerError::Database(error) => ImportError::Database(error),
            other if line == 0 => ImportError::Conflict(other.to_string()),
            other => ImportError::Row {
                line,
                message: other.to_string(),
            },
        }
    }

    /// A ledger refusal while posting the opening balances.
    fn ledger(error: LedgerError) -> ImportError {
        match error {
            LedgerError::Database(error) => ImportError::Database(error),
            other => ImportError::Openings(other.to_string()),
        }
    }
}
