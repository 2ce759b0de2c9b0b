//! The cart inside a transaction: made or touched by every change to it, locked, read and emptied
//! with the order at checkout.

use super::*;

/// The cart's steps inside a transaction; implemented for `SqliteConnection` and `PgConnection`
/// (call as `tx.touch_cart(...)`, `tx.lock_cart(...)` inside `transaction!`).
#[async_trait]
pub trait CheckoutCart {
    /// Creates the user's cart or, when it exists, touches it; either way its id. On PostgreSQL
    /// the row stays locked until the transaction ends, serializing changes to one cart. Every
    /// change to a cart starts with it.
    async fn touch_cart(&mut self, user_id: &str, now: i64) -> Result<String>;

    /// The user's cart, locked for the rest of the transaction on PostgreSQL (`FOR UPDATE`), so no
    /// line can be added or changed between reading the lines and emptying the cart. SQLite's
    /// single writer gives the same guarantee. `None` when the user never had a cart.
    async fn lock_cart(&mut self, user_id: &str) -> Result<Option<Cart>>;

    /// The cart's lines with their products as they are now (deactivated ones included: checkout
    /// must refuse them or drop them).
    async fn cart_lines(&mut self, cart_id: &str) -> Result<Vec<CartLine>>;

    /// Deletes every line and the discount code (the shipping address stays).
    async fn empty_cart(&mut self, cart_id: &str, now: i64) -> Result<()>;
}

macro_rules! impl_checkout_cart {
    ($conn:ty, $lock:literal) => {
        #[async_trait]
        impl CheckoutCart for $conn {
            async fn touch_cart(&mut self, user_id: &str, now: i64) -> Result<String> {
                let (cart_id,): (String,) = sqlx::query_as(TOUCH_CART_SQL)
                    .bind(new_id())
                    .bind(user_id)
                    .bind(now)
                    .fetch_one(&mut *self)
                    .await?;
                Ok(cart_id)
            }

            async fn lock_cart(&mut self, user_id: &str) -> Result<Option<Cart>> {
                let sql = format!(
                    "SELECT {CART_COLUMNS} FROM carts WHERE user_id = $1{}",
                    $lock
                );
                let row: Option<CartRow> = sqlx::query_as(&sql)
                    .bind(user_id)
                    .fetch_optional(&mut *self)
                    .await?;
                Ok(row.map(Cart::from))
            }

            async fn cart_lines(&mut self, cart_id: &str) -> Result<Vec<CartLine>> {
                let rows: Vec<CartLineRow> = sqlx::query_as(LINES_SQL)
                    .bind(cart_id)
                    .fetch_all(&mut *self)
                    .await?;
                Ok(rows.into_iter().map(CartLine::from).collect())
            }

            async fn empty_cart(&mut self, cart_id: &str, now: i64) -> Result<()> {
                sqlx::query("DELETE FROM cart_items WHERE cart_id = $1")
                    .bind(cart_id)
                    .execute(&mut *self)
                    .await?;
                sqlx::query("UPDATE carts SET discount_code = NULL, updated_at = $2 WHERE id = $1")
                    .bind(cart_id)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }
        }
    };
}

impl_checkout_cart!(sqlx::SqliteConnection, "");
impl_checkout_cart!(sqlx::PgConnection, " FOR UPDATE");
