//! The two forms of `/users/import`, both multipart: check a file, or apply a checked one
//! (docs/import.md).

use actix_multipart::form::bytes::Bytes;
use actix_multipart::form::text::Text;
use actix_multipart::form::MultipartForm;

use super::{FieldError, FieldErrors};
use crate::import::FileError;

/// The fields as sent; the CSRF token is the guard's.
#[derive(Debug, MultipartForm)]
pub struct ImportFields {
    pub action: Option<Text<String>>,
    pub file: Option<Bytes>,
    pub import_id: Option<Text<String>>,
    pub skip_refused: Option<Text<String>>,
}

/// What the owner asked for.
#[derive(Debug)]
pub enum ImportCommand {
    /// Read, plan and keep this file: the dry run.
    Check {
        file_name: String,
        bytes: actix_web::web::Bytes,
    },
    /// Apply the checked import `id`, skipping its refused rows when asked.
    Apply { id: i64, skip_refused: bool },
}

impl ImportFields {
    pub fn parse(self) -> Result<ImportCommand, FieldErrors> {
        let text = |field: &Option<Text<String>>| {
            field
                .as_ref()
                .map(|t| t.as_str().trim().to_owned())
                .unwrap_or_default()
        };
        match text(&self.action).as_str() {
            "apply" => {
                let id = text(&self.import_id)
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| {
                        FieldError::new("import_id", "Choose a checked file to apply.")
                    })?;
                let skip_refused = matches!(text(&self.skip_refused).as_str(), "true" | "on");
                Ok(ImportCommand::Apply { id, skip_refused })
            }
            "" | "check" => match self.file {
                Some(file) if !file.data.is_empty() => Ok(ImportCommand::Check {
                    file_name: file.file_name.unwrap_or_default(),
                    bytes: file.data,
                }),
                _ => Err(FieldError::new("file", FileError::Missing).into()),
            },
            _ => Err(FieldError::new("action", "Check a file, or apply a checked one.").into()),
        }
    }
}
