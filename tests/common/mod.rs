//! Test support: a fresh database per test (a SQLite file, or a uuid-named PostgreSQL
//! database when `TEST_DATABASE_URL` names a server), dropped afterwards.
#![allow(dead_code)]

pub mod api;
pub mod process;
pub mod receiver;
pub mod served;

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
            _ => TestDb::sqlite(),
        }
    }

    /// A fresh SQLite file, whatever `TEST_DATABASE_URL` says (for what only SQLite has).
    pub fn sqlite() -> TestDb {
        let unique = format!("{:032x}", rand::thread_rng().gen::<u128>());
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("test-{unique}.db"));
        TestDb {
            url: path.to_string_lossy().into_owned(),
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::PostgresDatabase { .. })
    }

    /// A migrated pool of 16 connections on this database.
    pub fn pool(&self) -> Pool {
        self.pool_with(db::PoolOptions::new(16))
    }

    /// A migrated pool on this database.
    pub fn pool_with(&self, options: db::PoolOptions) -> Pool {
        let pool = db::connect(&self.url, options).expect("connect to the test database");
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

/// Enables promo credits in `code` at `rate` (credits in previews by default, not with a
/// discount code).
pub fn configure(conn: &mut DbConnection, code: &str, rate: &str) {
    configure_with(conn, code, rate, [true, false, true]);
}

/// Promo credits in `code` at `rate` with these switches: enabled, allowed with a discount
/// code, applied in previews by default.
pub fn configure_with(conn: &mut DbConnection, code: &str, rate: &str, switches: [bool; 3]) {
    let [enabled, allow_with_discount_code, preview_default_used] = switches;
    configs::save(
        conn,
        &Settings {
            currency: currency(code),
            enabled,
            exchange_rate: ExchangeRate::parse(rate).expect("rate"),
            allow_with_discount_code,
            auto_apply_next_invoice: false,
            preview_default_used,
            low_balance_threshold: None,
            expiring_notice_days: configs::DEFAULT_NOTICE_DAYS,
        },
        &creditdesk::store::activity::Audit::system(),
    )
    .expect("save config");
}

/// A change of a customer's balance in `code` by the system, with a note, and credits it
/// adds expiring at the end of `expires_at` (docs/concepts.md, "Expiry").
pub fn adjustment(
    user_id: i64,
    code: &str,
    change: Change,
    expires_at: Option<time::Date>,
) -> Adjustment {
    Adjustment {
        user_id,
        currency: currency(code),
        change,
        note: Note::parse("test change").unwrap(),
        reason: None,
        expires_at,
        expected_version: None,
        actor: Actor::System,
        source: Source::Console,
        idempotency_key: None,
        audit: None,
    }
}

/// Sets a customer's balance in `code` through the ledger, by the system (the currency must
/// be enabled).
pub fn set_balance(conn: &mut DbConnection, user_id: i64, code: &str, balance: i64) {
    let change = Adjustment {
        note: Note::parse("opening balance").unwrap(),
        ..adjustment(user_id, code, Change::SetTo(balance), None)
    };
    ledger::adjust(conn, change).expect("set the balance");
}

/// A grant of `credits` by the system, with `note`, that ended at the end of `ended_on` (a
/// past day), expired: returns its `expired` row. The server's own scheduler may expire it first (a
/// test server runs one); the row is found by the grant its note names either way.
pub fn ended_grant(
    conn: &mut DbConnection,
    user_id: i64,
    code: &str,
    credits: i64,
    ended_on: time::Date,
    note: &str,
) -> creditdesk::db::models::CreditTransaction {
    use creditdesk::db::models::CreditTransaction;
    use creditdesk::db::schema::credit_transactions as rows;
    use creditdesk::domain::TransactionType;
    use creditdesk::ledger::{Entry, Target};
    use diesel::prelude::*;
    let code = currency(code);
    let grant = ledger::post(conn, Target::system(user_id, &code), |_| {
        Ok(Entry {
            expires_at: Some(ended_on),
            ..Entry::new(
                credits,
                TransactionType::AdminAdded,
                Note::parse(note).unwrap(),
                Actor::System,
            )
        })
    })
    .expect("post the grant");
    let today = ended_on.next_day().expect("a day after");
    ledger::expire_account(conn, user_id, &code, today).expect("expire the account");
    let mut expired: Vec<CreditTransaction> = rows::table
        .filter(rows::kind.eq("expired"))
        .filter(rows::note.like(format!("%grant of record {},%", grant.transaction.id)))
        .select(CreditTransaction::as_select())
        .load(conn)
        .expect("read the expired row");
    assert_eq!(expired.len(), 1, "the ended grant expired once");
    expired.remove(0)
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
        None,
    )
    .expect("create customer")
    .id
}

