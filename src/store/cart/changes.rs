//! A customer's changes to the cart: lines, discount code, shipping address.

use super::*;

impl Store {
    /// Adds `quantity` units of a product to the user's cart (a new line, or more of an existing
    /// one) with one conditional statement, under the cart's row lock. Unknown or inactive
    /// product: 404. The line would pass `availableStock` or 100 units: 409 saying how many are
    /// left or how many the cart holds. A new product in a cart already holding `max_lines`
    /// distinct products: 409 saying the cart is full.
    pub async fn add_to_cart(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i64,
        max_lines: i64,
    ) -> Result<Added> {
        let now = now_millis();
        let added: Option<i64> = match &self.backend {
            // One statement creates or touches the cart and adds the line, atomically on its own.
            Backend::Postgres(pg) => {
                with_retries(|| async {
                    let row: Option<(i64,)> = sqlx::query_as(TOUCH_AND_ADD_SQL)
                        .bind(user_id)
                        .bind(product_id)
                        .bind(quantity)
                        .bind(now)
                        .bind(new_id())
                        .bind(max_lines)
                        .fetch_optional(pg)
                        .await?;
                    Ok(row.map(|(quantity,)| quantity))
                })
                .await?
            }
            Backend::Sqlite(_) => transaction!(self, |tx| {
                let cart_id = tx.touch_cart(user_id, now).await?;
                let row: Option<(i64,)> = sqlx::query_as(ADD_SQL)
                    .bind(&cart_id)
                    .bind(product_id)
                    .bind(quantity)
                    .bind(now)
                    .bind(max_lines)
                    .fetch_optional(&mut *tx)
                    .await?;
                row.map(|(quantity,)| quantity)
            }),
        };
        match added {
            Some(quantity) => Ok(Added { quantity }),
            None => Err(self
                .add_refusal(user_id, product_id, quantity, max_lines)
                .await?),
        }
    }

