//! The dispatcher (docs/webhooks.md, "Delivery"): inside every server, it sends the outbox's
//! pending deliveries. An endpoint's queue is sent by one server at a time, which claims the
//! endpoint for a while ([`crate::config::WebhookSettings::claim`]) and renews the claim
//! before each attempt; so several servers on one database never send the same attempt
//! twice, and a server that dies mid-attempt leaves the claim to lapse and another (or
//! itself, restarted) to send that delivery again. Within a queue deliveries go in event
//! order: the next waits while the one before it is being retried.
//!
//! Each attempt is written down (its number, its time) before the request goes out, and its
//! outcome after; a crash between the two shows as an attempt without an answer, and the
//! delivery goes out again with the same `webhook-id`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::config::WebhookSettings;
use crate::db::dialect::delivery_pending;
use crate::db::models::{WebhookDelivery, WebhookEndpoint};
use crate::db::prepared::Prepared;
use crate::db::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
use crate::db::{now_utc, write_transaction, DbConnection, Pool};
use crate::store::webhooks::{disable_by_server, signing_secrets};

use super::client::{Client, Reply, Request};
use super::outbox::{DELIVERED, FAILED};
use super::policy::{decide, Answer, Decision};
use super::signature::signature_header;

/// How often the dispatcher looks for due deliveries (events of this server and of others,
/// retries come due).
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// Wakes this server's dispatcher before its next look is due: new events were committed
/// here, or a queue was let go with more to send.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Tells this server's dispatcher that there may be something to send now.
pub fn wake() {
    WAKE.notify_one();
}

/// Endpoints one server sends to at once.
pub const PARALLEL_ENDPOINTS: usize = 8;

/// Deliveries sent under one claim before the endpoint is let go (another server, or this
/// one at its next look, continues): keeps servers taking turns on a long queue.
const PER_CLAIM: usize = 500;

/// An endpoint failing every attempt this long is disabled.
pub const FAILING_LIMIT: time::Duration = time::Duration::days(5);

/// The dispatcher of one server.
pub struct Dispatcher {
    pool: Pool,
    client: Client,
    settings: WebhookSettings,
    /// Names this server in claims.
    holder: String,
    /// Endpoints this server is sending to now.
    busy: Mutex<HashSet<i64>>,
}

