//! Carts (CONTRACT §5): one per user, made on first use, its lines, its discount code and its
//! shipping address; and the priced view of a cart that every cart response and checkout start
//! from.
//!
//! Every change to a cart runs in one transaction that first creates-or-touches the cart's row
//! (`INSERT ... ON CONFLICT (user_id) DO UPDATE`), which on PostgreSQL locks it: changes to one cart
//! run one after another, and checkout, which locks the same row (`CheckoutCart::lock_cart`), never
//! empties a cart while a line is being added. Quantities change through single conditional
//! statements that check the 1..=100 range and `stock - reserved` themselves, and a new line
//! also the cart's limit of distinct products (`CART_MAX_LINES`), so concurrent adds sum exactly
//! or fail cleanly; a follow-up read only chooses the error message.
//!
//! The changes a customer makes are in `changes`; what checkout does to the cart inside its own
//! transaction is in `checkout`.

use super::addresses::ShippingAddress;
use super::products::Product;
use super::{read, transaction, with_retries, write, Backend, Store};
use crate::domain::discount::{evaluate, DiscountType, Rejection};
use crate::domain::gst::{GstRate, StateCode};
use crate::domain::ids::new_id;
use crate::domain::money::Money;
use crate::domain::pricing::{self, Line, PricingSettings, Totals, MAX_LINE_QUANTITY};
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result};
use async_trait::async_trait;

/// A user's cart, without its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Cart {
    pub id: String,
    pub user_id: String,
    pub discount_code: Option<String>,
    pub shipping_address: Option<ShippingAddress>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, sqlx::FromRow)]
