//! Credits still to expire, read from the grants that hold them (docs/concepts.md, "Expiry"):
//! the balances list's "expiring within 30 days" and the dashboard's breakage forecast
//! (docs/console.md). A grant counts while it holds credits, is not closed and ends on a day
//! of the window; its credits expire at the end of that day, so a grant ending today still
//! counts.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date as SqlDate, Text};
use time::{Date, Duration};

use crate::db::schema::{credit_accounts, credit_grants};
use crate::db::DbConnection;

/// The days of the balances list's "expiring within" column.
pub const SOON_DAYS: i64 = 30;

/// The days whose grants expire "within `days` days" as of `today`: from `today` (included)
/// to `today + days` (excluded).
pub fn within(today: Date, days: i64) -> (Date, Date) {
    (today, today + Duration::days(days))
}

/// Does `grant` count in the window `(from, until)` of [`within`]? The same rule as the
/// queries below, for grants already read (the Promo Credits tab).
pub fn counts(grant: &crate::db::models::CreditGrant, (from, until): (Date, Date)) -> bool {
    grant.remaining > 0
        && !grant.closed
        && grant
            .expires_at
            .is_some_and(|day| from <= day && day < until)
}

/// `$query` (over `credit_grants`) narrowed to the grants that still hold credits and end on
/// a day from `$from` (included) to `$until` (excluded). The first condition is written as
/// the partial index `credit_grants_due` says it, so that both databases can read through
/// it. A macro, not a function: the list of conditions is spelled once but filters a table
/// and a join alike.
macro_rules! ending_between {
    ($query:expr, $from:expr, $until:expr) => {
        $query
            .filter(sql::<Bool>(
                "credit_grants.remaining > 0 AND credit_grants.expires_at IS NOT NULL",
            ))
            .filter(credit_grants::closed.eq(false))
            .filter(credit_grants::expires_at.ge($from))
            .filter(credit_grants::expires_at.lt($until))
    };
}

const SUM_REMAINING: &str = "CAST(SUM(credit_grants.remaining) AS BIGINT)";

/// Credits of each of `accounts` that expire from `from` to `until` (excluded), in one
/// grouped query; accounts with none are absent.
pub fn by_account(
    conn: &mut DbConnection,
    accounts: &[i64],
    (from, until): (Date, Date),
) -> QueryResult<HashMap<i64, i64>> {
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64)> = ending_between!(
        credit_grants::table.filter(credit_grants::account_id.eq_any(accounts)),
        from,
        until
    )
    .group_by(credit_grants::account_id)
    .select((credit_grants::account_id, sql::<BigInt>(SUM_REMAINING)))
    .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Credits that expire at the end of one day in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringDay {
    pub currency: String,
    pub day: Date,
    pub credits: i64,
}

/// Credits expiring on each day from `from` to `until` (excluded), per currency, in one
/// grouped query; days without any are absent, the order is the database's.
pub fn by_day(
    conn: &mut DbConnection,
    (from, until): (Date, Date),
) -> QueryResult<Vec<ExpiringDay>> {
    // Grouped by columns of two tables, which diesel checks only for columns declared to
    // share a GROUP BY: spelled out as SQL.
    let rows: Vec<(String, Date, i64)> = ending_between!(
        credit_grants::table.inner_join(credit_accounts::table),
        from,
        until
    )
    .group_by(sql::<(Text, SqlDate)>(
        "credit_accounts.currency, credit_grants.expires_at",
    ))
    .select(sql::<(Text, SqlDate, BigInt)>(&format!(
        "credit_accounts.currency, credit_grants.expires_at, {SUM_REMAINING}"
    )))
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(currency, day, credits)| ExpiringDay {
            currency,
            day,
            credits,
        })
        .collect())
}
