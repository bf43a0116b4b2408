//! Grants: the credits each adding row gave an account, what is left of them, and the order
//! they are spent in (docs/concepts.md, "Expiry"). The rules are pure functions here; the
//! ledger ([`super::post`]) applies them inside its lock, and the reads and writes of the
//! grant tables are at the end of this file.

use std::cmp::Ordering;

use diesel::prelude::*;
use time::Date;

use crate::db::dialect::grant_holds_credits;
use crate::db::models::{CreditGrant, NewCreditGrant};
use crate::db::prepared::Prepared;
use crate::db::schema::{credit_draws, credit_grants, credit_transactions};
use crate::db::DbConnection;

/// Credits moved between a row and one grant: taken from it (> 0) or given back (< 0).
pub type Draw = (i64, i64);

/// The spending order: soonest expiry first, never-expiring last, then the oldest grant.
pub fn spending_order(a: &CreditGrant, b: &CreditGrant) -> Ordering {
    let key = |g: &CreditGrant| (g.expires_at.is_none(), g.expires_at, g.id);
    key(a).cmp(&key(b))
}

/// Has the grant ended on `today` (UTC)? Its credits expire at the end of its expiry day, and
/// a grant whose expiry was written stays ended (credits given back to it expire again).
pub fn has_ended(grant: &CreditGrant, today: Date) -> bool {
    grant.closed || grant.expires_at.is_some_and(|day| day < today)
}

/// Takes `credits` from `grants` (already in spending order); none when they hold fewer.
pub fn take(grants: &[CreditGrant], credits: i64) -> Option<Vec<Draw>> {
    let mut left = credits;
    let mut draws = Vec::new();
    for grant in grants {
        if left == 0 {
            break;
        }
        let taken = grant.remaining.min(left);
        if taken > 0 {
            draws.push((grant.id, taken));
            left -= taken;
        }
    }
    (left == 0).then_some(draws)
}

/// Gives `credits` back to the grants a payment took them from: `taken` holds each grant with
/// what the payment still owes it. The grant spent last gets its credits back first (the
/// reverse of the spending order), so returned credits are those that last longest. What the
/// grants cannot take (credits spent before grants were kept) is the second value.
pub fn give_back(taken: &[(CreditGrant, i64)], credits: i64) -> (Vec<Draw>, i64) {
    let mut order: Vec<&(CreditGrant, i64)> = taken.iter().filter(|(_, owed)| *owed > 0).collect();
    order.sort_by(|a, b| spending_order(&b.0, &a.0));
    let mut left = credits;
    let mut draws = Vec::new();
    for (grant, owed) in order {
        if left == 0 {
            break;
        }
        let back = (*owed).min(left);
        draws.push((grant.id, -back));
        left -= back;
    }
    (draws, left)
}

/// Grants read per step while walking an account's grants in spending order.
const STEP: i64 = 64;

type Boxed = credit_grants::BoxedQuery<'static, crate::db::MultiBackend>;

fn of_account(account_id: i64) -> Boxed {
    credit_grants::table
        .filter(credit_grants::account_id.eq(account_id))
        .filter(grant_holds_credits())
        .into_boxed()
}

/// The account's grants that still hold credits and whose day ended before `today`: what
/// the ledger expires before any change of the account.
pub fn ended(
    conn: &mut DbConnection,
    account_id: i64,
    today: Date,
) -> QueryResult<Vec<CreditGrant>> {
    Prepared(
        of_account(account_id)
            .filter(credit_grants::expires_at.lt(today))
            .order((credit_grants::expires_at, credit_grants::id))
            .select(CreditGrant::as_select()),
    )
    .load(conn)
}

