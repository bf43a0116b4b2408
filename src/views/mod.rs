//! Askama templates and the display-ready values they show. Views never touch diesel: the
//! handlers pass rows in and these types turn them into text.

pub mod credit_list;
pub mod credits;
pub mod reports;

use askama::Template;
use time::PrimitiveDateTime;

use crate::auth::CurrentAdmin;
use crate::db::models::User;
use crate::filters::customers::{CustomerSearch, RawCustomerSearch};
use crate::forms::FieldErrors;
use crate::web::href;

/// What the page frame needs: who is signed in, the CSRF token, the active section.
pub struct Layout {
    pub csrf_token: String,
    pub section: &'static str,
    pub admin: Option<NavAdmin>,
}

pub struct NavAdmin {
    pub name: String,
    pub role_label: &'static str,
}

impl Layout {
    pub fn new(admin: &CurrentAdmin, section: &'static str) -> Layout {
        Layout {
            csrf_token: admin.csrf_token.clone(),
            section,
            admin: Some(NavAdmin {
                name: admin.name.clone(),
                role_label: admin.role.label(),
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

/// A customer as pages show them.
pub struct CustomerView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    pub external_id: String,
    pub country: String,
    pub created: String,
}

impl From<&User> for CustomerView {
    fn from(user: &User) -> Self {
        let name = user.full_name();
        CustomerView {
            id: user.id,
            email: user.email.clone(),
            display_name: if name.is_empty() {
                user.email.clone()
            } else {
                name.clone()
            },
            name,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            external_id: user.external_id.clone().unwrap_or_default(),
            country: user.country.clone().unwrap_or_default(),
            created: short_time(user.created_at),
        }
    }
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
#[template(path = "users/list.html")]
pub struct CustomersPage {
    pub layout: Layout,
    pub q: String,
    pub customers: Vec<CustomerView>,
    pub total_text: String,
    pub page: i64,
    pub pages: i64,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub errors: FieldErrors,
}

impl CustomersPage {
    /// One page of a search that matched `total` customers.
    pub fn new(
        layout: Layout,
        search: &CustomerSearch,
        rows: &[User],
        total: i64,
        per_page: i64,
    ) -> CustomersPage {
        let q = search.q.clone().unwrap_or_default();
        let pages = ((total + per_page - 1) / per_page).max(1);
        let link = |page: i64| {
            let mut pairs = vec![("page", page.to_string())];
            if !q.is_empty() {
                pairs.insert(0, ("q", q.clone()));
            }
            href("/users", &pairs)
        };
        CustomersPage {
            layout,
            total_text: match total {
                1 => "1 customer".to_owned(),
                n => format!("{} customers", crate::domain::format_credits(n)),
            },
            customers: rows.iter().map(CustomerView::from).collect(),
            prev_href: (search.page > 1).then(|| link((search.page - 1).min(pages))),
            next_href: (search.page < pages).then(|| link(search.page + 1)),
            page: search.page,
            pages,
            q,
            errors: FieldErrors::default(),
        }
    }

    /// The list with a search that needs fixing: what was typed and why.
    pub fn refused(layout: Layout, raw: RawCustomerSearch, errors: FieldErrors) -> CustomersPage {
        CustomersPage {
            layout,
            q: raw.q.chars().take(254).collect(),
            customers: Vec::new(),
            total_text: "Fix the search to see customers.".to_owned(),
            page: 1,
            pages: 1,
            prev_href: None,
            next_href: None,
            errors,
        }
    }
}

#[derive(Template)]
#[template(path = "users/account_info.html")]
pub struct AccountInfoPage {
    pub layout: Layout,
    pub customer: CustomerView,
    pub tab: &'static str,
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
