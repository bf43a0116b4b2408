//! Creditdesk: a self-hosted admin console for promo credits in subscription billing.

pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod ledger;
pub mod metrics;
pub mod passwords;
pub mod routes;
pub mod startup;
pub mod store;
