//! Expiring grants on a real database (docs/concepts.md, "Expiry"): the spending order, refunds
//! back to their grants, and expiry, each checked against a reference model small enough to
//! read at a glance; then the same model against random operations.

mod common;

use std::collections::HashMap;

use common::{configure, currency, customer, TestDb};
use creditdesk::db::models::CreditGrant;
use creditdesk::db::now_utc;
use creditdesk::db::schema::{credit_grants, credit_transactions};
use creditdesk::domain::{Change, InvoiceAsk, Money};
use creditdesk::ledger::invoices::{pay_invoice, refund_invoice, PaymentRequest, RefundRequest};
use creditdesk::ledger::verify::verify;
use creditdesk::ledger::{self, expiry, Actor, Adjustment};
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use time::{Date, Duration};

/// One step of a case: a grant (credits, days until it expires from the case's first day, or
/// never), a reduction by an admin, a payment and a refund of an invoice, or the clock
/// moving on some days (and the expiry run).
#[derive(Debug, Clone)]
enum Op {
    Grant(i64, Option<i64>),
    Reduce(i64),
    SetTo(i64),
    Pay(&'static str, i64),
    Refund(&'static str, i64),
    Advance(i64),
}

/// A grant as the model keeps it; its id is its place in creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModelGrant {
    expires: Option<Date>,
    remaining: i64,
    closed: bool,
}

/// The rules of docs/concepts.md, "Expiry", written as plainly as possible.
#[derive(Debug, Clone)]
struct Model {
    grants: Vec<ModelGrant>,
    /// What each invoice's rows still owe each grant.
    owed: HashMap<&'static str, Vec<(usize, i64)>>,
    today: Date,
}

impl Model {
    fn new(today: Date) -> Model {
        Model {
            grants: Vec::new(),
            owed: HashMap::new(),
            today,
        }
    }

    fn balance(&self) -> i64 {
        self.grants.iter().map(|g| g.remaining).sum()
    }

    /// Soonest expiry first, never-expiring last, then the oldest.
    fn key(&self, i: usize) -> (bool, Option<Date>, usize) {
        (self.grants[i].expires.is_none(), self.grants[i].expires, i)
    }

    fn take(&mut self, credits: i64) -> Vec<(usize, i64)> {
        let mut order: Vec<usize> = (0..self.grants.len())
            .filter(|&i| self.grants[i].remaining > 0)
            .collect();
        order.sort_by_key(|&i| self.key(i));
        let mut left = credits;
        let mut taken = Vec::new();
        for i in order {
            let n = self.grants[i].remaining.min(left);
            if n > 0 {
                self.grants[i].remaining -= n;
                taken.push((i, n));
                left -= n;
            }
        }
        assert_eq!(left, 0, "the model took more than its balance");
        taken
    }

    fn apply(&mut self, op: &Op, first_day: Date) {
        match *op {
            Op::Grant(credits, days) => self.grants.push(ModelGrant {
                expires: days.map(|d| first_day + Duration::days(d)),
                remaining: credits,
                closed: false,
            }),
            Op::Reduce(credits) => {
                self.take(credits);
            }
            Op::SetTo(total) => {
                let balance = self.balance();
                if total > balance {
                    self.apply(&Op::Grant(total - balance, None), first_day);
                } else {
                    self.take(balance - total);
                }
            }
            Op::Pay(invoice, credits) => {
                let taken = self.take(credits);
                self.owed.insert(invoice, taken);
            }
            Op::Refund(invoice, credits) => {
                let mut owed = self.owed.remove(invoice).unwrap_or_default();
                // Back to the grant spent last first: the reverse of the spending order.
                let mut order: Vec<usize> = (0..owed.len()).filter(|&k| owed[k].1 > 0).collect();
                order.sort_by_key(|&k| std::cmp::Reverse(self.key(owed[k].0)));
                let mut left = credits;
                for k in order {
                    let (i, n) = owed[k];
                    let back = n.min(left);
                    owed[k].1 -= back;
                    left -= back;
                    // A grant that has expired takes its credits back and expires them again.
                    if !self.grants[i].closed {
                        self.grants[i].remaining += back;
                    }
                }
                self.owed.insert(invoice, owed);
            }
            Op::Advance(days) => {
                self.today += Duration::days(days);
                let today = self.today;
                for grant in &mut self.grants {
                    if grant.remaining > 0 && grant.expires.is_some_and(|d| d < today) {
                        grant.remaining = 0;
                        grant.closed = true;
                    }
                }
            }
        }
    }
}

/// A customer with an EUR account on a fresh database, and the case's first day.
struct Case {
    _db: TestDb,
    pool: creditdesk::db::Pool,
    user: i64,
    first_day: Date,
    today: Date,
}

impl Case {
    fn new() -> Case {
        let db = TestDb::new();
        let pool = db.pool();
        let mut conn = pool.get().unwrap();
        configure(&mut conn, "EUR", "1");
        let user = customer(&mut conn, 1);
        drop(conn);
        let today = now_utc().date();
        Case {
            _db: db,
            pool,
            user,
            first_day: today,
            today,
        }
    }

