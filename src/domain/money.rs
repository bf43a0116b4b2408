//! Money: exact decimals rounded half-up to the currency's minor unit, always shown with
//! the currency code.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use super::{CurrencyCode, ExchangeRate};

/// An amount of money in one currency, already rounded to its minor unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount: Decimal,
    pub currency: CurrencyCode,
}

impl Money {
    /// Rounds half-up (away from zero) to the currency's minor unit and keeps trailing zeros,
    /// so `2.5` EUR reads `2.50`.
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Money {
        let units = currency.minor_units();
        let mut amount =
            amount.round_dp_with_strategy(units, RoundingStrategy::MidpointAwayFromZero);
        amount.rescale(units);
        Money { amount, currency }
    }

    /// The bare number with minor units and no separators, as CSV and JSON carry it.
    pub fn plain(&self) -> String {
        self.amount.to_string()
    }

    /// The number with thousands separators and the code, for HTML: `1,234.50 EUR`.
    pub fn grouped(&self) -> String {
        format!(
            "{} {}",
            format_grouped(&self.amount.to_string()),
            self.currency
        )
    }
}

/// Why an amount of money was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "Give the amount as a decimal string with at most {0} decimal places, like \"12.50\"."
    )]
    NotAnAmount(u32),
    #[error("The amount is above the maximum of 1,000,000,000,000.")]
    TooLarge,
}

impl Money {
    /// An amount as the API sends it: ASCII digits with at most the currency's minor units
    /// after a `.`, 0 or more, at most 10^12 (`"12.50"`, JPY `"300"`).
    pub fn parse(input: &str, currency: CurrencyCode) -> Result<Money, MoneyError> {
        let units = currency.minor_units();
        let (whole, fraction) = input.split_once('.').unwrap_or((input, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = !whole.is_empty()
            && digits(whole)
            && digits(fraction)
            && !(input.contains('.') && fraction.is_empty())
            && fraction.len() as u32 <= units
            && whole.len() <= 13;
        if !well_formed {
            return Err(MoneyError::NotAnAmount(units));
        }
        let amount: Decimal = input.parse().map_err(|_| MoneyError::NotAnAmount(units))?;
        if amount > Decimal::from(crate::domain::MAX_BALANCE) {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money::new(amount, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// The money value of `credits` at `rate`: `|credits| × rate` keeps its sign.
pub fn money_value(credits: i64, rate: ExchangeRate, currency: &CurrencyCode) -> Money {
    Money::new(Decimal::from(credits) * rate.as_decimal(), *currency)
}

/// Inserts thousands separators into a plain decimal string: `-1234567.5` → `-1,234,567.5`.
pub fn format_grouped(plain: &str) -> String {
    let (sign, rest) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain),
    };
    let (whole, fraction) = match rest.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (rest, None),
    };
    let mut grouped = String::with_capacity(plain.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Credits with thousands separators, for HTML.
pub fn format_credits(credits: i64) -> String {
    format_grouped(&credits.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(c: &str) -> CurrencyCode {
        CurrencyCode::parse(c).unwrap()
    }

    #[test]
    fn rounds_half_up_to_minor_units() {
        let rate = ExchangeRate::parse("0.125").unwrap();
        assert_eq!(money_value(1, rate, &code("EUR")).to_string(), "0.13 EUR");
        assert_eq!(money_value(-1, rate, &code("EUR")).to_string(), "-0.13 EUR");
        assert_eq!(money_value(4, rate, &code("JPY")).to_string(), "1 JPY");
        assert_eq!(money_value(2, rate, &code("JPY")).to_string(), "0 JPY");
        assert_eq!(money_value(3, rate, &code("KWD")).to_string(), "0.375 KWD");
        let ten = ExchangeRate::parse("10.00").unwrap();
        assert_eq!(money_value(5, ten, &code("EUR")).to_string(), "50.00 EUR");
        let quarter = ExchangeRate::parse("0.25").unwrap();
        assert_eq!(money_value(10, quarter, &code("USD")).plain(), "2.50");
    }

    #[test]
    fn parses_amounts_with_the_currency_s_minor_units() {
        let plain = |text: &str, c: &str| Money::parse(text, code(c)).map(|m| m.plain());
        assert_eq!(plain("12.5", "EUR"), Ok("12.50".into()));
        assert_eq!(plain("0", "EUR"), Ok("0.00".into()));
        assert_eq!(plain("300", "JPY"), Ok("300".into()));
        assert_eq!(plain("1.125", "BHD"), Ok("1.125".into()));
        for (bad, c) in [
            ("1.001", "EUR"),
            ("1.5", "JPY"),
            ("-1", "EUR"),
            ("1e3", "EUR"),
            ("", "EUR"),
            ("1.", "EUR"),
            (".5", "EUR"),
            (" 1", "EUR"),
            ("1,50", "EUR"),
        ] {
            assert!(Money::parse(bad, code(c)).is_err(), "{bad} {c}");
        }
        assert_eq!(
            Money::parse("1000000000001", code("EUR")),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(format_grouped("0"), "0");
        assert_eq!(format_grouped("999"), "999");
        assert_eq!(format_grouped("1000"), "1,000");
        assert_eq!(format_grouped("-1234567.50"), "-1,234,567.50");
        assert_eq!(format_credits(1_000_000_000_000), "1,000,000,000,000");
        let money = money_value(1234, ExchangeRate::parse("1").unwrap(), &code("EUR"));
        assert_eq!(money.grouped(), "1,234.00 EUR");
    }

    proptest! {
        #[test]
        fn value_is_exact_then_rounded(credits in -1_000_000_000_000i64..=1_000_000_000_000, rate_e4 in 1i64..=10_000_000_000) {
            let rate = ExchangeRate::from_e4(rate_e4).unwrap();
            let money = money_value(credits, rate, &code("EUR"));
            // In hundredths of a euro, computed with integers only: round half away from zero.
            let e4 = i128::from(credits) * i128::from(rate_e4);
            let hundredths = (e4.abs() + 50) / 100 * e4.signum();
            prop_assert_eq!(money.amount.mantissa(), hundredths);
            prop_assert_eq!(money.amount.scale(), 2);
            prop_assert_eq!(format_grouped(&money.plain()).replace(',', ""), money.plain());
        }
    }
}

/// Anything sent as an amount of money: no panic, accepted amounts within range and the
/// currency's minor units, every refusal a clear message.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{typed_value, unclear};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn refusals_are_clear(
            input in prop_oneof![typed_value(), "[0-9]{0,15}\\.?[0-9]{0,4}"],
            code in prop::sample::select(&["EUR", "JPY", "BHD"]),
        ) {
            let currency = CurrencyCode::parse(code).unwrap();
            match Money::parse(&input, currency) {
                Ok(money) => {
                    prop_assert!(money.amount >= Decimal::ZERO);
                    prop_assert!(money.amount <= Decimal::from(crate::domain::MAX_BALANCE));
                    prop_assert!(money.amount.normalize().scale() <= currency.minor_units());
                }
                Err(error) => prop_assert_eq!(unclear(&error.to_string(), &input), None),
            }
        }
    }
}
