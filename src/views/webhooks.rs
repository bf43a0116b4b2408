//! `/webhooks` and `/webhooks/{id}`: the endpoints with their queues and the add form, and
//! one endpoint's delivery log (docs/console.md, "Webhooks"). A secret is shown only in the
//! answer that made it, never read back from a row.

use askama::Template;
use time::PrimitiveDateTime;

use super::promo_credits::Choice;
use super::{as_typed, short_time, Layout};
use crate::db::models::WebhookEndpoint;
use crate::domain::{counted, without_controls};
use crate::filters::webhooks::{
    event_types, query_pairs, DeliveryQuery, RawDeliveryFilter, STATUSES,
};
use crate::forms::webhooks::NewEndpointFields;
use crate::forms::FieldErrors;
use crate::store::webhooks::{DeliveryRow, EndpointRow, Switched};
use crate::web::href;
use crate::webhooks::events::EventType;
use crate::webhooks::outbox::PENDING;

/// Deliveries a page of the log shows.
pub const DELIVERY_PAGE: i64 = 50;

/// Characters of a response excerpt shown in the table; the rest opens on a click.
const EXCERPT_SHOWN: usize = 80;

/// A confirmation, with a link to where its result shows when there is one.
pub struct Notice {
    pub text: String,
    pub link: Option<(String, &'static str)>,
}

impl Notice {
    fn plain(text: String) -> Notice {
        Notice { text, link: None }
    }

    pub fn added(endpoint: &WebhookEndpoint) -> Notice {
        Notice::plain(format!(
            "Events now go to {}: {}.",
            endpoint.url,
            endpoint.events.replace(' ', ", ")
        ))
    }

    pub fn switched(endpoint: &WebhookEndpoint, switched: Switched) -> Notice {
        let url = &endpoint.url;
        Notice::plain(match (endpoint.enabled, switched) {
            (true, Switched::Done) => format!(
                "{url} is enabled: it receives new events again, and what was queued is sent."
            ),
            (false, Switched::Done) => format!(
                "{url} is disabled: it is sent nothing and receives no new events until it is enabled; what was queued waits."
            ),
            (true, Switched::Already) => format!("{url} was enabled already: nothing changed."),
            (false, Switched::Already) => format!("{url} was disabled already: nothing changed."),
        })
    }

    pub fn rotated(endpoint: &WebhookEndpoint) -> Notice {
        Notice::plain(format!("{} has a new signing secret.", endpoint.url))
    }

    pub fn pinged(endpoint: &WebhookEndpoint, event_id: &str) -> Notice {
        Notice {
            text: format!(
                "A test ping to {} is queued (webhook-id {event_id}). Its delivery shows in the endpoint's delivery log.",
                endpoint.url
            ),
            link: Some((format!("/webhooks/{}", endpoint.id), "See the delivery log")),
        }
    }

    pub fn resent(event_id: &str) -> Notice {
        Notice::plain(format!(
            "Event {event_id} is queued again as a new delivery, with the same webhook-id, so the receiver can tell it has seen it."
        ))
    }

