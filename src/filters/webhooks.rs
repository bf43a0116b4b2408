//! The delivery log's filters (`/webhooks/{id}?status=&type=&before=`).

use serde::Deserialize;

use super::{record_id, QueryPairs};
use crate::domain::quoted;
use crate::forms::{FieldError, FieldErrors};
use crate::webhooks::events::EventType;
use crate::webhooks::outbox::{DELIVERED, FAILED, PENDING};

/// The statuses a delivery can have, for the filter's choices.
pub const STATUSES: [&str; 3] = [PENDING, DELIVERED, FAILED];

/// The event types a delivery can carry, for the filter's choices: every choosable one and
/// the test ping.
pub fn event_types() -> impl Iterator<Item = EventType> {
    EventType::CHOOSABLE.into_iter().chain([EventType::Ping])
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawDeliveryFilter {
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The last delivery id of the page before (keyset paging, newest first).
    pub before: String,
}

/// The checked filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryQuery {
    pub status: Option<&'static str>,
    pub kind: Option<EventType>,
    pub before: Option<i64>,
}

impl RawDeliveryFilter {
    pub fn parse(&self) -> Result<DeliveryQuery, FieldErrors> {
        let mut errors = FieldErrors::default();
        let status = errors.take(match self.status.trim() {
            "" => Ok(None),
            typed => STATUSES
                .into_iter()
                .find(|status| *status == typed)
                .map(Some)
                .ok_or_else(|| {
                    FieldError::new(
                        "status",
                        format!(
                            "A delivery is pending, delivered or failed, not {}.",
                            quoted(typed)
                        ),
                    )
                }),
        });
        let kind = errors.take(match self.kind.trim() {
            "" => Ok(None),
            typed => EventType::parse(typed).map(Some).ok_or_else(|| {
                FieldError::new("type", format!("There is no event type {}.", quoted(typed)))
            }),
        });
        let before = errors.take(record_id("before", &self.before));
        errors.finish(|| {
            Some(DeliveryQuery {
                status,
                kind,
                before,
            })
        })
    }
}

/// The filter as URL query pairs (without paging), for the "Older" link.
pub fn query_pairs(query: &DeliveryQuery) -> Vec<(&'static str, String)> {
    QueryPairs::default()
        .add("status", query.status)
        .add("type", query.kind.map(EventType::as_str))
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_filters() {
        let query = RawDeliveryFilter {
            status: " pending ".into(),
            kind: "ping".into(),
            before: "42".into(),
        }
        .parse()
        .unwrap();
        assert_eq!(
            query,
            DeliveryQuery {
                status: Some(PENDING),
                kind: Some(EventType::Ping),
                before: Some(42),
            }
        );
        assert_eq!(
            query_pairs(&query),
            vec![("status", "pending".into()), ("type", "ping".into())]
        );
        assert_eq!(
            RawDeliveryFilter::default().parse(),
            Ok(DeliveryQuery::default())
        );
        let wrong = RawDeliveryFilter {
            status: "sent".into(),
            kind: "credit.deleted".into(),
            before: "0".into(),
        }
        .parse()
        .unwrap_err();
        assert_eq!(
            wrong.iter().map(|e| e.field).collect::<Vec<_>>(),
            vec!["status", "type", "before"]
        );
        for error in wrong.iter() {
            assert_eq!(
                crate::testing::unclear(&error.message, "sent credit.deleted 0"),
                None
            );
        }
    }
}
