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

/// One action to record.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub audit: &'a Audit,
    pub action: &'a str,
    pub target: &'a str,
    pub details: &'a str,
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
        })
        .execute(conn)
        .map(|_| ())
}
