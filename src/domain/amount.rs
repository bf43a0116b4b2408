//! The grammar of a credit amount typed into the console (docs/console.md, "Update Promo
//! Credit").

use std::fmt;

/// The largest balance an account may hold, and the largest single change.
pub const MAX_BALANCE: i64 = 1_000_000_000_000;

/// How the typed amount is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The amount is the updated quantity: the new balance.
    Set,
    /// The amount is a signed change to the balance.
    Change,
}

impl Mode {
    pub fn parse(input: &str) -> Option<Mode> {
        match input {
            "set" => Some(Mode::Set),
            "change" => Some(Mode::Change),
            _ => None,
        }
    }
}

/// A requested balance change, before it meets the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Make the balance exactly this.
    SetTo(i64),
    /// Add (positive) or remove (negative) this many credits.
    By(i64),
}

impl Change {
    /// `value` credits meant as `mode`: a new total of 0 to 10^12, or a non-zero change of
    /// at most 10^12 either way.
    pub fn new(mode: Mode, value: i64) -> Result<Change, AmountError> {
        if value.unsigned_abs() > MAX_BALANCE.unsigned_abs() {
            return Err(AmountError::TooLarge);
        }
        match mode {
            Mode::Set if value < 0 => Err(AmountError::Negative),
            Mode::Set => Ok(Change::SetTo(value)),
            Mode::Change if value == 0 => Err(AmountError::Zero),
            Mode::Change => Ok(Change::By(value)),
        }
    }

