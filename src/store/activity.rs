//! The activity log: who did what, appended and never changed (docs/concepts.md, "Activity
//! log"). A row that records a change is written in the same transaction as the change.

use diesel::prelude::*;
use time::{Date, PrimitiveDateTime, Time};

use crate::db::models::{Activity, NewActivity};
use crate::db::prepared::Prepared;
use crate::db::schema::activity_log;
use crate::db::{now_utc, DbConnection};
use crate::store::customers::like_escape;

/// Who acts, and from where: what every activity row says about its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// The admin's email, the API key's name, or `system`.
    pub actor: String,
    /// The client's address, when the action came over HTTP.
    pub ip: Option<String>,
}

impl Audit {
    pub fn new(actor: impl Into<String>, ip: Option<String>) -> Audit {
        Audit {
            actor: actor.into(),
            ip,
        }
    }

    /// The server or a shell command acting on its own.
    pub fn system() -> Audit {
        Audit::new("system", None)
    }
}

/// What an activity row is about, when it is a customer or a ledger row: the log links to
/// them, and they link back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subject {
    pub user_id: Option<i64>,
    pub record_id: Option<i64>,
}

impl Subject {
    pub fn customer(user_id: i64) -> Subject {
        Subject {
            user_id: Some(user_id),
            record_id: None,
        }
    }
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub audit: &'a Audit,
    pub action: &'a str,
    pub target: &'a str,
    pub details: &'a str,
    pub subject: Subject,
}

pub fn record(conn: &mut DbConnection, entry: Record<'_>) -> QueryResult<()> {
    Prepared(
        diesel::insert_into(activity_log::table)
            .values(NewActivity {
                created_at: now_utc(),
                actor: &entry.audit.actor,
                action: entry.action,
                target: entry.target,
                details: entry.details,
                ip: entry.audit.ip.as_deref(),
                user_id: entry.subject.user_id,
                record_id: entry.subject.record_id,
            })
            .returning(activity_log::id),
    )
    .get_result::<i64>(conn)
    .map(|_| ())
}

/// Which activity rows to show; built from a URL by `crate::filters::activity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// The start of the actor (an email, a key's name, `system`).
    pub actor_prefix: Option<String>,
    /// An action (`credit.adjust`), or a family of them when it ends with `.` (`export.`).
    pub action: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub user_id: Option<i64>,
    pub record_id: Option<i64>,
}

/// Up to `limit` rows older than the row `before` (keyset on id), newest first.
pub fn page(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Activity>> {
    let mut query = activity_log::table.into_boxed();
    if let Some(prefix) = &filter.actor_prefix {
        query = query.filter(
            activity_log::actor
                .like(format!("{}%", like_escape(prefix)))
                .escape('\\'),
        );
    }
    match filter.action.as_deref() {
        Some(family) if family.ends_with('.') => {
            query = query.filter(
                activity_log::action
                    .like(format!("{}%", like_escape(family)))
                    .escape('\\'),
            )
        }
        Some(action) => query = query.filter(activity_log::action.eq(action.to_owned())),
        None => {}
    }
    if let Some(from) = filter.from {
        query =
            query.filter(activity_log::created_at.ge(PrimitiveDateTime::new(from, Time::MIDNIGHT)));
    }
    if let Some(to) = filter.to.and_then(|to| to.next_day()) {
        query =
            query.filter(activity_log::created_at.lt(PrimitiveDateTime::new(to, Time::MIDNIGHT)));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(activity_log::user_id.eq(user_id));
    }
    if let Some(record_id) = filter.record_id {
        query = query.filter(activity_log::record_id.eq(record_id));
    }
    if let Some(before) = before {
        query = query.filter(activity_log::id.lt(before));
    }
    query
        .order(activity_log::id.desc())
        .limit(limit)
        .select(Activity::as_select())
        .load(conn)
}
