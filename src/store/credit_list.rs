//! The promo credit list: ledger rows selected by the console's filters, in time order, read
//! a page (or an export chunk) at a time with keyset paging on `(created_at, id)`.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use time::{Date, PrimitiveDateTime, Time};

use crate::db::credit_export::CreditExport;
use crate::db::literal::{self, NulInText};
use crate::db::models::CreditTransaction;
use crate::db::schema::{credit_daily_totals, credit_transactions, users};
use crate::db::{Backend, DbConnection, MultiBackend, Pool};
use crate::domain::{CurrencyCode, Reason, TransactionType};
use crate::store::customers::like_escape;

/// Above this many customers matching an email prefix, the query filters by a subquery
/// instead of a list of ids.
pub const MAX_LISTED_CUSTOMERS: i64 = 1000;

/// Which ledger rows the list shows; built from a URL by `crate::filters::credit_list`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreditFilter {
    /// Lower-cased start of the customer's email.
    pub email_prefix: Option<String>,
    pub external_id: Option<String>,
    pub invoice_id: Option<String>,
    pub currency: Option<CurrencyCode>,
    pub types: Vec<TransactionType>,
    pub reason: Option<Reason>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub ascending: bool,
    /// One row only.
    pub record_id: Option<i64>,
}

impl CreditFilter {
    /// Whether the per-day totals can answer for this filter (no customer or invoice filter).
    fn totals_from_daily(&self) -> bool {
        self.email_prefix.is_none()
            && self.external_id.is_none()
            && self.invoice_id.is_none()
            && self.record_id.is_none()
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

/// How the rows of customers matching an email prefix are selected when too many match to
/// list them: walk the rows in time order and test each against the set, rather than
/// gathering every matching customer's rows to sort them. The unary plus keeps SQLite from
/// reading through the customer index instead. The LIKE pattern goes between the two.
const ROWS_OF_EMAIL_PREFIX: (&str, &str) = (
    "+credit_transactions.user_id IN (SELECT id FROM users WHERE email_lower LIKE ",
    " ESCAPE '\\')",
);

/// One condition on the ledger rows, decided once from a filter and the customers it
/// resolved to ([`conditions`]). The list applies each as a diesel filter with its value
/// bound ([`Condition::filter`]); the export writes each into the SQL text of its single
/// statement with its value as a literal ([`Condition::sql`]), because PostgreSQL's COPY
/// takes no parameters. The two renderings sit side by side here, one line per condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No row: no customer matches.
    NoRow,
    Customer(i64),
    Customers(Vec<i64>),
    /// The customers whose lower-cased email starts with this (too many to list).
    EmailPrefix(String),
    Record(i64),
    Invoice(String),
    Currency(CurrencyCode),
    Type(TransactionType),
    Types(Vec<TransactionType>),
    Reason(Reason),
    /// At or after this time.
    Since(PrimitiveDateTime),
    /// Strictly before this time.
    Before(PrimitiveDateTime),
}

/// What the filter selects, as conditions that all hold (none of the paging).
pub fn conditions(filter: &CreditFilter, customers: &Customers) -> Vec<Condition> {
    let mut all = Vec::new();
    match customers {
        Customers::Any => {}
        Customers::Nobody => all.push(Condition::NoRow),
        Customers::Ids(ids) if ids.len() == 1 => all.push(Condition::Customer(ids[0])),
        Customers::Ids(ids) => all.push(Condition::Customers(ids.clone())),
        Customers::EmailPrefix(prefix) => all.push(Condition::EmailPrefix(prefix.clone())),
    }
    if let Some(id) = filter.record_id {
        all.push(Condition::Record(id));
    }
    if let Some(invoice) = &filter.invoice_id {
        all.push(Condition::Invoice(invoice.clone()));
    }
    if let Some(currency) = filter.currency {
        all.push(Condition::Currency(currency));
    }
    match filter.types.as_slice() {
        [] => {}
        [one] => all.push(Condition::Type(*one)),
        many => all.push(Condition::Types(many.to_vec())),
    }
    if let Some(reason) = filter.reason {
        all.push(Condition::Reason(reason));
    }
    if let Some(from) = filter.from {
        all.push(Condition::Since(start_of(from)));
    }
    if let Some(to) = filter.to {
        let end = to
            .next_day()
            .map(start_of)
            .unwrap_or(PrimitiveDateTime::MAX);
        all.push(Condition::Before(end));
    }
    all
}

impl Condition {
    /// The condition as a diesel filter, its value bound.
    pub fn filter(&self, query: Boxed) -> Boxed {
        use credit_transactions as t;
        match self {
            Condition::NoRow => query.filter(sql::<Bool>("1 = 0")),
            Condition::Customer(id) => query.filter(t::user_id.eq(*id)),
            Condition::Customers(ids) => query.filter(t::user_id.eq_any(ids.clone())),
            Condition::EmailPrefix(prefix) => query.filter(
                sql::<Bool>(ROWS_OF_EMAIL_PREFIX.0)
                    .bind::<Text, _>(format!("{}%", like_escape(prefix)))
                    .sql(ROWS_OF_EMAIL_PREFIX.1),
            ),
            Condition::Record(id) => query.filter(t::id.eq(*id)),
            Condition::Invoice(invoice) => query.filter(t::invoice_id.eq(invoice.clone())),
            Condition::Currency(code) => query.filter(t::currency.eq(code.to_string())),
            Condition::Type(kind) => query.filter(t::kind.eq(kind.as_str())),
            Condition::Types(kinds) => {
                query.filter(t::kind.eq_any(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()))
            }
            Condition::Reason(reason) => query.filter(t::reason.eq(reason.as_str())),
            Condition::Since(at) => query.filter(t::created_at.ge(*at)),
            Condition::Before(at) => query.filter(t::created_at.lt(*at)),
        }
    }

