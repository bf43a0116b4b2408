//! One line of a customer file: its cells by column, and their checks (docs/import.md,
//! "Rows"). The customer's fields are checked as the API checks them.

use time::Date;

use crate::domain::{parse_amount, parse_expiry, AmountError, Change, CurrencyCode, Mode};
use crate::forms::customer::CustomerFields;
use crate::forms::FieldErrors;
use crate::store::customers::NewCustomer;

use super::file::Column;

/// A line's cells, as typed.
#[derive(Debug, Clone, Default)]
pub struct RowFields {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub customer: CustomerFields,
    /// `(currency, cell)` for each `credits_<CUR>` column.
    pub credits: Vec<(CurrencyCode, String)>,
    /// `(currency, cell)` for each `expires_<CUR>` column.
    pub expires: Vec<(CurrencyCode, String)>,
    /// How many cells the line has against the header's count, when they differ.
    pub width: Option<(usize, usize)>,
}

/// What is wrong with one cell of a row (or, with the field `line`, with the whole line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub field: String,
    pub message: String,
}

impl CellError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> CellError {
        CellError {
            field: field.into(),
            message: message.into(),
        }
    }

    fn all(errors: &FieldErrors) -> Vec<CellError> {
        errors
            .iter()
            .map(|e| CellError::new(e.field, e.message.clone()))
            .collect()
    }
}

/// A row whose every cell is fine.
#[derive(Debug, Clone)]
pub struct CheckedRow {
    pub line: u64,
    pub customer: NewCustomer,
    /// Opening balances above 0, by currency, with when they expire.
    pub credits: Vec<(CurrencyCode, i64, Option<Date>)>,
}

impl RowFields {
    pub fn from_record(line: u64, columns: &[Column], record: &csv::StringRecord) -> RowFields {
        let mut row = RowFields {
            line,
            ..RowFields::default()
        };
        if record.len() != columns.len() {
            row.width = Some((record.len(), columns.len()));
        }
        for (column, cell) in columns.iter().zip(record.iter()) {
            let cell = cell.to_owned();
            match column {
                Column::ExternalId => row.customer.external_id = cell,
                Column::Email => row.customer.email = cell,
                Column::FirstName => row.customer.first_name = cell,
                Column::LastName => row.customer.last_name = cell,
                Column::Country => row.customer.country = cell,
                Column::Credits(code) => row.credits.push((*code, cell)),
                Column::Expires(code) => row.expires.push((*code, cell)),
            }
        }
        row
    }

    /// The checked row, or every cell's message; expiry dates as of `today` (UTC).
    pub fn check(&self, today: Date) -> Result<CheckedRow, Vec<CellError>> {
        if let Some((found, expected)) = self.width {
            return Err(vec![CellError::new(
                "line",
                format!("This line has {found} cells; the header has {expected}."),
            )]);
        }
        let customer = self.customer.parse();
        let mut errors = customer
            .as_ref()
            .err()
            .map(CellError::all)
            .unwrap_or_default();
        let mut credits = Vec::new();
        for (code, cell) in &self.credits {
            let expires = self.expires.iter().find(|(c, _)| c == code);
            let expires_at = match expires.map(|(_, cell)| parse_expiry(cell, today)) {
                None | Some(Ok(None)) => None,
                Some(Ok(day)) => day,
                Some(Err(error)) => {
                    errors.push(CellError::new(format!("expires_{code}"), error.to_string()));
                    None
                }
            };
            match opening_balance(cell) {
                Ok(0) if expires_at.is_some() => errors.push(CellError::new(
                    format!("expires_{code}"),
                    format!("An expiry date needs an opening balance in credits_{code}."),
                )),
                Ok(0) => {}
                Ok(amount) => credits.push((*code, amount, expires_at)),
                Err(message) => errors.push(CellError::new(format!("credits_{code}"), message)),
            }
        }
        for (code, cell) in &self.expires {
            let paired = self.credits.iter().any(|(c, _)| c == code);
            if !paired && !cell.trim().is_empty() {
                errors.push(CellError::new(
                    format!("expires_{code}"),
                    format!(
                        "An expiry date needs an opening balance: add a credits_{code} column."
                    ),
                ));
            }
        }
        match customer {
            Ok(customer) if errors.is_empty() => Ok(CheckedRow {
                line: self.line,
                customer,
                credits,
            }),
            _ => Err(errors),
        }
    }
}

