//! The sign-in form (`POST /login`).

use serde::Deserialize;

use crate::auth::constant_time_eq;
use crate::auth::sign_in::Credentials;
use crate::domain::{without_controls, Email};
use crate::error::AppError;

/// Longer passwords are refused before they are hashed: argon2 over megabytes would let
/// anyone keep the server busy.
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LoginFields {
    pub email: String,
    pub password: String,
    pub csrf_token: String,
    pub next: Option<String>,
}

impl LoginFields {
    /// The form came from our own login page: its token matches the browser's cookie.
    pub fn check_csrf(&self, cookie_token: Option<&str>) -> Result<(), AppError> {
        match cookie_token {
            Some(token) if constant_time_eq(token, &self.csrf_token) => Ok(()),
            _ => Err(AppError::Csrf),
        }
    }

    /// What may be checked against the admins: refused with a message, before anything is
    /// hashed or written, when it cannot be a real email or password.
    pub fn credentials(&self) -> Result<Credentials, &'static str> {
        let email = Email::parse(&self.email)
            .map_err(|_| "Enter the email address you sign in with, like name@example.com.")?;
        if self.password.is_empty() {
            return Err("Enter your password.");
        }
        if self.password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(
                "That password is longer than any the console accepts (1,024 characters at most).",
            );
        }
        Ok(Credentials {
            email: email.normalized(),
            password: self.password.clone(),
        })
    }

    /// The email as typed, fit to fill the form in again.
    pub fn email_as_typed(&self) -> String {
        without_controls(self.email.trim(), 254)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(email: &str, password: &str) -> LoginFields {
        LoginFields {
            email: email.into(),
            password: password.into(),
            ..LoginFields::default()
        }
    }

    #[test]
    fn bounds_what_reaches_the_password_check() {
        let ok = form(" Owner@Example.com ", "secret").credentials().unwrap();
        assert_eq!(ok.email, "owner@example.com");
        for (email, password) in [
            (
                format!("{}@example.com", "a".repeat(250)),
                "secret".to_owned(),
            ),
            ("owner".to_owned(), "secret".to_owned()),
            ("owner\u{0}@example.com".to_owned(), "secret".to_owned()),
            ("owner@example.com".to_owned(), String::new()),
            ("owner@example.com".to_owned(), "p".repeat(1025)),
        ] {
            assert!(
                form(&email, &password).credentials().is_err(),
                "{email:.20} {password:.20}"
            );
        }
        assert!(form("owner@example.com", &"é".repeat(1024))
            .credentials()
            .is_ok());
    }

    #[test]
    fn the_token_must_match_the_cookie() {
        let mut fields = form("a@b.c", "x");
        fields.csrf_token = "abc".into();
        assert!(fields.check_csrf(Some("abc")).is_ok());
        assert!(fields.check_csrf(Some("abd")).is_err());
        assert!(fields.check_csrf(None).is_err());
    }
}
