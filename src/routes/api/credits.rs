//! `/api/v1/users/{id}/promo-credit…`: a customer's accounts and ledger, adjustments, and
//! what credits would do to an invoice, all through `crate::ledger`.

use actix_web::web;

use crate::api::requests::{AdjustmentBody, PreviewBody, TransactionQuery};
use crate::api::views::{
    AccountJson, AccountsJson, AdjustmentJson, ErrorJson, PreviewJson, TransactionJson,
    TransactionList,
};
use crate::api::{self, write_once, ApiError, ApiJson, ApiQuery, ApiReply, Caller, IdempotencyKey};
use crate::ledger::{self, invoices};
use crate::startup::AppState;
use crate::store::credit_list::with_names;
use crate::store::{configs, credits, customers};

/// The customer's account in every configured currency.
#[utoipa::path(get, path = "/api/v1/users/{id}/promo-credit", tag = "promo credit",
    params(("id" = i64, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The accounts", body = AccountsJson),
        (status = 404, description = "`not_found`", body = ErrorJson),
    ))]
pub async fn accounts(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<ApiReply, ApiError> {
    let user_id = api::customer_id(&path)?;
    let (configs, accounts) = api::with_conn(&state.pool, move |conn| {
        customers::find(conn, user_id)?.ok_or_else(|| ApiError::not_found("This customer"))?;
        Ok((configs::list(conn)?, credits::accounts_of(conn, user_id)?))
    })
    .await?;
    let accounts = configs
        .iter()
        .map(|config| {
            let account = accounts.iter().find(|a| a.currency == config.currency);
            AccountJson::new(config, account)
        })
        .collect();
    ApiReply::ok(&AccountsJson { user_id, accounts })
}

/// The customer's ledger rows, newest first.
#[utoipa::path(get, path = "/api/v1/users/{id}/promo-credit/transactions", tag = "promo credit",
    params(("id" = i64, Path, description = "The customer's id"), TransactionQuery),
    responses(
        (status = 200, description = "A page of ledger rows", body = TransactionList),
        (status = 404, description = "`not_found`", body = ErrorJson),
    ))]
pub async fn transactions(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: ApiQuery<TransactionQuery>,
) -> Result<ApiReply, ApiError> {
    let user_id = api::customer_id(&path)?;
    let (currency, page) = query.0.check()?;
    let mut rows = api::with_conn(&state.pool, move |conn| {
        customers::find(conn, user_id)?.ok_or_else(|| ApiError::not_found("This customer"))?;
        let code = currency.as_ref().map(|c| c.as_str());
        let rows = credits::customer_history(conn, user_id, code, page.cursor, page.limit + 1)?;
        Ok(with_names(conn, rows)?)
    })
    .await?;
    let next_cursor = page.next_cursor(&mut rows, |named| named.row.id);
    let data = rows.iter().map(TransactionJson::new).collect();
    ApiReply::ok(&TransactionList { data, next_cursor })
}

/// Add or remove credits, or set the balance, with a note.
#[utoipa::path(post, path = "/api/v1/users/{id}/promo-credit/adjustments", tag = "promo credit",
    params(("id" = i64, Path, description = "The customer's id"), super::IdempotencyHeader),
    request_body = AdjustmentBody,
    responses(
        (status = 201, description = "The ledger row and the account after it", body = AdjustmentJson),
        (status = 404, description = "`not_found`", body = ErrorJson),
        (status = 409, description = "`version_conflict`", body = ErrorJson),
    ))]
pub async fn adjust(
    state: web::Data<AppState>,
    caller: Caller,
    once: IdempotencyKey,
    path: web::Path<String>,
    body: ApiJson<AdjustmentBody>,
) -> Result<ApiReply, ApiError> {
    let user_id = api::customer_id(&path)?;
    let input = body.value.check()?;
    let adjustment = input.by_api_key(
        user_id,
        caller.key_id,
        once.key.clone(),
        caller.audit.clone(),
    );
    let by = caller.label();
    write_once(&state, &caller, once, body.hash, move |conn| {
        let posted = ledger::adjust(conn, adjustment)?;
        ApiReply::created(&AdjustmentJson::new(&posted, by))
    })
    .await
}

/// How many credits an invoice would take now, and why not more. Writes nothing.
#[utoipa::path(post, path = "/api/v1/users/{id}/promo-credit/preview", tag = "promo credit",
    params(("id" = i64, Path, description = "The customer's id")),
    request_body = PreviewBody,
    responses(
        (status = 200, description = "What the credits would do", body = PreviewJson),
        (status = 404, description = "`not_found`", body = ErrorJson),
    ))]
pub async fn preview(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<PreviewBody>,
) -> Result<ApiReply, ApiError> {
    let user_id = api::customer_id(&path)?;
    let question = body.value.check()?;
    let application = api::with_conn(&state.pool, move |conn| {
        Ok(invoices::preview(
            conn,
            user_id,
            question.currency,
            &question.ask,
        )?)
    })
    .await?;
    ApiReply::ok(&PreviewJson::new(&application))
}
