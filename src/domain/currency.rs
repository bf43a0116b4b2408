//! ISO 4217 currency codes and their minor units (docs/concepts.md, "Currencies and money").
//! The list and its minor units come from the `iso_currency` crate.

use std::fmt;

use iso_currency::{Currency, IntoEnumIterator};

/// A currency promo credits can be kept in: an ISO 4217 code of a circulating currency
/// (not a fund, a precious metal, a test code or a superseded one), like `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode(CodeBytes);

/// The three ASCII letters, kept inline so a code is `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CodeBytes([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("Choose a currency: a three-letter ISO 4217 code such as EUR.")]
    NotACode,
    #[error(
        "{0} is not a currency promo credits can be kept in (not a circulating ISO 4217 currency)."
    )]
    NotOffered(String),
}

/// The ISO currency of a code, when it is one credits can be kept in.
fn circulating(code: &str) -> Option<Currency> {
    Currency::from_code(code).filter(|currency| {
        currency.exponent().is_some()
            && !currency.is_fund()
            && !currency.is_special()
            && currency.is_superseded().is_none()
    })
}

impl CurrencyCode {
    pub fn parse(input: &str) -> Result<Self, CurrencyError> {
        let code = input.trim();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CurrencyError::NotACode);
        }
        if circulating(code).is_none() {
            return Err(CurrencyError::NotOffered(code.to_owned()));
        }
        let bytes = code.as_bytes();
        Ok(CurrencyCode(CodeBytes([bytes[0], bytes[1], bytes[2]])))
    }

    pub fn as_str(&self) -> &str {
        // Built from three ASCII letters only.
        std::str::from_utf8(&self.0 .0).unwrap_or("XXX")
    }

    fn iso(&self) -> Option<Currency> {
        circulating(self.as_str())
    }

    /// Digits after the decimal point in this currency's money (ISO 4217 minor unit).
    pub fn minor_units(&self) -> u32 {
        self.iso().and_then(|c| c.exponent()).map_or(2, u32::from)
    }

    /// The currency's English name, like `Euro`.
    pub fn name(&self) -> String {
        self.iso()
            .map(|currency| currency.name().to_owned())
            .unwrap_or_default()
    }

    /// Every currency credits can be kept in, in code order.
    pub fn all() -> Vec<CurrencyCode> {
        let mut codes: Vec<CurrencyCode> = Currency::iter()
            .filter_map(|c| CurrencyCode::parse(c.code()).ok())
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = CurrencyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CurrencyCode::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes() {
        assert_eq!(CurrencyCode::parse("EUR").map(|c| c.minor_units()), Ok(2));
        assert_eq!(CurrencyCode::parse("JPY").map(|c| c.minor_units()), Ok(0));
        assert_eq!(CurrencyCode::parse("KWD").map(|c| c.minor_units()), Ok(3));
        assert_eq!(CurrencyCode::parse("BHD").map(|c| c.minor_units()), Ok(3));
        assert_eq!(
            CurrencyCode::parse(" USD ").map(|c| c.name()),
            Ok("United States dollar".to_owned())
        );
        for bad in ["eur", "EU", "EURO", "", "E1R", "ÉUR"] {
            assert_eq!(
                CurrencyCode::parse(bad),
                Err(CurrencyError::NotACode),
                "{bad}"
            );
        }
        for not_offered in ["ABC", "XAU", "XTS", "XXX", "BOV", "CLF", "VES"] {
            assert!(
                matches!(
                    CurrencyCode::parse(not_offered),
                    Err(CurrencyError::NotOffered(_))
                ),
                "{not_offered}"
            );
        }
    }

    #[test]
    fn lists_the_circulating_currencies() {
        let all = CurrencyCode::all();
        assert!(all.len() > 140, "{}", all.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        for code in ["EUR", "USD", "JPY", "GBP", "CHF", "BHD"] {
            assert!(all.iter().any(|c| c.as_str() == code), "{code}");
        }
        assert!(!all.iter().any(|c| c.as_str() == "XAU"));
    }
}

/// Anything typed as a currency: no panic, only circulating codes pass, every refusal is a
/// clear message.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::testing::{typed_value, unclear};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn only_codes_pass_and_refusals_are_clear(input in prop_oneof![typed_value(), "[A-Za-z ]{0,5}"]) {
            match CurrencyCode::parse(&input) {
                Ok(code) => {
                    prop_assert_eq!(code.as_str(), input.trim());
                    prop_assert!(circulating(code.as_str()).is_some());
                    prop_assert!(code.minor_units() <= 3);
                }
                Err(error) => prop_assert_eq!(unclear(&error.to_string(), &input), None),
            }
        }
    }
}
