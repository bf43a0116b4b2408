//! Builds the actix application (routes, middleware, state) and binds it to a listener.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_multipart::form::MultipartFormConfig;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::error::UrlencodedError;
use actix_web::http::Method;
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::api::rate_limit::RateLimiter;
use crate::config::Settings;
use crate::db::Pool;
use crate::error::AppError;
use crate::metrics::METRICS;
use crate::request_id::{self, RequestId, Tagged};
use crate::routes;
use crate::webhooks::dispatch::Dispatcher;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    /// One permit per CSV export allowed to run at once.
    pub exports: Arc<Semaphore>,
    /// Requests per API key (`api_rate_limit`).
    pub api_limits: Arc<RateLimiter>,
    /// Customer imports being applied by this process.
    pub imports: Arc<crate::import::jobs::Jobs>,
}

impl AppState {
    pub fn new(pool: Pool, settings: Settings) -> AppState {
        AppState {
            exports: Arc::new(Semaphore::new(settings.max_exports.max(1))),
            api_limits: Arc::new(RateLimiter::new(settings.api_rate_limit)),
            imports: Arc::default(),
            pool,
            settings,
        }
    }
}

/// A server bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

/// On SIGTERM the server stops accepting connections at once and gives the requests in
/// flight this long to finish before it drops them (docs/operations.md, "Stopping").
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest form body the console reads (its forms are a few hundred bytes).
pub const FORM_LIMIT: usize = 16 * 1024;

impl Application {
    /// Binds `listener` (port 0 picks a free port) and prepares the server.
    pub fn build(
        pool: Pool,
        settings: Settings,
        listener: TcpListener,
    ) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        actix_web::rt::spawn(housekeeping(pool.clone()));
        actix_web::rt::spawn(checkpoints(pool.clone()));
        actix_web::rt::spawn(expiry_schedule(pool.clone()));
        if settings.webhooks.send {
            actix_web::rt::spawn(Dispatcher::new(pool.clone(), settings.webhooks).run());
        } else {
            tracing::warn!("webhooks are not sent by this server (CREDITDESK_WEBHOOKS_SEND=false)");
        }
        let upload_limit = settings.import_max_bytes + crate::auth::UPLOAD_OVERHEAD;
        let state = web::Data::new(AppState::new(pool, settings));
        let server =
            HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(web::FormConfig::default().limit(FORM_LIMIT).error_handler(
                        |error, _| {
                            let problem = match error {
                                UrlencodedError::Overflow { .. } => AppError::TooLarge(
                                    "This form is larger than the console accepts.".to_owned(),
                                ),
                                other => AppError::Unprocessable(format!(
                                    "The form could not be read ({other})."
                                )),
                            };
                            problem.into()
                        },
                    ))
                    .app_data(
                        MultipartFormConfig::default()
                            .total_limit(upload_limit)
                            .memory_limit(upload_limit),
                    )
                    .wrap(security_headers())
                    .wrap(from_fn(track_request))
                    .configure(routes::configure)
            })
            .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
            .listen(listener)?
            .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn server(self) -> Server {
        self.server
    }
}

/// How often the server forgets what it keeps for a while only.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// Forgets idempotency keys past their 24 hours and webhook deliveries past their 30 days
/// (`crate::webhooks::outbox::KEEP_FOR`), now and then every
/// [`HOUSEKEEPING_EVERY`], for as long as the server runs.
async fn housekeeping(pool: Pool) {
    let mut ticks = actix_web::rt::time::interval(HOUSEKEEPING_EVERY);
    loop {
        ticks.tick().await;
        let pool = pool.clone();
        let purged = web::block(move || -> anyhow::Result<usize> {
            let mut conn = pool.get()?;
            let now = crate::db::now_utc();
            let forgotten =
                crate::webhooks::outbox::purge(&mut conn, now - crate::webhooks::outbox::KEEP_FOR)?;
            if forgotten > 0 {
                tracing::info!(forgotten, "forgot webhook deliveries older than 30 days");
            }
            Ok(crate::store::idempotency::purge(&mut conn, now)?)
        })
        .await;
        match purged {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!(count, "forgot idempotency keys older than 24 h"),
            Ok(Err(error)) => tracing::warn!(%error, "could not forget old idempotency keys"),
            Err(error) => tracing::warn!(%error, "housekeeping did not run"),
        }
    }
}

/// How often the server copies SQLite's write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// On SQLite, checkpoints every [`CHECKPOINT_EVERY`] outside any request
/// (`crate::db::dialect::checkpoint`), for as long as the server runs; on PostgreSQL, ends at
/// once.
async fn checkpoints(pool: Pool) {
    let mut ticks = actix_web::rt::time::interval(CHECKPOINT_EVERY);
    loop {
        ticks.tick().await;
        let pool = pool.clone();
        let done = web::block(move || -> anyhow::Result<bool> {
            let mut conn = pool.get()?;
            crate::db::dialect::checkpoint(&mut conn)?;
            Ok(conn.backend() == crate::db::Backend::Sqlite)
        })
        .await;
        match done {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(error)) => tracing::debug!(%error, "background checkpoint did not run"),
            Err(error) => tracing::warn!(%error, "background checkpoint did not run"),
        }
    }
}

