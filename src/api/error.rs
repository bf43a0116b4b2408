//! The API's errors: `{"error": {"code", "message", "field"}}` with a stable code a program
//! can branch on and a message a person can read (docs/api.md, "Errors").

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::domain::BalanceError;
use crate::error::AppError;
use crate::ledger::LedgerError;
use crate::store::customers::CustomerError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_seconds: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_seconds: None,
        }
    }

    /// 422 `validation_failed`, naming the field.
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> ApiError {
        ApiError {
            field: Some(field.into()).filter(|name: &String| !name.is_empty()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message.to_string(),
            )
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} was not found."),
        )
    }

    /// 422: the idempotency key was used before with another body.
    pub fn idempotency_mismatch() -> ApiError {
        ApiError {
            field: Some("Idempotency-Key".to_owned()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_mismatch",
                "This Idempotency-Key was used with another request body. Use a new key for a new request.",
            )
        }
    }

    /// 429: the key sent more requests than its limit allows.
    pub fn rate_limited(retry_after_seconds: u32) -> ApiError {
        ApiError {
            retry_after_seconds: Some(retry_after_seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "Too many requests with this API key. Try again in {retry_after_seconds} s."
                ),
            )
        }
    }

    /// 404 for a URL that is no route of the API.
    pub fn not_found_route() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no such route in this API.",
        )
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a valid API key as Authorization: Bearer <key>.",
        )
    }

    /// An unexpected failure, logged under a reference ([`AppError::internal`]); one caused
    /// by a database that stopped answering is 503 `unavailable` instead.
    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::from(AppError::internal(error))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(serde_json::json!({
            "error": { "code": self.code, "message": self.message, "field": self.field }
        }))
    }
}

/// A refusal of the ledger, in the API's codes.
impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        let message = error.to_string();
        let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, message.clone());
        let unprocessable =
            |code| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone());
        match error {
            LedgerError::CustomerNotFound => ApiError::not_found("This customer"),
            LedgerError::CurrencyNotOffered(_) => ApiError::invalid("currency", message),
            LedgerError::CurrencyDisabled(_) => unprocessable("currency_disabled"),
            LedgerError::UsageDisabled => unprocessable("usage_disabled"),
            LedgerError::Balance(BalanceError::BelowZero { .. }) => {
                unprocessable("insufficient_credits")
            }
            LedgerError::Balance(BalanceError::NothingToChange { .. }) => {
                ApiError::invalid("set_to", message)
            }
            LedgerError::Balance(_) => unprocessable("validation_failed"),
            LedgerError::VersionConflict { .. } | LedgerError::AlreadyOpened => {
                conflict("version_conflict")
            }
            LedgerError::InvoiceConflict => conflict("invoice_conflict"),
            LedgerError::DiscountCodeConflict => conflict("discount_code_conflict"),
            LedgerError::InvoiceNotPaid => {
                ApiError::not_found("A payment with credits for this invoice")
            }
            LedgerError::RefundOutOfRange { .. } => ApiError::invalid("credits", message),
            LedgerError::ExpiryWithoutGrant => ApiError::invalid("expires_at", message),
            LedgerError::NothingToRefund => unprocessable("nothing_to_refund"),
            LedgerError::Database(error) => ApiError::internal(error),
            LedgerError::GrantsOutOfStep => ApiError::internal(error),
        }
    }
}

/// The console's errors where the API meets them (the pool, a blocking task).
impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unavailable {
                message,
                retry_after_seconds,
            } => ApiError {
                retry_after_seconds: Some(retry_after_seconds),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            },
            AppError::NotFound(message) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            AppError::Internal { reference, .. } => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                format!("Something went wrong on our side. Reference: {reference}"),
            ),
            other => ApiError::new(other.status_code(), "validation_failed", other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        ApiError::internal(error)
    }
}

/// A customer that cannot be created.
impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        let field = match error {
            CustomerError::EmailTaken => "email",
            CustomerError::ExternalIdTaken => "external_id",
            CustomerError::Taken => "",
            CustomerError::Database(error) => return ApiError::internal(error),
        };
        ApiError {
            field: Some(field.to_owned()).filter(|f| !f.is_empty()),
            ..ApiError::new(StatusCode::CONFLICT, "already_exists", error.to_string())
        }
    }
}
