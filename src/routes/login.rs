//! `/login` and `/logout`: sign in and out (docs/console.md, "Signing in").

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::sign_in::{sign_in, SignIn};
use crate::auth::{safe_next, CurrentAdmin, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::error::AppError;
use crate::filters::from_query;
use crate::forms::login::LoginFields;
use crate::startup::AppState;
use crate::store::activity;
use crate::store::sessions;
use crate::views::{Layout, LoginPage};
use crate::web::{client_ip, html, see_other, with_conn};

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies)
        .finish()
}

fn removal(name: &str) -> Cookie<'_> {
    let mut cookie = Cookie::build(name, "").path("/").finish();
    cookie.make_removal();
    cookie.set_max_age(CookieDuration::ZERO);
    cookie
}

/// The login form's CSRF token: the one in the browser's cookie, or a new one.
fn login_csrf(request: &HttpRequest) -> (String, bool) {
    match request.cookie(LOGIN_CSRF_COOKIE) {
        Some(c) if c.value().len() == 64 => (c.value().to_owned(), false),
        _ => (sessions::random_token(), true),
    }
}

fn login_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    email: String,
    next: String,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let (token, fresh) = login_csrf(request);
    let page = LoginPage {
        layout: Layout::signed_out(token.clone()),
        email,
        next,
        error: error.map(str::to_owned),
    };
    let mut response = html(status, &page)?;
    if fresh {
        response
            .add_cookie(&cookie(state, LOGIN_CSRF_COOKIE, token))
            .map_err(AppError::internal)?;
    }
    Ok(response)
}

pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let query: NextQuery = from_query(request.query_string())?;
    let next = safe_next(query.next.as_deref());
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        let (token, policy) = (cookie.value().to_owned(), state.settings.sessions);
        let session = with_conn(&state.pool, move |conn| {
            Ok(sessions::find_live(conn, &token, policy)?)
        });
        if session.await?.is_some() {
            return Ok(see_other(&next));
        }
    }
    login_page(&state, &request, StatusCode::OK, String::new(), next, None)
}

pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    web::Form(form): web::Form<LoginFields>,
) -> Result<HttpResponse, AppError> {
    let cookie_token = request.cookie(LOGIN_CSRF_COOKIE);
    form.check_csrf(cookie_token.as_ref().map(|c| c.value()))?;
    let next = safe_next(form.next.as_deref());
    let (status, message) = match form.credentials() {
        Err(message) => (StatusCode::UNPROCESSABLE_ENTITY, message),
        Ok(credentials) => {
            let ip = client_ip(&request, &state.settings.trusted_proxies);
            let policy = state.settings.sessions;
            let signed_in = with_conn(&state.pool, move |conn| {
                Ok(sign_in(conn, &credentials, &ip, policy)?)
            });
            match signed_in.await? {
                SignIn::SignedIn(token) => return signed_in_response(&state, &next, token),
                SignIn::Refused => (StatusCode::UNAUTHORIZED, "The email or password is wrong."),
                SignIn::Throttled => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed sign-ins. Wait a minute, then try again.",
                ),
            }
        }
    };
    let email = form.email_as_typed();
    login_page(&state, &request, status, email, next, Some(message))
}

/// Into the console with the new session's cookie; the login form's token is spent.
fn signed_in_response(
    state: &AppState,
    next: &str,
    token: String,
) -> Result<HttpResponse, AppError> {
    let mut response = see_other(next);
    response
        .add_cookie(&cookie(state, SESSION_COOKIE, token))
        .map_err(AppError::internal)?;
    response
        .add_cookie(&removal(LOGIN_CSRF_COOKIE))
        .map_err(AppError::internal)?;
    Ok(response)
}

pub async fn logout(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    with_conn(&state.pool, move |conn| {
        Ok(crate::db::write_transaction(conn, |conn| {
            sessions::delete(conn, admin.session_id)?;
            activity::record(
                conn,
                activity::Record {
                    audit: &admin.audit,
                    action: "logout",
                    target: &admin.email,
                    details: "",
                    subject: activity::Subject::default(),
                },
            )
        })?)
    })
    .await?;
    let mut response = see_other("/login");
    response
        .add_cookie(&removal(SESSION_COOKIE))
        .map_err(AppError::internal)?;
    Ok(response)
}