/// The account's grants in spending order, as many as hold `credits` (all of them when they
/// hold fewer). Reads a few at a time: an account may hold thousands of small grants.
pub fn covering(
    conn: &mut DbConnection,
    account_id: i64,
    credits: i64,
) -> QueryResult<Vec<CreditGrant>> {
    let mut found: Vec<CreditGrant> = Vec::new();
    let mut held = 0i64;
    // Dated grants by date and age, then undated ones by age.
    for dated in [true, false] {
        let mut after: Option<(Option<Date>, i64)> = None;
        while held < credits {
            let mut query = of_account(account_id);
            query = match dated {
                true => query.filter(credit_grants::expires_at.is_not_null()),
                false => query.filter(credit_grants::expires_at.is_null()),
            };
            if let Some((day, id)) = after {
                query = match day {
                    Some(day) => query.filter(
                        credit_grants::expires_at
                            .gt(day)
                            .or(credit_grants::expires_at
                                .eq(day)
                                .and(credit_grants::id.gt(id))),
                    ),
                    None => query.filter(credit_grants::id.gt(id)),
                };
            }
            // A few shapes (first step or next, with a date or without): kept prepared.
            let batch: Vec<CreditGrant> = Prepared(
                query
                    .order((credit_grants::expires_at, credit_grants::id))
                    .limit(STEP)
                    .select(CreditGrant::as_select()),
            )
            .load(conn)?;
            let Some(last) = batch.last() else { break };
            after = Some((last.expires_at, last.id));
            let full = batch.len() as i64 == STEP;
            for grant in batch {
                if held >= credits {
                    break;
                }
                held += grant.remaining;
                found.push(grant);
            }
            if !full {
                break;
            }
        }
    }
    Ok(found)
}

/// Grants by id (those a refund gives credits back to).
pub fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<CreditGrant>> {
    credit_grants::table
        .filter(credit_grants::id.eq_any(ids))
        .select(CreditGrant::as_select())
        .load(conn)
}

/// What a payment's rows (its `invoice_applied` and `invoice_refunded` rows) still owe each
/// grant they took credits from.
pub fn owed_by_invoice(
    conn: &mut DbConnection,
    invoice_id: &str,
) -> QueryResult<Vec<(CreditGrant, i64)>> {
    let draws: Vec<(i64, i64)> = credit_draws::table
        .inner_join(credit_transactions::table)
        .filter(credit_transactions::invoice_id.eq(invoice_id))
        .select((credit_draws::grant_id, credit_draws::credits))
        .load(conn)?;
    let mut owed: Vec<(i64, i64)> = Vec::new();
    for (grant, credits) in draws {
        match owed.iter_mut().find(|(id, _)| *id == grant) {
            Some((_, sum)) => *sum += credits,
            None => owed.push((grant, credits)),
        }
    }
    let ids: Vec<i64> = owed.iter().map(|(id, _)| *id).collect();
    let grants: Vec<CreditGrant> = credit_grants::table
        .filter(credit_grants::id.eq_any(ids))
        .select(CreditGrant::as_select())
        .load(conn)?;
    Ok(grants
        .into_iter()
        .map(|g| {
            let sum = owed.iter().find(|(id, _)| *id == g.id).map_or(0, |o| o.1);
            (g, sum)
        })
        .collect())
}

/// A new grant made by row `transaction_id`.
pub(crate) fn insert(conn: &mut DbConnection, grant: &NewCreditGrant) -> QueryResult<i64> {
    Prepared(
        diesel::insert_into(credit_grants::table)
            .values(grant)
            .returning(credit_grants::id),
    )
    .get_result(conn)
}

/// The columns a grant is written with from a SELECT, in the order the SELECTs below give.
const GRANT_COLUMNS: (
    credit_grants::account_id,
    credit_grants::transaction_id,
    credit_grants::expires_at,
    credit_grants::granted,
    credit_grants::remaining,
    credit_grants::closed,
    credit_grants::created_at,
) = (
    credit_grants::account_id,
    credit_grants::transaction_id,
    credit_grants::expires_at,
    credit_grants::granted,
    credit_grants::remaining,
    credit_grants::closed,
    credit_grants::created_at,
);

/// Makes every adding row of the (new) accounts `account_ids` its grant: how an import's
/// opening rows, written many at once, get theirs.
pub(crate) fn grant_rows_of(conn: &mut DbConnection, account_ids: &[i64]) -> QueryResult<usize> {
    use crate::domain::TransactionType;
    let kinds: Vec<&str> = TransactionType::ALL
        .iter()
        .filter(|k| k.is_grant())
        .map(|k| k.as_str())
        .collect();
    let rows = credit_transactions::table
        .filter(credit_transactions::account_id.eq_any(account_ids))
        .filter(credit_transactions::kind.eq_any(kinds))
        .select((
            credit_transactions::account_id,
            credit_transactions::id.nullable(),
            credit_transactions::expires_at,
            credit_transactions::delta,
            credit_transactions::delta,
            false.into_sql::<diesel::sql_types::Bool>(),
            credit_transactions::created_at,
        ));
    diesel::insert_into(credit_grants::table)
        .values(rows)
        .into_columns(GRANT_COLUMNS)
        .execute(conn)
}

