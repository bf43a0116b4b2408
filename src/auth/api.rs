//! The guard of the `/api/v1` scope: every request carries `Authorization: Bearer <key>` of
//! a key that is not revoked, or gets 401 JSON (never a redirect, never a CSRF check: a
//! bearer key is not sent by a browser on its own). docs/api.md describes the API.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};

use crate::store::api_keys::{self, LiveKey};
use crate::web::with_conn;

/// The API key a request came with, put in the request by [`guard`].
pub type CurrentKey = LiveKey;

/// The API's error body: `{"error":{"code","message","field"}}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": { "code": code, "message": message, "field": null }
        }))
}

fn unauthorized() -> HttpResponse {
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Send a valid API key as Authorization: Bearer <key>.",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

pub async fn guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 200);
    let key = match secret {
        Some(secret) => {
            let state = super::state_of(&request)?;
            let found = with_conn(&state.pool, move |conn| {
                Ok(api_keys::find_live(conn, &secret)?)
            })
            .await;
            match found {
                Ok(key) => key,
                Err(error) => {
                    let response =
                        error_response(error.status_code(), "unavailable", &error.to_string());
                    return Ok(request.into_response(response));
                }
            }
        }
        None => None,
    };
    let Some(key) = key else {
        return Ok(request.into_response(unauthorized()));
    };
    request.extensions_mut().insert::<CurrentKey>(key);
    next.call(request)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Any `/api/v1` URL that is not a route of the API, once the key is good.
pub async fn not_found() -> HttpResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no such route in this API.",
    )
}
