//! HTTP handlers by resource. No SQL here: handlers call the store and the ledger.

mod health;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics));
}
