//! The grants an account holds, as the Promo Credits tab shows them (docs/concepts.md,
//! "Expiry"; docs/console.md, "Promo Credits tab").

use diesel::prelude::*;

use crate::db::models::{CreditGrant, CreditTransaction};
use crate::db::schema::{credit_grants, credit_transactions};
use crate::db::DbConnection;
use crate::ledger::grants::spending_order;

/// A grant that still holds credits, with the row that made it (none for credits held
/// before expiry existed) and that row's author.
#[derive(Debug, Clone)]
pub struct HeldGrant {
    pub grant: CreditGrant,
    pub row: Option<CreditTransaction>,
    pub by: String,
}

/// The account's grants that still hold credits, in the order they will be spent.
pub fn held(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<HeldGrant>> {
    let mut found: Vec<(CreditGrant, Option<CreditTransaction>)> = credit_grants::table
        .left_join(
            credit_transactions::table.on(credit_transactions::id
                .nullable()
                .eq(credit_grants::transaction_id)),
        )
        .filter(credit_grants::account_id.eq(account_id))
        .filter(credit_grants::remaining.gt(0))
        .select((
            CreditGrant::as_select(),
            credit_transactions::all_columns.nullable(),
        ))
        .load(conn)?;
    found.sort_by(|a, b| spending_order(&a.0, &b.0));
    let labels =
        crate::store::credits::actor_labels(conn, found.iter().filter_map(|f| f.1.as_ref()))?;
    let mut labels = labels.into_iter();
    Ok(found
        .into_iter()
        .map(|(grant, row)| {
            let by = match &row {
                Some(_) => labels.next().unwrap_or_default(),
                None => String::new(),
            };
            HeldGrant { grant, row, by }
        })
        .collect())
}
