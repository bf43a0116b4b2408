//! Askama templates and the display-ready values they show. Views never touch diesel: the
//! handlers pass rows in and these types turn them into text.

pub mod access;
pub mod activity;
pub mod dashboard;
pub mod import;
pub mod promo_credits;
pub mod settings;
pub mod users;
pub mod webhooks;

use askama::Template;
use time::PrimitiveDateTime;

use crate::auth::CurrentAdmin;
use crate::forms::FieldErrors;

/// What the page frame needs: who is signed in, the CSRF token, the active section.
pub struct Layout {
    pub csrf_token: String,
    pub section: &'static str,
    pub admin: Option<NavAdmin>,
}

pub struct NavAdmin {
    pub name: String,
    pub role_label: &'static str,
    /// The role may read the activity log.
    pub sees_activity: bool,
    /// The role manages admins, API keys and webhooks.
    pub manages_access: bool,
    /// The role sees webhook endpoints and their deliveries.
    pub sees_webhooks: bool,
}

impl Layout {
    pub fn new(admin: &CurrentAdmin, section: &'static str) -> Layout {
        Layout {
            csrf_token: admin.csrf_token.clone(),
            section,
            admin: Some(NavAdmin {
                name: admin.name.clone(),
                role_label: admin.role.label(),
                sees_activity: crate::domain::Permission::ViewActivity.allows(admin.role),
                manages_access: crate::domain::Permission::ManageAccess.allows(admin.role),
                sees_webhooks: crate::domain::Permission::ViewWebhookDeliveries.allows(admin.role),
            }),
        }
    }

    pub fn signed_out(csrf_token: String) -> Layout {
        Layout {
            csrf_token,
            section: "",
            admin: None,
        }
    }
}

/// `2026-11-26 09:30:12`, UTC, for tables (the column header says UTC).
pub fn short_time(at: PrimitiveDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.format(&format).unwrap_or_default()
}

/// What someone typed into a search or filter field, fit to fill the field in again: no
/// control characters (a NUL has no place in a page), at most 254 characters.
pub fn as_typed(text: &str) -> String {
    crate::domain::without_controls(text, 254)
}

/// The words for a stored transaction type (`admin_added` → `Added by admin`).
pub fn type_label(kind: &str) -> &'static str {
    crate::domain::TransactionType::parse(kind)
        .map(crate::domain::TransactionType::label)
        .unwrap_or("Other")
}

/// The words for a stored reason, or nothing.
pub fn reason_label(reason: Option<&str>) -> &'static str {
    reason
        .and_then(|r| crate::domain::Reason::parse(r).ok())
        .map(crate::domain::Reason::label)
        .unwrap_or("")
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "account_password.html")]
pub struct PasswordPage {
    pub layout: Layout,
    pub email: String,
    pub done: Option<String>,
    pub errors: FieldErrors,
}

impl PasswordPage {
    pub fn new(admin: &CurrentAdmin) -> PasswordPage {
        PasswordPage {
            layout: Layout::new(admin, "account"),
            email: admin.email.clone(),
            done: None,
            errors: FieldErrors::default(),
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }
}
