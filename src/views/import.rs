//! `/users/import`: the upload form, a checked file's plan row by row, the apply form and
//! the progress of an apply (docs/import.md).

use askama::Template;

use super::{short_time, Layout};
use crate::db::models::{CustomerImport, CustomerImportRow};
use crate::domain::{counted, format_grouped};
use crate::filters::import::ImportView;
use crate::filters::QueryPairs;
use crate::web::href as link;

/// Rows of a plan shown a page.
pub const ROWS_PER_PAGE: i64 = 100;

#[derive(Template)]
#[template(path = "users/import.html")]
pub struct ImportPage {
    pub layout: Layout,
    /// The largest file accepted, for the hint (`32 MiB`).
    pub max_size: String,
    /// Why the last request did nothing, in the owner's words.
    pub error: Option<String>,
    pub recent: Vec<ImportLine>,
    pub current: Option<CurrentImport>,
}

/// An import as the recent list shows it.
pub struct ImportLine {
    pub id: i64,
    pub file_name: String,
    pub checked_by: String,
    pub checked_at: String,
    pub rows: String,
    pub status: &'static str,
    pub status_label: &'static str,
}

/// How many rows do what, grouped for reading.
pub struct CountView {
    pub outcome: &'static str,
    pub label: &'static str,
    pub count: String,
    pub href: String,
    pub active: bool,
}

/// The import being looked at.
pub struct CurrentImport {
    pub line: ImportLine,
    pub counts: Vec<CountView>,
    pub all_href: String,
    pub filtered: bool,
    pub refused: i64,
    /// `the 3 refused rows`, for the skip checkbox.
    pub refused_rows: String,
    /// `Apply: 2 customers, 1 opening balance`.
    pub apply_label: String,
    pub openings: String,
    pub outcome: String,
    /// How much of it is applied, in percent, while it is being applied.
    pub progress: Option<u64>,
    pub rows: Vec<CustomerImportRow>,
    pub next_href: Option<String>,
}

impl ImportPage {
    pub fn new(layout: Layout, max_bytes: usize) -> ImportPage {
        ImportPage {
            layout,
            max_size: format!("{} MiB", max_bytes / (1024 * 1024)),
            error: None,
            recent: Vec::new(),
            current: None,
        }
    }

    pub fn with_recent(mut self, imports: &[CustomerImport]) -> ImportPage {
        self.recent = imports.iter().map(|i| ImportLine::new(i, false)).collect();
        self
    }

    /// Shows `import` with a page of its rows; `progress` while it is being applied.
    pub fn with_current(
        mut self,
        import: &CustomerImport,
        view: &ImportView,
        rows: Vec<CustomerImportRow>,
        progress: Option<(u64, u64)>,
    ) -> ImportPage {
        let href = |outcome: Option<&str>, after: i64| {
            let pairs = QueryPairs::default()
                .add("id", Some(import.id))
                .add("outcome", outcome)
                .add("after", Some(after).filter(|a| *a > 0))
                .done();
            link("/users/import", &pairs)
        };
        let count = |outcome: &'static str, label: &'static str, count: i64| CountView {
            outcome,
            label,
            count: format_grouped(&count.to_string()),
            href: href(Some(outcome), 0),
            active: view.outcome == Some(outcome),
        };
        let next_href = (rows.len() as i64 == ROWS_PER_PAGE)
            .then(|| rows.last().map(|r| href(view.outcome, r.line)))
            .flatten();
        self.current = Some(CurrentImport {
            line: ImportLine::new(import, progress.is_some()),
            counts: vec![
                count("create", "To create", import.planned_create),
                count("update", "To update", import.planned_update),
                count("unchanged", "Unchanged", import.planned_unchanged),
                count("refused", "Refused", import.planned_refused),
            ],
            all_href: href(None, 0),
            filtered: view.outcome.is_some() || view.after > 0,
            refused: import.planned_refused,
            refused_rows: match import.planned_refused {
                1 => "the refused row".to_owned(),
                n => format!("the {}", counted(n, "refused row", "refused rows")),
            },
            apply_label: format!(
                "Apply: {}, {}",
                counted(
                    import.planned_create + import.planned_update,
                    "customer",
                    "customers"
                ),
                counted(
                    import.planned_openings,
                    "opening balance",
                    "opening balances"
                )
            ),
            openings: format_grouped(&import.planned_openings.to_string()),
            outcome: import.outcome.clone(),
            progress: progress.map(|(done, total)| (done * 100).checked_div(total).unwrap_or(0)),
            rows,
            next_href,
        });
        self
    }
}

impl ImportLine {
    fn new(import: &CustomerImport, running: bool) -> ImportLine {
        let (status, status_label) = match import.status.as_str() {
            _ if running => ("applying", "Applying…"),
            "applied" => ("applied", "Applied"),
            "failed" => ("failed", "Failed, nothing applied"),
            _ => ("checked", "Checked, not applied"),
        };
        ImportLine {
            id: import.id,
            file_name: import.file_name.clone(),
            checked_by: import.checked_by.clone(),
            checked_at: short_time(import.checked_at),
            rows: format_grouped(&import.row_count.to_string()),
            status,
            status_label,
        }
    }
}

/// The label of a row's outcome.
pub fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "create" => "Create",
        "update" => "Update",
        "unchanged" => "Unchanged",
        _ => "Refused",
    }
}
