//! The `creditdesk` binary as an operator runs it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use diesel::connection::SimpleConnection;

fn creditdesk(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditdesk"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("CREDITDESK_ADMIN_PASSWORD")
        .output()
        .expect("run creditdesk")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `serve` on a free port and returns what it printed up to "listening".
fn first_lines_of_serve(db: &TestDb) -> String {
    let (mut child, printed) = start_serve(db, "127.0.0.1:0");
    child.kill().expect("stop serve");
    child.wait().expect("wait for serve");
    printed
}

/// Starts `serve --bind bind`; returns the running server and what it printed up to
/// "listening".
fn start_serve(db: &TestDb, bind: &str) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_creditdesk"))
        .args(["serve", "--bind", bind])
        .env("DATABASE_URL", &db.url)
        .env_remove("CREDITDESK_SECURE_COOKIES")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut printed = String::new();
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    for line in reader.lines() {
        let line = line.expect("line");
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("listening on http://") {
            break;
        }
    }
    (child, printed)
}

#[test]
fn cookies_are_secure_by_default_unless_only_loopback_listens() {
    let db = TestDb::new();
    for (bind, secure) in [("127.0.0.1:0", false), ("0.0.0.0:0", true)] {
        let (mut child, printed) = start_serve(&db, bind);
        let port = printed
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .expect("a port");
        let mut client = common::Client::new(&format!("http://127.0.0.1:{port}"));
        let page = client.get("/login");
        child.kill().expect("stop serve");
        child.wait().expect("wait for serve");
        let cookie = page.set_cookies.join("; ");
        assert_eq!(cookie.contains("Secure"), secure, "{bind}: {cookie}");
    }
}

#[test]
fn the_first_start_prints_the_owner_login_once() {
    let db = TestDb::new();

    let first = first_lines_of_serve(&db);
    let second = first_lines_of_serve(&db);

    assert!(
        first.contains("email:    owner@creditdesk.local"),
        "{first}"
    );
    let password = first
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("a password line");
    assert!(password.trim().len() >= 12, "{first}");
    assert!(!second.contains("password"), "{second}");
    assert!(second.contains("listening"), "{second}");
}

#[test]
fn demo_then_verify_is_clean() {
    let db = TestDb::new();

    let demo = creditdesk(&db, &["demo", "--customers", "30"]);
    let verify = creditdesk(&db, &["verify"]);

    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(stdout(&demo).contains("30 customers"), "{}", stdout(&demo));
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(stdout(&verify).contains("All invariants hold."));
}

#[test]
fn verify_exits_1_and_lists_each_break() {
    // Arrange: demo data, then corruption with raw SQL behind the ledger's back.
    let db = TestDb::new();
    assert!(creditdesk(&db, &["demo", "--customers", "10"])
        .status
        .success());
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let drop_trigger = if db.is_postgres() {
        "DROP TRIGGER credit_transactions_append_only ON credit_transactions;"
    } else {
        "DROP TRIGGER credit_transactions_no_update;"
    };
    conn.batch_execute(drop_trigger).unwrap();
    conn.batch_execute(
        "UPDATE credit_transactions SET delta = delta + 7 WHERE id = (SELECT MIN(id) FROM credit_transactions);
         UPDATE credit_accounts SET balance = balance + 3, total_added = total_added + 1 WHERE id = (SELECT MAX(id) FROM credit_accounts);",
    )
    .unwrap();

    // Act
    let verify = creditdesk(&db, &["verify"]);

    // Assert
    let printed = stdout(&verify);
    assert_eq!(verify.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("differs from the sum of its rows"),
        "{printed}"
    );
    assert!(printed.contains("total_added"), "{printed}");
    assert!(printed.contains("is not balance_after"), "{printed}");
    assert!(printed.contains("invariant breaks found"), "{printed}");
}

#[test]
fn a_bad_postgres_url_fails_at_once_with_the_servers_message() {
    let db = TestDb::new();
    for (url, message) in [
        (
            "postgres://postgres@127.0.0.1:1/postgres",
            "Connection refused",
        ),
        (
            "postgres://no_such_role_here@127.0.0.1:5432/postgres",
            "role \"no_such_role_here\" does not exist",
        ),
    ] {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_creditdesk"))
            .args(["--database-url", url, "migrate"])
            .output()
            .expect("run");
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(message), "{url}: {stderr}");
        assert!(took < Duration::from_secs(2), "{url} took {took:?}");
    }
    drop(db);
}