impl Dispatcher {
    pub fn new(pool: Pool, settings: WebhookSettings) -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            pool,
            client: Client::new(settings.timeout, settings.allow_insecure),
            settings,
            holder: format!(
                "server {} {:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
            busy: Mutex::default(),
        })
    }

    /// Runs for as long as the server: every [`POLL_EVERY`], or sooner when woken
    /// ([`wake`]), claims endpoints with due deliveries and sends each one's queue on a
    /// blocking thread.
    pub async fn run(self: Arc<Dispatcher>) {
        loop {
            let free = PARALLEL_ENDPOINTS.saturating_sub(self.busy().len());
            if free > 0 {
                let dispatcher = self.clone();
                let claimed = actix_web::web::block(move || dispatcher.claim_due(free)).await;
                match claimed {
                    Ok(Ok(endpoints)) => {
                        for endpoint in endpoints {
                            self.busy().insert(endpoint);
                            let dispatcher = self.clone();
                            actix_web::rt::spawn(async move {
                                let worker = dispatcher.clone();
                                let sent = actix_web::web::block(move || worker.drain(endpoint));
                                let more = match sent.await {
                                    Ok(Ok(attempts)) => attempts >= PER_CLAIM,
                                    Ok(Err(error)) => {
                                        tracing::warn!(%error, endpoint, "webhook sending stopped; it goes on at the next look");
                                        false
                                    }
                                    Err(_) => false,
                                };
                                dispatcher.busy().remove(&endpoint);
                                if more {
                                    wake();
                                }
                            });
                        }
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "could not look for webhook deliveries")
                    }
                    Err(error) => tracing::warn!(%error, "could not look for webhook deliveries"),
                }
            }
            let _ = actix_web::rt::time::timeout(POLL_EVERY, WAKE.notified()).await;
        }
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims up to `most` enabled endpoints that no server holds and whose first pending
    /// delivery is due (a queue waiting for a retry is not due, whatever follows in it);
    /// returns their ids.
    pub fn claim_due(&self, most: usize) -> anyhow::Result<Vec<i64>> {
        let mut conn = self.pool.get()?;
        let now = now_utc();
        let free: Vec<i64> = webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(
                webhook_endpoints::claimed_until
                    .is_null()
                    .or(webhook_endpoints::claimed_until.lt(now)),
            )
            .order(webhook_endpoints::id)
            .select(webhook_endpoints::id)
            .load(&mut conn)?;
        let busy = self.busy().clone();
        let mut claimed = Vec::new();
        for endpoint in free.into_iter().filter(|id| !busy.contains(id)) {
            if claimed.len() == most {
                break;
            }
            let head: Option<PrimitiveDateTime> = Prepared(
                webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint_id.eq(endpoint))
                    .filter(delivery_pending())
                    .order(webhook_deliveries::id)
                    .limit(1)
                    .select(webhook_deliveries::next_attempt_at),
            )
            .get_result(&mut conn)
            .optional()?;
            if head.is_some_and(|due| due <= now) && self.take(&mut conn, endpoint, now)? {
                claimed.push(endpoint);
            }
        }
        Ok(claimed)
    }

    /// Claims `endpoint` when no server holds it; whether it did.
    fn take(
        &self,
        conn: &mut DbConnection,
        endpoint: i64,
        now: PrimitiveDateTime,
    ) -> QueryResult<bool> {
        let until = now + self.settings.claim();
        write_transaction(conn, |conn| {
            diesel::update(webhook_endpoints::table.find(endpoint))
                .filter(webhook_endpoints::enabled.eq(true))
                .filter(
                    webhook_endpoints::claimed_until
                        .is_null()
                        .or(webhook_endpoints::claimed_until.lt(now)),
                )
                .set((
                    webhook_endpoints::claimed_by.eq(&self.holder),
                    webhook_endpoints::claimed_until.eq(until),
                ))
                .execute(conn)
        })
        .map(|rows| rows == 1)
    }

    /// Sends `endpoint`'s due deliveries in order while this server holds its claim, then
    /// lets the claim go. Returns how many attempts were made.
    pub fn drain(&self, endpoint: i64) -> anyhow::Result<usize> {
        let mut conn = self.pool.get()?;
        let mut attempts = 0;
        let sent = (|| -> anyhow::Result<()> {
            while attempts < PER_CLAIM {
                let Some(claim) = self.renew(&mut conn, endpoint)? else {
                    return Ok(());
                };
                let now = now_utc();
                let due: Vec<Head> = heads(&mut conn, endpoint)?
                    .into_iter()
                    .take_while(|head| head.delivery.next_attempt_at <= now)
                    .collect();
                if due.is_empty() {
                    return Ok(());
                }
                let (made, go_on) = self.send_batch(&mut conn, claim, &due)?;
                attempts += made;
                if !go_on {
                    return Ok(());
                }
            }
            Ok(())
        })();
        self.release(&mut conn, endpoint)?;
        sent.map(|()| attempts)
    }

    /// Sends `due` (the head of the queue, in order) one after the other until one is not
    /// delivered: its attempts written down first, all at once, the outcomes after, all at
    /// once. Returns the attempts made and whether the queue may go on.
    fn send_batch(
        &self,
        conn: &mut DbConnection,
        mut claim: Claim,
        due: &[Head],
    ) -> anyhow::Result<(usize, bool)> {
        let started = now_utc();
        let ids: Vec<i64> = due.iter().map(|head| head.delivery.id).collect();
        write_transaction(conn, |conn| {
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
                .set((
                    webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                    webhook_deliveries::last_attempt_at.eq(started),
                ))
                .execute(conn)
        })?;
        let mut outcomes = Vec::with_capacity(due.len());
        let mut go_on = true;
        for head in due {
            // The claim must outlast the attempt: renewed when less than a timeout is left.
            if now_utc() + self.settings.timeout + CLAIM_MARGIN >= claim.until {
                match self.renew(conn, claim.endpoint.id)? {
                    Some(renewed) => claim = renewed,
                    None => {
                        go_on = false;
                        break;
                    }
                }
            }
            let (reply, decision) = self.attempt(&claim.endpoint, head);
            crate::metrics::webhook_attempt(outcome_label(decision));
            outcomes.push(Outcome {
                delivery: head.delivery.id,
                reply,
                decision,
            });
            if !matches!(decision, Decision::Delivered | Decision::Failed) {
                go_on = false;
                break;
            }
        }
        let unsent = &ids[outcomes.len()..];
        self.record(conn, &claim.endpoint, &outcomes, unsent)?;
        let disabled = outcomes.iter().any(|o| o.decision == Decision::Disable);
        Ok((outcomes.len(), go_on && !disabled))
    }

    /// Extends this server's claim on `endpoint` and reads it; none when the claim is no
    /// longer this server's (it lapsed and another took it) or the endpoint was disabled.
    fn renew(&self, conn: &mut DbConnection, endpoint: i64) -> QueryResult<Option<Claim>> {
        let until = now_utc() + self.settings.claim();
        let renewed = write_transaction(conn, |conn| {
            Prepared(
                diesel::update(webhook_endpoints::table.find(endpoint))
                    .filter(webhook_endpoints::enabled.eq(true))
                    .filter(webhook_endpoints::claimed_by.eq(&self.holder))
                    .set(webhook_endpoints::claimed_until.eq(until)),
            )
            .execute(conn)
        })?;
        if renewed == 0 {
            return Ok(None);
        }
        let endpoint = Prepared(
            webhook_endpoints::table
                .find(endpoint)
                .select(WebhookEndpoint::as_select()),
        )
        .get_result(conn)
        .optional()?;
        Ok(endpoint.map(|endpoint| Claim { endpoint, until }))
    }

    /// Lets the claim on `endpoint` go, when it is still this server's.
    fn release(&self, conn: &mut DbConnection, endpoint: i64) -> QueryResult<()> {
        write_transaction(conn, |conn| {
            diesel::update(webhook_endpoints::table.find(endpoint))
                .filter(webhook_endpoints::claimed_by.eq(&self.holder))
                .set((
                    webhook_endpoints::claimed_by.eq(None::<String>),
                    webhook_endpoints::claimed_until.eq(None::<PrimitiveDateTime>),
                ))
                .execute(conn)
        })
        .map(|_| ())
    }

    /// One attempt at `head`, signed now: the answer, and what it decides.
    fn attempt(&self, endpoint: &WebhookEndpoint, head: &Head) -> (Reply, Decision) {
        let now = now_utc();
        let timestamp = now.assume_utc().unix_timestamp();
        let secrets = signing_secrets(endpoint, now);
        let signature =
            signature_header(&secrets, &head.event_id, timestamp, head.payload.as_bytes());
        let reply = self.client.send(Request {
            url: &endpoint.url,
            id: &head.event_id,
            timestamp,
            signature: &signature,
            body: &head.payload,
        });
        let number = u32::try_from(head.delivery.attempts + 1).unwrap_or(u32::MAX);
        let decision = decide(number, reply.answer, rand::random::<u32>() % 1001);
        (reply, decision)
    }

    /// Writes what the attempts' answers decided, in one transaction: each delivery's
    /// status, answer and next attempt; the attempts counted for `unsent` taken back; the
    /// endpoint's failing streak. Then disables the endpoint when an answer was 410 or it
    /// has failed for [`FAILING_LIMIT`].
    fn record(
        &self,
        conn: &mut DbConnection,
        endpoint: &WebhookEndpoint,
        outcomes: &[Outcome],
        unsent: &[i64],
    ) -> QueryResult<()> {
        let now = now_utc();
        let mut failing_since = endpoint.failing_since;
        for outcome in outcomes {
            failing_since = match outcome.decision {
                Decision::Delivered => None,
                _ => Some(failing_since.unwrap_or(now)),
            };
        }
        write_transaction(conn, |conn| {
            for outcome in outcomes {
                let code = match outcome.reply.answer {
                    Answer::Status { code, .. } => Some(i32::from(code)),
                    Answer::NoAnswer => None,
                };
                let (status, next) = match outcome.decision {
                    Decision::Delivered => (DELIVERED, now),
                    Decision::Retry(wait) => (
                        super::outbox::PENDING,
                        now + wait / self.settings.retry_divisor.max(1),
                    ),
                    Decision::Failed | Decision::Disable => (FAILED, now),
                };
                Prepared(
                    diesel::update(webhook_deliveries::table.find(outcome.delivery)).set((
                        webhook_deliveries::status.eq(status),
                        webhook_deliveries::next_attempt_at.eq(next),
                        webhook_deliveries::response_code.eq(code),
                        webhook_deliveries::response_excerpt.eq(&outcome.reply.excerpt),
                    )),
                )
                .execute(conn)?;
            }
            if !unsent.is_empty() {
                diesel::update(
                    webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(unsent)),
                )
                .set(webhook_deliveries::attempts.eq(webhook_deliveries::attempts - 1))
                .execute(conn)?;
            }
            if failing_since != endpoint.failing_since {
                diesel::update(webhook_endpoints::table.find(endpoint.id))
                    .set(webhook_endpoints::failing_since.eq(failing_since))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        let gone = outcomes.iter().any(|o| o.decision == Decision::Disable);
        let reason = match failing_since {
            _ if gone => Some("the endpoint answered 410 Gone".to_owned()),
            Some(since) if now - since >= FAILING_LIMIT => Some(format!(
                "every attempt failed for 5 days (since {})",
                crate::db::iso8601(since)
            )),
            _ => None,
        };
        if let Some(reason) = reason {
            tracing::warn!(endpoint = endpoint.id, url = %endpoint.url, %reason, "webhook endpoint disabled");
            disable_by_server(conn, endpoint.id, &reason)?;
        }
        Ok(())
    }
}

/// An endpoint this server holds, and until when.
struct Claim {
    endpoint: WebhookEndpoint,
    until: PrimitiveDateTime,
}

/// How an attempt at one delivery ended.
struct Outcome {
    delivery: i64,
    reply: Reply,
    decision: Decision,
}

/// Time kept in hand when deciding whether a claim outlasts the next attempt.
const CLAIM_MARGIN: Duration = Duration::from_secs(2);

/// A pending delivery with its event.
#[derive(Debug, Clone)]
struct Head {
    delivery: WebhookDelivery,
    event_id: String,
    payload: String,
}

/// Deliveries sent under one record of their attempts: at most this many attempts are
/// written down before they are made (docs/webhooks.md, "Delivery").
const BATCH: i64 = 50;

/// The first [`BATCH`] pending deliveries of `endpoint`, in event order.
fn heads(conn: &mut DbConnection, endpoint: i64) -> QueryResult<Vec<Head>> {
    Prepared(
        webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint))
            .filter(delivery_pending())
            .order(webhook_deliveries::id)
            .limit(BATCH)
            .select((
                WebhookDelivery::as_select(),
                webhook_events::event_id,
                webhook_events::payload,
            )),
    )
    .load::<(WebhookDelivery, String, String)>(conn)
    .map(|rows| {
        rows.into_iter()
            .map(|(delivery, event_id, payload)| Head {
                delivery,
                event_id,
                payload,
            })
            .collect()
    })
}

/// The metric label of a decision.
fn outcome_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Delivered => "delivered",
        Decision::Retry(_) => "retry",
        Decision::Failed => "failed",
        Decision::Disable => "gone",
    }
}

/// The queue as `/metrics` shows it: pending deliveries, and the age in seconds of the
/// oldest (0 when none). The oldest is among the queues' first deliveries, one per endpoint,
/// each read through the queue's index.
pub fn queue(conn: &mut DbConnection, now: PrimitiveDateTime) -> QueryResult<(i64, i64)> {
    let count: i64 = webhook_deliveries::table
        .filter(delivery_pending())
        .count()
        .get_result(conn)?;
    let endpoints: Vec<i64> = webhook_endpoints::table
        .select(webhook_endpoints::id)
        .load(conn)?;
    let mut oldest: Option<PrimitiveDateTime> = None;
    for endpoint in endpoints {
        let head: Option<PrimitiveDateTime> = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint))
            .filter(delivery_pending())
            .order(webhook_deliveries::id)
            .select(webhook_deliveries::created_at)
            .first(conn)
            .optional()?;
        oldest = match (oldest, head) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let age = oldest.map_or(0, |oldest| (now - oldest).whole_seconds().max(0));
    Ok((count, age))
}
