//! Who is signed in, and the guard in front of every non-public URL: CSRF first, then the
//! session, then the handler (which checks the role).

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::domain::Role;
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::sessions;
use crate::web::{query_escape, with_conn};

pub const SESSION_COOKIE: &str = "creditdesk_session";
pub const LOGIN_CSRF_COOKIE: &str = "creditdesk_login_csrf";

/// The signed-in admin, put in the request by [`guard`].
#[derive(Debug, Clone)]
pub struct CurrentAdmin {
    pub admin_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub session_id: i64,
    pub csrf_token: String,
}

impl CurrentAdmin {
    /// 403 unless the admin has one of `roles`.
    pub fn require(&self, allowed: impl Fn(Role) -> bool, roles: &[Role]) -> Result<(), AppError> {
        if allowed(self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(roles.to_vec()))
        }
    }

    pub fn require_credit_adjuster(&self) -> Result<(), AppError> {
        self.require(Role::can_adjust_credits, &[Role::Owner, Role::BillingAdmin])
    }
}

impl FromRequest for CurrentAdmin {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<CurrentAdmin>()
                .cloned()
                .ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("no signed-in admin on a guarded route"))
                }),
        )
    }
}

/// URLs anyone may reach (the API checks its own bearer key).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/healthz" | "/metrics" | "/api/openapi.json"
    ) || path.starts_with("/static/")
        || path.starts_with("/api/v1/")
}

/// Middleware: CSRF on every POST (before anything else), then a live session, else a
/// redirect to `/login?next=`.
pub async fn guard(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if is_public(request.path()) {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let state = request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))?;
    let session = match request.cookie(SESSION_COOKIE) {
        Some(cookie) => {
            let token = cookie.value().to_owned();
            with_conn(&state.pool, move |conn| Ok(sessions::find(conn, &token)?)).await?
        }
        None => None,
    };
    if request.method() == Method::POST {
        let sent = csrf_token_of(&mut request).await;
        let valid = matches!((&session, &sent), (Some((s, _)), Some(sent)) if constant_time_eq(&s.csrf_token, sent));
        if !valid {
            let (http_request, _) = request.into_parts();
            return Ok(ServiceResponse::new(
                http_request,
                AppError::Csrf.error_response(),
            ));
        }
    }
    let Some((session, admin)) = session else {
        let response = sign_in_redirect(request.request());
        return Ok(request.into_response(response));
    };
    let Ok(role) = Role::parse(&admin.role) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "admin {} has unknown role {:?}",
            admin.id,
            admin.role
        ))
        .into());
    };
    request.extensions_mut().insert(CurrentAdmin {
        admin_id: admin.id,
        email: admin.email,
        name: admin.name,
        role,
        session_id: session.id,
        csrf_token: session.csrf_token,
    });
    next.call(request)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// To the login page, coming back here afterwards. htmx gets a full-page redirect header.
fn sign_in_redirect(request: &HttpRequest) -> HttpResponse {
    let here = match request.query_string() {
        "" => request.path().to_owned(),
        query => format!("{}?{query}", request.path()),
    };
    let location = if here == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", query_escape(&here))
    };
    if crate::web::is_htmx(request) {
        HttpResponse::build(StatusCode::UNAUTHORIZED)
            .insert_header(("HX-Redirect", location))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish()
    }
}

/// The CSRF token from the `X-CSRF-Token` header or the form's `csrf_token` field; the form
/// body is read and put back for the handler.
async fn csrf_token_of(request: &mut ServiceRequest) -> Option<String> {
    if let Some(value) = request.headers().get("X-CSRF-Token") {
        return value.to_str().ok().map(str::to_owned);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return None;
    }
    let body = request.extract::<web::Bytes>().await.ok()?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(name, _)| name == "csrf_token")
                .map(|(_, value)| value)
        });
    request.set_payload(Payload::from(body));
    token
}

/// Compares secrets without stopping at the first difference.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Only a path on this site may be a `next` target: `/users/1`, not `//evil.example`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.starts_with("/login") =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_next_targets() {
        assert_eq!(
            safe_next(Some("/users/1?currency=EUR")),
            "/users/1?currency=EUR"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/login?next=/x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
