//! The JSON the API answers with (docs/api.md, "Shapes"): credits are integers, money is a
//! decimal string with the currency's minor units, times are UTC ISO 8601 with
//! microseconds. A transaction has the promo credit list CSV's fields.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::models::{CreditAccount, PromoCreditConfig, User};
use crate::db::{iso8601, iso_date};
use crate::domain::{Application, Limit, Reason, TransactionType};
use crate::ledger::invoices::{Payment, Refunded};
use crate::ledger::Posted;
use crate::store::credit_list::NamedRow;
use crate::views::promo_credits::balances::plain_value;
use crate::views::promo_credits::rate_text;

/// An error: a stable `code` to branch on, a `message` to show a person, and the request
/// field it is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorJson {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(example = "insufficient_credits")]
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerJson {
    pub id: i64,
    pub external_id: Option<String>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub country: Option<String>,
    #[schema(example = "2026-11-27T10:15:00.000000Z")]
    pub created_at: String,
}

impl CustomerJson {
    pub fn new(user: &User) -> CustomerJson {
        CustomerJson {
            id: user.id,
            external_id: user.external_id.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            country: user.country.clone(),
            created_at: iso8601(user.created_at),
        }
    }
}

/// A page of customers; `next_cursor` fetches the next one (null on the last).
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    pub data: Vec<CustomerJson>,
    pub next_cursor: Option<String>,
}

/// A customer's promo credits in one currency (balance 0 and version 0 before the first
/// change).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountJson {
    #[schema(example = "EUR")]
    pub currency: String,
    pub balance: i64,
    /// The balance's money value at the currency's rate now.
    #[schema(example = "12.50")]
    pub currency_value: String,
    /// Whether the customer may spend credits in this currency.
    pub enabled: bool,
    pub total_added: i64,
    pub total_deducted: i64,
    pub version: i64,
}

impl AccountJson {
    /// The account in `config`'s currency; `account` is none before its first change.
    pub fn new(config: &PromoCreditConfig, account: Option<&CreditAccount>) -> AccountJson {
        let (balance, enabled, added, deducted, version) =
            account.map_or((0, true, 0, 0, 0), |a| {
                (
                    a.balance,
                    a.enabled,
                    a.total_added,
                    a.total_deducted,
                    a.version,
                )
            });
        AccountJson {
            currency: config.currency.clone(),
            balance,
            currency_value: plain_value(balance, Some(config.exchange_rate_e4), &config.currency),
            enabled,
            total_added: added,
            total_deducted: deducted,
            version,
        }
    }
}

/// Every configured currency's account of a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountsJson {
    pub user_id: i64,
    pub accounts: Vec<AccountJson>,
}

/// A ledger row, with the promo credit list CSV's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionJson {
    pub record_id: i64,
    pub user_id: i64,
    pub external_id: Option<String>,
    pub user_email: String,
    pub currency: String,
    /// As stored: the document lists the values.
    #[serde(rename = "type")]
    #[schema(value_type = TransactionType)]
    pub kind: String,
    #[schema(value_type = Option<Reason>)]
    pub reason: Option<String>,
    /// The signed change in credits.
    pub amount: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    /// The money the row moved.
    #[schema(example = "5.00")]
    pub currency_value: String,
    /// The money value of one credit when the row was written.
    #[schema(example = "1.00")]
    pub exchange_rate: String,
    /// The admin's email, the API key's name, or `system`.
    pub by: String,
    pub note: String,
    pub invoice_id: Option<String>,
    pub created_at: String,
    /// A grant's expiry: its credits expire at the end of this UTC day. Null on every other
    /// row, and on grants that never expire.
    #[schema(example = "2026-12-31", format = Date)]
    pub expires_at: Option<String>,
}

