//! Run-time settings. Each comes from a command-line flag or its environment variable; the
//! table in docs/operations.md lists them all.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

use crate::db::PoolOptions;
use crate::store::sessions::SessionPolicy;

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "./creditdesk.db";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `postgres://...`, `sqlite://path` or a file path (SQLite).
    pub database_url: String,
    /// `CREDITDESK_SECURE_COOKIES`: mark cookies `Secure`. By default on unless the console
    /// listens on a loopback address only ([`secure_cookies_by_default`]).
    pub secure_cookies: bool,
    /// `CREDITDESK_POOL_SIZE` and `CREDITDESK_POOL_TIMEOUT`: database connections kept open,
    /// and how long a request waits for one before it is answered 503.
    pub pool: PoolOptions,
    /// `CREDITDESK_MAX_EXPORTS`: CSV downloads running at once; beyond it, 503 and "try
    /// again". Each holds a connection while it runs, so this stays below the pool size.
    pub max_exports: usize,
    /// `CREDITDESK_TRUSTED_PROXIES`: addresses or networks of reverse proxies whose
    /// `X-Forwarded-For` is believed; from anyone else it is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// `CREDITDESK_SESSION_HOURS` and `CREDITDESK_SESSION_IDLE_MINUTES`.
    pub sessions: SessionPolicy,
    /// An export whose client reads nothing for this long is ended (and recorded as
    /// abandoned), so its connection and its place among `max_exports` come back.
    pub export_stall_limit: Duration,
    /// `CREDITDESK_API_RATE_LIMIT`: API requests per minute one key may send; 0 for none.
    pub api_rate_limit: u32,
    /// `CREDITDESK_IMPORT_MAX_BYTES`: the largest customer file an import accepts.
    pub import_max_bytes: usize,
    /// Outgoing webhooks (docs/webhooks.md).
    pub webhooks: WebhookSettings,
}

/// How the server sends webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `CREDITDESK_WEBHOOKS_SEND`: this server sends webhooks. Off for a copy of the
    /// database that must not call the merchant's systems (a restored backup, staging):
    /// events are still written, and wait.
    pub send: bool,
    /// `CREDITDESK_WEBHOOKS_ALLOW_INSECURE`: endpoints may be plain `http://` and loopback
    /// (development and tests); nothing else opens.
    pub allow_insecure: bool,
    /// `CREDITDESK_WEBHOOKS_TIMEOUT`: how long an attempt waits for the whole answer, at
    /// most (and by default) 15 s.
    pub timeout: Duration,
    /// Divides every retry wait: 1 in production; tests that watch a whole retry schedule
    /// set more (not a command-line setting).
    pub retry_divisor: u32,
}

impl Default for WebhookSettings {
    fn default() -> WebhookSettings {
        WebhookSettings {
            send: true,
            allow_insecure: false,
            timeout: WEBHOOK_TIMEOUT,
            retry_divisor: 1,
        }
    }
}

impl WebhookSettings {
    /// How long a server's claim on an endpoint lasts without renewal: long enough for an
    /// attempt to end (it is renewed before each), short enough that after a crash another
    /// server takes the endpoint's queue over soon.
    pub fn claim(&self) -> Duration {
        self.timeout * 4
    }
}

/// The longest a webhook attempt may take (docs/webhooks.md, "Retries").
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

/// A webhook timeout in whole seconds, 1 to 15, for `CREDITDESK_WEBHOOKS_TIMEOUT`.
pub fn parse_webhook_timeout(text: &str) -> Result<Duration, String> {
    seconds_up_to(text, WEBHOOK_TIMEOUT.as_secs())
}

impl Settings {
    /// The defaults, on `database_url`.
    pub fn new(database_url: impl Into<String>) -> Settings {
        let pool = PoolOptions::new(10);
        Settings {
            database_url: database_url.into(),
            secure_cookies: false,
            max_exports: default_max_exports(pool.max_size),
            pool,
            trusted_proxies: Vec::new(),
            sessions: SessionPolicy::default(),
            export_stall_limit: DEFAULT_EXPORT_STALL_LIMIT,
            api_rate_limit: DEFAULT_API_RATE_LIMIT,
            import_max_bytes: DEFAULT_IMPORT_MAX_BYTES,
            webhooks: WebhookSettings::default(),
        }
    }
}

/// API requests per minute per key: 20 a second on average, far above a checkout's needs
/// and far below what would crowd the console out.
pub const DEFAULT_API_RATE_LIMIT: u32 = 1200;

/// 32 MiB: about 400,000 customers with names and two opening balances.
pub const DEFAULT_IMPORT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// How long an export waits for a client that has stopped reading.
pub const DEFAULT_EXPORT_STALL_LIMIT: Duration = Duration::from_secs(60);

/// A third of the pool (at least one), so exports can never take every connection.
pub fn default_max_exports(pool_size: u32) -> usize {
    (pool_size as usize / 3).max(1)
}

/// Cookies are `Secure` unless the console only listens on loopback, where plain HTTP is
/// the normal way to reach it.
pub fn secure_cookies_by_default(bind: &str) -> bool {
    match bind.parse::<SocketAddr>() {
        Ok(address) => !address.ip().is_loopback(),
        Err(_) => !bind
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
    }
}

/// `10.0.0.1, 10.1.0.0/16, ::1`: single addresses or networks, comma-separated.
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{part:?} is not an IP address or network like 10.0.0.0/8"))
        })
        .collect()
}

/// A whole number of seconds, for `CREDITDESK_POOL_TIMEOUT`.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    seconds_up_to(text, 300)
}

/// A whole number of seconds from 1 to `most`.
fn seconds_up_to(text: &str, most: u64) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(seconds) if (1..=most).contains(&seconds) => Ok(Duration::from_secs(seconds)),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 1 to {most}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_unless_only_loopback_listens() {
        for (bind, secure) in [
            ("127.0.0.1:8080", false),
            ("[::1]:8080", false),
            ("localhost:8080", false),
            ("0.0.0.0:8080", true),
            ("[::]:8080", true),
            ("10.1.2.3:80", true),
            ("console.example.com:443", true),
        ] {
            assert_eq!(secure_cookies_by_default(bind), secure, "{bind}");
        }
    }

    #[test]
    fn reads_trusted_proxies() {
        let parsed = parse_trusted_proxies(" 10.0.0.1, 192.168.0.0/16,::1 ").unwrap();
        assert_eq!(parsed.len(), 3);
        assert!(parsed[0].contains(&"10.0.0.1".parse::<IpAddr>().unwrap()));
        assert!(parsed[1].contains(&"192.168.7.9".parse::<IpAddr>().unwrap()));
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert!(parse_trusted_proxies("10.0.0.300").is_err());
        assert!(parse_trusted_proxies("proxy.local").is_err());
    }

    #[test]
    fn reads_seconds_within_their_bounds() {
        assert_eq!(parse_seconds(" 30 "), Ok(Duration::from_secs(30)));
        assert_eq!(parse_webhook_timeout("15"), Ok(WEBHOOK_TIMEOUT));
        for bad in ["0", "16", "-1", "1.5", "ten", ""] {
            assert!(parse_webhook_timeout(bad).is_err(), "{bad}");
        }
        assert!(parse_seconds("301").is_err());
    }

    #[test]
    fn exports_never_take_the_whole_pool() {
        assert_eq!(default_max_exports(1), 1);
        assert_eq!(default_max_exports(10), 3);
        assert_eq!(default_max_exports(16), 5);
    }
}