struct CartRow {
    id: String,
    user_id: String,
    discount_code: Option<String>,
    shipping_address: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<CartRow> for Cart {
    fn from(row: CartRow) -> Self {
        Cart {
            id: row.id,
            user_id: row.user_id,
            discount_code: row.discount_code,
            // Only this module writes the column, always from a validated `ShippingAddress`.
            shipping_address: row
                .shipping_address
                .and_then(|json| serde_json::from_str(&json).ok()),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const CART_COLUMNS: &str = "id, user_id, discount_code, shipping_address, created_at, updated_at";

/// One line of a cart with its product as it is now (current price, stock, active flag).
#[derive(Debug, Clone, PartialEq)]
pub struct CartLine {
    pub product: Product,
    pub quantity: i64,
    pub added_at: i64,
    /// The GST state of the product's vendor when the vendor has its own registration (it then
    /// invoices the line); `None`: the shop sells it.
    pub seller_state: Option<StateCode>,
}

impl CartLine {
    /// The line as pricing sees it: the product's current price and GST rate, and its seller.
    pub fn pricing_line(&self) -> Line {
        Line {
            unit_price: self.product.price,
            quantity: self.quantity,
            gst_rate: self.product.gst_rate,
            seller_state: self.seller_state,
        }
    }

    pub fn line_total(&self) -> Money {
        // Prices are at most MAX_AMOUNT and quantities at most 100: far from overflow.
        pricing::line_total(self.pricing_line()).unwrap_or(Money::ZERO)
    }
}

/// A cart read for pricing, in one statement: the cart row, one row per line (with its product),
/// the code's row and, when the code has a per-user limit, the user's uses of it. A cart without
/// lines gives one row with the line and product columns NULL. Products are joined to their
/// lines by a foreign key, so a line always has its product.
macro_rules! cart_read_sql {
    ($lock:literal) => {
        concat!(
            "SELECT c.id, c.user_id, c.discount_code, c.shipping_address,
        c.created_at, c.updated_at, ci.quantity, ci.added_at,
        p.id AS p_id, p.name AS p_name, p.description AS p_description, p.price AS p_price,
        p.stock AS p_stock, p.reserved AS p_reserved, p.brand AS p_brand, p.category AS p_category,
        p.image_urls AS p_image_urls, p.sku AS p_sku, p.is_active AS p_is_active,
        p.vendor_id AS p_vendor_id, p.rating_sum AS p_rating_sum, p.rating_count AS p_rating_count,
        p.created_at AS p_created_at, p.updated_at AS p_updated_at,
        p.hsn_code AS p_hsn_code, p.gst_rate AS p_gst_rate,
        (SELECT v.gst_state FROM users v WHERE v.id = p.vendor_id AND v.gstin IS NOT NULL) AS p_seller_state,
        d.code AS d_code, d.type AS d_kind, d.value AS d_value,
        d.min_order_amount AS d_min_order_amount, d.max_discount_amount AS d_max_discount_amount,
        d.starts_at AS d_starts_at, d.ends_at AS d_ends_at, d.usage_limit AS d_usage_limit,
        d.per_user_limit AS d_per_user_limit, d.used_count AS d_used_count,
        d.is_active AS d_is_active, d.created_at AS d_created_at, d.updated_at AS d_updated_at,
        CASE WHEN d.per_user_limit IS NULL THEN 0
             ELSE (SELECT COUNT(*) FROM discount_uses u WHERE u.code = c.discount_code AND u.user_id = c.user_id)
        END AS user_uses
     FROM carts c
     LEFT JOIN cart_items ci ON ci.cart_id = c.id
     LEFT JOIN products p ON p.id = ci.product_id
     LEFT JOIN discounts d ON d.code = c.discount_code
     WHERE c.user_id = $1
     ORDER BY ci.added_at, ci.product_id",
            $lock
        )
    };
}
const CART_READ_SQL: &str = cart_read_sql!("");

#[derive(sqlx::FromRow)]
pub(super) struct CartReadRow {
    #[sqlx(flatten)]
    cart: CartRow,
    quantity: Option<i64>,
    added_at: Option<i64>,
    p_id: Option<String>,
    p_name: Option<String>,
    p_description: Option<String>,
    p_price: Option<i64>,
    p_stock: Option<i64>,
    p_reserved: Option<i64>,
    p_brand: Option<String>,
    p_category: Option<String>,
    p_image_urls: Option<String>,
    p_sku: Option<String>,
    p_is_active: Option<bool>,
    p_vendor_id: Option<String>,
    p_rating_sum: Option<i64>,
    p_rating_count: Option<i64>,
    p_created_at: Option<i64>,
    p_updated_at: Option<i64>,
    p_hsn_code: Option<String>,
    p_gst_rate: Option<GstRate>,
    p_seller_state: Option<StateCode>,
    d_code: Option<String>,
    d_kind: Option<DiscountType>,
    d_value: Option<i64>,
    d_min_order_amount: Option<Money>,
    d_max_discount_amount: Option<Money>,
    d_starts_at: Option<i64>,
    d_ends_at: Option<i64>,
    d_usage_limit: Option<i64>,
    d_per_user_limit: Option<i64>,
    d_used_count: Option<i64>,
    d_is_active: Option<bool>,
    d_created_at: Option<i64>,
    d_updated_at: Option<i64>,
    user_uses: i64,
}

/// A cart as stored, with what pricing it needs: its lines with their products, its code's rule
/// (`None` without a code, or for a code that no longer exists) and the user's uses of the code
/// (counted only for a code with a per-user limit).
#[derive(Debug, Clone, PartialEq)]
pub struct CartSnapshot {
    pub cart: Cart,
    pub lines: Vec<CartLine>,
    pub rule: Option<crate::domain::discount::DiscountRule>,
    pub user_uses: i64,
}

impl CartSnapshot {
    pub(super) fn from_rows(rows: Vec<CartReadRow>) -> Option<CartSnapshot> {
        let first = rows.first()?;
        let cart = Cart::from(first.cart.clone());
        let rule = match (&first.d_code, &first.d_kind) {
            (Some(code), Some(kind)) => Some(
                super::discounts::Discount {
                    code: code.clone(),
                    kind: *kind,
                    value: first.d_value.unwrap_or_default(),
                    min_order_amount: first.d_min_order_amount.unwrap_or_default(),
                    max_discount_amount: first.d_max_discount_amount,
                    starts_at: first.d_starts_at,
                    ends_at: first.d_ends_at,
                    usage_limit: first.d_usage_limit,
                    per_user_limit: first.d_per_user_limit,
                    used_count: first.d_used_count.unwrap_or_default(),
                    is_active: first.d_is_active.unwrap_or(false),
                    created_at: first.d_created_at.unwrap_or_default(),
                    updated_at: first.d_updated_at.unwrap_or_default(),
                }
                .rule(),
            ),
            _ => None,
        };
        let user_uses = first.user_uses;
        let lines = rows
            .into_iter()
            .filter_map(|row| {
                Some(CartLine {
                    quantity: row.quantity?,
                    added_at: row.added_at?,
                    seller_state: row.p_seller_state,
                    product: Product {
                        id: row.p_id?,
                        name: row.p_name?,
                        description: row.p_description?,
                        price: Money::from_minor(row.p_price?),
                        stock: row.p_stock?,
                        reserved: row.p_reserved?,
                        brand: row.p_brand?,
                        category: row.p_category?,
                        // Only the products store writes the column, always from a `Vec<String>`.
                        image_urls: serde_json::from_str(&row.p_image_urls?).unwrap_or_default(),
                        sku: row.p_sku,
                        is_active: row.p_is_active?,
                        vendor_id: row.p_vendor_id,
                        rating_sum: row.p_rating_sum?,
                        rating_count: row.p_rating_count?,
                        created_at: row.p_created_at?,
                        updated_at: row.p_updated_at?,
                        hsn_code: row.p_hsn_code,
                        gst_rate: row.p_gst_rate?,
                    },
                })
            })
            .collect();
        Some(CartSnapshot {
            cart,
            lines,
            rule,
            user_uses,
        })
    }
}

/// Creates the user's cart or touches it, returning its id. `$id` is the id a new cart gets.
macro_rules! touch_cart_sql {
    ($id:literal, $user:literal, $now:literal) => {
        concat!(
            "INSERT INTO carts (id, user_id, created_at, updated_at) VALUES (",
            $id,
            ", ",
            $user,
            ", ",
            $now,
            ", ",
            $now,
            ")
             ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at
             RETURNING id"
        )
    };
}

/// Adds `$3` units of product `$2` to the line of cart `$cart` (at time `$4`), creating it when
/// absent, only while the product is active, the resulting quantity stays within 1..=100 and
/// `stock - reserved`, and `$room` (a new line still fits the cart's limit of distinct products).
/// Returns the new quantity, or no row when a rule refused it. `$with` and `$from` let the cart
/// come from a common table expression.
macro_rules! add_line_sql {
    ($with:expr, $cart:literal, $from:literal, $room:expr) => {
        concat!(
            $with,
            "INSERT INTO cart_items (cart_id, product_id, quantity, added_at, updated_at)
             SELECT ", $cart, ", p.id, $3, $4, $4 FROM products p", $from, "
             WHERE p.id = $2 AND p.is_active AND p.stock - p.reserved >= $3 AND $3 BETWEEN 1 AND 100
               AND ", $room, "
             ON CONFLICT (cart_id, product_id) DO UPDATE
                 SET quantity = cart_items.quantity + excluded.quantity, updated_at = excluded.updated_at
                 WHERE cart_items.quantity + excluded.quantity <= 100
                   AND cart_items.quantity + excluded.quantity <= (
                       SELECT p2.stock - p2.reserved FROM products p2
                       WHERE p2.id = excluded.product_id AND p2.is_active)
             RETURNING quantity"
        )
    };
}

/// `CheckoutCart::touch_cart`: `$1` a new cart's id, `$2` the user, `$3` now.
const TOUCH_CART_SQL: &str = touch_cart_sql!("$1", "$2", "$3");

/// The add to cart `$1` on SQLite, `$5` the limit of distinct products. The cart was touched
/// first in the same transaction, and SQLite's single writer runs one such transaction at a
/// time, so the count is of every line there is.
const ADD_SQL: &str = add_line_sql!(
    "",
    "$1",
    "",
    "(EXISTS (SELECT 1 FROM cart_items mine WHERE mine.cart_id = $1 AND mine.product_id = $2)
          OR (SELECT COUNT(*) FROM cart_items line WHERE line.cart_id = $1) < $5)"
);

/// The whole add on PostgreSQL, the cart touched (or created) in the same statement: `$1` the
/// user, `$5` a new cart's id, `$6` the limit of distinct products. One round trip instead of
/// four (begin, touch, add, commit): every shopper's add pays them, and the database is where a
/// busy shop runs out of CPU first.
///
/// Touching the cart locks its row, so adds to one cart run one after another; but the rest of
/// a statement reads from a snapshot taken when the statement began, before that lock was
/// granted, and would not count a line another add committed meanwhile (two adds could both take
/// the last free line). `cart_has_room` (migration 0022) is a VOLATILE PL/pgSQL function, whose
/// query takes a snapshot of its own when it runs: after the lock, so it counts every line.
const TOUCH_AND_ADD_SQL: &str = add_line_sql!(
    concat!("WITH cart AS (", touch_cart_sql!("$5", "$1", "$4"), ") "),
    "cart.id",
    ", cart",
    "cart_has_room(cart.id, $2, $6)"
);

/// Sets the line's quantity, only while it is within `stock - reserved` of an active product.
const SET_SQL: &str = "UPDATE cart_items SET quantity = $3, updated_at = $4
     WHERE cart_id = $1 AND product_id = $2 AND $3 BETWEEN 1 AND 100
       AND EXISTS (SELECT 1 FROM products p
                   WHERE p.id = $2 AND p.is_active AND p.stock - p.reserved >= $3)
     RETURNING quantity";

/// A cart as every cart response shows it: the lines that are still for sale at their current
/// prices, the discount re-checked, and the totals.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedCart {
    /// The cart, with `discount_code` as it stands after the re-check.
    pub cart: Cart,
    pub lines: Vec<CartLine>,
    pub totals: Totals,
    /// What this read changed and the customer should be told: lines dropped because their
    /// product is no longer for sale, a code removed because it stopped applying.
    pub notices: Vec<String>,
}

/// The result of a successful add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The line's quantity after the add.
    pub quantity: i64,
}

impl Store {
    /// The user's cart, if they have one yet.
    pub async fn cart_for_user(&self, user_id: &str) -> Result<Option<Cart>> {
        let sql = format!("SELECT {CART_COLUMNS} FROM carts WHERE user_id = $1");
        let row: Option<CartRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(Cart::from))
    }

