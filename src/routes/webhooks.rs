//! `/webhooks`: endpoints (add with the secret shown once, disable, enable, rotate, test
//! ping) and each endpoint's delivery log (resend, replay since); docs/console.md,
//! "Webhooks".

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::db::{now_utc, DbConnection};
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::from_query;
use crate::filters::webhooks::{DeliveryQuery, RawDeliveryFilter};
use crate::forms::webhooks::{
    EndpointAction, EndpointActionFields, NewEndpointFields, ReplayFields,
};
use crate::forms::FieldErrors;
use crate::startup::AppState;
use crate::store::activity::Audit;
use crate::store::webhooks::{self, DeliveryFilter};
use crate::views::webhooks::{DeliveriesPage, Notice, ShownSecret, WebhooksPage, DELIVERY_PAGE};
use crate::views::Layout;
use crate::web::{html, ok, with_conn, RepeatedForm};

fn endpoint_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| no_endpoint())
}

fn no_endpoint() -> AppError {
    AppError::not_found("This webhook endpoint")
}

/// Owners manage the endpoints here; billing admins and operators read them (and reach
/// each one's delivery log) without the buttons.
pub async fn list(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ViewWebhookDeliveries)?;
    ok(&page(&state, &admin).await?)
}

/// The endpoints as they are now, with an empty add form.
async fn page(state: &AppState, admin: &CurrentAdmin) -> Result<WebhooksPage, AppError> {
    let rows = with_conn(&state.pool, |conn| Ok(webhooks::list(conn)?)).await?;
    Ok(WebhooksPage::new(
        Layout::new(admin, "webhooks"),
        &rows,
        now_utc(),
        state.settings.webhooks.allow_insecure,
        Permission::ManageAccess.allows(admin.role),
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    RepeatedForm(fields): RepeatedForm<NewEndpointFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let new = match fields.parse(state.settings.webhooks.allow_insecure) {
        Ok(new) => new,
        Err(errors) => {
            let view = page(&state, &admin).await?.refilled(fields, errors);
            return html(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    let audit = admin.audit.clone();
    let (endpoint, secret) = with_conn(&state.pool, move |conn| {
        Ok(webhooks::create(conn, &new, &audit)?)
    })
    .await?;
    let mut view = page(&state, &admin).await?;
    view.done = Some(Notice::added(&endpoint));
    view.secret = Some(ShownSecret {
        url: endpoint.url,
        secret: secret.text().to_owned(),
        rotated: false,
    });
    ok(&view)
}

pub async fn change(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
    web::Form(fields): web::Form<EndpointActionFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let id = endpoint_id(&path)?;
    let action = fields.parse()?;
    let audit = admin.audit.clone();
    let (notice, secret) = with_conn(&state.pool, move |conn| act(conn, id, action, &audit))
        .await?
        .ok_or_else(no_endpoint)?;
    let mut view = page(&state, &admin).await?;
    view.done = Some(notice);
    view.secret = secret;
    ok(&view)
}

/// Does `action` to the endpoint `id`: what to confirm, and a new secret to show once;
/// none when there is no such endpoint.
fn act(
    conn: &mut DbConnection,
    id: i64,
    action: EndpointAction,
    audit: &Audit,
) -> Result<Option<(Notice, Option<ShownSecret>)>, AppError> {
    let switch = |conn: &mut DbConnection, enabled: bool| -> Result<_, AppError> {
        Ok(webhooks::set_enabled(conn, id, enabled, audit)?
            .map(|(endpoint, switched)| (Notice::switched(&endpoint, switched), None)))
    };
    match action {
        EndpointAction::Disable => switch(conn, false),
        EndpointAction::Enable => switch(conn, true),
        EndpointAction::Rotate => {
            let Some(secret) = webhooks::rotate(conn, id, audit)? else {
                return Ok(None);
            };
            let endpoint = webhooks::find(conn, id)?.ok_or_else(no_endpoint)?;
            let shown = ShownSecret {
                url: endpoint.url.clone(),
                secret: secret.text().to_owned(),
                rotated: true,
            };
            Ok(Some((Notice::rotated(&endpoint), Some(shown))))
        }
        EndpointAction::Test => {
            let Some(event_id) = webhooks::ping(conn, id, audit)? else {
                return Ok(None);
            };
            let endpoint = webhooks::find(conn, id)?.ok_or_else(no_endpoint)?;
            Ok(Some((Notice::pinged(&endpoint, &event_id), None)))
        }
    }
}

pub async fn deliveries(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ViewWebhookDeliveries)?;
    let id = endpoint_id(&path)?;
    let raw: RawDeliveryFilter = from_query(request.query_string())?;
    let checked = raw.parse();
    let status = match checked {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    html(status, &log(&state, &admin, id, raw, checked).await?)
}

/// The delivery log of endpoint `id` for a checked filter (a refused one shows no rows).
async fn log(
    state: &AppState,
    admin: &CurrentAdmin,
    id: i64,
    raw: RawDeliveryFilter,
    checked: Result<DeliveryQuery, FieldErrors>,
) -> Result<DeliveriesPage, AppError> {
    let wanted = checked.clone().ok();
    let (endpoint, rows) = with_conn(&state.pool, move |conn| {
        let endpoint = webhooks::find(conn, id)?.ok_or_else(no_endpoint)?;
        let rows = match wanted {
            Some(query) => {
                let filter = DeliveryFilter {
                    status: query.status,
                    kind: query.kind,
                };
                webhooks::deliveries(conn, id, filter, query.before, DELIVERY_PAGE + 1)?
            }
            None => Vec::new(),
        };
        Ok((endpoint, rows))
    })
    .await?;
    let can_manage = Permission::ManageAccess.allows(admin.role);
    let layout = Layout::new(admin, "webhooks");
    Ok(DeliveriesPage::new(
        layout,
        &endpoint,
        raw,
        checked,
        &rows,
        can_manage,
        now_utc(),
    ))
}

/// The log's first page, unfiltered: where resend and replay answer.
async fn first_page(
    state: &AppState,
    admin: &CurrentAdmin,
    id: i64,
) -> Result<DeliveriesPage, AppError> {
    log(
        state,
        admin,
        id,
        RawDeliveryFilter::default(),
        Ok(DeliveryQuery::default()),
    )
    .await
}

pub async fn resend(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let no_delivery = || AppError::not_found("This delivery");
    let id = endpoint_id(&path.0)?;
    let delivery_id: i64 = path.1.parse().map_err(|_| no_delivery())?;
    let audit = admin.audit.clone();
    let event_id = with_conn(&state.pool, move |conn| {
        Ok(webhooks::resend(conn, id, delivery_id, &audit)?)
    })
    .await?
    .ok_or_else(no_delivery)?;
    let mut view = first_page(&state, &admin, id).await?;
    view.done = Some(Notice::resent(&event_id));
    ok(&view)
}

pub async fn replay(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
    web::Form(fields): web::Form<ReplayFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let id = endpoint_id(&path)?;
    let since = match fields.parse(now_utc()) {
        Ok(since) => since,
        Err(errors) => {
            let view = first_page(&state, &admin, id).await?;
            let view = view.replay_refused(&fields.since, errors);
            return html(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    let audit = admin.audit.clone();
    let count = with_conn(&state.pool, move |conn| {
        Ok(webhooks::replay_since(conn, id, since, &audit)?)
    })
    .await?
    .ok_or_else(no_endpoint)?;
    let mut view = first_page(&state, &admin, id).await?;
    view.done = Some(Notice::replayed(count, since));
    ok(&view)
}
