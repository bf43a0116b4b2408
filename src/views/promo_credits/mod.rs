//! `/promo-credits`: the promo credit list page, its results fragment and its CSV rows;
//! `balances` and `summary` hold the pages below it.

pub mod balances;
pub mod summary;

use std::borrow::Cow;

use actix_web::http::StatusCode;
use askama::Template;

use super::{as_typed, short_time, Layout};
use crate::csv_export::{text_cell, CsvWriter};
use crate::db::{write_iso8601, write_iso_date};
use crate::domain::{expiry_label, format_credits, format_grouped, Reason, TransactionType};
use crate::filters::credit_list::{query_pairs, RawCreditFilter};
use crate::filters::{Paging, PAGE_SIZES};
use crate::forms::FieldErrors;
use crate::store::credit_list::{
    CreditCells, CreditFilter, ListPage, NamedRow, Totals, MAX_LISTED_CUSTOMERS,
};
use crate::web::href;

pub const CSV_HEADER: [&str; 17] = [
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
    "expires_at",
];

pub use crate::domain::rate_text;

/// Writes the export's rows from their cells ([`CreditCells`]) with the csv crate's quoting,
/// reusing its buffers: no allocation per row or per cell, but for the rare cell that takes
/// a formula guard. PostgreSQL formats the same cells in SQL
/// (`crate::db::credit_export::postgres`); the golden files of tests/credit_export.rs hold
/// both to these bytes.
#[derive(Default)]
pub struct CsvRows {
    numbers: [itoa::Buffer; 5],
    time: Vec<u8>,
    expires_at: Vec<u8>,
    /// The exchange rates written lately, by currency and rate: a ledger holds few.
    rates: Vec<(String, i64, String)>,
}

/// Rates remembered by [`CsvRows`].
const RATES_KEPT: usize = 16;

impl CsvRows {
    pub fn write(&mut self, writer: &mut CsvWriter, row: &CreditCells<'_>) -> csv::Result<()> {
        writer.write_record(self.cells(row))
    }

    /// The row's cells as they are written, before the csv crate quotes them.
    pub fn cells<'s>(&'s mut self, row: &CreditCells<'s>) -> [Cow<'s, [u8]>; 17] {
        let rate = self.rate(row.currency, row.exchange_rate_e4);
        write_iso8601(&mut self.time, row.created_at);
        write_iso_date(&mut self.expires_at, row.expires_at);
        let [id, user_id, delta, before, after] = &mut self.numbers;
        let number = |text: &'s str| Cow::Borrowed(text.as_bytes());
        let text = |cell: &'s str| match text_cell(cell) {
            Cow::Borrowed(cell) => Cow::Borrowed(cell.as_bytes()),
            Cow::Owned(cell) => Cow::Owned(cell.into_bytes()),
        };
        [
            number(id.format(row.id)),
            number(user_id.format(row.user_id)),
            text(row.external_id),
            text(row.email),
            text(row.currency),
            Cow::Borrowed(row.kind.as_bytes()),
            Cow::Borrowed(row.reason.as_bytes()),
            number(delta.format(row.delta)),
            number(before.format(row.balance_before)),
            number(after.format(row.balance_after)),
            Cow::Borrowed(row.currency_value.as_bytes()),
            Cow::Borrowed(self.rates[rate].2.as_bytes()),
            text(row.by),
            text(row.note),
            text(row.invoice_id),
            Cow::Borrowed(&self.time),
            Cow::Borrowed(&self.expires_at),
        ]
    }

    /// Where `rate_text(currency, rate_e4)` is in `self.rates`.
    fn rate(&mut self, currency: &str, rate_e4: i64) -> usize {
        if let Some(at) = self
            .rates
            .iter()
            .position(|(c, r, _)| *r == rate_e4 && c == currency)
        {
            return at;
        }
        if self.rates.len() == RATES_KEPT {
            self.rates.remove(0);
        }
        self.rates
            .push((currency.to_owned(), rate_e4, rate_text(currency, rate_e4)));
        self.rates.len() - 1
    }
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
    /// A grant's expiry, as people read it (`expires 31 Dec 2026`).
    pub expiry_text: Option<String>,
    pub currency: String,
    pub type_label: &'static str,
    pub reason_label: &'static str,
    pub by: String,
    pub note: String,
    pub note_short: String,
    pub invoice_id: String,
    /// Every row of this row's invoice (its payment and refunds).
    pub invoice_href: Option<String>,
    pub time: String,
    /// The activity rows about this ledger row, for those who may read the log.
    pub activity_href: Option<String>,
}

