//! The balances list and the finance summary.

use askama::Template;

use super::credit_list::Choice;
use super::credits::money_text;
use super::{short_time, Layout};
use crate::csv_export::{text_cell, CsvWriter};
use crate::db::iso8601;
use crate::domain::{format_credits, CurrencyCode, ExchangeRate, Money};
use crate::store::balances::{BalanceRow, BalanceSort, RawBalanceFilter};
use crate::store::summary::{SummaryLine, MOVEMENT_ORDER};

pub const BALANCES_CSV_HEADER: [&str; 10] = [
    "user_id",
    "external_id",
    "user_email",
    "currency",
    "balance",
    "currency_value",
    "enabled",
    "total_added",
    "total_deducted",
    "updated_at",
];

pub const SUMMARY_CSV_HEADER: [&str; 14] = [
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
    "closing_balance",
    "exchange_rate",
    "closing_liability",
];

/// The value of `credits` at a stored rate, without separators (CSV, JSON).
pub fn plain_value(credits: i64, rate_e4: Option<i64>, currency: &str) -> String {
    match (
        rate_e4.map(ExchangeRate::from_e4),
        CurrencyCode::parse(currency),
    ) {
        (Some(Ok(rate)), Ok(code)) => crate::domain::money_value(credits, rate, &code).plain(),
        _ => String::new(),
    }
}

pub fn write_balance_row(
    writer: &mut CsvWriter,
    row: &BalanceRow,
    rate_e4: Option<i64>,
) -> csv::Result<()> {
    writer.write_record([
        row.user_id.to_string().as_str(),
        &text_cell(&row.external_id),
        &text_cell(&row.email),
        &text_cell(&row.currency),
        row.balance.to_string().as_str(),
        &plain_value(row.balance, rate_e4, &row.currency),
        if row.enabled { "true" } else { "false" },
        row.total_added.to_string().as_str(),
        row.total_deducted.to_string().as_str(),
        &iso8601(row.updated_at),
    ])
}

pub struct BalanceView {
    pub tab_href: String,
    pub email: String,
    pub external_id: String,
    pub currency: String,
    pub balance_text: String,
    pub value_text: String,
    pub enabled: bool,
    pub total_added_text: String,
    pub total_deducted_text: String,
    pub updated: String,
}

impl BalanceView {
    pub fn new(row: &BalanceRow, rate_e4: Option<i64>) -> BalanceView {
        BalanceView {
            tab_href: format!(
                "/users/{}/promo-credits?currency={}",
                row.user_id, row.currency
            ),
            email: row.email.clone(),
            external_id: row.external_id.clone(),
            currency: row.currency.clone(),
            balance_text: format_credits(row.balance),
            value_text: rate_e4
                .map(|r| money_text(row.balance, r, &row.currency))
                .unwrap_or_default(),
            enabled: row.enabled,
            total_added_text: format_credits(row.total_added),
            total_deducted_text: format_credits(row.total_deducted),
            updated: short_time(row.updated_at),
        }
    }
}

pub struct BalanceForm {
    pub raw: RawBalanceFilter,
    pub currencies: Vec<Choice>,
    pub sorts: Vec<Choice>,
    pub per_page_choices: Vec<Choice>,
    pub errors: Vec<(&'static str, String)>,
}

impl BalanceForm {
    pub fn new(
        raw: RawBalanceFilter,
        per_page: i64,
        currencies: Vec<String>,
        errors: Vec<(&'static str, String)>,
    ) -> BalanceForm {
        let chosen_sort = raw.sort.trim().to_owned();
        BalanceForm {
            currencies: Choice::currencies(currencies, &raw.currency),
            sorts: BalanceSort::ALL
                .iter()
                .map(|(sort, value, label)| Choice {
                    value: (*value).to_owned(),
                    label: (*label).to_owned(),
                    selected: chosen_sort == *value
                        || (chosen_sort.is_empty() && *sort == BalanceSort::default()),
                })
                .collect(),
            per_page_choices: Choice::page_sizes(per_page),
            raw,
            errors,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        super::credit_list::field_error(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "credits/balances.html")]
pub struct BalancesPage {
    pub layout: Layout,
    pub form: BalanceForm,
    pub rows: Vec<BalanceView>,
    pub as_of_text: Option<String>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub export_href: String,
}

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
    Some(crate::domain::money_value(line.closing, rate, &code))
}

pub fn rate_plain(currency: &str, rate_e4: Option<i64>) -> String {
    rate_e4
        .map(|r| super::credit_list::rate_text(currency, r))
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
    from: &str,
    to: &str,
    rate_e4: Option<i64>,
) -> csv::Result<()> {
    let mut record = vec![
        text_cell(&line.currency).into_owned(),
        from.to_owned(),
        to.to_owned(),
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
#[template(path = "credits/summary.html")]
pub struct SummaryPage {
    pub layout: Layout,
    pub from: String,
    pub to: String,
    pub currencies: Vec<Choice>,
    pub errors: Vec<String>,
    pub labels: Vec<&'static str>,
    pub lines: Vec<SummaryView>,
    pub csv_href: String,
}
