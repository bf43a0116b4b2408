//! Run-time settings. Each comes from a command-line flag or its environment variable.

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "./creditdesk.db";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `postgres://...`, `sqlite://path` or a file path (SQLite).
    pub database_url: String,
    /// `CREDITDESK_SECURE_COOKIES`: mark the session cookie `Secure` (set it behind HTTPS).
    pub secure_cookies: bool,
    /// `CREDITDESK_POOL_SIZE`: the most database connections kept open.
    pub pool_size: u32,
}

impl Settings {
    pub fn new(database_url: impl Into<String>) -> Settings {
        Settings {
            database_url: database_url.into(),
            secure_cookies: false,
            pool_size: 10,
        }
    }
}
