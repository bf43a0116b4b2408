//! The request id (docs/operations.md, "Request ids"): taken from `X-Request-Id` when a
//! client or proxy sent a sane one, else made up; sent back on every response and carried by
//! every log line written while the request is served.

use std::fmt;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use rand::Rng;

/// The header that carries it, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a client.
const MAX_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id a client sent, when it is 1 to 64 characters of `A-Z a-z 0-9 . _ -` (safe in a
    /// header, a log line and a page); anything else is not taken.
    pub fn accept(sent: &str) -> Option<RequestId> {
        let sane = (1..=MAX_LEN).contains(&sent.len())
            && sent
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        sane.then(|| RequestId(sent.to_owned()))
    }

    /// A fresh id: 16 random bytes in hex.
    pub fn generate() -> RequestId {
        RequestId(format!("{:032x}", rand::thread_rng().gen::<u128>()))
    }

    /// The sane id the request carries, else a fresh one.
    pub fn for_request(request: &HttpRequest) -> RequestId {
        request
            .headers()
            .get(&HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(RequestId::accept)
            .unwrap_or_else(RequestId::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn header_value(&self) -> HeaderValue {
        // Only visible ASCII gets in (see `accept` and `generate`).
        HeaderValue::from_str(&self.0).expect("a request id is a valid header value")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A handler can take the id as an argument; the middleware in `crate::startup` stores it.
impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<RequestId, actix_web::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = request.extensions().get::<RequestId>().cloned();
        std::future::ready(Ok(id.unwrap_or_else(|| RequestId::for_request(request))))
    }
}

/// An error that left the application's services as an error rather than a response (a
/// middleware's `?`): actix turns it into a response only after every middleware has run,
/// so the id and the headers every response has are added here, as that response is made.
#[derive(Debug)]
pub struct Tagged {
    pub error: actix_web::Error,
    pub id: RequestId,
    pub headers: &'static [(&'static str, &'static str)],
}

impl fmt::Display for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for Tagged {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error.error_response();
        let headers = response.headers_mut();
        headers.insert(HEADER, self.id.header_value());
        for (name, value) in self.headers {
            let name = HeaderName::from_static(name);
            if !headers.contains_key(&name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_taken_and_others_are_not() {
        for sane in ["a", "req-1.2_3", &"x".repeat(64), "0123456789abcdef"] {
            assert_eq!(RequestId::accept(sane).unwrap().as_str(), sane);
        }
        for insane in [
            "",
            &"x".repeat(65),
            "a b",
            "a\"b",
            "é",
            "a/b",
            "a;b",
            "<script>",
        ] {
            assert!(RequestId::accept(insane).is_none(), "{insane:?}");
        }
    }

    #[test]
    fn generated_ids_are_sane_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(RequestId::accept(a.as_str()).is_some());
    }
}
