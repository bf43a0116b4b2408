//! `/promo-credits/balances` and `/promo-credits/summary`, with their CSV downloads.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use time::{Date, OffsetDateTime};

use crate::auth::CurrentAdmin;
use crate::csv_export;
use crate::error::AppError;
use crate::routes::credit_list::{describe_filter, filter_errors, href, Paging};
use crate::startup::AppState;
use crate::store::balances::{self, BalanceFilter, RawBalanceFilter};
use crate::store::credit_list::parse_date;
use crate::store::{activity, configs, summary};
use crate::views::credit_list::Choice;
use crate::views::reports::{
    movement_labels, write_balance_row, write_summary_row, BalanceForm, BalanceView, BalancesPage,
    SummaryPage, SummaryView, BALANCES_CSV_HEADER, SUMMARY_CSV_HEADER,
};
use crate::views::Layout;
use crate::web::{html, with_conn};

const EXPORT_CHUNK: i64 = 1000;

/// Configured currencies and their current rates.
fn rates(
    conn: &mut crate::db::DbConnection,
) -> Result<(Vec<String>, HashMap<String, i64>), AppError> {
    let all = configs::list(conn)?;
    Ok((
        all.iter().map(|c| c.currency.clone()).collect(),
        all.into_iter()
            .map(|c| (c.currency, c.exchange_rate_e4))
            .collect(),
    ))
}

pub async fn balances(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let raw: RawBalanceFilter =
        serde_html_form::from_str(request.query_string()).unwrap_or_default();
    let (per_page, after) = Paging::read(request.query_string());
    let parsed = raw.parse();
    let filter = parsed.clone().ok();
    let (currencies, rates, page) = with_conn(&state.pool, move |conn| {
        let (currencies, rates) = rates(conn)?;
        let page = match filter {
            Some(filter) => Some(balances::page(conn, &filter, after, per_page)?),
            None => None,
        };
        Ok((currencies, rates, page))
    })
    .await?;
    let (status, errors, filter) = match parsed {
        Ok(filter) => (StatusCode::OK, Vec::new(), filter),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            BalanceFilter::default(),
        ),
    };
    let (rows, more) = page.unwrap_or_default();
    let mut pairs = filter.query_pairs();
    pairs.push(("per_page", per_page.to_string()));
    let next_href = match (more, rows.last()) {
        (true, Some(last)) => {
            let mut next = pairs.clone();
            next.push(("after", last.account_id.to_string()));
            Some(href("/promo-credits/balances", &next))
        }
        _ => None,
    };
    let page = BalancesPage {
        layout: Layout::new(&admin, "balances"),
        rows: rows
            .iter()
            .map(|row| BalanceView::new(row, rates.get(&row.currency).copied()))
            .collect(),
        as_of_text: filter.as_of.map(|day| {
            format!(
                "Balances at the end of {day} (UTC), replayed from the ledger; in customer order."
            )
        }),
        next_href,
        first_href: after.map(|_| href("/promo-credits/balances", &pairs)),
        export_href: href("/promo-credits/balances/export.csv", &filter.query_pairs()),
        form: BalanceForm::new(raw, per_page, currencies, errors),
    };
    html(status, &page)
}

