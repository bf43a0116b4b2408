//! Who is signed in, and the guards in front of every URL that is not public: the console's
//! (CSRF on every POST first, then the session) and, in [`api`], the API's bearer key. Each
//! guard wraps its whole scope in `routes::configure`, so a new route is guarded by where it
//! is registered, not by a list of exceptions.

pub mod api;
pub mod sign_in;

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};

use crate::db::DbConnection;
use crate::domain::{Permission, Role};
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::activity::Audit;
use crate::store::sessions;
use crate::web::{client_ip, query_escape, with_conn};

pub const SESSION_COOKIE: &str = "creditdesk_session";
pub const LOGIN_CSRF_COOKIE: &str = "creditdesk_login_csrf";

/// What a multipart upload may carry beyond its file: the other fields and the part headers.
pub const UPLOAD_OVERHEAD: usize = 64 * 1024;

/// The signed-in admin, put in the request by [`guard`].
#[derive(Debug, Clone)]
pub struct CurrentAdmin {
    pub admin_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub session_id: i64,
    pub csrf_token: String,
    /// The admin and their address, as the activity log records them.
    pub audit: Audit,
}

impl CurrentAdmin {
    /// 403, naming the roles that may, unless this admin's role has `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if permission.allows(self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(permission))
        }
    }
}

/// Resolved by the guard on a POST (the CSRF check needs the session); on a GET or HEAD by
/// the extractor, in a blocking call of its own. A handler that wants the session looked up
/// in the same blocking call as its page takes [`Signed`] instead.
impl FromRequest for CurrentAdmin {
    type Error = AppError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed = signed_of(request);
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let signed = signed?;
            if let Some(admin) = signed.admin {
                return Ok(admin);
            }
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))?;
            let (admin, ()) = signed.with_conn(&state, |_, _| Ok(())).await?;
            Ok(admin)
        })
    }
}

/// A console request's session cookie, and its admin when the guard already looked it up.
/// [`Signed::with_conn`] looks the session up and reads the page in one blocking call: one
/// trip to the blocking pool and one connection checkout per request instead of two.
#[derive(Debug, Clone)]
pub struct Signed {
    token: String,
    ip: String,
    admin: Option<CurrentAdmin>,
    sign_in: SignIn,
}

/// Where a request without a live session is sent: the sign-in page, and back here after.
#[derive(Debug, Clone)]
struct SignIn {
    location: String,
    htmx: bool,
}

impl From<SignIn> for AppError {
    fn from(SignIn { location, htmx }: SignIn) -> AppError {
        AppError::SignIn { location, htmx }
    }
}

impl Signed {
    /// An admin already resolved (after a POST's guard).
    pub fn resolved(admin: CurrentAdmin) -> Signed {
        Signed {
            token: String::new(),
            ip: String::new(),
            admin: Some(admin),
            sign_in: SignIn {
                location: "/login".to_owned(),
                htmx: false,
            },
        }
    }

    /// Looks the session up (unless the guard did) and runs `work` with its admin on the same
    /// connection; without a live session, the answer is the way to the sign-in page.
    pub async fn with_conn<T, F>(
        self,
        state: &AppState,
        work: F,
    ) -> Result<(CurrentAdmin, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &CurrentAdmin) -> Result<T, AppError> + Send + 'static,
    {
        let policy = state.settings.sessions;
        with_conn(&state.pool, move |conn| {
            let admin = match self.admin {
                Some(admin) => admin,
                None => resolve(conn, &self.token, policy, self.ip)?
                    .map(|(admin, _)| admin)
                    .ok_or(AppError::from(self.sign_in))?,
            };
            let value = work(conn, &admin)?;
            Ok((admin, value))
        })
        .await
    }
}

impl FromRequest for Signed {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed_of(request))
    }
}

fn signed_of(request: &HttpRequest) -> Result<Signed, AppError> {
    request
        .extensions()
        .get::<Signed>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no session on a guarded route")))
}

/// The live session of a cookie token as the admin it signs in, with the session's CSRF
/// token; none when there is no such session (expired, idle, revoked, admin disabled). One
/// rule for the guard and every handler.
fn resolve(
    conn: &mut DbConnection,
    token: &str,
    policy: sessions::SessionPolicy,
    ip: String,
) -> Result<Option<(CurrentAdmin, String)>, AppError> {
    let Some((session, admin)) = sessions::find_live(conn, token, policy)? else {
        return Ok(None);
    };
    let Ok(role) = Role::parse(&admin.role) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "admin {} has unknown role {:?}",
            admin.id,
            admin.role
        )));
    };
    let csrf_token = session.csrf_token;
    Ok(Some((
        CurrentAdmin {
            admin_id: admin.id,
            audit: Audit::new(admin.email.clone(), Some(ip)),
            email: admin.email,
            name: admin.name,
            role,
            session_id: session.id,
            csrf_token: csrf_token.clone(),
        },
        csrf_token,
    )))
}

pub fn state_of(request: &ServiceRequest) -> Result<web::Data<AppState>, AppError> {
    request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))
}