    /// Why an add was refused, read after the refusal for the message: the product gone (404), a
    /// new line in a full cart, or the line over its cap or over what is left (409).
    async fn add_refusal(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i64,
        max_lines: i64,
    ) -> Result<Error> {
        let (product, current, lines) = read!(self, |pool| {
            let product: Option<(i64, bool)> =
                sqlx::query_as("SELECT stock - reserved, is_active FROM products WHERE id = $1")
                    .bind(product_id)
                    .fetch_optional(pool)
                    .await?;
            let current: Option<(i64,)> = sqlx::query_as(
                "SELECT ci.quantity FROM cart_items ci JOIN carts c ON c.id = ci.cart_id
                 WHERE c.user_id = $1 AND ci.product_id = $2",
            )
            .bind(user_id)
            .bind(product_id)
            .fetch_optional(pool)
            .await?;
            let (lines,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.id = ci.cart_id
                 WHERE c.user_id = $1",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?;
            (product, current, lines)
        });
        let available = match product {
            Some((available, true)) => available.max(0),
            _ => return Ok(Error::not_found("Product")),
        };
        if current.is_none() && lines >= max_lines {
            return Ok(cart_full(max_lines));
        }
        let current = current.map_or(0, |(q,)| q);
        Ok(quantity_conflict(current + quantity, current, available))
    }

    /// Sets the quantity of a line already in the user's cart. Not in the cart: 404; product no
    /// longer for sale: 404; above `availableStock`: 409 saying how many are left.
    pub async fn set_cart_quantity(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i64,
    ) -> Result<Added> {
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            let cart_id = tx.touch_cart(user_id, now).await?;
            let set: Option<(i64,)> = sqlx::query_as(SET_SQL)
                .bind(&cart_id)
                .bind(product_id)
                .bind(quantity)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((quantity,)) = set {
                Added { quantity }
            } else {
                let current: Option<(i64,)> = sqlx::query_as(
                    "SELECT quantity FROM cart_items WHERE cart_id = $1 AND product_id = $2",
                )
                .bind(&cart_id)
                .bind(product_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((current,)) = current else {
                    return Err(not_in_cart());
                };
                let product: Option<(i64, bool)> = sqlx::query_as(
                    "SELECT stock - reserved, is_active FROM products WHERE id = $1",
                )
                .bind(product_id)
                .fetch_optional(&mut *tx)
                .await?;
                let available = match product {
                    Some((available, true)) => available.max(0),
                    _ => {
                        return Err(Error::NotFound(
                            "Product not found: it is no longer available".into(),
                        ))
                    }
                };
                return Err(quantity_conflict(quantity, current, available));
            }
        }))
    }

    /// Removes a line from the user's cart; 404 when it is not there.
    pub async fn remove_from_cart(&self, user_id: &str, product_id: &str) -> Result<()> {
        let now = now_millis();
        transaction!(self, |tx| {
            let cart_id = tx.touch_cart(user_id, now).await?;
            let removed =
                sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2")
                    .bind(&cart_id)
                    .bind(product_id)
                    .execute(&mut *tx)
                    .await?;
            if removed.rows_affected() == 0 {
                return Err(not_in_cart());
            }
        });
        Ok(())
    }

    /// Empties the user's cart: every line and the discount code go; the shipping address stays,
    /// since it is where the customer lives, not what they are buying.
    pub async fn clear_cart(&self, user_id: &str) -> Result<()> {
        let now = now_millis();
        transaction!(self, |tx| {
            let cart_id = tx.touch_cart(user_id, now).await?;
            tx.empty_cart(&cart_id, now).await?;
        });
        Ok(())
    }

    /// Puts a code (already checked by the caller) on the user's cart, replacing any other.
    pub async fn set_cart_discount(&self, user_id: &str, code: &str) -> Result<()> {
        let now = now_millis();
        transaction!(self, |tx| {
            let cart_id = tx.touch_cart(user_id, now).await?;
            sqlx::query("UPDATE carts SET discount_code = $2 WHERE id = $1")
                .bind(&cart_id)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Takes the code off the user's cart; returns the code that was there, if any.
    pub async fn remove_cart_discount(&self, user_id: &str) -> Result<Option<String>> {
        let now = now_millis();
        Ok(transaction!(self, |tx| {
            let cart_id = tx.touch_cart(user_id, now).await?;
            let (previous,): (Option<String>,) =
                sqlx::query_as("SELECT discount_code FROM carts WHERE id = $1")
                    .bind(&cart_id)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("UPDATE carts SET discount_code = NULL WHERE id = $1")
                .bind(&cart_id)
                .execute(&mut *tx)
                .await?;
            previous
        }))
    }

    /// Sets the cart's shipping address (already validated).
    pub async fn set_cart_shipping_address(
        &self,
        user_id: &str,
        address: &ShippingAddress,
    ) -> Result<()> {
        let json = serde_json::to_string(address).map_err(anyhow::Error::from)?;
        let now = now_millis();
        transaction!(self, |tx| {
            let cart_id = tx.touch_cart(user_id, now).await?;
            sqlx::query("UPDATE carts SET shipping_address = $2 WHERE id = $1")
                .bind(&cart_id)
                .bind(&json)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}

/// The 409 for a new product in a cart that already holds `max_lines` distinct products.
fn cart_full(max_lines: i64) -> Error {
    Error::Conflict(
        ErrorCode::CartFull,
        format!(
            "Your cart is full: it can hold at most {max_lines} different products; \
         remove one or check out before adding another"
        ),
    )
}

fn not_in_cart() -> Error {
    Error::NotFound("Cart item not found: this product is not in your cart".into())
}

/// The 409 for a line that would hold `wanted` units: over the per-line cap, or over what is left.
fn quantity_conflict(wanted: i64, current: i64, available: i64) -> Error {
    let in_cart = if current > 0 {
        format!(" (your cart already holds {current})")
    } else {
        String::new()
    };
    if wanted > MAX_LINE_QUANTITY {
        return Error::Conflict(
            ErrorCode::LineLimitReached,
            format!("A cart line can hold at most {MAX_LINE_QUANTITY} units of a product{in_cart}"),
        );
    }
    if wanted > available {
        let left = match available {
            0 => "none are left in stock".to_string(),
            1 => "only 1 is left in stock".to_string(),
            n => format!("only {n} are left in stock"),
        };
        return Error::Conflict(
            ErrorCode::InsufficientStock,
            format!("Insufficient stock: {left}{in_cart}"),
        );
    }
    // Stock moved between the statement and this read (another checkout); the client may retry.
    Error::Conflict(
        ErrorCode::Conflict,
        "Stock changed while updating your cart; please try again".into(),
    )
}
