//! `creditdesk backup FILE` (docs/operations.md, "Backup and restore"): copies of a SQLite
//! database taken while the real server keeps writing are clean and hold a prefix of the
//! ledger; PostgreSQL is referred to pg_dump.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::process::{
    creditdesk, customer_ids, demo_with_key, ledger, printed, serve, unbalanced_accounts, Answer,
    Load,
};
use common::TestDb;
use creditdesk::db::{self, PoolOptions};
use rand::Rng;

const CLIENTS: usize = 4;
const BACKUPS: usize = 3;

/// A folder of its own under the target's temporary folder, removed afterwards.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Folder {
        let unique = format!("{:016x}", rand::thread_rng().gen::<u64>());
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("backups-{unique}"));
        std::fs::create_dir_all(&path).expect("create the folder");
        Folder(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("list the folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy taken, with how many adjustments were answered 201 before it began and after it
/// ended.
struct Copy {
    path: PathBuf,
    started: Instant,
    written_before: u64,
    written_after: u64,
}

fn backup(url: &str, path: &Path) -> std::process::Output {
    creditdesk(url, &["backup", path.to_str().expect("a UTF-8 path")])
}

#[test]
fn backups_under_write_load_are_clean_prefixes_of_the_ledger() {
    // Arrange: SQLite on every run (PostgreSQL is pg_dump's job), a server, a steady stream.
    let db = TestDb::sqlite();
    let folder = Folder::new();
    let key = demo_with_key(&db.url, 20);
    let pool = db.pool();
    let customers = customer_ids(&mut pool.get().unwrap());
    let server = serve(&db.url);
    let load = Load::start(&server.address, &key, &customers, CLIENTS, "backup");
    load.wait_for_written(50);

    // Act: backups while the clients keep writing, with writes between them.
    let mut copies = Vec::new();
    for n in 0..BACKUPS {
        let path = folder.file(&format!("copy {n} 'quoted'.db"));
        let started = Instant::now();
        let written_before = load.written();
        let output = backup(&db.url, &path);
        let written_after = load.written();
        assert!(output.status.success(), "backup {n}: {}", printed(&output));
        assert!(
            printed(&output).contains("Backed up to"),
            "{}",
            printed(&output)
        );
        copies.push(Copy {
            path,
            started,
            written_before,
            written_after,
        });
        load.wait_for_written(written_after + 30);
    }
    let outcomes = load.finish();
    drop(server);

    // Assert: each copy is clean and holds the ledger's first rows, no fewer than were
    // answered before it began, no more than were answered or in flight when it ended.
    let original = ledger(&mut pool.get().unwrap());
    for copy in &copies {
        let shown = copy.path.display();
        let url = copy.path.to_str().unwrap();
        let verify = creditdesk(url, &["verify"]);
        assert!(
            verify.status.success(),
            "verify {shown}: {}",
            printed(&verify)
        );
        let copied_pool = db::connect(url, PoolOptions::new(1)).expect("open the copy");
        let mut conn = copied_pool.get().unwrap();
        let rows = ledger(&mut conn);
        assert_eq!(rows[..], original[..rows.len()], "{shown}: not a prefix");
        assert_eq!(unbalanced_accounts(&mut conn), vec![], "{shown}");
        let from_clients = rows
            .iter()
            .filter(|r| r.note.starts_with("backup "))
            .count() as u64;
        assert!(
            (copy.written_before..=copy.written_after + CLIENTS as u64).contains(&from_clients),
            "{shown}: {from_clients} rows from clients, {} answered before, {} after",
            copy.written_before,
            copy.written_after
        );
        for outcome in outcomes.iter().filter(|o| o.at < copy.started) {
            if matches!(outcome.answer, Answer::Written { .. }) {
                assert!(
                    rows.iter().any(|r| r.note == outcome.note),
                    "{shown}: answered before the backup but missing: {outcome:?}"
                );
            }
        }
        eprintln!(
            "backup {shown}: {} rows ({from_clients} from clients; {} answered before it, {} after)",
            rows.len(),
            copy.written_before,
            copy.written_after
        );
    }

    // An existing file is refused and left as it was; no partial copy is left behind.
    let first = &copies[0].path;
    let bytes = std::fs::read(first).unwrap();
    let again = backup(&db.url, first);
    assert!(!again.status.success());
    assert!(
        printed(&again).contains("exists already"),
        "{}",
        printed(&again)
    );
    assert_eq!(std::fs::read(first).unwrap(), bytes);
    assert!(
        folder.names().iter().all(|n| !n.contains("partial")),
        "{:?}",
        folder.names()
    );
}

#[test]
fn backup_refuses_what_it_cannot_copy() {
    let folder = Folder::new();
    let target = folder.file("copy.db");
    // On the PostgreSQL run the suite's own server; otherwise a URL nobody answers: the
    // refusal comes from the scheme, before any connection.
    let postgres = TestDb::new();
    let url = if postgres.is_postgres() {
        postgres.url.clone()
    } else {
        "postgres://postgres@127.0.0.1:1/creditdesk".to_owned()
    };

    let refused = backup(&url, &target);
    let missing_source = backup(folder.file("no-such.db").to_str().unwrap(), &target);

    assert_eq!(refused.status.code(), Some(1), "{}", printed(&refused));
    let message = printed(&refused);
    assert!(message.contains("pg_dump -Fc"), "{message}");
    assert!(message.contains("pg_restore"), "{message}");
    assert_eq!(missing_source.status.code(), Some(1));
    assert!(
        printed(&missing_source).contains("no SQLite database at"),
        "{}",
        printed(&missing_source)
    );
    assert_eq!(folder.names(), Vec::<String>::new(), "nothing written");
}
