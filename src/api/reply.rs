//! The API's successful answers, and writes done at most once per `Idempotency-Key`
//! (docs/api.md, "Idempotency").

use std::future::{ready, Ready};

use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder};
use serde::Serialize;

use super::{with_conn, ApiError, Caller};
use crate::db::{write_transaction, DbConnection};
use crate::startup::AppState;
use crate::store::idempotency::{self, KeyUse};

/// The most characters an `Idempotency-Key` may have.
pub const MAX_KEY_CHARS: usize = 255;

/// A 2xx answer with its JSON body, as first given or given again for a repeated key.
#[derive(Debug, Clone)]
pub struct ApiReply {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

impl ApiReply {
    pub fn ok(value: &impl Serialize) -> Result<ApiReply, ApiError> {
        ApiReply::new(StatusCode::OK, value)
    }

    pub fn created(value: &impl Serialize) -> Result<ApiReply, ApiError> {
        ApiReply::new(StatusCode::CREATED, value)
    }

    fn new(status: StatusCode, value: &impl Serialize) -> Result<ApiReply, ApiError> {
        let body = serde_json::to_string(value).map_err(ApiError::internal)?;
        Ok(ApiReply {
            status,
            body,
            replayed: false,
        })
    }
}

impl Responder for ApiReply {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .content_type("application/json")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if self.replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.body(self.body)
    }
}

/// The request's `Idempotency-Key` (if any) and the route it is scoped to.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: Option<String>,
    route: String,
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let route = format!("{} {}", request.method(), request.path());
        let key = match request.headers().get("Idempotency-Key") {
            None => Ok(None),
            Some(value) => match value.to_str() {
                Ok(text) if !text.trim().is_empty() && text.len() <= MAX_KEY_CHARS => {
                    Ok(Some(text.to_owned()))
                }
                _ => Err(ApiError::invalid(
                    "Idempotency-Key",
                    format!(
                        "Send an Idempotency-Key of 1 to {MAX_KEY_CHARS} visible ASCII characters."
                    ),
                )),
            },
        };
        ready(key.map(|key| IdempotencyKey { key, route }))
    }
}

/// Runs `work` in one write transaction that first claims the request's idempotency key: a
/// key seen before with the same body (`hash`) gives its first answer again and runs
/// nothing; with another body it is refused. Without a key, `work` just runs. A refusal
/// rolls the claim back, so only successful answers are kept.
pub async fn write_once<F>(
    state: &AppState,
    caller: &Caller,
    once: IdempotencyKey,
    hash: String,
    work: F,
) -> Result<ApiReply, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<ApiReply, ApiError> + Send + 'static,
{
    let api_key_id = caller.key_id;
    with_conn(&state.pool, move |conn| {
        let Some(key) = once.key.as_deref() else {
            return work(conn);
        };
        let key_use = KeyUse {
            api_key_id,
            route: &once.route,
            key,
            request_hash: &hash,
        };
        write_transaction(conn, |conn| match idempotency::claim(conn, &key_use)? {
            Some(stored) if stored.request_hash == hash => Ok(ApiReply {
                status: StatusCode::from_u16(stored.status).map_err(ApiError::internal)?,
                body: stored.response,
                replayed: true,
            }),
            Some(_) => Err(ApiError::idempotency_mismatch()),
            None => {
                let reply = work(conn)?;
                idempotency::remember(conn, &key_use, reply.status.as_u16(), &reply.body)?;
                Ok(reply)
            }
        })
    })
    .await
}
