//! Validated business values. A handler or the ledger never sees an unchecked value: every
//! type here is built through a parser that says, in a billing admin's words, what is wrong.

mod amount;
mod application;
mod balance;
mod currency;
mod email;
mod expiry;
mod kinds;
mod money;
mod note;
mod rate;
mod text;

pub use amount::{parse_amount, AmountError, Change, Mode, MAX_BALANCE};
pub use application::{
    apply_to_invoice, credits_for, Application, CreditTerms, InvoiceAsk, Limit, Purpose,
};
pub use balance::{apply, apply_delta, holder_change, BalanceError};
pub use currency::{CurrencyCode, CurrencyError};
pub use email::{Email, EmailError};
pub use expiry::{expiry_label, latest_expiry, parse_expiry, ExpiryError, MAX_YEARS_AHEAD};
pub use kinds::{Permission, Reason, Role, TransactionType, UnknownValue};
pub use money::{format_credits, format_grouped, money_value, Money, MoneyError};
pub use note::{Note, NoteError};
pub use rate::{rate_text, ExchangeRate, RateError, MAX_RATE_E4};
pub use text::{
    counted, forbidden_character, normalize_line_breaks, quoted, without_controls,
    ForbiddenCharacter,
};
