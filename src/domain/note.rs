//! The note that explains a balance change: never empty, kept for ever in the ledger.

use std::fmt;

use super::text::{forbidden_character, normalize_line_breaks, ForbiddenCharacter};

/// 1 to 250 Unicode characters after trimming; line breaks kept as `\n`; nothing that
/// [`forbidden_character`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

pub const MAX_NOTE_CHARS: usize = 250;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("Enter a note saying why the balance changes.")]
    Empty,
    #[error("The note is {0} characters long: keep it to 250.")]
    TooLong(usize),
    #[error("The note contains {0}. Remove it and use plain text and line breaks.")]
    Forbidden(ForbiddenCharacter),
}

impl Note {
    pub fn parse(input: &str) -> Result<Self, NoteError> {
        let normalized = normalize_line_breaks(input);
        let text = normalized.trim();
        if text.is_empty() {
            return Err(NoteError::Empty);
        }
        if let Some(character) = forbidden_character(text, true) {
            return Err(NoteError::Forbidden(character));
        }
        let length = text.chars().count();
        if length > MAX_NOTE_CHARS {
            return Err(NoteError::TooLong(length));
        }
        Ok(Note(text.to_owned()))
    }

    /// A note written by the system itself, such as `Refund of INV-1`; cut to the limit.
    pub fn generated(text: &str) -> Note {
        Note::parse(text).unwrap_or_else(|_| {
            let clean: String = text
                .chars()
                .map(|c| {
                    let mut one = [0u8; 4];
                    if c == '\n' || forbidden_character(c.encode_utf8(&mut one), false).is_none() {
                        c
                    } else {
                        ' '
                    }
                })
                .take(MAX_NOTE_CHARS)
                .collect();
            Note(if clean.trim().is_empty() {
                "System change".to_owned()
            } else {
                clean.trim().to_owned()
            })
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_and_checks() {
        assert_eq!(Note::parse("  goodwill  ").unwrap().as_str(), "goodwill");
        assert_eq!(Note::parse("a\r\nb").unwrap().as_str(), "a\nb");
        assert_eq!(
            Note::parse("Ünïcödé ✓ 日本").unwrap().as_str(),
            "Ünïcödé ✓ 日本"
        );
        assert_eq!(Note::parse(""), Err(NoteError::Empty));
        assert_eq!(Note::parse(" \n\t "), Err(NoteError::Empty));
        assert_eq!(
            Note::parse("a\tb"),
            Err(NoteError::Forbidden(ForbiddenCharacter::Control(9)))
        );
        for bad in [
            "a\u{0}b",
            "a\u{1b}b",
            "a\rb",
            "a\u{202E}b",
            "a\u{2066}b",
            "a\u{2029}b",
        ] {
            assert!(
                matches!(Note::parse(bad), Err(NoteError::Forbidden(_))),
                "{bad:?}"
            );
        }
        assert!(Note::parse("family 👩‍👩‍👧 ok").is_ok());
        assert!(Note::parse(&"é".repeat(250)).is_ok());
        assert_eq!(Note::parse(&"é".repeat(251)), Err(NoteError::TooLong(251)));
    }

    #[test]
    fn generated_notes_are_never_empty() {
        assert_eq!(
            Note::generated("Refund of INV-1").as_str(),
            "Refund of INV-1"
        );
        assert_eq!(Note::generated("").as_str(), "System change");
        assert_eq!(Note::generated(&"x".repeat(300)).as_str().len(), 250);
        assert_eq!(
            Note::generated("Refund of \u{202E}INV-1").as_str(),
            "Refund of  INV-1"
        );
    }

    proptest! {
        #[test]
        fn accepted_notes_keep_the_rules(input in "\\PC{0,300}") {
            if let Ok(note) = Note::parse(&input) {
                let text = note.as_str();
                prop_assert!(!text.is_empty() && text.chars().count() <= 250);
                prop_assert!(!text.contains('\r'));
                prop_assert!(forbidden_character(text, true).is_none());
                prop_assert_eq!(text.trim(), text);
            }
        }
    }
}

/// Anything typed as a note: no panic, and every refusal a clear message.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{typed_value, unclear};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn refusals_are_clear(input in prop_oneof![typed_value(), "(?s).{0,300}", "\\PC{240,260}"]) {
            if let Err(error) = Note::parse(&input) {
                prop_assert_eq!(unclear(&error.to_string(), &input), None);
            }
        }
    }
}