    /// The user's cart, made now if this is their first use. Safe when several first requests
    /// race: the insert does nothing if another one won, and the row is read back from the writer.
    pub async fn ensure_cart(&self, user_id: &str) -> Result<Cart> {
        if let Some(cart) = self.cart_for_user(user_id).await? {
            return Ok(cart);
        }
        let sql = format!("SELECT {CART_COLUMNS} FROM carts WHERE user_id = $1");
        let now = now_millis();
        let row: CartRow = write!(self, |pool| {
            sqlx::query(
                "INSERT INTO carts (id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(new_id())
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query_as(&sql).bind(user_id).fetch_one(pool).await?
        });
        Ok(row.into())
    }

    /// The user's cart as every cart endpoint answers with it (CONTRACT §5):
    /// - lines whose product was deactivated are deleted, and a notice names them;
    /// - prices are the products' current prices;
    /// - the discount code is re-checked against the current subtotal, the clock and its limits,
    ///   and removed with a notice saying why when it no longer applies;
    /// - totals come from `domain::pricing` with `settings`.
    ///
    /// Reads go to the read pool; the writer is used only when something has to be cleaned up.
    ///
    /// The cart, its lines with their products, its code's rule and the caller's uses of the code
    /// come from one statement (`CART_READ_SQL`); only a user's first read, which makes the cart,
    /// takes more.
    pub async fn priced_cart(
        &self,
        user_id: &str,
        settings: &PricingSettings,
    ) -> Result<PricedCart> {
        let snapshot = self.cart_snapshot(user_id).await?;
        self.price_snapshot(snapshot, settings).await
    }

    /// The user's cart as stored, with everything pricing needs, made now if this is their first
    /// use.
    pub async fn cart_snapshot(&self, user_id: &str) -> Result<CartSnapshot> {
        if let Some(snapshot) = self.read_cart(user_id).await? {
            return Ok(snapshot);
        }
        self.ensure_cart(user_id).await?;
        self.read_cart(user_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the cart just made cannot be read")))
    }

    /// Prices a snapshot as `priced_cart` describes, writing the clean-ups it calls for (lines of
    /// products no longer for sale, a code that stopped applying). A snapshot may be a little old
    /// (the cart cache of `crate::app`): the clean-ups are conditional statements, so they only
    /// ever remove what is still to be removed.
    pub async fn price_snapshot(
        &self,
        snapshot: CartSnapshot,
        settings: &PricingSettings,
    ) -> Result<PricedCart> {
        let CartSnapshot {
            mut cart,
            mut lines,
            rule,
            user_uses,
        } = snapshot;
        let mut notices = Vec::new();

        let gone: Vec<String> = lines
            .iter()
            .filter(|line| !line.product.is_active)
            .map(|line| line.product.name.clone())
            .collect();
        if !gone.is_empty() {
            // Conditional on the product still being inactive, so a product reactivated in the
            // meantime keeps its line.
            write!(self, |pool| {
                sqlx::query(
                    "DELETE FROM cart_items WHERE cart_id = $1
                       AND product_id IN (SELECT id FROM products WHERE NOT is_active)",
                )
                .bind(&cart.id)
                .execute(pool)
                .await?;
            });
            lines.retain(|line| line.product.is_active);
            notices.push(format!(
                "Removed from your cart because no longer available: {}.",
                gone.join(", ")
            ));
        }

        let priced: Vec<Line> = lines.iter().map(CartLine::pricing_line).collect();
        let subtotal = pricing::subtotal(&priced).ok_or_else(overflow)?;
        let mut discount = Money::ZERO;
        if let Some(code) = cart.discount_code.clone() {
            let checked = evaluate(&code, rule.as_ref(), subtotal, now_millis(), user_uses)
                .map_err(|rejection| rejection.to_string());
            match checked {
                Ok(amount) => discount = amount,
                Err(reason) => {
                    // Conditional on the same code, so a code applied meanwhile is kept.
                    write!(self, |pool| {
                        sqlx::query(
                            "UPDATE carts SET discount_code = NULL, updated_at = $3
                             WHERE id = $1 AND discount_code = $2",
                        )
                        .bind(&cart.id)
                        .bind(&code)
                        .bind(now_millis())
                        .execute(pool)
                        .await?;
                    });
                    cart.discount_code = None;
                    notices.push(format!("Discount code {code} was removed: {reason}."));
                }
            }
        }
        let place = cart
            .shipping_address
            .as_ref()
            .and_then(ShippingAddress::place_of_supply);
        let totals = pricing::price(&priced, discount, settings, place).ok_or_else(overflow)?;
        Ok(PricedCart {
            cart,
            lines,
            totals,
            notices,
        })
    }

    /// The user's cart with everything pricing needs, in one statement; `None` when the user has
    /// no cart yet.
    async fn read_cart(&self, user_id: &str) -> Result<Option<CartSnapshot>> {
        let rows: Vec<CartReadRow> = read!(self, |pool| sqlx::query_as(CART_READ_SQL)
            .bind(user_id)
            .fetch_all(pool)
            .await?);
        Ok(CartSnapshot::from_rows(rows))
    }

    /// Whether `code` applies to a cart of `subtotal` for this user now: the amount off, or the
    /// rule that refused it.
    pub async fn check_cart_discount(
        &self,
        code: &str,
        user_id: &str,
        subtotal: Money,
    ) -> Result<std::result::Result<Money, Rejection>> {
        let rule = self.discount_by_code(code).await?.map(|d| d.rule());
        let user_uses = match &rule {
            Some(rule) if rule.per_user_limit.is_some() => {
                self.discount_uses_by_user(code, user_id).await?
            }
            _ => 0,
        };
        Ok(evaluate(
            code,
            rule.as_ref(),
            subtotal,
            now_millis(),
            user_uses,
        ))
    }
}

mod changes;
mod checkout;

pub use checkout::CheckoutCart;

fn overflow() -> Error {
    Error::Internal(anyhow::anyhow!("cart total overflowed"))
}