// ---------------------------------------------------------------------------------------------
// A real server on port 0, and an HTTP client that keeps cookies like a browser.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::mpsc;

use creditdesk::config::Settings as AppSettings;
use creditdesk::domain::{Change, Note, Role};
use creditdesk::ledger::{self, Actor, Adjustment, Source};
use creditdesk::startup::Application;

pub const PASSWORD: &str = "a long test password";

pub struct TestApp {
    pub address: String,
    pub pool: Pool,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub db: TestDb,
}

impl TestApp {
    /// A migrated database with EUR enabled at 1.00, admins of every role, and the server.
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {})
    }

    /// The same, with settings changed from the defaults (a pool of 16) by `change`.
    pub fn spawn_with(change: impl FnOnce(&mut AppSettings)) -> TestApp {
        TestApp::spawn_configured(change, true)
    }

    /// A fresh install: admins of every role, but no currency and no customer.
    pub fn spawn_bare() -> TestApp {
        TestApp::spawn_configured(|_| {}, false)
    }

    fn spawn_configured(change: impl FnOnce(&mut AppSettings), with_eur: bool) -> TestApp {
        let db = TestDb::new();
        let mut settings = AppSettings::new(db.url.clone());
        settings.pool = db::PoolOptions::new(16);
        settings.max_exports = creditdesk::config::default_max_exports(16);
        // Tests send webhooks only where they ask to, and only to their own receiver on
        // 127.0.0.1 (tests/webhooks.rs): the endpoints of other tests are never called.
        settings.webhooks.send = false;
        change(&mut settings);
        let pool = db.pool_with(settings.pool);
        {
            let mut conn = pool.get().unwrap();
            if with_eur {
                configure(&mut conn, "EUR", "1.00");
            }
            for role in Role::ALL {
                let email = Email::parse(&format!("{}@example.com", role.as_str())).unwrap();
                let system = creditdesk::store::activity::Audit::system();
                creditdesk::store::admins::create(
                    &mut conn,
                    &email,
                    role.label(),
                    *role,
                    PASSWORD,
                    &system,
                )
                .unwrap();
            }
        }
        let (sender, receiver) = mpsc::channel();
        let server_pool = pool.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                let application =
                    Application::build(server_pool, settings, listener).expect("build app");
                let port = application.port();
                let server = application.server();
                sender.send((port, server.handle())).expect("send port");
                let _ = server.await;
            })
        });
        let (port, handle) = receiver.recv().expect("server started");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            pool,
            handle: Some(handle),
            thread: Some(thread),
            db,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.address)
    }

    /// A client signed in as the admin of `role`.
    pub fn signed_in(&self, role: Role) -> Client {
        let mut client = self.client();
        let response = client.login(&format!("{}@example.com", role.as_str()), PASSWORD);
        assert_eq!(response.status, 303, "login as {role}: {}", response.body);
        client.refresh_csrf();
        client
    }

    pub fn conn(&self) -> creditdesk::db::PooledConnection {
        self.pool.get().unwrap()
    }

    /// A customer with `balance` EUR credits (set through the ledger when not 0).
    pub fn customer_with(&self, n: u32, balance: i64) -> i64 {
        let mut conn = self.conn();
        let id = customer(&mut conn, n);
        if balance != 0 {
            set_balance(&mut conn, id, "EUR", balance);
        }
        id
    }

    /// (balance, version, ledger rows) of a customer's EUR account.
    pub fn account_state(&self, user_id: i64) -> (i64, i64, i64) {
        use creditdesk::db::schema::credit_transactions;
        use diesel::prelude::*;
        let mut conn = self.conn();
        let account = creditdesk::store::credits::account(&mut conn, user_id, "EUR").unwrap();
        let rows: i64 = credit_transactions::table
            .filter(credit_transactions::user_id.eq(user_id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        account
            .map(|a| (a.balance, a.version, rows))
            .unwrap_or((0, 0, rows))
    }

    pub fn assert_verified(&self) {
        let report = creditdesk::ledger::verify::verify(&mut self.conn()).unwrap();
        assert!(report.is_clean(), "verify: {:?}", report.problems);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            actix_web::rt::System::new().block_on(handle.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub set_cookies: Vec<String>,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_lowercase()).map(String::as_str)
    }

    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }
}

