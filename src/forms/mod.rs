//! The edge for POST bodies: each form as the browser sends it, and its `parse`, which
//! returns the checked command or every field's message in the words a billing admin reads
//! (docs/console.md lists the forms). Handlers never look at a raw field.

pub mod adjustment;
pub mod admins;
pub mod api_keys;
pub mod customer;
pub mod import;
pub mod login;
pub mod password;
pub mod settings;
pub mod usage;

use std::fmt;

/// The field a message belongs to when it is about the whole form.
pub const FORM: &str = "form";

/// What is wrong with one field (or, with [`FORM`], with the whole form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl fmt::Display) -> FieldError {
        FieldError {
            field,
            message: message.to_string(),
        }
    }
}

/// Every message of a form, gathered while its fields are parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The value, or none with its message kept.
    pub fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed.map_err(|error| self.0.push(error)).ok()
    }

    /// The value of an optional field, or its default with the message kept.
    pub fn take<T: Default>(&mut self, parsed: Result<T, FieldError>) -> T {
        self.check(parsed).unwrap_or_default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// The checked value when no field had a message. `build` gives none only when a
    /// required field failed, which has left its message here.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, FieldErrors> {
        match build() {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self),
        }
    }

    /// The message of one field.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Every message in one sentence, for an answer that has no form to show them on.
    pub fn sentence(&self) -> String {
        let messages: Vec<&str> = self.0.iter().map(|e| e.message.as_str()).collect();
        messages.join(" ")
    }
}

impl From<FieldError> for FieldErrors {
    fn from(error: FieldError) -> Self {
        FieldErrors(vec![error])
    }
}

/// A short text people type and others read (a name): trimmed, 1 to `max_chars`
/// characters, nothing invisible or control (docs/console.md, "Text people type").
pub fn plain_text(field: &'static str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(FieldError::new(field, "Enter a name."));
    }
    if let Some(character) = crate::domain::forbidden_character(text, false) {
        return Err(FieldError::new(
            field,
            format!("The name contains {character}."),
        ));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("Keep the name to {max_chars} characters."),
        ));
    }
    Ok(text.to_owned())
}
