//! Model code: the queries behind each concern. Functions here return `QueryResult` (or a
//! concern's own error) and never know about HTTP.

pub mod activity;
pub mod admins;
pub mod api_keys;
pub mod balances;
pub mod configs;
pub mod credit_list;
pub mod credits;
pub mod customers;
pub mod sessions;
pub mod summary;
