//! The guard of the `/api/v1` scope: every request carries `Authorization: Bearer <key>` of
//! a key that is not revoked, or gets 401 JSON (never a redirect, never a CSRF check: a
//! bearer key is not sent by a browser on its own); then the key's rate limit applies.
//! docs/api.md describes the API.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};

use crate::api::{self, ApiError, Caller};
use crate::store::activity::Audit;
use crate::store::api_keys;
use crate::web::client_ip;

pub async fn guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match caller_of(&request).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.call(request)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Err(error) => Ok(request.into_response(error.error_response())),
    }
}

/// The live key the request names, within its rate limit.
async fn caller_of(request: &ServiceRequest) -> Result<Caller, ApiError> {
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .ok_or_else(ApiError::unauthorized)?;
    let state = super::state_of(request)?;
    let key = api::with_conn(&state.pool, move |conn| {
        Ok(api_keys::find_live(conn, &secret)?)
    })
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    state
        .api_limits
        .check(key.id, Instant::now())
        .map_err(ApiError::rate_limited)?;
    let ip = client_ip(request.request(), &state.settings.trusted_proxies);
    Ok(Caller {
        key_id: key.id,
        audit: Audit::new(key.name, Some(ip)),
    })
}
