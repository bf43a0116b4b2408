//! The floors the bench compares the console with (bench/run.sh, bench/RESULTS.md): the
//! database work of a request alone, in one thread on one warm connection, without HTTP,
//! the hand-off to the blocking pool or rendering.
//!
//! - `tab`: the reads of the Promo Credits tab (the session, the customer with the currency
//!   settings and the account, 21 rows of history with their authors), against the
//!   yardstick's one read of a customer by primary key;
//! - `write`: one API adjustment through the ledger (`ledger::adjust`, with its activity
//!   row), one after the other: the most changes a second one writer can commit.
//!
//! `cargo run --release --example floor -- DATABASE_URL CUSTOMERS [SESSION_TOKEN]`

use std::time::Instant;

use creditdesk::db::{self, PoolOptions};
use creditdesk::domain::{Change, CurrencyCode, Note};
use creditdesk::ledger::{self, Actor, Adjustment, Source};
use creditdesk::store::activity::Audit;
use creditdesk::store::sessions::{self, SessionPolicy};
use creditdesk::store::{credits, customers};

/// Requests per pass; each figure is the best of three passes.
const PASSES: usize = 3;
const READS: u64 = 20_000;
const WRITES: u64 = 5_000;
/// As `bench/run.sh` writes: 64 customers spread over the seeded ones.
const WRITE_CUSTOMERS: u64 = 64;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "creditdesk.db".to_owned());
    let customers: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    let token = args.next();
    let pool = db::connect(&url, PoolOptions::new(2))?;
    let mut conn = pool.get()?;
    // A fixed sequence of customers (xorshift), the same for every pass.
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        1 + seed % below
    };
    let ids: Vec<i64> = (0..READS).map(|_| next(customers) as i64).collect();

    let yardstick = best(READS, || {
        for &id in &ids {
            customers::find(&mut conn, id)?;
        }
        Ok(())
    })?;
    let tab = best(READS, || {
        for &id in &ids {
            if let Some(token) = &token {
                sessions::find_live(&mut conn, token, SessionPolicy::default())?;
            }
            credits::account_context(&mut conn, id, Some("EUR"), true)?;
            credits::history_page(&mut conn, id, "EUR", None, 20)?;
        }
        Ok(())
    })?;
    println!("yardstick read: {yardstick:.1} µs");
    println!(
        "tab reads{}: {tab:.1} µs ({:.2}× the yardstick read)",
        if token.is_some() {
            " with the session"
        } else {
            ""
        },
        tab / yardstick
    );

    let step = (customers / WRITE_CUSTOMERS).max(1);
    let writers: Vec<i64> = (0..WRITES)
        .map(|_| (1 + step * (next(WRITE_CUSTOMERS) - 1)) as i64)
        .collect();
    let write = best(WRITES, || {
        for &id in &writers {
            ledger::adjust(&mut conn, adjustment(id))?;
        }
        Ok(())
    })?;
    println!(
        "ledger write: {write:.1} µs, {:.0} writes/s",
        1_000_000.0 / write
    );
    Ok(())
}

/// Microseconds per request, the best of [`PASSES`] passes of `count` requests.
fn best(count: u64, mut pass: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..PASSES {
        let started = Instant::now();
        pass()?;
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    Ok(best)
}

fn adjustment(user_id: i64) -> Adjustment {
    Adjustment {
        user_id,
        currency: CurrencyCode::parse("EUR").expect("a currency code"),
        change: Change::By(1),
        note: Note::parse("bench floor").expect("a note"),
        reason: None,
        expires_at: None,
        expected_version: None,
        actor: Actor::System,
        source: Source::Api,
        idempotency_key: None,
        audit: Some(Audit::new("bench floor", Some("127.0.0.1".to_owned()))),
    }
}
