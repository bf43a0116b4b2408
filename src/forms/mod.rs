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
pub mod webhooks;

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

/// Every form against anything a browser (or a script) can post: no panic, and every
/// refusal a clear message beside one of the form's fields.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{decoded, query, unclear_errors};
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;

    /// Why the refusal of the body `typed`, read as `T` and checked by `check`, is not clear.
    /// A body the form cannot be read from at all is the extractor's answer, not the form's.
    fn unclear_refusal<T: DeserializeOwned, U>(
        typed: &str,
        fields: &[&str],
        check: impl Fn(&T) -> Result<U, FieldErrors>,
    ) -> Option<String> {
        let raw: T = serde_urlencoded::from_str(typed).ok()?;
        check(&raw)
            .err()
            .and_then(|errors| unclear_errors(&errors, fields, &decoded(typed)))
    }

    const ADJUSTMENT: &[&str] = &[
        "currency",
        "mode",
        "amount",
        "note",
        "reason",
        "expires_at",
        "expected_version",
    ];
    const NEW_ADMIN: &[&str] = &["email", "name", "role"];
    const ADMIN_CHANGE: &[&str] = &["action", "role"];
    const CUSTOMER: &[&str] = &["email", "external_id", "first_name", "last_name", "country"];
    const PASSWORD: &[&str] = &["current_password", "new_password", "confirm_password"];
    const SETTINGS: &[&str] = &[
        "currency",
        "enabled",
        "exchange_rate",
        "allow_with_discount_code",
        "auto_apply_next_invoice",
        "preview_default_used",
        "low_balance_threshold",
        "expiring_notice_days",
        "action",
    ];
    const USAGE: &[&str] = &["currency", "enabled"];
    const API_KEY: &[&str] = &["name"];
    const NEW_WEBHOOK: &[&str] = &["url", "events", "description"];
    const WEBHOOK_ACTION: &[&str] = &["action"];
    const WEBHOOK_REPLAY: &[&str] = &["since"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn adjustment(typed in query(ADJUSTMENT)) {
            prop_assert_eq!(unclear_refusal(&typed, ADJUSTMENT, |f: &adjustment::AdjustmentFields| f.parse(time::macros::date!(2026 - 11 - 28))), None);
        }

        #[test]
        fn admins(new in query(NEW_ADMIN), change in query(ADMIN_CHANGE)) {
            prop_assert_eq!(unclear_refusal(&new, NEW_ADMIN, admins::NewAdminFields::parse), None);
            prop_assert_eq!(unclear_refusal(&change, ADMIN_CHANGE, admins::AdminChangeFields::parse), None);
        }

        #[test]
        fn customer(typed in query(CUSTOMER)) {
            // The fields of the API's body and the import's rows, read here from pairs.
            let check = |pairs: &std::collections::HashMap<String, String>| {
                let field = |name: &str| pairs.get(name).cloned().unwrap_or_default();
                customer::CustomerFields {
                    email: field("email"),
                    external_id: field("external_id"),
                    first_name: field("first_name"),
                    last_name: field("last_name"),
                    country: field("country"),
                }
                .parse()
            };
            prop_assert_eq!(unclear_refusal(&typed, CUSTOMER, check), None);
        }

        #[test]
        fn password(typed in query(PASSWORD)) {
            prop_assert_eq!(unclear_refusal(&typed, PASSWORD, password::PasswordFields::parse), None);
        }

        #[test]
        fn settings(typed in query(SETTINGS)) {
            prop_assert_eq!(unclear_refusal(&typed, SETTINGS, settings::SettingsFields::parse), None);
        }

        #[test]
        fn usage_and_api_key(usage in query(USAGE), key in query(API_KEY)) {
            prop_assert_eq!(unclear_refusal(&usage, USAGE, usage::UsageFields::parse), None);
            prop_assert_eq!(unclear_refusal(&key, API_KEY, api_keys::NewKeyFields::parse), None);
        }

        #[test]
        fn webhooks(new in query(NEW_WEBHOOK), action in query(WEBHOOK_ACTION), replay in query(WEBHOOK_REPLAY), insecure in any::<bool>()) {
            // `events` repeats: the add form is read as the console reads it (serde_html_form).
            let refused = serde_html_form::from_str::<webhooks::NewEndpointFields>(&new)
                .ok()
                .and_then(|fields| fields.parse(insecure).err())
                .and_then(|errors| unclear_errors(&errors, NEW_WEBHOOK, &decoded(&new)));
            prop_assert_eq!(refused, None);
            prop_assert_eq!(unclear_refusal(&action, WEBHOOK_ACTION, webhooks::EndpointActionFields::parse), None);
            let now = time::macros::datetime!(2026-12-02 10:00);
            prop_assert_eq!(unclear_refusal(&replay, WEBHOOK_REPLAY, |f: &webhooks::ReplayFields| f.parse(now)), None);
        }
    }
}
