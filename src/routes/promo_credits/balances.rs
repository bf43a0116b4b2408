//! `/promo-credits/balances`: one row per credit account, now or as of a past day, with its
//! CSV download.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::csv_export::{self, Export};
use crate::db::now_utc;
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::balances::{query_pairs, RawBalanceFilter};
use crate::filters::{from_query, with_paging};
use crate::startup::AppState;
use crate::store::{balances, configs};
use crate::views::promo_credits::balances::{write_balance_row, BalancesPage, BALANCES_CSV_HEADER};
use crate::views::Layout;
use crate::web::{html, with_conn};

/// Accounts read per step of an export.
const EXPORT_CHUNK: i64 = 1000;

pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::View)?;
    let raw: RawBalanceFilter = from_query(request.query_string())?;
    let checked = with_paging(raw.parse(), &from_query(request.query_string())?);
    let wanted = checked.clone().ok();
    let today = now_utc().date();
    let (configs, page) = with_conn(&state.pool, move |conn| {
        let page = wanted
            .map(|(filter, paging)| {
                balances::page(conn, &filter, today, paging.after, paging.per_page)
            })
            .transpose()?;
        Ok((configs::list(conn)?, page))
    })
    .await?;
    let layout = Layout::new(&admin, "balances");
    let view = BalancesPage::new(layout, raw, &configs, checked, page);
    html(view.status(), &view)
}

pub async fn export(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::Export)?;
    let filter = from_query::<RawBalanceFilter>(request.query_string())?.parse()?;
    let export = Export::new(&csv_export::BALANCES, &query_pairs(&filter), &admin.audit);
    let today = now_utc().date();
    csv_export::stream(&state, export, move |conn, writer| {
        writer.write_header(BALANCES_CSV_HEADER)?;
        let rates = configs::rates(conn)?;
        let mut after = None;
        loop {
            let (rows, more) = balances::page(conn, &filter, today, after, EXPORT_CHUNK)?;
            for row in &rows {
                write_balance_row(writer, row, rates.get(&row.currency).copied())?;
            }
            match (more, rows.last()) {
                (true, Some(last)) => after = Some(last.account_id),
                _ => return Ok(()),
            }
        }
    })
    .await
}
