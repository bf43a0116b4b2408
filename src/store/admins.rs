//! Console users (docs/concepts.md, "Admins and roles"). Every change of an admin is
//! written with its activity row in one transaction.

use diesel::prelude::*;

use crate::db::dialect::lock_enabled_owners;
use crate::db::models::{Admin, NewAdmin};
use crate::db::schema::admins;
use crate::db::{is_unique_violation, now_utc, write_transaction, DbConnection};
use crate::domain::{Email, Role};
use crate::passwords::{
    check_new_password, generate_password, hash_password, verify_password, PasswordTooShort,
};
use crate::store::activity::{self, Audit};
use crate::store::sessions;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("An admin with the email {0} already exists.")]
    EmailTaken(String),
    #[error("This admin does not exist.")]
    NotFound,
    #[error("This is the last enabled owner: make another admin an owner first, or the console would have nobody to manage it.")]
    LastOwner,
    #[error(transparent)]
    Password(#[from] PasswordTooShort),
    /// Not transparent: the diesel error stays in the chain of sources, where
    /// `AppError::internal` looks for a database that stopped answering.
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    admins::table.count().get_result(conn)
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Admin>> {
    admins::table
        .filter(admins::email.eq(email.trim().to_lowercase()))
        .select(Admin::as_select())
        .first(conn)
        .optional()
}

/// Creates an admin and records it; the email is stored lower-case so logins ignore case.
pub fn create(
    conn: &mut DbConnection,
    email: &Email,
    name: &str,
    role: Role,
    password: &str,
    audit: &Audit,
) -> Result<Admin, AdminError> {
    check_new_password(password)?;
    let hash = hash_password(password)?;
    let now = now_utc();
    let normalized = email.normalized();
    write_transaction(conn, |conn| {
        let inserted = diesel::insert_into(admins::table)
            .values(NewAdmin {
                email: &normalized,
                name: name.trim(),
                role: role.as_str(),
                password_hash: &hash,
                disabled: false,
                created_at: now,
                updated_at: now,
            })
            .returning(admins::id)
            .get_result::<i64>(conn);
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                return Err(AdminError::EmailTaken(normalized.clone()))
            }
            Err(e) => return Err(e.into()),
        };
        activity::record(
            conn,
            activity::Record {
                audit,
                action: "admin.create",
                target: &normalized,
                details: &format!("{} ({})", name.trim(), role.as_str()),
                subject: activity::Subject::default(),
            },
        )?;
        Ok(admins::table
            .find(id)
            .select(Admin::as_select())
            .first(conn)?)
    })
}

/// Every admin, in the order they were added.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Admin>> {
    admins::table
        .order(admins::id)
        .select(Admin::as_select())
        .load(conn)
}

/// What an owner does to another admin (or to themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminChange {
    SetRole(Role),
    Disable,
    Enable,
    /// A new one-time password; every session of theirs ends.
    ResetPassword,
}

/// What a change did, in words for the page; and a reset's one-time password.
#[derive(Debug, Clone)]
pub struct Changed {
    pub admin: Admin,
    pub summary: String,
    pub one_time_password: Option<String>,
}