    fn adjustment(&self, change: Change, expires_at: Option<Date>) -> Adjustment {
        common::adjustment(self.user, "EUR", change, expires_at)
    }

    fn apply(&mut self, op: &Op) {
        let conn = &mut self.pool.get().unwrap();
        match *op {
            Op::Grant(credits, days) => {
                let expires = days.map(|d| self.first_day + Duration::days(d));
                ledger::adjust(conn, self.adjustment(Change::By(credits), expires)).unwrap();
            }
            Op::Reduce(credits) => {
                ledger::adjust(conn, self.adjustment(Change::By(-credits), None)).unwrap();
            }
            Op::SetTo(total) => {
                ledger::adjust(conn, self.adjustment(Change::SetTo(total), None)).unwrap();
            }
            Op::Pay(invoice, credits) => {
                let request = PaymentRequest {
                    user_id: self.user,
                    currency: currency("EUR"),
                    invoice_id: invoice.to_owned(),
                    ask: InvoiceAsk {
                        invoice_amount: Money::new(Decimal::from(1_000_000), currency("EUR")),
                        apply_credits: Some(credits),
                        discount_code: false,
                    },
                    request_hash: format!("{invoice}-{credits}"),
                    actor: Actor::System,
                    audit: None,
                };
                pay_invoice(conn, &request).unwrap();
            }
            Op::Refund(invoice, credits) => {
                let request = RefundRequest {
                    invoice_id: invoice.to_owned(),
                    credits: Some(credits),
                    actor: Actor::System,
                    audit: None,
                };
                refund_invoice(conn, &request).unwrap();
            }
            Op::Advance(days) => {
                self.today += Duration::days(days);
                let outcome = expiry::run(conn, self.today, "test").unwrap();
                assert!(!outcome.busy);
            }
        }
    }

    fn grants(&self) -> Vec<ModelGrant> {
        let conn = &mut self.pool.get().unwrap();
        credit_grants::table
            .order(credit_grants::id)
            .select(CreditGrant::as_select())
            .load(conn)
            .unwrap()
            .into_iter()
            .map(|g| ModelGrant {
                expires: g.expires_at,
                remaining: g.remaining,
                closed: g.closed,
            })
            .collect()
    }

    fn balance(&self) -> i64 {
        let conn = &mut self.pool.get().unwrap();
        creditdesk::store::credits::account(conn, self.user, "EUR")
            .unwrap()
            .map_or(0, |a| a.balance)
    }

    fn kinds(&self) -> Vec<String> {
        let conn = &mut self.pool.get().unwrap();
        credit_transactions::table
            .order(credit_transactions::id)
            .select(credit_transactions::kind)
            .load(conn)
            .unwrap()
    }

