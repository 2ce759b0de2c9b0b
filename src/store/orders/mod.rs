//! Orders: checkout (one transaction that freezes the cart into an order and reserves its stock),
//! confirmation exactly once, guarded status moves, cancellation and returns. The reads behind
//! the customer, admin and vendor views are in `order_queries`.
//!
//! Every change that must not happen twice is a conditional UPDATE whose `WHERE` names the state
//! the row must be in (`status = $from AND stock_state = $from` ..., each move checked against its
//! table in `store::moves`), so of two racing requests exactly one changes the row and the other
//! sees zero rows affected. On PostgreSQL the cart row is locked `FOR UPDATE` for the whole
//! checkout; on SQLite the single writer serializes.
//!
//! This module holds the rows, the shared statements and the steps every transaction below uses;
//! each workflow's transaction lives in its own file: `place` (checkout), `confirm` (payment
//! confirmation), `status` (lifecycle moves and cancellation), `returns`, `refunds` (the gateway's
//! answers to refunds).

use super::cart::{Cart, CartLine, CheckoutCart};
use super::discounts::DiscountUses;
use super::emails::{EmailSteps, MailSettings};
use super::gate::Tx;
use super::moves::{ReturnStep, StatusMove, StockStep};
use super::stock::{StockLine, StockMove, StockMoves};
use super::{read, transaction, Store, MAX_LIST_BINDS};
use crate::domain::gst::{GstRate, Gstin, StateCode};
use crate::domain::ids::new_id;
use crate::domain::ledger::{LedgerKind, LedgerStatus};
use crate::domain::mail::OrderMail;
use crate::domain::money::Money;
use crate::domain::notification::{ConfirmedBy, OrderEvent};
use crate::domain::order::{
    transition_conflict, Actor, OrderStatus, PaymentMethod, PaymentStatus, ReturnStatus, StockState,
};
use crate::domain::pricing::{price_detailed, Line, LineTax, PricingSettings, Totals};
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result};
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
    /// GST (CONTRACT §10): the buyer's GSTIN, the place of supply and the shipping charge's tax;
    /// `place_of_supply` is `None` for an order priced in flat mode.
    pub buyer_gstin: Option<String>,
    pub place_of_supply: Option<StateCode>,
    pub shipping_gst_rate: Option<GstRate>,
    pub shipping_taxable: Money,
    pub shipping_cgst: Money,
    pub shipping_sgst: Money,
    pub shipping_igst: Money,
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
    /// GST as charged (`gst_rate` is `None` in flat mode); `seller_state` is the vendor's state
    /// when the vendor invoices the line itself.
    pub hsn_code: Option<String>,
    pub gst_rate: Option<GstRate>,
    pub seller_state: Option<StateCode>,
    pub discount_share: Money,
    pub taxable_value: Money,
    pub cgst: Money,
    pub sgst: Money,
    pub igst: Money,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryEntry {
    pub status: OrderStatus,
    pub description: String,
    pub created_at: i64,
    /// The role of who made the step; `None` for the shop itself (a job, the gateway).
    pub actor_role: Option<crate::domain::user::Role>,
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
    pub hsn_code: Option<String>,
    pub seller_state: Option<StateCode>,
    /// The line's GST (GST mode only).
    pub tax: Option<LineTax>,
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
    /// GST mode: the shipping address's state and the shipping charge's tax.
    pub place_of_supply: Option<StateCode>,
    pub shipping_tax: Option<LineTax>,
}

pub struct PlaceOrder<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub user_id: &'a str,
    pub payment_method: PaymentMethod,
    pub notes: Option<&'a str>,
    pub currency: &'a str,
    pub settlement: Settlement<'a>,
    /// The buyer's GSTIN, for a B2B invoice.
    pub buyer_gstin: Option<&'a Gstin>,
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

/// An order as its checkout wrote it: the row, its lines (in `sort_items` order) and its ledger,
/// so the response needs no read after the commit.
#[derive(Debug)]
pub struct PlacedOrder {
    pub order: Order,
    pub items: Vec<OrderItem>,
    pub ledger: Vec<LedgerEntry>,
}

