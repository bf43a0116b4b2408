//! Errors of the console.
//!
//! Which type where: model code returns `QueryResult` or its concern's error, the ledger
//! `LedgerError`, CLI code `anyhow`; handlers return `AppError`, whose response is a short page
//! a person can act on. Errors a person cannot cause are logged with their whole cause chain
//! under a reference that the page shows, and nothing internal reaches the browser.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use rand::Rng;

use crate::db;
use crate::domain::{Permission, Role};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("This needs the {} role.", role_names(.0.roles()))]
    Forbidden(Permission),
    #[error(
        "The form has expired or did not come from this console. Reload the page and try again."
    )]
    Csrf,
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    TooLarge(String),
    /// The server is busy or the database is not answering: worth trying again shortly.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_seconds: u32,
    },
    /// No live session: to the sign-in page, and back to `location`'s `next` after.
    #[error("Sign in to continue.")]
    SignIn { location: String, htmx: bool },
    #[error("Something went wrong on our side.")]
    Internal {
        reference: String,
        source: anyhow::Error,
    },
}

fn role_names(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(|r| r.label()).collect();
    names.join(" or ")
}

impl AppError {
    pub fn not_found(what: &str) -> AppError {
        AppError::NotFound(format!("{what} was not found."))
    }

    /// Logs an unexpected failure under a fresh reference. A failure caused by a database
    /// that stopped answering (anywhere in its chain of sources, see [`db::is_unreachable`])
    /// is no bug: it is [`AppError::database_unavailable`].
    pub fn internal(source: impl Into<anyhow::Error>) -> AppError {
        let source = source.into();
        let unreachable = source.chain().any(|cause| {
            cause
                .downcast_ref::<diesel::result::Error>()
                .is_some_and(db::is_unreachable)
                || cause
                    .downcast_ref::<db::copy::CopyError>()
                    .is_some_and(db::copy::CopyError::is_unreachable)
        });
        if unreachable {
            tracing::warn!(error = %source, "the database stopped answering");
            return AppError::database_unavailable();
        }
        let reference = format!("{:08x}", rand::thread_rng().gen::<u32>());
        tracing::error!(reference, error = ?source, "request failed");
        AppError::Internal { reference, source }
    }

    /// 503 with `Retry-After`: no connection in time, or the database is not answering.
    pub fn database_unavailable() -> AppError {
        AppError::Unavailable {
            message: "The database is busy or not answering. Please try again in a few seconds."
                .to_owned(),
            retry_after_seconds: 5,
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => AppError::not_found("The page"),
            other => AppError::internal(other),
        }
    }
}

/// The pool gave no connection in time: every connection is busy or the database is down.
impl From<r2d2::Error> for AppError {
    fn from(error: r2d2::Error) -> Self {
        tracing::warn!(%error, "no database connection in time");
        AppError::database_unavailable()
    }
}

/// A refusal of the ledger where there is no form to show it on.
impl From<crate::ledger::LedgerError> for AppError {
    fn from(error: crate::ledger::LedgerError) -> Self {
        use crate::ledger::LedgerError;
        match error {
            LedgerError::CustomerNotFound => AppError::not_found("This customer"),
            LedgerError::Database(error) => AppError::internal(error),
            refused => AppError::Unprocessable(refused.to_string()),
        }
    }
}

/// Parameters that need fixing, where there is no form to show them on.
impl From<crate::forms::FieldErrors> for AppError {
    fn from(errors: crate::forms::FieldErrors) -> Self {
        AppError::Unprocessable(errors.sentence())
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        AppError::internal(error)
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        AppError::internal(anyhow::anyhow!("{error}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    reference: Option<&'a str>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            // htmx follows `HX-Redirect`, not a 303 answering its own request.
            AppError::SignIn { htmx: true, .. } => StatusCode::UNAUTHORIZED,
            AppError::SignIn { htmx: false, .. } => StatusCode::SEE_OTHER,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::SignIn { location, htmx } = self {
            let header = if *htmx { "HX-Redirect" } else { "Location" };
            return HttpResponse::build(status)
                .insert_header((header, location.as_str()))
                .finish();
        }
        let title = match self {
            AppError::NotFound(_) => "Not found",
            AppError::Forbidden(_) => "Not allowed",
            AppError::Csrf => "Form expired",
            AppError::TooManyRequests(_) => "Too many attempts",
            AppError::Unprocessable(_) => "Cannot do that",
            AppError::TooLarge(_) => "Too large",
            AppError::Unavailable { .. } => "Busy, try again",
            AppError::Internal { .. } => "Something went wrong",
            AppError::SignIn { .. } => "Sign in",
        };
        let reference = match self {
            AppError::Internal { reference, .. } => Some(reference.as_str()),
            _ => None,
        };
        let page = ErrorPage {
            title,
            message: self.to_string(),
            reference,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{title}: {}", self));
        let mut response = HttpResponse::build(status);
        if let AppError::Unavailable {
            retry_after_seconds,
            ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
        }
        response
            .content_type("text/html; charset=utf-8")
            // htmx shows only the message, in the page's message area.
            .insert_header(("HX-Retarget", "#flash"))
            .insert_header(("HX-Reswap", "innerHTML"))
            .insert_header(("HX-Reselect", ".error-message"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    }
}
