//! Prometheus metrics: requests by route and status, latency, pool state and ledger writes.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub ledger_writes: IntCounterVec,
    pub pool_connections: IntGauge,
    pub pool_idle: IntGauge,
    pub webhook_attempts: IntCounterVec,
    pub webhook_queue: IntGauge,
    pub webhook_oldest: IntGauge,
}

/// Registration only fails on a duplicate or malformed name, which these constants are not.
fn build() -> Metrics {
    let registry = Registry::new_custom(Some("creditdesk".into()), None).expect("metric registry");
    let requests = IntCounterVec::new(
        Opts::new(
            "http_requests_total",
            "HTTP requests by route pattern, method and status",
        ),
        &["route", "method", "status"],
    )
    .expect("metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by route pattern",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["route"],
    )
    .expect("metric");
    let ledger_writes = IntCounterVec::new(
        Opts::new(
            "ledger_writes_total",
            "Ledger rows written, by transaction type",
        ),
        &["type"],
    )
    .expect("metric");
    let pool_connections =
        IntGauge::new("db_pool_connections", "Open database connections").expect("metric");
    let pool_idle =
        IntGauge::new("db_pool_idle_connections", "Idle database connections").expect("metric");
    let webhook_attempts = IntCounterVec::new(
        Opts::new(
            "webhook_deliveries_total",
            "Webhook delivery attempts by outcome: delivered, retry, failed, gone (410)",
        ),
        &["outcome"],
    )
    .expect("metric");
    let webhook_queue = IntGauge::new(
        "webhook_queue_depth",
        "Webhook deliveries waiting to be sent",
    )
    .expect("metric");
    let webhook_oldest = IntGauge::new(
        "webhook_oldest_pending_seconds",
        "Age of the oldest webhook delivery waiting to be sent",
    )
    .expect("metric");
    for collector in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(ledger_writes.clone()),
        Box::new(pool_connections.clone()),
        Box::new(pool_idle.clone()),
        Box::new(webhook_attempts.clone()),
        Box::new(webhook_queue.clone()),
        Box::new(webhook_oldest.clone()),
    ] {
        registry.register(collector).expect("metric registration");
    }
    Metrics {
        registry,
        requests,
        latency,
        ledger_writes,
        pool_connections,
        pool_idle,
        webhook_attempts,
        webhook_queue,
        webhook_oldest,
    }
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(build);

/// Counts one committed ledger row.
pub fn ledger_write(kind: &str) {
    METRICS.ledger_writes.with_label_values(&[kind]).inc();
}

/// Counts one webhook attempt by its outcome.
pub fn webhook_attempt(outcome: &str) {
    METRICS.webhook_attempts.with_label_values(&[outcome]).inc();
}

/// The Prometheus text exposition of every metric, with the pool state read now and the
/// webhook queue as read by the caller (pending deliveries, the oldest one's age in seconds;
/// none when the database did not answer).
pub fn render(pool_state: r2d2::State, webhook_queue: Option<(i64, i64)>) -> String {
    if let Some((depth, oldest)) = webhook_queue {
        METRICS.webhook_queue.set(depth);
        METRICS.webhook_oldest.set(oldest);
    }
    METRICS
        .pool_connections
        .set(i64::from(pool_state.connections));
    METRICS
        .pool_idle
        .set(i64::from(pool_state.idle_connections));
    let mut buffer = Vec::new();
    if TextEncoder::new()
        .encode(&METRICS.registry.gather(), &mut buffer)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(buffer).unwrap_or_default()
}