/// Middleware of the console scope: CSRF on every POST (before anything else), then a live
/// session, else a redirect to `/login?next=`.
pub async fn guard(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = state_of(&request)?;
    let sign_in = sign_in_redirect(request.request());
    let is_post = request.method() == Method::POST;
    let Some(token) = request.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        // Without a session no CSRF token can be right.
        let refusal = if is_post {
            AppError::Csrf
        } else {
            sign_in.into()
        };
        return Ok(request.into_response(refusal.error_response()));
    };
    let ip = client_ip(request.request(), &state.settings.trusted_proxies);
    let mut signed = Signed {
        token,
        ip,
        admin: None,
        sign_in,
    };
    if is_post {
        let (token, ip, policy) = (
            signed.token.clone(),
            signed.ip.clone(),
            state.settings.sessions,
        );
        let session = with_conn(&state.pool, move |conn| resolve(conn, &token, policy, ip)).await?;
        let upload_limit = state.settings.import_max_bytes + UPLOAD_OVERHEAD;
        // Without a session no token can be right: the body is not even read.
        let sent = match session.as_ref() {
            None => Ok(None),
            Some(_) => csrf_token_of(&mut request, upload_limit).await,
        };
        let sent = match sent {
            Ok(sent) => sent,
            Err(error) => {
                let (http_request, _) = request.into_parts();
                return Ok(ServiceResponse::new(http_request, error.error_response()));
            }
        };
        let valid = matches!((&session, &sent), (Some((_, csrf)), Some(sent)) if constant_time_eq(csrf, sent));
        if !valid {
            let (http_request, _) = request.into_parts();
            return Ok(ServiceResponse::new(
                http_request,
                AppError::Csrf.error_response(),
            ));
        }
        signed.admin = session.map(|(admin, _)| admin);
    }
    request.extensions_mut().insert(signed);
    next.call(request)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

fn sign_in_redirect(request: &HttpRequest) -> SignIn {
    let here = match request.query_string() {
        "" => request.path().to_owned(),
        query => format!("{}?{query}", request.path()),
    };
    let location = if here == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", query_escape(&here))
    };
    SignIn {
        location,
        htmx: crate::web::is_htmx(request),
    }
}

async fn csrf_token_of(
    request: &mut ServiceRequest,
    upload_limit: usize,
) -> Result<Option<String>, AppError> {
    if let Some(value) = request.headers().get("X-CSRF-Token") {
        return Ok(value.to_str().ok().map(str::to_owned));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = if content_type.starts_with("application/x-www-form-urlencoded") {
        let Ok(body) = request.extract::<web::Bytes>().await else {
            return Ok(None);
        };
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
    } else if content_type.starts_with("multipart/form-data") {
        let body = read_body(request, upload_limit).await?;
        let token = multipart_field(request.headers(), body.clone(), "csrf_token").await;
        request.set_payload(Payload::from(body));
        token
    } else {
        None
    };
    Ok(token)
}

/// The whole body; 413 beyond `limit` bytes.
async fn read_body(request: &mut ServiceRequest, limit: usize) -> Result<web::Bytes, AppError> {
    use futures_util::StreamExt;
    let mut payload = request.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::Unprocessable("The upload was cut off.".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::TooLarge(format!(
                "This upload is larger than the console accepts: files of up to {} bytes can be imported.",
                limit.saturating_sub(UPLOAD_OVERHEAD)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The text of the multipart field `name`, read from a body held in memory.
async fn multipart_field(
    headers: &header::HeaderMap,
    body: web::Bytes,
    name: &str,
) -> Option<String> {
    use futures_util::StreamExt;
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut multipart = actix_multipart::Multipart::new(headers, stream);
    while let Some(field) = multipart.next().await {
        let mut field = field.ok()?;
        if field.name() != Some(name) {
            continue;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            value.extend_from_slice(&chunk.ok()?);
            if value.len() > 256 {
                return None;
            }
        }
        return String::from_utf8(value).ok();
    }
    None
}

/// Compares secrets without stopping at the first difference.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Where to go after signing in: `next` when it is a path on this site, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) && !path.starts_with("/login") => path.to_owned(),
        _ => "/".to_owned(),
    }
}

/// A path on this site and nothing a browser could read as another one: printable ASCII
/// only (browsers drop tabs and line breaks, so `/<TAB>/evil.example` would become
/// `//evil.example`), one leading `/`, and not followed by `/` or `\`.
fn is_local_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_local_paths_are_next_targets() {
        for good in [
            "/",
            "/users/1?currency=EUR",
            "/promo-credits?email=a%40b&type=x",
        ] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/login?next=/x",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            " /users",
            "/users x",
            "/é",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    proptest! {
        #[test]
        fn an_accepted_next_is_a_plain_local_path(input in "\\PC{0,12}|[/\\\\\t\r\n a-z.]{0,12}") {
            let next = safe_next(Some(&input));
            let bytes = next.as_bytes();
            prop_assert_eq!(bytes[0], b'/');
            prop_assert!(!matches!(bytes.get(1), Some(b'/' | b'\\')));
            prop_assert!(bytes.iter().all(|b| (0x21..=0x7e).contains(b)));
            // What a browser strips before resolving changes nothing: there is none of it.
            let stripped: String = next.chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
            prop_assert_eq!(stripped, next.clone());
            prop_assert!(next == "/" || next == input);
        }

        #[test]
        fn a_control_character_anywhere_is_refused(
            before in "/[a-z]{0,5}",
            control in "[\t\r\n\u{0}\u{7f}\u{85}]",
            after in "[/a-z.]{0,8}",
        ) {
            prop_assert_eq!(safe_next(Some(&format!("{before}{control}{after}"))), "/");
        }

        #[test]
        fn ordinary_paths_are_kept(path in "/[a-z0-9][a-z0-9/?=&%.-]{0,20}") {
            prop_assume!(!path.starts_with("/login"));
            prop_assert_eq!(safe_next(Some(&path)), path);
        }
    }
}
