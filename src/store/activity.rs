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

/// Failed sign-ins since `since`, for one email and from one IP.
pub fn recent_login_failures(
    conn: &mut DbConnection,
    email: &str,
    ip: &str,
    since: time::PrimitiveDateTime,
) -> QueryResult<(i64, i64)> {
    let recent = || {
        activity_log::table
            .filter(activity_log::action.eq(LOGIN_FAILED))
            .filter(activity_log::created_at.gt(since))
    };
    let by_email = recent()
        .filter(activity_log::target.eq(email))
        .count()
        .get_result(conn)?;
    let by_ip = recent()
        .filter(activity_log::ip.eq(ip))
        .count()
        .get_result(conn)?;
    Ok((by_email, by_ip))
}

pub const LOGIN_FAILED: &str = "login.failed";
