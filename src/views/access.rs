//! `/admins` and `/api-keys`: who may use the console and the API.

use askama::Template;

use super::{short_time, Layout};
use crate::db::models::Admin;
use crate::domain::Role;
use crate::forms::admins::NewAdminFields;
use crate::forms::FieldErrors;
use crate::store::api_keys::KeyRow;

/// A role in a select, with the current one chosen.
pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn role_choices(current: &str) -> Vec<RoleChoice> {
    Role::ALL
        .iter()
        .map(|role| RoleChoice {
            value: role.as_str(),
            label: role.label(),
            selected: role.as_str() == current,
        })
        .collect()
}

/// An admin as the list shows them.
pub struct AdminRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role_label: &'static str,
    pub roles: Vec<RoleChoice>,
    pub disabled: bool,
    pub added: String,
    pub is_you: bool,
}

/// A password shown once, for the admin it was made for.
pub struct OneTime {
    pub email: String,
    pub password: String,
}

#[derive(Template)]
#[template(path = "admins.html")]
pub struct AdminsPage {
    pub layout: Layout,
    pub rows: Vec<AdminRow>,
    pub form: NewAdminFields,
    pub roles: Vec<RoleChoice>,
    pub errors: FieldErrors,
    pub done: Option<String>,
    pub one_time: Option<OneTime>,
}

impl AdminsPage {
    pub fn new(layout: Layout, admins: &[Admin], you: i64) -> AdminsPage {
        AdminsPage {
            rows: admins
                .iter()
                .map(|admin| AdminRow {
                    id: admin.id,
                    email: admin.email.clone(),
                    name: admin.name.clone(),
                    role_label: Role::parse(&admin.role).map_or("Unknown", Role::label),
                    roles: role_choices(&admin.role),
                    disabled: admin.disabled,
                    added: short_time(admin.created_at),
                    is_you: admin.id == you,
                })
                .collect(),
            layout,
            form: NewAdminFields::default(),
            roles: role_choices("support"),
            errors: FieldErrors::default(),
            done: None,
            one_time: None,
        }
    }

    /// The add form again with what was typed and its messages.
    pub fn refilled(mut self, form: NewAdminFields, errors: FieldErrors) -> AdminsPage {
        self.roles = role_choices(form.role.trim());
        self.form = form;
        self.errors = errors;
        self
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
}

/// An API key as the list shows it.
pub struct KeyView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub last_used: String,
    pub by: String,
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
pub struct ApiKeysPage {
    pub layout: Layout,
    pub keys: Vec<KeyView>,
    pub name: String,
    pub errors: FieldErrors,
    pub done: Option<String>,
    /// A new key's name and secret, shown this once.
    pub secret: Option<(String, String)>,
}

impl ApiKeysPage {
    pub fn new(layout: Layout, keys: &[KeyRow]) -> ApiKeysPage {
        ApiKeysPage {
            layout,
            keys: keys
                .iter()
                .map(|key| KeyView {
                    id: key.id,
                    name: key.name.clone(),
                    prefix: key.prefix.clone(),
                    created: short_time(key.created_at),
                    last_used: key
                        .last_used_at
                        .map(short_time)
                        .unwrap_or_else(|| "never".to_owned()),
                    by: key
                        .created_by
                        .clone()
                        .unwrap_or_else(|| "command line".to_owned()),
                    revoked: key.revoked_at.map(short_time),
                })
                .collect(),
            name: String::new(),
            errors: FieldErrors::default(),
            done: None,
            secret: None,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
}
