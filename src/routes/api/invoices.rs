//! Paying an invoice with credits, once per invoice id, and refunding them
//! (`crate::ledger::invoices`).

use actix_web::web;

use crate::api::requests::{invoice_id, PaymentBody, RefundBody};
use crate::api::views::{ErrorJson, PaymentJson, RefundJson};
use crate::api::{self, write_once, ApiError, ApiJson, ApiReply, Caller, IdempotencyKey};
use crate::ledger::invoices::{self, Paid, PaymentRequest, RefundRequest};
use crate::startup::AppState;
use crate::store::credit_list::with_names;

/// Spend credits on an invoice: as many as the caps allow, or at most `apply_credits`.
#[utoipa::path(post, path = "/api/v1/users/{id}/promo-credit/payments", tag = "invoices",
    params(("id" = i64, Path, description = "The customer's id"), super::IdempotencyHeader),
    request_body = PaymentBody,
    responses(
        (status = 201, description = "Paid", body = PaymentJson),
        (status = 200, description = "This invoice was paid before with the same request: the first answer", body = PaymentJson),
        (status = 404, description = "`not_found`", body = ErrorJson),
        (status = 409, description = "`invoice_conflict` or `discount_code_conflict`", body = ErrorJson),
    ))]
pub async fn pay(
    state: web::Data<AppState>,
    caller: Caller,
    once: IdempotencyKey,
    path: web::Path<String>,
    body: ApiJson<PaymentBody>,
) -> Result<ApiReply, ApiError> {
    let user_id = api::customer_id(&path)?;
    let (invoice_id, question) = body.value.check()?;
    let request = PaymentRequest {
        user_id,
        currency: question.currency,
        invoice_id,
        ask: question.ask,
        request_hash: format!("{user_id}:{}", body.hash),
        actor: caller.actor(),
        audit: Some(caller.audit.clone()),
    };
    write_once(&state, &caller, once, body.hash, move |conn| {
        let paid = invoices::pay_invoice(conn, &request)?;
        let (Paid::New(payment) | Paid::Repeated(payment)) = &paid;
        let named = with_names(conn, payment.transaction.iter().cloned().collect())?;
        let json = PaymentJson::new(payment, named.first());
        match paid {
            Paid::New(_) => ApiReply::created(&json),
            Paid::Repeated(_) => ApiReply::ok(&json),
        }
    })
    .await
}

/// Give back credits an invoice spent: all not yet returned, or `credits` of them.
#[utoipa::path(post, path = "/api/v1/promo-credit/payments/{invoice_id}/refunds", tag = "invoices",
    params(("invoice_id" = String, Path, description = "The invoice paid with credits"), super::IdempotencyHeader),
    request_body = RefundBody,
    responses(
        (status = 201, description = "Refunded", body = RefundJson),
        (status = 404, description = "`not_found`: no credits were spent on this invoice", body = ErrorJson),
    ))]
pub async fn refund(
    state: web::Data<AppState>,
    caller: Caller,
    once: IdempotencyKey,
    path: web::Path<String>,
    body: ApiJson<RefundBody>,
) -> Result<ApiReply, ApiError> {
    let request = RefundRequest {
        invoice_id: invoice_id(&path)?,
        credits: body.value.check()?,
        actor: caller.actor(),
        audit: Some(caller.audit.clone()),
    };
    let by = caller.label();
    write_once(&state, &caller, once, body.hash, move |conn| {
        let refunded = invoices::refund_invoice(conn, &request)?;
        ApiReply::created(&RefundJson::new(&refunded, by))
    })
    .await
}
