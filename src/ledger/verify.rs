//! Checks every invariant of docs/concepts.md ("Invariants") over the whole database, account by account, in
//! bounded chunks so that memory stays flat however many rows there are.

use std::collections::BTreeMap;

use diesel::prelude::*;
use time::Date;

use crate::db::models::{CreditAccount, CreditGrant, CreditTransaction};
use crate::db::schema::{
    credit_accounts, credit_daily_totals, credit_draws, credit_grants, credit_transactions,
};
use crate::db::DbConnection;
use crate::domain::{holder_change, Note, TransactionType, MAX_BALANCE};

const ACCOUNTS_PER_CHUNK: i64 = 500;
/// Stop listing after this many breaks: the count still covers them all.
const MAX_LISTED: usize = 1000;

/// A row of the per-day totals: day, currency, type, reason ('' for none).
type DayKey = (Date, String, String, String);

/// Rows, added, deducted and holders delta of a day's totals.
type DayFigures = (i64, i64, i64, i64);

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub accounts: u64,
    pub transactions: u64,
    pub problems: Vec<String>,
    pub problem_count: u64,
    /// (rows, added, deducted) per (day, currency, type, reason) as the ledger rows add up.
    daily: BTreeMap<DayKey, DayFigures>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(text);
        }
    }
}

/// Walks every account with its ledger rows in id order.
pub fn verify(conn: &mut DbConnection) -> QueryResult<Report> {
    let mut report = Report::default();
    let mut after_id = 0i64;
    loop {
        let accounts: Vec<CreditAccount> = credit_accounts::table
            .filter(credit_accounts::id.gt(after_id))
            .order(credit_accounts::id)
            .limit(ACCOUNTS_PER_CHUNK)
            .select(CreditAccount::as_select())
            .load(conn)?;
        let (Some(first), Some(last)) = (accounts.first(), accounts.last()) else {
            break;
        };
        let rows: Vec<CreditTransaction> = credit_transactions::table
            .filter(credit_transactions::account_id.between(first.id, last.id))
            .order((credit_transactions::account_id, credit_transactions::id))
            .select(CreditTransaction::as_select())
            .load(conn)?;
        let grants: Vec<CreditGrant> = credit_grants::table
            .filter(credit_grants::account_id.between(first.id, last.id))
            .order((credit_grants::account_id, credit_grants::id))
            .select(CreditGrant::as_select())
            .load(conn)?;
        let draws: Vec<DrawSeen> = credit_draws::table
            .inner_join(credit_grants::table)
            .inner_join(credit_transactions::table)
            .filter(credit_grants::account_id.between(first.id, last.id))
            .order((credit_grants::account_id, credit_draws::grant_id))
            .select((
                credit_draws::grant_id,
                credit_draws::credits,
                credit_transactions::id,
                credit_transactions::account_id,
                credit_transactions::kind,
                credit_transactions::created_at,
            ))
            .load(conn)?;
        let mut rows = rows.into_iter().peekable();
        let mut grants = grants.into_iter().peekable();
        let mut draws = draws.into_iter().peekable();
        for account in &accounts {
            let mut own = Vec::new();
            while let Some(row) = rows.next_if(|row| row.account_id == account.id) {
                own.push(row);
            }
            check_account(account, &own, &mut report);
            let mut held = Vec::new();
            while let Some(grant) = grants.next_if(|g| g.account_id == account.id) {
                held.push(grant);
            }
            let ids: Vec<i64> = held.iter().map(|g| g.id).collect();
            let mut drawn = Vec::new();
            // `held` is in id order, so its ids are sorted.
            while let Some(draw) = draws.next_if(|d| ids.binary_search(&d.0).is_ok()) {
                drawn.push(draw);
            }
            check_grants(account, &own, &held, &drawn, &mut report);
        }
        after_id = last.id;
    }
    let orphans: i64 = credit_transactions::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            credit_accounts::table.filter(credit_accounts::id.eq(credit_transactions::account_id)),
        )))
        .count()
        .get_result(conn)?;
    if orphans > 0 {
        report.problem(format!("{orphans} ledger rows belong to no credit account"));
    }
    check_daily_totals(conn, &mut report)?;
    Ok(report)
}

