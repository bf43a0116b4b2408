//! The activity log's filters (`/activity` and its export).

use serde::Deserialize;

use super::{date, record_id, search_text, QueryPairs};
use crate::domain::quoted;
use crate::forms::{FieldError, FieldErrors};
use crate::store::activity::ActivityFilter;

/// The actions people filter by: one action, or a family of them (ending with `.`).
pub const ACTIONS: [(&str, &str); 12] = [
    ("credit.adjust", "Credit changes"),
    ("credit.usage", "Credit-use switches"),
    ("customers.import", "Customer imports"),
    ("settings.", "Settings changes"),
    ("admin.", "Admin changes"),
    ("api_key.", "API key changes"),
    ("webhook.", "Webhook changes"),
    ("export.", "Exports"),
    ("login.", "Sign-ins"),
    ("login.failed", "Failed sign-ins"),
    ("password.change", "Password changes"),
    ("logout", "Sign-outs"),
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawActivityFilter {
    pub actor: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub user_id: String,
    pub record_id: String,
}

impl RawActivityFilter {
    pub fn parse(&self) -> Result<ActivityFilter, FieldErrors> {
        let mut errors = FieldErrors::default();
        let actor_prefix = errors.take(search_text("actor", &self.actor));
        let action = errors.take(match self.action.trim() {
            "" => Ok(None),
            typed => ACTIONS
                .iter()
                .find(|(action, _)| *action == typed)
                .map(|(action, _)| Some((*action).to_owned()))
                .ok_or_else(|| {
                    FieldError::new(
                        "action",
                        format!("There is no action {} to filter by.", quoted(typed)),
                    )
                }),
        });
        let from = errors.take(date("from", &self.from));
        let to = errors.take(date("to", &self.to));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.push(FieldError::new(
                    "to",
                    "The end date is before the start date.",
                ));
            }
        }
        let user_id = errors.take(record_id("user_id", &self.user_id));
        let record_id = errors.take(record_id("record_id", &self.record_id));
        errors.finish(|| {
            Some(ActivityFilter {
                actor_prefix,
                action,
                from,
                to,
                user_id,
                record_id,
            })
        })
    }
}

/// The filter as URL query pairs (without paging), for links and the export.
pub fn query_pairs(filter: &ActivityFilter) -> Vec<(&'static str, String)> {
    QueryPairs::default()
        .add("actor", filter.actor_prefix.as_ref())
        .add("action", filter.action.as_ref())
        .add("from", filter.from)
        .add("to", filter.to)
        .add("user_id", filter.user_id)
        .add("record_id", filter.record_id)
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_filters() {
        let filter = RawActivityFilter {
            actor: " owner@ ".into(),
            action: "export.".into(),
            record_id: "42".into(),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!(filter.actor_prefix.as_deref(), Some("owner@"));
        assert_eq!(filter.action.as_deref(), Some("export."));
        assert_eq!(query_pairs(&filter).len(), 3);
        let wrong = RawActivityFilter {
            action: "drop table".into(),
            user_id: "-1".into(),
            from: "2026-02-30".into(),
            ..Default::default()
        }
        .parse()
        .unwrap_err();
        assert_eq!(
            wrong.iter().map(|e| e.field).collect::<Vec<_>>(),
            vec!["action", "from", "user_id"]
        );
    }
}