/// The order every view shows an order's lines in: by product name, then product id. Sorted here
/// rather than by the database, so both back-ends (and every collation) agree.
pub fn sort_items(items: &mut [OrderItem]) {
    items.sort_by(|a, b| {
        (
            a.order_id.as_str(),
            a.product_name.as_str(),
            a.product_id.as_str(),
        )
            .cmp(&(
                b.order_id.as_str(),
                b.product_name.as_str(),
                b.product_id.as_str(),
            ))
    });
}

/// How placing an order ended.
#[derive(Debug)]
pub enum Placed {
    Order(Box<PlacedOrder>),
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

    pub fn explain(self, order_number: &str, status: OrderStatus) -> String {
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
    /// One order by its number (the admin console's search).
    pub order_number: Option<String>,
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
    /// Orders that are sales (`OrderStatus::is_sale`) and their summed totals.
    pub sale_orders: i64,
    pub sale_amount: Money,
    /// Orders the shop still has to send (confirmed or processing).
    pub to_fulfil: i64,
    /// `(status, count, total_amount)`, largest count first.
    pub breakdown: Vec<(OrderStatus, i64, Money)>,
}

/// Internal marker of a lost race for an order number; never reaches a client.
const ORDER_NUMBER_TAKEN: &str = "order number taken";

const ORDER_SQL: &str = "SELECT * FROM orders WHERE id = $1";

/// The steps the order transactions share, called on the `tx` of `transaction!` like the stock
/// and discount steps (`StockMoves`, `DiscountUses`): each is written once and implemented for
/// both back-ends' transactions by `impl_order_steps!`.
#[async_trait::async_trait]
pub trait OrderSteps {
    /// The order row, locked until the transaction ends on PostgreSQL (`FOR UPDATE`; SQLite's
    /// single writer serializes anyway), so the paths that settle one order's payment run one
    /// after the other. Orders come first in the lock order (see `store`).
    async fn lock_order(&mut self, order_id: &str) -> Result<Option<Order>>;

    /// Appends a line to the order's status history (what tracking shows).
    async fn record_history(
        &mut self,
        order_id: &str,
        status: OrderStatus,
        description: &str,
        actor_id: Option<&str>,
        now: i64,
    ) -> Result<()>;

    /// Tells the order's customer about `event` (`domain::notification` holds the wording), in
    /// the transaction of the change it reports.
    /// Also keeps the customer's email about it (and, on confirmation, each vendor's) in the
    /// outbox (`store::emails`), composed with `mail`; `items` are the order's lines when the
    /// caller has them (else they are read when the email shows them).
    async fn notify(
        &mut self,
        mail: &MailSettings,
        order: &Order,
        items: Option<&[OrderItem]>,
        event: OrderEvent<'_>,
        now: i64,
    ) -> Result<()>;

    /// Adds a row to the payments ledger and returns it as stored.
    async fn record_ledger(&mut self, row: LedgerRow<'_>, now: i64) -> Result<LedgerEntry>;

    /// Gives an order's stock back once: a reservation is released, sold units are restocked.
    /// The conditional update of `stock_state` makes a second call (or a racing one) do nothing.
    /// Product rows come last in the lock order: call it as the transaction's last step.
    async fn release_stock(&mut self, order: &Order, now: i64) -> Result<()>;

    /// Records a refund to be sent to the gateway, at most once per `key` (the unique
    /// idempotency key, also sent to the gateway). The ledger id when this call created it.
    async fn request_refund(
        &mut self,
        order: &Order,
        refund: RefundRow<'_>,
        now: i64,
    ) -> Result<Option<String>>;
}

/// The order a step is about: its id, customer and number.
#[derive(Debug, Clone, Copy)]
pub struct OrderRef<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub order_number: &'a str,
}

impl Order {
    pub fn as_ref(&self) -> OrderRef<'_> {
        OrderRef {
            id: &self.id,
            user_id: &self.user_id,
            order_number: &self.order_number,
        }
    }
}

/// A payments-ledger row other than a refund request.
#[derive(Debug, Clone, Copy)]
pub struct LedgerRow<'a> {
    pub order_id: &'a str,
    pub kind: LedgerKind,
    pub gateway_ref: &'a str,
    pub amount: Money,
    pub status: LedgerStatus,
    pub detail: Option<&'a str>,
}

