//! `/account/password`: an admin changes their own password; their other sessions end.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::domain::Permission;
use crate::error::AppError;
use crate::forms::password::PasswordFields;
use crate::forms::{FieldError, FieldErrors};
use crate::startup::AppState;
use crate::store::admins::{self, PasswordChangeError};
use crate::views::PasswordPage;
use crate::web::{html, ok, with_conn};

pub async fn show(admin: CurrentAdmin) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ChangeOwnPassword)?;
    ok(&PasswordPage::new(&admin))
}

pub async fn change(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    web::Form(fields): web::Form<PasswordFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ChangeOwnPassword)?;
    let mut page = PasswordPage::new(&admin);
    let change = match fields.parse() {
        Ok(change) => change,
        Err(errors) => {
            page.errors = errors;
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let changed = with_conn(&state.pool, move |conn| {
        Ok(admins::change_own_password(
            conn,
            admin.admin_id,
            admin.session_id,
            &change.current,
            &change.new,
            &admin.audit,
        ))
    })
    .await?;
    match changed {
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
        Err(PasswordChangeError::WrongCurrentPassword) => {
            page.errors = FieldErrors::from(FieldError::new(
                "current_password",
                PasswordChangeError::WrongCurrentPassword,
            ));
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(AppError::internal(error)),
    }
}
