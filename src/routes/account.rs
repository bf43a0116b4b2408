//! `/account/password`: an admin changes their own password; their other sessions end.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentAdmin;
use crate::error::AppError;
use crate::passwords::{check_new_password, verify_password};
use crate::startup::AppState;
use crate::store::{activity, admins, sessions};
use crate::views::{Layout, PasswordPage};
use crate::web::{field, html, ok, with_conn};

pub async fn show(admin: CurrentAdmin) -> Result<HttpResponse, AppError> {
    ok(&PasswordPage {
        layout: Layout::new(&admin, "account"),
        email: admin.email.clone(),
        ..PasswordPage::default()
    })
}

#[derive(Deserialize)]
pub struct PasswordFields {
    current_password: Option<String>,
    new_password: Option<String>,
    confirm_password: Option<String>,
}

pub async fn change(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    fields: web::Form<PasswordFields>,
) -> Result<HttpResponse, AppError> {
    let current = field(&fields.current_password).to_owned();
    let new = field(&fields.new_password).to_owned();
    let confirm = field(&fields.confirm_password).to_owned();
    let mut page = PasswordPage {
        layout: Layout::new(&admin, "account"),
        email: admin.email.clone(),
        ..PasswordPage::default()
    };
    if let Err(error) = check_new_password(&new) {
        page.new_error = Some(error.to_string());
    } else if new != confirm {
        page.confirm_error = Some("The two new passwords differ.".to_owned());
    }
    let admin_id = admin.admin_id;
    let keep = admin.session_id;
    let email = admin.email.clone();
    let ip = request.peer_addr().map(|a| a.ip().to_string());
    let checks_passed = page.new_error.is_none() && page.confirm_error.is_none();
    let outcome = with_conn(&state.pool, move |conn| {
        let stored = admins::find_by_email(conn, &email)?
            .ok_or_else(|| AppError::not_found("Your account"))?;
        // Check the current password even when the new one is wrong, so the form says both.
        if !verify_password(&current, &stored.password_hash) {
            return Ok(Err(()));
        }
        if !checks_passed {
            return Ok(Ok(0));
        }
        admins::set_password(conn, admin_id, &new).map_err(AppError::internal)?;
        let ended = sessions::delete_all_for(conn, admin_id, Some(keep))?;
        activity::record(
            conn,
            activity::Record {
                actor: &email,
                action: "password.change",
                target: &email,
                details: &format!("{ended} other sessions ended"),
                ip: ip.as_deref(),
            },
        )?;
        Ok(Ok(ended))
    })
    .await?;
    match outcome {
        Err(()) => {
            page.current_error = Some("That is not your current password.".to_owned());
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Ok(_) if !checks_passed => html(StatusCode::UNPROCESSABLE_ENTITY, &page),
        Ok(ended) => {
            page.done = Some(match ended {
                0 => "Your password was changed.".to_owned(),
                1 => "Your password was changed, and your other session was signed out.".to_owned(),
                n => format!(
                    "Your password was changed, and your {n} other sessions were signed out."
                ),
            });
            ok(&page)
        }
    }
}
