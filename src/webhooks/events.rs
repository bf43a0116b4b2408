//! The events Creditdesk sends and the body each carries (docs/webhooks.md, "Events"):
//! `{"id", "type", "created_at", "data"}`, built once when the event is written, so every
//! attempt sends the same bytes.

use serde::Serialize;
use time::PrimitiveDateTime;

use crate::api::views::{AccountJson, TransactionJson};
use crate::db::iso8601;
use crate::db::models::{CreditAccount, CreditTransaction, PromoCreditConfig};
use crate::ledger::Holder;
use crate::store::credit_list::NamedRow;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A ledger row was written.
    CreditChanged,
    /// A balance fell below its currency's low-balance threshold.
    BalanceLow,
    /// A balance came back to the threshold or above.
    BalanceRecovered,
    /// A grant's credits expire within the currency's notice.
    Expiring,
    /// The console's test button.
    Ping,
}

impl EventType {
    /// The types an endpoint can choose to receive (every endpoint receives its own pings).
    pub const CHOOSABLE: [EventType; 4] = [
        EventType::CreditChanged,
        EventType::BalanceLow,
        EventType::BalanceRecovered,
        EventType::Expiring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CreditChanged => "credit.changed",
            EventType::BalanceLow => "credit.balance_low",
            EventType::BalanceRecovered => "credit.balance_recovered",
            EventType::Expiring => "credit.expiring",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        [EventType::Ping]
            .into_iter()
            .chain(EventType::CHOOSABLE)
            .find(|kind| kind.as_str() == text)
    }

    /// What it means, for the endpoint form.
    pub fn describe(self) -> &'static str {
        match self {
            EventType::CreditChanged => "every change of a balance: each ledger row",
            EventType::BalanceLow => "a balance falls below its currency's low-balance threshold",
            EventType::BalanceRecovered => "a low balance is back at the threshold or above",
            EventType::Expiring => "a grant's credits expire soon (once per grant)",
            EventType::Ping => "the test button",
        }
    }
}

/// Whether an endpoint that chose `events` (space-separated, as stored) receives `kind`.
pub fn listens(events: &str, kind: EventType) -> bool {
    kind == EventType::Ping || events.split(' ').any(|e| e == kind.as_str())
}

/// An event ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_` and 32 hex digits: `webhook-id`, the same on every attempt.
    pub id: String,
    pub kind: EventType,
    /// The JSON body, exactly as sent.
    pub body: String,
    pub created_at: PrimitiveDateTime,
}

/// `evt_` and 32 hex digits: the time in milliseconds (12 digits), then 80 random bits. Ids
/// written later sort later (the outbox's index of them grows at one end), and two are
/// never alike.
fn new_id(at: PrimitiveDateTime) -> String {
    let millis = (at.assume_utc().unix_timestamp_nanos() / 1_000_000).clamp(0, 0xffff_ffff_ffff);
    let random = rand::random::<u128>() & ((1 << 80) - 1);
    format!("evt_{millis:012x}{random:020x}")
}

#[derive(Serialize)]
struct Body<'a, T: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: String,
    data: T,
}

impl Event {
    /// An event of `kind` about `data`, at `at`, with a new id.
    pub fn new(kind: EventType, data: impl Serialize, at: PrimitiveDateTime) -> Event {
        let id = new_id(at);
        let body = serde_json::to_string(&Body {
            id: &id,
            kind: kind.as_str(),
            created_at: iso8601(at),
            data,
        })
        // Serialising plain structs of strings and numbers cannot fail.
        .unwrap_or_default();
        Event {
            id,
            kind,
            body,
            created_at: at,
        }
    }
}

/// `credit.changed`: the ledger row, as the API and the CSV show it, and the account after it.
#[derive(Debug, Serialize)]
pub struct Changed {
    pub transaction: TransactionJson,
    pub account: AccountJson,
}

/// `credit.balance_low` and `credit.balance_recovered`.
#[derive(Debug, Serialize)]
pub struct Crossed<'a> {
    pub user_id: i64,
    pub user_email: &'a str,
    pub external_id: Option<&'a str>,
    pub currency: &'a str,
    pub balance: i64,
    pub low_balance_threshold: i64,
    /// The ledger row that crossed it.
    pub record_id: i64,
}

