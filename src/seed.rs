//! `creditdesk seed`: synthetic history for benchmarks and tests. Customers, accounts and
//! ledger rows with explicit times, written in large batches instead of one ledger
//! transaction per row. It upholds
//! every ledger invariant by construction (`creditdesk verify` checks it afterwards): the
//! whole history is simulated once to know each account's final state, then simulated again
//! with the same seed to stream the rows out, so memory does not grow with the row count.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, PrimitiveDateTime};

use crate::db::dialect::{per_backend, relax_durability_for_seeding};
use crate::db::models::{NewCreditAccount, NewCreditTransaction};
use crate::db::schema::{credit_accounts, credit_daily_totals, credit_transactions, users};
use crate::db::{now_utc, DbConnection};
use crate::domain::{holder_change, money_value, CurrencyCode, ExchangeRate, TransactionType};
use crate::store::configs;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub customers: u64,
    pub rows: u64,
    /// The rows are spread evenly over this many days, ending now.
    pub days: i64,
    pub seed: u64,
}

const FIRST: &[&str] = &[
    "anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "klara",
    "liam", "mia", "noah", "olivia", "paul", "zoë",
];
const LAST: &[&str] = &[
    "schmidt", "martin", "smith", "jansen", "garcia", "rossi", "dubois", "novak", "berg", "keller",
];
const NOTES: &[&str] = &[
    "Goodwill after a delayed delivery",
    "Promotion: autumn campaign",
    "Referral bonus, thanks for \"spreading the word\"",
    "Correction of a duplicate grant, see ticket #4512",
    "Compensation for the outage on 24 Nov\nsecond line",
    "Migrated from the old billing system, 100% of balance",
    "=HYPERLINK(\"http://example.com\") must stay text",
    "Kundenbindung: Treuepunkte für Ü-30 Abo",
    "-5 credits, agreed on the phone",
    "@support asked for this",
];
const REASONS: &[Option<&str>] = &[
    None,
    Some("goodwill"),
    Some("promotion"),
    Some("compensation"),
    Some("referral"),
    Some("correction"),
    Some("other"),
];

/// An account as the simulation tracks it.
#[derive(Clone, Default)]
struct State {
    user_id: i64,
    currency: usize,
    balance: i64,
    total_added: i64,
    total_deducted: i64,
    version: i64,
    created_at: Option<PrimitiveDateTime>,
    updated_at: Option<PrimitiveDateTime>,
}

/// One generated ledger row (borrowed strings are constants).
struct Row {
    account: usize,
    kind: TransactionType,
    reason: Option<&'static str>,
    delta: i64,
    before: i64,
    after: i64,
    note: String,
    invoice_id: Option<String>,
    at: PrimitiveDateTime,
}

const CURRENCIES: [&str; 2] = ["EUR", "USD"];

