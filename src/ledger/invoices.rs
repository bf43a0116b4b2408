//! Spending credits on an invoice, once per invoice id, and giving them back, in part or in
//! full, never more than were spent (docs/api.md, "Payments" and "Refunds"). Both go through
//! [`super::post`] like every other balance change.

use diesel::prelude::*;
use rust_decimal::Decimal;

use super::{grants, post, Actor, Entry, LedgerError, Posted, Target};
use crate::db::dialect::{claim_invoice, lock_payment};
use crate::db::models::{CreditAccount, CreditTransaction, InvoicePayment};
use crate::db::schema::{credit_transactions, invoice_payments, users};
use crate::db::{lock_account, now_utc, write_transaction, DbConnection};
use crate::domain::{
    apply_to_invoice, money_value, Application, CreditTerms, CurrencyCode, ExchangeRate,
    InvoiceAsk, Limit, Money, Note, Purpose, TransactionType,
};
use crate::store::activity::Audit;
use crate::store::configs;

/// A checkout's payment of an invoice with promo credits.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub user_id: i64,
    pub currency: CurrencyCode,
    pub invoice_id: String,
    pub ask: InvoiceAsk,
    /// Tells the same request sent again (answered as the first time) from another request
    /// for the same invoice (refused).
    pub request_hash: String,
    pub actor: Actor,
    pub audit: Option<Audit>,
}

/// A payment as it stands, with the ledger row that spent its credits (none when it spent
/// none).
#[derive(Debug, Clone)]
pub struct Payment {
    pub record: InvoicePayment,
    pub application: Application,
    pub transaction: Option<CreditTransaction>,
    /// The account after the payment, when it spent credits.
    pub account: Option<CreditAccount>,
}

/// A new payment, or the first one again for the same request.
#[derive(Debug, Clone)]
pub enum Paid {
    New(Payment),
    Repeated(Payment),
}

/// Pays `request.invoice_id` with as many credits as the caps allow, in one transaction that
/// claims the invoice id, locks the account and writes the ledger row.
pub fn pay_invoice(conn: &mut DbConnection, request: &PaymentRequest) -> Result<Paid, LedgerError> {
    write_transaction(conn, |conn| {
        let now = now_utc();
        customer_exists(conn, request.user_id)?;
        let claim = InvoicePayment {
            invoice_id: request.invoice_id.clone(),
            user_id: request.user_id,
            currency: request.currency.to_string(),
            request_hash: request.request_hash.clone(),
            invoice_amount: request.ask.invoice_amount.plain(),
            credits_applied: 0,
            discount_amount: "0".to_owned(),
            credits_refunded: 0,
            amount_refunded: "0".to_owned(),
            transaction_id: None,
            reasons: String::new(),
            api_key_id: request.actor.api_key_id(),
            created_at: now,
        };
        if !claim_invoice(conn, &claim)? {
            let existing =
                lock_payment(conn, &request.invoice_id)?.ok_or(LedgerError::InvoiceConflict)?;
            if existing.request_hash != request.request_hash {
                return Err(LedgerError::InvoiceConflict);
            }
            return Ok(Paid::Repeated(payment_of(conn, existing)?));
        }
        // Credits whose grant has ended are not spendable: expire them first (docs/concepts.md,
        // "Expiry"), should the scheduler not have run since midnight.
        super::expire_account(conn, request.user_id, &request.currency, now.date())?;
        let application = application_for(conn, request)?;
        for reason in &application.reasons {
            match reason {
                Limit::CurrencyDisabled => {
                    return Err(LedgerError::CurrencyDisabled(request.currency.to_string()))
                }
                Limit::UsageDisabled => return Err(LedgerError::UsageDisabled),
                Limit::DiscountCodeConflict => return Err(LedgerError::DiscountCodeConflict),
                _ => {}
            }
        }
        let posted = match application.credits_applied {
            0 => None,
            credits => Some(spend(conn, request, credits, &application.discount_amount)?),
        };
        let record = InvoicePayment {
            credits_applied: application.credits_applied,
            discount_amount: application.discount_amount.plain(),
            transaction_id: posted.as_ref().map(|p| p.transaction.id),
            reasons: reasons_text(&application.reasons),
            ..claim
        };
        diesel::update(invoice_payments::table.find(&record.invoice_id))
            .set((
                invoice_payments::credits_applied.eq(record.credits_applied),
                invoice_payments::discount_amount.eq(&record.discount_amount),
                invoice_payments::transaction_id.eq(record.transaction_id),
                invoice_payments::reasons.eq(&record.reasons),
            ))
            .execute(conn)?;
        Ok(Paid::New(Payment {
            record,
            application,
            transaction: posted.as_ref().map(|p| p.transaction.clone()),
            account: posted.map(|p| p.account),
        }))
    })
}