/// Keeps cookies and the session's CSRF token.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    pub cookies: HashMap<String, String>,
    pub csrf: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        Client {
            base: base.to_owned(),
            agent,
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn read(&mut self, result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut response = result.expect("HTTP request");
        let status = response.status().as_u16();
        let mut headers = HashMap::new();
        let mut set_cookies = Vec::new();
        for (name, value) in response.headers() {
            let value = value.to_str().unwrap_or("").to_owned();
            if name.as_str() == "set-cookie" {
                set_cookies.push(value.clone());
                let pair = value.split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    if v.is_empty() || value.contains("Max-Age=0") {
                        self.cookies.remove(k.trim());
                    } else {
                        self.cookies.insert(k.trim().to_owned(), v.to_owned());
                    }
                }
            }
            headers.insert(name.as_str().to_owned(), value);
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .expect("read the body");
        Reply {
            status,
            set_cookies,
            headers,
            body,
        }
    }

    pub fn get_with(&mut self, path: &str, extra: &[(&str, &str)]) -> Reply {
        let mut request = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let result = request.call();
        self.read(result)
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn get_htmx(&mut self, path: &str) -> Reply {
        self.get_with(path, &[("HX-Request", "true")])
    }

    pub fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let result = request.send_form(fields.iter().copied());
        self.read(result)
    }

    /// A form POST carrying the session's CSRF token, like the console's forms.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_with(path, &all, &[])
    }

    pub fn post_htmx(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_with(path, &all, &[("HX-Request", "true")])
    }

    /// A multipart POST (a file upload), the session's CSRF token first like the console's
    /// forms; `file` is `(file name, bytes)` sent as the field `file`.
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Reply {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        let (content_type, body) = multipart_body(&all, file);
        let result = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", content_type)
            .send(&body[..]);
        self.read(result)
    }

    pub fn login(&mut self, email: &str, password: &str) -> Reply {
        let page = self.get("/login");
        let token = hidden_value(&page.body, "csrf_token").expect("login form has a csrf_token");
        self.post_with(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
            ],
            &[],
        )
    }

    /// Reads the session's CSRF token from a console page.
    pub fn refresh_csrf(&mut self) {
        let page = self.get("/users");
        self.csrf = meta_csrf(&page.body).expect("csrf meta tag");
    }
}

pub fn meta_csrf(body: &str) -> Option<String> {
    let start =
        body.find("name=\"csrf-token\" content=\"")? + "name=\"csrf-token\" content=\"".len();
    Some(body[start..].split('"').next()?.to_owned())
}