/// Gives every account whose balance no grant holds yet one grant that never expires, as the
/// migration that brought expiry did: how the bench's seeder, which writes rows without the
/// ledger, leaves grants that add up.
pub fn adopt_balances(conn: &mut DbConnection) -> QueryResult<usize> {
    use crate::db::schema::credit_accounts;
    let held = credit_grants::table
        .filter(credit_grants::account_id.eq(credit_accounts::id))
        .select(credit_grants::id);
    let rows = credit_accounts::table
        .filter(credit_accounts::balance.gt(0))
        .filter(diesel::dsl::not(diesel::dsl::exists(held)))
        .select((
            credit_accounts::id,
            None::<i64>.into_sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(),
            None::<Date>.into_sql::<diesel::sql_types::Nullable<diesel::sql_types::Date>>(),
            credit_accounts::balance,
            credit_accounts::balance,
            false.into_sql::<diesel::sql_types::Bool>(),
            credit_accounts::created_at,
        ));
    diesel::insert_into(credit_grants::table)
        .values(rows)
        .into_columns(GRANT_COLUMNS)
        .execute(conn)
}

/// Records row `transaction_id`'s draws and moves each grant's remaining credits; `closes`
/// marks the grants ended (an `expired` row).
pub(crate) fn record_draws(
    conn: &mut DbConnection,
    transaction_id: i64,
    draws: &[Draw],
    closes: bool,
) -> QueryResult<()> {
    if draws.is_empty() {
        return Ok(());
    }
    // One statement per draw, each of one shape the connection keeps prepared: a change
    // draws from one grant or a few.
    for &(grant, credits) in draws {
        let target = credit_grants::table.find(grant);
        let remaining = credit_grants::remaining.eq(credit_grants::remaining - credits);
        let closed = credit_grants::closed
            .eq(credit_grants::closed.or(closes.into_sql::<diesel::sql_types::Bool>()));
        Prepared(
            diesel::update(target)
                .set((remaining, closed))
                .returning(credit_grants::id),
        )
        .get_result::<i64>(conn)?;
        Prepared(
            diesel::insert_into(credit_draws::table)
                .values((
                    credit_draws::transaction_id.eq(transaction_id),
                    credit_draws::grant_id.eq(grant),
                    credit_draws::credits.eq(credits),
                ))
                .returning(credit_draws::grant_id),
        )
        .get_result::<i64>(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn grant(id: i64, expires_at: Option<Date>, remaining: i64) -> CreditGrant {
        CreditGrant {
            id,
            account_id: 1,
            transaction_id: Some(id),
            expires_at,
            granted: remaining.max(1),
            remaining,
            closed: false,
            created_at: datetime!(2026-11-01 0:00),
        }
    }

    #[test]
    fn spends_soonest_expiry_first_never_expiring_last_then_oldest() {
        let mut grants = vec![
            grant(1, None, 10),
            grant(2, Some(date!(2027 - 01 - 31)), 10),
            grant(3, Some(date!(2026 - 12 - 31)), 10),
            grant(4, Some(date!(2026 - 12 - 31)), 10),
            grant(5, None, 10),
        ];
        grants.sort_by(spending_order);
        let ids: Vec<i64> = grants.iter().map(|g| g.id).collect();
        assert_eq!(ids, [3, 4, 2, 1, 5]);
        assert_eq!(take(&grants, 25), Some(vec![(3, 10), (4, 10), (2, 5)]));
        assert_eq!(take(&grants, 51), None);
    }

    #[test]
    fn gives_back_to_the_grant_spent_last_first() {
        let taken = vec![
            (grant(3, Some(date!(2026 - 12 - 31)), 0), 10),
            (grant(2, Some(date!(2027 - 01 - 31)), 0), 5),
        ];
        assert_eq!(give_back(&taken, 7), (vec![(2, -5), (3, -2)], 0));
        assert_eq!(give_back(&taken, 20), (vec![(2, -5), (3, -10)], 5));
    }

    #[test]
    fn a_grant_ends_after_its_day() {
        let g = grant(1, Some(date!(2026 - 12 - 31)), 5);
        assert!(!has_ended(&g, date!(2026 - 12 - 31)));
        assert!(has_ended(&g, date!(2027 - 01 - 01)));
        assert!(!has_ended(&grant(2, None, 5), date!(2100 - 01 - 01)));
    }
}
