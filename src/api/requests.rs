//! What the API's callers send, as JSON bodies and queries, and the check that turns each
//! into the checked values the ledger and the store take (docs/api.md, "Routes"). Every
//! body refuses fields it does not know; every message names its field.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use crate::domain::{
    forbidden_character, parse_expiry, AmountError, Change, CurrencyCode, Email, InvoiceAsk, Mode,
    Money, Note, Reason, MAX_BALANCE,
};
use crate::forms::adjustment::AdjustmentInput;
use crate::forms::customer::CustomerFields;
use crate::forms::FieldErrors;
use crate::store::customers::NewCustomer;

/// The first of a form's messages, as the API's 422.
impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        match errors.iter().next() {
            Some(error) => ApiError::invalid(error.field, &error.message),
            None => ApiError::invalid("", "The request is not valid."),
        }
    }
}

/// A new customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerBody {
    /// Unique, compared case-insensitively.
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// The merchant's own id for the customer; unique.
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "DE", pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
}

impl NewCustomerBody {
    pub fn check(self) -> Result<NewCustomer, ApiError> {
        let fields = CustomerFields {
            email: self.email,
            external_id: self.external_id.unwrap_or_default(),
            first_name: self.first_name.unwrap_or_default(),
            last_name: self.last_name.unwrap_or_default(),
            country: self.country.unwrap_or_default(),
        };
        Ok(fields.parse()?)
    }
}

/// The most items a list answers with at once, and how many by default.
pub const MAX_LIMIT: i64 = 100;
pub const DEFAULT_LIMIT: i64 = 50;

/// Paging of a list: `limit` items after `cursor` (the `next_cursor` of the page before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    /// The id the page starts after, in the list's order.
    pub cursor: Option<i64>,
}

impl Page {
    /// Trims `rows` (read with one more than the limit) to the page; the cursor of the next
    /// page when there is one.
    pub fn next_cursor<T>(&self, rows: &mut Vec<T>, id: impl Fn(&T) -> i64) -> Option<String> {
        if rows.len() as i64 <= self.limit {
            return None;
        }
        rows.truncate(self.limit as usize);
        rows.last().map(|row| id(row).to_string())
    }
}

/// `limit` and `cursor` as sent; an empty one counts as absent.
fn page_of(limit: Option<&str>, cursor: Option<&str>) -> Result<Page, ApiError> {
    let (limit, cursor) = (
        limit.filter(|l| !l.is_empty()),
        cursor.filter(|c| !c.is_empty()),
    );
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("Give limit as a whole number from 1 to {MAX_LIMIT}."),
                )
            })?,
    };
    let cursor = cursor
        .map(|text| {
            text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::invalid(
                    "cursor",
                    "Pass back the next_cursor of the previous page as it was.",
                )
            })
        })
        .transpose()?;
    Ok(Page { limit, cursor })
}

/// Customers by email (whole address, any case) or external id; all of them without either.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    pub email: Option<String>,
    pub external_id: Option<String>,
    /// 1 to 100, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A checked customer search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSearch {
    /// Lower-cased.
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub page: Page,
}

impl CustomerQuery {
    pub fn check(self) -> Result<CustomerSearch, ApiError> {
        let email = match self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            None => None,
            Some(text) => Some(
                Email::parse(text)
                    .map_err(|e| ApiError::invalid("email", e))?
                    .normalized(),
            ),
        };
        let external_id = self
            .external_id
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        Ok(CustomerSearch {
            email,
            external_id,
            page: page_of(self.limit.as_deref(), self.cursor.as_deref())?,
        })
    }
}

/// A customer's ledger in one currency, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransactionQuery {
    /// ISO 4217; by default every currency.
    pub currency: Option<String>,
    /// 1 to 100, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl TransactionQuery {
    pub fn check(self) -> Result<(Option<CurrencyCode>, Page), ApiError> {
        let currency = self
            .currency
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(currency)
            .transpose()?;
        Ok((
            currency,
            page_of(self.limit.as_deref(), self.cursor.as_deref())?,
        ))
    }
}

fn currency(code: &str) -> Result<CurrencyCode, ApiError> {
    CurrencyCode::parse(code).map_err(|e| ApiError::invalid("currency", e))
}

