//! `/admins`: add admins, change their role, disable, enable, reset a password
//! (docs/console.md, "Admins and API keys").

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::domain::{Permission, Role};
use crate::error::AppError;
use crate::forms::admins::{AdminChangeFields, NewAdminFields};
use crate::forms::{FieldError, FieldErrors, FORM};
use crate::passwords::generate_password;
use crate::startup::AppState;
use crate::store::admins::{self, AdminError};
use crate::views::access::{AdminsPage, OneTime};
use crate::views::Layout;
use crate::web::{html, ok, with_conn};

pub async fn list(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    ok(&page(&state, &admin).await?)
}

/// The list as it is now.
async fn page(state: &AppState, admin: &CurrentAdmin) -> Result<AdminsPage, AppError> {
    let all = with_conn(&state.pool, |conn| Ok(admins::list(conn)?)).await?;
    Ok(AdminsPage::new(
        Layout::new(admin, "admins"),
        &all,
        admin.admin_id,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    web::Form(fields): web::Form<NewAdminFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let input = match fields.parse() {
        Ok(input) => input,
        Err(errors) => return refused(&state, &admin, fields, errors).await,
    };
    let (password, audit) = (generate_password(), admin.audit.clone());
    let one_time = password.clone();
    let created = with_conn(&state.pool, move |conn| {
        Ok(admins::create(
            conn,
            &input.email,
            &input.name,
            input.role,
            &password,
            &audit,
        ))
    })
    .await?;
    match created {
        Ok(created) => {
            let mut view = page(&state, &admin).await?;
            let role = Role::parse(&created.role).map_or("", Role::label);
            view.done = Some(format!("{} can now sign in as {role}.", created.email));
            view.one_time = Some(OneTime {
                email: created.email,
                password: one_time,
            });
            ok(&view)
        }
        Err(AdminError::EmailTaken(email)) => {
            let error = FieldError::new(
                "email",
                format!("An admin with the email {email} already exists."),
            );
            refused(&state, &admin, fields, error.into()).await
        }
        Err(other) => Err(AppError::internal(other)),
    }
}

/// The list with the add form again, what was typed kept, each message beside its field.
async fn refused(
    state: &AppState,
    admin: &CurrentAdmin,
    fields: NewAdminFields,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let view = page(state, admin).await?.refilled(fields, errors);
    html(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

pub async fn change(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
    web::Form(fields): web::Form<AdminChangeFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let admin_id = path
        .parse::<i64>()
        .map_err(|_| AppError::not_found("This admin"))?;
    let change = fields.parse()?;
    let audit = admin.audit.clone();
    let changed = with_conn(&state.pool, move |conn| {
        Ok(admins::change(conn, admin_id, change, &audit))
    })
    .await?;
    let mut view = page(&state, &admin).await?;
    match changed {
        Ok(changed) => {
            view.one_time = changed.one_time_password.map(|password| OneTime {
                email: changed.admin.email.clone(),
                password,
            });
            view.done = Some(changed.summary);
            ok(&view)
        }
        Err(AdminError::NotFound) => Err(AppError::not_found("This admin")),
        Err(AdminError::LastOwner) => {
            view.errors = FieldError::new(FORM, AdminError::LastOwner).into();
            html(StatusCode::UNPROCESSABLE_ENTITY, &view)
        }
        Err(other) => Err(AppError::internal(other)),
    }
}
