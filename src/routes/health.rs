//! `/healthz` and `/metrics`: public, for load balancers and Prometheus.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::startup::AppState;

/// 200 when the database answers, 503 when it does not.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let checked = crate::web::block(move || -> Result<(), String> {
        let mut conn = pool
            .get_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1").map_err(|e| e.to_string())
    })
    .await;
    match checked {
        Ok(Ok(())) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unreachable\n")
        }
        Err(_) => HttpResponse::ServiceUnavailable().body("health check failed\n"),
    }
}

/// The metrics, with the webhook queue read now (left as last read when the database does
/// not answer within two seconds).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let queue = crate::web::block(move || -> Result<(i64, i64), String> {
        let mut conn = pool
            .get_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        crate::webhooks::dispatch::queue(&mut conn, crate::db::now_utc()).map_err(|e| e.to_string())
    })
    .await
    .ok()
    .and_then(Result::ok);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render(state.pool.state(), queue))
}