/// An adjustment: exactly one of `change` (signed) and `set_to` (the new balance).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Credits to add (positive) or remove (negative); not 0.
    #[schema(example = 50, minimum = -1_000_000_000_000i64, maximum = 1_000_000_000_000i64)]
    pub change: Option<i64>,
    /// The balance to set.
    #[schema(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub set_to: Option<i64>,
    /// Why; shown in the console and exported.
    #[schema(
        example = "Goodwill for the outage on 3 March",
        min_length = 1,
        max_length = 250
    )]
    pub note: String,
    /// For reporting.
    pub reason: Option<Reason>,
    /// When credits added by this change expire: at the end of this UTC day (`YYYY-MM-DD`,
    /// today up to 10 years ahead). Only for changes that add credits.
    #[schema(example = "2026-12-31", format = Date)]
    pub expires_at: Option<String>,
    /// The account's version the caller saw; another → 409 `version_conflict`.
    #[schema(minimum = 0)]
    pub expected_version: Option<i64>,
}

impl AdjustmentBody {
    pub fn check(self) -> Result<AdjustmentInput, ApiError> {
        let (mode, field, value) = match (self.change, self.set_to) {
            (Some(change), None) => (Mode::Change, "change", change),
            (None, Some(set_to)) => (Mode::Set, "set_to", set_to),
            _ => {
                return Err(ApiError::invalid(
                    "change",
                    "Send exactly one of change (credits to add or remove) and set_to (the new balance).",
                ))
            }
        };
        let change = Change::new(mode, value).map_err(|error| {
            let message = match error {
                AmountError::Negative => "A new balance cannot be negative.",
                AmountError::Zero => "A change of 0 credits changes nothing.",
                _ => "At most 1,000,000,000,000 credits.",
            };
            ApiError::invalid(field, message)
        })?;
        if self.expected_version.is_some_and(|v| v < 0) {
            return Err(ApiError::invalid(
                "expected_version",
                "A version is 0 or more.",
            ));
        }
        Ok(AdjustmentInput {
            currency: currency(&self.currency)?,
            change,
            note: Note::parse(&self.note).map_err(|e| ApiError::invalid("note", e))?,
            reason: self.reason,
            expires_at: parse_expiry(
                self.expires_at.as_deref().unwrap_or_default(),
                crate::db::now_utc().date(),
            )
            .map_err(|e| ApiError::invalid("expires_at", e))?,
            expected_version: self.expected_version,
        })
    }
}

/// An invoice to preview credits on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// The pre-tax amount before any discount code, with at most the currency's minor units.
    #[schema(example = "49.90", pattern = "^[0-9]{1,13}(\\.[0-9]{1,3})?$")]
    pub invoice_amount: String,
    /// The most credits to use; by default as many as the caps allow (a preview then
    /// follows the currency's "apply in previews by default" setting).
    #[schema(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub apply_credits: Option<i64>,
    /// Whether a discount code is on the invoice too.
    pub discount_code: Option<bool>,
}

/// A preview's invoice, checked.
#[derive(Debug, Clone)]
pub struct InvoiceQuestion {
    pub currency: CurrencyCode,
    pub ask: InvoiceAsk,
}

impl PreviewBody {
    pub fn check(self) -> Result<InvoiceQuestion, ApiError> {
        let currency = currency(&self.currency)?;
        let invoice_amount = Money::parse(&self.invoice_amount, currency)
            .map_err(|e| ApiError::invalid("invoice_amount", e))?;
        if let Some(credits) = self.apply_credits {
            if !(0..=MAX_BALANCE).contains(&credits) {
                return Err(ApiError::invalid(
                    "apply_credits",
                    "Give apply_credits as a whole number from 0 to 1,000,000,000,000.",
                ));
            }
        }
        Ok(InvoiceQuestion {
            currency,
            ask: InvoiceAsk {
                invoice_amount,
                apply_credits: self.apply_credits,
                discount_code: self.discount_code.unwrap_or(false),
            },
        })
    }
}

/// A payment: the preview's fields and the invoice it pays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// One payment per invoice id.
    #[schema(example = "INV-1001", min_length = 1, max_length = 255)]
    pub invoice_id: String,
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    #[schema(example = "49.90", pattern = "^[0-9]{1,13}(\\.[0-9]{1,3})?$")]
    pub invoice_amount: String,
    #[schema(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub apply_credits: Option<i64>,
    pub discount_code: Option<bool>,
}