    /// The signed delta this change means for an account holding `balance`.
    pub fn delta_from(self, balance: i64) -> i64 {
        match self {
            Change::SetTo(target) => target - balance,
            Change::By(delta) => delta,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    Empty,
    NotWholeNumber,
    TooLong,
    Negative,
    TooLarge,
    Zero,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self {
            AmountError::Empty => "Enter an amount of credits.",
            AmountError::NotWholeNumber => {
                "Enter a whole number of credits using the digits 0-9, like 50 or -20."
            }
            AmountError::TooLong => "That amount has too many digits: at most 13.",
            AmountError::Negative => {
                "A new total cannot be negative. Choose add/remove to take credits away."
            }
            AmountError::TooLarge => {
                "The amount is above the maximum of 1,000,000,000,000 credits."
            }
            AmountError::Zero => "A change of 0 credits changes nothing. Enter a non-zero amount.",
        };
        f.write_str(message)
    }
}

impl std::error::Error for AmountError {}

/// Parses a typed amount: surrounding ASCII whitespace trimmed, an optional `+` (or `-` in
/// change mode), then 1 to 13 ASCII digits. Set mode allows 0 to 10^12; change mode a
/// non-zero amount of at most 10^12 either way.
pub fn parse_amount(input: &str, mode: Mode) -> Result<Change, AmountError> {
    let trimmed = input.trim_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.is_empty() {
        return Err(AmountError::Empty);
    }
    let (negative, digits) = match trimmed.as_bytes()[0] {
        b'+' => (false, &trimmed[1..]),
        b'-' => (true, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::NotWholeNumber);
    }
    if digits.len() > 13 {
        return Err(AmountError::TooLong);
    }
    // At most 13 ASCII digits always fit in an i64.
    let magnitude: i64 = digits.parse().map_err(|_| AmountError::NotWholeNumber)?;
    if negative && mode == Mode::Set {
        return Err(AmountError::Negative);
    }
    Change::new(mode, if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_spec_examples() {
        assert_eq!(parse_amount(" 7 ", Mode::Set), Ok(Change::SetTo(7)));
        assert_eq!(parse_amount("+5", Mode::Change), Ok(Change::By(5)));
        assert_eq!(parse_amount("-3", Mode::Change), Ok(Change::By(-3)));
        assert_eq!(parse_amount("0", Mode::Set), Ok(Change::SetTo(0)));
        assert_eq!(parse_amount("\t12\n", Mode::Change), Ok(Change::By(12)));
        assert_eq!(
            parse_amount("1000000000000", Mode::Set),
            Ok(Change::SetTo(MAX_BALANCE))
        );
        assert_eq!(
            parse_amount("-1000000000000", Mode::Change),
            Ok(Change::By(-MAX_BALANCE))
        );
        assert_eq!(
            parse_amount("0000000000042", Mode::Set),
            Ok(Change::SetTo(42))
        );
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        let bad = [
            ("1.5", AmountError::NotWholeNumber),
            ("1e3", AmountError::NotWholeNumber),
            ("0x10", AmountError::NotWholeNumber),
            ("١٢", AmountError::NotWholeNumber),
            ("½", AmountError::NotWholeNumber),
            ("12345678901234", AmountError::TooLong),
            ("-0", AmountError::Zero),
            ("0", AmountError::Zero),
            ("", AmountError::Empty),
            ("   ", AmountError::Empty),
            ("+", AmountError::NotWholeNumber),
            ("--1", AmountError::NotWholeNumber),
            ("+-1", AmountError::NotWholeNumber),
            ("1 000", AmountError::NotWholeNumber),
            ("1,000", AmountError::NotWholeNumber),
            ("1000000000001", AmountError::TooLarge),
            ("\u{a0}5", AmountError::NotWholeNumber),
        ];
        for (input, expected) in bad {
            assert_eq!(
                parse_amount(input, Mode::Change),
                Err(expected),
                "{input:?}"
            );
        }
        assert_eq!(parse_amount("-3", Mode::Set), Err(AmountError::Negative));
        assert_eq!(parse_amount("-0", Mode::Set), Err(AmountError::Negative));
    }

    /// A reference reading of the grammar, written as differently as possible from the parser.
    fn reference(input: &str, mode: Mode) -> Option<i64> {
        let s =
            input.trim_matches(|c: char| c == ' ' || ('\t'..='\r').contains(&c) && c != '\u{b}');
        let (sign, rest) = if let Some(r) = s.strip_prefix('+') {
            (1, r)
        } else if let Some(r) = s.strip_prefix('-') {
            if mode == Mode::Set {
                return None;
            }
            (-1, r)
        } else {
            (1, s)
        };
        if rest.is_empty() || rest.len() > 13 || rest.chars().any(|c| !c.is_ascii_digit()) {
            return None;
        }
        let value: i128 = rest.parse().ok()?;
        if value > 1_000_000_000_000 || (mode == Mode::Change && value == 0) {
            return None;
        }
        Some((sign * value) as i64)
    }

    proptest! {
        #[test]
        fn grammar_matches_the_reference(
            input in "[ \t\n+\\-0-9a-z.,١½]{0,16}",
            change_mode in any::<bool>(),
        ) {
            let mode = if change_mode { Mode::Change } else { Mode::Set };
            let parsed = parse_amount(&input, mode).ok().map(|c| match c {
                Change::SetTo(v) | Change::By(v) => v,
            });
            prop_assert_eq!(parsed, reference(&input, mode));
        }

        #[test]
        fn every_valid_number_round_trips(value in -MAX_BALANCE..=MAX_BALANCE) {
            let typed = format!(" {value} ");
            if value == 0 {
                prop_assert!(parse_amount(&typed, Mode::Change).is_err());
            } else {
                prop_assert_eq!(parse_amount(&typed, Mode::Change), Ok(Change::By(value)));
            }
            if value >= 0 {
                prop_assert_eq!(parse_amount(&format!("+{value}"), Mode::Set), Ok(Change::SetTo(value)));
            }
        }
    }
}

/// Anything typed as an amount: no panic, and every refusal a clear message.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{typed_value, unclear};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn refusals_are_clear(input in typed_value(), change_mode in any::<bool>()) {
            let mode = if change_mode { Mode::Change } else { Mode::Set };
            match parse_amount(&input, mode) {
                Ok(Change::SetTo(v)) => prop_assert!((0..=MAX_BALANCE).contains(&v)),
                Ok(Change::By(v)) => prop_assert!(v != 0 && v.abs() <= MAX_BALANCE),
                Err(error) => prop_assert_eq!(unclear(&error.to_string(), &input), None),
            }
        }
    }
}
