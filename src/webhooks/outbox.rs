//! The outbox (docs/webhooks.md, "Never lost"): events are written in the same database
//! transaction as the change they report, with one pending delivery per endpoint that
//! listens for them, so a committed change always has its events and a rolled-back one has
//! none. The dispatcher ([`super::dispatch`]) sends them afterwards.

use diesel::prelude::*;

use crate::db::models::{
    CreditAccount, CreditTransaction, NewWebhookDelivery, NewWebhookEvent, PromoCreditConfig,
};
use crate::db::prepared::Prepared;
use crate::db::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
use crate::db::DbConnection;
use crate::ledger::Holder;
use crate::store::credits::author_label;

use super::events::{self, listens, Event, EventType};

/// A delivery waiting for its next attempt.
pub const PENDING: &str = "pending";
/// A delivery the receiver answered with 2xx.
pub const DELIVERED: &str = "delivered";
/// A delivery that ran out of attempts, or whose endpoint answered 410.
pub const FAILED: &str = "failed";

/// How long sent and failed deliveries, and their events, are kept: the delivery log and
/// Replay since reach this far back. Pending deliveries are kept until they are sent.
pub const KEEP_FOR: time::Duration = time::Duration::days(30);

/// Forgets deliveries that are no longer pending and were made before `before`, and the
/// events no delivery refers to any more; returns the deliveries forgotten. Rows are found
/// by id (ids grow with time): the first row made at or after `before` bounds what is old, so
/// only old rows are read.
pub fn purge(conn: &mut DbConnection, before: time::PrimitiveDateTime) -> QueryResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        let deliveries_cut: i64 = webhook_deliveries::table
            .filter(webhook_deliveries::created_at.ge(before))
            .order(webhook_deliveries::id)
            .select(webhook_deliveries::id)
            .first(conn)
            .optional()?
            .unwrap_or(i64::MAX);
        let forgotten = diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.lt(deliveries_cut))
                .filter(webhook_deliveries::status.ne(PENDING)),
        )
        .execute(conn)?;
        let events_cut: i64 = webhook_events::table
            .filter(webhook_events::created_at.ge(before))
            .order(webhook_events::id)
            .select(webhook_events::id)
            .first(conn)
            .optional()?
            .unwrap_or(i64::MAX);
        diesel::delete(
            webhook_events::table
                .filter(webhook_events::id.lt(events_cut))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::event_id.eq(webhook_events::id)),
                ))),
        )
        .execute(conn)?;
        Ok(forgotten)
    })
}

/// The enabled endpoints and the events each receives, read inside the change's
/// transaction.
#[derive(Debug, Clone, Default)]
pub struct Listeners(Vec<(i64, String)>);

impl Listeners {
    pub fn read(conn: &mut DbConnection) -> QueryResult<Listeners> {
        Prepared(
            webhook_endpoints::table
                .filter(webhook_endpoints::enabled.eq(true))
                .order(webhook_endpoints::id)
                .select((webhook_endpoints::id, webhook_endpoints::events)),
        )
        .load(conn)
        .map(Listeners)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The endpoints that receive `kind`.
    pub fn of(&self, kind: EventType) -> impl Iterator<Item = i64> + '_ {
        self.0
            .iter()
            .filter(move |(_, events)| kind != EventType::Ping && listens(events, kind))
            .map(|&(id, _)| id)
    }

    pub fn want(&self, kind: EventType) -> bool {
        self.of(kind).next().is_some()
    }
}

/// Writes `events` for the endpoints that listen for each; an event no endpoint listens
/// for is not kept. Returns the deliveries written.
pub fn enqueue(
    conn: &mut DbConnection,
    listeners: &Listeners,
    events: &[Event],
) -> QueryResult<usize> {
    let mut written = 0;
    for event in events {
        let endpoints: Vec<i64> = listeners.of(event.kind).collect();
        if !endpoints.is_empty() {
            written += enqueue_to(conn, event, &endpoints)?;
        }
    }
    Ok(written)
}