/// Changes an admin in one transaction with its activity row. The last enabled owner can be
/// neither disabled nor given another role: the console would have nobody to manage it.
pub fn change(
    conn: &mut DbConnection,
    admin_id: i64,
    change: AdminChange,
    audit: &Audit,
) -> Result<Changed, AdminError> {
    let new_password = (change == AdminChange::ResetPassword).then(generate_password);
    let new_hash = new_password.as_deref().map(hash_password).transpose()?;
    write_transaction(conn, |conn| {
        let owners = lock_enabled_owners(conn)?;
        let admin = admins::table
            .find(admin_id)
            .select(Admin::as_select())
            .first(conn)
            .optional()?
            .ok_or(AdminError::NotFound)?;
        let last_owner = owners == [admin.id];
        let now = now_utc();
        let target = admins::table.find(admin_id);
        let (action, details) = match change {
            AdminChange::SetRole(role) if role.as_str() == admin.role => {
                return Ok(unchanged(admin, "already has that role"));
            }
            AdminChange::SetRole(_) | AdminChange::Disable if last_owner => {
                return Err(AdminError::LastOwner);
            }
            AdminChange::SetRole(role) => {
                diesel::update(target)
                    .set((admins::role.eq(role.as_str()), admins::updated_at.eq(now)))
                    .execute(conn)?;
                ("admin.role", format!("{} → {}", admin.role, role.as_str()))
            }
            AdminChange::Disable if admin.disabled => {
                return Ok(unchanged(admin, "is already disabled"))
            }
            AdminChange::Enable if !admin.disabled => {
                return Ok(unchanged(admin, "is already enabled"))
            }
            AdminChange::Disable | AdminChange::Enable => {
                let disabled = change == AdminChange::Disable;
                diesel::update(target)
                    .set((admins::disabled.eq(disabled), admins::updated_at.eq(now)))
                    .execute(conn)?;
                let ended = sessions::delete_all_for(conn, admin_id, None)?;
                match disabled {
                    true => ("admin.disable", format!("{ended} sessions ended")),
                    false => ("admin.enable", String::new()),
                }
            }
            AdminChange::ResetPassword => {
                diesel::update(target)
                    .set((
                        admins::password_hash.eq(new_hash.as_deref().unwrap_or("")),
                        admins::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                let ended = sessions::delete_all_for(conn, admin_id, None)?;
                ("admin.reset_password", format!("{ended} sessions ended"))
            }
        };
        activity::record(
            conn,
            activity::Record {
                audit,
                action,
                target: &admin.email,
                details: &details,
                subject: activity::Subject::default(),
            },
        )?;
        let admin = admins::table
            .find(admin_id)
            .select(Admin::as_select())
            .first(conn)?;
        Ok(Changed {
            summary: describe(&admin, change),
            admin,
            one_time_password: new_password.clone(),
        })
    })
}

fn unchanged(admin: Admin, how: &str) -> Changed {
    Changed {
        summary: format!("Nothing changed: {} {how}.", admin.email),
        admin,
        one_time_password: None,
    }
}

fn describe(admin: &Admin, change: AdminChange) -> String {
    match change {
        AdminChange::SetRole(role) => format!("{} is now {}.", admin.email, role.label()),
        AdminChange::Disable => format!("{} is disabled and signed out everywhere.", admin.email),
        AdminChange::Enable => format!("{} can sign in again.", admin.email),
        AdminChange::ResetPassword => format!(
            "{} has a new one-time password and was signed out everywhere.",
            admin.email
        ),
    }
}

/// Why an admin's own password change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("That is not your current password.")]
    WrongCurrentPassword,
    /// Not transparent: the diesel error stays in the chain of sources, where
    /// `AppError::internal` looks for a database that stopped answering.
    #[error("{0}")]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// An admin replaces their own password: the current one is checked, then in one transaction
/// the new hash is stored, every other session of theirs ends and the change is recorded.
/// Returns how many other sessions ended.
pub fn change_own_password(
    conn: &mut DbConnection,
    admin_id: i64,
    current_session: i64,
    current_password: &str,
    new_password: &str,
    audit: &Audit,
) -> Result<usize, PasswordChangeError> {
    let stored: String = admins::table
        .find(admin_id)
        .select(admins::password_hash)
        .first(conn)?;
    if !verify_password(current_password, &stored) {
        return Err(PasswordChangeError::WrongCurrentPassword);
    }
    let hash = hash_password(new_password)?;
    write_transaction(conn, |conn| {
        diesel::update(admins::table.find(admin_id))
            .set((
                admins::password_hash.eq(&hash),
                admins::updated_at.eq(now_utc()),
            ))
            .execute(conn)?;
        let ended = sessions::delete_all_for(conn, admin_id, Some(current_session))?;
        activity::record(
            conn,
            activity::Record {
                audit,
                action: "password.change",
                target: &audit.actor,
                details: &format!("{ended} other sessions ended"),
                subject: activity::Subject::default(),
            },
        )?;
        Ok(ended)
    })
}
