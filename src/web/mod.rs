//! Small helpers every handler uses: running diesel off the async workers, rendering
//! templates, redirects, and reading htmx's request headers.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::db::{DbConnection, Pool};
use crate::error::AppError;

/// Runs blocking database work on actix's blocking thread pool with a pooled connection.
pub async fn with_conn<T, F>(pool: &Pool, work: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// True when htmx made the request (it then wants a fragment, not a page).
pub fn is_htmx(request: &HttpRequest) -> bool {
    request.headers().contains_key("HX-Request")
}

/// A rendered template as an HTML response with the given status.
pub fn html(
    status: actix_web::http::StatusCode,
    template: &impl Template,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(template.render()?))
}

pub fn ok(template: &impl Template) -> Result<HttpResponse, AppError> {
    html(actix_web::http::StatusCode::OK, template)
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

/// A form's text field as typed, or empty when absent.
pub fn field(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}
