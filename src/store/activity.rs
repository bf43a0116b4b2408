//! The activity log: who did what, appended and never changed.

use diesel::prelude::*;

use crate::db::models::NewActivity;
use crate::db::schema::activity_log;
use crate::db::{now_utc, DbConnection};

/// One action to record.
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub details: &'a str,
    pub ip: Option<&'a str>,
}

pub fn record(conn: &mut DbConnection, entry: Record<'_>) -> QueryResult<()> {
    diesel::insert_into(activity_log::table)
        .values(NewActivity {
            created_at: now_utc(),
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            details: entry.details,
            ip: entry.ip,
        })
        .execute(conn)
        .map(|_| ())
}