    /// The condition as SQL text with its value written as a literal ([`literal`]).
    pub fn sql(&self, backend: Backend) -> Result<String, NulInText> {
        let text = literal::text;
        let list = |items: &mut dyn Iterator<Item = Result<String, NulInText>>| {
            items.collect::<Result<Vec<_>, _>>().map(|l| l.join(", "))
        };
        Ok(match self {
            Condition::NoRow => "1 = 0".to_owned(),
            Condition::Customer(id) => format!("credit_transactions.user_id = {id}"),
            Condition::Customers(ids) => format!(
                "credit_transactions.user_id IN ({})",
                list(&mut ids.iter().map(|id| Ok(id.to_string())))?
            ),
            Condition::EmailPrefix(prefix) => format!(
                "{}{}{}",
                ROWS_OF_EMAIL_PREFIX.0,
                text(&format!("{}%", like_escape(prefix)))?,
                ROWS_OF_EMAIL_PREFIX.1
            ),
            Condition::Record(id) => format!("credit_transactions.id = {id}"),
            Condition::Invoice(invoice) => {
                format!("credit_transactions.invoice_id = {}", text(invoice)?)
            }
            Condition::Currency(code) => {
                format!("credit_transactions.currency = {}", text(code.as_str())?)
            }
            Condition::Type(kind) => format!("credit_transactions.kind = {}", text(kind.as_str())?),
            Condition::Types(kinds) => format!(
                "credit_transactions.kind IN ({})",
                list(&mut kinds.iter().map(|k| text(k.as_str())))?
            ),
            Condition::Reason(reason) => {
                format!("credit_transactions.reason = {}", text(reason.as_str())?)
            }
            Condition::Since(at) => format!(
                "credit_transactions.created_at >= {}",
                literal::timestamp(backend, *at)
            ),
            Condition::Before(at) => format!(
                "credit_transactions.created_at < {}",
                literal::timestamp(backend, *at)
            ),
        })
    }
}

/// The rows the filter selects (none of the paging).
fn filtered(filter: &CreditFilter, customers: &Customers) -> Boxed {
    conditions(filter, customers).iter().fold(
        credit_transactions::table.into_boxed(),
        |query, condition| condition.filter(query),
    )
}

/// Where the previous page ended: the last row's time and id.
pub type Cursor = (PrimitiveDateTime, i64);

/// The cursor of a record id (`after=`, docs/console.md "Parameters"); none when the record does not exist.
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
            query = query.filter(credit_daily_totals::currency.eq(currency.to_string()));
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
    let customers = users::table.select((users::id, users::email, users::external_id));
    // One id (a single change) as `=`: a statement prepared once, where a list is prepared
    // for its length every time.
    let found: Vec<(i64, String, Option<String>)> = match ids.as_slice() {
        [id] => customers.filter(users::id.eq(*id)).load(conn)?,
        _ => customers.filter(users::id.eq_any(ids)).load(conn)?,
    };
    Ok(found
        .into_iter()
        .map(|(id, email, external)| (id, (email, external)))
        .collect())
}

