//! `/promo-credits/summary`: the finance summary and its CSV rows.

use askama::Template;

use super::Choice;
use crate::csv_export::{text_cell, CsvWriter};
use crate::db::models::PromoCreditConfig;
use crate::domain::{format_credits, money_value, CurrencyCode, ExchangeRate, Money};
use crate::filters::summary::RawSummaryQuery;
use crate::forms::FieldErrors;
use crate::store::configs::{codes_of, rates_of};
use crate::store::summary::{SummaryLine, SummaryPeriod, MOVEMENT_ORDER};
use crate::views::{as_typed, Layout};
use crate::web::href;

pub const SUMMARY_CSV_HEADER: [&str; 15] = [
    "currency",
    "from",
    "to",
    "opening_balance",
    "admin_added",
    "api_added",
    "imported",
    "invoice_applied",
    "invoice_refunded",
    "admin_reduced",
    "api_reduced",
    "expired",
    "closing_balance",
    "exchange_rate",
    "closing_liability",
];

/// A summary line as shown and exported.
pub struct SummaryView {
    pub currency: String,
    pub opening: String,
    pub movements: Vec<String>,
    pub closing: String,
    pub rate: String,
    pub liability: String,
}

pub fn liability(line: &SummaryLine, rate_e4: Option<i64>) -> Option<Money> {
    let rate = ExchangeRate::from_e4(rate_e4?).ok()?;
    let code = CurrencyCode::parse(&line.currency).ok()?;
    Some(money_value(line.closing, rate, &code))
}

pub fn rate_plain(currency: &str, rate_e4: Option<i64>) -> String {
    rate_e4
        .map(|r| super::rate_text(currency, r))
        .unwrap_or_default()
}

impl SummaryView {
    pub fn new(line: &SummaryLine, rate_e4: Option<i64>) -> SummaryView {
        SummaryView {
            currency: line.currency.clone(),
            opening: format_credits(line.opening),
            movements: line.movements.iter().map(|m| format_credits(*m)).collect(),
            closing: format_credits(line.closing),
            rate: rate_plain(&line.currency, rate_e4),
            liability: liability(line, rate_e4)
                .map(|m| m.grouped())
                .unwrap_or_else(|| "—".to_owned()),
        }
    }
}

pub fn write_summary_row(
    writer: &mut CsvWriter,
    line: &SummaryLine,
    period: &SummaryPeriod,
    rate_e4: Option<i64>,
) -> csv::Result<()> {
    let mut record = vec![
        text_cell(&line.currency).into_owned(),
        period.from.to_string(),
        period.to.to_string(),
        line.opening.to_string(),
    ];
    record.extend(line.movements.iter().map(i64::to_string));
    record.push(line.closing.to_string());
    record.push(rate_plain(&line.currency, rate_e4));
    record.push(
        liability(line, rate_e4)
            .map(|m| m.plain())
            .unwrap_or_default(),
    );
    writer.write_record(&record)
}

pub fn movement_labels() -> Vec<&'static str> {
    MOVEMENT_ORDER.iter().map(|k| k.label()).collect()
}

#[derive(Template)]
#[template(path = "promo_credits/summary.html")]
pub struct SummaryPage {
    pub layout: Layout,
    pub from: String,
    pub to: String,
    pub currencies: Vec<Choice>,
    pub errors: FieldErrors,
    pub labels: Vec<&'static str>,
    pub lines: Vec<SummaryView>,
    pub csv_href: String,
}

impl SummaryPage {
    /// The summary of a period; `pairs` are the period's query pairs, for the CSV link.
    pub fn new(
        layout: Layout,
        raw: &RawSummaryQuery,
        configs: &[PromoCreditConfig],
        lines: &[SummaryLine],
        pairs: &[(&'static str, String)],
    ) -> SummaryPage {
        let rates = rates_of(configs);
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        SummaryPage {
            layout,
            from: value("from"),
            to: value("to"),
            currencies: Choice::currencies(codes_of(configs), &raw.currency),
            errors: FieldErrors::default(),
            labels: movement_labels(),
            lines: lines
                .iter()
                .map(|line| SummaryView::new(line, rates.get(&line.currency).copied()))
                .collect(),
            csv_href: href("/promo-credits/summary.csv", pairs),
        }
    }

    /// The form again with what was typed, while the period needs fixing.
    pub fn refused(
        layout: Layout,
        raw: &RawSummaryQuery,
        configs: &[PromoCreditConfig],
        errors: FieldErrors,
    ) -> SummaryPage {
        SummaryPage {
            layout,
            from: as_typed(&raw.from),
            to: as_typed(&raw.to),
            currencies: Choice::currencies(codes_of(configs), &raw.currency),
            errors,
            labels: movement_labels(),
            lines: Vec::new(),
            csv_href: "/promo-credits/summary.csv".to_owned(),
        }
    }
}
