//! `/promo-credits/balances`: the balances list and its CSV rows.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use askama::Template;

use super::Choice;
use crate::csv_export::{text_cell, CsvWriter};
use crate::db::iso8601;
use crate::db::models::PromoCreditConfig;
use crate::domain::{format_credits, money_value, CurrencyCode, ExchangeRate};
use crate::filters::balances::{query_pairs, RawBalanceFilter, SORTS};
use crate::filters::Paging;
use crate::forms::FieldErrors;
use crate::store::balances::{BalanceFilter, BalanceRow, BalanceSort};
use crate::store::configs::{codes_of, rates_of};
use crate::views::users::promo_credits::money_text;
use crate::views::Layout;
use crate::views::{as_typed, short_time};
use crate::web::href;

pub const BALANCES_CSV_HEADER: [&str; 11] = [
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
    "expiring_30_days",
];
/// The value of `credits` at a stored rate, without separators (CSV, JSON).
pub fn plain_value(credits: i64, rate_e4: Option<i64>, currency: &str) -> String {
    match (
        rate_e4.map(ExchangeRate::from_e4),
        CurrencyCode::parse(currency),
    ) {
        (Some(Ok(rate)), Ok(code)) => money_value(credits, rate, &code).plain(),
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
        &row.expiring_soon.map(|n| n.to_string()).unwrap_or_default(),
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
    /// Credits expiring within 30 days; empty for balances as of a past day.
    pub expiring_soon: Option<i64>,
    pub expiring_soon_text: String,
    pub expiring_soon_class: &'static str,
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
            expiring_soon: row.expiring_soon,
            expiring_soon_text: match row.expiring_soon {
                Some(0) | None => "—".to_owned(),
                Some(credits) => format_credits(credits),
            },
            expiring_soon_class: match row.expiring_soon {
                Some(0) | None => "muted",
                Some(_) => "expiring",
            },
        }
    }
}

pub struct BalanceForm {
    pub raw: RawBalanceFilter,
    pub currencies: Vec<Choice>,
    pub sorts: Vec<Choice>,
    pub per_page_choices: Vec<Choice>,
    pub errors: FieldErrors,
}

impl BalanceForm {
    pub fn new(
        raw: RawBalanceFilter,
        configs: &[PromoCreditConfig],
        per_page: i64,
        errors: FieldErrors,
    ) -> BalanceForm {
        let chosen_sort = raw.sort.trim().to_owned();
        let raw = RawBalanceFilter {
            email: as_typed(&raw.email),
            min: as_typed(&raw.min),
            max: as_typed(&raw.max),
            as_of: as_typed(&raw.as_of),
            ..raw
        };
        BalanceForm {
            currencies: Choice::currencies(codes_of(configs), &raw.currency),
            sorts: SORTS
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
        self.errors.get(field)
    }
}

#[derive(Template)]
#[template(path = "promo_credits/balances.html")]
pub struct BalancesPage {
    pub layout: Layout,
    pub form: BalanceForm,
    pub rows: Vec<BalanceView>,
    pub as_of_text: Option<String>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub export_href: String,
}

impl BalancesPage {
    /// The page for the filters as typed: a page of balances when they were right, else the
    /// form with a message per field.
    pub fn new(
        layout: Layout,
        raw: RawBalanceFilter,
        configs: &[PromoCreditConfig],
        checked: Result<(BalanceFilter, Paging), FieldErrors>,
        page: Option<(Vec<BalanceRow>, bool)>,
    ) -> BalancesPage {
        match (checked, page) {
            (Ok((filter, paging)), Some(page)) => {
                let form = BalanceForm::new(raw, configs, paging.per_page, FieldErrors::default());
                BalancesPage::listed(layout, form, configs, page, &filter, paging)
            }
            (checked, _) => {
                let errors = checked.err().unwrap_or_default();
                BalancesPage::refused(layout, BalanceForm::new(raw, configs, 50, errors))
            }
        }
    }

    /// 422 while the filters need fixing.
    pub fn status(&self) -> StatusCode {
        if self.form.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    fn listed(
        layout: Layout,
        form: BalanceForm,
        configs: &[PromoCreditConfig],
        (rows, more): (Vec<BalanceRow>, bool),
        filter: &BalanceFilter,
        paging: Paging,
    ) -> BalancesPage {
        let rates: HashMap<String, i64> = rates_of(configs);
        let pairs = query_pairs(filter);
        let mut pairs = pairs.to_vec();
        let export_href = href("/promo-credits/balances/export.csv", &pairs);
        pairs.push(("per_page", paging.per_page.to_string()));
        let next_href = match (more, rows.last()) {
            (true, Some(last)) => {
                let mut next = pairs.clone();
                next.push(("after", last.account_id.to_string()));
                Some(href("/promo-credits/balances", &next))
            }
            _ => None,
        };
        BalancesPage {
            layout,
            form,
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
            first_href: paging.after.map(|_| href("/promo-credits/balances", &pairs)),
            export_href,
        }
    }

    fn refused(layout: Layout, form: BalanceForm) -> BalancesPage {
        BalancesPage {
            layout,
            form,
            rows: Vec::new(),
            as_of_text: None,
            next_href: None,
            first_href: None,
            export_href: "/promo-credits/balances/export.csv".to_owned(),
        }
    }
}
