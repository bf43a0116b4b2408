//! The balances list: one row per credit account, now or at the end of a past day (computed
//! from the ledger), with keyset paging.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamp};
use time::{Date, PrimitiveDateTime, Time};

use crate::db::models::CreditAccount;
use crate::db::schema::{credit_accounts, credit_transactions, users};
use crate::db::{DbConnection, MultiBackend};
use crate::domain::CurrencyCode;
use crate::store::credit_list::{email_prefix_ids, resolve, Customers};
use crate::store::customers::like_escape;
use crate::store::expiring;

/// Accounts read per step when balances are computed as of a past day.
const AS_OF_CHUNK: i64 = 500;

/// The order of the balances list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BalanceSort {
    #[default]
    BalanceDesc,
    BalanceAsc,
    UpdatedDesc,
    UpdatedAsc,
}

/// Which accounts the balances list shows; built from a URL by `crate::filters::balances`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BalanceFilter {
    /// Lower-cased start of the customer's email.
    pub email_prefix: Option<String>,
    pub currency: Option<CurrencyCode>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub as_of: Option<Date>,
    pub sort: BalanceSort,
}

/// An account as the list shows it; with `as_of`, the figures are those at the end of that
/// day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub account_id: i64,
    pub user_id: i64,
    pub email: String,
    pub external_id: String,
    pub currency: String,
    pub balance: i64,
    pub enabled: bool,
    pub total_added: i64,
    pub total_deducted: i64,
    pub updated_at: PrimitiveDateTime,
    /// Credits expiring within [`expiring::SOON_DAYS`] days as of today; none for balances
    /// as of a past day (grants are not replayed).
    pub expiring_soon: Option<i64>,
}

type Boxed = credit_accounts::BoxedQuery<'static, MultiBackend>;

fn scoped(filter: &BalanceFilter, customers: &Customers) -> Boxed {
    let mut query = credit_accounts::table.into_boxed();
    match customers {
        Customers::Any => {}
        Customers::Nobody => query = query.filter(sql::<Bool>("1 = 0")),
        Customers::Ids(ids) => query = query.filter(credit_accounts::user_id.eq_any(ids.clone())),
        Customers::EmailPrefix(prefix) => {
            query = query.filter(credit_accounts::user_id.eq_any(email_prefix_ids!(prefix)))
        }
    }
    if let Some(currency) = &filter.currency {
        query = query.filter(credit_accounts::currency.eq(currency.to_string()));
    }
    query
}

fn end_of(day: Date) -> PrimitiveDateTime {
    day.next_day()
        .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT))
        .unwrap_or(PrimitiveDateTime::MAX)
}

