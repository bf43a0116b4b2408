//! The activity log: who did what, appended and never changed (docs/concepts.md, "Activity
//! log"). A row that records a change is written in the same transaction as the change.

use diesel::prelude::*;

use crate::db::models::NewActivity;
use crate::db::schema::activity_log;
use crate::db::{now_utc, DbConnection};

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
        .execute(conn)
        .map(|_| ())
}
