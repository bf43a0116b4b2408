//! Adding an admin (`POST /admins`) and changing one (`POST /admins/{id}`).

use serde::Deserialize;

use super::{plain_text, FieldError, FieldErrors};
use crate::domain::{Email, Role};
use crate::store::admins::AdminChange;

/// Names are shown in the top bar and the activity log.
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewAdminFields {
    pub email: String,
    pub name: String,
    pub role: String,
}

/// A checked new admin.
#[derive(Debug, Clone)]
pub struct NewAdminInput {
    pub email: Email,
    pub name: String,
    pub role: Role,
}

fn role(raw: &str) -> Result<Role, FieldError> {
    Role::parse(raw.trim()).map_err(|_| {
        FieldError::new(
            "role",
            "Choose a role: owner, billing admin, support or operator.",
        )
    })
}

impl NewAdminFields {
    pub fn parse(&self) -> Result<NewAdminInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email =
            errors.check(Email::parse(&self.email).map_err(|e| FieldError::new("email", e)));
        let name = errors.check(plain_text("name", &self.name, MAX_NAME_CHARS));
        let role = errors.check(role(&self.role));
        errors.finish(|| {
            Some(NewAdminInput {
                email: email?,
                name: name?,
                role: role?,
            })
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AdminChangeFields {
    pub action: String,
    pub role: String,
}

impl AdminChangeFields {
    pub fn parse(&self) -> Result<AdminChange, FieldErrors> {
        match self.action.trim() {
            "set_role" => role(&self.role)
                .map(AdminChange::SetRole)
                .map_err(Into::into),
            "disable" => Ok(AdminChange::Disable),
            "enable" => Ok(AdminChange::Enable),
            "reset_password" => Ok(AdminChange::ResetPassword),
            _ => Err(FieldError::new(
                "action",
                "Say what to do: set_role, disable, enable or reset_password.",
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_a_new_admin() {
        let ok = NewAdminFields {
            email: "Sam@Example.com".into(),
            name: " Sam ".into(),
            role: "support".into(),
        }
        .parse()
        .unwrap();
        assert_eq!(
            (ok.email.normalized().as_str(), ok.name.as_str(), ok.role),
            ("sam@example.com", "Sam", Role::Support)
        );
        let bad = NewAdminFields {
            email: "sam".into(),
            name: "Sam\u{202E}".into(),
            role: "root".into(),
        }
        .parse()
        .unwrap_err();
        assert_eq!(
            bad.iter().map(|e| e.field).collect::<Vec<_>>(),
            vec!["email", "name", "role"]
        );
    }

    #[test]
    fn reads_the_change() {
        let change = |action: &str, role: &str| {
            AdminChangeFields {
                action: action.into(),
                role: role.into(),
            }
            .parse()
        };
        assert_eq!(
            change("set_role", "operator"),
            Ok(AdminChange::SetRole(Role::Operator))
        );
        assert_eq!(change("disable", ""), Ok(AdminChange::Disable));
        assert!(change("set_role", "king").is_err());
        assert!(change("delete", "").is_err());
    }
}
