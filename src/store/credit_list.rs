//! The promo credit list: ledger rows selected by the console's filters, in time order, read
//! a page (or an export chunk) at a time with keyset paging on `(created_at, id)`.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamp};
use time::{Date, PrimitiveDateTime, Time};

use crate::db::models::CreditTransaction;
use crate::db::schema::{credit_daily_totals, credit_transactions, users};
use crate::db::{DbConnection, MultiBackend};
use crate::domain::{CurrencyCode, Reason, TransactionType};
use crate::store::customers::like_escape;

/// Above this many customers matching an email prefix, the query filters by a subquery
/// instead of a list of ids.
pub const MAX_LISTED_CUSTOMERS: i64 = 1000;

/// The filters as typed in the URL (every field optional; `type` may repeat).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RawFilter {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub external_id: String,
    #[serde(default)]
    pub invoice_id: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default, rename = "type")]
    pub types: Vec<String>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub order: String,
}

/// Checked filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreditFilter {
    /// Lower-cased start of the customer's email.
    pub email_prefix: Option<String>,
    pub external_id: Option<String>,
    pub invoice_id: Option<String>,
    pub currency: Option<String>,
    pub types: Vec<TransactionType>,
    pub reason: Option<Reason>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub ascending: bool,
}

/// A filter field and what is wrong with it.
pub type FilterError = (&'static str, String);

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// `2026-11-26`.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

impl RawFilter {
    pub fn parse(&self) -> Result<CreditFilter, Vec<FilterError>> {
        let mut errors = Vec::new();
        let currency = match non_empty(&self.currency) {
            None => None,
            Some(code) => match CurrencyCode::parse(&code) {
                Ok(code) => Some(code.to_string()),
                Err(e) => {
                    errors.push(("currency", e.to_string()));
                    None
                }
            },
        };
        let mut types = Vec::new();
        for text in self.types.iter().filter(|t| !t.trim().is_empty()) {
            match TransactionType::parse(text.trim()) {
                Ok(kind) if !types.contains(&kind) => types.push(kind),
                Ok(_) => {}
                Err(_) => errors.push(("type", format!("There is no type {:?}.", text.trim()))),
            }
        }
        let reason = match non_empty(&self.reason) {
            None => None,
            Some(text) => match Reason::parse(&text) {
                Ok(reason) => Some(reason),
                Err(_) => {
                    errors.push(("reason", format!("There is no reason {text:?}.")));
                    None
                }
            },
        };
        let mut date = |field: &'static str, text: &str| match non_empty(text) {
            None => None,
            Some(text) => {
                let parsed = parse_date(&text);
                if parsed.is_none() {
                    errors.push((
                        field,
                        format!("Enter the date as YYYY-MM-DD, like 2026-11-01 (got {text:?})."),
                    ));
                }
                parsed
            }
        };
        let from = date("from", &self.from);
        let to = date("to", &self.to);
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.push(("to", "The end date is before the start date.".to_owned()));
            }
        }
        let ascending = match self.order.trim() {
            "" | "desc" => false,
            "asc" => true,
            other => {
                errors.push(("order", format!("Order is asc or desc, not {other:?}.")));
                false
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CreditFilter {
            email_prefix: non_empty(&self.email).map(|e| e.to_lowercase()),
            external_id: non_empty(&self.external_id),
            invoice_id: non_empty(&self.invoice_id),
            currency,
            types,
            reason,
            from,
            to,
            ascending,
        })
    }
}

impl CreditFilter {
    /// The filter as URL query pairs (without paging), for links and exports.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key, value: &Option<String>| {
            if let Some(value) = value {
                pairs.push((key, value.clone()));
            }
        };
        push("email", &self.email_prefix);
        push("external_id", &self.external_id);
        push("invoice_id", &self.invoice_id);
        push("currency", &self.currency);
        push("reason", &self.reason.map(|r| r.as_str().to_owned()));
        push("from", &self.from.map(|d| d.to_string()));
        push("to", &self.to.map(|d| d.to_string()));
        for kind in &self.types {
            pairs.push(("type", kind.as_str().to_owned()));
        }
        if self.ascending {
            pairs.push(("order", "asc".to_owned()));
        }
        pairs
    }

    /// Whether the per-day totals can answer for this filter (no customer or invoice filter).
    fn totals_from_daily(&self) -> bool {
        self.email_prefix.is_none() && self.external_id.is_none() && self.invoice_id.is_none()
    }
}

/// Which customers the filter allows, resolved before the main query.
#[derive(Debug, Clone)]
pub enum Customers {
    Any,
    Nobody,
    Ids(Vec<i64>),
    EmailPrefix(String),
}

pub fn resolve_customers(conn: &mut DbConnection, filter: &CreditFilter) -> QueryResult<Customers> {
    resolve(
        conn,
        filter.email_prefix.as_deref(),
        filter.external_id.as_deref(),
    )
}

