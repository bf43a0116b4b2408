//! `/promo-credits`: every ledger row with filters, keyset pages and a streamed CSV export;
//! `balances` and `summary` hold the pages below it.

pub mod balances;
pub mod summary;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::csv_export::{self, CsvWriter, Export};
use crate::db::credit_export::{CreditExport, CreditRowSink};
use crate::db::DbConnection;
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::credit_list::{query_pairs, RawCreditFilter};
use crate::filters::{from_query, with_paging};
use crate::startup::AppState;
use crate::store::configs;
use crate::store::credit_list::{self, CreditCells};
use crate::views::promo_credits::{CreditListPage, CsvRows, ResultsFragment, CSV_HEADER};
use crate::views::Layout;
use crate::web::{html, htmx_targets, with_conn};

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
    let pool = state.pool.clone();
    csv_export::stream_prepared(&state, export, move |conn| {
        let rows = credit_list::start_export(conn, &pool, &filter).map_err(AppError::internal)?;
        Ok(move |conn: &mut DbConnection, writer: &mut CsvWriter| {
            write_all_rows(conn, rows, writer)
        })
    })
    .await
}

/// Every row the export's statement reads, formatted where the database did not.
fn write_all_rows(
    conn: &mut DbConnection,
    rows: CreditExport,
    writer: &mut CsvWriter,
) -> anyhow::Result<()> {
    writer.write_header(CSV_HEADER)?;
    let mut sink = Rows {
        writer,
        format: CsvRows::default(),
    };
    rows.write_to(conn, &mut sink)
}

/// The export's CSV writer as the database's rows arrive.
struct Rows<'w> {
    writer: &'w mut CsvWriter,
    format: CsvRows,
}

impl CreditRowSink for Rows<'_> {
    fn formatted(&mut self, csv: &[u8], rows: u64) -> anyhow::Result<()> {
        Ok(self.writer.write_formatted(csv, rows)?)
    }

    fn cells(&mut self, row: &CreditCells<'_>) -> anyhow::Result<()> {
        Ok(self.format.write(self.writer, row)?)
    }
}