#[test]
fn admin_and_api_key_creation() {
    let db = TestDb::new();

    let admin = creditdesk(
        &db,
        &[
            "admin",
            "create",
            "--email",
            "Sam@Example.com",
            "--name",
            "Sam",
            "--role",
            "support",
        ],
    );
    let duplicate = creditdesk(
        &db,
        &[
            "admin",
            "create",
            "--email",
            "sam@example.com",
            "--name",
            "Sam",
            "--role",
            "support",
            "--password",
            "long enough password",
        ],
    );
    let bad_role = creditdesk(
        &db,
        &[
            "admin",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "root",
        ],
    );
    let key = creditdesk(&db, &["api-key", "create", "--name", "Checkout"]);

    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    assert!(stdout(&admin).contains("Created sam@example.com (Support)"));
    assert!(stdout(&admin).contains("Password: "));
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));
    let secret = stdout(&key).lines().last().unwrap_or_default().to_owned();
    assert!(
        secret.starts_with("cdk_") && secret.len() > 30,
        "{}",
        stdout(&key)
    );
}

#[test]
fn every_command_has_help() {
    let db = TestDb::new();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["admin", "create", "--help"],
        vec!["api-key", "create", "--help"],
        vec!["demo", "--help"],
        vec!["verify", "--help"],
        vec!["import", "customers", "--help"],
        vec!["backup", "--help"],
    ] {
        let output = creditdesk(&db, &args);
        assert!(output.status.success(), "{args:?}");
        assert!(stdout(&output).contains("Usage: creditdesk"), "{args:?}");
    }
}

#[test]
fn import_customers_checks_first_and_applies_all_or_none() {
    let db = TestDb::new();
    assert!(creditdesk(&db, &["demo", "--customers", "3"])
        .status
        .success());
    let folder = tempfile_dir();
    let file = folder.join("crm export.csv");
    std::fs::write(
        &file,
        "external_id;email;first_name;credits_EUR\r\n\
         crm-1;new@example.com;New;25\r\n\
         crm-2;broken;Broken;5\r\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let customers = |db: &TestDb| -> i64 {
        use creditdesk::db::schema::users;
        use diesel::prelude::*;
        users::table
            .count()
            .get_result(&mut db.pool().get().unwrap())
            .unwrap()
    };
    let before = customers(&db);

    // A dry run and a plain run with a refused row both write nothing, exit 1 and say why.
    for args in [
        vec!["import", "customers", path, "--dry-run"],
        vec!["import", "customers", path],
    ] {
        let output = creditdesk(&db, &args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stdout(&output)
        );
        assert!(
            stdout(&output).contains("line 3: email: Enter an email address"),
            "{}",
            stdout(&output)
        );
        assert!(stdout(&output).contains(
            "2 rows: 1 to create, 0 to update, 0 unchanged, 1 refused; 1 opening balance to post."
        ));
        assert_eq!(customers(&db), before);
    }
    let applied = creditdesk(&db, &["import", "customers", path, "--skip-refused"]);
    assert!(applied.status.success(), "{}", stdout(&applied));
    assert!(
        stdout(&applied).contains(
            "1 created, 0 updated, 0 unchanged; 1 opening balance posted; 1 refused row skipped"
        ),
        "{}",
        stdout(&applied)
    );
    assert_eq!(customers(&db), before + 1);
    let again = creditdesk(&db, &["import", "customers", path, "--skip-refused"]);
    assert!(
        stdout(&again).contains("0 created, 0 updated, 1 unchanged; 0 opening balances posted"),
        "{}",
        stdout(&again)
    );
    let verify = creditdesk(&db, &["verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));

    let missing = creditdesk(&db, &["import", "customers", "/nonexistent/x.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/x.csv"));
    std::fs::remove_dir_all(folder).unwrap();
}

/// A fresh folder under the system's temporary directory.
fn tempfile_dir() -> std::path::PathBuf {
    use rand::Rng;
    let unique = rand::thread_rng().gen::<u64>();
    let folder = std::env::temp_dir().join(format!("creditdesk-cli-{unique:016x}"));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}