impl PaymentBody {
    pub fn check(self) -> Result<(String, InvoiceQuestion), ApiError> {
        let invoice_id = invoice_id(&self.invoice_id)?;
        let question = PreviewBody {
            currency: self.currency,
            invoice_amount: self.invoice_amount,
            apply_credits: self.apply_credits,
            discount_code: self.discount_code,
        }
        .check()?;
        Ok((invoice_id, question))
    }
}

/// An invoice id: 1 to 255 characters, nothing invisible, no spaces around it.
pub fn invoice_id(raw: &str) -> Result<String, ApiError> {
    let valid = !raw.is_empty()
        && raw.trim() == raw
        && raw.chars().count() <= 255
        && forbidden_character(raw, false).is_none();
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::invalid(
            "invoice_id",
            "Give the invoice id as 1 to 255 visible characters.",
        ))
    }
}

/// A refund of credits spent on an invoice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// Credits to give back; by default all the invoice spent and has not had back.
    #[schema(minimum = 1, maximum = 1_000_000_000_000i64)]
    pub credits: Option<i64>,
}

impl RefundBody {
    pub fn check(self) -> Result<Option<i64>, ApiError> {
        match self.credits {
            Some(credits) if !(1..=MAX_BALANCE).contains(&credits) => Err(ApiError::invalid(
                "credits",
                "Give credits as a whole number of at least 1.",
            )),
            credits => Ok(credits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adjustment(change: Option<i64>, set_to: Option<i64>) -> Result<AdjustmentInput, ApiError> {
        AdjustmentBody {
            currency: "EUR".into(),
            change,
            set_to,
            note: "why".into(),
            reason: None,
            expires_at: None,
            expected_version: None,
        }
        .check()
    }

    #[test]
    fn an_adjustment_is_one_of_change_and_set_to() {
        assert_eq!(adjustment(Some(5), None).unwrap().change, Change::By(5));
        assert_eq!(adjustment(None, Some(0)).unwrap().change, Change::SetTo(0));
        for (change, set_to, field) in [
            (None, None, "change"),
            (Some(5), Some(5), "change"),
            (Some(0), None, "change"),
            (Some(MAX_BALANCE + 1), None, "change"),
            (Some(i64::MIN), None, "change"),
            (None, Some(-1), "set_to"),
            (None, Some(MAX_BALANCE + 1), "set_to"),
        ] {
            let error = adjustment(change, set_to).unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field), "{change:?} {set_to:?}");
        }
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            page_of(None, None).unwrap(),
            Page {
                limit: 50,
                cursor: None
            }
        );
        assert_eq!(
            page_of(Some("100"), Some("7")).unwrap(),
            Page {
                limit: 100,
                cursor: Some(7)
            }
        );
        for (limit, cursor, field) in [
            (Some("0"), None, "limit"),
            (Some("101"), None, "limit"),
            (Some("ten"), None, "limit"),
            (None, Some("-1"), "cursor"),
            (None, Some("abc"), "cursor"),
        ] {
            assert_eq!(
                page_of(limit, cursor).unwrap_err().field.as_deref(),
                Some(field)
            );
        }
    }

    #[test]
    fn invoice_ids_are_visible_text() {
        assert_eq!(invoice_id("INV-1").unwrap(), "INV-1");
        for bad in [
            "",
            " INV",
            "INV ",
            "IN\u{0}V",
            "a\u{202e}b",
            &"x".repeat(256),
        ] {
            assert!(invoice_id(bad).is_err(), "{bad:?}");
        }
    }
}