const NOTE_PREVIEW_CHARS: usize = 60;

impl ListRow {
    pub fn new(listed: &NamedRow, activity_links: bool) -> ListRow {
        let row = &listed.row;
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
            email: listed.email.clone(),
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
            expiry_text: row
                .expires_at
                .map(|day| format!("expires {}", expiry_label(day))),
            currency: row.currency.clone(),
            type_label: super::type_label(&row.kind),
            reason_label: super::reason_label(row.reason.as_deref()),
            by: listed.by.clone(),
            note: row.note.clone(),
            note_short,
            invoice_id: row.invoice_id.clone().unwrap_or_default(),
            invoice_href: row
                .invoice_id
                .as_ref()
                .map(|id| href("/promo-credits", &[("invoice_id", id.clone())])),
            time: short_time(row.created_at),
            activity_href: activity_links.then(|| format!("/activity?record_id={}", row.id)),
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

    /// The page sizes offered, with the current one selected.
    pub fn page_sizes(per_page: i64) -> Vec<Choice> {
        PAGE_SIZES
            .iter()
            .map(|n| Choice {
                value: n.to_string(),
                label: n.to_string(),
                selected: *n == per_page,
            })
            .collect()
    }
}

/// The filter form: what was typed, the choices, and any message per field.
pub struct FilterForm {
    pub raw: RawCreditFilter,
    pub currencies: Vec<Choice>,
    pub types: Vec<Choice>,
    pub reasons: Vec<Choice>,
    pub per_page_choices: Vec<Choice>,
    pub errors: FieldErrors,
}

impl FilterForm {
    pub fn new(
        raw: RawCreditFilter,
        per_page: i64,
        currencies: Vec<String>,
        errors: FieldErrors,
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
        let raw = RawCreditFilter {
            record_id: as_typed(&raw.record_id),
            email: as_typed(&raw.email),
            external_id: as_typed(&raw.external_id),
            invoice_id: as_typed(&raw.invoice_id),
            from: as_typed(&raw.from),
            to: as_typed(&raw.to),
            ..raw
        };
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
        self.errors.get(field)
    }

