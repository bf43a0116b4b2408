//! `/promo-credits/summary`: the finance summary per currency over a period, and its CSV.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::csv_export::{self, Export};
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::from_query;
use crate::filters::summary::{query_pairs, RawSummaryQuery};
use crate::startup::AppState;
use crate::store::{configs, summary};
use crate::views::promo_credits::summary::{write_summary_row, SummaryPage, SUMMARY_CSV_HEADER};
use crate::views::Layout;
use crate::web::{html, with_conn};

pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::View)?;
    let raw: RawSummaryQuery = from_query(request.query_string())?;
    let checked = raw.parse();
    let period = checked.clone().ok();
    let (configs, lines) = with_conn(&state.pool, move |conn| {
        let configs = configs::list(conn)?;
        let lines = match &period {
            Some(period) => summary::summarize(conn, &configs::codes_of(&configs), period)?,
            None => Vec::new(),
        };
        Ok((configs, lines))
    })
    .await?;
    let layout = Layout::new(&admin, "summary");
    let (status, page) = match checked {
        Ok(period) => (
            StatusCode::OK,
            SummaryPage::new(layout, &raw, &configs, &lines, &query_pairs(&period)),
        ),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            SummaryPage::refused(layout, &raw, &configs, errors),
        ),
    };
    html(status, &page)
}

pub async fn export(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::Export)?;
    let period = from_query::<RawSummaryQuery>(request.query_string())?.parse()?;
    let export = Export::new(&csv_export::SUMMARY, &query_pairs(&period), &admin.audit);
    csv_export::stream(&state, export, move |conn, writer| {
        writer.write_header(SUMMARY_CSV_HEADER)?;
        let configs = configs::list(conn)?;
        let rates = configs::rates_of(&configs);
        for line in summary::summarize(conn, &configs::codes_of(&configs), &period)? {
            let rate = rates.get(&line.currency).copied();
            write_summary_row(writer, &line, &period, rate)?;
        }
        Ok(())
    })
    .await
}
