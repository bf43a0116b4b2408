//! The Update Promo Credit form (`POST /users/{id}/promo-credits`).

use actix_web::http::StatusCode;
use serde::Deserialize;

use super::{FieldError, FieldErrors, FORM};
use time::Date;

use crate::domain::{
    parse_amount, parse_expiry, BalanceError, Change, CurrencyCode, Mode, Note, Reason,
};
use crate::error::AppError;
use crate::ledger::{Actor, Adjustment, LedgerError, Source};
use crate::store::activity::Audit;

/// The form as posted; every field as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AdjustmentFields {
    pub currency: String,
    pub mode: String,
    pub amount: String,
    pub note: String,
    pub reason: String,
    /// `YYYY-MM-DD`, when added credits expire (docs/concepts.md, "Expiry").
    pub expires_at: String,
    pub expected_version: String,
}

/// A checked adjustment, not yet tied to a customer or an admin.
#[derive(Debug, Clone)]
pub struct AdjustmentInput {
    pub currency: CurrencyCode,
    pub change: Change,
    pub note: Note,
    pub reason: Option<Reason>,
    pub expires_at: Option<Date>,
    pub expected_version: Option<i64>,
}

pub const OUT_OF_DATE: &str =
    "This form is out of date. Close it and open Update Promo Credit again.";

impl AdjustmentFields {
    /// Checks every field; the expiry as of `today` (UTC).
    pub fn parse(&self, today: Date) -> Result<AdjustmentInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let currency = errors
            .check(CurrencyCode::parse(&self.currency).map_err(|e| FieldError::new("currency", e)));
        let mode = errors.check(
            Mode::parse(&self.mode)
                .ok_or_else(|| FieldError::new("mode", "Choose Set new total or Add or remove.")),
        );
        let change = mode.and_then(|mode| {
            errors.check(parse_amount(&self.amount, mode).map_err(|e| FieldError::new("amount", e)))
        });
        let note = errors.check(Note::parse(&self.note).map_err(|e| FieldError::new("note", e)));
        let reason = errors.take(match self.reason.trim() {
            "" => Ok(None),
            text => Reason::parse(text).map(Some).map_err(|_| {
                FieldError::new(
                    "reason",
                    "Choose a reason from the list, or leave it empty.",
                )
            }),
        });
        let expires_at = errors.take(
            parse_expiry(&self.expires_at, today).map_err(|e| FieldError::new("expires_at", e)),
        );
        let expected_version = errors.take(match self.expected_version.trim() {
            "" => Ok(None),
            text => text
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .map(Some)
                .ok_or_else(|| FieldError::new(FORM, OUT_OF_DATE)),
        });
        errors.finish(|| {
            Some(AdjustmentInput {
                currency: currency?,
                change: change?,
                note: note?,
                reason,
                expires_at,
                expected_version,
            })
        })
    }
}

impl AdjustmentInput {
    /// The ledger's command: this change to `user_id`'s account, by an admin in the console.
    pub fn by_admin(self, user_id: i64, admin_id: i64, audit: Audit) -> Adjustment {
        self.command(
            user_id,
            Actor::Admin(admin_id),
            Source::Console,
            None,
            audit,
        )
    }

    /// The same change sent through the API with key `key_id`, and the request's
    /// `Idempotency-Key` if it had one.
    pub fn by_api_key(
        self,
        user_id: i64,
        key_id: i64,
        idempotency_key: Option<String>,
        audit: Audit,
    ) -> Adjustment {
        let actor = Actor::ApiKey(key_id);
        self.command(user_id, actor, Source::Api, idempotency_key, audit)
    }

    fn command(
        self,
        user_id: i64,
        actor: Actor,
        source: Source,
        idempotency_key: Option<String>,
        audit: Audit,
    ) -> Adjustment {
        Adjustment {
            user_id,
            currency: self.currency,
            change: self.change,
            note: self.note,
            reason: self.reason,
            expires_at: self.expires_at,
            expected_version: self.expected_version,
            actor,
            source,
            idempotency_key,
            audit: Some(audit),
        }
    }
}

/// Where the ledger's refusal shows on the form, and the answer's status; errors nobody can
/// fix on the form become the error page.
pub fn refusal(error: LedgerError) -> Result<(StatusCode, FieldError), AppError> {
    let field = match &error {
        LedgerError::CustomerNotFound => return Err(AppError::not_found("This customer")),
        LedgerError::Database(_) | LedgerError::GrantsOutOfStep => {
            return Err(AppError::internal(error))
        }
        LedgerError::ExpiryWithoutGrant => "expires_at",
        LedgerError::VersionConflict { .. } => {
            return Ok((StatusCode::CONFLICT, FieldError::new(FORM, error)))
        }
        LedgerError::Balance(BalanceError::NothingToChange { .. }) => FORM,
        LedgerError::Balance(_) => "amount",
        LedgerError::CurrencyNotOffered(_) => "currency",
        LedgerError::CurrencyDisabled(_)
        | LedgerError::UsageDisabled
        | LedgerError::InvoiceConflict
        | LedgerError::AlreadyOpened
        | LedgerError::DiscountCodeConflict
        | LedgerError::InvoiceNotPaid
        | LedgerError::NothingToRefund
        | LedgerError::RefundOutOfRange { .. } => FORM,
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        FieldError::new(field, error),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);

    fn fields(pairs: &[(&str, &str)]) -> AdjustmentFields {
        let mut f = AdjustmentFields {
            currency: "EUR".into(),
            mode: "change".into(),
            amount: "5".into(),
            note: "a note".into(),
            ..AdjustmentFields::default()
        };
        for (k, v) in pairs {
            let v = (*v).to_owned();
            match *k {
                "currency" => f.currency = v,
                "mode" => f.mode = v,
                "amount" => f.amount = v,
                "note" => f.note = v,
                "reason" => f.reason = v,
                "expires_at" => f.expires_at = v,
                "expected_version" => f.expected_version = v,
                _ => unreachable!(),
            }
        }
        f
    }

    #[test]
    fn parses_a_valid_form() {
        let input = fields(&[
            ("mode", "set"),
            ("amount", " 170 "),
            ("reason", "goodwill"),
            ("expires_at", "2026-12-31"),
            ("expected_version", "3"),
        ])
        .parse(TODAY)
        .unwrap();
        assert_eq!(input.change, Change::SetTo(170));
        assert_eq!(input.reason, Some(Reason::Goodwill));
        assert_eq!(input.expires_at, Some(date!(2026 - 12 - 31)));
        assert_eq!(input.expected_version, Some(3));
    }

    #[test]
    fn says_what_is_wrong_with_every_field_at_once() {
        let errors = fields(&[
            ("currency", "eur"),
            ("amount", "1.5"),
            ("note", ""),
            ("reason", "bribe"),
            ("expires_at", "2026-11-27"),
            ("expected_version", "-1"),
        ])
        .parse(TODAY)
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec!["currency", "amount", "note", "reason", "expires_at", FORM]
        );
        let bad_mode = fields_with_mode("add");
        assert_eq!(
            bad_mode.iter().map(|e| e.field).collect::<Vec<_>>(),
            vec!["mode"]
        );
    }

    fn fields_with_mode(mode: &str) -> FieldErrors {
        fields(&[("mode", mode)]).parse(TODAY).unwrap_err()
    }
}
