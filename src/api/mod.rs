//! The JSON API's edge (docs/api.md): strict JSON bodies and queries, the caller's key,
//! errors in stable codes, idempotent writes, per-key rate limits, the request bodies with
//! their checks, the JSON views of answers, and the OpenAPI document built from all of it.
//! The handlers are in `crate::routes::api` and have the console's shape: parse, call the
//! ledger or the store, answer.

mod caller;
mod error;
mod json;
pub mod rate_limit;
mod reply;
pub mod requests;
pub mod views;

pub use caller::Caller;
pub use error::ApiError;
pub use json::{ApiJson, ApiQuery, MAX_BODY_BYTES};
pub use reply::{write_once, ApiReply, IdempotencyKey};

use crate::db::{DbConnection, Pool};
use crate::error::AppError;

/// Runs database work off the async workers with a pooled connection, like
/// [`crate::web::with_conn`], in the API's errors.
pub async fn with_conn<T, F>(pool: &Pool, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    crate::web::block(move || {
        let mut conn = pool.get().map_err(AppError::from)?;
        work(&mut conn)
    })
    .await
    .map_err(|error| ApiError::from(AppError::from(error)))?
}

/// A customer id from the path: a positive integer, else this customer does not exist.
pub fn customer_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found("This customer"))
}