/// The application of the request to the account as it is now, inside the lock.
fn application_for(
    conn: &mut DbConnection,
    request: &PaymentRequest,
) -> Result<Application, LedgerError> {
    let account = lock_account(conn, request.user_id, request.currency.as_str())?;
    let terms = terms_of(conn, request.currency, account.as_ref())?;
    Ok(apply_to_invoice(&terms, &request.ask, Purpose::Payment))
}

/// What `user_id`'s credits in `currency` would do to an invoice now; writes nothing.
pub fn preview(
    conn: &mut DbConnection,
    user_id: i64,
    currency: CurrencyCode,
    ask: &InvoiceAsk,
) -> Result<Application, LedgerError> {
    customer_exists(conn, user_id)?;
    let account = crate::store::credits::account(conn, user_id, currency.as_str())?;
    let terms = terms_of(conn, currency, account.as_ref())?;
    Ok(apply_to_invoice(&terms, ask, Purpose::Preview))
}

fn customer_exists(conn: &mut DbConnection, user_id: i64) -> Result<(), LedgerError> {
    users::table
        .find(user_id)
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
        .map(|_| ())
        .ok_or(LedgerError::CustomerNotFound)
}

/// The account (none before its first change) and its currency's settings, as the rules
/// of credit application read them.
fn terms_of(
    conn: &mut DbConnection,
    currency: CurrencyCode,
    account: Option<&CreditAccount>,
) -> Result<CreditTerms, LedgerError> {
    let not_offered = || LedgerError::CurrencyNotOffered(currency.to_string());
    let config = configs::find(conn, currency.as_str())?.ok_or_else(not_offered)?;
    let rate = ExchangeRate::from_e4(config.exchange_rate_e4).map_err(|_| not_offered())?;
    Ok(CreditTerms {
        balance: account.map_or(0, |a| a.balance),
        rate,
        currency,
        currency_enabled: config.enabled,
        usage_enabled: account.is_none_or(|a| a.enabled),
        allow_with_discount_code: config.allow_with_discount_code,
        preview_default_used: config.preview_default_used,
    })
}

fn spend(
    conn: &mut DbConnection,
    request: &PaymentRequest,
    credits: i64,
    discount: &Money,
) -> Result<Posted, LedgerError> {
    let target = Target {
        user_id: request.user_id,
        currency: &request.currency,
        expected_version: None,
        audit: request.audit.as_ref(),
    };
    let note = Note::generated(&format!("Applied to invoice {}", request.invoice_id));
    post(conn, target, |_| {
        Ok(Entry {
            invoice_id: Some(request.invoice_id.clone()),
            currency_value: Some(discount.clone()),
            ..Entry::new(
                -credits,
                TransactionType::InvoiceApplied,
                note.clone(),
                request.actor,
            )
        })
    })
}

fn reasons_text(reasons: &[Limit]) -> String {
    let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
    names.join(",")
}

fn reasons_of(text: &str) -> Vec<Limit> {
    text.split(',').filter_map(Limit::parse).collect()
}

/// A stored payment with its ledger row, as the first answer gave it.
fn payment_of(conn: &mut DbConnection, record: InvoicePayment) -> Result<Payment, LedgerError> {
    let currency = CurrencyCode::parse(&record.currency)
        .map_err(|_| LedgerError::CurrencyNotOffered(record.currency.clone()))?;
    let money = |text: &str| Money::new(text.parse::<Decimal>().unwrap_or_default(), currency);
    let invoice = money(&record.invoice_amount);
    let discount = money(&record.discount_amount);
    let transaction = match record.transaction_id {
        Some(id) => Some(
            credit_transactions::table
                .find(id)
                .select(CreditTransaction::as_select())
                .first(conn)?,
        ),
        None => None,
    };
    Ok(Payment {
        application: Application {
            credits_applied: record.credits_applied,
            amount_after_credit: Money::new(invoice.amount - discount.amount, currency),
            discount_amount: discount,
            reasons: reasons_of(&record.reasons),
        },
        transaction,
        account: None,
        record,
    })
}

