//! Reading credit accounts and their ledger rows for the console (writes go through
//! `crate::ledger`).

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::models::{CreditAccount, CreditTransaction};
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

/// A page of an account's rows, newest first, older than `before` when given. One query
/// shape whatever the arguments, so the prepared statement is reused.
pub fn history(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<CreditTransaction>> {
    credit_transactions::table
        .filter(credit_transactions::user_id.eq(user_id))
        .filter(credit_transactions::currency.eq(currency))
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

/// Who made each row, as the SPEC's `by`: the admin's email, the API key's name, or `system`.
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
    let admin_emails: HashMap<i64, String> = if admin_ids.is_empty() {
        HashMap::new()
    } else {
        admins::table
            .filter(admins::id.eq_any(&admin_ids))
            .select((admins::id, admins::email))
            .load(conn)?
            .into_iter()
            .collect()
    };
    let key_names: HashMap<i64, String> = if key_ids.is_empty() {
        HashMap::new()
    } else {
        api_keys::table
            .filter(api_keys::id.eq_any(&key_ids))
            .select((api_keys::id, api_keys::name))
            .load(conn)?
            .into_iter()
            .collect()
    };
    Ok(rows
        .iter()
        .map(|row| {
            let found = match (row.actor_kind.as_str(), row.actor_id) {
                ("admin", Some(id)) => admin_emails.get(&id),
                ("api_key", Some(id)) => key_names.get(&id),
                _ => None,
            };
            found.cloned().unwrap_or_else(|| "system".to_owned())
        })
        .collect())
}