/// Day, currency index, type and reason of a per-day total.
type DayKey = (Date, usize, TransactionType, &'static str);

/// The simulation: deterministic for a plan, so it can run twice.
struct Simulation {
    rng: StdRng,
    accounts: Vec<State>,
    start: PrimitiveDateTime,
    step: Duration,
    produced: u64,
    plan: Plan,
}

impl Simulation {
    fn new(plan: &Plan, now: PrimitiveDateTime) -> Simulation {
        let mut rng = StdRng::seed_from_u64(plan.seed);
        let mut accounts = Vec::new();
        for user in 1..=plan.customers as i64 {
            accounts.push(State {
                user_id: user,
                currency: 0,
                ..State::default()
            });
            if rng.gen_ratio(1, 3) {
                accounts.push(State {
                    user_id: user,
                    currency: 1,
                    ..State::default()
                });
            }
        }
        let span = Duration::days(plan.days.max(1));
        let step = span / (plan.rows.max(1) as f64);
        Simulation {
            rng,
            accounts,
            start: now - span,
            step,
            produced: 0,
            plan: plan.clone(),
        }
    }

    /// The next row, or none when the plan is complete.
    fn next_row(&mut self) -> Option<Row> {
        if self.produced >= self.plan.rows || self.accounts.is_empty() {
            return None;
        }
        let index = self.produced;
        let at = self.start + self.step * (index as f64);
        self.produced += 1;
        // Every account opens with an import; after that, random accounts move.
        let account = if (index as usize) < self.accounts.len() {
            index as usize
        } else {
            self.rng.gen_range(0..self.accounts.len())
        };
        let state = &self.accounts[account];
        let balance = state.balance;
        let (kind, delta, invoice_id) = if state.version == 0 {
            (
                TransactionType::Imported,
                self.rng.gen_range(1..=100) * 10,
                None,
            )
        } else {
            match self.rng.gen_range(0..10) {
                0..=2 if balance > 0 => {
                    let spend = self.rng.gen_range(1..=balance.min(500));
                    (
                        TransactionType::InvoiceApplied,
                        -spend,
                        Some(format!("INV-{}", index + 1)),
                    )
                }
                3 => (
                    TransactionType::InvoiceRefunded,
                    self.rng.gen_range(1..=50),
                    Some(format!("INV-{}", self.rng.gen_range(1..=index + 1))),
                ),
                4 if balance > 0 => (
                    TransactionType::AdminReduced,
                    -self.rng.gen_range(1..=balance.min(100)),
                    None,
                ),
                5 if balance > 0 => (
                    TransactionType::ApiReduced,
                    -self.rng.gen_range(1..=balance.min(100)),
                    None,
                ),
                6 | 7 => (
                    TransactionType::ApiAdded,
                    self.rng.gen_range(1..=40) * 5,
                    None,
                ),
                _ => (
                    TransactionType::AdminAdded,
                    self.rng.gen_range(1..=50) * 10,
                    None,
                ),
            }
        };
        let reason = match kind {
            TransactionType::AdminAdded
            | TransactionType::AdminReduced
            | TransactionType::ApiAdded
            | TransactionType::ApiReduced => REASONS[self.rng.gen_range(0..REASONS.len())],
            _ => None,
        };
        let note = match (&kind, &invoice_id) {
            (TransactionType::Imported, _) => "Opening balance from customers.csv".to_owned(),
            (TransactionType::InvoiceApplied, Some(invoice)) => {
                format!("Applied to invoice {invoice}")
            }
            (TransactionType::InvoiceRefunded, Some(invoice)) => format!("Refund of {invoice}"),
            _ => NOTES[self.rng.gen_range(0..NOTES.len())].to_owned(),
        };
        let state = &mut self.accounts[account];
        let after = balance + delta;
        state.balance = after;
        state.version += 1;
        if delta > 0 {
            state.total_added += delta;
        } else {
            state.total_deducted -= delta;
        }
        state.created_at.get_or_insert(at);
        state.updated_at = Some(at);
        Some(Row {
            account,
            kind,
            reason,
            delta,
            before: balance,
            after,
            note,
            invoice_id,
            at,
        })
    }
}

/// Rows per INSERT statement (PostgreSQL allows 65,535 bound values; a row has 16).
const BATCH: usize = 2000;

/// Fills an empty database following `plan`; reports progress in rows written.
pub fn seed(
    conn: &mut DbConnection,
    plan: &Plan,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<()> {
    let existing: i64 = users::table.count().get_result(conn)?;
    let ledger: i64 = credit_transactions::table.count().get_result(conn)?;
    if existing > 0 || ledger > 0 {
        bail!("bulk seeding needs a database without customers or ledger rows");
    }
    for code in CURRENCIES {
        configs::ensure_demo_currency(conn, &CurrencyCode::parse(code)?)?;
    }
    let rates: Vec<ExchangeRate> = CURRENCIES
        .iter()
        .map(|code| -> anyhow::Result<ExchangeRate> {
            let config = configs::find(conn, code)?.context("config")?;
            Ok(ExchangeRate::from_e4(config.exchange_rate_e4)?)
        })
        .collect::<anyhow::Result<_>>()?;
    let codes: Vec<CurrencyCode> = CURRENCIES
        .iter()
        .map(|c| CurrencyCode::parse(c))
        .collect::<Result<_, _>>()?;
    let now = now_utc();
    relax_durability_for_seeding(conn)?;

    // Pass 1: the final state of every account, and the per-day totals.
    let mut first = Simulation::new(plan, now);
    let mut daily: BTreeMap<DayKey, (i64, i64, i64, i64)> = BTreeMap::new();
    while let Some(row) = first.next_row() {
        let currency = first.accounts[row.account].currency;
        let entry = daily
            .entry((row.at.date(), currency, row.kind, row.reason.unwrap_or("")))
            .or_default();
        entry.0 += 1;
        if row.delta > 0 {
            entry.1 += row.delta;
        } else {
            entry.2 -= row.delta;
        }
        entry.3 += holder_change(row.before, row.after);
    }

    conn.transaction(|conn| -> anyhow::Result<()> {
        insert_customers(conn, plan.customers, now)?;
        for chunk in first.accounts.chunks(BATCH) {
            let accounts: Vec<NewCreditAccount> = chunk
                .iter()
                .map(|s| NewCreditAccount {
                    user_id: s.user_id,
                    currency: CURRENCIES[s.currency],
                    balance: s.balance,
                    enabled: true,
                    total_added: s.total_added,
                    total_deducted: s.total_deducted,
                    version: s.version,
                    created_at: s.created_at.unwrap_or(now),
                    updated_at: s.updated_at.unwrap_or(now),
                })
                .collect();
            per_backend!(conn, |c| diesel::insert_into(credit_accounts::table)
                .values(&accounts)
                .execute(c))?;
        }
        let last_account: i64 = credit_accounts::table
            .select(diesel::dsl::max(credit_accounts::id))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0);
        if last_account != first.accounts.len() as i64 {
            bail!("accounts did not get the ids 1..{}", first.accounts.len());
        }
        let totals: Vec<_> = daily
            .into_iter()
            .map(
                |((day, currency, kind, reason), (rows, added, deducted, holders))| {
                    (
                        credit_daily_totals::day.eq(day),
                        credit_daily_totals::currency.eq(CURRENCIES[currency]),
                        credit_daily_totals::kind.eq(kind.as_str()),
                        credit_daily_totals::reason.eq(reason),
                        credit_daily_totals::row_count.eq(rows),
                        credit_daily_totals::added.eq(added),
                        credit_daily_totals::deducted.eq(deducted),
                        credit_daily_totals::holders_delta.eq(holders),
                    )
                },
            )
            .collect();
        for chunk in totals.chunks(BATCH) {
            per_backend!(conn, |c| diesel::insert_into(credit_daily_totals::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    })?;

    // Pass 2: the same history again, streamed into the ledger.
    let mut second = Simulation::new(plan, now);
    let mut written = 0u64;
    let mut done = false;
    while !done {
        conn.transaction(|conn| -> anyhow::Result<()> {
            let mut in_commit = 0u64;
            while in_commit < ROWS_PER_COMMIT {
                let mut batch: Vec<(Row, i64, String)> = Vec::with_capacity(BATCH);
                while batch.len() < BATCH {
                    let Some(row) = second.next_row() else {
                        done = true;
                        break;
                    };
                    let state = &second.accounts[row.account];
                    let value = money_value(
                        row.delta.abs(),
                        rates[state.currency],
                        &codes[state.currency],
                    )
                    .plain();
                    batch.push((row, state.user_id, value));
                }
                if batch.is_empty() {
                    break;
                }
                let rows: Vec<NewCreditTransaction> = batch
                    .iter()
                    .map(|(row, user_id, value)| {
                        let currency = second.accounts[row.account].currency;
                        NewCreditTransaction {
                            account_id: row.account as i64 + 1,
                            user_id: *user_id,
                            currency: CURRENCIES[currency],
                            kind: row.kind.as_str(),
                            reason: row.reason,
                            delta: row.delta,
                            balance_before: row.before,
                            balance_after: row.after,
                            exchange_rate_e4: rates[currency].e4(),
                            currency_value: value,
                            note: &row.note,
                            actor_kind: "system",
                            actor_id: None,
                            invoice_id: row.invoice_id.as_deref(),
                            idempotency_key: None,
                            created_at: row.at,
                            expires_at: None,
                        }
                    })
                    .collect();
                per_backend!(conn, |c| diesel::insert_into(credit_transactions::table)
                    .values(&rows)
                    .execute(c))?;
                in_commit += batch.len() as u64;
                written += batch.len() as u64;
                if done {
                    break;
                }
            }
            Ok(())
        })?;
        progress(written);
    }
    crate::ledger::grants::adopt_balances(conn)?;
    Ok(())
}

/// Rows committed together while seeding.
const ROWS_PER_COMMIT: u64 = 200_000;

fn insert_customers(
    conn: &mut DbConnection,
    customers: u64,
    now: PrimitiveDateTime,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(0xc057);
    let mut start = 1u64;
    while start <= customers {
        let end = (start + BATCH as u64 - 1).min(customers);
        let people: Vec<(String, String, String, String, String)> = (start..=end)
            .map(|n| {
                let first = FIRST[rng.gen_range(0..FIRST.len())];
                let last = LAST[rng.gen_range(0..LAST.len())];
                let email = format!("{first}.{last}{n}@example.com");
                (
                    format!("cus_{n:07}"),
                    email.clone(),
                    email.to_lowercase(),
                    capitalize(first),
                    capitalize(last),
                )
            })
            .collect();
        let rows: Vec<_> = people
            .iter()
            .map(|(external, email, lower, first, last)| {
                (
                    users::external_id.eq(Some(external.as_str())),
                    users::email.eq(email.as_str()),
                    users::email_lower.eq(lower.as_str()),
                    users::first_name.eq(first.as_str()),
                    users::last_name.eq(last.as_str()),
                    users::country.eq(Some("DE")),
                    users::created_at.eq(now),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(users::table)
            .values(&rows)
            .execute(c))?;
        start = end + 1;
    }
    Ok(())
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
