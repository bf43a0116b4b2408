//! Expiring ended grants on schedule (docs/concepts.md, "Expiry"; docs/operations.md,
//! "Expiry"): the server's own scheduler and `creditdesk expire` both call [`run`]. Each
//! account's ended grants are expired in one ledger transaction ([`super::expire_account`])
//! that re-reads them under the account's lock, so a grant is expired once however many
//! runs overlap; a lease row keeps runs of several servers from doing the same work at once.

use std::collections::BTreeMap;

use diesel::prelude::*;
use time::{Date, Duration};

use super::LedgerError;
use crate::db::dialect::{grant_holds_credits, per_backend};
use crate::db::models::CreditGrant;
use crate::db::schema::{credit_accounts, credit_grants, job_leases, users};
use crate::db::{now_utc, write_transaction, DbConnection};
use crate::domain::CurrencyCode;

/// The lease's name in `job_leases`.
const LEASE: &str = "expire";
/// How long a run may hold the lease without renewing it (renewed every batch).
const LEASE_FOR: Duration = Duration::minutes(5);
/// Accounts read per batch.
const BATCH: i64 = 200;

/// A grant that has ended and still holds credits, with its account's customer.
#[derive(Debug, Clone)]
pub struct DueGrant {
    pub grant: CreditGrant,
    pub user_id: i64,
    pub email: String,
    pub currency: String,
}

/// What a run did, or found to do (`--dry-run`).
#[derive(Debug, Default)]
pub struct Outcome {
    /// Another server or command held the lease: this run did nothing.
    pub busy: bool,
    /// `expired` rows written (or, on a dry run, grants that would expire).
    pub rows: u64,
    /// Credits expired per currency.
    pub credits: BTreeMap<String, i64>,
}

/// The grants that have ended on `today` and still hold credits, in expiry order.
pub fn due(conn: &mut DbConnection, today: Date) -> QueryResult<Vec<DueGrant>> {
    let rows: Vec<(CreditGrant, i64, String, String)> = credit_grants::table
        .inner_join(credit_accounts::table.inner_join(users::table))
        .filter(grant_holds_credits())
        .filter(credit_grants::expires_at.lt(today))
        .order((credit_grants::expires_at, credit_grants::id))
        .select((
            CreditGrant::as_select(),
            credit_accounts::user_id,
            users::email,
            credit_accounts::currency,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(grant, user_id, email, currency)| DueGrant {
            grant,
            user_id,
            email,
            currency,
        })
        .collect())
}

/// Expires every grant that has ended on `today`, account by account, unless another run
/// holds the lease. `holder` names this run in the lease row.
pub fn run(conn: &mut DbConnection, today: Date, holder: &str) -> Result<Outcome, LedgerError> {
    if !take_lease(conn, holder)? {
        return Ok(Outcome {
            busy: true,
            ..Outcome::default()
        });
    }
    let result = expire_all(conn, today, holder);
    let released = release_lease(conn, holder);
    let outcome = result?;
    released?;
    Ok(outcome)
}

fn expire_all(conn: &mut DbConnection, today: Date, holder: &str) -> Result<Outcome, LedgerError> {
    let mut outcome = Outcome::default();
    let mut after: (i64, String) = (0, String::new());
    loop {
        let accounts: Vec<(i64, String)> = credit_grants::table
            .inner_join(credit_accounts::table)
            .filter(grant_holds_credits())
            .filter(credit_grants::expires_at.lt(today))
            .filter(
                credit_accounts::user_id
                    .gt(after.0)
                    .or(credit_accounts::user_id
                        .eq(after.0)
                        .and(credit_accounts::currency.gt(after.1.clone()))),
            )
            .select((credit_accounts::user_id, credit_accounts::currency))
            .distinct()
            .order((credit_accounts::user_id, credit_accounts::currency))
            .limit(BATCH)
            .load(conn)?;
        let Some(last) = accounts.last().cloned() else {
            break;
        };
        for (user_id, currency) in accounts {
            let Ok(code) = CurrencyCode::parse(&currency) else {
                continue;
            };
            for row in super::expire_account(conn, user_id, &code, today)? {
                outcome.rows += 1;
                *outcome.credits.entry(row.currency).or_default() -= row.delta;
            }
        }
        after = last;
        take_lease(conn, holder)?;
    }
    Ok(outcome)
}

/// What a run would do on `today`, writing nothing.
pub fn dry_run(conn: &mut DbConnection, today: Date) -> QueryResult<(Outcome, Vec<DueGrant>)> {
    let due = due(conn, today)?;
    let mut outcome = Outcome::default();
    for grant in &due {
        outcome.rows += 1;
        *outcome.credits.entry(grant.currency.clone()).or_default() += grant.grant.remaining;
    }
    Ok((outcome, due))
}

/// Takes (or renews) the lease for `holder`: true unless another holder's lease is current.
fn take_lease(conn: &mut DbConnection, holder: &str) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let now = now_utc();
        let row = (
            job_leases::name.eq(LEASE),
            job_leases::holder.eq(holder),
            job_leases::held_until.eq(now - Duration::seconds(1)),
        );
        per_backend!(conn, |c| diesel::insert_into(job_leases::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
        let taken = diesel::update(
            job_leases::table.filter(job_leases::name.eq(LEASE)).filter(
                job_leases::held_until
                    .lt(now)
                    .or(job_leases::holder.eq(holder)),
            ),
        )
        .set((
            job_leases::holder.eq(holder),
            job_leases::held_until.eq(now + LEASE_FOR),
        ))
        .execute(conn)?;
        Ok(taken == 1)
    })
}

fn release_lease(conn: &mut DbConnection, holder: &str) -> QueryResult<()> {
    diesel::update(
        job_leases::table
            .filter(job_leases::name.eq(LEASE))
            .filter(job_leases::holder.eq(holder)),
    )
    .set(job_leases::held_until.eq(now_utc() - Duration::seconds(1)))
    .execute(conn)?;
    Ok(())
}
