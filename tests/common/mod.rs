//! Test support: a fresh database per test (a SQLite file, or a uuid-named PostgreSQL
//! database when `TEST_DATABASE_URL` names a server), dropped afterwards.
#![allow(dead_code)]

use std::path::PathBuf;

use creditdesk::db::{self, DbConnection, Pool};
use creditdesk::domain::{CurrencyCode, Email, ExchangeRate};
use creditdesk::store::configs::{self, Settings};
use creditdesk::store::customers::{self, NewCustomer};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use rand::Rng;

pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

impl TestDb {
    pub fn new() -> TestDb {
        let unique = format!("{:032x}", rand::thread_rng().gen::<u128>());
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => {
                let name = format!("creditdesk_test_{unique}");
                let mut conn =
                    PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                TestDb {
                    url: with_database(&admin_url, &name),
                    cleanup: Cleanup::PostgresDatabase { admin_url, name },
                }
            }
            Ok(other) if !other.is_empty() => {
                panic!("TEST_DATABASE_URL must be a postgres:// URL, got {other:?}")
            }
            _ => {
                let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
                let path = dir.join(format!("test-{unique}.db"));
                TestDb {
                    url: path.to_string_lossy().into_owned(),
                    cleanup: Cleanup::SqliteFile(path),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::PostgresDatabase { .. })
    }

    /// A migrated pool on this database.
    pub fn pool(&self) -> Pool {
        let pool = db::connect(&self.url, 16).expect("connect to the test database");
        db::run_migrations(&mut pool.get().expect("connection")).expect("migrate");
        pool
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ =
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..authority_end])
}

pub fn currency(code: &str) -> CurrencyCode {
    CurrencyCode::parse(code).expect("currency")
}

/// Enables promo credits in `code` at `rate`.
pub fn configure(conn: &mut DbConnection, code: &str, rate: &str) {
    configs::save(
        conn,
        &Settings {
            currency: currency(code),
            enabled: true,
            exchange_rate: ExchangeRate::parse(rate).expect("rate"),
            allow_with_discount_code: false,
            auto_apply_next_invoice: false,
            preview_default_used: true,
        },
    )
    .expect("save config");
}

/// Creates a customer `customer<n>@example.com` and returns its id.
pub fn customer(conn: &mut DbConnection, n: u32) -> i64 {
    customers::create(
        conn,
        &NewCustomer {
            external_id: Some(format!("ext-{n}")),
            email: Email::parse(&format!("customer{n}@example.com")).expect("email"),
            first_name: "Test".into(),
            last_name: format!("Customer {n}"),
            country: Some("DE".into()),
        },
    )
    .expect("create customer")
    .id
}