    fn assert_verified(&self) {
        let report = verify(&mut self.pool.get().unwrap()).unwrap();
        assert!(report.is_clean(), "verify: {:?}", report.problems);
    }
}

/// Runs `ops` on the database and on the model, comparing every grant after every step.
fn run_case(ops: &[Op]) -> (Case, Model) {
    let mut case = Case::new();
    let mut model = Model::new(case.first_day);
    for (step, op) in ops.iter().enumerate() {
        case.apply(op);
        model.apply(op, case.first_day);
        assert_eq!(
            case.grants(),
            model.grants,
            "grants after step {step} ({op:?})"
        );
        assert_eq!(case.balance(), model.balance(), "balance after {op:?}");
    }
    case.assert_verified();
    (case, model)
}

fn left(case: &Case) -> Vec<i64> {
    case.grants().iter().map(|g| g.remaining).collect()
}

#[test]
fn spending_order_cases_follow_the_reference_model() {
    use Op::*;
    // (what the case shows, the steps, what each grant holds at the end)
    let cases: Vec<(&str, Vec<Op>, Vec<i64>)> = vec![
        (
            "soonest expiry first, never-expiring last",
            vec![
                Grant(10, None),
                Grant(10, Some(30)),
                Grant(10, Some(10)),
                Reduce(15),
            ],
            vec![10, 5, 0],
        ),
        (
            "a tie on the day: the older grant first",
            vec![Grant(10, Some(20)), Grant(10, Some(20)), Reduce(12)],
            vec![0, 8],
        ),
        (
            "never-expiring grants: the oldest first",
            vec![Grant(5, None), Grant(5, None), Grant(5, Some(3)), Reduce(8)],
            vec![2, 5, 0],
        ),
        (
            "set to a lower total takes in the same order",
            vec![Grant(10, None), Grant(20, Some(5)), SetTo(12)],
            vec![10, 2],
        ),
        (
            "a partial refund across two grants: the one spent last gets credits back first",
            vec![
                Grant(10, Some(10)),
                Grant(10, Some(40)),
                Pay("INV-1", 15),
                Refund("INV-1", 7),
            ],
            vec![2, 10],
        ),
        (
            "the rest of that refund",
            vec![
                Grant(10, Some(10)),
                Grant(10, Some(40)),
                Pay("INV-1", 15),
                Refund("INV-1", 7),
                Refund("INV-1", 8),
            ],
            vec![10, 10],
        ),
        (
            "a refund after the grant expired: given back and expired again",
            vec![
                Grant(10, Some(2)),
                Grant(10, None),
                Pay("INV-2", 6),
                Advance(3),
                Refund("INV-2", 6),
            ],
            vec![0, 10],
        ),
        (
            "expiry takes only what is left, once",
            vec![
                Grant(10, Some(1)),
                Grant(4, Some(1)),
                Reduce(11),
                Advance(2),
                Advance(1),
            ],
            vec![0, 0],
        ),
        (
            "credits granted after an expiry are spent normally",
            vec![Grant(10, Some(0)), Advance(1), Grant(7, Some(5)), Reduce(3)],
            vec![0, 4],
        ),
    ];
    for (name, ops, expected) in cases {
        let (case, model) = run_case(&ops);
        assert_eq!(left(&case), expected, "{name}");
        assert_eq!(
            model.grants.iter().map(|g| g.remaining).collect::<Vec<_>>(),
            expected,
            "{name} (model)"
        );
    }
}

#[test]
fn an_account_of_many_small_grants_is_spent_in_order_across_reads() {
    // More grants than the ledger reads at a time, dated and not, in mixed order.
    let mut ops: Vec<Op> = (0..150)
        .map(|i| Op::Grant(1 + i % 3, Some((i * 7) % 41)))
        .collect();
    ops.extend((0..70).map(|i| Op::Grant(1 + i % 2, None)));
    let mut case = Case::new();
    let mut model = Model::new(case.first_day);
    for op in &ops {
        case.apply(op);
        model.apply(op, case.first_day);
    }
    for op in [
        Op::Reduce(250),
        Op::Pay("INV-M", 100),
        Op::Refund("INV-M", 60),
    ] {
        case.apply(&op);
        model.apply(&op, case.first_day);
        assert_eq!(case.grants(), model.grants, "after {op:?}");
    }
    case.assert_verified();
}

#[test]
fn verify_names_a_grant_changed_behind_the_ledger() {
    use Op::*;
    let (case, _) = run_case(&[Grant(10, Some(5)), Grant(10, None), Pay("INV-V", 12)]);
    let conn = &mut case.pool.get().unwrap();
    diesel::update(credit_grants::table.filter(credit_grants::granted.eq(10)))
        .set(credit_grants::remaining.eq(credit_grants::remaining + 1))
        .execute(conn)
        .unwrap();
    let report = verify(conn).unwrap();
    let said = report.problems.join("\n");
    assert!(
        said.contains("its grants hold 10 credits, its balance is 8"),
        "{said}"
    );
    assert!(
        said.contains("granted 10 less drawn 10 is not its remaining 1"),
        "{said}"
    );
    assert!(
        said.contains("granted 10 less drawn 2 is not its remaining 9"),
        "{said}"
    );
}

#[test]
fn a_refund_to_an_expired_grant_writes_the_refund_and_a_second_expiry() {
    use Op::*;
    let (case, _) = run_case(&[
        Grant(10, Some(2)),
        Pay("INV-9", 4),
        Advance(3),
        Refund("INV-9", 4),
    ]);
    assert_eq!(
        case.kinds(),
        [
            "admin_added",
            "invoice_applied",
            "expired",
            "invoice_refunded",
            "expired"
        ]
    );
    assert_eq!(case.balance(), 0);
}

#[test]
fn an_expiry_run_writes_nothing_twice() {
    use Op::*;
    let (case, _) = run_case(&[Grant(10, Some(0)), Grant(5, Some(1)), Advance(5)]);
    let conn = &mut case.pool.get().unwrap();
    let again = expiry::run(conn, case.today, "another").unwrap();
    assert_eq!(again.rows, 0);
    assert_eq!(
        ledger::expire_account(conn, case.user, &currency("EUR"), case.today).unwrap(),
        []
    );
    assert_eq!(
        case.kinds(),
        ["admin_added", "admin_added", "expired", "expired"]
    );
    case.assert_verified();
}

#[test]
fn a_run_waits_while_another_holds_the_lease() {
    let case = Case::new();
    let conn = &mut case.pool.get().unwrap();
    // A run that holds the lease (it renews it every batch) keeps another from starting.
    use creditdesk::db::schema::job_leases;
    diesel::insert_into(job_leases::table)
        .values((
            job_leases::name.eq("expire"),
            job_leases::holder.eq("server elsewhere"),
            job_leases::held_until.eq(now_utc() + Duration::minutes(5)),
        ))
        .execute(conn)
        .unwrap();
    assert!(expiry::run(conn, case.today, "me").unwrap().busy);
    // A lease that ran out (its holder died) is taken over.
    diesel::update(job_leases::table)
        .set(job_leases::held_until.eq(now_utc() - Duration::seconds(5)))
        .execute(conn)
        .unwrap();
    assert!(!expiry::run(conn, case.today, "me").unwrap().busy);
}

#[test]
fn a_change_after_a_missed_expiry_expires_first() {
    let case = Case::new();
    let conn = &mut case.pool.get().unwrap();
    // A grant that ended yesterday, and no run since (the server was down).
    let yesterday = case.today - Duration::days(1);
    ledger::adjust(conn, case.adjustment(Change::By(10), Some(yesterday))).unwrap();
    // Setting the total works from the credits that are still valid: none.
    let posted = ledger::adjust(conn, case.adjustment(Change::SetTo(8), None)).unwrap();
    assert_eq!(posted.expired.len(), 1);
    assert_eq!(posted.expired[0].delta, -10);
    assert_eq!(posted.transaction.balance_before, 0);
    assert_eq!(posted.transaction.delta, 8);
    assert_eq!(case.kinds(), ["admin_added", "expired", "admin_added"]);
    case.assert_verified();
}

#[test]
fn a_payment_after_a_missed_expiry_spends_only_valid_credits() {
    let mut case = Case::new();
    {
        let conn = &mut case.pool.get().unwrap();
        ledger::adjust(conn, case.adjustment(Change::By(5), None)).unwrap();
        let yesterday = case.today - Duration::days(1);
        ledger::adjust(conn, case.adjustment(Change::By(10), Some(yesterday))).unwrap();
    }
    case.apply(&Op::Pay("INV-LATE", 15));
    assert_eq!(
        case.kinds(),
        ["admin_added", "admin_added", "expired", "invoice_applied"]
    );
    assert_eq!(case.balance(), 0);
    case.assert_verified();
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1..50i64, prop::option::weighted(0.7, 0..40i64)).prop_map(|(c, d)| Op::Grant(c, d)),
        2 => (1..40i64).prop_map(Op::Reduce),
        1 => (0..80i64).prop_map(Op::SetTo),
        3 => (prop::sample::select(vec!["INV-A", "INV-B", "INV-C"]), 1..40i64)
            .prop_map(|(i, c)| Op::Pay(i, c)),
        4 => (prop::sample::select(vec!["INV-A", "INV-B", "INV-C"]), 1..40i64)
            .prop_map(|(i, c)| Op::Refund(i, c)),
        1 => (1..15i64).prop_map(Op::Advance),
    ]
}

