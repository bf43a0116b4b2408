//! `/users`: the customer list and the billing profile's Account info tab; `promo_credits`
//! holds the Promo Credits tab and the Update Promo Credit form.

pub mod promo_credits;

use askama::Template;

use super::{as_typed, short_time, Layout};
use crate::db::models::User;
use crate::filters::customers::{CustomerSearch, RawCustomerSearch};
use crate::forms::FieldErrors;
use crate::web::href;

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
            q: as_typed(&raw.q),
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
