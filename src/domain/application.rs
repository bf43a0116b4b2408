//! How much promo credit an invoice can take (docs/api.md, "Credit application"). Pure: the
//! preview answers with it, and a payment applies it to the account as it is inside the lock.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{CurrencyCode, ExchangeRate, Money};

/// What the account and its currency's settings allow.
#[derive(Debug, Clone, Copy)]
pub struct CreditTerms {
    pub balance: i64,
    pub rate: ExchangeRate,
    pub currency: CurrencyCode,
    pub currency_enabled: bool,
    /// The customer's credit-use switch.
    pub usage_enabled: bool,
    pub allow_with_discount_code: bool,
    pub preview_default_used: bool,
}

/// The invoice a checkout asks about: its pre-tax amount, the most credits it wants to use
/// (when it says), and whether a discount code is on it too.
#[derive(Debug, Clone)]
pub struct InvoiceAsk {
    pub invoice_amount: Money,
    pub apply_credits: Option<i64>,
    pub discount_code: bool,
}

/// Why an invoice takes fewer credits than it could, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The customer has no more credits.
    Balance,
    /// The checkout asked for no more.
    ApplyCredits,
    /// The invoice needs no more.
    InvoiceAmount,
    CurrencyDisabled,
    UsageDisabled,
    /// A discount code is on the invoice and the currency's settings do not allow both.
    DiscountCodeConflict,
    /// A preview without `apply_credits` where the settings do not apply credits by default.
    NotDefault,
}

impl Limit {
    pub const ALL: [Limit; 7] = [
        Limit::Balance,
        Limit::ApplyCredits,
        Limit::InvoiceAmount,
        Limit::CurrencyDisabled,
        Limit::UsageDisabled,
        Limit::DiscountCodeConflict,
        Limit::NotDefault,
    ];

    /// The name the API and the stored payment use.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Balance => "balance",
            Limit::ApplyCredits => "apply_credits",
            Limit::InvoiceAmount => "invoice_amount",
            Limit::CurrencyDisabled => "currency_disabled",
            Limit::UsageDisabled => "usage_disabled",
            Limit::DiscountCodeConflict => "discount_code_conflict",
            Limit::NotDefault => "not_default",
        }
    }

    pub fn parse(name: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|limit| limit.as_str() == name)
    }
}

/// What the credits do to the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub credits_applied: i64,
    /// The money the credits take off; never more than the invoice.
    pub discount_amount: Money,
    pub amount_after_credit: Money,
    pub reasons: Vec<Limit>,
}

/// A preview follows the currency's "apply credits in previews by default" setting; a payment
/// spends what the caps allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Preview,
    Payment,
}

/// The credits an amount of money needs at `rate`, rounded up: the last credit may cover
/// only part of its value.
pub fn credits_for(amount: Decimal, rate: ExchangeRate) -> i64 {
    let credits = (amount / rate.as_decimal())
        .round_dp_with_strategy(0, RoundingStrategy::ToPositiveInfinity);
    i64::try_from(credits.mantissa() / 10i128.pow(credits.scale())).unwrap_or(i64::MAX)
}

/// Credits come off the pre-tax amount, before any discount code, capped by the balance, by
/// `apply_credits` and by what the invoice needs.
pub fn apply_to_invoice(terms: &CreditTerms, ask: &InvoiceAsk, purpose: Purpose) -> Application {
    let none = |reason: Limit| apply(terms, ask, 0, vec![reason]);
    if !terms.currency_enabled {
        return none(Limit::CurrencyDisabled);
    }
    if !terms.usage_enabled {
        return none(Limit::UsageDisabled);
    }
    let mut reasons = Vec::new();
    if ask.discount_code && !terms.allow_with_discount_code {
        reasons.push(Limit::DiscountCodeConflict);
    }
    if purpose == Purpose::Preview && ask.apply_credits.is_none() && !terms.preview_default_used {
        reasons.push(Limit::NotDefault);
        return apply(terms, ask, 0, reasons);
    }
    let needed = credits_for(ask.invoice_amount.amount, terms.rate);
    let caps = [
        (Limit::Balance, Some(terms.balance)),
        (Limit::ApplyCredits, ask.apply_credits),
        (Limit::InvoiceAmount, Some(needed)),
    ];
    let present = caps
        .iter()
        .filter_map(|(limit, cap)| cap.map(|c| (*limit, c)));
    let credits = present.clone().map(|(_, c)| c).min().unwrap_or(0).max(0);
    let most = present.clone().map(|(_, c)| c).max().unwrap_or(0);
    if credits < most {
        reasons.extend(
            present
                .filter(|(_, cap)| *cap == credits)
                .map(|(limit, _)| limit),
        );
    }
    apply(terms, ask, credits, reasons)
}

fn apply(terms: &CreditTerms, ask: &InvoiceAsk, credits: i64, reasons: Vec<Limit>) -> Application {
    let value = Decimal::from(credits) * terms.rate.as_decimal();
    let invoice = ask.invoice_amount.amount;
    let discount = Money::new(value.min(invoice), terms.currency);
    Application {
        credits_applied: credits,
        amount_after_credit: Money::new(invoice - discount.amount, terms.currency),
        discount_amount: discount,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    // The table of hand-computed cases is tests/data/preview_cases.csv, sent through the API
    // on both databases by tests/api.rs; here, the properties that hold for every input.
    use super::*;

    #[test]
    fn limits_are_named_alike_everywhere() {
        for limit in Limit::ALL {
            assert_eq!(Limit::parse(limit.as_str()), Some(limit));
            assert_eq!(serde_json::to_value(limit).unwrap(), limit.as_str());
        }
        let names: Vec<&str> = Limit::ALL.iter().map(|l| l.as_str()).collect();
        let schema = serde_json::to_value(<Limit as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(names));
    }

    proptest::proptest! {
        #[test]
        fn never_more_than_allowed(balance in 0i64..=1_000_000, rate_e4 in 1i64..=1_000_000, cents in 0i64..=100_000_000, apply in proptest::option::of(0i64..=2_000_000)) {
            let currency = CurrencyCode::parse("EUR").unwrap();
            let rate = ExchangeRate::from_e4(rate_e4).unwrap();
            let terms = CreditTerms { balance, rate, currency, currency_enabled: true, usage_enabled: true, allow_with_discount_code: true, preview_default_used: true };
            let invoice = Money::new(Decimal::new(cents, 2), currency);
            let ask = InvoiceAsk { invoice_amount: invoice.clone(), apply_credits: apply, discount_code: false };
            let got = apply_to_invoice(&terms, &ask, Purpose::Payment);
            proptest::prop_assert!(got.credits_applied <= balance);
            proptest::prop_assert!(apply.is_none_or(|a| got.credits_applied <= a));
            proptest::prop_assert!(got.discount_amount.amount <= invoice.amount);
            proptest::prop_assert_eq!(got.discount_amount.amount + got.amount_after_credit.amount, invoice.amount);
            // One credit fewer would not cover what was taken off.
            if got.credits_applied > 0 {
                let less = Decimal::from(got.credits_applied - 1) * rate.as_decimal();
                proptest::prop_assert!(less < got.discount_amount.amount || got.credits_applied == balance || apply == Some(got.credits_applied));
            }
        }
    }
}
