//! Creditdesk: a self-hosted admin console for promo credits in subscription billing.
//! docs/ describes the product; README.md "How it is built" maps it onto these modules.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod csv_export;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod filters;
pub mod forms;
pub mod import;
pub mod ledger;
pub mod metrics;
pub mod passwords;
pub mod request_id;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;
pub mod views;
pub mod web;
pub mod webhooks;
