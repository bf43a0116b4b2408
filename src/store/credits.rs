//! Reading credit accounts and their ledger rows for the console (writes go through
//! `crate::ledger`).

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::models::{CreditAccount, CreditTransaction, PromoCreditConfig, User};
use crate::db::schema::{admins, api_keys, credit_accounts, credit_transactions};
use crate::db::DbConnection;

pub fn account(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
) -> QueryResult<Option<CreditAccount>> {
    credit_accounts::table
        .filter(credit_accounts::user_id.eq(user_id))
        .filter(credit_accounts::currency.eq(currency))
        .select(CreditAccount::as_select())
        .first(conn)
        .optional()
}

/// A page of an account's rows, newest first, older than `before` when given.
pub fn history(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<CreditTransaction>> {
    let named = named_history(conn, user_id, currency, before, limit)?;
    Ok(named.into_iter().map(|(row, _)| row).collect())
}

/// [`history`] with who made each row (see [`actor_labels`]), in one query. One query shape
/// whatever the arguments, so the prepared statement is reused; it walks the account's
/// index (`account_id, id`) and reads only the rows it returns (by customer and currency,
/// SQLite's planner chose the currency index and sorted all of the currency's rows).
fn named_history(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(CreditTransaction, String)>> {
    let account = credit_accounts::table
        .filter(credit_accounts::user_id.eq(user_id))
        .filter(credit_accounts::currency.eq(currency.to_owned()))
        .select(credit_accounts::id)
        .single_value();
    let by_admin = admins::table.on(credit_transactions::actor_kind
        .eq("admin")
        .and(credit_transactions::actor_id.eq(admins::id.nullable())));
    let by_key = api_keys::table.on(credit_transactions::actor_kind
        .eq("api_key")
        .and(credit_transactions::actor_id.eq(api_keys::id.nullable())));
    credit_transactions::table
        .left_join(by_admin)
        .left_join(by_key)
        .filter(credit_transactions::account_id.nullable().eq(account))
        .filter(credit_transactions::id.lt(before.unwrap_or(i64::MAX)))
        .order(credit_transactions::id.desc())
        .limit(limit)
        .select((
            CreditTransaction::as_select(),
            admins::email.nullable(),
            api_keys::name.nullable(),
        ))
        .load::<(CreditTransaction, Option<String>, Option<String>)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(row, admin, key)| (row, label(admin.or(key))))
                .collect()
        })
}

/// `by` as the console shows it: the admin's email or the API key's name that made the row,
/// else `system`.
fn label(author: Option<String>) -> String {
    author.unwrap_or_else(|| SYSTEM_AUTHOR.to_owned())
}

/// `by` of a row written by `actor_kind` / `actor_id` (as stored): one row's label, read
/// where the row is written (a webhook's body).
pub fn author_label(
    conn: &mut DbConnection,
    actor_kind: &str,
    actor_id: Option<i64>,
) -> QueryResult<String> {
    let author = match (actor_kind, actor_id) {
        ("admin", Some(id)) => admins::table
            .find(id)
            .select(admins::email)
            .first::<String>(conn)
            .optional()?,
        ("api_key", Some(id)) => api_keys::table
            .find(id)
            .select(api_keys::name)
            .first::<String>(conn)
            .optional()?,
        _ => None,
    };
    Ok(label(author))
}

/// A customer's rows newest first, in one currency or in all, older than `before`.
pub fn customer_history(
    conn: &mut DbConnection,
    user_id: i64,
    currency: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<CreditTransaction>> {
    if let Some(currency) = currency {
        return history(conn, user_id, currency, before, limit);
    }
    credit_transactions::table
        .filter(credit_transactions::user_id.eq(user_id))
        .filter(credit_transactions::id.lt(before.unwrap_or(i64::MAX)))
        .order(credit_transactions::id.desc())
        .limit(limit)
        .select(CreditTransaction::as_select())
        .load(conn)
}

pub fn transaction(conn: &mut DbConnection, id: i64) -> QueryResult<Option<CreditTransaction>> {
    credit_transactions::table
        .find(id)
        .select(CreditTransaction::as_select())
        .first(conn)
        .optional()
}

/// The author of a row made by the system, or whose admin or API key is no longer there.
pub const SYSTEM_AUTHOR: &str = "system";

/// Who made each row, as `by` (docs/concepts.md, "The ledger"): the admin's email, the API key's name, or `system`.
/// One query per actor kind, whatever the number of rows.
pub fn actor_labels<'a>(
    conn: &mut DbConnection,
    rows: impl IntoIterator<Item = &'a CreditTransaction>,
) -> QueryResult<Vec<String>> {
    let rows: Vec<&CreditTransaction> = rows.into_iter().collect();
    let ids_of = |kind: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.actor_kind == kind)
            .filter_map(|r| r.actor_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let admin_ids = ids_of("admin");
    let key_ids = ids_of("api_key");
    // One id (a single change) as `=`: a statement prepared once, where a list is prepared
    // for its length every time.
    let admins = admins::table.select((admins::id, admins::email));
    let admin_emails: HashMap<i64, String> = match admin_ids.as_slice() {
        [] => HashMap::new(),
        [id] => admins
            .filter(admins::id.eq(*id))
            .load(conn)?
            .into_iter()
            .collect(),
        ids => admins
            .filter(admins::id.eq_any(ids))
            .load(conn)?
            .into_iter()
            .collect(),
    };
    let keys = api_keys::table.select((api_keys::id, api_keys::name));
    let key_names: HashMap<i64, String> = match key_ids.as_slice() {
        [] => HashMap::new(),
        [id] => keys
            .filter(api_keys::id.eq(*id))
            .load(conn)?
            .into_iter()
            .collect(),
        ids => keys
            .filter(api_keys::id.eq_any(ids))
            .load(conn)?
            .into_iter()
            .collect(),
    };
    Ok(rows
        .iter()
        .map(|row| {
            let found = match (row.actor_kind.as_str(), row.actor_id) {
                ("admin", Some(id)) => admin_emails.get(&id),
                ("api_key", Some(id)) => key_names.get(&id),
                _ => None,
            };
            label(found.cloned())
        })
        .collect())
}