/// Every JSON body and query of the API against anything a program can send: no panic, and
/// every refusal a clear message naming the field it is about.
#[cfg(test)]
mod outside_input {
    use super::*;
    use crate::api::json::parse;
    use crate::testing::{decoded, query, typed_value, unclear};
    use actix_web::web::Bytes;
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    /// A JSON value of any type, numbers near and far outside every range.
    fn json_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-2 * MAX_BALANCE..=2 * MAX_BALANCE).prop_map(Value::from),
            (-3i64..=3).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN", |f| f.is_finite())
                .prop_map(Value::from),
            typed_value().prop_map(Value::from),
            Just(json!([1, "EUR"])),
            Just(json!({"nested": true})),
        ]
    }

    /// A body of `keys` (and strangers), or raw text that may not be JSON or an object.
    fn body(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
        let key = prop_oneof![
            6 => prop::sample::select(keys).prop_map(str::to_owned),
            1 => "[a-zA-Z_]{1,12}",
        ];
        prop_oneof![
            8 => prop::collection::vec((key, json_value()), 0..7)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect()).to_string()),
            1 => prop::sample::select(&[
                "", " ", "[]", "null", "1", "\"x\"", "{", "{\"change\": 1e400}",
                "{\"change\": 99999999999999999999999}", "{\"note\": \"a\", \"note\": \"b\"}",
                "{\"currency\": \"EUR\"} trailing",
            ]).prop_map(str::to_owned),
            1 => "\\PC{0,40}",
        ]
    }

    /// Why the API's refusal of `typed`, read as `T` and checked by `check`, is not clear.
    fn unclear_refusal<T: DeserializeOwned, U>(
        typed: &str,
        fields: &[&str],
        check: impl Fn(T) -> Result<U, ApiError>,
    ) -> Option<String> {
        let error = match parse::<T>(&Bytes::from(typed.to_owned())) {
            Ok(body) => check(body.value).err()?,
            Err(error) => error,
        };
        unclear_api_error(&error, fields, typed)
    }

    /// A refusal must be 400 or 422 `validation_failed` with a clear message, naming a field
    /// of the body (or one the caller sent that is not) when it is about one.
    fn unclear_api_error(error: &ApiError, fields: &[&str], typed: &str) -> Option<String> {
        if error.code != "validation_failed" || !matches!(error.status.as_u16(), 400 | 422) {
            return Some(format!("{} {}", error.status, error.code));
        }
        if let Some(field) = &error.field {
            let known = fields.contains(&field.as_str());
            if !known && !typed.contains(&format!("\"{field}\"")) && !typed.contains(field) {
                return Some(format!("names the field {field} nobody sent"));
            }
        }
        unclear(&error.message, typed).map(|why| format!("{:?}: {why}", error.field))
    }

    const ADJUSTMENT: &[&str] = &[
        "currency",
        "change",
        "set_to",
        "note",
        "reason",
        "expected_version",
    ];
    const PREVIEW: &[&str] = &[
        "currency",
        "invoice_amount",
        "apply_credits",
        "discount_code",
    ];
    const PAYMENT: &[&str] = &[
        "invoice_id",
        "currency",
        "invoice_amount",
        "apply_credits",
        "discount_code",
    ];
    const REFUND: &[&str] = &["credits"];
    const CUSTOMER: &[&str] = &["email", "external_id", "first_name", "last_name", "country"];
    const CUSTOMER_QUERY: &[&str] = &["email", "external_id", "limit", "cursor"];
    const TRANSACTION_QUERY: &[&str] = &["currency", "limit", "cursor"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn adjustments(typed in body(ADJUSTMENT)) {
            prop_assert_eq!(unclear_refusal(&typed, ADJUSTMENT, AdjustmentBody::check), None);
        }

        #[test]
        fn previews_and_payments(preview in body(PREVIEW), payment in body(PAYMENT)) {
            prop_assert_eq!(unclear_refusal(&preview, PREVIEW, PreviewBody::check), None);
            prop_assert_eq!(unclear_refusal(&payment, PAYMENT, PaymentBody::check), None);
        }

        #[test]
        fn refunds_and_customers(refund in body(REFUND), customer in body(CUSTOMER)) {
            prop_assert_eq!(unclear_refusal(&refund, REFUND, RefundBody::check), None);
            prop_assert_eq!(unclear_refusal(&customer, CUSTOMER, NewCustomerBody::check), None);
        }

        #[test]
        fn queries(customers in query(CUSTOMER_QUERY), transactions in query(TRANSACTION_QUERY)) {
            // As `ApiQuery` reads them, then checked.
            let read = |typed: &str, fields: &[&str], check: &dyn Fn(&str) -> Option<ApiError>| {
                check(typed).and_then(|error| unclear_api_error(&error, fields, &decoded(typed)))
            };
            let customer_check = |typed: &str| match serde_urlencoded::from_str::<CustomerQuery>(typed) {
                Ok(raw) => raw.check().err(),
                Err(_) => None,
            };
            let transaction_check = |typed: &str| match serde_urlencoded::from_str::<TransactionQuery>(typed) {
                Ok(raw) => raw.check().err(),
                Err(_) => None,
            };
            prop_assert_eq!(read(&customers, CUSTOMER_QUERY, &customer_check), None);
            prop_assert_eq!(read(&transactions, TRANSACTION_QUERY, &transaction_check), None);
        }
    }
}