pub async fn balances_export(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let raw: RawBalanceFilter =
        serde_html_form::from_str(request.query_string()).unwrap_or_default();
    let filter = raw.parse().map_err(filter_errors)?;
    let ip = request.peer_addr().map(|a| a.ip().to_string());
    let description = describe_filter(filter.query_pairs());
    Ok(csv_export::stream(
        state.pool.clone(),
        csv_export::file_name("promo-credit-balances"),
        move |conn, writer| {
            writer.write_record(BALANCES_CSV_HEADER)?;
            let (_, rates) = rates(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut after = None;
            let mut written = 0u64;
            loop {
                let (rows, more) = balances::page(conn, &filter, after, EXPORT_CHUNK)?;
                for row in &rows {
                    write_balance_row(writer, row, rates.get(&row.currency).copied())?;
                    written += 1;
                }
                match (more, rows.last()) {
                    (true, Some(last)) => after = Some(last.account_id),
                    _ => break,
                }
            }
            Ok(written)
        },
        move |conn, rows| {
            activity::record(
                conn,
                activity::Record {
                    actor: &admin.email,
                    action: "export.balances",
                    target: "promo credit balances",
                    details: &format!("{description}; {rows} rows"),
                    ip: ip.as_deref(),
                },
            )?;
            Ok(())
        },
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SummaryQuery {
    #[serde(default)]
    currency: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The period asked for; by default this month so far.
fn period(query: &SummaryQuery) -> Result<(Option<String>, Date, Date), Vec<String>> {
    let today = OffsetDateTime::now_utc().date();
    let mut errors = Vec::new();
    let mut date = |text: &str, default: Date| match text.trim() {
        "" => default,
        typed => parse_date(typed).unwrap_or_else(|| {
            errors.push(format!(
                "Enter dates as YYYY-MM-DD, like 2026-11-01 (got {typed:?})."
            ));
            default
        }),
    };
    let from = date(&query.from, today.replace_day(1).unwrap_or(today));
    let to = date(&query.to, today);
    if from > to {
        errors.push("The end date is before the start date.".to_owned());
    }
    let currency = match query.currency.trim() {
        "" => None,
        code => match crate::domain::CurrencyCode::parse(code) {
            Ok(code) => Some(code.to_string()),
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        },
    };
    if errors.is_empty() {
        Ok((currency, from, to))
    } else {
        Err(errors)
    }
}

pub async fn summary(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    query: web::Query<SummaryQuery>,
) -> Result<HttpResponse, AppError> {
    let checked = period(&query);
    let wanted = checked.clone().ok();
    let (currencies, rates, lines) = with_conn(&state.pool, move |conn| {
        let (currencies, rates) = rates(conn)?;
        let lines = match wanted {
            Some((only, from, to)) => {
                summary::summarize(conn, &currencies, only.as_deref(), from, to)?
            }
            None => Vec::new(),
        };
        Ok((currencies, rates, lines))
    })
    .await?;
    let (status, errors, from, to) = match &checked {
        Ok((_, from, to)) => (StatusCode::OK, Vec::new(), from.to_string(), to.to_string()),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors.clone(),
            query.from.clone(),
            query.to.clone(),
        ),
    };
    let mut pairs = vec![("from", from.clone()), ("to", to.clone())];
    if !query.currency.trim().is_empty() {
        pairs.push(("currency", query.currency.trim().to_owned()));
    }
    let page = SummaryPage {
        layout: Layout::new(&admin, "summary"),
        currencies: Choice::currencies(currencies, &query.currency),
        errors,
        labels: movement_labels(),
        lines: lines
            .iter()
            .map(|line| SummaryView::new(line, rates.get(&line.currency).copied()))
            .collect(),
        csv_href: href("/promo-credits/summary.csv", &pairs),
        from,
        to,
    };
    html(status, &page)
}

pub async fn summary_csv(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    query: web::Query<SummaryQuery>,
) -> Result<HttpResponse, AppError> {
    let (only, from, to) =
        period(&query).map_err(|errors| AppError::Unprocessable(errors.join(" ")))?;
    let ip = request.peer_addr().map(|a| a.ip().to_string());
    Ok(csv_export::stream(
        state.pool.clone(),
        csv_export::file_name("promo-credit-summary"),
        move |conn, writer| {
            writer.write_record(SUMMARY_CSV_HEADER)?;
            let (currencies, rates) = rates(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            let lines = summary::summarize(conn, &currencies, only.as_deref(), from, to)?;
            for line in &lines {
                write_summary_row(
                    writer,
                    line,
                    &from.to_string(),
                    &to.to_string(),
                    rates.get(&line.currency).copied(),
                )?;
            }
            Ok(lines.len() as u64)
        },
        move |conn, rows| {
            activity::record(
                conn,
                activity::Record {
                    actor: &admin.email,
                    action: "export.summary",
                    target: "promo credit summary",
                    details: &format!("from={from} to={to}; {rows} rows"),
                    ip: ip.as_deref(),
                },
            )?;
            Ok(())
        },
    ))
}
