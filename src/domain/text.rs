//! What people may type into text that others will read later (notes, names): no control
//! characters, and none of the invisible characters that change how the text around them is
//! displayed (docs/console.md, "Text people type").

/// Unicode's Bidi_Control characters: embeddings, overrides, isolates and marks. Invisible,
/// they can make `refund 54321` display as `refund 12345` in HTML, a spreadsheet or a log.
const BIDI_CONTROLS: [(char, &str); 12] = [
    ('\u{061C}', "ARABIC LETTER MARK"),
    ('\u{200E}', "LEFT-TO-RIGHT MARK"),
    ('\u{200F}', "RIGHT-TO-LEFT MARK"),
    ('\u{202A}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202B}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202C}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202D}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
];

/// A character that plain text may not hold, named so a person can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenCharacter {
    #[error("an invisible direction control (U+{code:04X} {name}) that can make text display in the wrong order")]
    DirectionControl { code: u32, name: &'static str },
    #[error("a carriage return that is not part of a line break")]
    LoneCarriageReturn,
    #[error("an invisible control character (U+{0:04X})")]
    Control(u32),
    #[error("a line or paragraph separator (U+{0:04X}); use an ordinary line break")]
    Separator(u32),
}

/// The first character of `text` that plain text may not hold; `\n` is allowed only when
/// `line_breaks` is. Zero-width joiners and variation selectors are fine: emoji need them.
pub fn forbidden_character(text: &str, line_breaks: bool) -> Option<ForbiddenCharacter> {
    text.chars().find_map(|c| match c {
        '\n' if line_breaks => None,
        '\r' => Some(ForbiddenCharacter::LoneCarriageReturn),
        '\u{2028}' | '\u{2029}' => Some(ForbiddenCharacter::Separator(c as u32)),
        c if c.is_control() => Some(ForbiddenCharacter::Control(c as u32)),
        c => BIDI_CONTROLS
            .iter()
            .find(|(control, _)| *control == c)
            .map(|(control, name)| ForbiddenCharacter::DirectionControl {
                code: *control as u32,
                name,
            }),
    })
}

/// Line breaks as people send them (`\r\n` from browsers) stored as `\n`. A lone `\r` stays,
/// for [`forbidden_character`] to refuse.
pub fn normalize_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// `text` without its control characters, cut to `max_chars`: what was typed, fit to show
/// again in a page or a message.
pub fn without_controls(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

/// Typed text quoted in a message: invisible and control characters left out, at most 40
/// characters (then `…`), never Rust's debug escapes.
pub fn quoted(text: &str) -> String {
    let mut visible = text
        .chars()
        .filter(|c| forbidden_character(c.encode_utf8(&mut [0; 4]), false).is_none());
    let shown: String = visible.by_ref().take(40).collect();
    let more = if visible.next().is_some() { "…" } else { "" };
    format!("\"{shown}{more}\"")
}

/// `1 row`, `2 rows`, `1,000 rows`: a count with its noun in the right number.
pub fn counted(n: i64, one: &str, many: &str) -> String {
    let noun = if n == 1 { one } else { many };
    format!("{} {noun}", super::format_grouped(&n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_their_noun_in_the_right_number() {
        assert_eq!(counted(1, "row", "rows"), "1 row");
        assert_eq!(counted(0, "row", "rows"), "0 rows");
        assert_eq!(counted(12_345, "row", "rows"), "12,345 rows");
    }
    use proptest::prelude::*;

    #[test]
    fn names_what_it_refuses() {
        assert_eq!(
            forbidden_character("a\u{202E}b", true).unwrap().to_string(),
            "an invisible direction control (U+202E RIGHT-TO-LEFT OVERRIDE) that can make text display in the wrong order"
        );
        assert_eq!(
            forbidden_character("a\rb", true),
            Some(ForbiddenCharacter::LoneCarriageReturn)
        );
        assert_eq!(
            forbidden_character("a\tb", true),
            Some(ForbiddenCharacter::Control(9))
        );
        assert_eq!(
            forbidden_character("a\nb", false),
            Some(ForbiddenCharacter::Control(10))
        );
        assert_eq!(
            forbidden_character("a\u{85}b", true),
            Some(ForbiddenCharacter::Control(0x85))
        );
        assert_eq!(
            forbidden_character("a\u{2028}b", true),
            Some(ForbiddenCharacter::Separator(0x2028))
        );
        for fine in [
            "a\nb",
            "👩‍👩‍👧‍👦",
            "🏳️‍🌈",
            "Ünïcödé ✓ 日本",
            "می‌خواهم",
            "עברית and English",
        ] {
            assert_eq!(forbidden_character(fine, true), None, "{fine}");
        }
    }

    proptest! {
        #[test]
        fn no_bidi_control_passes(prefix in "\\PC{0,20}", index in 0usize..12, suffix in "\\PC{0,20}") {
            let text = format!("{prefix}{}{suffix}", BIDI_CONTROLS[index].0);
            prop_assert!(forbidden_character(&text, true).is_some());
        }

        #[test]
        fn accepted_text_holds_no_invisible_control(text in "\\PC{0,40}") {
            if forbidden_character(&text, true).is_none() {
                prop_assert!(text.chars().all(|c| c == '\n' || !c.is_control()));
                prop_assert!(!text.chars().any(|c| BIDI_CONTROLS.iter().any(|(b, _)| *b == c)));
            }
        }
    }
}

/// Typed text shown again in a message stays visible, bounded and free of debug escapes.
#[cfg(test)]
mod outside_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn quoted_text_is_visible_and_bounded(text in "(?s).{0,60}") {
            let shown = quoted(&text);
            prop_assert!(forbidden_character(&shown, false).is_none(), "{}", shown);
            prop_assert!(shown.chars().count() <= 43);
            prop_assert_eq!(crate::testing::unclear(&format!("not {shown}"), &text), None);
        }
    }
}