/// `credit.expiring`: a grant with credits left that expire at the end of `expires_at`.
#[derive(Debug, Serialize)]
pub struct Expiring<'a> {
    pub user_id: i64,
    pub user_email: &'a str,
    pub external_id: Option<&'a str>,
    pub currency: &'a str,
    /// The ledger row that granted them (none for credits held before expiry existed).
    pub record_id: Option<i64>,
    pub credits: i64,
    pub expires_at: String,
    pub days_left: i64,
}

/// `ping`.
#[derive(Debug, Serialize)]
pub struct Ping {
    pub endpoint_id: i64,
    pub message: &'static str,
}

/// Which way a row moved its balance across the low-balance threshold, if it did. The
/// first row of a new account starts from nothing, not from a low balance: it recovers
/// nothing (docs/webhooks.md, "Events").
pub fn crossing(
    threshold: Option<i64>,
    before: i64,
    after: i64,
    first_row: bool,
) -> Option<EventType> {
    let threshold = threshold?;
    match (before < threshold, after < threshold) {
        (false, true) => Some(EventType::BalanceLow),
        (true, false) if !first_row => Some(EventType::BalanceRecovered),
        _ => None,
    }
}

/// The events of ledger rows written in one transaction, in the order written: each row's
/// `credit.changed`, then its threshold crossing. `by` holds each row's author label (`by`);
/// `account` is the account after the last row, and the account after each earlier row is
/// worked back from it.
pub fn of_rows(
    rows: &[CreditTransaction],
    by: &[String],
    account: &CreditAccount,
    config: &PromoCreditConfig,
    holder: &Holder,
) -> Vec<Event> {
    let mut events = Vec::with_capacity(rows.len() * 2);
    let mut after = account.clone();
    let mut accounts: Vec<CreditAccount> = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        accounts.push(after.clone());
        after = before_row(&after, row);
    }
    accounts.reverse();
    for ((row, account), by) in rows.iter().zip(&accounts).zip(by) {
        let named = NamedRow {
            row: row.clone(),
            email: holder.email.clone(),
            external_id: holder.external_id.clone().unwrap_or_default(),
            by: by.clone(),
        };
        let changed = Changed {
            transaction: TransactionJson::new(&named),
            account: AccountJson::new(config, Some(account)),
        };
        events.push(Event::new(
            EventType::CreditChanged,
            changed,
            row.created_at,
        ));
        let first_row = account.version == 1;
        let threshold = config.low_balance_threshold;
        if let Some(kind) = crossing(threshold, row.balance_before, row.balance_after, first_row) {
            let crossed = Crossed {
                user_id: row.user_id,
                user_email: &holder.email,
                external_id: holder.external_id.as_deref(),
                currency: &row.currency,
                balance: row.balance_after,
                low_balance_threshold: threshold.unwrap_or_default(),
                record_id: row.id,
            };
            events.push(Event::new(kind, crossed, row.created_at));
        }
    }
    events
}

