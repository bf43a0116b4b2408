//! Reading a request's JSON strictly: a bounded body, unknown fields refused by name, and a
//! wrong type named by its field (`serde_path_to_error`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::domain::quoted;

/// The largest body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON body read into `T`, with the hash that tells the same request from another
/// (idempotency, repeated payments).
pub struct ApiJson<T> {
    pub value: T,
    pub hash: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "validation_failed",
                        format!("The body could not be read: {e}"),
                    )
                })?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "validation_failed",
                        "The body is larger than 16 KB.",
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            let body = body.freeze();
            let is_json = content_type.as_deref().is_some_and(|t| {
                let t = t.split(';').next().unwrap_or("").trim();
                t == "application/json" || t.ends_with("+json")
            });
            if !body.is_empty() && !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "validation_failed",
                    "Send the body as application/json.",
                ));
            }
            parse(&body)
        })
    }
}

/// `T` from `body` (an empty body reads as `{}`), or the first problem, by field.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<ApiJson<T>, ApiError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            format!("The body is not valid JSON: {e}"),
        )
    })?;
    let hash = hex::encode(Sha256::digest(value.to_string().as_bytes()));
    let typed = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let raw = error.inner().to_string();
        let field = unknown_field(&raw).unwrap_or(path);
        let message = readable(&raw);
        ApiError::invalid(if field == "." { String::new() } else { field }, message)
    })?;
    Ok(ApiJson { value: typed, hash })
}

/// A query string read into `T` (a struct of optional texts that refuses unknown
/// parameters), naming a parameter it does not know.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            serde_urlencoded::from_str(request.query_string())
                .map(ApiQuery)
                .map_err(|error| {
                    let raw = error.to_string();
                    let field = unknown_field(&raw).unwrap_or_default();
                    let message = readable(&raw);
                    ApiError::invalid(field, format!("The query could not be read: {message}."))
                }),
        )
    }
}

/// serde's message in a caller's words: what was sent named by its kind, not echoed in
/// Rust's debug form (`invalid type: string, expected a whole number`), a name the caller
/// made up quoted visibly, and Rust's integer types named by what they hold.
fn readable(message: &str) -> String {
    let message = without_echo(message);
    ["i64", "i32", "u64", "u32"]
        .iter()
        .fold(message, |text, rust_type| {
            text.replace(&format!("expected {rust_type}"), "expected a whole number")
        })
}

/// `invalid type: string "\u{7}", expected …` → `invalid type: string, expected …`;
/// ``unknown variant `x`, expected …`` → `unknown value "x", expected …` (and fields alike).
fn without_echo(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            let end = [found.find(" `"), found.find(" \"")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(found.len());
            return format!("{prefix}{}, expected {expected}", &found[..end]);
        }
    }
    for (prefix, what) in [("unknown variant `", "value"), ("unknown field `", "field")] {
        if let Some((name, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once("`, expected "))
        {
            return format!("unknown {what} {}, expected {expected}", quoted(name));
        }
    }
    message.to_owned()
}

/// The name in serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        change: i64,
    }

    fn error(body: &str) -> ApiError {
        parse::<Body>(&Bytes::from(body.to_owned())).err().unwrap()
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        assert_eq!(error(r#"{"change": "5"}"#).field.as_deref(), Some("change"));
        assert_eq!(error(r#"{"change": 1.5}"#).field.as_deref(), Some("change"));
        assert_eq!(
            error(r#"{"change": 5, "chagne": 1}"#).field.as_deref(),
            Some("chagne")
        );
        assert!(error(r#"{"change": 5, "chagne": 1}"#)
            .message
            .contains(r#"unknown field "chagne", expected `change`"#));
        assert_eq!(
            error(r#"{"change": "5"}"#).message,
            "invalid type: string, expected a whole number"
        );
        assert_eq!(error("{").status, StatusCode::BAD_REQUEST);
        assert_eq!(error("").code, "validation_failed", "a missing field");
        let same = parse::<Body>(&Bytes::from(r#"{"change":5}"#)).unwrap();
        let spaced = parse::<Body>(&Bytes::from("{ \"change\" : 5 }")).unwrap();
        assert_eq!(
            same.hash, spaced.hash,
            "the same JSON, whatever its spacing"
        );
    }
}
