//! The database goes away and comes back (docs/operations.md, "When the database is down"):
//! a private PostgreSQL cluster, started and stopped by the test alone, whatever database
//! the rest of the suite runs on.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use actix_web::ResponseError;
use common::served::{self, Served};
use common::{Client, Reply};
use creditdesk::api::ApiError;
use creditdesk::db;
use creditdesk::error::AppError;
use creditdesk::ledger::LedgerError;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::Rng;

/// A PostgreSQL cluster of the test's own: its folder, port and socket, stopped and removed
/// when dropped. `initdb` and `pg_ctl` refuse to run as root, so as root they run as the
/// `postgres` user on a folder it owns.
struct PrivateCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivateCluster {
    fn start() -> PrivateCluster {
        let bin = postgres_bin();
        let unique = format!("{:016x}", rand::thread_rng().gen::<u64>());
        let dir = std::env::temp_dir().join(format!("creditdesk-outage-{unique}"));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let ids = |flag: &str| -> u32 {
                let out = Command::new("id").args([flag, "postgres"]).output();
                let out = out.expect("id postgres");
                assert!(out.status.success(), "no postgres user to run initdb as");
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            std::os::unix::fs::chown(&dir, Some(ids("-u")), Some(ids("-g")))
                .expect("give the cluster folder to postgres");
        }
        let mut cluster = PrivateCluster {
            bin,
            dir,
            port: 0,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--no-instructions",
            ],
        );
        // A free port now; should another process take it before the server binds, start
        // again with another.
        for _ in 0..5 {
            cluster.port = free_port();
            if cluster.try_pg_ctl_start() {
                return cluster;
            }
        }
        panic!("the private cluster did not start: {}", cluster.log());
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> bool {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        if !output.status.success() {
            eprintln!(
                "{program} {args:?}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output.status.success()
    }

    fn try_pg_ctl_start(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    fn start_again(&self) {
        assert!(self.try_pg_ctl_start(), "restart: {}", self.log());
    }

    fn stop(&self) {
        let data = self.data();
        let stopped = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
        assert!(stopped, "stop: {}", self.log());
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.data();
        let status = self
            .command("pg_ctl")
            .args(["-D", &data, "status"])
            .output();
        if status.is_ok_and(|out| out.status.success()) {
            self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest PostgreSQL's programs (`/usr/lib/postgresql/<version>/bin` on Debian).
fn postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("PostgreSQL's server programs are needed in {root:?}: {e}"))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no initdb under /usr/lib/postgresql/*/bin")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// A request and how long its answer took.
fn timed(request: impl FnOnce() -> Reply) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = request();
    (reply, started.elapsed())
}

/// Asks `request` until it answers 200, for up to `limit`; every other answer must be a
/// 503 (never a 500). Returns the answers that were not 200.
fn until_ok(what: &str, limit: Duration, mut request: impl FnMut() -> Reply) -> Vec<u16> {
    let deadline = Instant::now() + limit;
    let mut others = Vec::new();
    loop {
        let reply = request();
        match reply.status {
            200 => return others,
            503 => others.push(503),
            other => panic!(
                "{what}: {other} while the database came back: {}",
                reply.body
            ),
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still 503 {limit:?} after the database came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_the_database_down_pages_the_api_and_healthz_answer_503_quickly_and_recover_alone() {
    let cluster = PrivateCluster::start();
    let url = cluster.url();
    served::run(&url, &["demo", "--customers", "3"]);
    let key = served::run(&url, &["api-key", "create", "--name", "outage"]);
    let key = String::from_utf8(key.stdout).unwrap();
    let bearer = format!("Bearer {}", key.lines().last().unwrap().trim());
    // A long checkout timeout: an outage must not make requests wait for it.
    let mut served = Served::start(&url, &[("CREDITDESK_POOL_TIMEOUT", "30")]);
    let (email, password) = served.owner.clone().expect("the owner was created");
    let mut admin = Client::new(&served.address);
    assert_eq!(admin.login(&email, &password).status, 303);
    let mut public = Client::new(&served.address);
    let mut api = Client::new(&served.address);
    let auth = [("Authorization", bearer.as_str())];

    let page = |client: &mut Client| client.get("/users/1");
    let api_call = |client: &mut Client| client.get_with("/api/v1/users/1", &auth);
    assert_eq!(page(&mut admin).status, 200);
    assert_eq!(api_call(&mut api).status, 200);
    assert_eq!(public.get("/healthz").status, 200);

    cluster.stop();

    // Twice: the first requests meet the pool's dead connections, the next ones a pool
    // that cannot connect.
    for round in 1..=2 {
        let (reply, took) = timed(|| page(&mut admin));
        assert_eq!(reply.status, 503, "round {round}, page: {}", reply.body);
        assert!(
            took < Duration::from_secs(8),
            "round {round}: page took {took:?}"
        );
        assert!(reply.header("retry-after").is_some());
        assert!(reply.header("x-request-id").is_some());
        assert!(reply.header("content-security-policy").is_some());
        assert!(reply.body.contains("try again"), "{}", reply.body);
        assert!(reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));

        let (reply, took) = timed(|| api_call(&mut api));
        assert_eq!(reply.status, 503, "round {round}, API: {}", reply.body);
        assert!(
            took < Duration::from_secs(8),
            "round {round}: API took {took:?}"
        );
        assert!(reply.header("retry-after").is_some());
        assert!(reply.header("x-request-id").is_some());
        let body: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
        assert_eq!(body["error"]["code"], "unavailable", "{body}");

        let (reply, took) = timed(|| public.get("/healthz"));
        assert_eq!(reply.status, 503, "round {round}, healthz: {}", reply.body);
        assert!(
            took < Duration::from_secs(8),
            "round {round}: healthz took {took:?}"
        );
    }
    assert!(served.is_running(), "the server died in the outage");

    cluster.start_again();
    let back = Duration::from_secs(15);
    until_ok("healthz", back, || public.get("/healthz"));
    until_ok("page", back, || page(&mut admin));
    until_ok("API", back, || api_call(&mut api));
    let reply = page(&mut admin);
    assert!(reply.body.contains("customer"), "{}", reply.body);
    assert!(served.is_running(), "the server was restarted");

    served.sigterm();
    let status = served.wait_exit(Duration::from_secs(20)).expect("exits");
    assert_eq!(status.code(), Some(0));
    served.finish();
    let stderr = served.stderr().join("\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("request failed"),
        "a 500 was logged:\n{stderr}"
    );
    assert!(
        stderr.contains("the database cannot be reached"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the database can be reached again"),
        "{stderr}"
    );
    // What the blocking database work logs carries the request's id too.
    let waits: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("no database connection in time"))
        .collect();
    assert!(!waits.is_empty(), "{stderr}");
    for line in waits {
        assert!(line.contains("request{request_id="), "{line}");
    }
}

#[test]
fn a_connection_the_database_dropped_is_a_503_and_is_never_handed_out_again() {
    let cluster = PrivateCluster::start();
    let pool = db::connect(&cluster.url(), db::PoolOptions::new(1)).expect("pool");
    let mut other = PgConnection::establish(&cluster.url()).expect("a second connection");

    // Ended under the pool's feet, as a restart or a failover does.
    let mut conn = pool.get().expect("a connection");
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let Pid { pid } = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut *conn)
        .expect("its pid");
    terminate(&mut other, pid);
    let error = conn
        .batch_execute("SELECT 1")
        .expect_err("a dead connection fails");
    assert!(db::is_unreachable(&error), "{error:?}");

    // Whichever way it reaches a handler, it is a 503 worth retrying, not a 500.
    let page = AppError::from(clone_error(&error));
    assert_eq!(page.status_code(), 503, "{page:?}");
    let ledger = AppError::from(LedgerError::Database(clone_error(&error)));
    assert_eq!(ledger.status_code(), 503);
    let api = ApiError::from(LedgerError::Database(clone_error(&error)));
    assert_eq!((api.status.as_u16(), api.code), (503, "unavailable"));
    assert_eq!(api.retry_after_seconds, Some(5));
    let api = ApiError::from(clone_error(&error));
    assert_eq!(api.status.as_u16(), 503);
    let response = page.error_response();
    assert!(response.headers().contains_key("retry-after"));

    // Back in the pool, it is closed, not kept.
    drop(conn);
    let mut conn = pool.get().expect("a fresh connection");
    conn.batch_execute("SELECT 1")
        .expect("the pool does not hand out the dead connection");

    // One that dies while idle in the pool (a restart, a failover) is checked before it is
    // handed out, and replaced: the request that takes it never sees it.
    let Pid { pid } = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut *conn)
        .expect("its pid");
    drop(conn);
    terminate(&mut other, pid);
    let mut conn = pool.get().expect("a fresh connection");
    conn.batch_execute("SELECT 1")
        .expect("the pool does not hand out a connection that died idle");
}

/// Ends the backend `pid` and waits (up to 10 s) until it is gone.
fn terminate(conn: &mut PgConnection, pid: i32) {
    #[derive(QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ended: bool,
    }
    let Ended { ended } = diesel::sql_query(format!(
        "SELECT pg_terminate_backend({pid}, 10000) AS ended"
    ))
    .get_result::<Ended>(conn)
    .expect("terminate the backend");
    assert!(ended, "backend {pid} did not end");
}

/// The same failure again (diesel's errors are not `Clone`).
fn clone_error(error: &diesel::result::Error) -> diesel::result::Error {
    match error {
        diesel::result::Error::DatabaseError(kind, info) => {
            diesel::result::Error::DatabaseError(*kind, Box::new(info.message().to_owned()))
        }
        other => panic!("not a database error: {other:?}"),
    }
}