/// The customers with this email prefix and external id (either may be absent).
pub fn resolve(
    conn: &mut DbConnection,
    email_prefix: Option<&str>,
    external_id: Option<&str>,
) -> QueryResult<Customers> {
    let by_external: Option<Vec<i64>> = match external_id {
        None => None,
        Some(external) => Some(
            users::table
                .filter(users::external_id.eq(external))
                .select(users::id)
                .load(conn)?,
        ),
    };
    let by_email = match email_prefix {
        None => None,
        Some(prefix) => {
            let ids = crate::store::customers::ids_with_email_prefix(
                conn,
                prefix,
                MAX_LISTED_CUSTOMERS + 1,
            )?;
            if ids.len() as i64 > MAX_LISTED_CUSTOMERS {
                Some(Err(prefix.to_owned()))
            } else {
                Some(Ok(ids))
            }
        }
    };
    Ok(match (by_external, by_email) {
        (None, None) => Customers::Any,
        (Some(ids), None) | (None, Some(Ok(ids))) => {
            if ids.is_empty() {
                Customers::Nobody
            } else {
                Customers::Ids(ids)
            }
        }
        (None, Some(Err(prefix))) => Customers::EmailPrefix(prefix),
        (Some(external), Some(Ok(emails))) => {
            let both: Vec<i64> = external
                .into_iter()
                .filter(|id| emails.contains(id))
                .collect();
            if both.is_empty() {
                Customers::Nobody
            } else {
                Customers::Ids(both)
            }
        }
        (Some(external), Some(Err(prefix))) => {
            // Few customers by external id: keep those whose email also matches.
            let matching: Vec<i64> = users::table
                .filter(users::id.eq_any(&external))
                .filter(
                    users::email_lower
                        .like(format!("{}%", like_escape(&prefix)))
                        .escape('\\'),
                )
                .select(users::id)
                .load(conn)?;
            if matching.is_empty() {
                Customers::Nobody
            } else {
                Customers::Ids(matching)
            }
        }
    })
}

type Boxed = credit_transactions::BoxedQuery<'static, MultiBackend>;

fn start_of(day: Date) -> PrimitiveDateTime {
    PrimitiveDateTime::new(day, Time::MIDNIGHT)
}

/// Ids of the customers whose email starts with `$prefix`, as a subquery (a boxed query
/// cannot be a subquery, so this is spelled out where it is used).
macro_rules! email_prefix_ids {
    ($prefix:expr) => {
        users::table
            .filter(
                users::email_lower
                    .like(format!("{}%", like_escape($prefix)))
                    .escape('\\'),
            )
            .select(users::id)
    };
}
pub(crate) use email_prefix_ids;

