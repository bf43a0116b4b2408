//! Customers of the merchant (`users`; docs/concepts.md, "Customers").

use diesel::prelude::*;

use crate::db::models::{NewUser, User};
use crate::db::schema::users;
use crate::db::{is_unique_violation, now_utc, DbConnection};
use crate::domain::Email;

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
    #[error("A customer with this email or external id already exists.")]
    Duplicate,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub fn create(conn: &mut DbConnection, customer: &NewCustomer) -> Result<User, CustomerError> {
    let email_lower = customer.email.normalized();
    let inserted = diesel::insert_into(users::table)
        .values(NewUser {
            external_id: customer.external_id.as_deref(),
            email: customer.email.as_str(),
            email_lower: &email_lower,
            first_name: &customer.first_name,
            last_name: &customer.last_name,
            country: customer.country.as_deref(),
            created_at: now_utc(),
        })
        .returning(users::id)
        .get_result::<i64>(conn);
    match inserted {
        Ok(id) => Ok(users::table
            .find(id)
            .select(User::as_select())
            .first(conn)?),
        Err(e) if is_unique_violation(&e) => Err(CustomerError::Duplicate),
        Err(e) => Err(e.into()),
    }
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
