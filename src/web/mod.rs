//! Small helpers every handler uses: running diesel off the async workers, rendering
//! templates, redirects and links, the client's address, and htmx's request headers.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use crate::db::{DbConnection, Pool};
use crate::error::AppError;

/// Runs blocking database work on actix's blocking thread pool with a pooled connection.
/// No connection within the pool's checkout timeout: 503 with `Retry-After`.
pub async fn with_conn<T, F>(pool: &Pool, work: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
{
    let pool = pool.clone();
    block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// actix's `web::block`, run inside the caller's tracing span, so what the blocking work
/// logs carries the request id too (docs/operations.md, "Request ids").
pub async fn block<F, R>(work: F) -> Result<R, actix_web::error::BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work)).await
}

/// A form body whose fields may repeat (a group of checkboxes of one name reads into a
/// `Vec`), read with `serde_html_form`; actix's `web::Form` reads with `serde_urlencoded`,
/// which takes one value per field. Same limits and answers as `web::Form` in
/// `crate::startup`: a body over [`crate::startup::FORM_LIMIT`] is 413, one that cannot be
/// read is 422.
pub struct RepeatedForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for RepeatedForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<RepeatedForm<T>, AppError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = request.content_type() == "application/x-www-form-urlencoded";
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_form {
                return Err(AppError::Unprocessable(
                    "The form could not be read: it was not sent as a form.".to_owned(),
                ));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    AppError::Unprocessable("The form was cut off on its way.".to_owned())
                })?;
                if body.len() + chunk.len() > crate::startup::FORM_LIMIT {
                    return Err(AppError::TooLarge(
                        "This form is larger than the console accepts.".to_owned(),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            serde_html_form::from_bytes(&body)
                .map(RepeatedForm)
                .map_err(|error| {
                    AppError::Unprocessable(format!("The form could not be read ({error})."))
                })
        })
    }
}

/// True when htmx made the request (it then wants a fragment, not a page).
pub fn is_htmx(request: &HttpRequest) -> bool {
    request.headers().contains_key("HX-Request")
}

/// True when htmx asks to replace the element with this id.
pub fn htmx_targets(request: &HttpRequest, id: &str) -> bool {
    is_htmx(request)
        && request
            .headers()
            .get("HX-Target")
            .and_then(|v| v.to_str().ok())
            == Some(id)
}

/// A rendered template as an HTML response with the given status.
pub fn html(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(template.render()?))
}

pub fn ok(template: &impl Template) -> Result<HttpResponse, AppError> {
    html(StatusCode::OK, template)
}

/// 303 See Other: after a POST, the browser GETs `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Percent-encodes a value for a query string.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `path?key=value&…` with every value escaped; the bare path without pairs.
pub fn href(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// The address of the person at the other end. `X-Forwarded-For` counts only when the peer
/// is a trusted proxy: then the nearest address in it that is not itself a trusted proxy.
pub fn client_ip(request: &HttpRequest, trusted_proxies: &[IpNet]) -> String {
    let Some(peer) = request.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    forwarded_client(
        peer,
        request.headers().get_all("X-Forwarded-For"),
        trusted_proxies,
    )
    .to_string()
}

fn forwarded_client<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a header::HeaderValue>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = forwarded
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(peer: &str, forwarded: &[&str], trusted: &str) -> String {
        let values: Vec<header::HeaderValue> = forwarded
            .iter()
            .map(|v| header::HeaderValue::from_str(v).unwrap())
            .collect();
        let trusted = crate::config::parse_trusted_proxies(trusted).unwrap();
        forwarded_client(peer.parse().unwrap(), values.iter(), &trusted).to_string()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        assert_eq!(client("203.0.113.9", &["10.9.9.9"], ""), "203.0.113.9");
        assert_eq!(
            client("203.0.113.9", &["10.9.9.9"], "10.0.0.1"),
            "203.0.113.9"
        );
        assert_eq!(
            client("10.0.0.1", &["198.51.100.7"], "10.0.0.1"),
            "198.51.100.7"
        );
        assert_eq!(
            client(
                "10.0.0.1",
                &["6.6.6.6, 198.51.100.7, 10.0.0.2"],
                "10.0.0.0/24"
            ),
            "198.51.100.7",
            "the nearest untrusted hop, not what the client wrote first"
        );
        assert_eq!(
            client("10.0.0.1", &["6.6.6.6", "198.51.100.7"], "10.0.0.1"),
            "198.51.100.7"
        );
        assert_eq!(client("10.0.0.1", &["not an ip"], "10.0.0.1"), "10.0.0.1");
        assert_eq!(client("10.0.0.1", &[], "10.0.0.1"), "10.0.0.1");
    }
}
