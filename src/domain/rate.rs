//! The exchange rate of promo credits: the money value of ONE credit.

use std::fmt;

use rust_decimal::Decimal;

/// The largest rate accepted, so that a full balance's value stays far inside `Decimal`.
pub const MAX_RATE_E4: i64 = 10_000_000_000; // 1,000,000.0000

/// A rate greater than zero with at most four decimal places, stored exactly as an integer
/// number of 1/10,000 currency units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeRate(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("Enter the value of one credit as a number, like 1 or 0.25.")]
    NotANumber,
    #[error("The value of one credit must be greater than zero.")]
    NotPositive,
    #[error("Use at most 4 decimal places for the value of one credit.")]
    TooPrecise,
    #[error("The value of one credit can be at most 1,000,000.")]
    TooLarge,
    #[error("{0} has no minor unit: enter the value of one credit as a whole number, like 3.")]
    WholeNumbersOnly(String),
}

impl ExchangeRate {
    /// Parses `1`, `0.25` or `10.00`: ASCII digits with at most one `.` and four decimals.
    pub fn parse(input: &str) -> Result<Self, RateError> {
        let text = input.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (text.ends_with('.'))
        {
            return Err(RateError::NotANumber);
        }
        if fraction.len() > 4 {
            return Err(RateError::TooPrecise);
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 7 {
            return Err(RateError::TooLarge);
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| RateError::NotANumber)?
        };
        let fraction: i64 = format!("{fraction:0<4}")
            .parse()
            .map_err(|_| RateError::NotANumber)?;
        Self::from_e4(whole * 10_000 + fraction)
    }

    /// A rate for `currency`: as [`ExchangeRate::parse`], and a whole number for a currency
    /// without minor units (JPY, KRW, …).
    pub fn parse_for(input: &str, currency: &super::CurrencyCode) -> Result<Self, RateError> {
        let rate = Self::parse(input)?;
        if currency.minor_units() == 0 && input.contains('.') {
            return Err(RateError::WholeNumbersOnly(currency.to_string()));
        }
        Ok(rate)
    }

    /// A rate from its stored form, 1/10,000 currency units.
    pub fn from_e4(e4: i64) -> Result<Self, RateError> {
        if e4 <= 0 {
            Err(RateError::NotPositive)
        } else if e4 > MAX_RATE_E4 {
            Err(RateError::TooLarge)
        } else {
            Ok(ExchangeRate(e4))
        }
    }

    pub fn e4(self) -> i64 {
        self.0
    }

    pub fn as_decimal(self) -> Decimal {
        Decimal::new(self.0, 4)
    }

    /// The rate shown to people with the currency's minor units at least: `1.00`, `0.125`.
    pub fn display_for(self, minor_units: u32) -> String {
        let mut value = self.as_decimal().normalize();
        if value.scale() < minor_units {
            value.rescale(minor_units);
        }
        value.to_string()
    }
}

/// The exchange rate of a ledger row as lists and exports show it: at least the currency's
/// minor units (`1.00`, `0.125`, `1000`), 2 for a code that is not a currency, nothing for a
/// rate out of range.
pub fn rate_text(currency: &str, rate_e4: i64) -> String {
    let minor = super::CurrencyCode::parse(currency)
        .map(|c| c.minor_units())
        .unwrap_or(2);
    ExchangeRate::from_e4(rate_e4)
        .map(|r| r.display_for(minor))
        .unwrap_or_default()
}

impl fmt::Display for ExchangeRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_decimal().normalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(ExchangeRate::parse("1").map(|r| r.e4()), Ok(10_000));
        assert_eq!(ExchangeRate::parse("0.25").map(|r| r.e4()), Ok(2_500));
        assert_eq!(ExchangeRate::parse("10.00").map(|r| r.e4()), Ok(100_000));
        assert_eq!(ExchangeRate::parse("0.0001").map(|r| r.e4()), Ok(1));
        assert_eq!(
            ExchangeRate::parse(" 2.5 ").map(|r| r.to_string()),
            Ok("2.5".into())
        );
        assert_eq!(
            ExchangeRate::parse("1000000").map(|r| r.e4()),
            Ok(MAX_RATE_E4)
        );
        assert_eq!(ExchangeRate::parse("0"), Err(RateError::NotPositive));
        assert_eq!(ExchangeRate::parse("0.00001"), Err(RateError::TooPrecise));
        assert_eq!(
            ExchangeRate::parse("1000000.0001"),
            Err(RateError::TooLarge)
        );
        assert_eq!(ExchangeRate::parse("99999999999"), Err(RateError::TooLarge));
        for bad in ["", "-1", "1.", ".5", "1,5", "1e2", "abc", "1.2.3", "+1"] {
            assert_eq!(
                ExchangeRate::parse(bad),
                Err(RateError::NotANumber),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_currency_without_minor_units_takes_whole_numbers() {
        let jpy = super::super::CurrencyCode::parse("JPY").unwrap();
        let eur = super::super::CurrencyCode::parse("EUR").unwrap();
        assert_eq!(
            ExchangeRate::parse_for("3", &jpy).map(|r| r.e4()),
            Ok(30_000)
        );
        assert_eq!(
            ExchangeRate::parse_for("0.5", &jpy),
            Err(RateError::WholeNumbersOnly("JPY".into()))
        );
        assert!(ExchangeRate::parse_for("3.0", &jpy).is_err());
        assert_eq!(
            ExchangeRate::parse_for("0.0125", &eur).map(|r| r.e4()),
            Ok(125)
        );
    }

    #[test]
    fn displays_with_minor_units() {
        let rate = ExchangeRate::parse("1").unwrap();
        assert_eq!(rate.display_for(2), "1.00");
        assert_eq!(rate.display_for(0), "1");
        assert_eq!(
            ExchangeRate::parse("0.125").unwrap().display_for(2),
            "0.125"
        );
    }
}

/// Anything typed as an exchange rate: no panic, accepted rates within range and shown as
/// they parse, every refusal a clear message.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::domain::CurrencyCode;
    use crate::testing::{typed_value, unclear};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn refusals_are_clear(
            input in prop_oneof![typed_value(), "[0-9]{0,9}\\.?[0-9]{0,6}"],
            code in prop::sample::select(&["EUR", "JPY", "BHD"]),
        ) {
            let currency = CurrencyCode::parse(code).unwrap();
            match ExchangeRate::parse_for(&input, &currency) {
                Ok(rate) => {
                    prop_assert!((1..=MAX_RATE_E4).contains(&rate.e4()));
                    prop_assert_eq!(ExchangeRate::parse(&rate.display_for(4)), Ok(rate));
                }
                Err(error) => prop_assert_eq!(unclear(&error.to_string(), &input), None),
            }
        }
    }
}
