//! Email addresses of customers and admins, compared case-insensitively.

use std::fmt;

use super::forbidden_character;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Enter an email address like name@example.com.")]
pub struct EmailError;

impl Email {
    /// A deliberately loose check: one `@` with text on both sides, a dot in the domain, no
    /// spaces or control characters, at most 254 characters.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let email = input.trim();
        let (local, domain) = email.split_once('@').ok_or(EmailError)?;
        let valid = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && forbidden_character(email, false).is_none();
        if valid {
            Ok(Email(email.to_owned()))
        } else {
            Err(EmailError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and look-ups.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_emails() {
        assert_eq!(
            Email::parse(" Ann@Example.com ").unwrap().normalized(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
            "ann@.com",
            "ann\u{202E}@example.com",
            "ann\u{0}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}

/// Anything typed as an email: no panic, accepted ones keep the rules, every refusal a clear
/// message.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{typed_value, unclear};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn refusals_are_clear(input in prop_oneof![typed_value(), "\\PC{0,8}@\\PC{0,8}\\.?\\PC{0,4}"]) {
            match Email::parse(&input) {
                Ok(email) => {
                    prop_assert!(email.as_str().contains('@') && email.as_str().len() <= 254);
                    prop_assert!(!email.as_str().chars().any(|c| c.is_whitespace() || c.is_control()));
                }
                Err(error) => prop_assert_eq!(unclear(&error.to_string(), &input), None),
            }
        }
    }
}