/// A ledger row with the customer and the author it names.
#[derive(Debug, Clone)]
pub struct NamedRow {
    pub row: CreditTransaction,
    pub email: String,
    pub external_id: String,
    /// The admin's email, the API key's name, or `system`.
    pub by: String,
}

/// Names the customer and author of each row: one query per kind, not per row.
pub fn with_names(
    conn: &mut DbConnection,
    rows: Vec<CreditTransaction>,
) -> QueryResult<Vec<NamedRow>> {
    let customers = customers_of(conn, &rows)?;
    let labels = crate::store::credits::actor_labels(conn, &rows)?;
    Ok(rows
        .into_iter()
        .zip(labels)
        .map(|(row, by)| {
            let (email, external) = customers.get(&row.user_id).cloned().unwrap_or_default();
            NamedRow {
                row,
                email,
                external_id: external.unwrap_or_default(),
                by,
            }
        })
        .collect())
}

/// One ledger row of the export with the customer and author it names, borrowed from
/// where it was read: the cells of `crate::views::promo_credits::CSV_HEADER` before they
/// are formatted. Missing values are empty.
#[derive(Debug, Clone, Copy)]
pub struct CreditCells<'a> {
    pub id: i64,
    pub user_id: i64,
    pub external_id: &'a str,
    pub email: &'a str,
    pub currency: &'a str,
    pub kind: &'a str,
    pub reason: &'a str,
    pub delta: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    pub currency_value: &'a str,
    pub exchange_rate_e4: i64,
    pub by: &'a str,
    pub note: &'a str,
    pub invoice_id: &'a str,
    pub created_at: PrimitiveDateTime,
    /// A grant's expiry (docs/concepts.md, "Expiry").
    pub expires_at: Option<Date>,
}

/// Starts the export of every row the filter selects, in its order, as one statement
/// ([`CreditExport`]): the customers are resolved first, as for the list, and the
/// conditions written into its SQL.
pub fn start_export(
    conn: &mut DbConnection,
    pool: &Pool,
    filter: &CreditFilter,
) -> anyhow::Result<CreditExport> {
    let customers = resolve_customers(conn, filter)?;
    let backend = conn.backend();
    let conditions = conditions(filter, &customers)
        .iter()
        .map(|condition| condition.sql(backend))
        .collect::<Result<Vec<_>, _>>()?;
    CreditExport::start(conn, pool, &conditions, filter.ascending)
}

/// One page of the list, and the totals of the whole filter.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub rows: Vec<NamedRow>,
    /// More rows follow this page.
    pub more: bool,
    /// None when too many customers match an email prefix to add their rows up at once.
    pub totals: Option<Totals>,
    /// This page starts after a record (it is not the first page).
    pub after: Option<i64>,
}

/// Up to `per_page` rows after the record `after` (the keyset cursor), with the totals.
pub fn list_page(
    conn: &mut DbConnection,
    filter: &CreditFilter,
    after: Option<i64>,
    per_page: i64,
) -> QueryResult<ListPage> {
    let customers = resolve_customers(conn, filter)?;
    let cursor = match after {
        Some(id) => cursor_of(conn, id)?,
        None => None,
    };
    let mut rows = page(conn, filter, &customers, cursor, per_page + 1)?;
    let more = rows.len() as i64 > per_page;
    rows.truncate(per_page as usize);
    let totals = totals(conn, filter, &customers)?;
    Ok(ListPage {
        rows: with_names(conn, rows)?,
        more,
        totals,
        after,
    })
}
