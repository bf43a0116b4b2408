//! Outgoing webhooks (docs/webhooks.md). Built so far: the signatures a receiver checks
//! ([`signature`]), the guard that refuses addresses in blocked ranges before any connection
//! is made ([`guard`]), and what an attempt's answer means for the next one ([`policy`]).

pub mod guard;
pub mod policy;
pub mod signature;