/// A customer's promo credits in one currency, as the tab and the Update form show them.
#[derive(Debug, Clone)]
pub struct AccountContext {
    pub customer: User,
    /// Every configured currency, in code order.
    pub configs: Vec<PromoCreditConfig>,
    /// The currency shown; none when it is not configured (or, with `or_first`, when none is).
    pub config: Option<PromoCreditConfig>,
    /// None before the account's first change.
    pub account: Option<CreditAccount>,
}

/// The customer and their account in `currency`; with `or_first`, in the first configured
/// currency when `currency` is none or not configured. None when the customer does not
/// exist.
pub fn account_context(
    conn: &mut DbConnection,
    user_id: i64,
    currency: Option<&str>,
    or_first: bool,
) -> QueryResult<Option<AccountContext>> {
    let Some(customer) = crate::store::customers::find(conn, user_id)? else {
        return Ok(None);
    };
    let configs = crate::store::configs::list(conn)?;
    let requested = currency.and_then(|code| configs.iter().find(|c| c.currency == code));
    let config = match requested {
        Some(config) => Some(config.clone()),
        None if or_first => configs.first().cloned(),
        None => None,
    };
    let account = match &config {
        Some(config) => self::account(conn, user_id, &config.currency)?,
        None => None,
    };
    Ok(Some(AccountContext {
        customer,
        configs,
        config,
        account,
    }))
}

/// History rows a page of the Promo Credits tab shows.
pub const TAB_HISTORY_ROWS: i64 = 20;

/// Grants the tab lists, the next to be spent first.
pub const TAB_GRANTS: i64 = 20;

/// What the tab reads of an account: a page of its history and the grants it holds, as of
/// `today` (UTC).
#[derive(Debug, Clone)]
pub struct TabReads {
    pub history: HistoryPage,
    /// The first grants in spending order, how many the account holds, and the credits
    /// expiring in the next [`crate::store::expiring::SOON_DAYS`] days.
    pub held: crate::store::grants::Held,
    pub today: time::Date,
}

/// Everything the tab shows, read together.
#[derive(Debug, Clone)]
pub struct Tab {
    pub context: AccountContext,
    pub reads: TabReads,
    /// The row a redirect after a change names (`updated=`), when it exists.
    pub updated: Option<CreditTransaction>,
}

/// The Promo Credits tab of `user_id` in `currency` (or the first configured one): the
/// account, a page of its history older than `before`, the grants it holds, and the row
/// `updated` names; none when there is no such customer.
pub fn tab(
    conn: &mut DbConnection,
    user_id: i64,
    currency: Option<&str>,
    before: Option<i64>,
    updated: Option<i64>,
) -> QueryResult<Option<Tab>> {
    use crate::store::{expiring, grants};
    let Some(context) = account_context(conn, user_id, currency, true)? else {
        return Ok(None);
    };
    let today = crate::db::now_utc().date();
    let mut reads = TabReads {
        history: HistoryPage::default(),
        held: grants::Held::default(),
        today,
    };
    let Some(config) = &context.config else {
        return Ok(Some(Tab {
            context,
            reads,
            updated: None,
        }));
    };
    reads.history = history_page(conn, user_id, &config.currency, before, TAB_HISTORY_ROWS)?;
    if let Some(account) = context.account.as_ref().filter(|a| a.balance > 0) {
        let window = expiring::within(today, expiring::SOON_DAYS);
        reads.held = grants::held(conn, account.id, TAB_GRANTS, window)?;
    }
    let updated = match updated {
        Some(id) => transaction(conn, id)?,
        None => None,
    };
    Ok(Some(Tab {
        context,
        reads,
        updated,
    }))
}

/// A page of the history the tab shows, and whether older rows follow.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// Newest first, each with who made it.
    pub rows: Vec<(CreditTransaction, String)>,
    pub has_older: bool,
}

/// Up to `limit` rows of an account older than `before`, with their authors.
pub fn history_page(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<HistoryPage> {
    let mut rows = named_history(conn, user_id, currency, before, limit + 1)?;
    let has_older = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(HistoryPage { rows, has_older })
}

/// Every account of a customer, in currency order.
pub fn accounts_of(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<CreditAccount>> {
    credit_accounts::table
        .filter(credit_accounts::user_id.eq(user_id))
        .order(credit_accounts::currency)
        .select(CreditAccount::as_select())
        .load(conn)
}

/// Every account of these customers (any order).
pub fn accounts_of_all(
    conn: &mut DbConnection,
    user_ids: &[i64],
) -> QueryResult<Vec<CreditAccount>> {
    let mut accounts = Vec::new();
    for chunk in user_ids.chunks(crate::store::customers::IDS_PER_QUERY) {
        accounts.extend(crate::db::dialect::per_backend!(conn, |c| {
            credit_accounts::table
                .filter(credit_accounts::user_id.eq_any(chunk))
                .select(CreditAccount::as_select())
                .load(c)
        })?);
    }
    Ok(accounts)
}
