//! Test support for the parsers of outside input (amounts, notes, currencies, dates,
//! filters, forms, API bodies): what a clear message is, and what people and programs may
//! type (docs/console.md, "Parameters"; docs/api.md, "Requests").

use proptest::prelude::*;

use crate::forms::{FieldErrors, FORM};

/// Text that only Rust's debug formatting or a leaked internal error would put in a message,
/// each with the character a person would have to type for a message quoting them to hold it.
const NOISE: [(&str, char); 16] = [
    ("Err(", '('),
    ("Ok(", '('),
    ("Some(", '('),
    ("None", 'N'),
    ("{:?}", '{'),
    ("\\u{", '\\'),
    ("\\\"", '\\'),
    ("\\n", '\\'),
    ("\\t", '\\'),
    ("\\0", '\\'),
    ("Error {", '{'),
    ("::", ':'),
    ("i64", '6'),
    ("u64", '6'),
    ("i32", '3'),
    ("u32", '3'),
];

/// Why `message`, the answer to `typed`, is not a clear message for a person; none when it
/// is: not empty, bounded, no control or invisible character, no debug noise (unless the
/// person typed what could make it).
pub fn unclear(message: &str, typed: &str) -> Option<String> {
    if message.trim().is_empty() {
        return Some("an empty message".into());
    }
    if message.chars().count() > 400 {
        return Some(format!(
            "a message of {} characters",
            message.chars().count()
        ));
    }
    if let Some(character) = crate::domain::forbidden_character(message, false) {
        return Some(format!("{character} in {message}"));
    }
    NOISE
        .iter()
        .find(|(noise, typed_as)| message.contains(noise) && !typed.contains(*typed_as))
        .map(|(noise, _)| format!("{noise} in {message}"))
}

/// Why a form's or filter's refusal is not clear: no message at all, a message for a field
/// that is not one of `fields`, or an unclear message.
pub fn unclear_errors(errors: &FieldErrors, fields: &[&str], typed: &str) -> Option<String> {
    if errors.is_empty() {
        return Some("refused without a message".into());
    }
    errors.iter().find_map(|error| {
        if error.field != FORM && !fields.contains(&error.field) {
            return Some(format!("a message for the unknown field {}", error.field));
        }
        unclear(&error.message, typed).map(|why| format!("{}: {why}", error.field))
    })
}

/// One value as people type it: words of the product's vocabularies, numbers near and far
/// outside every range, dates real and impossible, and any text at all.
pub fn typed_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(&[
            "EUR",
            "usd",
            "JPY",
            "XXX",
            "asc",
            "desc",
            "-balance",
            "updated",
            "admin_added",
            "goodwill",
            "change",
            "set",
            "true",
            "on",
            "false",
            "20",
            "100",
            "0",
            "-0",
            "+5",
            "2026-02-30",
            "2026-11-01",
            "9999-12-31",
            "0000-01-01",
            "1e3",
            "0.25",
            "1.00001",
            "9223372036854775808",
            "-9223372036854775809",
            "1000000000001",
            " 7 ",
        ])
        .prop_map(str::to_owned),
        "[-+ ]?[0-9]{1,25}",
        "[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}",
        "[0-9.,+\\- eE]{0,16}",
        "\\PC{0,40}",
        "(?s).{0,24}",
    ]
}

/// A query string or form body of `keys` (and strangers), encoded as a browser would, or
/// raw bytes of the grammar that are not.
pub fn query(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_owned),
        1 => "[a-z_\\[\\]]{1,10}",
    ];
    prop_oneof![
        4 => prop::collection::vec((key, typed_value()), 0..8)
            .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap_or_default()),
        1 => "[a-z_=&%+;0-9A-F\\[\\]]{0,60}",
    ]
}

/// What a person typed into a query string or form body: its keys and values decoded.
pub fn decoded(query: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map(|pairs| {
            pairs
                .into_iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join("&")
        })
        .unwrap_or_else(|_| query.to_owned())
}
