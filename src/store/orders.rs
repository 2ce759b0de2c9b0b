//! Orders: checkout (one transaction that freezes the cart into an order and reserves its stock),
//! confirmation exactly once, guarded status moves, cancellation, returns, and the reads behind the
//! customer, admin and vendor views.
//!
//! Every change that must not happen twice is a conditional UPDATE whose `WHERE` names the state
//! the row must be in (`status = 'pending' AND stock_state = 'reserved'` ...), so of two racing
//! requests exactly one changes the row and the other sees zero rows affected. On PostgreSQL the
//! cart row is locked `FOR UPDATE` for the whole checkout; on SQLite the single writer serializes.

use super::cart::{Cart, CartLine, CheckoutCart};
use super::discounts::DiscountUses;
use super::moves::{ReturnStep, StatusMove, StockStep};
use super::stock::{StockLine, StockMove, StockMoves};
use super::{read, transaction, Store};
use crate::domain::ids::new_id;
use crate::domain::ledger::{LedgerKind, LedgerStatus};
use crate::domain::money::Money;
use crate::domain::notification::NotificationKind;
use crate::domain::order::{
    transition_conflict, Actor, OrderStatus, PaymentMethod, PaymentStatus, ReturnStatus, StockState,
};
use crate::domain::pricing::{price, Line, PricingSettings, Totals};
use crate::domain::time::now_millis;
use crate::error::{Error, Result};
use sqlx::QueryBuilder;

/// An order row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    pub id: String,
    pub order_number: String,
    pub user_id: String,
    pub status: OrderStatus,
    pub total_items: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub discount_code: Option<String>,
    pub shipping_charges: Money,
    pub tax: Money,
    pub total_amount: Money,
    pub currency: String,
    pub shipping_address: String,
    pub notes: Option<String>,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub gateway_order_id: Option<String>,
    pub gateway_payment_id: Option<String>,
    pub paid_at: Option<i64>,
    pub refunded_amount: Money,
    pub stock_state: StockState,
    pub payment_expires_at: Option<i64>,
    pub gateway_checked_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub tracking_number: Option<String>,
    pub estimated_delivery: Option<i64>,
    pub delivered_at: Option<i64>,
    pub received_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub cancelled_by: Option<String>,
    pub cancellation_reason: Option<String>,
    pub return_status: ReturnStatus,
    pub return_reason: Option<String>,
    pub return_requested_at: Option<i64>,
    pub return_decision_reason: Option<String>,
    pub returned_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Order {
    pub fn status(&self) -> OrderStatus {
        self.status
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderItem {
    pub order_id: String,
    pub product_id: String,
    pub vendor_id: Option<String>,
    pub product_name: String,
    pub product_image: Option<String>,
    pub price: Money,
    pub quantity: i64,
    pub total_price: Money,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryEntry {
    pub status: OrderStatus,
    pub description: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerEntry {
    pub id: String,
    pub order_id: String,
    pub kind: LedgerKind,
    pub gateway_ref: Option<String>,
    pub amount: Money,
    pub status: LedgerStatus,
    pub idempotency_key: Option<String>,
    pub payment_ref: Option<String>,
    pub detail: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Refunds: gateway calls made so far, when the next is due, and the last error.
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
}

/// One line of an order about to be placed, frozen from the cart.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftLine {
    pub product_id: String,
    pub vendor_id: Option<String>,
    pub name: String,
    pub image: Option<String>,
    pub price: Money,
    pub quantity: i64,
    pub total: Money,
}

/// What checkout will write, priced from the cart as it is now. Placing the order re-reads the cart
/// inside the transaction and refuses if it no longer matches, so the amount sent to the gateway is
/// exactly the amount the order records.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutDraft {
    pub cart_id: String,
    pub lines: Vec<DraftLine>,
    pub totals: Totals,
    pub discount_code: Option<String>,
    pub shipping_address: String,
}

pub struct PlaceOrder<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub user_id: &'a str,
    pub payment_method: PaymentMethod,
    pub notes: Option<&'a str>,
    pub currency: &'a str,
    pub settlement: Settlement<'a>,
}

/// How a new order will be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement<'a> {
    /// Online, through this gateway order, before `expires_at` (ms).
    Gateway {
        gateway_order_id: &'a str,
        expires_at: i64,
    },
    /// Cash on delivery: confirmed at once, paid when delivered.
    CashOnDelivery,
    /// A total of zero (a code covers everything): confirmed and paid at once, no gateway.
    NothingToPay,
}

/// How placing an order ended.
#[derive(Debug)]
pub enum Placed {
    Order(Box<Order>),
    /// Another order took this order number first (two nodes in the same millisecond); nothing
    /// was written, and the caller tries again with a new number.
    NumberTaken,
}

/// A payment the gateway reports captured, as confirmation records it.
#[derive(Debug, Clone, Copy)]
pub struct CapturedPayment<'a> {
    pub payment_id: &'a str,
    pub amount: Money,
    pub currency: &'a str,
}

/// Why a captured payment could not pay its order (it is refunded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The order was cancelled or expired before the money arrived.
    NotPayable,
    /// The order is already paid with another payment (the customer paid twice).
    AlreadyPaid,
    /// The capture's amount or currency is not the order's.
    AmountMismatch,
}

impl Refusal {
    /// One refund per extra capture, ever: the key is the captured payment's id.
    fn refund_key(self, payment_id: &str) -> String {
        format!("capture-{payment_id}")
    }

    /// Why the refund exists, as the ledger and the admin's refund list show it. A capture of
    /// another amount is flagged: the gateway took money the shop never asked for.
    fn ledger_note(self) -> &'static str {
        match self {
            Refusal::NotPayable => "capture for an order cancelled or expired before payment",
            Refusal::AlreadyPaid => "second payment for an order already paid",
            Refusal::AmountMismatch => {
                "NEEDS REVIEW: captured amount or currency differs from the order total"
            }
        }
    }

    pub fn explain(self, order_number: &str, status: &str) -> String {
        match self {
            Refusal::NotPayable => format!(
                "Order {order_number} is {status} and cannot take this payment; the payment will be refunded"
            ),
            Refusal::AlreadyPaid => format!(
                "Order {order_number} is already paid; this second payment will be refunded"
            ),
            Refusal::AmountMismatch => format!(
                "The payment's amount or currency is not the total of order {order_number}; the payment will be refunded"
            ),
        }
    }
}