pub fn hidden_value(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

/// HTML-escapes as askama does, to find typed values in a page.
pub fn escape(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP, for what a well-behaved client library will not send or will not let us watch:
// odd methods, slow readers, a body cut short.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An open connection to the server with a request sent on it.
pub struct RawExchange {
    pub stream: TcpStream,
}

impl RawExchange {
    /// Sends `request` (the whole head, ending in a blank line) to the app.
    pub fn send(address: &str, request: &str) -> RawExchange {
        let host = address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        stream.write_all(request.as_bytes()).expect("send");
        RawExchange { stream }
    }

    /// Reads until the head is complete, then about `at_least` bytes more; returns the head.
    pub fn read_head_and(&mut self, at_least: usize) -> String {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            let n = self.stream.read(&mut buffer).expect("read");
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buffer[..n]);
            if let Some(end) = find(&seen, b"\r\n\r\n") {
                if seen.len() >= end + 4 + at_least {
                    return String::from_utf8_lossy(&seen[..end + 4]).into_owned();
                }
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    }

    /// Everything until the server closes the connection (or stops sending for 60 s).
    pub fn read_rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let mut buffer = [0u8; 65536];
        loop {
            match self.stream.read(&mut buffer) {
                Ok(0) | Err(_) => return rest,
                Ok(n) => rest.extend_from_slice(&buffer[..n]),
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A request head with the client's cookies.
pub fn raw_get(client: &Client, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        client.cookie_header()
    )
}

/// A one-shot request: sends it and reads the whole answer.
pub fn raw_request(address: &str, request: &str) -> String {
    let mut exchange = RawExchange::send(address, request);
    String::from_utf8_lossy(&exchange.read_rest()).into_owned()
}

impl TestApp {
    /// Runs SQL that differs by backend (test set-up behind the application's back).
    pub fn execute_sql(&self, sqlite: &str, postgres: &str) {
        use diesel::connection::SimpleConnection;
        let sql = if self.db.is_postgres() {
            postgres
        } else {
            sqlite
        };
        self.conn().batch_execute(sql).expect("test SQL");
    }

    /// Makes every insert into the activity log fail, as a full disk or a broken trigger
    /// would.
    pub fn break_the_activity_log(&self) {
        self.execute_sql(
            "CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_log \
             BEGIN SELECT RAISE(ABORT, 'the activity log is unavailable'); END;",
            "CREATE FUNCTION refuse_activity() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the activity log is unavailable'; END $$; \
             CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_activity();",
        );
    }

    /// How many activity rows have `action`.
    pub fn activity_count(&self, action: &str) -> i64 {
        use creditdesk::db::schema::activity_log;
        use diesel::prelude::*;
        activity_log::table
            .filter(activity_log::action.eq(action))
            .count()
            .get_result(&mut self.conn())
            .unwrap()
    }

    /// Waits up to `seconds` for an activity row with `action`.
    pub fn wait_for_activity(&self, action: &str, seconds: u64) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(seconds) {
            if self.activity_count(action) > 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl TestApp {
    /// A client with a fresh session of the admin of `role`, made directly in the database
    /// (no sign-in form, no password hashing): for tests that need many sessions.
    pub fn session_for(&self, role: Role) -> Client {
        use creditdesk::db::schema::admins;
        use diesel::prelude::*;
        let mut conn = self.conn();
        let admin_id: i64 = admins::table
            .filter(admins::email.eq(format!("{}@example.com", role.as_str())))
            .select(admins::id)
            .first(&mut conn)
            .expect("the admin of the role");
        let policy = creditdesk::store::sessions::SessionPolicy::default();
        let (token, session) =
            creditdesk::store::sessions::create(&mut conn, admin_id, policy).expect("a session");
        let mut client = self.client();
        client
            .cookies
            .insert(creditdesk::auth::SESSION_COOKIE.to_owned(), token);
        client.csrf = session.csrf_token;
        client
    }
}

/// A `multipart/form-data` body of text fields and an optional file, and its content type.
pub fn multipart_body(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "creditdesk-test-5f0c7a1e9b";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}
