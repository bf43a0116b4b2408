//! Webhook endpoints and their deliveries as the console manages them (docs/webhooks.md):
//! add (the secret shown once), disable, enable, rotate, ping, the delivery log, resend and
//! replay. Every change is recorded in the activity log in its transaction.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::dialect::{delivery_failed, delivery_pending};
use crate::db::models::{WebhookDelivery, WebhookEndpoint};
use crate::db::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
use crate::db::{now_utc, write_transaction, DbConnection};
use crate::store::activity::{self, Audit};
use crate::webhooks::events::{Event, EventType, Ping};
use crate::webhooks::outbox;
use crate::webhooks::signature::Secret;

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);

/// An endpoint to add, checked at the edge (`crate::forms::webhooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    /// At least one of [`EventType::CHOOSABLE`].
    pub events: Vec<EventType>,
}

/// The events of an endpoint as stored: space-separated.
pub fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Adds an endpoint with a new secret; returns it and the secret, which is never shown again.
pub fn create(
    conn: &mut DbConnection,
    new: &NewEndpoint,
    audit: &Audit,
) -> QueryResult<(WebhookEndpoint, Secret)> {
    let secret = Secret::generate();
    let now = now_utc();
    let endpoint = write_transaction(conn, |conn| -> QueryResult<WebhookEndpoint> {
        let id: i64 = diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::url.eq(&new.url),
                webhook_endpoints::description.eq(&new.description),
                webhook_endpoints::events.eq(events_text(&new.events)),
                webhook_endpoints::secret.eq(secret.text()),
                webhook_endpoints::enabled.eq(true),
                webhook_endpoints::created_at.eq(now),
                webhook_endpoints::updated_at.eq(now),
            ))
            .returning(webhook_endpoints::id)
            .get_result(conn)?;
        let endpoint = find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
        record(conn, audit, "webhook.create", &endpoint, &endpoint.events)?;
        Ok(endpoint)
    })?;
    Ok((endpoint, secret))
}

fn record(
    conn: &mut DbConnection,
    audit: &Audit,
    action: &str,
    endpoint: &WebhookEndpoint,
    details: &str,
) -> QueryResult<()> {
    activity::record(
        conn,
        activity::Record {
            audit,
            action,
            target: &format!("webhook {} ({})", endpoint.id, endpoint.url),
            details,
            subject: activity::Subject::default(),
        },
    )
}

/// An endpoint as the list shows it: with its queue and its last answer.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub endpoint: WebhookEndpoint,
    /// Deliveries waiting to be sent (or sent again).
    pub pending: i64,
    pub failed: i64,
    /// The newest delivery that had an attempt: when, and its status.
    pub last_attempt: Option<(PrimitiveDateTime, String)>,
}

/// Every endpoint, oldest first, with its queue.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<EndpointRow>> {
    let endpoints: Vec<WebhookEndpoint> = webhook_endpoints::table
        .order(webhook_endpoints::id)
        .select(WebhookEndpoint::as_select())
        .load(conn)?;
    let mut rows = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        // Each through its partial index: the queue and the failed are few, whatever the log
        // holds.
        let of_endpoint = webhook_deliveries::endpoint_id.eq(endpoint.id);
        let pending = webhook_deliveries::table
            .filter(of_endpoint)
            .filter(delivery_pending())
            .count()
            .get_result(conn)?;
        let failed = webhook_deliveries::table
            .filter(of_endpoint)
            .filter(delivery_failed())
            .count()
            .get_result(conn)?;
        // Deliveries are attempted in id order, so the newest attempted is the last attempt;
        // only the not yet attempted end of the queue is read past.
        let last_attempt = webhook_deliveries::table
            .filter(of_endpoint)
            .filter(webhook_deliveries::last_attempt_at.is_not_null())
            .order(webhook_deliveries::id.desc())
            .select((
                webhook_deliveries::last_attempt_at.assume_not_null(),
                webhook_deliveries::status,
            ))
            .first(conn)
            .optional()?;
        rows.push(EndpointRow {
            endpoint,
            pending,
            failed,
            last_attempt,
        });
    }
    Ok(rows)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<WebhookEndpoint>> {
    webhook_endpoints::table
        .find(id)
        .select(WebhookEndpoint::as_select())
        .first(conn)
        .optional()
}