/// The account as it was before `row`, given the account after it.
fn before_row(after: &CreditAccount, row: &CreditTransaction) -> CreditAccount {
    let (added, deducted) = match row.delta > 0 {
        true => (row.delta, 0),
        false => (0, -row.delta),
    };
    CreditAccount {
        balance: row.balance_before,
        total_added: after.total_added - added,
        total_deducted: after.total_deducted - deducted,
        version: after.version - 1,
        ..after.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parses_every_type() {
        for kind in EventType::CHOOSABLE.into_iter().chain([EventType::Ping]) {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::parse("credit.Changed"), None);
        assert!(listens(
            "credit.changed credit.expiring",
            EventType::Expiring
        ));
        assert!(!listens("credit.changed", EventType::BalanceLow));
        assert!(listens("", EventType::Ping));
    }

    #[test]
    fn crosses_the_threshold_only_when_passing_it() {
        use EventType::{BalanceLow as Low, BalanceRecovered as Back};
        for (before, after, first, expected) in [
            (150, 99, false, Some(Low)),
            (100, 99, false, Some(Low)),
            (150, 100, false, None),
            (99, 50, false, None),
            (50, 100, false, Some(Back)),
            (50, 99, false, None),
            (0, 500, true, None),
            (0, 50, true, None),
            (0, 500, false, Some(Back)),
            (500, 0, false, Some(Low)),
        ] {
            assert_eq!(
                crossing(Some(100), before, after, first),
                expected,
                "{before} → {after}"
            );
        }
        assert_eq!(crossing(None, 150, 0, false), None);
    }

    #[test]
    fn each_row_carries_the_account_right_after_it() {
        let at = time::macros::datetime!(2026-11-28 09:30:00);
        let row = |id, kind: &str, before: i64, after: i64| CreditTransaction {
            id,
            account_id: 1,
            user_id: 7,
            currency: "EUR".into(),
            kind: kind.into(),
            reason: None,
            delta: after - before,
            balance_before: before,
            balance_after: after,
            exchange_rate_e4: 10_000,
            currency_value: "0.00".into(),
            note: "n".into(),
            actor_kind: "system".into(),
            actor_id: None,
            invoice_id: None,
            idempotency_key: None,
            created_at: at,
            expires_at: None,
        };
        // An ended grant expired first (150 → 100), then a reduction (100 → 40).
        let rows = [
            row(10, "expired", 150, 100),
            row(11, "admin_reduced", 100, 40),
        ];
        let after = CreditAccount {
            id: 1,
            user_id: 7,
            currency: "EUR".into(),
            balance: 40,
            enabled: true,
            total_added: 300,
            total_deducted: 260,
            version: 9,
            created_at: at,
            updated_at: at,
        };
        let config = PromoCreditConfig {
            currency: "EUR".into(),
            enabled: true,
            exchange_rate_e4: 10_000,
            allow_with_discount_code: false,
            auto_apply_next_invoice: false,
            preview_default_used: true,
            created_at: at,
            updated_at: at,
            low_balance_threshold: Some(120),
            expiring_notice_days: 7,
        };
        let holder = Holder {
            email: "ann@example.com".into(),
            external_id: None,
        };
        let by = ["system".to_owned(), "system".to_owned()];
        let events = of_rows(&rows, &by, &after, &config, &holder);
        let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventType::CreditChanged,
                EventType::BalanceLow,
                EventType::CreditChanged
            ]
        );
        let body = |i: usize| serde_json::from_str::<serde_json::Value>(&events[i].body).unwrap();
        let first = body(0);
        assert_eq!(first["data"]["transaction"]["record_id"], 10);
        assert_eq!(first["data"]["account"]["balance"], 100);
        assert_eq!(first["data"]["account"]["version"], 8);
        assert_eq!(first["data"]["account"]["total_deducted"], 200);
        assert_eq!(first["data"]["account"]["total_added"], 300);
        assert_eq!(body(1)["data"]["record_id"], 10, "the expiry crossed 120");
        assert_eq!(body(2)["data"]["account"]["balance"], 40);
        assert_eq!(body(2)["data"]["account"]["version"], 9);
    }

    #[test]
    fn a_body_carries_its_id_type_time_and_data() {
        let at = time::macros::datetime!(2026-11-28 09:30:00);
        let event = Event::new(
            EventType::Ping,
            Ping {
                endpoint_id: 7,
                message: "hello",
            },
            at,
        );
        assert!(event.id.starts_with("evt_") && event.id.len() == 36);
        let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["id"], event.id.as_str());
        assert_eq!(body["type"], "ping");
        assert_eq!(body["created_at"], "2026-11-28T09:30:00.000000Z");
        assert_eq!(body["data"]["endpoint_id"], 7);
        assert_ne!(Event::new(EventType::Ping, 1, at).id, event.id);
        let later = Event::new(EventType::Ping, 1, at + time::Duration::milliseconds(1));
        assert!(later.id > event.id, "ids sort by time");
        assert!(event.id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
