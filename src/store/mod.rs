//! Model code: the queries behind each concern. Functions here take checked values only
//! (`crate::filters` and `crate::forms` parse at the edge), return `QueryResult` (or a
//! concern's own error), and know nothing of HTTP, URLs or the words shown to people.

pub mod activity;
pub mod admins;
pub mod api_keys;
pub mod balances;
pub mod configs;
pub mod credit_list;
pub mod credits;
pub mod customers;
pub mod expiring;
pub mod grants;
pub mod idempotency;
pub mod imports;
pub mod liability;
pub mod login_throttle;
pub mod sessions;
pub mod summary;
pub mod webhooks;
