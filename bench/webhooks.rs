//! Webhook throughput (bench/RESULTS.md): how many events a second the server's dispatcher
//! delivers to a receiver on this machine, and what the outbox costs a ledger write.
//!
//! 1. On a fresh database: ledger writes through `ledger::adjust` from 8 threads, first with
//!    no endpoint (nothing is written to the outbox), then with `ENDPOINTS` endpoints
//!    listening for `credit.changed` (one event and `ENDPOINTS` deliveries per row, in the
//!    row's transaction). No dispatcher runs meanwhile.
//! 2. The backlog: the server starts (its dispatcher with it) and sends every delivery to a
//!    local receiver (actix-web, keep-alive, answering 200 at once) on 127.0.0.1; the figure
//!    is deliveries a second until the queue is empty.
//! 3. Live: writes and deliveries at once for `EVENTS` more rows; the figure is the time from
//!    the first write until the last delivery, and the rate of both.
//!
//! `cargo run --release --example webhooks -- [DATABASE_URL] [EVENTS] [ENDPOINTS]`
//! (default: a new SQLite file under target/, 20,000 rows, 1 endpoint). A PostgreSQL URL
//! must name an empty database.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use creditdesk::config::Settings;
use creditdesk::db::{self, DbConnection, Pool, PoolOptions};
use creditdesk::domain::{Change, CurrencyCode, Email, Note};
use creditdesk::ledger::{self, Actor, Adjustment, Source};
use creditdesk::startup::Application;
use creditdesk::store::activity::Audit;
use creditdesk::store::customers::{self, NewCustomer};
use creditdesk::store::{configs, webhooks as endpoints};
use creditdesk::webhooks::dispatch;
use creditdesk::webhooks::events::EventType;

const WRITERS: usize = 8;
const CUSTOMERS: i64 = 256;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| format!("target/bench-webhooks-{:08x}.db", rand_suffix()));
    let events: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let endpoint_count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1);
    let pool = db::connect(&url, PoolOptions::new(16))?;
    let mut conn = pool.get()?;
    db::run_migrations(&mut conn)?;
    let eur = CurrencyCode::parse("EUR")?;
    configs::ensure_demo_currency(&mut conn, &eur)?;
    let first = seed_customers(&mut conn)?;
    drop(conn);

    let plain = write_rows(&pool, first, events)?;
    println!("ledger writes, no endpoint: {plain:.0} rows/s ({WRITERS} threads, {events} rows)");

    let received = Arc::new(AtomicU64::new(0));
    let receiver = start_receiver(received.clone())?;
    {
        let mut conn = pool.get()?;
        for n in 0..endpoint_count {
            endpoints::create(
                &mut conn,
                &endpoints::NewEndpoint {
                    url: format!("{receiver}/hook/{n}"),
                    description: "bench receiver".into(),
                    events: vec![EventType::CreditChanged],
                },
                &Audit::system(),
            )?;
        }
    }
    let with_outbox = write_rows(&pool, first, events)?;
    println!(
        "ledger writes, {endpoint_count} endpoint(s) listening: {with_outbox:.0} rows/s ({:.2}× without)",
        with_outbox / plain
    );
    let backlog = events * endpoint_count as u64;

    let mut settings = Settings::new(url.clone());
    settings.webhooks.allow_insecure = true;
    let started = Instant::now();
    let _server = start_server(pool.clone(), settings)?;
    wait_until_sent(&pool, &received, backlog)?;
    let drained = started.elapsed().as_secs_f64();
    println!(
        "backlog of {backlog} deliveries to {endpoint_count} endpoint(s): {:.2} s, {:.0} deliveries/s",
        drained,
        backlog as f64 / drained
    );

    let started = Instant::now();
    let live_writes = write_rows(&pool, first, events)?;
    wait_until_sent(&pool, &received, 2 * backlog)?;
    let live = started.elapsed().as_secs_f64();
    println!(
        "live: {events} rows written at {live_writes:.0} rows/s while sending; the last of {backlog} deliveries {:.2} s after the first write ({:.0} deliveries/s)",
        live,
        backlog as f64 / live
    );
    Ok(())
}

fn rand_suffix() -> u32 {
    std::process::id() ^ (Instant::now().elapsed().subsec_nanos())
}

/// `CUSTOMERS` customers; the first one's id.
fn seed_customers(conn: &mut DbConnection) -> anyhow::Result<i64> {
    let mut first = None;
    for n in 0..CUSTOMERS {
        let created = customers::create(
            conn,
            &NewCustomer {
                external_id: Some(format!("bench-{n}")),
                email: Email::parse(&format!("bench{n}@example.com"))?,
                first_name: "Bench".into(),
                last_name: format!("Customer {n}"),
                country: None,
            },
            None,
        )?;
        first.get_or_insert(created.id);
    }
    Ok(first.unwrap_or(1))
}

/// `rows` adjustments of +1 from [`WRITERS`] threads over the customers; rows a second.
fn write_rows(pool: &Pool, first: i64, rows: u64) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (pool, next) = (pool.clone(), next.clone());
                s.spawn(move || -> anyhow::Result<()> {
                    let mut conn = pool.get()?;
                    let eur = CurrencyCode::parse("EUR")?;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= rows {
                            return Ok(());
                        }
                        ledger::adjust(
                            &mut conn,
                            Adjustment {
                                user_id: first + (i as i64 % CUSTOMERS),
                                currency: eur,
                                change: Change::By(1),
                                note: Note::parse("bench")?,
                                reason: None,
                                expires_at: None,
                                expected_version: None,
                                actor: Actor::System,
                                source: Source::Api,
                                idempotency_key: None,
                                audit: None,
                            },
                        )?;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("writer")?;
        }
        Ok(())
    })?;
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// A receiver on 127.0.0.1 that answers 200 to every POST and counts them; its base URL.
fn start_receiver(received: Arc<AtomicU64>) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let received = received.clone();
                App::new().default_service(web::to(move || {
                    received.fetch_add(1, Ordering::Relaxed);
                    async { HttpResponse::Ok().body("ok") }
                }))
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run();
            let _ = server.await;
        })
    });
    Ok(address)
}

/// The console's server (and its dispatcher) on a free port, in its own thread.
fn start_server(pool: Pool, settings: Settings) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let application = Application::build(pool, settings, listener).expect("build");
            let _ = application.server().await;
        })
    }))
}

/// Waits until the receiver has counted `total` requests and the queue is empty.
fn wait_until_sent(pool: &Pool, received: &AtomicU64, total: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        if received.load(Ordering::Relaxed) >= total {
            let mut conn = pool.get()?;
            let (pending, _) = dispatch::queue(&mut conn, db::now_utc())?;
            if pending == 0 {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "the deliveries took too long");
        std::thread::sleep(Duration::from_millis(5));
    }
}
