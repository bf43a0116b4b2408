//! Which import `/users/import` shows, and which of its rows (`?id=&outcome=&after=`).

use serde::Deserialize;

use super::whole_number;
use crate::forms::{FieldError, FieldErrors};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawImportView {
    pub id: String,
    pub outcome: String,
    pub after: String,
}

/// The outcomes a row of a plan can have, as the filter names them.
pub const OUTCOMES: [&str; 4] = ["create", "update", "unchanged", "refused"];

/// A checked view: an import (none: the upload form), an outcome to show only, and the
/// line after which the page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportView {
    pub id: Option<i64>,
    pub outcome: Option<&'static str>,
    pub after: i64,
}

impl RawImportView {
    pub fn parse(&self) -> Result<ImportView, FieldErrors> {
        let mut errors = FieldErrors::default();
        let id = errors.take(whole_number("id", &self.id, 1, i64::MAX, "the import"));
        let after = errors
            .take(whole_number("after", &self.after, 0, i64::MAX, "the line"))
            .unwrap_or(0);
        let outcome = match self.outcome.trim() {
            "" => None,
            typed => errors.check(OUTCOMES.into_iter().find(|o| *o == typed).ok_or_else(|| {
                FieldError::new(
                    "outcome",
                    "Show rows to create, update, unchanged or refused.",
                )
            })),
        };
        errors.finish(|| Some(ImportView { id, outcome, after }))
    }
}
