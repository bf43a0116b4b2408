//! Changing one's own password (`POST /account/password`).

use serde::Deserialize;

use super::{FieldError, FieldErrors};
use crate::forms::login::MAX_PASSWORD_CHARS;
use crate::passwords::check_new_password;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PasswordFields {
    pub current_password: String,
    pub new_password: String,
    pub confirm_password: String,
}

/// A checked change: the current password still has to match.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

impl PasswordFields {
    pub fn parse(&self) -> Result<PasswordChange, FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.current_password.is_empty() {
            errors.push(FieldError::new(
                "current_password",
                "Enter your current password.",
            ));
        }
        if let Err(error) = check_new_password(&self.new_password) {
            errors.push(FieldError::new("new_password", error));
        } else if self.new_password.chars().count() > MAX_PASSWORD_CHARS {
            errors.push(FieldError::new(
                "new_password",
                "Keep the password to 1,024 characters at most.",
            ));
        } else if self.new_password != self.confirm_password {
            errors.push(FieldError::new(
                "confirm_password",
                "The two new passwords differ.",
            ));
        }
        errors.finish(|| {
            Some(PasswordChange {
                current: self.current_password.clone(),
                new: self.new_password.clone(),
            })
        })
    }
}
