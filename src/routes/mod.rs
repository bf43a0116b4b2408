//! HTTP handlers by resource. No SQL here: handlers call the store and the ledger.

mod account;
mod credit_list;
mod health;
mod login;
mod promo_credits;
mod reports;
mod static_files;
pub mod users;

use actix_web::{web, HttpResponse};

use crate::error::AppError;
use crate::web::see_other;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/static/{path:.*}", web::get().to(static_files::serve))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/", web::get().to(home))
        .route("/users", web::get().to(users::list))
        .route("/users/{id}", web::get().to(users::account_info))
        .route(
            "/users/{id}/promo-credits",
            web::get().to(promo_credits::tab),
        )
        .route(
            "/users/{id}/promo-credits",
            web::post().to(promo_credits::update),
        )
        .route(
            "/users/{id}/promo-credits/update",
            web::get().to(promo_credits::update_form),
        )
        .route(
            "/users/{id}/promo-credits/usage",
            web::post().to(promo_credits::usage),
        )
        .route(
            "/users/{id}/promo-credits/preview",
            web::get().to(promo_credits::preview),
        )
        .route("/account/password", web::get().to(account::show))
        .route("/account/password", web::post().to(account::change))
        .route("/promo-credits", web::get().to(credit_list::list))
        .route(
            "/promo-credits/export.csv",
            web::get().to(credit_list::export),
        )
        .route("/promo-credits/balances", web::get().to(reports::balances))
        .route(
            "/promo-credits/balances/export.csv",
            web::get().to(reports::balances_export),
        )
        .route("/promo-credits/summary", web::get().to(reports::summary))
        .route(
            "/promo-credits/summary.csv",
            web::get().to(reports::summary_csv),
        )
        .default_service(web::to(not_found));
}

/// The dashboard comes later; until then the console opens on the customer list.
async fn home() -> HttpResponse {
    see_other("/users")
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("This page"))
}
