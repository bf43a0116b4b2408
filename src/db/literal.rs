//! Values written into SQL text, for the one statement that cannot take bind parameters:
//! PostgreSQL's `COPY (SELECT …) TO STDOUT` (the promo credit export, docs/exports.md).
//! Everything else binds its values.
//!
//! A text becomes a standard SQL string literal, `'…'` with each `'` doubled and nothing
//! else changed. That is the whole of the quoting on SQLite, and on PostgreSQL as long as
//! `standard_conforming_strings` is on (then a backslash is an ordinary character); every
//! connection sets it ([`super::POSTGRES_SETTINGS`]), so a literal cannot depend on how the
//! server is configured. Numbers and times are written by Rust's own formatting of typed
//! values, never from text.

use time::PrimitiveDateTime;

use super::Backend;

/// A text that cannot be a literal: neither database keeps a NUL character in a text (the
/// filters refuse control characters long before this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a text with a NUL character cannot be written into SQL")]
pub struct NulInText;

/// `'O''Brien\INV'` for `O'Brien\INV`.
pub fn text(value: &str) -> Result<String, NulInText> {
    if value.contains('\0') {
        return Err(NulInText);
    }
    let mut literal = String::with_capacity(value.len() + 2);
    literal.push('\'');
    for c in value.chars() {
        if c == '\'' {
            literal.push('\'');
        }
        literal.push(c);
    }
    literal.push('\'');
    Ok(literal)
}

/// A time compared with a `TIMESTAMP` column. SQLite keeps times as text and compares them
/// as text, so the literal is exactly the text diesel writes for the same value there
/// (whole seconds without a fraction, else the fraction without trailing zeros); PostgreSQL
/// gets a typed `TIMESTAMP '…'`.
pub fn timestamp(backend: Backend, at: PrimitiveDateTime) -> String {
    let whole = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let fraction = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"
    );
    let format = if at.nanosecond() == 0 {
        whole
    } else {
        fraction
    };
    let text = at.format(format).unwrap_or_else(|_| at.to_string());
    match backend {
        Backend::Sqlite => format!("'{text}'"),
        Backend::Postgres => format!("TIMESTAMP '{text}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn texts_double_their_quotes_and_nothing_else() {
        assert_eq!(text("INV-1").unwrap(), "'INV-1'");
        assert_eq!(text("").unwrap(), "''");
        assert_eq!(text("O'Brien").unwrap(), "'O''Brien'");
        assert_eq!(text("''").unwrap(), "''''''");
        assert_eq!(text("a\\'b").unwrap(), "'a\\''b'");
        assert_eq!(text("\\").unwrap(), "'\\'");
        assert_eq!(text("=\"x\",\n\r\tü東").unwrap(), "'=\"x\",\n\r\tü東'");
        assert_eq!(text("a\0b"), Err(NulInText));
    }

    #[test]
    fn times_are_written_as_diesel_stores_them() {
        let midnight = datetime!(2026-11-01 00:00:00);
        assert_eq!(
            timestamp(Backend::Sqlite, midnight),
            "'2026-11-01 00:00:00'"
        );
        assert_eq!(
            timestamp(Backend::Postgres, midnight),
            "TIMESTAMP '2026-11-01 00:00:00'"
        );
        assert_eq!(
            timestamp(Backend::Sqlite, datetime!(2026-11-01 09:30:00.5)),
            "'2026-11-01 09:30:00.5'"
        );
        assert_eq!(
            timestamp(Backend::Sqlite, datetime!(2026-11-01 09:30:00.000001)),
            "'2026-11-01 09:30:00.000001'"
        );
    }
}
