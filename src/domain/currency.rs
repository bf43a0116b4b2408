//! ISO 4217 currency codes and their minor units.

use std::fmt;

/// A currency code: three upper-case ASCII letters, like `EUR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Choose a currency: a three-letter ISO 4217 code such as EUR.")]
pub struct CurrencyError;

impl CurrencyCode {
    pub fn parse(input: &str) -> Result<Self, CurrencyError> {
        let code = input.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(CurrencyCode(code.to_owned()))
        } else {
            Err(CurrencyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point in this currency's money (ISO 4217 minor unit).
    pub fn minor_units(&self) -> u32 {
        match self.0.as_str() {
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            _ => 2,
        }
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        for bad in ["eur", "EU", "EURO", "", "E1R", "ÉUR"] {
            assert!(CurrencyCode::parse(bad).is_err(), "{bad}");
        }
    }
}
