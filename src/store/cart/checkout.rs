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

    /// The user's cart with its lines (products as they are now, deactivated ones included:
    /// checkout must refuse them), read in one statement (`CART_READ_SQL`) and locked for the
    /// rest of the transaction on PostgreSQL (`FOR UPDATE`), so no line can be added or changed
    /// between this read and emptying the cart. SQLite's single writer gives the same guarantee.
    /// `None` when the user never had a cart.
    async fn lock_cart(&mut self, user_id: &str) -> Result<Option<(Cart, Vec<CartLine>)>>;

    /// Deletes every line and the discount code (the shipping address stays).
    async fn empty_cart(&mut self, cart_id: &str, now: i64) -> Result<()>;
}

macro_rules! impl_checkout_cart {
    ($conn:ty, $lock_sql:expr, $empty:ident) => {
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

            async fn lock_cart(&mut self, user_id: &str) -> Result<Option<(Cart, Vec<CartLine>)>> {
                let rows: Vec<CartReadRow> = sqlx::query_as($lock_sql)
                    .bind(user_id)
                    .fetch_all(&mut *self)
                    .await?;
                Ok(CartSnapshot::from_rows(rows).map(|snapshot| (snapshot.cart, snapshot.lines)))
            }

            async fn empty_cart(&mut self, cart_id: &str, now: i64) -> Result<()> {
                $empty(self, cart_id, now).await
            }
        }
    };
}

impl_checkout_cart!(sqlx::SqliteConnection, CART_READ_SQL, empty_in_two);
impl_checkout_cart!(sqlx::PgConnection, LOCKED_CART_READ_SQL, empty_in_one);

/// `CART_READ_SQL` with the cart's row locked (PostgreSQL; the lines and products stay unlocked).
const LOCKED_CART_READ_SQL: &str = cart_read_sql!(" FOR UPDATE OF c");

async fn empty_in_two(conn: &mut sqlx::SqliteConnection, cart_id: &str, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM cart_items WHERE cart_id = $1")
        .bind(cart_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE carts SET discount_code = NULL, updated_at = $2 WHERE id = $1")
        .bind(cart_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The same in one statement, which PostgreSQL can do (a round trip less on every checkout).
async fn empty_in_one(conn: &mut sqlx::PgConnection, cart_id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "WITH emptied AS (DELETE FROM cart_items WHERE cart_id = $1)
         UPDATE carts SET discount_code = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(cart_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
