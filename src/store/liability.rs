//! What the promo credits outstanding are worth, and how they moved: the figures of the
//! dashboard and of a rate change's preview, read from the per-day totals the ledger keeps
//! (so they cost what the number of days costs, not the number of ledger rows).

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use time::Date;

use crate::db::schema::credit_daily_totals;
use crate::db::DbConnection;

/// Credits outstanding now, per currency: everything ever added minus everything removed.
pub fn outstanding(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = credit_daily_totals::table
        .group_by(credit_daily_totals::currency)
        .select((
            credit_daily_totals::currency,
            sql::<BigInt>("CAST(COALESCE(SUM(added), 0) - COALESCE(SUM(deducted), 0) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Customers holding at least one credit, per currency: every account that left 0 minus
/// every one that came back to it, as the per-day totals keep them.
pub fn customers_with_credit(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = credit_daily_totals::table
        .group_by(credit_daily_totals::currency)
        .select((
            credit_daily_totals::currency,
            sql::<BigInt>("CAST(COALESCE(SUM(holders_delta), 0) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Credits added and removed on one day in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayMovement {
    pub day: Date,
    pub currency: String,
    pub added: i64,
    pub used: i64,
}

/// Each day's credits added and removed since `since` (included), per currency, in day
/// order; days without movement are absent.
pub fn daily_movements(conn: &mut DbConnection, since: Date) -> QueryResult<Vec<DayMovement>> {
    let rows: Vec<(Date, String, i64, i64)> = credit_daily_totals::table
        .filter(credit_daily_totals::day.ge(since))
        .group_by((credit_daily_totals::day, credit_daily_totals::currency))
        .order((credit_daily_totals::day, credit_daily_totals::currency))
        .select((
            credit_daily_totals::day,
            credit_daily_totals::currency,
            sql::<BigInt>("CAST(COALESCE(SUM(added), 0) AS BIGINT)"),
            sql::<BigInt>("CAST(COALESCE(SUM(deducted), 0) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(day, currency, added, used)| DayMovement {
            day,
            currency,
            added,
            used,
        })
        .collect())
}
