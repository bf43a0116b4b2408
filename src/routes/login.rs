//! Sign in and out.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use time::Duration;

use crate::auth::{constant_time_eq, safe_next, CurrentAdmin, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::db::now_utc;
use crate::error::AppError;
use crate::passwords::verify_password;
use crate::startup::AppState;
use crate::store::{activity, admins, sessions};
use crate::views::{Layout, LoginPage};
use crate::web::{html, see_other, with_conn};

/// Failed sign-ins allowed per email and per IP within a minute.
const MAX_FAILURES_PER_MINUTE: i64 = 5;

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf_token: Option<String>,
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
    cookie
}

fn client_ip(request: &HttpRequest) -> String {
    request
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
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
    email: &str,
    next: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (token, fresh) = login_csrf(request);
    let page = LoginPage {
        layout: Layout::signed_out(token.clone()),
        email: email.to_owned(),
        next: next.to_owned(),
        error,
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
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        let token = cookie.value().to_owned();
        if with_conn(&state.pool, move |conn| Ok(sessions::find(conn, &token)?))
            .await?
            .is_some()
        {
            return Ok(see_other(&next));
        }
    }
    login_page(&state, &request, StatusCode::OK, "", &next, None)
}

pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let cookie_token = request
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned());
    let csrf_ok =
        matches!((&cookie_token, &form.csrf_token), (Some(a), Some(b)) if constant_time_eq(a, b));
    if !csrf_ok {
        return Err(AppError::Csrf);
    }
    let email = form.email.unwrap_or_default().trim().to_lowercase();
    let password = form.password.unwrap_or_default();
    let next = safe_next(form.next.as_deref());
    let ip = client_ip(&request);

    let outcome = {
        let (email, ip) = (email.clone(), ip.clone());
        with_conn(&state.pool, move |conn| {
            let (by_email, by_ip) = activity::recent_login_failures(
                conn,
                &email,
                &ip,
                now_utc() - Duration::minutes(1),
            )?;
            let record = |conn: &mut _, action: &str| {
                activity::record(
                    conn,
                    activity::Record {
                        actor: &email,
                        action,
                        target: &email,
                        details: "",
                        ip: Some(&ip),
                    },
                )
            };
            if by_email >= MAX_FAILURES_PER_MINUTE || by_ip >= MAX_FAILURES_PER_MINUTE {
                record(conn, "login.throttled")?;
                return Ok(LoginOutcome::Throttled);
            }
            let admin = admins::find_by_email(conn, &email)?;
            // Verify against something even for an unknown email, so timing does not tell.
            let hash = admin
                .as_ref()
                .map(|a| a.password_hash.as_str())
                .unwrap_or(DUMMY_HASH);
            let valid = verify_password(&password, hash);
            match admin {
                Some(admin) if valid && !admin.disabled => {
                    let (token, _) = sessions::create(conn, admin.id)?;
                    record(conn, "login.succeeded")?;
                    Ok(LoginOutcome::SignedIn(token))
                }
                _ => {
                    record(conn, activity::LOGIN_FAILED)?;
                    Ok(LoginOutcome::Failed)
                }
            }
        })
        .await?
    };
    match outcome {
        LoginOutcome::SignedIn(token) => {
            let mut response = see_other(&next);
            response
                .add_cookie(&cookie(&state, SESSION_COOKIE, token))
                .map_err(AppError::internal)?;
            response
                .add_cookie(&removal(LOGIN_CSRF_COOKIE))
                .map_err(AppError::internal)?;
            Ok(response)
        }
        LoginOutcome::Failed => login_page(
            &state,
            &request,
            StatusCode::UNAUTHORIZED,
            &email,
            &next,
            Some("The email or password is wrong.".into()),
        ),
        LoginOutcome::Throttled => login_page(
            &state,
            &request,
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            &next,
            Some("Too many failed sign-ins. Wait a minute, then try again.".into()),
        ),
    }
}

enum LoginOutcome {
    SignedIn(String),
    Failed,
    Throttled,
}

/// An argon2id hash of a random string nobody knows.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$N2WlUhgcgkVjYaN8r+zcCY1IptbYQ1U6jW8zYHdZnDc";

pub async fn logout(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&request);
    with_conn(&state.pool, move |conn| {
        sessions::delete(conn, admin.session_id)?;
        activity::record(
            conn,
            activity::Record {
                actor: &admin.email,
                action: "logout",
                target: &admin.email,
                details: "",
                ip: Some(&ip),
            },
        )?;
        Ok(())
    })
    .await?;
    let mut response = see_other("/login");
    let mut gone = removal(SESSION_COOKIE);
    gone.set_max_age(CookieDuration::ZERO);
    response.add_cookie(&gone).map_err(AppError::internal)?;
    Ok(response)
}