fn check_account(account: &CreditAccount, rows: &[CreditTransaction], report: &mut Report) {
    report.accounts += 1;
    report.transactions += rows.len() as u64;
    let name = format!(
        "account {} (customer {}, {})",
        account.id, account.user_id, account.currency
    );
    if !(0..=MAX_BALANCE).contains(&account.balance) {
        report.problem(format!(
            "{name}: balance {} is outside 0..=10^12",
            account.balance
        ));
    }
    let mut running = 0i64;
    let (mut added, mut deducted) = (0i64, 0i64);
    for row in rows {
        let at = format!("{name}, row {}", row.id);
        if row.delta == 0 {
            report.problem(format!("{at}: delta is 0"));
        }
        if row.balance_before != running {
            report.problem(format!(
                "{at}: balance_before {} does not continue the previous balance_after {running}",
                row.balance_before
            ));
        }
        if row.balance_before.checked_add(row.delta) != Some(row.balance_after) {
            report.problem(format!(
                "{at}: {} + {} is not balance_after {}",
                row.balance_before, row.delta, row.balance_after
            ));
        }
        if !(0..=MAX_BALANCE).contains(&row.balance_after) {
            report.problem(format!(
                "{at}: balance_after {} is outside 0..=10^12",
                row.balance_after
            ));
        }
        if row.user_id != account.user_id || row.currency != account.currency {
            report.problem(format!(
                "{at}: customer or currency differs from its account"
            ));
        }
        if TransactionType::parse(&row.kind).is_err() {
            report.problem(format!("{at}: unknown type {:?}", row.kind));
        }
        if Note::parse(&row.note).is_err() {
            report.problem(format!("{at}: the note is empty or malformed"));
        }
        running = row.balance_after;
        let key = (
            row.created_at.date(),
            row.currency.clone(),
            row.kind.clone(),
            row.reason.clone().unwrap_or_default(),
        );
        let day = report.daily.entry(key).or_default();
        day.0 += 1;
        if row.delta > 0 {
            day.1 += row.delta;
        } else {
            day.2 -= row.delta;
        }
        day.3 += holder_change(row.balance_before, row.balance_after);
        if row.delta > 0 {
            added = added.saturating_add(row.delta);
        } else {
            deducted = deducted.saturating_add(-row.delta);
        }
    }
    let sum: i128 = rows.iter().map(|r| i128::from(r.delta)).sum();
    if i128::from(account.balance) != sum {
        report.problem(format!(
            "{name}: balance {} differs from the sum of its rows {sum}",
            account.balance
        ));
    }
    if account.total_added != added {
        report.problem(format!(
            "{name}: total_added {} differs from the rows' {added}",
            account.total_added
        ));
    }
    if account.total_deducted != deducted {
        report.problem(format!(
            "{name}: total_deducted {} differs from the rows' {deducted}",
            account.total_deducted
        ));
    }
    if account.version != rows.len() as i64 {
        report.problem(format!(
            "{name}: version {} differs from its {} rows",
            account.version,
            rows.len()
        ));
    }
}

/// A draw as verify reads it: grant, credits, and the row's id, account, type and time.
type DrawSeen = (i64, i64, i64, i64, String, time::PrimitiveDateTime);