/// The longest the expiry scheduler sleeps: a grant ends at midnight UTC, and a run a few
/// minutes later finds it whatever the clock did meanwhile.
const EXPIRY_CHECK_EVERY: Duration = Duration::from_secs(600);

/// Expires ended grants (docs/concepts.md, "Expiry") and writes the `credit.expiring`
/// events that have come due (docs/webhooks.md, "Events"): once at start, which catches up on
/// midnights the server missed, then just after every midnight UTC (and at least every
/// [`EXPIRY_CHECK_EVERY`]), for as long as the server runs. Servers on one database take
/// turns through the lease in `crate::ledger::expiry::run`.
async fn expiry_schedule(pool: Pool) {
    let holder = format!(
        "server {} {:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    loop {
        let (pool, holder_name) = (pool.clone(), holder.clone());
        let ran = web::block(move || -> anyhow::Result<_> {
            let mut conn = pool.get()?;
            let today = crate::db::now_utc().date();
            let outcome = crate::ledger::expiry::run(&mut conn, today, &holder_name)?;
            let notices = crate::webhooks::notices::run(&mut conn, today)?;
            if notices > 0 {
                tracing::info!(notices, "wrote credit.expiring events");
            }
            Ok(outcome)
        })
        .await;
        match ran {
            Ok(Ok(outcome)) if outcome.rows > 0 => {
                tracing::info!(rows = outcome.rows, credits = ?outcome.credits, "expired ended grants")
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "expiry run failed; it runs again later"),
            Err(error) => tracing::warn!(%error, "expiry run did not start"),
        }
        actix_web::rt::time::sleep(until_next_expiry_run(crate::db::now_utc())).await;
    }
}

/// Time to the next run: two seconds past the next midnight UTC, or [`EXPIRY_CHECK_EVERY`]
/// when that is sooner.
fn until_next_expiry_run(now: time::PrimitiveDateTime) -> Duration {
    let midnight = now.date().next_day().map(|day| day.midnight());
    let to_midnight = midnight
        .map(|m| (m - now).unsigned_abs() + Duration::from_secs(2))
        .unwrap_or(EXPIRY_CHECK_EVERY);
    to_midnight.min(EXPIRY_CHECK_EVERY)
}

/// The method as a metric label: one of HTTP's own, else `OTHER`, so clients cannot make
/// new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Every request: its id (taken or made, [`RequestId`]), a tracing span carrying it around
/// everything logged while the request is served, the id on the response, one access log
/// line, and the request counted by route pattern and status and timed. The route label is
/// a pattern of the route table or `unmatched`, never the raw path. An error that comes out
/// of the services as an error (a middleware's `?`) is counted and logged by the status it
/// will be answered with, and answered with the id and the security headers too.
async fn track_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = RequestId::for_request(request.request());
    request.extensions_mut().insert(id.clone());
    let method = request.method().clone();
    let path = request.path().to_owned();
    // Known before the call too: an error coming back carries no request to ask.
    let pattern = request.match_pattern();
    let span = tracing::info_span!("request", request_id = %id);
    let outcome = next.call(request).instrument(span.clone()).await;
    let _entered = span.enter();
    let (status, pattern) = match &outcome {
        Ok(response) => (response.status(), response.request().match_pattern()),
        Err(error) => (error.as_response_error().status_code(), pattern),
    };
    let route = pattern
        .and_then(|pattern| routes::known_pattern(&pattern))
        .unwrap_or("unmatched");
    let elapsed = started.elapsed();
    let status_label = status.as_u16().to_string();
    METRICS
        .requests
        .with_label_values(&[route, method_label(&method), &status_label])
        .inc();
    METRICS
        .latency
        .with_label_values(&[route])
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        method = %method,
        path,
        route,
        status = status.as_u16(),
        duration_ms = elapsed.as_micros() as f64 / 1000.0,
        "request"
    );
    match outcome {
        Ok(mut response) => {
            response
                .headers_mut()
                .insert(request_id::HEADER, id.header_value());
            Ok(response)
        }
        Err(error) => Err(Tagged {
            error,
            id,
            headers: SECURITY_HEADERS,
        }
        .into()),
    }
}

/// No inline script may run (htmx is a file, configured by a meta tag), nothing may frame
/// the console, and browsers must not sniff types or leak URLs to other sites.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

fn security_headers() -> DefaultHeaders {
    SECURITY_HEADERS
        .iter()
        .fold(DefaultHeaders::new(), |headers, &header| {
            headers.add(header)
        })
}