/// How a confirmation attempt ended.
pub enum Confirmation {
    /// This call confirmed the order.
    Confirmed(Order),
    /// Another path confirmed it first with the same payment; nothing changed.
    AlreadyConfirmed(Order),
    /// The capture cannot pay the order; it is recorded and a refund requested (its ledger id
    /// is returned for sending, `None` when an earlier delivery of the same capture requested it).
    Refused {
        order: Order,
        refund_id: Option<String>,
        reason: Refusal,
    },
}

/// Filters of the admin and customer order lists.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub user_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub payment_status: Option<PaymentStatus>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub sort: OrderSort,
    pub descending: bool,
}

#[derive(Debug, Default, Clone, Copy)]
pub enum OrderSort {
    #[default]
    CreatedAt,
    TotalAmount,
    Status,
    OrderNumber,
}

impl OrderSort {
    pub fn column(self) -> &'static str {
        match self {
            OrderSort::CreatedAt => "created_at",
            OrderSort::TotalAmount => "total_amount",
            OrderSort::Status => "status",
            OrderSort::OrderNumber => "order_number",
        }
    }
}

/// Stats of `GET /orders/admin/stats`, all in minor units.
#[derive(Debug, Clone, Default)]
pub struct OrderStats {
    pub total_orders: i64,
    pub total_revenue: Money,
    pub pending_orders: i64,
    pub completed_orders: i64,
    pub cancelled_orders: i64,
    /// `(status, count, total_amount)`, largest count first.
    pub breakdown: Vec<(String, i64, Money)>,
}

/// Internal marker of a lost race for an order number; never reaches a client.
const ORDER_NUMBER_TAKEN: &str = "order number taken";

const ORDER_SQL: &str = "SELECT * FROM orders WHERE id = $1";
const HISTORY_SQL: &str =
    "INSERT INTO order_status_history (order_id, status, description, actor_id, created_at)
 VALUES ($1, $2, $3, $4, $5)";
const NOTICE_SQL: &str =
    "INSERT INTO notifications (id, user_id, kind, title, message, order_id, is_read, created_at)
 VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)";
const LEDGER_SQL: &str = "INSERT INTO payment_transactions
 (id, order_id, kind, gateway_ref, amount, status, idempotency_key, detail, created_at, updated_at)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";

/// Appends a line to an order's status history (what tracking shows):
/// `(order_id, status, description, actor_id, now)`.
macro_rules! record_history {
    ($tx:ident, $($arg:expr),+ $(,)?) => {{
        let query = sqlx::query(HISTORY_SQL);
        $(let query = query.bind($arg);)+
        query.execute(&mut *$tx).await?;
    }};
}

/// Writes a notification in the same transaction as the event it reports:
/// `(id, user_id, kind, title, message, order_id, now)`.
macro_rules! notify {
    ($tx:ident, $($arg:expr),+ $(,)?) => {{
        let query = sqlx::query(NOTICE_SQL);
        $(let query = query.bind($arg);)+
        query.execute(&mut *$tx).await?;
    }};
}

/// Adds a row to the payments ledger:
/// `(id, order_id, kind, gateway_ref, amount, status, idempotency_key, detail, now)`.
macro_rules! record_ledger {
    ($tx:ident, $($arg:expr),+ $(,)?) => {{
        let query = sqlx::query(LEDGER_SQL);
        $(let query = query.bind($arg);)+
        query.execute(&mut *$tx).await?;
    }};
}

// Steps shared by several transactions. They are macros rather than functions because each
// expands inside both arms of `transaction!`, where `$tx` is a SQLite or a PostgreSQL connection.

/// Gives an order's stock back once: a reservation is released, sold units are restocked. The
/// conditional update of `stock_state` makes a second call (or a racing one) do nothing.
macro_rules! release_stock {
    ($tx:ident, $order:expr, $now:expr) => {{
        let order: &Order = $order;
        if let Some(to) = order.stock_state.given_back() {
            let step = StockStep::checked(order.stock_state, to)?;
            let kind = match step.to() {
                StockState::Released => StockMove::ReleaseReservation,
                _ => StockMove::Restock,
            };
            let flipped = sqlx::query(
                "UPDATE orders SET stock_state = $2 WHERE id = $1 AND stock_state = $3",
            )
            .bind(&order.id)
            .bind(step.to())
            .bind(step.from())
            .execute(&mut *$tx)
            .await?;
            if flipped.rows_affected() == 1 {
                let lines = $tx.order_stock_lines(&order.id).await?;
                $tx.move_stock(&lines, kind, $now).await?;
            }
        }
    }};
}

