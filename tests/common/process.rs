//! The real `creditdesk` binary as a child process, and a steady stream of API adjustments
//! from several client threads, each request traceable by its unique note: for the tests
//! that copy or kill a live server (tests/backup.rs, tests/crash.rs).

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use creditdesk::db::schema::{credit_accounts, credit_transactions, users};
use creditdesk::db::DbConnection;
use diesel::prelude::*;
use rand::Rng;

use super::served::Served;

/// How long anything a test waits for may take on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(180);

/// Runs `creditdesk ARGS` on the database `url`.
pub fn creditdesk(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditdesk"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("CREDITDESK_ADMIN_PASSWORD")
        .output()
        .expect("run creditdesk")
}

/// What a command printed, both streams, for assertion messages.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `creditdesk demo --customers n` and a new API key; returns the key's secret.
pub fn demo_with_key(url: &str, customers: u32) -> String {
    let demo = creditdesk(url, &["demo", "--customers", &customers.to_string()]);
    assert!(demo.status.success(), "demo: {}", printed(&demo));
    let key = creditdesk(url, &["api-key", "create", "--name", "load"]);
    assert!(key.status.success(), "api-key: {}", printed(&key));
    let secret = String::from_utf8_lossy(&key.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(secret.starts_with("cdk_"), "{}", printed(&key));
    secret
}

/// `creditdesk serve` on a free loopback port, without the API rate limit. Killed on drop.
pub fn serve(url: &str) -> Served {
    Served::start(
        url,
        &[("CREDITDESK_API_RATE_LIMIT", "0"), ("RUST_LOG", "warn")],
    )
}

/// How one request of the stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 201, with the ledger row's id and delta from the response.
    Written { record_id: i64, delta: i64 },
    /// Answered with another status: nothing may have been written.
    Refused(u16),
    /// No answer (the server died with the request in flight): written or not.
    Lost,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub note: String,
    pub user_id: i64,
    pub change: i64,
    pub answer: Answer,
    /// When the answer (or the failure) came.
    pub at: Instant,
}

/// Client threads sending adjustments, one at a time each, until stopped or until the
/// server stops answering.
pub struct Load {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// `clients` threads against `address`; notes are `{label} c{client} #{n}`.
    pub fn start(address: &str, key: &str, customers: &[i64], clients: usize, label: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|client| {
                let sender = Sender {
                    url: address.to_owned(),
                    key: key.to_owned(),
                    agent: agent(),
                };
                let (stop, written, outcomes) = (stop.clone(), written.clone(), outcomes.clone());
                let customers = customers.to_vec();
                let label = label.to_owned();
                std::thread::spawn(move || {
                    let mut rng = rand::thread_rng();
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let user_id = customers[rng.gen_range(0..customers.len())];
                        // Mostly grants, some deductions, and one in ten far more than any
                        // balance: refused, and must write nothing.
                        let change = match rng.gen_range(0..10) {
                            0..=5 => rng.gen_range(1..=50),
                            6..=8 => -rng.gen_range(1..=40),
                            _ => -1_000_000_000,
                        };
                        let note = format!("{label} c{client} #{n}");
                        let answer = sender.adjust(user_id, change, &note);
                        if matches!(answer, Answer::Written { .. }) {
                            written.fetch_add(1, Ordering::SeqCst);
                        }
                        let lost = answer == Answer::Lost;
                        outcomes.lock().unwrap().push(Outcome {
                            note,
                            user_id,
                            change,
                            answer,
                            at: Instant::now(),
                        });
                        if lost {
                            return;
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            written,
            outcomes,
            threads,
        }
    }

    /// Adjustments answered 201 so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` adjustments were answered 201.
    pub fn wait_for_written(&self, n: u64) {
        let started = Instant::now();
        while self.written() < n {
            assert!(
                started.elapsed() < DEADLINE,
                "only {} of {n} adjustments answered within {DEADLINE:?}; answers so far: {:?}",
                self.written(),
                self.outcomes
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the clients (each after its request in flight) and returns every outcome.
    pub fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            thread.join().expect("a client thread panicked");
        }
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

struct Sender {
    url: String,
    key: String,
    agent: ureq::Agent,
}

impl Sender {
    fn adjust(&self, user_id: i64, change: i64, note: &str) -> Answer {
        let body = serde_json::json!({"currency": "EUR", "change": change, "note": note});
        let sent = self
            .agent
            .post(format!(
                "{}/api/v1/users/{user_id}/promo-credit/adjustments",
                self.url
            ))
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Content-Type", "application/json")
            .send(body.to_string());
        let Ok(mut response) = sent else {
            return Answer::Lost;
        };
        let status = response.status().as_u16();
        let Ok(text) = response.body_mut().read_to_string() else {
            return Answer::Lost;
        };
        if status != 201 {
            assert!(
                status == 422 && text.contains("insufficient_credits"),
                "only a deduction below 0 may be refused: {status} {text}"
            );
            return Answer::Refused(status);
        }
        let json: serde_json::Value = serde_json::from_str(&text).expect("201 JSON");
        let transaction = &json["transaction"];
        assert_eq!(transaction["note"], note, "{text}");
        Answer::Written {
            record_id: transaction["record_id"].as_i64().expect("record_id"),
            delta: transaction["amount"].as_i64().expect("amount"),
        }
    }
}

/// One adjustment through the API, as a check that a server accepts writes.
pub fn adjust_once(address: &str, key: &str, user_id: i64, note: &str) -> Answer {
    Sender {
        url: address.to_owned(),
        key: key.to_owned(),
        agent: agent(),
    }
    .adjust(user_id, 5, note)
}

/// Every customer's id.
pub fn customer_ids(conn: &mut DbConnection) -> Vec<i64> {
    users::table
        .select(users::id)
        .order(users::id)
        .load(conn)
        .expect("customers")
}

/// A ledger row as the tests compare them.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Row {
    pub id: i64,
    pub account_id: i64,
    pub delta: i64,
    pub balance_after: i64,
    pub note: String,
}

/// Every ledger row, in id order.
pub fn ledger(conn: &mut DbConnection) -> Vec<Row> {
    credit_transactions::table
        .select((
            credit_transactions::id,
            credit_transactions::account_id,
            credit_transactions::delta,
            credit_transactions::balance_after,
            credit_transactions::note,
        ))
        .order(credit_transactions::id)
        .load(conn)
        .expect("ledger rows")
}

/// Accounts whose balance is not the sum of their rows: (account, balance, sum).
pub fn unbalanced_accounts(conn: &mut DbConnection) -> Vec<(i64, i64, i64)> {
    let mut sums: HashMap<i64, i64> = HashMap::new();
    for row in ledger(conn) {
        *sums.entry(row.account_id).or_default() += row.delta;
    }
    let accounts: Vec<(i64, i64)> = credit_accounts::table
        .select((credit_accounts::id, credit_accounts::balance))
        .load(conn)
        .expect("accounts");
    accounts
        .into_iter()
        .map(|(id, balance)| (id, balance, sums.get(&id).copied().unwrap_or(0)))
        .filter(|(_, balance, sum)| balance != sum)
        .collect()
}