/// A refund of an invoice paid with credits.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub invoice_id: String,
    /// Credits to give back; by default all not yet returned.
    pub credits: Option<i64>,
    pub actor: Actor,
    pub audit: Option<Audit>,
}

/// A refund that was written: the ledger row, the account after it, and the payment.
#[derive(Debug, Clone)]
pub struct Refunded {
    pub posted: Posted,
    pub payment: InvoicePayment,
}

/// Gives credits of a paid invoice back, as one `invoice_refunded` row. Its money is the
/// share of the discount they bought; the last refund returns exactly what is left of it.
pub fn refund_invoice(
    conn: &mut DbConnection,
    request: &RefundRequest,
) -> Result<Refunded, LedgerError> {
    write_transaction(conn, |conn| {
        let payment =
            lock_payment(conn, &request.invoice_id)?.ok_or(LedgerError::InvoiceNotPaid)?;
        let refundable = payment.credits_applied - payment.credits_refunded;
        if refundable == 0 {
            return Err(LedgerError::NothingToRefund);
        }
        let credits = request.credits.unwrap_or(refundable);
        if credits < 1 || credits > refundable {
            return Err(LedgerError::RefundOutOfRange { refundable });
        }
        let currency = CurrencyCode::parse(&payment.currency)
            .map_err(|_| LedgerError::CurrencyNotOffered(payment.currency.clone()))?;
        let spent: CreditTransaction = credit_transactions::table
            .find(payment.transaction_id.ok_or(LedgerError::InvoiceNotPaid)?)
            .select(CreditTransaction::as_select())
            .first(conn)?;
        let decimal = |text: &str| text.parse::<Decimal>().unwrap_or_default();
        let left = decimal(&payment.discount_amount) - decimal(&payment.amount_refunded);
        let value = if credits == refundable {
            Money::new(left, currency)
        } else {
            let rate = ExchangeRate::from_e4(spent.exchange_rate_e4)
                .map_err(|_| LedgerError::CurrencyNotOffered(payment.currency.clone()))?;
            let share = money_value(credits, rate, &currency);
            Money::new(share.amount.min(left), currency)
        };
        let note = Note::generated(&format!("Refund of {}", request.invoice_id));
        let target = Target {
            user_id: payment.user_id,
            currency: &currency,
            expected_version: None,
            audit: request.audit.as_ref(),
        };
        // The payment is locked: what its rows owe each grant cannot change meanwhile.
        let (returns, _) = grants::give_back(
            &grants::owed_by_invoice(conn, &request.invoice_id)?,
            credits,
        );
        let posted = post(conn, target, |_| {
            Ok(Entry {
                invoice_id: Some(request.invoice_id.clone()),
                currency_value: Some(value.clone()),
                returns: returns.clone(),
                ..Entry::new(
                    credits,
                    TransactionType::InvoiceRefunded,
                    note.clone(),
                    request.actor,
                )
            })
        })?;
        let payment = InvoicePayment {
            credits_refunded: payment.credits_refunded + credits,
            amount_refunded: Money::new(decimal(&payment.amount_refunded) + value.amount, currency)
                .plain(),
            ..payment
        };
        diesel::update(invoice_payments::table.find(&payment.invoice_id))
            .set((
                invoice_payments::credits_refunded.eq(payment.credits_refunded),
                invoice_payments::amount_refunded.eq(&payment.amount_refunded),
            ))
            .execute(conn)?;
        Ok(Refunded { posted, payment })
    })
}

/// A payment as it stands now (for the API's answers).
pub fn find_payment(
    conn: &mut DbConnection,
    invoice_id: &str,
) -> QueryResult<Option<InvoicePayment>> {
    invoice_payments::table
        .find(invoice_id)
        .select(InvoicePayment::as_select())
        .first(conn)
        .optional()
}
