//! Rows as diesel reads and writes them: `X` is read, `NewX` inserted.

use diesel::prelude::*;
use time::{Date, PrimitiveDateTime};

use super::schema::*;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub external_id: Option<String>,
    pub email: String,
    pub email_lower: String,
    pub first_name: String,
    pub last_name: String,
    pub country: Option<String>,
    pub created_at: PrimitiveDateTime,
}

impl User {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub external_id: Option<&'a str>,
    pub email: &'a str,
    pub email_lower: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub country: Option<&'a str>,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promo_credit_configs)]
pub struct PromoCreditConfig {
    pub currency: String,
    pub enabled: bool,
    pub exchange_rate_e4: i64,
    pub allow_with_discount_code: bool,
    pub auto_apply_next_invoice: bool,
    pub preview_default_used: bool,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// Below this balance an account is low (`credit.balance_low`); none: no such events.
    pub low_balance_threshold: Option<i64>,
    /// Days before a grant ends that its `credit.expiring` event goes out.
    pub expiring_notice_days: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = credit_accounts)]
pub struct CreditAccount {
    pub id: i64,
    pub user_id: i64,
    pub currency: String,
    pub balance: i64,
    pub enabled: bool,
    pub total_added: i64,
    pub total_deducted: i64,
    pub version: i64,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = credit_accounts)]
pub struct NewCreditAccount<'a> {
    pub user_id: i64,
    pub currency: &'a str,
    pub balance: i64,
    pub enabled: bool,
    pub total_added: i64,
    pub total_deducted: i64,
    pub version: i64,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = credit_transactions)]
pub struct CreditTransaction {
    pub id: i64,
    pub account_id: i64,
    pub user_id: i64,
    pub currency: String,
    pub kind: String,
    pub reason: Option<String>,
    pub delta: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    pub exchange_rate_e4: i64,
    pub currency_value: String,
    pub note: String,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub invoice_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: PrimitiveDateTime,
    /// A grant's expiry: its credits expire at the end of this UTC day.
    pub expires_at: Option<Date>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = credit_transactions)]
pub struct NewCreditTransaction<'a> {
    pub account_id: i64,
    pub user_id: i64,
    pub currency: &'a str,
    pub kind: &'a str,
    pub reason: Option<&'a str>,
    pub delta: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    pub exchange_rate_e4: i64,
    pub currency_value: &'a str,
    pub note: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: Option<i64>,
    pub invoice_id: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub created_at: PrimitiveDateTime,
    pub expires_at: Option<Date>,
}

/// Credits an account was given by one row (or held before expiry existed: no row), what is
/// left of them, and when they expire (docs/concepts.md, "Expiry").
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = credit_grants)]
pub struct CreditGrant {
    pub id: i64,
    pub account_id: i64,
    pub transaction_id: Option<i64>,
    pub expires_at: Option<Date>,
    pub granted: i64,
    pub remaining: i64,
    pub closed: bool,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = credit_grants)]
pub struct NewCreditGrant {
    pub account_id: i64,
    pub transaction_id: Option<i64>,
    pub expires_at: Option<Date>,
    pub granted: i64,
    pub remaining: i64,
    pub closed: bool,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = admins)]
pub struct Admin {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = admins)]
pub struct NewAdmin<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub disabled: bool,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: i64,
    pub token_hash: String,
    pub admin_id: i64,
    pub csrf_token: String,
    pub created_at: PrimitiveDateTime,
    pub last_seen_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub admin_id: i64,
    pub csrf_token: &'a str,
    pub created_at: PrimitiveDateTime,
    pub last_seen_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = activity_log)]
pub struct Activity {
    pub id: i64,
    pub created_at: PrimitiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub ip: Option<String>,
    pub user_id: Option<i64>,
    pub record_id: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = activity_log)]
pub struct NewActivity<'a> {
    pub created_at: PrimitiveDateTime,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub details: &'a str,
    pub ip: Option<&'a str>,
    pub user_id: Option<i64>,
    pub record_id: Option<i64>,
}

/// One exchange rate a currency has had.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = promo_credit_rates)]
pub struct PromoCreditRate {
    pub id: i64,
    pub currency: String,
    pub exchange_rate_e4: i64,
    pub changed_at: PrimitiveDateTime,
    pub changed_by: String,
}

/// One payment of an invoice with promo credits.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_payments)]
pub struct InvoicePayment {
    pub invoice_id: String,
    pub user_id: i64,
    pub currency: String,
    pub request_hash: String,
    pub invoice_amount: String,
    pub credits_applied: i64,
    pub discount_amount: String,
    pub credits_refunded: i64,
    pub amount_refunded: String,
    pub transaction_id: Option<i64>,
    /// The `Limit`s of the application, comma-separated.
    pub reasons: String,
    pub api_key_id: Option<i64>,
    pub created_at: PrimitiveDateTime,
}

/// A checked customer file, without its content (`store::imports`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = customer_imports)]
pub struct CustomerImport {
    pub id: i64,
    pub file_name: String,
    pub sha256: String,
    pub byte_size: i64,
    pub row_count: i64,
    pub planned_create: i64,
    pub planned_update: i64,
    pub planned_unchanged: i64,
    pub planned_refused: i64,
    pub planned_openings: i64,
    pub checked_by: String,
    pub checked_at: PrimitiveDateTime,
    pub status: String,
    pub skipped_refused: bool,
    pub applied_by: Option<String>,
    pub applied_at: Option<PrimitiveDateTime>,
    pub outcome: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = customer_imports)]
pub struct NewCustomerImport<'a> {
    pub file_name: &'a str,
    pub content: &'a str,
    pub sha256: &'a str,
    pub byte_size: i64,
    pub row_count: i64,
    pub planned_create: i64,
    pub planned_update: i64,
    pub planned_unchanged: i64,
    pub planned_refused: i64,
    pub planned_openings: i64,
    pub checked_by: &'a str,
    pub checked_at: PrimitiveDateTime,
    pub status: &'a str,
}

/// One row of a checked file's plan, as the preview shows it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_import_rows)]
pub struct CustomerImportRow {
    pub import_id: i64,
    pub line: i64,
    pub outcome: String,
    pub user_id: Option<i64>,
    pub external_id: String,
    pub email: String,
    pub details: String,
}

/// The fields an import changes on a customer; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub external_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub email_lower: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub country: Option<&'a str>,
}

/// A place webhooks are sent to (docs/webhooks.md, "Endpoints").
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// The event types it receives, space-separated.
    pub events: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<PrimitiveDateTime>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<PrimitiveDateTime>,
    pub failing_since: Option<PrimitiveDateTime>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// An event as recorded in the outbox: its body is what every attempt sends.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_events)]
pub struct WebhookEvent {
    pub id: i64,
    pub event_id: String,
    pub kind: String,
    pub payload: String,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = webhook_events)]
pub struct NewWebhookEvent<'a> {
    pub event_id: &'a str,
    pub kind: &'a str,
    pub payload: &'a str,
    pub created_at: PrimitiveDateTime,
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: PrimitiveDateTime,
    pub last_attempt_at: Option<PrimitiveDateTime>,
    pub response_code: Option<i32>,
    pub response_excerpt: Option<String>,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewWebhookDelivery<'a> {
    pub endpoint_id: i64,
    pub event_id: i64,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: PrimitiveDateTime,
    pub created_at: PrimitiveDateTime,
}
