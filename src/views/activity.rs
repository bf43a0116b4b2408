//! `/activity`: the activity log, its filters and its CSV rows.

use askama::Template;

use super::promo_credits::Choice;
use super::{as_typed, short_time, Layout};
use crate::csv_export::{text_cell, CsvWriter};
use crate::db::iso8601;
use crate::db::models::Activity;
use crate::filters::activity::{query_pairs, RawActivityFilter, ACTIONS};
use crate::filters::Paging;
use crate::forms::FieldErrors;
use crate::store::activity::ActivityFilter;
use crate::web::href;

pub const ACTIVITY_CSV_HEADER: [&str; 7] = [
    "id",
    "created_at",
    "actor",
    "action",
    "target",
    "details",
    "ip",
];

pub fn write_activity_row(writer: &mut CsvWriter, row: &Activity) -> csv::Result<()> {
    writer.write_record([
        row.id.to_string().as_str(),
        &iso8601(row.created_at),
        &text_cell(&row.actor),
        &text_cell(&row.action),
        &text_cell(&row.target),
        &text_cell(&row.details),
        &text_cell(row.ip.as_deref().unwrap_or("")),
    ])
}

/// A row as the table shows it, with links to what it is about.
pub struct ActivityRow {
    pub id: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub ip: String,
    /// The customer's Promo Credits tab.
    pub customer_href: Option<String>,
    /// The ledger row in the promo credit list.
    pub record_href: Option<String>,
}

impl ActivityRow {
    fn new(row: &Activity) -> ActivityRow {
        ActivityRow {
            id: row.id,
            time: short_time(row.created_at),
            actor: row.actor.clone(),
            action: row.action.clone(),
            target: row.target.clone(),
            details: row.details.clone(),
            ip: row.ip.clone().unwrap_or_default(),
            customer_href: row.user_id.map(|id| format!("/users/{id}/promo-credits")),
            record_href: row
                .record_id
                .map(|id| format!("/promo-credits?record_id={id}")),
        }
    }
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub layout: Layout,
    pub raw: RawActivityFilter,
    pub actions: Vec<Choice>,
    pub errors: FieldErrors,
    pub rows: Vec<ActivityRow>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub export_href: String,
}

impl ActivityPage {
    /// The page for the filters as typed: a page of rows (`rows` holds one more than the
    /// page when more follow), or the form with its messages.
    pub fn new(
        layout: Layout,
        raw: RawActivityFilter,
        checked: Result<(ActivityFilter, Paging), FieldErrors>,
        rows: Vec<Activity>,
    ) -> ActivityPage {
        let actions = ACTIONS
            .iter()
            .map(|(value, label)| Choice {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                selected: raw.action.trim() == *value,
            })
            .collect();
        let raw = RawActivityFilter {
            actor: as_typed(&raw.actor),
            from: as_typed(&raw.from),
            to: as_typed(&raw.to),
            ..raw
        };
        let (errors, pairs, paging) = match checked {
            Ok((filter, paging)) => (FieldErrors::default(), query_pairs(&filter), Some(paging)),
            Err(errors) => (errors, Vec::new(), None),
        };
        let per_page = paging.map_or(50, |p| p.per_page) as usize;
        let more = rows.len() > per_page;
        let rows: Vec<ActivityRow> = rows.iter().take(per_page).map(ActivityRow::new).collect();
        let mut paged = pairs.clone();
        paged.push(("per_page", per_page.to_string()));
        let next_href = match (more, rows.last()) {
            (true, Some(last)) => {
                let mut next = paged.clone();
                next.push(("after", last.id.to_string()));
                Some(href("/activity", &next))
            }
            _ => None,
        };
        ActivityPage {
            layout,
            raw,
            actions,
            rows,
            next_href,
            first_href: paging
                .and_then(|p| p.after)
                .map(|_| href("/activity", &paged)),
            export_href: href("/activity/export.csv", &pairs),
            errors,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
}
