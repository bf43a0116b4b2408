//! HTTP handlers, one module per URL: `users` for `/users…`, `promo_credits` for
//! `/promo-credits…`. Every handler has one shape: parse a typed form (`crate::forms`) or
//! filter (`crate::filters`), call the ledger or the store, render. No SQL here.
//!
//! The route tables below are the only place a route is registered, and where it is
//! registered decides its guard: public, the console's sign-in guard, or the API's key.

mod account;
mod activity;
mod admins;
pub mod api;
mod api_keys;
mod dashboard;
mod health;
mod login;
mod promo_credits;
mod settings;
mod static_files;
mod users;
mod webhooks;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};

use crate::auth;
use crate::error::AppError;

/// A route as registered: its method (lower case) and path pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

/// Declares a route table once: the list of full paths (for metrics labels and tests) and
/// the function that registers each path, relative to its scope's `$prefix`.
macro_rules! route_table {
    ($(#[$meta:meta])* $table:ident, $register:ident, $prefix:literal { $($method:ident $path:literal => $handler:path,)* }) => {
        $(#[$meta])*
        pub const $table: &[Route] = &[$(Route { method: stringify!($method), path: concat!($prefix, $path) }),*];

        fn $register(_config: &mut web::ServiceConfig) {
            $(_config.route($path, web::$method().to($handler));)*
        }
    };
}

route_table! {
    /// Reachable without signing in (docs/console.md, "Routes").
    PUBLIC_ROUTES, register_public, "" {
        get "/login" => login::show,
        post "/login" => login::submit,
        get "/healthz" => health::healthz,
        get "/metrics" => health::metrics,
        get "/static/{path:.*}" => static_files::serve,
        get "/api/openapi.json" => api::document,
    }
}

route_table! {
    /// Behind the console's guard: CSRF on every POST first, then a live session; each
    /// handler then checks the role its action needs.
    CONSOLE_ROUTES, register_console, "" {
        post "/logout" => login::logout,
        get "/" => dashboard::show,
        post "/demo" => dashboard::load_demo,
        get "/users" => users::list,
        get "/users/import" => users::import::show,
        post "/users/import" => users::import::submit,
        get "/users/{id}" => users::account_info,
        get "/users/{id}/promo-credits" => users::promo_credits::tab,
        post "/users/{id}/promo-credits" => users::promo_credits::update,
        get "/users/{id}/promo-credits/update" => users::promo_credits::update_form,
        post "/users/{id}/promo-credits/usage" => users::promo_credits::usage,
        get "/users/{id}/promo-credits/preview" => users::promo_credits::preview,
        get "/account/password" => account::show,
        post "/account/password" => account::change,
        get "/promo-credits" => promo_credits::list,
        get "/promo-credits/export.csv" => promo_credits::export,
        get "/promo-credits/balances" => promo_credits::balances::list,
        get "/promo-credits/balances/export.csv" => promo_credits::balances::export,
        get "/promo-credits/summary" => promo_credits::summary::show,
        get "/promo-credits/summary.csv" => promo_credits::summary::export,
        get "/settings/promo-credit" => settings::show,
        post "/settings/promo-credit" => settings::save,
        get "/activity" => activity::list,
        get "/activity/export.csv" => activity::export,
        get "/admins" => admins::list,
        post "/admins" => admins::create,
        post "/admins/{id}" => admins::change,
        get "/api-keys" => api_keys::list,
        post "/api-keys" => api_keys::create,
        post "/api-keys/{id}/revoke" => api_keys::revoke,
        get "/webhooks" => webhooks::list,
        post "/webhooks" => webhooks::create,
        get "/webhooks/{id}" => webhooks::deliveries,
        post "/webhooks/{id}" => webhooks::change,
        post "/webhooks/{id}/replay" => webhooks::replay,
        post "/webhooks/{id}/deliveries/{delivery_id}/resend" => webhooks::resend,
    }
}

route_table! {
    /// Under `/api/v1`, behind the API key guard and its rate limit (docs/api.md). Each is
    /// also in `api::ApiDoc`; a test holds the two lists equal.
    API_ROUTES, register_api, "/api/v1" {
        post "/users" => api::customers::create,
        get "/users" => api::customers::find,
        get "/users/{id}" => api::customers::show,
        get "/users/{id}/promo-credit" => api::credits::accounts,
        get "/users/{id}/promo-credit/transactions" => api::credits::transactions,
        post "/users/{id}/promo-credit/adjustments" => api::credits::adjust,
        post "/users/{id}/promo-credit/preview" => api::credits::preview,
        post "/users/{id}/promo-credit/payments" => api::invoices::pay,
        post "/promo-credit/payments/{invoice_id}/refunds" => api::invoices::refund,
    }
}

/// The scope every API route lives in.
pub const API_SCOPE: &str = "/api/v1";

pub fn configure(config: &mut web::ServiceConfig) {
    register_public(config);
    config.service(
        web::scope(API_SCOPE)
            .wrap(from_fn(auth::api::guard))
            .configure(register_api)
            .default_service(web::to(api::unmatched)),
    );
    config.service(
        web::scope("")
            .wrap(from_fn(auth::guard))
            .configure(register_console)
            .default_service(web::to(not_found)),
    );
}

/// Every route of the three tables.
pub fn all_routes() -> impl Iterator<Item = &'static Route> {
    PUBLIC_ROUTES.iter().chain(CONSOLE_ROUTES).chain(API_ROUTES)
}

/// The pattern as a metric label when it is one of the tables' routes.
pub fn known_pattern(pattern: &str) -> Option<&'static str> {
    all_routes()
        .map(|route| route.path)
        .find(|path| *path == pattern)
}

/// Signed in first: without a session an unknown path goes to the sign-in page like any
/// other, so it does not tell which paths exist.
async fn not_found(_admin: auth::CurrentAdmin) -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("This page"))
}