    pub fn descending(&self) -> bool {
        self.raw.order.trim() != "asc"
    }
}

/// The table, totals and pager: the part htmx replaces.
pub struct Results {
    /// The filters need fixing: there is no list to show.
    pub refused: bool,
    pub rows: Vec<ListRow>,
    pub totals_text: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub export_href: String,
}

impl Results {
    /// One page of the list; `pairs` are the filter's query pairs, for the links.
    pub fn new(
        page: ListPage,
        pairs: &[(&'static str, String)],
        paging: Paging,
        activity_links: bool,
    ) -> Results {
        let mut pairs = pairs.to_vec();
        let export_href = href("/promo-credits/export.csv", &pairs);
        pairs.push(("per_page", paging.per_page.to_string()));
        let next_href = match (page.more, page.rows.last()) {
            (true, Some(last)) => {
                let mut next = pairs.clone();
                next.push(("after", last.row.id.to_string()));
                Some(href("/promo-credits", &next))
            }
            _ => None,
        };
        Results {
            refused: false,
            rows: page
                .rows
                .iter()
                .map(|row| ListRow::new(row, activity_links))
                .collect(),
            totals_text: match page.totals {
                Some(totals) => Results::describe(&totals),
                None => format!(
                    "More than {} customers match this email: narrow it to see totals.",
                    format_credits(MAX_LISTED_CUSTOMERS)
                ),
            },
            next_href,
            first_href: page.after.map(|_| href("/promo-credits", &pairs)),
            export_href,
        }
    }

    /// No rows while the filters need fixing.
    pub fn refused() -> Results {
        Results {
            refused: true,
            rows: Vec::new(),
            totals_text: "Fix the filters to see the list.".to_owned(),
            next_href: None,
            first_href: None,
            export_href: "/promo-credits/export.csv".to_owned(),
        }
    }

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
#[template(path = "promo_credits/list.html")]
pub struct CreditListPage {
    pub layout: Layout,
    pub form: FilterForm,
    pub results: Results,
}

impl CreditListPage {
    /// The page for the filters as typed: a page of rows when they were right, else the
    /// form with a message per field.
    pub fn new(
        layout: Layout,
        raw: RawCreditFilter,
        currencies: Vec<String>,
        checked: Result<(CreditFilter, Paging), FieldErrors>,
        page: Option<ListPage>,
        activity_links: bool,
    ) -> CreditListPage {
        let (results, per_page, errors) = match (checked, page) {
            (Ok((filter, paging)), Some(page)) => (
                Results::new(page, &query_pairs(&filter), paging, activity_links),
                paging.per_page,
                FieldErrors::default(),
            ),
            (checked, _) => (Results::refused(), 50, checked.err().unwrap_or_default()),
        };
        CreditListPage {
            layout,
            form: FilterForm::new(raw, per_page, currencies, errors),
            results,
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
}

#[derive(Template)]
#[template(path = "promo_credits/results.html")]
pub struct ResultsFragment {
    pub results: Results,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{iso8601, iso_date};
    use proptest::prelude::*;
    use time::{Date, Month, PrimitiveDateTime, Time};

    /// The cells as the export wrote them before it borrowed them: one `String` per cell.
    fn written_one_by_one(row: &CreditCells<'_>) -> Vec<String> {
        vec![
            row.id.to_string(),
            row.user_id.to_string(),
            text_cell(row.external_id).into_owned(),
            text_cell(row.email).into_owned(),
            text_cell(row.currency).into_owned(),
            row.kind.to_owned(),
            row.reason.to_owned(),
            row.delta.to_string(),
            row.balance_before.to_string(),
            row.balance_after.to_string(),
            row.currency_value.to_owned(),
            rate_text(row.currency, row.exchange_rate_e4),
            text_cell(row.by).into_owned(),
            text_cell(row.note).into_owned(),
            text_cell(row.invoice_id).into_owned(),
            iso8601(row.created_at),
            row.expires_at.map(iso_date).unwrap_or_default(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Rows one after another through one `CsvRows` (its buffers and remembered rates
        /// reused) give the cells the one-by-one formatting gives.
        #[test]
        fn reused_buffers_write_what_fresh_strings_write(
            rows in prop::collection::vec((
                any::<i64>(),
                "[=+@\\-\t\r\n,\"a-zé]{0,6}",
                prop::sample::select(vec!["EUR", "JPY", "BHD", "XXX", "=A"]),
                prop_oneof![Just(10_000i64), Just(1_250), any::<i64>()],
                (1i32..=9999, 0u32..1_000_000),
                prop::option::of(1i32..=9999),
            ), 1..40),
        ) {
            let mut format = CsvRows::default();
            for (number, text, currency, rate, (year, micros), expiry_year) in &rows {
                let created_at = PrimitiveDateTime::new(
                    Date::from_calendar_date(*year, Month::March, 9).unwrap(),
                    Time::from_hms_micro(23, 59, 1, *micros).unwrap(),
                );
                let row = CreditCells {
                    id: *number,
                    user_id: number.wrapping_mul(3),
                    external_id: text,
                    email: text,
                    currency,
                    kind: "admin_added",
                    reason: "",
                    delta: -number.wrapping_add(1),
                    balance_before: *number / 2,
                    balance_after: i64::MIN,
                    currency_value: "12.50",
                    exchange_rate_e4: *rate,
                    by: text,
                    note: text,
                    invoice_id: "",
                    created_at,
                    expires_at: expiry_year
                        .map(|y| Date::from_calendar_date(y, Month::December, 31).unwrap()),
                };
                let cells: Vec<String> = format
                    .cells(&row)
                    .iter()
                    .map(|cell| String::from_utf8(cell.to_vec()).unwrap())
                    .collect();
                prop_assert_eq!(cells, written_one_by_one(&row));
            }
        }
    }
}
