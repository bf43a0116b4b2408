//! `/promo-credits`: every ledger row with filters, keyset pages and a streamed CSV export;
//! `balances` and `summary` hold the pages below it.

pub mod balances;
pub mod summary;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::csv_export::{self, CsvWriter, Export};
use crate::db::DbConnection;
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::credit_list::{query_pairs, RawCreditFilter};
use crate::filters::{from_query, with_paging};
use crate::startup::AppState;
use crate::store::configs;
use crate::store::credit_list::{self, CreditFilter};
use crate::views::promo_credits::{write_csv_row, CreditListPage, ResultsFragment, CSV_HEADER};
use crate::views::Layout;
use crate::web::{html, htmx_targets, with_conn};

/// Rows read per step of an export.
const EXPORT_CHUNK: i64 = 5000;

pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::View)?;
    let raw: RawCreditFilter = from_query(request.query_string())?;
    let checked = with_paging(raw.parse(), &from_query(request.query_string())?);
    let wanted = checked.clone().ok();
    let (currencies, page) = with_conn(&state.pool, move |conn| {
        let page = wanted
            .map(|(filter, paging)| {
                credit_list::list_page(conn, &filter, paging.after, paging.per_page)
            })
            .transpose()?;
        Ok((configs::currency_codes(conn)?, page))
    })
    .await?;
    let layout = Layout::new(&admin, "credits");
    let activity_links = Permission::ViewActivity.allows(admin.role);
    let view = CreditListPage::new(layout, raw, currencies, checked, page, activity_links);
    if htmx_targets(&request, "credit-list-results") {
        return html(
            view.status(),
            &ResultsFragment {
                results: view.results,
            },
        );
    }
    html(view.status(), &view)
}

pub async fn export(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::Export)?;
    let filter = from_query::<RawCreditFilter>(request.query_string())?.parse()?;
    let export = Export::new(
        &csv_export::CREDIT_LIST,
        &query_pairs(&filter),
        &admin.audit,
    );
    csv_export::stream(&state, export, move |conn, writer| {
        write_all_rows(conn, &filter, writer)
    })
    .await
}

/// Every row the filter selects, in keyset chunks.
fn write_all_rows(
    conn: &mut DbConnection,
    filter: &CreditFilter,
    writer: &mut CsvWriter,
) -> anyhow::Result<()> {
    writer.write_header(CSV_HEADER)?;
    let customers = credit_list::resolve_customers(conn, filter)?;
    let mut cursor = None;
    loop {
        let rows = credit_list::page(conn, filter, &customers, cursor, EXPORT_CHUNK)?;
        let Some(last) = rows.last() else { break };
        cursor = Some((last.created_at, last.id));
        let full = rows.len() as i64 == EXPORT_CHUNK;
        for listed in credit_list::with_names(conn, rows)? {
            write_csv_row(writer, &listed)?;
        }
        if !full {
            return Ok(());
        }
    }
    Ok(())
}