/// The invariants of expiry (docs/concepts.md, "Expiry"): the grants hold the balance, each
/// grant holds what was granted less what was drawn, draws stay in their account, and no
/// credit was taken from a grant after it expired.
fn check_grants(
    account: &CreditAccount,
    rows: &[CreditTransaction],
    grants: &[CreditGrant],
    draws: &[DrawSeen],
    report: &mut Report,
) {
    let name = format!(
        "account {} (customer {}, {})",
        account.id, account.user_id, account.currency
    );
    let held: i128 = grants.iter().map(|g| i128::from(g.remaining)).sum();
    if held != i128::from(account.balance) {
        report.problem(format!(
            "{name}: its grants hold {held} credits, its balance is {}",
            account.balance
        ));
    }
    // Grants and their draws both come in grant id order, rows in id order: one pass each.
    let mut draws = draws.iter().peekable();
    for grant in grants {
        let at = format!("{name}, grant {}", grant.id);
        let mut mine: Vec<&DrawSeen> = Vec::new();
        while let Some(draw) = draws.next_if(|d| d.0 == grant.id) {
            mine.push(draw);
        }
        let drawn: i128 = mine.iter().map(|d| i128::from(d.1)).sum();
        if i128::from(grant.granted) - drawn != i128::from(grant.remaining) {
            report.problem(format!(
                "{at}: granted {} less drawn {drawn} is not its remaining {}",
                grant.granted, grant.remaining
            ));
        }
        if !(0..=grant.granted).contains(&grant.remaining) {
            report.problem(format!(
                "{at}: remaining {} is outside 0..={}",
                grant.remaining, grant.granted
            ));
        }
        for (_, credits, row, row_account, kind, created_at) in mine {
            if *row_account != account.id {
                report.problem(format!(
                    "{at}: row {row} of account {row_account} draws from it"
                ));
            }
            let after_expiry = grant.expires_at.is_some_and(|day| created_at.date() > day);
            if *credits > 0 && after_expiry && kind != TransactionType::Expired.as_str() {
                report.problem(format!(
                    "{at}: row {row} took {credits} credits from it after it expired"
                ));
            }
        }
        if let Some(id) = grant.transaction_id {
            match rows.binary_search_by_key(&id, |r| r.id) {
                Err(_) => report.problem(format!("{at}: its row {id} is not in this account")),
                Ok(at_row) => {
                    let row = &rows[at_row];
                    let granting = TransactionType::parse(&row.kind).is_ok_and(|k| k.is_grant());
                    if granting
                        && (row.delta != grant.granted || row.expires_at != grant.expires_at)
                    {
                        report.problem(format!(
                            "{at}: differs from its row {id} in credits or expiry"
                        ));
                    }
                }
            }
        }
    }
}

/// The per-day totals table must equal what the ledger rows add up to.
fn check_daily_totals(conn: &mut DbConnection, report: &mut Report) -> QueryResult<()> {
    let stored: Vec<(DayKey, DayFigures)> = credit_daily_totals::table
        .select((
            (
                credit_daily_totals::day,
                credit_daily_totals::currency,
                credit_daily_totals::kind,
                credit_daily_totals::reason,
            ),
            (
                credit_daily_totals::row_count,
                credit_daily_totals::added,
                credit_daily_totals::deducted,
                credit_daily_totals::holders_delta,
            ),
        ))
        .load(conn)?;
    // Each key's slots added up (see `DAY_TOTAL_SLOTS`).
    let mut summed: BTreeMap<DayKey, DayFigures> = BTreeMap::new();
    for (key, (rows, added, deducted, holders)) in stored {
        let sum = summed.entry(key).or_default();
        *sum = (
            sum.0 + rows,
            sum.1 + added,
            sum.2 + deducted,
            sum.3 + holders,
        );
    }
    let mut expected = std::mem::take(&mut report.daily);
    for (key, figures) in summed {
        let want = expected.remove(&key).unwrap_or_default();
        if want != figures {
            report.problem(format!(
                "daily totals {} {} {} {:?}: stored rows/added/deducted/holders {figures:?}, ledger {want:?}",
                key.0, key.1, key.2, key.3
            ));
        }
    }
    for (key, want) in expected {
        report.problem(format!(
            "daily totals {} {} {} {:?}: missing, ledger has rows/added/deducted/holders {want:?}",
            key.0, key.1, key.2, key.3
        ));
    }
    Ok(())
}
