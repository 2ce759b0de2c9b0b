//! Stock moves of an order's lines: the one place that writes `stock` and `reserved` for several
//! products in one transaction. Rows are always updated in ascending product id, so two
//! transactions that share products take their row locks in the same order and cannot deadlock
//! (checkout, confirmation, cancellation, expiry and returns all come through here).

use super::gate::Tx;
use crate::error::Result;
use async_trait::async_trait;

/// What happens to each line's quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockMove {
    /// Checkout of an online payment: held for the order, only while enough is available.
    Reserve,
    /// Checkout paid on delivery or with nothing to pay: sold at once, only while enough is
    /// available.
    Sell,
    /// Payment confirmed: the reservation becomes a sale.
    CommitReservation,
    /// Unpaid order cancelled or expired: the reservation is given back.
    ReleaseReservation,
    /// A sold order cancelled or returned: its units go back on the shelf.
    Restock,
}

/// A stock move's statements, from its two parts: what it does to a product row (`p`) for
/// `w.quantity` units, and the condition the row must meet. The first form moves one product
/// (`$1` its id, `$2` the units); the second, PostgreSQL's, moves every line in one statement
/// (`$1` the ids, `$2` the units, in the same order), locking the rows in ascending id first.
/// Both return the id of each product moved.
macro_rules! stock_move_sql {
    ($change:literal, $condition:literal) => {
        (
            concat!(
                "UPDATE products AS p SET ", $change, ", updated_at = $3
                 FROM (SELECT $1 AS product_id, $2 AS quantity) AS w
                 WHERE p.id = w.product_id", $condition, "
                 RETURNING id"
            ),
            concat!(
                "WITH w AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS w(product_id, quantity)),
                      locked AS (SELECT p.id AS locked_id FROM products p JOIN w ON w.product_id = p.id
                                 ORDER BY p.id FOR NO KEY UPDATE OF p)
                 UPDATE products AS p SET ", $change, ", updated_at = $3
                 FROM w JOIN locked ON locked.locked_id = w.product_id
                 WHERE p.id = w.product_id", $condition, "
                 RETURNING id"
            ),
        )
    };
}

impl StockMove {
    /// The statements of this move: (one product, every line at once).
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            StockMove::Reserve => stock_move_sql!(
                "reserved = p.reserved + w.quantity",
                " AND p.is_active AND p.stock - p.reserved >= w.quantity"
            ),
            StockMove::Sell => stock_move_sql!(
                "stock = p.stock - w.quantity",
                " AND p.is_active AND p.stock - p.reserved >= w.quantity"
            ),
            StockMove::CommitReservation => stock_move_sql!(
                "stock = p.stock - w.quantity, reserved = p.reserved - w.quantity",
                ""
            ),
            StockMove::ReleaseReservation => {
                stock_move_sql!("reserved = p.reserved - w.quantity", "")
            }
            StockMove::Restock => stock_move_sql!("stock = p.stock + w.quantity", ""),
        }
    }
}

/// A product and how many units of it move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLine {
    pub product_id: String,
    pub quantity: i64,
}

/// Implemented for both back-ends' transactions; call on the `tx` of `transaction!`. Before the
/// rows are written the transaction queues at the node's stock gate (see `gate`).
#[async_trait]
pub trait StockMoves {
    /// Applies `kind` to every line, in ascending product id. `Ok(Some(product_id))` names the
    /// first product that had too little available (only `Reserve` and `Sell` can refuse); the
    /// caller rolls the transaction back then.
    async fn move_stock(
        &mut self,
        lines: &[StockLine],
        kind: StockMove,
        now: i64,
    ) -> Result<Option<String>>;

    /// What each line of an order holds, to give back or commit with `move_stock`.
    async fn order_stock_lines(&mut self, order_id: &str) -> Result<Vec<StockLine>>;
}

/// The lines in lock order, quantities of a repeated product added up.
fn in_lock_order(lines: &[StockLine]) -> Vec<StockLine> {
    let mut sorted: Vec<StockLine> = lines.to_vec();
    sorted.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    sorted.dedup_by(|later, first| {
        if later.product_id == first.product_id {
            first.quantity += later.quantity;
            true
        } else {
            false
        }
    });
    sorted
}

macro_rules! impl_stock_moves {
    ($conn:ty, $write:ident) => {
        #[async_trait]
        impl StockMoves for $conn {
            async fn move_stock(
                &mut self,
                lines: &[StockLine],
                kind: StockMove,
                now: i64,
            ) -> Result<Option<String>> {
                let lines = in_lock_order(lines);
                self.queue_for_products(lines.iter().map(|line| line.product_id.as_str()))
                    .await;
                let moved = $write(self, &lines, kind, now).await?;
                Ok(lines
                    .into_iter()
                    .map(|line| line.product_id)
                    .find(|id| !moved.contains(id)))
            }

            async fn order_stock_lines(&mut self, order_id: &str) -> Result<Vec<StockLine>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT product_id, quantity FROM order_items WHERE order_id = $1",
                )
                .bind(order_id)
                .fetch_all(&mut **self)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(product_id, quantity)| StockLine {
                        product_id,
                        quantity,
                    })
                    .collect())
            }
        }
    };
}

impl_stock_moves!(Tx<'_, sqlx::Sqlite>, move_one_by_one);
impl_stock_moves!(Tx<'_, sqlx::Postgres>, move_all_at_once);

/// SQLite: a statement per line (in-process, so statements cost no round trip), stopping at the
/// first refused. The ids moved.
async fn move_one_by_one(
    conn: &mut sqlx::SqliteConnection,
    lines: &[StockLine],
    kind: StockMove,
    now: i64,
) -> Result<Vec<String>> {
    let mut moved = Vec::with_capacity(lines.len());
    for line in lines {
        let done: Option<(String,)> = sqlx::query_as(kind.sql().0)
            .bind(&line.product_id)
            .bind(line.quantity)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
        match done {
            Some((id,)) => moved.push(id),
            None => break,
        }
    }
    Ok(moved)
}

/// PostgreSQL: every line in one statement, the rows locked in ascending id inside it (a round
/// trip per line is what a busy database server feels). The ids moved.
async fn move_all_at_once(
    conn: &mut sqlx::PgConnection,
    lines: &[StockLine],
    kind: StockMove,
    now: i64,
) -> Result<Vec<String>> {
    let ids: Vec<&str> = lines.iter().map(|line| line.product_id.as_str()).collect();
    let quantities: Vec<i64> = lines.iter().map(|line| line.quantity).collect();
    let moved: Vec<(String,)> = sqlx::query_as(kind.sql().1)
        .bind(&ids)
        .bind(&quantities)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    Ok(moved.into_iter().map(|(id,)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, quantity: i64) -> StockLine {
        StockLine {
            product_id: id.into(),
            quantity,
        }
    }

    #[test]
    fn lines_are_taken_in_ascending_id_with_repeats_merged() {
        let lines = [line("c", 1), line("a", 2), line("b", 3), line("a", 4)];
        assert_eq!(
            in_lock_order(&lines),
            vec![line("a", 6), line("b", 3), line("c", 1)]
        );
    }
}
