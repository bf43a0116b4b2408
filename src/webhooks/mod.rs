//! Outgoing webhooks (docs/webhooks.md). Built so far: the signatures a receiver checks
//! ([`signature`]) and the guard that refuses addresses in blocked ranges before any
//! connection is made ([`guard`]).

pub mod guard;
pub mod signature;
