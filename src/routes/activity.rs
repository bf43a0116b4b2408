//! `/activity`: the activity log with filters, keyset pages and its CSV.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::csv_export::{self, Export};
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::activity::{query_pairs, RawActivityFilter};
use crate::filters::{from_query, with_paging};
use crate::startup::AppState;
use crate::store::activity;
use crate::views::activity::{write_activity_row, ActivityPage, ACTIVITY_CSV_HEADER};
use crate::views::Layout;
use crate::web::{html, with_conn};

/// Rows read per step of an export.
const EXPORT_CHUNK: i64 = 5000;

pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ViewActivity)?;
    let raw: RawActivityFilter = from_query(request.query_string())?;
    let checked = with_paging(raw.parse(), &from_query(request.query_string())?);
    let wanted = checked.clone().ok();
    let rows = with_conn(&state.pool, move |conn| match wanted {
        Some((filter, paging)) => Ok(activity::page(
            conn,
            &filter,
            paging.after,
            paging.per_page + 1,
        )?),
        None => Ok(Vec::new()),
    })
    .await?;
    let status = match checked {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let page = ActivityPage::new(Layout::new(&admin, "activity"), raw, checked, rows);
    html(status, &page)
}

pub async fn export(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ViewActivity)?;
    let filter = from_query::<RawActivityFilter>(request.query_string())?.parse()?;
    let export = Export::new(&csv_export::ACTIVITY, &query_pairs(&filter), &admin.audit);
    csv_export::stream(&state, export, move |conn, writer| {
        writer.write_header(ACTIVITY_CSV_HEADER)?;
        let mut before = None;
        loop {
            let rows = activity::page(conn, &filter, before, EXPORT_CHUNK)?;
            for row in &rows {
                write_activity_row(writer, row)?;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == EXPORT_CHUNK => before = Some(last.id),
                _ => return Ok(()),
            }
        }
    })
    .await
}
