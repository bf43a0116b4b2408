//! `/promo-credits`: every ledger row with filters, keyset pages and a streamed CSV export.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::csv_export;
use crate::db::models::CreditTransaction;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::credit_list::{self, CreditFilter, Customers, RawFilter};
use crate::store::{activity, configs, credits};
use crate::views::credit_list::{
    write_csv_row, CreditListPage, FilterForm, ListRow, ListedRow, Results, ResultsFragment,
    CSV_HEADER,
};
use crate::views::Layout;
use crate::web::{html, is_htmx, query_escape, with_conn};

const EXPORT_CHUNK: i64 = 5000;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Paging {
    pub per_page: Option<String>,
    pub after: Option<String>,
}

impl Paging {
    /// The page size (the SPEC's 20, 50 or 100; 50 otherwise) and the keyset cursor.
    pub fn read(query: &str) -> (i64, Option<i64>) {
        let paging: Paging = serde_html_form::from_str(query).unwrap_or_default();
        let after = paging
            .after
            .as_deref()
            .and_then(|a| a.trim().parse::<i64>().ok());
        (per_page(&paging), after)
    }
}

/// The SPEC's page sizes; anything else falls back to 50.
fn per_page(paging: &Paging) -> i64 {
    match paging.per_page.as_deref().map(str::trim) {
        Some("20") => 20,
        Some("100") => 100,
        _ => 50,
    }
}

pub fn href(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Reads rows with the customer and actor each names: one query per kind, not per row.
fn with_names(
    conn: &mut DbConnection,
    rows: Vec<CreditTransaction>,
) -> Result<Vec<(CreditTransaction, String, String, String)>, AppError> {
    let customers = credit_list::customers_of(conn, &rows)?;
    let labels = credits::actor_labels(conn, &rows)?;
    Ok(rows
        .into_iter()
        .zip(labels)
        .map(|(row, by)| {
            let (email, external) = customers.get(&row.user_id).cloned().unwrap_or_default();
            (row, email, external.unwrap_or_default(), by)
        })
        .collect())
}

pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let raw: RawFilter = serde_html_form::from_str(request.query_string()).unwrap_or_default();
    let (per_page, after) = Paging::read(request.query_string());
    let parsed = raw.parse();

    let (currencies, results) = {
        let parsed = parsed.clone();
        with_conn(&state.pool, move |conn| {
            let currencies: Vec<String> = configs::list(conn)?
                .into_iter()
                .map(|c| c.currency)
                .collect();
            let Ok(filter) = parsed else {
                return Ok((currencies, None));
            };
            let customers = credit_list::resolve_customers(conn, &filter)?;
            let cursor = match after {
                Some(id) => credit_list::cursor_of(conn, id)?,
                None => None,
            };
            let mut rows = credit_list::page(conn, &filter, &customers, cursor, per_page + 1)?;
            let more = rows.len() as i64 > per_page;
            rows.truncate(per_page as usize);
            let totals = credit_list::totals(conn, &filter, &customers)?;
            Ok((
                currencies,
                Some((filter, with_names(conn, rows)?, more, totals)),
            ))
        })
        .await?
    };

    let (status, errors, results) = match results {
        Some((filter, rows, more, totals)) => {
            let mut pairs = filter.query_pairs();
            pairs.push(("per_page", per_page.to_string()));
            let last_id = rows.last().map(|(row, ..)| row.id);
            let listed: Vec<ListRow> = rows
                .iter()
                .map(|(row, email, external, by)| {
                    ListRow::new(&ListedRow {
                        row,
                        email,
                        external_id: external,
                        by,
                    })
                })
                .collect();
            let next_href = match (more, last_id) {
                (true, Some(id)) => {
                    let mut next = pairs.clone();
                    next.push(("after", id.to_string()));
                    Some(href("/promo-credits", &next))
                }
                _ => None,
            };
            let results = Results {
                rows: listed,
                totals_text: match totals {
                    Some(totals) => Results::describe(&totals),
                    None => format!(
                        "More than {} customers match this email: narrow it to see totals.",
                        crate::domain::format_credits(credit_list::MAX_LISTED_CUSTOMERS)
                    ),
                },
                next_href,
                first_href: after.map(|_| href("/promo-credits", &pairs)),
                export_href: href("/promo-credits/export.csv", &filter.query_pairs()),
            };
            (StatusCode::OK, Vec::new(), results)
        }
        None => {
            let results = Results {
                rows: Vec::new(),
                totals_text: "Fix the filters to see the list.".to_owned(),
                next_href: None,
                first_href: None,
                export_href: "/promo-credits/export.csv".to_owned(),
            };
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                parsed.err().unwrap_or_default(),
                results,
            )
        }
    };
    let fragment_only = is_htmx(&request)
        && request
            .headers()
            .get("HX-Target")
            .and_then(|v| v.to_str().ok())
            == Some("credit-list-results");
    if fragment_only {
        return html(status, &ResultsFragment { results });
    }
    html(
        status,
        &CreditListPage {
            layout: Layout::new(&admin, "credits"),
            form: FilterForm::new(raw, per_page, currencies, errors),
            results,
        },
    )
}

/// Answers 422 in plain words when an export's filters are wrong.
pub fn filter_errors(errors: Vec<(&'static str, String)>) -> AppError {
    let messages: Vec<String> = errors
        .into_iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect();
    AppError::Unprocessable(format!(
        "The export's filters need fixing. {}",
        messages.join(" ")
    ))
}

/// The filters of an export, as the activity log records them.
pub fn describe_filter(pairs: Vec<(&str, String)>) -> String {
    let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    if pairs.is_empty() {
        "no filters".to_owned()
    } else {
        pairs.join(" ")
    }
}

pub async fn export(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let raw: RawFilter = serde_html_form::from_str(request.query_string()).unwrap_or_default();
    let filter = raw.parse().map_err(filter_errors)?;
    let ip = request.peer_addr().map(|a| a.ip().to_string());
    let description = describe_filter(filter.query_pairs());
    Ok(csv_export::stream(
        state.pool.clone(),
        csv_export::file_name("promo-credits"),
        move |conn, writer| write_all_rows(conn, &filter, writer),
        move |conn, rows| {
            activity::record(
                conn,
                activity::Record {
                    actor: &admin.email,
                    action: "export.credits",
                    target: "promo credit list",
                    details: &format!("{description}; {rows} rows"),
                    ip: ip.as_deref(),
                },
            )?;
            Ok(())
        },
    ))
}

/// Every row the filter selects, in keyset chunks.
fn write_all_rows(
    conn: &mut DbConnection,
    filter: &CreditFilter,
    writer: &mut csv_export::CsvWriter,
) -> anyhow::Result<u64> {
    writer.write_record(CSV_HEADER)?;
    let customers: Customers = credit_list::resolve_customers(conn, filter)?;
    let mut cursor = None;
    let mut written = 0u64;
    loop {
        let rows = credit_list::page(conn, filter, &customers, cursor, EXPORT_CHUNK)?;
        let Some(last) = rows.last() else { break };
        cursor = Some((last.created_at, last.id));
        let full = rows.len() as i64 == EXPORT_CHUNK;
        for (row, email, external, by) in
            with_names(conn, rows).map_err(|e| anyhow::anyhow!("{e}"))?
        {
            write_csv_row(
                writer,
                &ListedRow {
                    row: &row,
                    email: &email,
                    external_id: &external,
                    by: &by,
                },
            )?;
            written += 1;
        }
        if !full {
            break;
        }
    }
    Ok(written)
}
