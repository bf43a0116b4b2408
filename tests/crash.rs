//! Crash safety (docs/operations.md, "Crash safety"): `kill -9` the real server while
//! several clients write through the API, restart it on the same database, and account for
//! every ledger row: each adjustment answered 201 is there with the id it was answered
//! with, no refused one is, and the only rows nobody was answered for are requests that
//! were in flight at the kill. The invariants hold and the restarted server writes.

mod common;

use std::collections::HashMap;
use std::time::Instant;

use common::process::{
    adjust_once, creditdesk, customer_ids, demo_with_key, ledger, printed, serve, Answer, Load,
    Outcome,
};
use common::TestDb;

const CLIENTS: usize = 6;
const ROUNDS: usize = 3;
/// Adjustments answered 201 in a round before the kill.
const WRITES_BEFORE_KILL: u64 = 150;

#[test]
fn kill_9_mid_stream_loses_no_answered_write_and_invents_none() {
    // Arrange: demo customers, a key, and the ledger as it stands before any client writes.
    let db = TestDb::new();
    let key = demo_with_key(&db.url, 20);
    let pool = db.pool();
    let customers = customer_ids(&mut pool.get().unwrap());
    let before = ledger(&mut pool.get().unwrap());

    // Act: rounds of a steady stream, each ended by SIGKILL after N answered writes.
    let mut outcomes: Vec<Outcome> = Vec::new();
    for round in 0..ROUNDS {
        let server = serve(&db.url);
        let load = Load::start(
            &server.address,
            &key,
            &customers,
            CLIENTS,
            &format!("crash r{round}"),
        );
        load.wait_for_written(WRITES_BEFORE_KILL);
        let killed_at = Instant::now();
        server.kill_9();
        let round_outcomes = load.finish();
        let lost: Vec<&Outcome> = round_outcomes
            .iter()
            .filter(|o| o.answer == Answer::Lost)
            .collect();
        assert!(
            lost.iter().all(|o| o.at >= killed_at),
            "round {round}: a request went unanswered before the kill: {lost:?}"
        );
        assert!(lost.len() <= CLIENTS, "round {round}: {lost:?}");
        outcomes.extend(round_outcomes);
    }
    let server = serve(&db.url);

    // Assert: the rows before the stream are untouched; every later row is traced.
    let after = ledger(&mut pool.get().unwrap());
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "rows from before the stream"
    );
    let sent: HashMap<&str, &Outcome> = outcomes.iter().map(|o| (o.note.as_str(), o)).collect();
    assert_eq!(sent.len(), outcomes.len(), "every note is unique");
    let mut found: HashMap<&str, i64> = HashMap::new();
    let mut written_unanswered = 0;
    for row in &after[before.len()..] {
        assert!(
            found.insert(row.note.as_str(), row.id).is_none(),
            "two rows from one request: {row:?}"
        );
        let outcome = sent
            .get(row.note.as_str())
            .unwrap_or_else(|| panic!("a row no client asked for: {row:?}"));
        match outcome.answer {
            Answer::Written { record_id, delta } => {
                assert_eq!((row.id, row.delta), (record_id, delta), "{outcome:?}");
            }
            Answer::Refused(status) => panic!("a request answered {status} wrote {row:?}"),
            Answer::Lost => {
                assert_eq!(row.delta, outcome.change, "{outcome:?}");
                written_unanswered += 1;
            }
        }
    }
    let answered: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.answer, Answer::Written { .. }))
        .collect();
    let missing: Vec<&&Outcome> = answered
        .iter()
        .filter(|o| !found.contains_key(o.note.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "answered 201 but not in the ledger: {missing:?}"
    );
    let lost = outcomes.iter().filter(|o| o.answer == Answer::Lost).count();
    assert!(written_unanswered <= lost && lost <= CLIENTS * ROUNDS);
    eprintln!(
        "crash: {ROUNDS} kills; {} requests, {} answered 201, {} refused, {lost} in flight at \
         a kill of which {written_unanswered} were written; {} rows found after the stream",
        outcomes.len(),
        answered.len(),
        outcomes.len() - answered.len() - lost,
        after.len() - before.len()
    );

    let verify = creditdesk(&db.url, &["verify"]);
    assert!(verify.status.success(), "verify: {}", printed(&verify));

    let note = "after the last restart";
    let Answer::Written { record_id, .. } = adjust_once(&server.address, &key, customers[0], note)
    else {
        panic!("the restarted server refused a new adjustment");
    };
    let last = ledger(&mut pool.get().unwrap()).pop().expect("a row");
    assert_eq!((last.id, last.note.as_str()), (record_id, note));
}
