//! The customer list and a customer's billing profile.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentAdmin;
use crate::db::models::User;
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::customers;
use crate::views::{AccountInfoPage, CustomerView, CustomersPage, Layout};
use crate::web::{ok, query_escape, with_conn};

const PER_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.q.clone().unwrap_or_default().trim().to_owned();
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (rows, total) = {
        let q = q.clone();
        with_conn(&state.pool, move |conn| {
            Ok(customers::search(conn, &q, page, PER_PAGE)?)
        })
        .await?
    };
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let href = |p: i64| {
        if q.is_empty() {
            format!("/users?page={p}")
        } else {
            format!("/users?q={}&page={p}", query_escape(&q))
        }
    };
    let page_view = CustomersPage {
        layout: Layout::new(&admin, "customers"),
        total_text: match total {
            1 => "1 customer".to_owned(),
            n => format!("{} customers", crate::domain::format_credits(n)),
        },
        customers: rows.iter().map(CustomerView::from).collect(),
        prev_href: (page > 1).then(|| href(page - 1)),
        next_href: (page < pages).then(|| href(page + 1)),
        q,
        page,
        pages,
    };
    ok(&page_view)
}

/// The id in a `/users/{id}` path; 404 when it is not a number.
pub fn parse_user_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::not_found("This customer"))
}

/// The customer of a `/users/{id}` path; 404 for a malformed or unknown id.
pub async fn load_customer(state: &AppState, id: &str) -> Result<User, AppError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::not_found("This customer"))?;
    with_conn(&state.pool, move |conn| Ok(customers::find(conn, id)?))
        .await?
        .ok_or_else(|| AppError::not_found("This customer"))
}

pub async fn account_info(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let customer = load_customer(&state, &path).await?;
    ok(&AccountInfoPage {
        layout: Layout::new(&admin, "customers"),
        customer: CustomerView::from(&customer),
        tab: "info",
    })
}
