//! Creditdesk: a self-hosted admin console for promo credits in subscription billing.

pub mod auth;
pub mod bulk;
pub mod cli;
pub mod config;
pub mod csv_export;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod passwords;
pub mod routes;
pub mod startup;
pub mod store;
pub mod views;
pub mod web;