/// An opening balance: empty is none (0), else a whole number of credits from 0 to 10^12.
fn opening_balance(cell: &str) -> Result<i64, String> {
    if cell.trim().is_empty() {
        return Ok(0);
    }
    match parse_amount(cell, Mode::Set) {
        Ok(Change::SetTo(credits)) => Ok(credits),
        Ok(Change::By(_)) => Err(AmountError::NotWholeNumber.to_string()),
        Err(AmountError::Negative) => Err("An opening balance cannot be negative.".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(email: &str, credits: &str) -> RowFields {
        RowFields {
            line: 7,
            customer: CustomerFields {
                email: email.into(),
                ..CustomerFields::default()
            },
            credits: vec![(CurrencyCode::parse("EUR").unwrap(), credits.into())],
            expires: Vec::new(),
            width: None,
        }
    }

    const TODAY: Date = time::macros::date!(2026 - 11 - 28);

    #[test]
    fn opening_balances() {
        assert_eq!(row("a@b.co", "").check(TODAY).unwrap().credits, []);
        assert_eq!(row("a@b.co", " 0 ").check(TODAY).unwrap().credits, []);
        let eur = CurrencyCode::parse("EUR").unwrap();
        assert_eq!(
            row("a@b.co", "+1000000000000")
                .check(TODAY)
                .unwrap()
                .credits,
            [(eur, 1_000_000_000_000, None)]
        );
        for bad in ["-5", "1.5", "1e3", "1000000000001", "=1+1", "٣"] {
            let errors = row("a@b.co", bad).check(TODAY).unwrap_err();
            assert_eq!(errors[0].field, "credits_EUR", "{bad}");
        }
    }

    #[test]
    fn expiry_dates_of_opening_balances() {
        let eur = CurrencyCode::parse("EUR").unwrap();
        let with = |credits: &str, expires: &str| {
            let mut fields = row("a@b.co", credits);
            fields.expires = vec![(eur, expires.into())];
            fields.check(TODAY)
        };
        let day = time::macros::date!(2026 - 12 - 31);
        assert_eq!(
            with("5", "2026-12-31").unwrap().credits,
            [(eur, 5, Some(day))]
        );
        assert_eq!(with("5", " ").unwrap().credits, [(eur, 5, None)]);
        assert_eq!(with("", "").unwrap().credits, []);
        for (credits, expires) in [
            ("5", "2026-11-27"),
            ("5", "31/12/2026"),
            ("5", "2040-01-01"),
            ("", "2026-12-31"),
            ("0", "2026-12-31"),
        ] {
            let errors = with(credits, expires).unwrap_err();
            assert_eq!(errors[0].field, "expires_EUR", "{credits} {expires}");
        }
        let mut alone = row("a@b.co", "5");
        alone.credits.clear();
        alone.expires = vec![(eur, "2026-12-31".into())];
        assert_eq!(alone.check(TODAY).unwrap_err()[0].field, "expires_EUR");
    }

    #[test]
    fn a_short_line_is_refused_whole() {
        let mut short = row("a@b.co", "1");
        short.width = Some((2, 3));
        let errors = short.check(TODAY).unwrap_err();
        assert_eq!(
            errors,
            [CellError::new(
                "line",
                "This line has 2 cells; the header has 3."
            )]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever the cells hold, checking a row never panics, and a refusal names a
        /// field with a sentence.
        #[test]
        fn any_row_is_checked_or_refused_with_a_message(
            email in "\\PC{0,40}|[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}",
            external_id in "\\PC{0,20}|[\\x00-\\x1f=+@-]{0,5}",
            name in "\\PC{0,30}",
            country in "\\PC{0,3}|[A-Za-z]{2}",
            credits in "\\PC{0,15}|[+-]?[0-9]{0,14}",
            expires in "\\PC{0,12}|20[2-4][0-9]-[01][0-9]-[0-3][0-9]",
        ) {
            let fields = RowFields {
                line: 2,
                customer: CustomerFields {
                    email,
                    external_id,
                    first_name: name.clone(),
                    last_name: name,
                    country,
                },
                credits: vec![(CurrencyCode::parse("JPY").unwrap(), credits)],
                expires: vec![(CurrencyCode::parse("JPY").unwrap(), expires)],
                width: None,
            };
            match fields.check(TODAY) {
                Ok(row) => {
                    for (_, credits, _) in row.credits {
                        prop_assert!((1..=1_000_000_000_000).contains(&credits));
                    }
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for error in &errors {
                        prop_assert!(!error.field.is_empty());
                        prop_assert!(error.message.ends_with('.'), "{}", error.message);
                        prop_assert!(!error.message.contains("Err("));
                    }
                }
            }
        }
    }
}
