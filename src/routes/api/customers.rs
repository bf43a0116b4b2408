//! `/api/v1/users`: create and find customers.

use actix_web::web;

use crate::api::requests::{CustomerQuery, NewCustomerBody};
use crate::api::views::{CustomerJson, CustomerList, ErrorJson};
use crate::api::{self, write_once, ApiError, ApiJson, ApiQuery, ApiReply, Caller, IdempotencyKey};
use crate::startup::AppState;
use crate::store::customers;

/// Create a customer.
#[utoipa::path(post, path = "/api/v1/users", tag = "customers",
    params(super::IdempotencyHeader),
    request_body = NewCustomerBody,
    responses(
        (status = 201, description = "Created", body = CustomerJson),
        (status = 409, description = "`already_exists`: the email or external id is taken", body = ErrorJson),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    once: IdempotencyKey,
    body: ApiJson<NewCustomerBody>,
) -> Result<ApiReply, ApiError> {
    let customer = body.value.check()?;
    let audit = caller.audit.clone();
    write_once(&state, &caller, once, body.hash, move |conn| {
        let user = customers::create(conn, &customer, Some(&audit))?;
        ApiReply::created(&CustomerJson::new(&user))
    })
    .await
}

/// Find customers by email or external id; without either, every customer in id order.
#[utoipa::path(get, path = "/api/v1/users", tag = "customers",
    params(CustomerQuery),
    responses((status = 200, description = "A page of customers", body = CustomerList)))]
pub async fn find(
    state: web::Data<AppState>,
    query: ApiQuery<CustomerQuery>,
) -> Result<ApiReply, ApiError> {
    let search = query.0.check()?;
    let page = search.page;
    let mut found = api::with_conn(&state.pool, move |conn| {
        let (email, external) = (search.email.as_deref(), search.external_id.as_deref());
        Ok(customers::matching(
            conn,
            email,
            external,
            page.cursor,
            page.limit + 1,
        )?)
    })
    .await?;
    let next_cursor = page.next_cursor(&mut found, |user| user.id);
    let data = found.iter().map(CustomerJson::new).collect();
    ApiReply::ok(&CustomerList { data, next_cursor })
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "customers",
    params(("id" = i64, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = CustomerJson),
        (status = 404, description = "`not_found`", body = ErrorJson),
    ))]
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<ApiReply, ApiError> {
    let user_id = api::customer_id(&path)?;
    let user = api::with_conn(&state.pool, move |conn| Ok(customers::find(conn, user_id)?))
        .await?
        .ok_or_else(|| ApiError::not_found("This customer"))?;
    ApiReply::ok(&CustomerJson::new(&user))
}