/// A refund to request: of `payment_ref` (a gateway payment id, or `cod-<order number>`).
#[derive(Debug, Clone, Copy)]
pub struct RefundRow<'a> {
    pub payment_ref: &'a str,
    pub amount: Money,
    pub key: &'a str,
    pub detail: &'a str,
}

macro_rules! impl_order_steps {
    ($tx:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl OrderSteps for $tx {
            async fn lock_order(&mut self, order_id: &str) -> Result<Option<Order>> {
                Ok(
                    sqlx::query_as(concat!("SELECT * FROM orders WHERE id = $1", $lock))
                        .bind(order_id)
                        .fetch_optional(&mut **self)
                        .await?,
                )
            }

            async fn record_history(
                &mut self,
                order_id: &str,
                status: OrderStatus,
                description: &str,
                actor_id: Option<&str>,
                now: i64,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO order_status_history (order_id, status, description, actor_id, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(order_id)
                .bind(status)
                .bind(description)
                .bind(actor_id)
                .bind(now)
                .execute(&mut **self)
                .await?;
                Ok(())
            }

            async fn notify(
                &mut self,
                mail: &MailSettings,
                order: &Order,
                items: Option<&[OrderItem]>,
                event: OrderEvent<'_>,
                now: i64,
            ) -> Result<()> {
                if let Some(notice) = event.notice(&order.order_number) {
                    sqlx::query(
                        "INSERT INTO notifications (id, user_id, kind, title, message, order_id, is_read, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)",
                    )
                    .bind(new_id())
                    .bind(&order.user_id)
                    .bind(notice.kind)
                    .bind(notice.title)
                    .bind(notice.message)
                    .bind(&order.id)
                    .bind(now)
                    .execute(&mut **self)
                    .await?;
                }
                self.queue_order_emails(mail, order, items, OrderMail::Event(event), now)
                    .await
            }

            async fn record_ledger(&mut self, row: LedgerRow<'_>, now: i64) -> Result<LedgerEntry> {
                Ok(sqlx::query_as(
                    "INSERT INTO payment_transactions
                     (id, order_id, kind, gateway_ref, amount, status, idempotency_key, detail, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $8)
                     RETURNING *",
                )
                .bind(new_id())
                .bind(row.order_id)
                .bind(row.kind)
                .bind(row.gateway_ref)
                .bind(row.amount)
                .bind(row.status)
                .bind(row.detail)
                .bind(now)
                .fetch_one(&mut **self)
                .await?)
            }

            async fn release_stock(&mut self, order: &Order, now: i64) -> Result<()> {
                let Some(to) = order.stock_state.given_back() else {
                    return Ok(());
                };
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
                .execute(&mut **self)
                .await?;
                if flipped.rows_affected() == 1 {
                    let lines = self.order_stock_lines(&order.id).await?;
                    self.move_stock(&lines, kind, now).await?;
                }
                Ok(())
            }

            async fn request_refund(
                &mut self,
                order: &Order,
                refund: RefundRow<'_>,
                now: i64,
            ) -> Result<Option<String>> {
                if refund.amount <= Money::ZERO {
                    return Ok(None);
                }
                let id = new_id();
                let inserted = sqlx::query(
                    "INSERT INTO payment_transactions
                     (id, order_id, kind, gateway_ref, amount, status, idempotency_key, payment_ref, detail, created_at, updated_at)
                     VALUES ($1, $2, 'refund', NULL, $3, 'requested', $4, $5, $7, $6, $6)
                     ON CONFLICT DO NOTHING",
                )
                .bind(&id)
                .bind(&order.id)
                .bind(refund.amount)
                .bind(refund.key)
                .bind(refund.payment_ref)
                .bind(now)
                .bind(refund.detail)
                .execute(&mut **self)
                .await?;
                Ok((inserted.rows_affected() == 1).then_some(id))
            }
        }
    };
}

impl_order_steps!(Tx<'_, sqlx::Sqlite>, "");
impl_order_steps!(Tx<'_, sqlx::Postgres>, " FOR UPDATE");

mod confirm;
mod place;
mod refunds;
mod returns;
mod status;

pub use returns::ReturnAction;

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

impl Store {
    /// The order as it is after a change just committed.
    async fn reload_order(&self, order_id: &str) -> Result<Order> {
        self.order_by_id(order_id)
            .await?
            .ok_or_else(|| Error::not_found("Order"))
    }
}
