//! `/api-keys`: create API keys (the secret shown once), list and revoke them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::domain::Permission;
use crate::error::AppError;
use crate::forms::api_keys::NewKeyFields;
use crate::startup::AppState;
use crate::store::api_keys;
use crate::views::access::ApiKeysPage;
use crate::views::Layout;
use crate::web::{html, ok, with_conn};

pub async fn list(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    ok(&page(&state, &admin).await?)
}

/// The keys as they are now.
async fn page(state: &AppState, admin: &CurrentAdmin) -> Result<ApiKeysPage, AppError> {
    let keys = with_conn(&state.pool, |conn| Ok(api_keys::list(conn)?)).await?;
    Ok(ApiKeysPage::new(Layout::new(admin, "api-keys"), &keys))
}

pub async fn create(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    web::Form(fields): web::Form<NewKeyFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let name = match fields.parse() {
        Ok(name) => name,
        Err(errors) => {
            let mut view = page(&state, &admin).await?;
            view.name = crate::views::as_typed(&fields.name);
            view.errors = errors;
            return html(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    let (audit, created_by, key_name) = (admin.audit.clone(), admin.admin_id, name.clone());
    let created = with_conn(&state.pool, move |conn| {
        Ok(api_keys::create(conn, &key_name, Some(created_by), &audit)?)
    })
    .await?;
    let mut view = page(&state, &admin).await?;
    view.secret = Some((name, created.secret));
    ok(&view)
}

pub async fn revoke(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let id = path
        .parse::<i64>()
        .map_err(|_| AppError::not_found("This API key"))?;
    let audit = admin.audit.clone();
    let revoked = with_conn(&state.pool, move |conn| {
        Ok(api_keys::revoke(conn, id, &audit)?)
    })
    .await?;
    let name = revoked.ok_or_else(|| AppError::not_found("This API key"))?;
    let mut view = page(&state, &admin).await?;
    view.done = Some(format!(
        "{name} is revoked: requests with it get 401 from now on."
    ));
    ok(&view)
}