    pub fn replayed(count: usize, since: PrimitiveDateTime) -> Notice {
        Notice::plain(match count {
            0 => format!(
                "No event was sent to this endpoint since {} UTC: nothing was queued.",
                short_time(since)
            ),
            n => format!(
                "{} since {} UTC queued again, in their order, as new deliveries.",
                counted(n as i64, "event", "events"),
                short_time(since)
            ),
        })
    }
}

/// A signing secret shown this once.
pub struct ShownSecret {
    pub url: String,
    pub secret: String,
    /// After a rotation: the old secret keeps signing for 24 hours.
    pub rotated: bool,
}

/// An endpoint's state in words.
pub struct EndpointStatus {
    pub enabled: bool,
    /// `Enabled`, `Disabled`, `Disabled by Creditdesk`.
    pub label: &'static str,
    /// Why, for a disabled endpoint (`By an owner`, or the server's reason); `Failing since`
    /// for an enabled one whose deliveries fail.
    pub detail: String,
    /// Since when (UTC), when there is a detail.
    pub since: String,
}

impl EndpointStatus {
    fn of(endpoint: &WebhookEndpoint) -> EndpointStatus {
        let disabled_at = endpoint.disabled_at.map(short_time).unwrap_or_default();
        match (endpoint.enabled, endpoint.disabled_reason.as_deref()) {
            (true, _) => EndpointStatus {
                enabled: true,
                label: "Enabled",
                detail: match endpoint.failing_since {
                    Some(_) => "Failing since".to_owned(),
                    None => String::new(),
                },
                since: endpoint.failing_since.map(short_time).unwrap_or_default(),
            },
            (false, Some(reason)) => EndpointStatus {
                enabled: false,
                label: "Disabled by Creditdesk",
                detail: reason.to_owned(),
                since: disabled_at,
            },
            (false, None) => EndpointStatus {
                enabled: false,
                label: "Disabled",
                detail: "By an owner".to_owned(),
                since: disabled_at,
            },
        }
    }
}

/// What the list and the log's head show of an endpoint (never its secret).
pub struct EndpointHead {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub status: EndpointStatus,
    pub added: String,
    /// Until when a rotated-out secret signs too, while it does.
    pub overlap_until: Option<String>,
}

impl EndpointHead {
    pub fn new(endpoint: &WebhookEndpoint, now: PrimitiveDateTime) -> EndpointHead {
        EndpointHead {
            id: endpoint.id,
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            events: endpoint
                .events
                .split(' ')
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
            status: EndpointStatus::of(endpoint),
            added: short_time(endpoint.created_at),
            overlap_until: endpoint
                .previous_secret_until
                .filter(|until| endpoint.previous_secret.is_some() && *until > now)
                .map(short_time),
        }
    }
}

/// A row of `table#webhook-endpoints`.
pub struct EndpointLine {
    pub head: EndpointHead,
    pub pending: i64,
    pub failed: i64,
    /// When (UTC) and the delivery's status, if anything was attempted yet.
    pub last_attempt: Option<(String, String)>,
}

/// An event type's checkbox in the add form.
pub struct EventChoice {
    pub value: &'static str,
    pub describe: &'static str,
    pub ticked: bool,
}

fn event_choices(form: &NewEndpointFields) -> Vec<EventChoice> {
    EventType::CHOOSABLE
        .into_iter()
        .map(|kind| EventChoice {
            value: kind.as_str(),
            describe: kind.describe(),
            ticked: form.ticks(kind),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
pub struct WebhooksPage {
    pub layout: Layout,
    pub endpoints: Vec<EndpointLine>,
    pub form: NewEndpointFields,
    pub choices: Vec<EventChoice>,
    pub errors: FieldErrors,
    pub done: Option<Notice>,
    pub secret: Option<ShownSecret>,
    /// `CREDITDESK_WEBHOOKS_ALLOW_INSECURE`: plain http:// and loopback accepted.
    pub allow_insecure: bool,
    /// The reader may change endpoints (an owner); others see them read-only.
    pub can_manage: bool,
}

impl WebhooksPage {
    pub fn new(
        layout: Layout,
        rows: &[EndpointRow],
        now: PrimitiveDateTime,
        allow_insecure: bool,
        can_manage: bool,
    ) -> WebhooksPage {
        let form = NewEndpointFields::fresh();
        WebhooksPage {
            layout,
            endpoints: rows
                .iter()
                .map(|row| EndpointLine {
                    head: EndpointHead::new(&row.endpoint, now),
                    pending: row.pending,
                    failed: row.failed,
                    last_attempt: row
                        .last_attempt
                        .as_ref()
                        .map(|(at, status)| (short_time(*at), status.clone())),
                })
                .collect(),
            choices: event_choices(&form),
            form,
            errors: FieldErrors::default(),
            done: None,
            secret: None,
            allow_insecure,
            can_manage,
        }
    }

    /// The add form again with what was typed and its messages.
    pub fn refilled(mut self, form: NewEndpointFields, errors: FieldErrors) -> WebhooksPage {
        self.choices = event_choices(&form);
        self.form = NewEndpointFields {
            url: without_controls(&form.url, 2_000),
            description: without_controls(&form.description, 200),
            events: form.events,
        };
        self.errors = errors;
        self
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
}

/// A row of `table#webhook-deliveries`.
pub struct DeliveryLine {
    pub id: i64,
    pub event_id: String,
    pub kind: String,
    pub created: String,
    pub status: String,
    pub attempts: i32,
    pub response_code: String,
    /// The excerpt of the last answer, shortened for the table.
    pub excerpt: String,
    /// The whole stored excerpt, when the table shows only its start.
    pub excerpt_full: Option<String>,
    /// When the next attempt is due, for a pending delivery.
    pub next_attempt: String,
}

impl DeliveryLine {
    fn new(row: &DeliveryRow) -> DeliveryLine {
        let delivery = &row.delivery;
        let stored = delivery.response_excerpt.as_deref().unwrap_or("");
        let shown = without_controls(stored, EXCERPT_SHOWN);
        let cut = stored.chars().filter(|c| !c.is_control()).count() > EXCERPT_SHOWN;
        DeliveryLine {
            id: delivery.id,
            event_id: row.event_id.clone(),
            kind: row.kind.clone(),
            created: short_time(delivery.created_at),
            status: delivery.status.clone(),
            attempts: delivery.attempts,
            response_code: delivery
                .response_code
                .map(|code| code.to_string())
                .unwrap_or_else(|| "—".to_owned()),
            excerpt: if cut { format!("{shown}…") } else { shown },
            excerpt_full: cut.then(|| stored.to_owned()),
            next_attempt: match delivery.status == PENDING {
                true => short_time(delivery.next_attempt_at),
                false => "—".to_owned(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks/deliveries.html")]
pub struct DeliveriesPage {
    pub layout: Layout,
    pub endpoint: EndpointHead,
    pub raw: RawDeliveryFilter,
    pub statuses: Vec<Choice>,
    pub types: Vec<Choice>,
    pub rows: Vec<DeliveryLine>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    /// The role may resend and replay (owners).
    pub can_manage: bool,
    /// The replay form's time as typed.
    pub since: String,
    pub errors: FieldErrors,
    pub done: Option<Notice>,
}

impl DeliveriesPage {
    /// The log for the filter as typed: a page of deliveries (`rows` holds one more than the
    /// page when older ones follow), or the filter with its messages.
    pub fn new(
        layout: Layout,
        endpoint: &WebhookEndpoint,
        raw: RawDeliveryFilter,
        checked: Result<DeliveryQuery, FieldErrors>,
        rows: &[DeliveryRow],
        can_manage: bool,
        now: PrimitiveDateTime,
    ) -> DeliveriesPage {
        let choices = |values: Vec<&'static str>, typed: &str| -> Vec<Choice> {
            values
                .into_iter()
                .map(|value| Choice {
                    value: value.to_owned(),
                    label: value.to_owned(),
                    selected: typed.trim() == value,
                })
                .collect()
        };
        let statuses = choices(STATUSES.to_vec(), &raw.status);
        let types = choices(event_types().map(EventType::as_str).collect(), &raw.kind);
        let (errors, query) = match checked {
            Ok(query) => (FieldErrors::default(), Some(query)),
            Err(errors) => (errors, None),
        };
        let page = DELIVERY_PAGE as usize;
        let lines: Vec<DeliveryLine> = rows.iter().take(page).map(DeliveryLine::new).collect();
        let path = format!("/webhooks/{}", endpoint.id);
        let pairs = query.as_ref().map(query_pairs).unwrap_or_default();
        let next_href = match (rows.len() > page, lines.last()) {
            (true, Some(last)) => {
                let mut older = pairs.clone();
                older.push(("before", last.id.to_string()));
                Some(href(&path, &older))
            }
            _ => None,
        };
        DeliveriesPage {
            layout,
            endpoint: EndpointHead::new(endpoint, now),
            raw: RawDeliveryFilter {
                before: as_typed(&raw.before),
                ..raw
            },
            statuses,
            types,
            rows: lines,
            next_href,
            first_href: query.and_then(|q| q.before).map(|_| href(&path, &pairs)),
            can_manage,
            since: String::new(),
            errors,
            done: None,
        }
    }

    /// The replay form again with what was typed and its message.
    pub fn replay_refused(mut self, since: &str, errors: FieldErrors) -> DeliveriesPage {
        self.since = as_typed(since);
        self.errors = errors;
        self
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    /// The filter's fields have messages (not the replay form's).
    pub fn filter_refused(&self) -> bool {
        ["status", "type", "before"]
            .iter()
            .any(|field| self.errors.get(field).is_some())
    }
}

/// An endpoint the server disabled, as the dashboard warns of it.
pub struct DisabledEndpoint {
    pub id: i64,
    pub url: String,
    pub reason: String,
    pub when: String,
}

impl DisabledEndpoint {
    pub fn new(endpoint: &WebhookEndpoint) -> DisabledEndpoint {
        DisabledEndpoint {
            id: endpoint.id,
            url: endpoint.url.clone(),
            reason: endpoint.disabled_reason.clone().unwrap_or_default(),
            when: endpoint.disabled_at.map(short_time).unwrap_or_default(),
        }
    }
}