/// Writes `event` with a pending delivery to each of `endpoints` (a ping, a resend).
pub fn enqueue_to(conn: &mut DbConnection, event: &Event, endpoints: &[i64]) -> QueryResult<usize> {
    let id = record(conn, event)?;
    deliver_again(conn, id, endpoints, event.created_at)
}

thread_local! {
    /// Deliveries were written on this thread since [`wake_dispatcher`] last looked.
    static ENQUEUED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// After a transaction that may have written deliveries has ended: wakes this server's
/// dispatcher when it did, so they go out at once rather than at its next look.
pub fn wake_dispatcher() {
    if ENQUEUED.with(|enqueued| enqueued.replace(false)) {
        super::dispatch::wake();
    }
}

/// Writes `event` into the outbox; returns its row id.
fn record(conn: &mut DbConnection, event: &Event) -> QueryResult<i64> {
    Prepared(
        diesel::insert_into(webhook_events::table)
            .values(NewWebhookEvent {
                event_id: &event.id,
                kind: event.kind.as_str(),
                payload: &event.body,
                created_at: event.created_at,
            })
            .returning(webhook_events::id),
    )
    .get_result(conn)
}

/// A new pending delivery of the recorded event `event_id` to each of `endpoints`, due at
/// `now`.
pub fn deliver_again(
    conn: &mut DbConnection,
    event_id: i64,
    endpoints: &[i64],
    now: time::PrimitiveDateTime,
) -> QueryResult<usize> {
    let pairs: Vec<(i64, i64)> = endpoints
        .iter()
        .map(|&endpoint| (endpoint, event_id))
        .collect();
    queue(conn, &pairs, now)
}

/// Deliveries written per statement: well under SQLite's limit of bound parameters.
const ROWS_PER_INSERT: usize = 400;

/// A new pending delivery, due at `now`, for each (endpoint, recorded event) of `pairs`, in
/// their order (which is the order they are sent in).
pub fn queue(
    conn: &mut DbConnection,
    pairs: &[(i64, i64)],
    now: time::PrimitiveDateTime,
) -> QueryResult<usize> {
    ENQUEUED.with(|enqueued| enqueued.set(true));
    let rows: Vec<NewWebhookDelivery<'_>> = pairs
        .iter()
        .map(|&(endpoint_id, event_id)| NewWebhookDelivery {
            endpoint_id,
            event_id,
            status: PENDING,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
        .collect();
    if let [one] = rows.as_slice() {
        // The common case (one endpoint listening), kept prepared.
        return Prepared(
            diesel::insert_into(webhook_deliveries::table)
                .values(one)
                .returning(webhook_deliveries::id),
        )
        .get_result::<i64>(conn)
        .map(|_| 1);
    }
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        written += crate::db::dialect::per_backend!(conn, |c| diesel::insert_into(
            webhook_deliveries::table
        )
        .values(chunk)
        .execute(c))?;
    }
    Ok(written)
}

/// The events of ledger rows written together (in id order) and the account after the last,
/// for the endpoints listening: `credit.changed` for each row and its threshold crossing.
pub fn ledger_rows(
    conn: &mut DbConnection,
    listeners: &Listeners,
    rows: &[CreditTransaction],
    account: &CreditAccount,
    config: &PromoCreditConfig,
    holder: &Holder,
) -> QueryResult<usize> {
    let changed = listeners.want(EventType::CreditChanged);
    let crossing =
        listeners.want(EventType::BalanceLow) || listeners.want(EventType::BalanceRecovered);
    if rows.is_empty() || !(changed || crossing) {
        return Ok(0);
    }
    let mut labels = Vec::with_capacity(rows.len());
    for row in rows {
        labels.push(match changed {
            true => author_label(conn, &row.actor_kind, row.actor_id)?,
            false => String::new(),
        });
    }
    let events = events::of_rows(rows, &labels, account, config, holder);
    enqueue(conn, listeners, &events)
}
