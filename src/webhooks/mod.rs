//! Outgoing webhooks (docs/webhooks.md): the events and their bodies ([`events`]), the
//! outbox they are written to in the change's transaction ([`outbox`]), the signatures a
//! receiver checks ([`signature`]), the guard that refuses addresses in blocked ranges
//! before any connection is made ([`guard`]), and what an attempt's answer means for the
//! next one ([`policy`]).

pub mod client;
pub mod dispatch;
pub mod events;
pub mod guard;
pub mod notices;
pub mod outbox;
pub mod policy;
pub mod signature;
