//! A customer as the API (`POST /api/v1/users`) sends it: the email, and optionally the
//! merchant's own id, the name and the country (docs/concepts.md, "Customers").

use std::str::FromStr;

use super::{FieldError, FieldErrors};
use crate::domain::{forbidden_character, Email};
use crate::store::customers::NewCustomer;

/// The fields as sent; absent ones are empty.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub email: String,
    pub external_id: String,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
}

impl CustomerFields {
    pub fn parse(&self) -> Result<NewCustomer, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email =
            errors.check(Email::parse(&self.email).map_err(|e| FieldError::new("email", e)));
        let external_id = errors.take(optional_text("external_id", &self.external_id, 255));
        let first_name = errors.take(optional_text("first_name", &self.first_name, 100));
        let last_name = errors.take(optional_text("last_name", &self.last_name, 100));
        let country = errors.take(country(&self.country));
        errors.finish(|| {
            Some(NewCustomer {
                email: email?,
                external_id,
                first_name: first_name.unwrap_or_default(),
                last_name: last_name.unwrap_or_default(),
                country,
            })
        })
    }
}

/// Trimmed text of at most `max_chars` characters with nothing invisible in it; none when
/// empty.
fn optional_text(
    field: &'static str,
    raw: &str,
    max_chars: usize,
) -> Result<Option<String>, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(character) = forbidden_character(text, false) {
        return Err(FieldError::new(
            field,
            format!("The text contains {character}."),
        ));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("Keep it to {max_chars} characters."),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// An ISO 3166-1 alpha-2 code (`DE`, `us` is read as `US`); none when empty.
fn country(raw: &str) -> Result<Option<String>, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    if code.len() == 2 && iso_currency::Country::from_str(&code).is_ok() {
        Ok(Some(code))
    } else {
        Err(FieldError::new(
            "country",
            "Give the country as an ISO 3166 two-letter code, like DE or US.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(email: &str, country: &str) -> CustomerFields {
        CustomerFields {
            email: email.into(),
            country: country.into(),
            ..CustomerFields::default()
        }
    }

    #[test]
    fn parses_a_customer() {
        let customer = CustomerFields {
            external_id: " cus_1 ".into(),
            first_name: "Ann".into(),
            ..with("Ann@Example.com", "de")
        }
        .parse()
        .unwrap();
        assert_eq!(customer.email.as_str(), "Ann@Example.com");
        assert_eq!(customer.external_id.as_deref(), Some("cus_1"));
        assert_eq!(customer.country.as_deref(), Some("DE"));
        assert_eq!(customer.last_name, "");
    }

    #[test]
    fn names_every_bad_field() {
        let errors = CustomerFields {
            external_id: "a\u{202e}b".into(),
            first_name: "x".repeat(101),
            ..with("not an email", "XX")
        }
        .parse()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "external_id", "first_name", "country"]);
        for bad in ["D", "DEU", "ZZ", "1A", "ÄÖ"] {
            assert!(with("a@b.co", bad).parse().is_err(), "{bad}");
        }
    }
}