/// Keeps only the operations the ledger would accept at that point, as the model sees it
/// (a reduction within the balance, one payment per invoice, a refund of what is owed).
fn feasible(ops: Vec<Op>, first_day: Date) -> Vec<Op> {
    let mut model = Model::new(first_day);
    let mut paid: std::collections::BTreeMap<&str, i64> = Default::default();
    let mut kept = Vec::new();
    for op in ops {
        // A refund is of an invoice that still owes credits (the one named, else the first
        // that does), for at most what it owes.
        let op = match op {
            Op::Refund(named, c) => {
                let owes = |i: &&str| paid.get(i).is_some_and(|owed| *owed > 0);
                match [named].into_iter().chain(paid.keys().copied()).find(owes) {
                    Some(i) => Op::Refund(i, c.min(paid[i])),
                    None => Op::Refund(named, 0),
                }
            }
            other => other,
        };
        let keep = match op {
            Op::Reduce(c) => c <= model.balance(),
            Op::SetTo(t) => t != model.balance(),
            Op::Pay(i, c) => !paid.contains_key(i) && c <= model.balance(),
            Op::Refund(_, c) => c > 0,
            _ => true,
        };
        if !keep {
            continue;
        }
        match op {
            Op::Pay(i, c) => {
                paid.insert(i, c);
            }
            Op::Refund(i, c) => *paid.get_mut(i).unwrap() -= c,
            _ => {}
        }
        model.apply(&op, first_day);
        kept.push(op);
    }
    kept
}

#[test]
fn random_grants_spends_refunds_and_days_follow_the_model() {
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let today = now_utc().date();
    let seen = std::cell::RefCell::new(HashMap::<&str, usize>::new());
    runner
        .run(&prop::collection::vec(op(), 4..16), |ops| {
            let ops = feasible(ops, today);
            for op in &ops {
                let name = format!("{op:?}");
                let kind = ["Grant", "Reduce", "SetTo", "Pay", "Refund", "Advance"]
                    .into_iter()
                    .find(|k| name.starts_with(k))
                    .unwrap();
                *seen.borrow_mut().entry(kind).or_default() += 1;
            }
            run_case(&ops);
            Ok(())
        })
        .unwrap();
    // The runs did exercise every kind of step, not only grants.
    let seen = seen.into_inner();
    for kind in ["Grant", "Reduce", "SetTo", "Pay", "Refund", "Advance"] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) >= 1,
            "{kind}: {seen:?}"
        );
    }
}
