//! Console users.

use diesel::prelude::*;

use crate::db::models::{Admin, NewAdmin};
use crate::db::schema::admins;
use crate::db::{is_unique_violation, now_utc, write_transaction, DbConnection};
use crate::domain::{Email, Role};
use crate::passwords::{check_new_password, hash_password, verify_password, PasswordTooShort};
use crate::store::activity::{self, Audit};
use crate::store::sessions;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("An admin with the email {0} already exists.")]
    EmailTaken(String),
    #[error(transparent)]
    Password(#[from] PasswordTooShort),
    #[error(transparent)]
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

/// Creates an admin; the email is stored lower-case so logins ignore case.
pub fn create(
    conn: &mut DbConnection,
    email: &Email,
    name: &str,
    role: Role,
    password: &str,
) -> Result<Admin, AdminError> {
    check_new_password(password)?;
    let hash = hash_password(password)?;
    let now = now_utc();
    let normalized = email.normalized();
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
    match inserted {
        Ok(id) => Ok(admins::table
            .find(id)
            .select(Admin::as_select())
            .first(conn)?),
        Err(e) if is_unique_violation(&e) => Err(AdminError::EmailTaken(normalized)),
        Err(e) => Err(e.into()),
    }
}

/// Why an admin's own password change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("That is not your current password.")]
    WrongCurrentPassword,
    #[error(transparent)]
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
