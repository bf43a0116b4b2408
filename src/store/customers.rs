//! Customers of the merchant (`users`; docs/concepts.md, "Customers").

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::dialect::per_backend;
use crate::db::models::{NewUser, User, UserChanges};
use crate::db::schema::users;
use crate::db::{is_unique_violation, now_utc, write_transaction, DbConnection};
use crate::domain::Email;
use crate::store::activity::{self, Audit};

/// A customer to create, already validated.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub external_id: Option<String>,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub country: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("A customer with this email already exists.")]
    EmailTaken,
    #[error("A customer with this external id already exists.")]
    ExternalIdTaken,
    /// Another request created the same customer at the same moment.
    #[error("A customer with this email or external id already exists.")]
    Taken,
    /// Not transparent: the diesel error stays in the chain of sources, where
    /// `AppError::internal` looks for a database that stopped answering.
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
}

/// Creates a customer, recorded in the activity log when `audit` says by whom.
pub fn create(
    conn: &mut DbConnection,
    customer: &NewCustomer,
    audit: Option<&Audit>,
) -> Result<User, CustomerError> {
    let email_lower = customer.email.normalized();
    write_transaction(conn, |conn| {
        let taken = |conn: &mut DbConnection, by_email: bool| -> QueryResult<bool> {
            let query = users::table.select(users::id).into_boxed();
            let query = match (by_email, &customer.external_id) {
                (true, _) => query.filter(users::email_lower.eq(email_lower.clone())),
                (false, Some(external)) => query.filter(users::external_id.eq(external.clone())),
                (false, None) => return Ok(false),
            };
            Ok(query.first::<i64>(conn).optional()?.is_some())
        };
        if taken(conn, true)? {
            return Err(CustomerError::EmailTaken);
        }
        if taken(conn, false)? {
            return Err(CustomerError::ExternalIdTaken);
        }
        let id = insert(conn, customer)?;
        if let Some(audit) = audit {
            activity::record(
                conn,
                activity::Record {
                    audit,
                    action: "customer.create",
                    target: &format!("customer {id} ({})", customer.email),
                    details: customer.external_id.as_deref().unwrap_or(""),
                    subject: activity::Subject {
                        user_id: Some(id),
                        record_id: None,
                    },
                },
            )?;
        }
        Ok(users::table
            .find(id)
            .select(User::as_select())
            .first(conn)?)
    })
}

/// Inserts a customer already known to be new (the caller checked, or an import planned
/// it); [`CustomerError::Taken`] when someone else took the email or external id meanwhile.
pub fn insert(conn: &mut DbConnection, customer: &NewCustomer) -> Result<i64, CustomerError> {
    diesel::insert_into(users::table)
        .values(NewUser {
            external_id: customer.external_id.as_deref(),
            email: customer.email.as_str(),
            email_lower: &customer.email.normalized(),
            first_name: &customer.first_name,
            last_name: &customer.last_name,
            country: customer.country.as_deref(),
            created_at: now_utc(),
        })
        .returning(users::id)
        .get_result::<i64>(conn)
        .map_err(|e| match is_unique_violation(&e) {
            true => CustomerError::Taken,
            false => e.into(),
        })
}

/// Inserts customers already known to be new, many to a statement; their ids by
/// lower-cased email. [`CustomerError::Taken`] when someone took an email or external id
/// meanwhile (nothing is inserted then, as the transaction ends).
pub fn insert_all(
    conn: &mut DbConnection,
    customers: &[&NewCustomer],
) -> Result<HashMap<String, i64>, CustomerError> {
    let now = now_utc();
    let lower: Vec<String> = customers.iter().map(|c| c.email.normalized()).collect();
    let rows: Vec<NewUser<'_>> = customers
        .iter()
        .zip(&lower)
        .map(|(customer, email_lower)| NewUser {
            external_id: customer.external_id.as_deref(),
            email: customer.email.as_str(),
            email_lower,
            first_name: &customer.first_name,
            last_name: &customer.last_name,
            country: customer.country.as_deref(),
            created_at: now,
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        per_backend!(conn, |c| diesel::insert_into(users::table)
            .values(chunk)
            .execute(c))
        .map_err(|e| match is_unique_violation(&e) {
            true => CustomerError::Taken,
            false => e.into(),
        })?;
    }
    Ok(with_emails_or_external_ids(conn, &lower, &[])?
        .into_iter()
        .map(|user| (user.email_lower, user.id))
        .collect())
}

/// Rows inserted per statement: well under SQLite's limit of bound parameters.
const ROWS_PER_INSERT: usize = 1_000;

/// Gives the customer `id` every field of `customer` that is not empty (an import's
/// update, docs/import.md); empty fields stay as they are.
pub fn update_from(
    conn: &mut DbConnection,
    id: i64,
    customer: &NewCustomer,
) -> Result<(), CustomerError> {
    let email_lower = customer.email.normalized();
    let filled = |text: &str| Some(text).filter(|t| !t.is_empty()).map(str::to_owned);
    let (first_name, last_name) = (filled(&customer.first_name), filled(&customer.last_name));
    let changes = UserChanges {
        external_id: customer.external_id.as_deref(),
        email: Some(customer.email.as_str()),
        email_lower: Some(&email_lower),
        first_name: first_name.as_deref(),
        last_name: last_name.as_deref(),
        country: customer.country.as_deref(),
    };
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)
        .map_err(|e| match is_unique_violation(&e) {
            true => CustomerError::Taken,
            false => e.into(),
        })?;
    Ok(())
}