/// Endpoints the server disabled (410 Gone, or failing for five days), for the dashboard.
pub fn disabled_by_server(conn: &mut DbConnection) -> QueryResult<Vec<WebhookEndpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(false))
        .filter(webhook_endpoints::disabled_reason.is_not_null())
        .order(webhook_endpoints::disabled_at.desc())
        .select(WebhookEndpoint::as_select())
        .load(conn)
}

/// What an owner's switch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    Done,
    /// It was so already: nothing written.
    Already,
}

/// Enables or disables an endpoint by an owner's hand; none when there is no such endpoint.
/// A disabled endpoint is sent nothing, and receives no new events, until enabled again;
/// what was pending waits.
pub fn set_enabled(
    conn: &mut DbConnection,
    id: i64,
    enabled: bool,
    audit: &Audit,
) -> QueryResult<Option<(WebhookEndpoint, Switched)>> {
    write_transaction(conn, |conn| {
        let Some(endpoint) = find(conn, id)? else {
            return Ok(None);
        };
        if endpoint.enabled == enabled {
            return Ok(Some((endpoint, Switched::Already)));
        }
        let now = now_utc();
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::enabled.eq(enabled),
                // Only the server's own disabling carries a reason (the dashboard lists it);
                // the activity log says which owner did this.
                webhook_endpoints::disabled_reason.eq(None::<String>),
                webhook_endpoints::disabled_at.eq((!enabled).then_some(now)),
                webhook_endpoints::failing_since.eq(None::<PrimitiveDateTime>),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        let endpoint = find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
        let action = match enabled {
            true => "webhook.enable",
            false => "webhook.disable",
        };
        record(conn, audit, action, &endpoint, "")?;
        Ok(Some((endpoint, Switched::Done)))
    })
}

/// Disables an endpoint on the server's own decision (`reason` in words: 410 Gone, five
/// days failing), recorded as `system`; the dashboard lists it.
pub fn disable_by_server(conn: &mut DbConnection, id: i64, reason: &str) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let Some(endpoint) = find(conn, id)? else {
            return Ok(());
        };
        if !endpoint.enabled {
            return Ok(());
        }
        let now = now_utc();
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::enabled.eq(false),
                webhook_endpoints::disabled_reason.eq(reason),
                webhook_endpoints::disabled_at.eq(now),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        record(conn, &Audit::system(), "webhook.disable", &endpoint, reason)
    })
}

/// A new secret for the endpoint; the old one keeps signing beside it for
/// [`ROTATION_OVERLAP`]. Returns the new secret (shown once), none when there is no such
/// endpoint.
pub fn rotate(conn: &mut DbConnection, id: i64, audit: &Audit) -> QueryResult<Option<Secret>> {
    let secret = Secret::generate();
    write_transaction(conn, |conn| {
        let Some(endpoint) = find(conn, id)? else {
            return Ok(None);
        };
        let now = now_utc();
        let until = now + ROTATION_OVERLAP;
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::secret.eq(secret.text()),
                webhook_endpoints::previous_secret.eq(Some(&endpoint.secret)),
                webhook_endpoints::previous_secret_until.eq(Some(until)),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        let details = format!(
            "the old secret signs too until {}",
            crate::db::iso8601(until)
        );
        record(conn, audit, "webhook.rotate", &endpoint, &details)?;
        Ok(Some(secret.clone()))
    })
}

/// The secrets that sign a delivery at `now`: the current one, and the rotated-out one
/// while it overlaps. Secrets that do not read back are left out (only a database changed
/// by hand holds one).
pub fn signing_secrets(endpoint: &WebhookEndpoint, now: PrimitiveDateTime) -> Vec<Secret> {
    let previous = endpoint.previous_secret.as_deref().filter(|_| {
        endpoint
            .previous_secret_until
            .is_some_and(|until| until > now)
    });
    [Some(endpoint.secret.as_str()), previous]
        .into_iter()
        .flatten()
        .filter_map(|text| Secret::parse(text).ok())
        .collect()
}