/// Records a refund to be sent to the gateway, at most once per `$key` (the unique idempotency
/// key, also sent to the gateway). Evaluates to the ledger id when this call created it.
macro_rules! insert_refund_request {
    ($tx:ident, $order:expr, $payment_id:expr, $amount:expr, $key:expr, $detail:expr, $now:expr) => {{
        let order: &Order = $order;
        let amount: Money = $amount;
        if amount <= Money::ZERO {
            None
        } else {
            let id = new_id();
            let inserted = sqlx::query(
                "INSERT INTO payment_transactions
                 (id, order_id, kind, gateway_ref, amount, status, idempotency_key, payment_ref, detail, created_at, updated_at)
                 VALUES ($1, $2, 'refund', NULL, $3, 'requested', $4, $5, $7, $6, $6)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(&order.id)
            .bind(amount)
            .bind($key)
            .bind($payment_id)
            .bind($now)
            .bind($detail)
            .execute(&mut *$tx)
            .await?;
            (inserted.rows_affected() == 1).then_some(id)
        }
    }};
}

/// Inside a transaction: the order row, locked until the transaction ends on PostgreSQL
/// (`FOR UPDATE`; SQLite's single writer serializes anyway), so the paths that settle one order's
/// payment run one after the other. Orders come first in the lock order (see `store`).
#[async_trait::async_trait]
pub trait OrderLocks {
    async fn lock_order(&mut self, order_id: &str) -> Result<Option<Order>>;
}

macro_rules! impl_order_locks {
    ($conn:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl OrderLocks for $conn {
            async fn lock_order(&mut self, order_id: &str) -> Result<Option<Order>> {
                Ok(
                    sqlx::query_as(concat!("SELECT * FROM orders WHERE id = $1", $lock))
                        .bind(order_id)
                        .fetch_optional(&mut *self)
                        .await?,
                )
            }
        }
    };
}

impl_order_locks!(sqlx::SqliteConnection, "");
impl_order_locks!(sqlx::PgConnection, " FOR UPDATE");

/// Freezes the cart into what the order will hold, checking it can be ordered: not empty, every
/// product for sale and in stock, an address. Shared by the pre-check and the in-transaction
/// re-check so both apply the same rules.
fn draft_from(
    cart: &Cart,
    lines: &[CartLine],
    discount: Money,
    address_override: Option<&str>,
    settings: &PricingSettings,
) -> Result<CheckoutDraft> {
    if lines.is_empty() {
        return Err(Error::bad_request("Your cart is empty"));
    }
    let mut draft_lines = Vec::with_capacity(lines.len());
    for line in lines {
        let product = &line.product;
        if !product.is_active {
            return Err(Error::Conflict(format!(
                "{} is no longer available; remove it from your cart",
                product.name
            )));
        }
        if line.quantity > product.available_stock() {
            return Err(insufficient_stock(&product.name, product.available_stock()));
        }
        draft_lines.push(DraftLine {
            product_id: product.id.clone(),
            vendor_id: product.vendor_id.clone(),
            name: product.name.clone(),
            image: product.main_image().map(str::to_string),
            price: product.price,
            quantity: line.quantity,
            total: line.line_total(),
        });
    }
    // Products in id order, so concurrent checkouts take product rows in one order (no deadlock).
    draft_lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    let priced: Vec<Line> = lines.iter().map(CartLine::pricing_line).collect();
    let totals = price(&priced, discount, settings)
        .ok_or_else(|| Error::bad_request("Order amount is too large"))?;
    let shipping_address = match (address_override, &cart.shipping_address) {
        (Some(address), _) => address.to_string(),
        (None, Some(address)) => {
            serde_json::to_string(address).map_err(|e| Error::Internal(e.into()))?
        }
        (None, None) => {
            return Err(Error::invalid(
                "addressId",
                "A shipping address is required: set one on the cart or pass addressId",
                serde_json::Value::Null,
            ))
        }
    };
    Ok(CheckoutDraft {
        cart_id: cart.id.clone(),
        lines: draft_lines,
        totals,
        discount_code: cart.discount_code.clone(),
        shipping_address,
    })
}

/// What of an order's payment has not gone back yet: the most a refund of it may be.
fn unrefunded(order: &Order) -> Result<Money> {
    order
        .total_amount
        .checked_sub(order.refunded_amount)
        .ok_or_else(money_overflow)
}

/// Sums of stored amounts stay far inside `i64` (`MAX_AMOUNT`); one that does not is corrupt data.
fn money_overflow() -> Error {
    Error::Internal(anyhow::anyhow!("an amount overflowed"))
}

fn insufficient_stock(name: &str, available: i64) -> Error {
    Error::Conflict(format!(
        "Insufficient stock for {name}: only {} left",
        available.max(0)
    ))
}

impl Store {
    /// The order as it is after a change just committed.
    async fn reload_order(&self, order_id: &str) -> Result<Order> {
        self.order_by_id(order_id)
            .await?
            .ok_or_else(|| Error::not_found("Order"))
    }

    /// Prices the caller's cart for checkout (as `GET /cart` shows it) and checks it can be
    /// ordered. When the read had to change the cart (a product gone, a code that stopped
    /// applying) the customer has not seen the new total yet: that is a 409 saying what changed.
    pub async fn draft_checkout(
        &self,
        user_id: &str,
        address_override: Option<&str>,
        settings: &PricingSettings,
    ) -> Result<CheckoutDraft> {
        let priced = self.priced_cart(user_id, settings).await?;
        if !priced.notices.is_empty() {
            return Err(Error::Conflict(format!(
                "{} Review your cart and place the order again.",
                priced.notices.join(" ")
            )));
        }
        draft_from(
            &priced.cart,
            &priced.lines,
            priced.totals.discount,
            address_override,
            settings,
        )
    }

    /// Places the order in one transaction: re-reads the cart (locked on PostgreSQL) and refuses if
    /// it changed since `draft`, takes a use of the discount code within its limits, reserves every
    /// line's stock with a conditional update (or, for cash on delivery, takes it), writes the
    /// order, its lines, history and ledger, and empties the cart. Any failure rolls all of it back.
    pub async fn place_order(
        &self,
        draft: &CheckoutDraft,
        place: PlaceOrder<'_>,
        address_override: Option<&str>,
        settings: &PricingSettings,
    ) -> Result<Placed> {
        let now = now_millis();
        // Cash on delivery and zero totals are confirmed (and their stock sold) at once.
        let cod = !matches!(place.settlement, Settlement::Gateway { .. });
        let (gateway_order_id, payment_expires_at) = match place.settlement {
            Settlement::Gateway {
                gateway_order_id,
                expires_at,
            } => (Some(gateway_order_id), Some(expires_at)),
            _ => (None, None),
        };
        let paid_now = place.settlement == Settlement::NothingToPay;
        // Confirmed at once is the move pending -> confirmed made by the server at checkout, and
        // selling at once the stock step reserved -> committed: both checked like any other.
        let confirm_now = if cod {
            Some(StatusMove::checked(
                OrderStatus::Pending,
                OrderStatus::Confirmed,
                Actor::System,
            )?)
        } else {
            None
        };
        let status = confirm_now.map_or(OrderStatus::Pending, StatusMove::to);
        let stock_state = if cod {
            StockStep::checked(StockState::Reserved, StockState::Committed)?.to()
        } else {
            StockState::Reserved
        };
        let placed: Result<Order> = (async { Ok(transaction!(self, |tx| {
            let cart = tx
                .lock_cart(place.user_id)
                .await?
                .ok_or_else(|| Error::bad_request("Your cart is empty"))?;
            let lines = tx.cart_lines(&cart.id).await?;
            let subtotal = lines
                .iter()
                .try_fold(Money::ZERO, |sum, line| sum.checked_add(line.line_total()))
                .ok_or_else(|| Error::bad_request("Order amount is too large"))?;
            let discount = match &cart.discount_code {
                Some(code) => {
                    let amount = tx
                        .reserve_discount_use(place.order_id, code, place.user_id, subtotal, now)
                        .await?;
                    if cod {
                        // Cash on delivery is confirmed at once, so its use is final at once.
                        tx.finalize_discount_use(place.order_id, now).await?;
                    }
                    amount
                }
                None => Money::ZERO,
            };
            let fresh = draft_from(&cart, &lines, discount, address_override, settings)?;
            if &fresh != draft {
                return Err(Error::Conflict(
                    "Your cart changed during checkout; review it and place the order again".into(),
                ));
            }

            let totals = &draft.totals;
            let inserted = sqlx::query_as::<_, Order>(
                "INSERT INTO orders (id, order_number, user_id, status, total_items, subtotal, discount, discount_code,
                    shipping_charges, tax, total_amount, currency, shipping_address, notes, payment_method,
                    payment_status, gateway_order_id, stock_state, payment_expires_at, confirmed_at,
                    paid_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $21, $16, $17, $18, $19,
                         $22, $20, $20)
                 RETURNING *",
            )
            .bind(place.order_id)
            .bind(place.order_number)
            .bind(place.user_id)
            .bind(status)
            .bind(totals.total_items)
            .bind(totals.subtotal)
            .bind(totals.discount)
            .bind(&draft.discount_code)
            .bind(totals.shipping)
            .bind(totals.tax)
            .bind(totals.total)
            .bind(place.currency)
            .bind(&draft.shipping_address)
            .bind(place.notes)
            .bind(place.payment_method)
            .bind(gateway_order_id)
            .bind(stock_state)
            .bind(payment_expires_at)
            .bind(if cod { Some(now) } else { None })
            .bind(now)
            .bind(if paid_now {
                PaymentStatus::Completed
            } else {
                PaymentStatus::Pending
            })
            .bind(if paid_now { Some(now) } else { None })
            .fetch_one(&mut *tx)
            .await;
            let order = match inserted {
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    // Rolls back the reservations above; the caller tries another number.
                    return Err(Error::Conflict(ORDER_NUMBER_TAKEN.into()));
                }
                other => other?,
            };

            for line in &draft.lines {
                sqlx::query(
                    "INSERT INTO order_items (order_id, product_id, vendor_id, product_name, product_image, price, quantity, total_price)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(place.order_id)
                .bind(&line.product_id)
                .bind(&line.vendor_id)
                .bind(&line.name)
                .bind(&line.image)
                .bind(line.price)
                .bind(line.quantity)
                .bind(line.total)
                .execute(&mut *tx)
                .await?;
            }

            record_history!(
                tx,
                place.order_id,
                OrderStatus::Pending,
                OrderStatus::Pending.description(),
                place.user_id,
                now
            );
            if let Some(confirm) = confirm_now {
                let (history, message) = if paid_now {
                    (
                        "Order confirmed: nothing to pay",
                        format!(
                            "Your order {} is confirmed; its discount covers the whole total.",
                            place.order_number
                        ),
                    )
                } else {
                    (
                        "Order confirmed: cash on delivery",
                        format!(
                            "Your order {} is confirmed; pay on delivery.",
                            place.order_number
                        ),
                    )
                };
                record_history!(
                    tx,
                    place.order_id,
                    confirm.to(),
                    history,
                    Option::<String>::None,
                    now
                );
                notify!(
                    tx,
                    new_id(),
                    place.user_id,
                    NotificationKind::OrderConfirmed,
                    "Order confirmed",
                    message,
                    place.order_id,
                    now
                );
            }
            if let Some(gateway_order_id) = gateway_order_id {
                record_ledger!(
                    tx,
                    new_id(),
                    place.order_id,
                    LedgerKind::GatewayOrder,
                    gateway_order_id,
                    totals.total,
                    LedgerStatus::Created,
                    Option::<String>::None,
                    Option::<String>::None,
                    now
                );
            }

            tx.empty_cart(&draft.cart_id, now).await?;

            // Stock last: on PostgreSQL the product rows stay locked from here to the commit, and
            // hot products are what every checkout shares, so they are held as briefly as can be.
            let stock_lines: Vec<StockLine> = draft
                .lines
                .iter()
                .map(|line| StockLine {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                })
                .collect();
            let kind = if cod {
                StockMove::Sell
            } else {
                StockMove::Reserve
            };
            if let Some(short) = tx.move_stock(&stock_lines, kind, now).await? {
                let (available,): (i64,) =
                    sqlx::query_as("SELECT stock - reserved FROM products WHERE id = $1")
                        .bind(&short)
                        .fetch_one(&mut *tx)
                        .await?;
                let name = draft
                    .lines
                    .iter()
                    .find(|line| line.product_id == short)
                    .map_or("a product", |line| line.name.as_str());
                return Err(insufficient_stock(name, available));
            }
            order
        })) })
        .await;
        match placed {
            Ok(order) => Ok(Placed::Order(Box::new(order))),
            Err(Error::Conflict(reason)) if reason == ORDER_NUMBER_TAKEN => Ok(Placed::NumberTaken),
            Err(other) => Err(other),
        }
    }

    /// Records a payment the gateway says is captured for `order_id` and confirms the order with
    /// it, exactly once whichever path (verify-payment, `POST /payments`, webhook,
    /// reconciliation) arrives first: the reservation becomes a stock decrement, the discount use
    /// becomes final, the payment is recorded and the customer notified.
    ///
    /// The order row is locked first, so every path for one order runs one after the other. Every
    /// capture gets its own ledger row (one per payment id, ever); a capture that cannot pay the
    /// order (another amount or currency, an order already paid with another payment, or one
    /// cancelled or expired) gets a refund request of its own, keyed by its payment id, so each
    /// extra capture is refunded exactly once. A payment already recorded for another order is
    /// refused and changes nothing.
    pub async fn confirm_payment(
        &self,
        order_id: &str,
        payment: &CapturedPayment<'_>,
        source: &str,
    ) -> Result<Confirmation> {
        let now = now_millis();
        let payment_id = payment.payment_id;
        let confirm =
            StatusMove::checked(OrderStatus::Pending, OrderStatus::Confirmed, Actor::System)?;
        let commit = StockStep::checked(StockState::Reserved, StockState::Committed)?;
        Ok(transaction!(self, |tx| {
            let order = tx
                .lock_order(order_id)
                .await?
                .ok_or_else(|| Error::not_found("Order"))?;
            let captured_new = sqlx::query(
                "INSERT INTO payment_transactions
                 (id, order_id, kind, gateway_ref, amount, status, idempotency_key, detail, created_at, updated_at)
                 VALUES ($1, $2, 'payment_captured', $3, $4, 'captured', NULL, $5, $6, $6)
                 ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(order_id)
            .bind(payment_id)
            .bind(payment.amount)
            .bind(format!("{source}: {} {}", payment.currency, payment.amount))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !captured_new {
                let (owner,): (String,) = sqlx::query_as(
                    "SELECT order_id FROM payment_transactions WHERE kind = 'payment_captured' AND gateway_ref = $1",
                )
                .bind(payment_id)
                .fetch_one(&mut *tx)
                .await?;
                if owner != order_id {
                    return Err(Error::Conflict(
                        "This payment belongs to another order and cannot pay this one".into(),
                    ));
                }
            }
            // A capture that cannot pay this order goes back, once per payment id.
            let refund_capture = |reason: Refusal| Refusal::refund_key(reason, payment_id);

            if payment.amount != order.total_amount || payment.currency != order.currency {
                let refund_id = if captured_new {
                    tracing::error!(order = %order.order_number, captured = %payment.amount, currency = payment.currency,
                        expected = %order.total_amount, "captured amount differs from the order total; refunding it");
                    insert_refund_request!(
                        tx,
                        &order,
                        payment_id,
                        payment.amount,
                        refund_capture(Refusal::AmountMismatch),
                        Refusal::AmountMismatch.ledger_note(),
                        now
                    )
                } else {
                    None
                };
                return Ok(Confirmation::Refused {
                    order,
                    refund_id,
                    reason: Refusal::AmountMismatch,
                });
            }

            let moved: Option<Order> = sqlx::query_as(
                "UPDATE orders SET status = $4, payment_status = $6, gateway_payment_id = $2,
                        paid_at = $3, confirmed_at = $3, stock_state = $7, payment_expires_at = NULL, updated_at = $3
                 WHERE id = $1 AND status = $5 AND stock_state = $8
                 RETURNING *",
            )
            .bind(order_id)
            .bind(payment_id)
            .bind(now)
            .bind(confirm.to())
            .bind(confirm.from())
            .bind(PaymentStatus::Completed)
            .bind(commit.to())
            .bind(commit.from())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(confirmed) = moved {
                tx.finalize_discount_use(order_id, now).await?;
                record_history!(
                    tx,
                    order_id,
                    confirm.to(),
                    format!("Order confirmed: payment {payment_id} received"),
                    Option::<String>::None,
                    now
                );
                notify!(
                    tx,
                    new_id(),
                    &order.user_id,
                    NotificationKind::OrderConfirmed,
                    "Order confirmed",
                    format!(
                        "Payment received; your order {} is confirmed.",
                        order.order_number
                    ),
                    order_id,
                    now
                );
                // Product rows last, held only until the commit (see `place_order`).
                let lines = tx.order_stock_lines(order_id).await?;
                tx.move_stock(&lines, StockMove::CommitReservation, now)
                    .await?;
                return Ok(Confirmation::Confirmed(confirmed));
            }
            let reason = if order.status() == OrderStatus::Cancelled {
                Refusal::NotPayable
            } else if order.gateway_payment_id.as_deref() == Some(payment_id) {
                return Ok(Confirmation::AlreadyConfirmed(order));
            } else {
                Refusal::AlreadyPaid
            };
            // The order's own payment was refunded by its cancellation; any other capture here.
            let refund_id =
                if captured_new && order.gateway_payment_id.as_deref() != Some(payment_id) {
                    insert_refund_request!(
                        tx,
                        &order,
                        payment_id,
                        payment.amount,
                        refund_capture(reason),
                        reason.ledger_note(),
                        now
                    )
                } else {
                    None
                };
            Confirmation::Refused {
                order,
                refund_id,
                reason,
            }
        }))
    }

    /// Moves an order along the lifecycle for `actor` with one conditional update; a move the
    /// state machine does not allow (or a lost race) is a 409 naming the allowed next states.
    /// Cancellation and returns have their own methods.
    pub async fn move_order(
        &self,
        order: &Order,
        to: OrderStatus,
        actor: Actor,
        actor_id: &str,
        tracking: Option<(Option<&str>, Option<i64>)>,
    ) -> Result<Order> {
        let from = order.status();
        let step = StatusMove::checked(from, to, actor)?;
        let now = now_millis();
        let (tracking_number, estimated_delivery) = tracking.unwrap_or((None, None));
        transaction!(self, |tx| {
            let moved = sqlx::query(
                "UPDATE orders SET status = $3, updated_at = $4,
                        tracking_number = COALESCE($5, tracking_number),
                        estimated_delivery = COALESCE($6, estimated_delivery),
                        delivered_at = CASE WHEN $3 = 'delivered' THEN $4 ELSE delivered_at END,
                        received_at = CASE WHEN $3 = 'delivered' AND $7 THEN $4 ELSE received_at END,
                        payment_status = CASE WHEN $3 = 'delivered' AND payment_method = 'cod' THEN 'completed' ELSE payment_status END,
                        paid_at = CASE WHEN $3 = 'delivered' AND payment_method = 'cod' THEN $4 ELSE paid_at END
                 WHERE id = $1 AND status = $2",
            )
            .bind(&order.id)
            .bind(step.from())
            .bind(step.to())
            .bind(now)
            .bind(tracking_number)
            .bind(estimated_delivery)
            .bind(actor == Actor::Customer)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() != 1 {
                let current: Order = sqlx::query_as(ORDER_SQL)
                    .bind(&order.id)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(transition_conflict(current.status(), to, actor).into());
            }
            let description = match (to, tracking_number) {
                (OrderStatus::Shipped, Some(number)) => {
                    format!("Order shipped (tracking {number})")
                }
                (OrderStatus::Delivered, _) if actor == Actor::Customer => {
                    "Order received by the customer".to_string()
                }
                _ => to.description().to_string(),
            };
            record_history!(tx, &order.id, step.to(), &description, actor_id, now);
            if to == OrderStatus::Delivered && order.payment_method == PaymentMethod::Cod {
                record_ledger!(
                    tx,
                    new_id(),
                    &order.id,
                    LedgerKind::PaymentCaptured,
                    format!("cod-{}", order.order_number),
                    order.total_amount,
                    LedgerStatus::Captured,
                    Option::<String>::None,
                    "cash collected on delivery",
                    now
                );
            }
            if let Some((kind, title)) = match to {
                OrderStatus::Shipped => Some((NotificationKind::OrderShipped, "Order shipped")),
                OrderStatus::Delivered => {
                    Some((NotificationKind::OrderDelivered, "Order delivered"))
                }
                OrderStatus::Processing => {
                    Some((NotificationKind::OrderProcessing, "Order is being prepared"))
                }
                _ => None,
            } {
                let message = match (to, tracking_number) {
                    (OrderStatus::Shipped, Some(number)) => format!("Your order {} has shipped; tracking number {number}.", order.order_number),
                    (OrderStatus::Shipped, None) => format!("Your order {} has shipped.", order.order_number),
                    (OrderStatus::Delivered, _) => format!("Your order {} was delivered. Enjoy, and tell others what you think with a review.", order.order_number),
                    _ => format!("Your order {} is being prepared.", order.order_number),
                };
                notify!(
                    tx,
                    new_id(),
                    &order.user_id,
                    kind,
                    title,
                    message,
                    &order.id,
                    now
                );
            }
        });
        self.reload_order(&order.id).await
    }

    /// Sets `receivedAt` on an order a vendor or admin already marked delivered (the customer's
    /// "mark as received" after delivery). A no-op error if it is not delivered or already received.
    pub async fn mark_received(&self, order: &Order) -> Result<Order> {
        let now = now_millis();
        transaction!(self, |tx| {
            let done = sqlx::query(
                "UPDATE orders SET received_at = $2, updated_at = $2
                 WHERE id = $1 AND status = 'delivered' AND received_at IS NULL",
            )
            .bind(&order.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(Error::Conflict(format!(
                    "Order is {} and cannot be marked as received{}",
                    order.status,
                    if order.received_at.is_some() {
                        " again"
                    } else {
                        ""
                    }
                )));
            }
            record_history!(
                tx,
                &order.id,
                OrderStatus::Delivered,
                "Order received by the customer",
                &order.user_id,
                now
            );
        });
        self.reload_order(&order.id).await
    }

    /// Cancels an order: releases its reservation (unpaid) or puts its sold units back (paid),
    /// gives back a reserved discount use, and requests a full refund of a completed payment.
    /// Returns the order and the ledger id of the refund to process, if any.
    pub async fn cancel_order(
        &self,
        order_id: &str,
        actor: Actor,
        actor_id: Option<&str>,
        reason: &str,
    ) -> Result<(Order, Option<String>)> {
        let now = now_millis();
        let moves = StatusMove::all_into(OrderStatus::Cancelled, actor);
        let refund_id = transaction!(self, |tx| {
            let mut update = QueryBuilder::new("UPDATE orders SET status = ");
            update
                .push_bind(OrderStatus::Cancelled)
                .push(", cancelled_at = ")
                .push_bind(now)
                .push(", cancelled_by = ")
                .push_bind(actor_id)
                .push(", cancellation_reason = ")
                .push_bind(reason)
                .push(", payment_expires_at = NULL, updated_at = ")
                .push_bind(now)
                .push(" WHERE id = ")
                .push_bind(order_id)
                .push(" AND status IN (");
            let mut list = update.separated(", ");
            for step in &moves {
                list.push_bind(step.from());
            }
            update.push(")");
            let moved = update.build().execute(&mut *tx).await?;
            let order: Order = sqlx::query_as(ORDER_SQL)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::not_found("Order"))?;
            if moved.rows_affected() != 1 {
                return Err(
                    transition_conflict(order.status(), OrderStatus::Cancelled, actor).into(),
                );
            }
            // Lock order: the discount code's row before product rows.
            tx.release_discount_use(order_id, now).await?;
            record_history!(
                tx,
                order_id,
                OrderStatus::Cancelled,
                format!("Order cancelled: {reason}"),
                actor_id,
                now
            );
            notify!(
                tx,
                new_id(),
                &order.user_id,
                NotificationKind::OrderCancelled,
                "Order cancelled",
                format!("Your order {} was cancelled: {reason}", order.order_number),
                order_id,
                now
            );
            let refund_id = match (&order.gateway_payment_id, order.payment_status) {
                (Some(payment_id), PaymentStatus::Completed) => {
                    insert_refund_request!(
                        tx,
                        &order,
                        payment_id,
                        unrefunded(&order)?,
                        format!("cancel-{order_id}"),
                        "order cancelled",
                        now
                    )
                }
                _ => None,
            };
            // Product rows last, held only until the commit (see `place_order`).
            release_stock!(tx, &order, now);
            refund_id
        });
        Ok((self.reload_order(order_id).await?, refund_id))
    }
}

