//! Write statements prepared once per connection.
//!
//! diesel prepares every `INSERT` of one row and every `UPDATE` again each time it runs: in
//! general their SQL varies with the values (`DEFAULT` for a missing one, the columns a
//! changeset sets), so it does not cache them. The ledger's writes run on every change and
//! their SQL takes only a few shapes, so [`Prepared`] lets the connection's statement cache
//! keep them, keyed by their SQL: SQLite compiles each shape once per connection instead of
//! once per change (inside the write lock), and PostgreSQL parses and plans it once per
//! session.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement of a few fixed shapes, kept in the connection's statement cache by its SQL.
/// Only for statements whose SQL does not depend on the number of values (no `IN` lists, no
/// multi-row inserts), or the cache would grow without bound.
///
/// Run it with `get_result` (give a write a `RETURNING` column): `execute` hands diesel the
/// statement by reference, and diesel's `QueryFragment` for a reference does not pass on
/// [`QueryFragment::is_safe_to_cache_prepared`], so the cache would not keep it
/// (tests/ledger.rs, `a_change_prepares_its_write_statements_once_per_connection`).
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend, Q: QueryFragment<DB>> QueryFragment<DB> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}
