//! `credit.expiring` (docs/webhooks.md, "Events"): once per grant, when its currency's
//! `expiring_notice_days` before its end have come and it still holds credits. The grant is
//! marked in the same transaction as its event, so servers running this at once write each
//! grant's event once.

use diesel::prelude::*;
use time::Date;

use crate::db::dialect::grant_holds_credits;
use crate::db::schema::{credit_accounts, credit_grants, users};
use crate::db::{now_utc, write_transaction, DbConnection};
use crate::store::configs;

use super::events::{Event, EventType, Expiring};
use super::outbox::{enqueue, Listeners};

/// Grants read and written per transaction.
const BATCH: i64 = 200;

/// A grant whose notice is due, with its holder.
#[derive(Debug, Clone, Queryable)]
struct Due {
    grant_id: i64,
    record_id: Option<i64>,
    expires_at: Option<Date>,
    remaining: i64,
    user_id: i64,
    currency: String,
    email: String,
    external_id: Option<String>,
}

/// Writes the `credit.expiring` events due on `today`; returns how many. Writes nothing, and
/// marks nothing, while no endpoint listens for them: an endpoint added later still hears of
/// grants ending within the notice.
pub fn run(conn: &mut DbConnection, today: Date) -> QueryResult<usize> {
    if !Listeners::read(conn)?.want(EventType::Expiring) {
        return Ok(0);
    }
    let mut written = 0;
    for config in configs::list(conn)? {
        let days = i64::from(config.expiring_notice_days.max(0));
        let Some(last_day) = today.checked_add(time::Duration::days(days)) else {
            continue;
        };
        loop {
            let due = due(conn, &config.currency, today, last_day)?;
            let noticed = write_transaction(conn, |conn| notify(conn, &due, today));
            super::outbox::wake_dispatcher();
            written += noticed?;
            if (due.len() as i64) < BATCH {
                break;
            }
        }
    }
    Ok(written)
}

/// The next grants in `currency` that end from `today` to `last_day` and were not noticed.
fn due(
    conn: &mut DbConnection,
    currency: &str,
    today: Date,
    last_day: Date,
) -> QueryResult<Vec<Due>> {
    credit_grants::table
        .inner_join(credit_accounts::table.inner_join(users::table))
        .filter(grant_holds_credits())
        .filter(credit_grants::expires_at.ge(today))
        .filter(credit_grants::expires_at.le(last_day))
        .filter(credit_grants::expiring_notified.eq(false))
        .filter(credit_accounts::currency.eq(currency.to_owned()))
        .order((credit_grants::expires_at, credit_grants::id))
        .limit(BATCH)
        .select((
            credit_grants::id,
            credit_grants::transaction_id,
            credit_grants::expires_at,
            credit_grants::remaining,
            credit_accounts::user_id,
            credit_accounts::currency,
            users::email,
            users::external_id,
        ))
        .load(conn)
}

/// Marks each grant of `due` noticed and writes its event, unless another server did first.
fn notify(conn: &mut DbConnection, due: &[Due], today: Date) -> QueryResult<usize> {
    let listeners = Listeners::read(conn)?;
    let now = now_utc();
    let mut events = Vec::new();
    for grant in due {
        let marked = diesel::update(credit_grants::table.find(grant.grant_id))
            .filter(credit_grants::expiring_notified.eq(false))
            .filter(grant_holds_credits())
            .set(credit_grants::expiring_notified.eq(true))
            .execute(conn)?;
        let Some(expires_at) = grant.expires_at.filter(|_| marked == 1) else {
            continue;
        };
        let expiring = Expiring {
            user_id: grant.user_id,
            user_email: &grant.email,
            external_id: grant.external_id.as_deref(),
            currency: &grant.currency,
            record_id: grant.record_id,
            credits: grant.remaining,
            expires_at: crate::db::iso_date(expires_at),
            days_left: (expires_at - today).whole_days(),
        };
        events.push(Event::new(EventType::Expiring, expiring, now));
    }
    enqueue(conn, &listeners, &events)?;
    Ok(events.len())
}