impl TransactionJson {
    pub fn new(named: &NamedRow) -> TransactionJson {
        let row = &named.row;
        TransactionJson {
            record_id: row.id,
            user_id: row.user_id,
            external_id: Some(named.external_id.clone()).filter(|e| !e.is_empty()),
            user_email: named.email.clone(),
            currency: row.currency.clone(),
            kind: row.kind.clone(),
            reason: row.reason.clone(),
            amount: row.delta,
            balance_before: row.balance_before,
            balance_after: row.balance_after,
            currency_value: row.currency_value.clone(),
            exchange_rate: rate_text(&row.currency, row.exchange_rate_e4),
            by: named.by.clone(),
            note: row.note.clone(),
            invoice_id: row.invoice_id.clone(),
            created_at: iso8601(row.created_at),
            expires_at: row.expires_at.map(iso_date),
        }
    }
}

/// A page of ledger rows, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionList {
    pub data: Vec<TransactionJson>,
    pub next_cursor: Option<String>,
}

/// An adjustment made: its ledger row and the account after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentJson {
    pub transaction: TransactionJson,
    pub account: AccountJson,
}

impl AdjustmentJson {
    /// `by`: the label of the change's author.
    pub fn new(posted: &Posted, by: String) -> AdjustmentJson {
        AdjustmentJson {
            transaction: TransactionJson::new(&posted.named(by)),
            account: AccountJson::new(&posted.config, Some(&posted.account)),
        }
    }
}

/// What credits do to an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewJson {
    pub credits_applied: i64,
    /// The money the credits take off, never more than the invoice.
    #[schema(example = "10.00")]
    pub discount_amount: String,
    #[schema(example = "39.90")]
    pub amount_after_credit: String,
    /// Why no more credits apply.
    pub reasons: Vec<Limit>,
}

impl PreviewJson {
    pub fn new(application: &Application) -> PreviewJson {
        PreviewJson {
            credits_applied: application.credits_applied,
            discount_amount: application.discount_amount.plain(),
            amount_after_credit: application.amount_after_credit.plain(),
            reasons: application.reasons.clone(),
        }
    }
}

/// A payment of an invoice with credits: the preview's fields, and the ledger row that
/// spent them (null when none were spent).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentJson {
    pub invoice_id: String,
    #[schema(example = "EUR")]
    pub currency: String,
    pub credits_applied: i64,
    #[schema(example = "10.00")]
    pub discount_amount: String,
    #[schema(example = "39.90")]
    pub amount_after_credit: String,
    pub reasons: Vec<Limit>,
    pub transaction: Option<TransactionJson>,
}

impl PaymentJson {
    pub fn new(payment: &Payment, transaction: Option<&NamedRow>) -> PaymentJson {
        let preview = PreviewJson::new(&payment.application);
        PaymentJson {
            invoice_id: payment.record.invoice_id.clone(),
            currency: payment.record.currency.clone(),
            credits_applied: preview.credits_applied,
            discount_amount: preview.discount_amount,
            amount_after_credit: preview.amount_after_credit,
            reasons: preview.reasons,
            transaction: transaction.map(TransactionJson::new),
        }
    }
}

/// A refund: its ledger row, the account after it, and what the invoice can still have
/// back.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundJson {
    pub invoice_id: String,
    /// Credits this refund returned.
    pub credits_refunded: i64,
    /// Credits the invoice spent and has not had back yet.
    pub credits_refundable: i64,
    pub transaction: TransactionJson,
    pub account: AccountJson,
}

impl RefundJson {
    /// `by`: the label of the refund's author.
    pub fn new(refunded: &Refunded, by: String) -> RefundJson {
        let payment = &refunded.payment;
        let AdjustmentJson {
            transaction,
            account,
        } = AdjustmentJson::new(&refunded.posted, by);
        RefundJson {
            invoice_id: payment.invoice_id.clone(),
            credits_refunded: refunded.posted.transaction.delta,
            credits_refundable: payment.credits_applied - payment.credits_refunded,
            transaction,
            account,
        }
    }
}
