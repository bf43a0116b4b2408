//! `/users`: the customer list and a customer's billing profile; `promo_credits` holds the
//! profile's Promo Credits tab.

pub mod import;
pub mod promo_credits;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::customers::RawCustomerSearch;
use crate::filters::from_query;
use crate::startup::AppState;
use crate::store::customers;
use crate::views::users::{AccountInfoPage, CustomerView, CustomersPage};
use crate::views::Layout;
use crate::web::{html, ok, with_conn};

const PER_PAGE: i64 = 50;

pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::View)?;
    let raw: RawCustomerSearch = from_query(request.query_string())?;
    let search = match raw.parse() {
        Ok(search) => search,
        Err(errors) => {
            let page = CustomersPage::refused(Layout::new(&admin, "customers"), raw, errors);
            return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let (q, page) = (search.q.clone(), search.page);
    let (rows, total) = with_conn(&state.pool, move |conn| {
        Ok(customers::search(conn, q.as_deref(), page, PER_PAGE)?)
    })
    .await?;
    ok(&CustomersPage::new(
        Layout::new(&admin, "customers"),
        &search,
        &rows,
        total,
        PER_PAGE,
    ))
}

/// The id in a `/users/{id}` path; 404 when it is not a customer id.
pub fn parse_user_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::not_found("This customer"))
}

pub async fn account_info(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::View)?;
    let id = parse_user_id(&path)?;
    let customer = with_conn(&state.pool, move |conn| Ok(customers::find(conn, id)?))
        .await?
        .ok_or_else(|| AppError::not_found("This customer"))?;
    ok(&AccountInfoPage {
        layout: Layout::new(&admin, "customers"),
        customer: CustomerView::from(&customer),
        tab: "info",
    })
}