/// Queues a `ping` to the endpoint (the test button), enabled or not; returns the event id,
/// none when there is no such endpoint.
pub fn ping(conn: &mut DbConnection, id: i64, audit: &Audit) -> QueryResult<Option<String>> {
    let queued = write_transaction(conn, |conn| {
        let Some(endpoint) = find(conn, id)? else {
            return Ok(None);
        };
        let ping = Ping {
            endpoint_id: id,
            message: "Test event sent from the Creditdesk console.",
        };
        let event = Event::new(EventType::Ping, ping, now_utc());
        outbox::enqueue_to(conn, &event, &[id])?;
        record(conn, audit, "webhook.test", &endpoint, &event.id)?;
        Ok(Some(event.id))
    });
    outbox::wake_dispatcher();
    queued
}

/// Which deliveries the log shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryFilter<'a> {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<&'a str>,
    pub kind: Option<EventType>,
}

/// A delivery with its event, as the log shows it.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub delivery: WebhookDelivery,
    /// `webhook-id`.
    pub event_id: String,
    pub kind: String,
    pub event_created_at: PrimitiveDateTime,
}

/// The endpoint's deliveries newest first, older than `before` (a delivery id), at most
/// `limit`.
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint_id: i64,
    filter: DeliveryFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::id.lt(before.unwrap_or(i64::MAX)))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(webhook_deliveries::status.eq(status.to_owned()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(webhook_events::kind.eq(kind.as_str()));
    }
    let rows: Vec<(WebhookDelivery, String, String, PrimitiveDateTime)> = query
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select((
            WebhookDelivery::as_select(),
            webhook_events::event_id,
            webhook_events::kind,
            webhook_events::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(delivery, event_id, kind, event_created_at)| DeliveryRow {
            delivery,
            event_id,
            kind,
            event_created_at,
        })
        .collect())
}

/// Sends a delivery's event to its endpoint again, as a new delivery at the end of the
/// queue (same `webhook-id`: the receiver sees the same event). Returns the new delivery's
/// event id, none when the endpoint has no such delivery.
pub fn resend(
    conn: &mut DbConnection,
    endpoint_id: i64,
    delivery_id: i64,
    audit: &Audit,
) -> QueryResult<Option<String>> {
    let queued = write_transaction(conn, |conn| {
        let Some(endpoint) = find(conn, endpoint_id)? else {
            return Ok(None);
        };
        let Some((event_row, event_id)) = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::id.eq(delivery_id))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .select((webhook_events::id, webhook_events::event_id))
            .first::<(i64, String)>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        outbox::deliver_again(conn, event_row, &[endpoint_id], now_utc())?;
        record(conn, audit, "webhook.resend", &endpoint, &event_id)?;
        Ok(Some(event_id))
    });
    outbox::wake_dispatcher();
    queued
}

/// Sends again, in event order, every event the endpoint was sent (or was to be sent) since
/// `since`, each once, as new deliveries at the end of its queue. Returns how many; none when
/// there is no such endpoint.
pub fn replay_since(
    conn: &mut DbConnection,
    endpoint_id: i64,
    since: PrimitiveDateTime,
    audit: &Audit,
) -> QueryResult<Option<usize>> {
    let queued = write_transaction(conn, |conn| {
        let Some(endpoint) = find(conn, endpoint_id)? else {
            return Ok(None);
        };
        let events: Vec<i64> = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_events::created_at.ge(since))
            .select(webhook_events::id)
            .distinct()
            .order(webhook_events::id)
            .load(conn)?;
        let pairs: Vec<(i64, i64)> = events.iter().map(|&event| (endpoint_id, event)).collect();
        outbox::queue(conn, &pairs, now_utc())?;
        let details = format!(
            "{} events since {}",
            events.len(),
            crate::db::iso8601(since)
        );
        record(conn, audit, "webhook.replay", &endpoint, &details)?;
        Ok(Some(events.len()))
    });
    outbox::wake_dispatcher();
    queued
}
