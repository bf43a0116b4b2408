//! The finance summary: per currency over a period, the opening balance, each movement type,
//! and the closing balance, from the per-day totals the ledger keeps.

use std::collections::BTreeMap;

use diesel::prelude::*;
use time::Date;

use crate::db::schema::credit_daily_totals;
use crate::db::DbConnection;
use crate::domain::{CurrencyCode, TransactionType};

/// The days a summary covers (both included), for one currency or all; built from a URL by
/// `crate::filters::summary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryPeriod {
    pub currency: Option<CurrencyCode>,
    pub from: Date,
    pub to: Date,
}

/// Types that add to balances; the others (applied, reduced, expired) take away.
pub fn adds(kind: TransactionType) -> bool {
    matches!(
        kind,
        TransactionType::AdminAdded
            | TransactionType::ApiAdded
            | TransactionType::Imported
            | TransactionType::InvoiceRefunded
    )
}

/// The order of movements in the summary and its CSV (docs/exports.md).
pub const MOVEMENT_ORDER: [TransactionType; 8] = [
    TransactionType::AdminAdded,
    TransactionType::ApiAdded,
    TransactionType::Imported,
    TransactionType::InvoiceApplied,
    TransactionType::InvoiceRefunded,
    TransactionType::AdminReduced,
    TransactionType::ApiReduced,
    TransactionType::Expired,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    pub currency: String,
    pub opening: i64,
    /// Credits moved by each type in `MOVEMENT_ORDER`, as positive amounts.
    pub movements: [i64; MOVEMENT_ORDER.len()],
    pub closing: i64,
}

/// One line per currency in `currencies` (and any other currency with movements, unless a
/// currency is asked for), covering the period.
pub fn summarize(
    conn: &mut DbConnection,
    currencies: &[String],
    period: &SummaryPeriod,
) -> QueryResult<Vec<SummaryLine>> {
    let (from, to) = (period.from, period.to);
    let only = period.currency.as_ref().map(CurrencyCode::as_str);
    let mut query = credit_daily_totals::table
        .filter(credit_daily_totals::day.le(to))
        .into_boxed();
    if let Some(currency) = only {
        query = query.filter(credit_daily_totals::currency.eq(currency.to_owned()));
    }
    let days: Vec<(Date, String, String, i64, i64)> = query
        .select((
            credit_daily_totals::day,
            credit_daily_totals::currency,
            credit_daily_totals::kind,
            credit_daily_totals::added,
            credit_daily_totals::deducted,
        ))
        .load(conn)?;
    let mut lines: BTreeMap<String, SummaryLine> = BTreeMap::new();
    let blank = |currency: &str| SummaryLine {
        currency: currency.to_owned(),
        opening: 0,
        movements: [0; MOVEMENT_ORDER.len()],
        closing: 0,
    };
    for currency in currencies
        .iter()
        .filter(|c| only.is_none_or(|o| o == c.as_str()))
    {
        lines.insert(currency.clone(), blank(currency));
    }
    for (day, currency, kind, added, deducted) in days {
        let line = lines
            .entry(currency.clone())
            .or_insert_with(|| blank(&currency));
        let net = added - deducted;
        if day < from {
            line.opening += net;
        } else if let Some(index) = TransactionType::parse(&kind)
            .ok()
            .and_then(|k| MOVEMENT_ORDER.iter().position(|m| *m == k))
        {
            line.movements[index] += if adds(MOVEMENT_ORDER[index]) {
                net
            } else {
                -net
            };
        }
    }
    Ok(lines
        .into_values()
        .map(|mut line| {
            line.closing = line.opening
                + MOVEMENT_ORDER
                    .iter()
                    .zip(line.movements)
                    .map(|(kind, amount)| if adds(*kind) { amount } else { -amount })
                    .sum::<i64>();
            line
        })
        .collect())
}