/// Values looked up by one query: well under SQLite's limit of bound parameters, and
/// enough that PostgreSQL, which may scan the table for them, scans it a few times only.
pub const IDS_PER_QUERY: usize = 5_000;

/// The customers with any of these lower-cased emails, or any of these external ids.
pub fn with_emails_or_external_ids(
    conn: &mut DbConnection,
    emails_lower: &[String],
    external_ids: &[String],
) -> QueryResult<Vec<User>> {
    // Per backend, so PostgreSQL gets one array parameter (`= ANY($1)`) rather than a list
    // of 500 it would plan value by value.
    let mut found = Vec::new();
    for chunk in emails_lower.chunks(IDS_PER_QUERY) {
        found.extend(per_backend!(conn, |c| users::table
            .filter(users::email_lower.eq_any(chunk))
            .select(User::as_select())
            .load(c))?);
    }
    for chunk in external_ids.chunks(IDS_PER_QUERY) {
        found.extend(per_backend!(conn, |c| users::table
            .filter(users::external_id.eq_any(chunk))
            .select(User::as_select())
            .load(c))?);
    }
    Ok(found)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A page (from 1) of customers in id order: `q` matches the start of the email, the
/// external id, or any part of the name (case-insensitive). Returns the page and the total
/// matching.
pub fn search(
    conn: &mut DbConnection,
    q: Option<&str>,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<User>, i64)> {
    let filtered = || {
        let mut query = users::table.into_boxed();
        if let Some(q) = q {
            let lower = q.to_lowercase();
            let email_prefix = format!("{}%", like_escape(&lower));
            let name_part = format!("%{}%", like_escape(&lower));
            query = query.filter(
                users::email_lower
                    .like(email_prefix)
                    .escape('\\')
                    .or(users::external_id.eq(q.to_owned()))
                    .or(diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "lower(first_name || ' ' || last_name) LIKE ",
                    )
                    .bind::<diesel::sql_types::Text, _>(name_part)
                    .sql(" ESCAPE '\\'")),
            );
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order(users::id)
        .offset(page.max(1).saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
        .select(User::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Up to `limit` customers whose email starts with `prefix` (lower-case), found by index on
/// both backends (see [`crate::db::Backend::needs_prefix_range`]).
pub fn ids_with_email_prefix(
    conn: &mut DbConnection,
    prefix: &str,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let mut query = users::table
        .filter(
            users::email_lower
                .like(format!("{}%", like_escape(prefix)))
                .escape('\\'),
        )
        .into_boxed();
    if conn.backend().needs_prefix_range() {
        query = query
            .filter(users::email_lower.ge(prefix.to_owned()))
            .filter(users::email_lower.lt(format!("{prefix}\u{10FFFF}")));
    }
    query.limit(limit).select(users::id).load(conn)
}

/// Whether there is any customer at all (cheaper than counting them).
pub fn any(conn: &mut DbConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn)
}

/// Up to `limit` customers in id order after the id `after`, with exactly this email
/// (lower-cased) and external id when they are given.
pub fn matching(
    conn: &mut DbConnection,
    email_lower: Option<&str>,
    external_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut query = users::table
        .filter(users::id.gt(after.unwrap_or(0)))
        .into_boxed();
    if let Some(email) = email_lower {
        query = query.filter(users::email_lower.eq(email.to_owned()));
    }
    if let Some(external) = external_id {
        query = query.filter(users::external_id.eq(external.to_owned()));
    }
    query
        .order(users::id)
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}