/// What an admin does with a return request (CONTRACT §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnAction {
    Approve,
    Reject,
    /// The goods are back: the order becomes `returned`, stock is restored, payment refunded.
    Complete,
}

impl Store {
    /// The customer's return request: only a delivered order, within the window after delivery,
    /// once. A single conditional update; when it changes nothing the reason is worked out after.
    pub async fn request_return(
        &self,
        order: &Order,
        reason: &str,
        window_days: i64,
    ) -> Result<Order> {
        let now = now_millis();
        let earliest_delivery = now - window_days * 24 * 60 * 60 * 1000;
        let step =
            ReturnStep::checked(ReturnStatus::None, ReturnStatus::Requested, Actor::Customer)?;
        transaction!(self, |tx| {
            let done = sqlx::query(
                "UPDATE orders SET return_status = $5, return_reason = $2, return_requested_at = $3, updated_at = $3
                 WHERE id = $1 AND status = $7 AND return_status = $6 AND delivered_at >= $4",
            )
            .bind(&order.id)
            .bind(reason)
            .bind(now)
            .bind(earliest_delivery)
            .bind(step.to())
            .bind(step.from())
            .bind(OrderStatus::Delivered)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                let current: Order = sqlx::query_as(ORDER_SQL)
                    .bind(&order.id)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(if current.status() != OrderStatus::Delivered {
                    Error::Conflict(format!(
                        "Only delivered orders can be returned; this order is {}",
                        current.status
                    ))
                } else if current.return_status != ReturnStatus::None {
                    Error::Conflict(format!(
                        "A return was already requested for this order (status: {})",
                        current.return_status
                    ))
                } else {
                    Error::Conflict(format!(
                        "The return window of {window_days} days after delivery has ended"
                    ))
                });
            }
            record_history!(
                tx,
                &order.id,
                order.status,
                format!("Return requested: {reason}"),
                &order.user_id,
                now
            );
            notify!(
                tx,
                new_id(),
                &order.user_id,
                NotificationKind::ReturnRequested,
                "Return requested",
                format!(
                    "We received your return request for order {}.",
                    order.order_number
                ),
                &order.id,
                now
            );
        });
        self.reload_order(&order.id).await
    }

    /// An admin's decision on a return. `Complete` restocks and requests the refund; the ledger id
    /// of that refund is returned for processing.
    pub async fn process_return(
        &self,
        order_id: &str,
        action: ReturnAction,
        reason: Option<&str>,
        admin_id: &str,
    ) -> Result<(Order, Option<String>)> {
        let now = now_millis();
        let (from, to, kind) = match action {
            ReturnAction::Approve => (
                ReturnStatus::Requested,
                ReturnStatus::Approved,
                NotificationKind::ReturnApproved,
            ),
            ReturnAction::Reject => (
                ReturnStatus::Requested,
                ReturnStatus::Rejected,
                NotificationKind::ReturnRejected,
            ),
            ReturnAction::Complete => (
                ReturnStatus::Approved,
                ReturnStatus::Completed,
                NotificationKind::ReturnCompleted,
            ),
        };
        let step = ReturnStep::checked(from, to, Actor::Admin)?;
        // A completed return moves the order itself: delivered -> returned, made by the server.
        let returned = if step.to() == ReturnStatus::Completed {
            Some(StatusMove::checked(
                OrderStatus::Delivered,
                OrderStatus::Returned,
                Actor::System,
            )?)
        } else {
            None
        };
        let refund_id = transaction!(self, |tx| {
            let done = sqlx::query(
                "UPDATE orders SET return_status = $3, return_decision_reason = COALESCE($4, return_decision_reason),
                        status = COALESCE($7, status),
                        returned_at = CASE WHEN $7 IS NULL THEN returned_at ELSE $5 END,
                        updated_at = $5
                 WHERE id = $1 AND return_status = $2 AND status = $6",
            )
            .bind(order_id)
            .bind(step.from())
            .bind(step.to())
            .bind(reason)
            .bind(now)
            .bind(OrderStatus::Delivered)
            .bind(returned.map(StatusMove::to))
            .execute(&mut *tx)
            .await?;
            let order: Order = sqlx::query_as(ORDER_SQL)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::not_found("Order"))?;
            if done.rows_affected() != 1 {
                return Err(Error::Conflict(format!(
                    "Cannot {} a return whose status is {} (order {}); it must be {from}",
                    match action {
                        ReturnAction::Approve => "approve",
                        ReturnAction::Reject => "reject",
                        ReturnAction::Complete => "complete",
                    },
                    order.return_status,
                    order.status
                )));
            }
            let (description, title, message) = match action {
                ReturnAction::Approve => (
                    "Return approved".to_string(),
                    "Return approved",
                    format!(
                        "Your return for order {} was approved; please send the items back.",
                        order.order_number
                    ),
                ),
                ReturnAction::Reject => (
                    format!("Return rejected: {}", reason.unwrap_or("no reason given")),
                    "Return rejected",
                    format!(
                        "Your return for order {} was rejected: {}",
                        order.order_number,
                        reason.unwrap_or("no reason given")
                    ),
                ),
                ReturnAction::Complete => (
                    OrderStatus::Returned.description().to_string(),
                    "Return completed",
                    format!(
                        "Your return for order {} is complete; your refund is on its way.",
                        order.order_number
                    ),
                ),
            };
            record_history!(tx, order_id, order.status, &description, admin_id, now);
            notify!(
                tx,
                new_id(),
                &order.user_id,
                kind,
                title,
                message,
                order_id,
                now
            );
            if action == ReturnAction::Complete {
                let paid_ref = match (order.payment_method, &order.gateway_payment_id) {
                    (PaymentMethod::Cod, _) => Some(format!("cod-{}", order.order_number)),
                    (_, Some(payment_id)) => Some(payment_id.clone()),
                    _ => None,
                };
                let refund_id = match paid_ref {
                    Some(payment_ref) if order.payment_status == PaymentStatus::Completed => {
                        insert_refund_request!(
                            tx,
                            &order,
                            payment_ref,
                            unrefunded(&order)?,
                            format!("return-{order_id}"),
                            "return completed",
                            now
                        )
                    }
                    _ => None,
                };
                // Product rows last, held only until the commit (see `place_order`).
                release_stock!(tx, &order, now);
                refund_id
            } else {
                None
            }
        });
        Ok((self.reload_order(order_id).await?, refund_id))
    }

    /// A requested refund with its order, if it is still waiting to be sent to the gateway.
    pub async fn refund_to_send(&self, ledger_id: &str) -> Result<Option<(LedgerEntry, Order)>> {
        let entry: Option<LedgerEntry> = read!(self, |pool| {
            sqlx::query_as("SELECT * FROM payment_transactions WHERE id = $1 AND kind = 'refund' AND status = 'requested'")
                .bind(ledger_id)
                .fetch_optional(pool)
                .await?
        });
        let Some(entry) = entry else { return Ok(None) };
        let order = self
            .order_by_id(&entry.order_id)
            .await?
            .ok_or_else(|| Error::not_found("Order"))?;
        Ok(Some((entry, order)))
    }

    /// Records the gateway's answer to a refund. The first answer (leaving `requested`) counts
    /// the amount against the order unless the refund failed; a later `pending -> failed` takes it
    /// back. Each step is a conditional update on the ledger row, so repeats change nothing. A
    /// refund of a duplicate capture does not touch the order, whose own payment stands.
    pub async fn record_refund_result(
        &self,
        ledger_id: &str,
        gateway_refund_id: Option<&str>,
        status: LedgerStatus,
    ) -> Result<()> {
        let now = now_millis();
        let update = "UPDATE payment_transactions SET status = $2, gateway_ref = COALESCE($3, gateway_ref), updated_at = $4
                      WHERE id = $1 AND kind = 'refund' AND status = $5 RETURNING *";
        transaction!(self, |tx| {
            let first: Option<LedgerEntry> = sqlx::query_as(update)
                .bind(ledger_id)
                .bind(status)
                .bind(gateway_refund_id)
                .bind(now)
                .bind(LedgerStatus::Requested)
                .fetch_optional(&mut *tx)
                .await?;
            let (entry, delta) = match first {
                Some(entry) if status == LedgerStatus::Failed => (entry, Money::ZERO),
                Some(entry) => {
                    let amount = entry.amount;
                    (entry, amount)
                }
                None => {
                    let settled: Option<LedgerEntry> = sqlx::query_as(update)
                        .bind(ledger_id)
                        .bind(status)
                        .bind(gateway_refund_id)
                        .bind(now)
                        .bind(LedgerStatus::Pending)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match settled {
                        Some(entry) if status == LedgerStatus::Failed => {
                            let back = Money::ZERO
                                .checked_sub(entry.amount)
                                .ok_or_else(money_overflow)?;
                            (entry, back)
                        }
                        Some(entry) => (entry, Money::ZERO),
                        None => return Ok(()),
                    }
                }
            };
            // Only a refund of the order's own payment changes what the order shows as refunded;
            // a refund of an extra capture (paid twice, paid late, another amount) stands alone in
            // the ledger, so `refunded_amount` never exceeds what the order's payment brought in.
            let counted: Option<Order> = if delta != Money::ZERO {
                sqlx::query_as(
                    "UPDATE orders SET refunded_amount = refunded_amount + $2, updated_at = $3,
                            payment_status = CASE WHEN refunded_amount + $2 >= total_amount THEN 'refunded'
                                                  WHEN $2 < 0 AND payment_status = 'refunded' THEN 'completed'
                                                  ELSE payment_status END
                     WHERE id = $1
                       AND (gateway_payment_id = $4 OR (payment_method = 'cod' AND $4 = 'cod-' || order_number))
                       AND refunded_amount + $2 BETWEEN 0 AND total_amount
                     RETURNING *",
                )
                .bind(&entry.order_id)
                .bind(delta)
                .bind(now)
                .bind(entry.payment_ref.as_deref().unwrap_or_default())
                .fetch_optional(&mut *tx)
                .await?
            } else {
                None
            };
            if delta != Money::ZERO {
                let order: Order = match counted {
                    Some(order) => order,
                    None => {
                        sqlx::query_as(ORDER_SQL)
                            .bind(&entry.order_id)
                            .fetch_one(&mut *tx)
                            .await?
                    }
                };
                let (kind, title, message) = if delta > Money::ZERO {
                    (
                        NotificationKind::OrderRefunded,
                        "Refund issued",
                        format!(
                            "{} {} is being refunded for order {}.",
                            order.currency, delta, order.order_number
                        ),
                    )
                } else {
                    (
                        NotificationKind::RefundFailed,
                        "Refund failed",
                        format!(
                            "The refund for order {} failed; our team will retry it.",
                            order.order_number
                        ),
                    )
                };
                notify!(
                    tx,
                    new_id(),
                    &order.user_id,
                    kind,
                    title,
                    message,
                    &order.id,
                    now
                );
            }
        });
        Ok(())
    }
}