/// Up to `limit` rows after the account `after` (the keyset cursor of docs/console.md, "Parameters"), in the filter's
/// order, with the credits expiring soon as of `today`. Returns the rows and whether more
/// follow.
pub fn page(
    conn: &mut DbConnection,
    filter: &BalanceFilter,
    today: Date,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<(Vec<BalanceRow>, bool)> {
    let customers = resolve(conn, filter.email_prefix.as_deref(), None)?;
    let mut rows = match filter.as_of {
        None => current_page(conn, filter, &customers, after, limit + 1)?,
        Some(day) => as_of_page(conn, filter, &customers, day, after, limit + 1)?,
    };
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if filter.as_of.is_none() {
        with_expiring_soon(conn, &mut rows, today)?;
    }
    Ok((rows, more))
}

/// Fills in each row's credits expiring soon: one grouped query for the page.
fn with_expiring_soon(
    conn: &mut DbConnection,
    rows: &mut [BalanceRow],
    today: Date,
) -> QueryResult<()> {
    let accounts: Vec<i64> = rows.iter().map(|row| row.account_id).collect();
    let window = expiring::within(today, expiring::SOON_DAYS);
    let expiring = expiring::by_account(conn, &accounts, window)?;
    for row in rows {
        row.expiring_soon = Some(expiring.get(&row.account_id).copied().unwrap_or(0));
    }
    Ok(())
}

fn current_page(
    conn: &mut DbConnection,
    filter: &BalanceFilter,
    customers: &Customers,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<BalanceRow>> {
    let mut query = scoped(filter, customers);
    if let Some(min) = filter.min {
        query = query.filter(credit_accounts::balance.ge(min));
    }
    if let Some(max) = filter.max {
        query = query.filter(credit_accounts::balance.le(max));
    }
    let cursor: Option<CreditAccount> = match after {
        Some(id) => credit_accounts::table
            .find(id)
            .select(CreditAccount::as_select())
            .first(conn)
            .optional()?,
        None => None,
    };
    if let Some(cursor) = cursor {
        let (column, comparison) = match filter.sort {
            BalanceSort::BalanceDesc => ("balance", "<"),
            BalanceSort::BalanceAsc => ("balance", ">"),
            BalanceSort::UpdatedDesc => ("updated_at", "<"),
            BalanceSort::UpdatedAsc => ("updated_at", ">"),
        };
        let condition = sql::<Bool>(&format!(
            "(credit_accounts.{column}, credit_accounts.id) {comparison} ("
        ));
        query = if column == "balance" {
            query.filter(
                condition
                    .bind::<BigInt, _>(cursor.balance)
                    .sql(", ")
                    .bind::<BigInt, _>(cursor.id)
                    .sql(")"),
            )
        } else {
            query.filter(
                condition
                    .bind::<Timestamp, _>(cursor.updated_at)
                    .sql(", ")
                    .bind::<BigInt, _>(cursor.id)
                    .sql(")"),
            )
        };
    }
    query = match filter.sort {
        BalanceSort::BalanceDesc => {
            query.order((credit_accounts::balance.desc(), credit_accounts::id.desc()))
        }
        BalanceSort::BalanceAsc => {
            query.order((credit_accounts::balance.asc(), credit_accounts::id.asc()))
        }
        BalanceSort::UpdatedDesc => query.order((
            credit_accounts::updated_at.desc(),
            credit_accounts::id.desc(),
        )),
        BalanceSort::UpdatedAsc => {
            query.order((credit_accounts::updated_at.asc(), credit_accounts::id.asc()))
        }
    };
    let accounts: Vec<CreditAccount> = query
        .limit(limit)
        .select(CreditAccount::as_select())
        .load(conn)?;
    with_customers(conn, accounts)
}

/// Balances at the end of `day`, replayed from the ledger a chunk of accounts at a time, in
/// account order (the min/max filter applies to the replayed balance).
fn as_of_page(
    conn: &mut DbConnection,
    filter: &BalanceFilter,
    customers: &Customers,
    day: Date,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<BalanceRow>> {
    let end = end_of(day);
    let mut found = Vec::new();
    let mut after = after.unwrap_or(0);
    while (found.len() as i64) < limit {
        let accounts: Vec<CreditAccount> = scoped(filter, customers)
            .filter(credit_accounts::created_at.lt(end))
            .filter(credit_accounts::id.gt(after))
            .order(credit_accounts::id)
            .limit(AS_OF_CHUNK)
            .select(CreditAccount::as_select())
            .load(conn)?;
        let Some(last) = accounts.last() else { break };
        after = last.id;
        let ids: Vec<i64> = accounts.iter().map(|a| a.id).collect();
        let rows: Vec<(i64, i64, i64, PrimitiveDateTime)> = credit_transactions::table
            .filter(credit_transactions::account_id.eq_any(&ids))
            .filter(credit_transactions::created_at.lt(end))
            .order((credit_transactions::account_id, credit_transactions::id))
            .select((
                credit_transactions::account_id,
                credit_transactions::delta,
                credit_transactions::balance_after,
                credit_transactions::created_at,
            ))
            .load(conn)?;
        let mut replayed: HashMap<i64, CreditAccount> = HashMap::new();
        for account in &accounts {
            replayed.insert(
                account.id,
                CreditAccount {
                    balance: 0,
                    total_added: 0,
                    total_deducted: 0,
                    version: 0,
                    updated_at: account.created_at,
                    ..account.clone()
                },
            );
        }
        for (account_id, delta, balance_after, at) in rows {
            if let Some(account) = replayed.get_mut(&account_id) {
                account.balance = balance_after;
                account.version += 1;
                account.updated_at = at;
                if delta > 0 {
                    account.total_added += delta;
                } else {
                    account.total_deducted -= delta;
                }
            }
        }
        let kept: Vec<CreditAccount> = accounts
            .iter()
            .filter_map(|a| replayed.remove(&a.id))
            .filter(|a| {
                filter.min.is_none_or(|min| a.balance >= min)
                    && filter.max.is_none_or(|max| a.balance <= max)
            })
            .collect();
        found.extend(with_customers(conn, kept)?);
    }
    found.truncate(limit as usize);
    Ok(found)
}

fn with_customers(
    conn: &mut DbConnection,
    accounts: Vec<CreditAccount>,
) -> QueryResult<Vec<BalanceRow>> {
    let mut ids: Vec<i64> = accounts.iter().map(|a| a.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let customers: HashMap<i64, (String, Option<String>)> = if ids.is_empty() {
        HashMap::new()
    } else {
        users::table
            .filter(users::id.eq_any(ids))
            .select((users::id, users::email, users::external_id))
            .load::<(i64, String, Option<String>)>(conn)?
            .into_iter()
            .map(|(id, email, external)| (id, (email, external)))
            .collect()
    };
    Ok(accounts
        .into_iter()
        .map(|a| {
            let (email, external) = customers.get(&a.user_id).cloned().unwrap_or_default();
            BalanceRow {
                account_id: a.id,
                user_id: a.user_id,
                email,
                external_id: external.unwrap_or_default(),
                currency: a.currency,
                balance: a.balance,
                enabled: a.enabled,
                total_added: a.total_added,
                total_deducted: a.total_deducted,
                updated_at: a.updated_at,
                expiring_soon: None,
            }
        })
        .collect())
}
