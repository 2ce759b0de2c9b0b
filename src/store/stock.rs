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

impl StockMove {
    fn sql(self) -> &'static str {
        match self {
            StockMove::Reserve => {
                "UPDATE products SET reserved = reserved + $2, updated_at = $3
                 WHERE id = $1 AND is_active AND stock - reserved >= $2"
            }
            StockMove::Sell => {
                "UPDATE products SET stock = stock - $2, updated_at = $3
                 WHERE id = $1 AND is_active AND stock - reserved >= $2"
            }
            StockMove::CommitReservation => {
                "UPDATE products SET stock = stock - $2, reserved = reserved - $2, updated_at = $3
                 WHERE id = $1"
            }
            StockMove::ReleaseReservation => {
                "UPDATE products SET reserved = reserved - $2, updated_at = $3 WHERE id = $1"
            }
            StockMove::Restock => {
                "UPDATE products SET stock = stock + $2, updated_at = $3 WHERE id = $1"
            }
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
    ($conn:ty) => {
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
                for line in lines {
                    let done = sqlx::query(kind.sql())
                        .bind(&line.product_id)
                        .bind(line.quantity)
                        .bind(now)
                        .execute(&mut **self)
                        .await?;
                    if done.rows_affected() != 1 {
                        return Ok(Some(line.product_id));
                    }
                }
                Ok(None)
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

impl_stock_moves!(Tx<'_, sqlx::Sqlite>);
impl_stock_moves!(Tx<'_, sqlx::Postgres>);

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
