//! The grants an account holds, as the Promo Credits tab shows them (docs/concepts.md,
//! "Expiry"; docs/console.md, "Promo Credits tab").

use diesel::prelude::*;

use crate::db::models::{CreditGrant, CreditTransaction};
use crate::db::schema::{credit_grants, credit_transactions};
use crate::db::DbConnection;

/// A grant that still holds credits, with the row that made it (none for credits held
/// before expiry existed) and that row's author.
#[derive(Debug, Clone)]
pub struct HeldGrant {
    pub grant: CreditGrant,
    pub row: Option<CreditTransaction>,
    pub by: String,
}

/// The first `limit` of the account's grants that still hold credits, in the order they will
/// be spent, and how many there are in all.
pub fn held(
    conn: &mut DbConnection,
    account_id: i64,
    limit: i64,
) -> QueryResult<(Vec<HeldGrant>, i64)> {
    // Written out, as the partial index says it (see `crate::ledger::grants`).
    let holding = || diesel::dsl::sql::<diesel::sql_types::Bool>("credit_grants.remaining > 0");
    let found: Vec<(CreditGrant, Option<CreditTransaction>)> = credit_grants::table
        .left_join(
            credit_transactions::table.on(credit_transactions::id
                .nullable()
                .eq(credit_grants::transaction_id)),
        )
        .filter(credit_grants::account_id.eq(account_id))
        .filter(holding())
        // The spending order of `crate::ledger::grants::spending_order`.
        .order((
            credit_grants::expires_at.is_null(),
            credit_grants::expires_at,
            credit_grants::id,
        ))
        .limit(limit)
        .select((
            CreditGrant::as_select(),
            credit_transactions::all_columns.nullable(),
        ))
        .load(conn)?;
    let all: i64 = match found.len() as i64 {
        n if n < limit => n,
        _ => credit_grants::table
            .filter(credit_grants::account_id.eq(account_id))
            .filter(holding())
            .count()
            .get_result(conn)?,
    };
    let labels =
        crate::store::credits::actor_labels(conn, found.iter().filter_map(|f| f.1.as_ref()))?;
    let mut labels = labels.into_iter();
    let held = found
        .into_iter()
        .map(|(grant, row)| {
            let by = match &row {
                Some(_) => labels.next().unwrap_or_default(),
                None => String::new(),
            };
            HeldGrant { grant, row, by }
        })
        .collect();
    Ok((held, all))
}
