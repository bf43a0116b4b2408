//! The promo credit list page, its results fragment, and its CSV rows.

use askama::Template;

use super::{short_time, Layout};
use crate::csv_export::{text_cell, CsvWriter};
use crate::db::iso8601;
use crate::db::models::CreditTransaction;
use crate::domain::{
    format_credits, format_grouped, CurrencyCode, ExchangeRate, Reason, TransactionType,
};
use crate::store::credit_list::{RawFilter, Totals};

pub const CSV_HEADER: [&str; 16] = [
    "record_id",
    "user_id",
    "external_id",
    "user_email",
    "currency",
    "type",
    "reason",
    "amount",
    "balance_before",
    "balance_after",
    "currency_value",
    "exchange_rate",
    "by",
    "note",
    "invoice_id",
    "created_at",
];

/// One ledger row with the customer and actor it names.
pub struct ListedRow<'a> {
    pub row: &'a CreditTransaction,
    pub email: &'a str,
    pub external_id: &'a str,
    pub by: &'a str,
}

/// The exchange rate as exported: at least the currency's minor units (`1.00`, `0.125`).
pub fn rate_text(currency: &str, rate_e4: i64) -> String {
    let minor = CurrencyCode::parse(currency)
        .map(|c| c.minor_units())
        .unwrap_or(2);
    ExchangeRate::from_e4(rate_e4)
        .map(|r| r.display_for(minor))
        .unwrap_or_default()
}

pub fn write_csv_row(writer: &mut CsvWriter, listed: &ListedRow<'_>) -> csv::Result<()> {
    let row = listed.row;
    writer.write_record([
        row.id.to_string().as_str(),
        row.user_id.to_string().as_str(),
        &text_cell(listed.external_id),
        &text_cell(listed.email),
        &text_cell(&row.currency),
        &row.kind,
        row.reason.as_deref().unwrap_or(""),
        row.delta.to_string().as_str(),
        row.balance_before.to_string().as_str(),
        row.balance_after.to_string().as_str(),
        &row.currency_value,
        &rate_text(&row.currency, row.exchange_rate_e4),
        &text_cell(listed.by),
        &text_cell(&row.note),
        &text_cell(row.invoice_id.as_deref().unwrap_or("")),
        &iso8601(row.created_at),
    ])
}

/// A row as the table shows it.
pub struct ListRow {
    pub id: i64,
    pub tab_href: String,
    pub email: String,
    pub delta_text: String,
    pub delta_class: &'static str,
    pub value_text: String,
    pub before_after: String,
    pub currency: String,
    pub type_label: &'static str,
    pub reason_label: &'static str,
    pub by: String,
    pub note: String,
    pub note_short: String,
    pub invoice_id: String,
    pub time: String,
}

const NOTE_PREVIEW_CHARS: usize = 60;

impl ListRow {
    pub fn new(listed: &ListedRow<'_>) -> ListRow {
        let row = listed.row;
        let sign = if row.delta > 0 { "+" } else { "−" };
        let note_short = if row.note.chars().count() > NOTE_PREVIEW_CHARS {
            format!(
                "{}…",
                row.note
                    .chars()
                    .take(NOTE_PREVIEW_CHARS)
                    .collect::<String>()
                    .trim_end()
            )
        } else {
            row.note.clone()
        };
        ListRow {
            id: row.id,
            tab_href: format!(
                "/users/{}/promo-credits?currency={}",
                row.user_id, row.currency
            ),
            email: listed.email.to_owned(),
            delta_text: format!("{sign}{}", format_credits(row.delta.abs())),
            delta_class: if row.delta > 0 { "plus" } else { "minus" },
            value_text: format!(
                "{sign}{} {}",
                format_grouped(&row.currency_value),
                row.currency
            ),
            before_after: format!(
                "{} → {}",
                format_credits(row.balance_before),
                format_credits(row.balance_after)
            ),
            currency: row.currency.clone(),
            type_label: super::type_label(&row.kind),
            reason_label: super::reason_label(row.reason.as_deref()),
            by: listed.by.to_owned(),
            note: row.note.clone(),
            note_short,
            invoice_id: row.invoice_id.clone().unwrap_or_default(),
            time: short_time(row.created_at),
        }
    }
}

/// A choice in a filter's select or checkbox list.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    /// The configured currencies, with the typed one selected.
    pub fn currencies(codes: Vec<String>, typed: &str) -> Vec<Choice> {
        codes
            .into_iter()
            .map(|code| Choice {
                selected: typed.trim() == code,
                label: code.clone(),
                value: code,
            })
            .collect()
    }

    /// The SPEC's page sizes, with the current one selected.
    pub fn page_sizes(per_page: i64) -> Vec<Choice> {
        [20, 50, 100]
            .iter()
            .map(|n| Choice {
                value: n.to_string(),
                label: n.to_string(),
                selected: *n == per_page,
            })
            .collect()
    }
}

/// The message for one field among a form's errors.
pub fn field_error<'a>(errors: &'a [(&'static str, String)], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, message)| message.as_str())
}

/// The filter form: what was typed, the choices, and any message per field.
pub struct FilterForm {
    pub raw: RawFilter,
    pub currencies: Vec<Choice>,
    pub types: Vec<Choice>,
    pub reasons: Vec<Choice>,
    pub per_page_choices: Vec<Choice>,
    pub errors: Vec<(&'static str, String)>,
}

impl FilterForm {
    pub fn new(
        raw: RawFilter,
        per_page: i64,
        currencies: Vec<String>,
        errors: Vec<(&'static str, String)>,
    ) -> FilterForm {
        let currencies = Choice::currencies(currencies, &raw.currency);
        let types = TransactionType::ALL
            .iter()
            .map(|t| Choice {
                value: t.as_str().to_owned(),
                label: t.label().to_owned(),
                selected: raw.types.iter().any(|typed| typed.trim() == t.as_str()),
            })
            .collect();
        let reasons = Reason::ALL
            .iter()
            .map(|r| Choice {
                value: r.as_str().to_owned(),
                label: r.label().to_owned(),
                selected: raw.reason.trim() == r.as_str(),
            })
            .collect();
        let per_page_choices = Choice::page_sizes(per_page);
        FilterForm {
            raw,
            currencies,
            types,
            reasons,
            per_page_choices,
            errors,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        field_error(&self.errors, field)
    }

    pub fn descending(&self) -> bool {
        self.raw.order.trim() != "asc"
    }
}

/// The table, totals and pager: the part htmx replaces.
pub struct Results {
    pub rows: Vec<ListRow>,
    pub totals_text: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub export_href: String,
}

impl Results {
    pub fn describe(totals: &Totals) -> String {
        format!(
            "{} record{} · {} credits added · {} credits used",
            format_credits(totals.rows),
            if totals.rows == 1 { "" } else { "s" },
            format_credits(totals.added),
            format_credits(totals.used)
        )
    }
}

#[derive(Template)]
#[template(path = "credits/list.html")]
pub struct CreditListPage {
    pub layout: Layout,
    pub form: FilterForm,
    pub results: Results,
}

#[derive(Template)]
#[template(path = "credits/results_fragment.html")]
pub struct ResultsFragment {
    pub results: Results,
}
