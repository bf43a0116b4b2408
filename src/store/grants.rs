//! The grants an account holds, as the Promo Credits tab shows them (docs/concepts.md,
//! "Expiry"; docs/console.md, "Promo Credits tab").

use diesel::prelude::*;

use crate::db::dialect::grant_holds_credits;
use crate::db::models::{CreditGrant, CreditTransaction};
use crate::db::prepared::Prepared;
use crate::db::schema::{credit_grants, credit_transactions};
use crate::db::DbConnection;
use crate::store::expiring;

/// A grant that still holds credits, with the row that made it (none for credits held
/// before expiry existed) and that row's author.
#[derive(Debug, Clone)]
pub struct HeldGrant {
    pub grant: CreditGrant,
    pub row: Option<CreditTransaction>,
    pub by: String,
}

/// What the tab shows of an account's grants.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The first grants that still hold credits, in the order they will be spent.
    pub grants: Vec<HeldGrant>,
    /// How many grants hold credits in all.
    pub all: i64,
    /// Credits expiring in the window given to [`held`].
    pub expiring: i64,
}

/// The first `limit` of the account's grants that still hold credits, in the order they will
/// be spent, how many there are, and the credits expiring in `window`
/// ([`crate::store::expiring::within`]): counted from the grants read when they are all of
/// them, else by one more query.
pub fn held(
    conn: &mut DbConnection,
    account_id: i64,
    limit: i64,
    window: (time::Date, time::Date),
) -> QueryResult<Held> {
    let found: Vec<(CreditGrant, Option<CreditTransaction>)> = Prepared(
        credit_grants::table
            .left_join(
                credit_transactions::table.on(credit_transactions::id
                    .nullable()
                    .eq(credit_grants::transaction_id)),
            )
            .filter(credit_grants::account_id.eq(account_id))
            .filter(grant_holds_credits())
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
            )),
    )
    .load(conn)?;
    let (all, expiring) = match found.len() as i64 {
        n if n < limit => {
            let soon = found.iter().filter(|(g, _)| expiring::counts(g, window));
            (n, soon.map(|(g, _)| g.remaining).sum())
        }
        _ => {
            let all = credit_grants::table
                .filter(credit_grants::account_id.eq(account_id))
                .filter(grant_holds_credits())
                .count()
                .get_result(conn)?;
            let soon = expiring::by_account(conn, &[account_id], window)?;
            (all, soon.get(&account_id).copied().unwrap_or(0))
        }
    };
    let labels =
        crate::store::credits::actor_labels(conn, found.iter().filter_map(|f| f.1.as_ref()))?;
    let mut labels = labels.into_iter();
    let grants = found
        .into_iter()
        .map(|(grant, row)| {
            let by = match &row {
                Some(_) => labels.next().unwrap_or_default(),
                None => String::new(),
            };
            HeldGrant { grant, row, by }
        })
        .collect();
    Ok(Held {
        grants,
        all,
        expiring,
    })
}