/// The rows the filter selects (none of the paging).
fn filtered(filter: &CreditFilter, customers: &Customers) -> Boxed {
    let mut query = credit_transactions::table.into_boxed();
    match customers {
        Customers::Any => {}
        Customers::Nobody => query = query.filter(sql::<Bool>("1 = 0")),
        Customers::Ids(ids) if ids.len() == 1 => {
            query = query.filter(credit_transactions::user_id.eq(ids[0]))
        }
        Customers::Ids(ids) => {
            query = query.filter(credit_transactions::user_id.eq_any(ids.clone()))
        }
        Customers::EmailPrefix(prefix) => {
            // Many customers match: walk the rows in time order and test each against the
            // set, rather than gathering every matching customer's rows to sort them. The
            // unary plus keeps SQLite from reading through the customer index instead.
            query = query.filter(
                sql::<Bool>(
                    "+credit_transactions.user_id IN (SELECT id FROM users WHERE email_lower LIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(format!("{}%", like_escape(prefix)))
                .sql(" ESCAPE '\\')"),
            );
        }
    }
    if let Some(invoice) = &filter.invoice_id {
        query = query.filter(credit_transactions::invoice_id.eq(invoice.clone()));
    }
    if let Some(currency) = &filter.currency {
        query = query.filter(credit_transactions::currency.eq(currency.clone()));
    }
    match filter.types.as_slice() {
        [] => {}
        [one] => query = query.filter(credit_transactions::kind.eq(one.as_str())),
        many => {
            query = query.filter(
                credit_transactions::kind
                    .eq_any(many.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
            )
        }
    }
    if let Some(reason) = filter.reason {
        query = query.filter(credit_transactions::reason.eq(reason.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(credit_transactions::created_at.ge(start_of(from)));
    }
    if let Some(to) = filter.to {
        let end = to
            .next_day()
            .map(start_of)
            .unwrap_or(PrimitiveDateTime::MAX);
        query = query.filter(credit_transactions::created_at.lt(end));
    }
    query
}

/// Where the previous page ended: the last row's time and id.
pub type Cursor = (PrimitiveDateTime, i64);

/// The cursor of a record id (the SPEC's `after=`); none when the record does not exist.
pub fn cursor_of(conn: &mut DbConnection, record_id: i64) -> QueryResult<Option<Cursor>> {
    credit_transactions::table
        .find(record_id)
        .select((credit_transactions::created_at, credit_transactions::id))
        .first(conn)
        .optional()
}

/// One page of rows after `cursor`, in the filter's time order.
pub fn page(
    conn: &mut DbConnection,
    filter: &CreditFilter,
    customers: &Customers,
    cursor: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<CreditTransaction>> {
    let mut query = filtered(filter, customers);
    let comparison = if filter.ascending { ">" } else { "<" };
    if let Some((at, id)) = cursor {
        query = query.filter(
            sql::<Bool>(&format!(
                "(credit_transactions.created_at, credit_transactions.id) {comparison} ("
            ))
            .bind::<Timestamp, _>(at)
            .sql(", ")
            .bind::<BigInt, _>(id)
            .sql(")"),
        );
    }
    query = if filter.ascending {
        query.order((
            credit_transactions::created_at.asc(),
            credit_transactions::id.asc(),
        ))
    } else {
        query.order((
            credit_transactions::created_at.desc(),
            credit_transactions::id.desc(),
        ))
    };
    query
        .limit(limit)
        .select(CreditTransaction::as_select())
        .load(conn)
}

/// Row count and credits added and used (deducted) for the whole filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub rows: i64,
    pub added: i64,
    pub used: i64,
}

/// Totals for the filter, or none when too many customers match an email prefix to add up
/// their rows at once (the page says so).
pub fn totals(
    conn: &mut DbConnection,
    filter: &CreditFilter,
    customers: &Customers,
) -> QueryResult<Option<Totals>> {
    if matches!(customers, Customers::EmailPrefix(_)) {
        return Ok(None);
    }
    exact_totals(conn, filter, customers).map(Some)
}

fn exact_totals(
    conn: &mut DbConnection,
    filter: &CreditFilter,
    customers: &Customers,
) -> QueryResult<Totals> {
    if filter.totals_from_daily() {
        let mut query = credit_daily_totals::table.into_boxed();
        if let Some(currency) = &filter.currency {
            query = query.filter(credit_daily_totals::currency.eq(currency.clone()));
        }
        if !filter.types.is_empty() {
            query = query.filter(
                credit_daily_totals::kind
                    .eq_any(filter.types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
            );
        }
        if let Some(reason) = filter.reason {
            query = query.filter(credit_daily_totals::reason.eq(reason.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(credit_daily_totals::day.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(credit_daily_totals::day.le(to));
        }
        let (rows, added, used) = query
            .select(sql::<(BigInt, BigInt, BigInt)>(
                "CAST(COALESCE(SUM(row_count), 0) AS BIGINT), CAST(COALESCE(SUM(added), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(deducted), 0) AS BIGINT)",
            ))
            .first(conn)?;
        return Ok(Totals { rows, added, used });
    }
    let (rows, added, used) = filtered(filter, customers)
        .select(sql::<(BigInt, BigInt, BigInt)>(
            "CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN delta > 0 THEN delta ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN delta < 0 THEN -delta ELSE 0 END), 0) AS BIGINT)",
        ))
        .first(conn)?;
    Ok(Totals { rows, added, used })
}

/// The customer facts a list row shows, by customer id, in one query.
pub fn customers_of(
    conn: &mut DbConnection,
    rows: &[CreditTransaction],
) -> QueryResult<HashMap<i64, (String, Option<String>)>> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<(i64, String, Option<String>)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::email, users::external_id))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(id, email, external)| (id, (email, external)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters() {
        let raw = RawFilter {
            email: " Ann@Ex ".into(),
            types: vec![
                "admin_added".into(),
                "invoice_applied".into(),
                "admin_added".into(),
                "".into(),
            ],
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            order: "asc".into(),
            ..RawFilter::default()
        };
        let filter = raw.parse().unwrap();
        assert_eq!(filter.email_prefix.as_deref(), Some("ann@ex"));
        assert_eq!(
            filter.types,
            vec![TransactionType::AdminAdded, TransactionType::InvoiceApplied]
        );
        assert!(filter.ascending);
        assert_eq!(
            filter.from.map(|d| d.to_string()).as_deref(),
            Some("2026-11-01")
        );
    }

    #[test]
    fn says_what_is_wrong() {
        let raw = RawFilter {
            currency: "euro".into(),
            types: vec!["gift".into()],
            reason: "bribe".into(),
            from: "01/11/2026".into(),
            to: "2026-13-01".into(),
            order: "up".into(),
            ..RawFilter::default()
        };
        let fields: Vec<&str> = raw
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            vec!["currency", "type", "reason", "from", "to", "order"]
        );
        let backwards = RawFilter {
            from: "2026-11-02".into(),
            to: "2026-11-01".into(),
            ..RawFilter::default()
        };
        assert_eq!(backwards.parse().unwrap_err()[0].0, "to");
    }
}
