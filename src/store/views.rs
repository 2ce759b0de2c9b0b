//! Reads for the order views that take a whole page (or a whole order) at once: the ledgers of
//! several orders and the products of several lines, one statement each, never one per row (one
//! per `MAX_LIST_BINDS` ids when a list is longer).

use super::orders::LedgerEntry;
use super::products::{Product, ProductRow, PRODUCT_COLUMNS};
use super::{read, Store, MAX_LIST_BINDS};
use crate::error::Result;
use sqlx::QueryBuilder;

impl Store {
    /// The payments ledgers of `order_ids`, each order's entries in the order `order_ledger`
    /// gives them.
    pub async fn ledgers_of_orders(&self, order_ids: &[String]) -> Result<Vec<LedgerEntry>> {
        if order_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut entries: Vec<LedgerEntry> = Vec::new();
        for chunk in order_ids.chunks(MAX_LIST_BINDS) {
            let found: Vec<LedgerEntry> = read!(self, |pool| {
                let mut query =
                    QueryBuilder::new("SELECT * FROM payment_transactions WHERE order_id IN (");
                let mut ids = query.separated(", ");
                for id in chunk {
                    ids.push_bind(id.as_str());
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await?
            });
            entries.extend(found);
        }
        // Each order's entries in `order_ledger`'s order, whichever statement found them.
        entries.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(entries)
    }

    /// The products with these ids, active or not, in no particular order; unknown ids are left
    /// out.
    pub async fn products_by_ids(&self, ids: &[String]) -> Result<Vec<Product>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut products = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_LIST_BINDS) {
            let rows: Vec<ProductRow> = read!(self, |pool| {
                let mut query = QueryBuilder::new(format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products WHERE id IN ("
                ));
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await?
            });
            products.extend(rows.into_iter().map(Product::from));
        }
        Ok(products)
    }
}
