//! How orders look on the wire (api-reference.md): the order, its lines, `paymentDetails` derived
//! from the payments ledger, tracking, and the receipt of a confirmed payment.

use super::extract::Pagination;
use crate::domain::gst::GstRate;
use crate::domain::ledger::{LedgerKind, LedgerStatus};
use crate::domain::money::Money;
use crate::domain::order::{Actor, OrderStatus, PaymentMethod, PaymentStatus, ReturnStatus};
use crate::domain::pricing::{tax_breakdown, TaxSplit};
use crate::domain::time::to_rfc3339;
use crate::domain::user::Role;
use crate::error::Result;
use crate::store::orders::{HistoryEntry, LedgerEntry, Order, OrderItem};
use crate::store::Store;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// `userId`: the id, or the user populated with contact details on the single-order view.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserRef {
    Id(String),
    User(UserSummary),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSummary {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

/// `productId`: the id, or the product populated on the single-order view.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProductRef {
    Id(String),
    Product(ProductSummary),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductSummary {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub image_urls: Vec<String>,
    pub brand: String,
    pub category: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemView {
    pub product_id: ProductRef,
    pub product_name: String,
    pub product_image: Option<String>,
    pub vendor_id: Option<String>,
    pub quantity: i64,
    pub price: Money,
    pub total_price: Money,
    /// GST (CONTRACT §10; `null` for orders priced in flat mode): the HSN code, the rate in
    /// percent, the line's value after its share of the discount and its taxes.
    pub hsn_code: Option<String>,
    pub gst_rate: Option<i64>,
    pub taxable_value: Option<Money>,
    pub cgst: Option<Money>,
    pub sgst: Option<Money>,
    pub igst: Option<Money>,
}

/// One row of `taxBreakdown`: everything taxed at one rate, shipping included.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaxRowView {
    /// Percent: 0, 5, 18 or 40.
    pub gst_rate: i64,
    pub taxable_value: Money,
    pub cgst: Money,
    pub sgst: Money,
    pub igst: Money,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    /// The gateway's refund id once it accepted the refund, else the ledger id.
    pub id: String,
    pub amount: Money,
    /// requested | pending | processed | failed
    pub status: LedgerStatus,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetails {
    pub method: PaymentMethod,
    /// pending | completed | refunded
    pub status: PaymentStatus,
    pub amount: Money,
    pub currency: String,
    pub razorpay_order_id: Option<String>,
    pub razorpay_payment_id: Option<String>,
    pub paid_at: Option<String>,
    pub refunded_amount: Money,
    pub refunds: Vec<RefundView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    #[serde(rename = "_id")]
    pub id: String,
    pub order_number: String,
    pub user_id: UserRef,
    pub items: Vec<OrderItemView>,
    pub total_items: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub discount_code: Option<String>,
    pub shipping_charges: Money,
    pub tax: Money,
    /// GST per rate (empty in flat mode).
    pub tax_breakdown: Vec<TaxRowView>,
    /// The buyer's GSTIN given at checkout.
    pub buyer_gstin: Option<String>,
    /// The GST place of supply, `27-Maharashtra` (GST mode only).
    pub place_of_supply: Option<String>,
    pub total_amount: Money,
    pub status: OrderStatus,
    #[schema(value_type = Object)]
    pub shipping_address: serde_json::Value,
    pub payment_details: PaymentDetails,
    pub notes: Option<String>,
    pub tracking_number: Option<String>,
    pub estimated_delivery: Option<String>,
    pub payment_due_by: Option<String>,
    pub delivered_at: Option<String>,
    pub received_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub cancelled_by: Option<String>,
    pub cancellation_reason: Option<String>,
    pub return_requested_at: Option<String>,
    pub return_reason: Option<String>,
    /// none | requested | approved | rejected | completed
    pub return_status: ReturnStatus,
    pub return_decision_reason: Option<String>,
    pub returned_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// In the admin and vendor views only: the statuses this caller may move the order to now,
    /// from the lifecycle table (`domain::order::TRANSITIONS`); the consoles offer exactly these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_statuses: Option<Vec<OrderStatus>>,
}

impl OrderView {
    /// Adds the moves `actor` may make from the order's status now.
    pub fn with_next_statuses(mut self, actor: Actor) -> OrderView {
        self.next_statuses = Some(self.status.next_states(actor));
        self
    }
}

fn time(at: Option<i64>) -> Option<String> {
    at.map(to_rfc3339)
}

fn item_view(item: OrderItem, product: ProductRef) -> OrderItemView {
    let gst = item.gst_rate.is_some();
    let amount = |value: Money| gst.then_some(value);
    OrderItemView {
        hsn_code: item.hsn_code,
        gst_rate: item.gst_rate.map(GstRate::percent),
        taxable_value: amount(item.taxable_value),
        cgst: amount(item.cgst),
        sgst: amount(item.sgst),
        igst: amount(item.igst),
        product_id: product,
        product_name: item.product_name,
        product_image: item.product_image,
        vendor_id: item.vendor_id,
        quantity: item.quantity,
        price: item.price,
        total_price: item.total_price,
    }
}

/// Builds the view of `order` from its rows; `ledger` fills the refunds of `paymentDetails`.
pub fn order_view(
    order: Order,
    user: UserRef,
    items: Vec<OrderItemView>,
    ledger: &[LedgerEntry],
) -> OrderView {
    let refunds = ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .map(|e| RefundView {
            id: e.gateway_ref.clone().unwrap_or_else(|| e.id.clone()),
            amount: e.amount,
            status: e.status,
            created_at: to_rfc3339(e.created_at),
        })
        .collect();
    let shipping = order.shipping_gst_rate.map(|rate| {
        (
            rate,
            TaxSplit {
                taxable_value: order.shipping_taxable,
                cgst: order.shipping_cgst,
                sgst: order.shipping_sgst,
                igst: order.shipping_igst,
            },
        )
    });
    let lines = items.iter().filter_map(|item| {
        Some((
            GstRate::from_percent(item.gst_rate?)?,
            TaxSplit {
                taxable_value: item.taxable_value?,
                cgst: item.cgst?,
                sgst: item.sgst?,
                igst: item.igst?,
            },
        ))
    });
    // Stored amounts are far inside i64; an overflow would be a corrupt row, shown as no rows.
    let tax_breakdown = tax_breakdown(lines.chain(shipping))
        .unwrap_or_default()
        .into_iter()
        .map(|row| TaxRowView {
            gst_rate: row.gst_rate.percent(),
            taxable_value: row.split.taxable_value,
            cgst: row.split.cgst,
            sgst: row.split.sgst,
            igst: row.split.igst,
        })
        .collect();
    OrderView {
        tax_breakdown,
        buyer_gstin: order.buyer_gstin,
        place_of_supply: order.place_of_supply.map(|state| state.to_string()),
        id: order.id,
        order_number: order.order_number,
        user_id: user,
        items,
        total_items: order.total_items,
        subtotal: order.subtotal,
        discount: order.discount,
        discount_code: order.discount_code,
        shipping_charges: order.shipping_charges,
        tax: order.tax,
        total_amount: order.total_amount,
        status: order.status,
        shipping_address: serde_json::from_str(&order.shipping_address)
            .unwrap_or(serde_json::Value::Null),
        payment_details: PaymentDetails {
            method: order.payment_method,
            status: order.payment_status,
            amount: order.total_amount,
            currency: order.currency,
            razorpay_order_id: order.gateway_order_id,
            razorpay_payment_id: order.gateway_payment_id,
            paid_at: time(order.paid_at),
            refunded_amount: order.refunded_amount,
            refunds,
        },
        notes: order.notes,
        tracking_number: order.tracking_number,
        estimated_delivery: time(order.estimated_delivery),
        payment_due_by: if order.status == OrderStatus::Pending {
            time(order.payment_expires_at)
        } else {
            None
        },
        delivered_at: time(order.delivered_at),
        received_at: time(order.received_at),
        cancelled_at: time(order.cancelled_at),
        cancelled_by: order.cancelled_by,
        cancellation_reason: order.cancellation_reason,
        return_requested_at: time(order.return_requested_at),
        return_reason: order.return_reason,
        return_status: order.return_status,
        return_decision_reason: order.return_decision_reason,
        returned_at: time(order.returned_at),
        created_at: to_rfc3339(order.created_at),
        updated_at: to_rfc3339(order.updated_at),
        next_statuses: None,
    }
}

/// One order with its lines and ledger; ids only (no population).
pub async fn load_order_view(store: &Store, order: Order) -> Result<OrderView> {
    let items = store.order_items(&order.id).await?;
    let ledger = store.order_ledger(&order.id).await?;
    Ok(written_order_view(order, items, &ledger))
}

/// One order from rows already at hand (a checkout's own writes); ids only.
pub fn written_order_view(
    order: Order,
    items: Vec<OrderItem>,
    ledger: &[LedgerEntry],
) -> OrderView {
    let user = UserRef::Id(order.user_id.clone());
    let items = items
        .into_iter()
        .map(|i| {
            let id = i.product_id.clone();
            item_view(i, ProductRef::Id(id))
        })
        .collect();
    order_view(order, user, items, ledger)
}

/// The single-order view of `GET /orders/:orderId`: user and products populated, the products
/// in one query.
pub async fn load_populated_order_view(store: &Store, order: Order) -> Result<OrderView> {
    let items = store.order_items(&order.id).await?;
    let ledger = store.order_ledger(&order.id).await?;
    let user = match store.user_by_id(&order.user_id).await? {
        Some(u) => UserRef::User(UserSummary {
            id: u.id,
            name: u.name,
            email: u.email,
            phone: u.phone,
        }),
        None => UserRef::Id(order.user_id.clone()),
    };
    let ids: Vec<String> = items.iter().map(|i| i.product_id.clone()).collect();
    let products: HashMap<String, ProductSummary> = store
        .products_by_ids(&ids)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.id.clone(),
                ProductSummary {
                    id: p.id,
                    name: p.name,
                    image_urls: p.image_urls,
                    brand: p.brand,
                    category: p.category,
                },
            )
        })
        .collect();
    let views = items
        .into_iter()
        .map(|item| {
            let product = match products.get(&item.product_id) {
                Some(p) => ProductRef::Product(p.clone()),
                None => ProductRef::Id(item.product_id.clone()),
            };
            item_view(item, product)
        })
        .collect();
    Ok(order_view(order, user, views, &ledger))
}

/// Views of a page of orders with their lines and refunds, in two queries whatever the page's
/// size; `keep_line` filters lines (a vendor sees only its own).
pub async fn load_order_list(
    store: &Store,
    orders: Vec<Order>,
    keep_line: impl Fn(&OrderItem) -> bool,
) -> Result<Vec<OrderView>> {
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut lines: HashMap<String, Vec<OrderItemView>> = HashMap::new();
    for item in store.items_of_orders(&ids).await? {
        if keep_line(&item) {
            let product = ProductRef::Id(item.product_id.clone());
            lines
                .entry(item.order_id.clone())
                .or_default()
                .push(item_view(item, product));
        }
    }
    let mut ledgers: HashMap<String, Vec<LedgerEntry>> = HashMap::new();
    for entry in store.ledgers_of_orders(&ids).await? {
        ledgers
            .entry(entry.order_id.clone())
            .or_default()
            .push(entry);
    }
    Ok(orders
        .into_iter()
        .map(|order| {
            let items = lines.remove(&order.id).unwrap_or_default();
            let ledger = ledgers.remove(&order.id).unwrap_or_default();
            let user = UserRef::Id(order.user_id.clone());
            order_view(order, user, items, &ledger)
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPagination {
    pub current_page: i64,
    pub total_pages: i64,
    pub total_orders: i64,
    pub total_items: i64,
    pub has_next: bool,
    pub has_prev: bool,
}

impl From<Pagination> for OrderPagination {
    fn from(p: Pagination) -> Self {
        OrderPagination {
            current_page: p.current_page,
            total_pages: p.total_pages,
            total_orders: p.total_items,
            total_items: p.total_items,
            has_next: p.has_next,
            has_prev: p.has_prev,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderView>,
    pub pagination: OrderPagination,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub status: OrderStatus,
    pub timestamp: String,
    pub description: String,
    /// Who made the step, by role (customer, vendor or admin); null for the shop itself (payment
    /// confirmations, expiry, refunds sent by the gateway).
    pub by: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingView {
    pub order_number: String,
    pub status: OrderStatus,
    pub tracking_number: Option<String>,
    pub estimated_delivery: Option<String>,
    pub delivered_at: Option<String>,
    pub order_date: String,
    pub status_history: Vec<HistoryView>,
}

pub fn tracking_view(order: &Order, history: Vec<HistoryEntry>) -> TrackingView {
    TrackingView {
        order_number: order.order_number.clone(),
        status: order.status,
        tracking_number: order.tracking_number.clone(),
        estimated_delivery: time(order.estimated_delivery),
        delivered_at: time(order.delivered_at),
        order_date: to_rfc3339(order.created_at),
        status_history: history
            .into_iter()
            .map(|h| HistoryView {
                status: h.status,
                timestamp: to_rfc3339(h.created_at),
                description: h.description,
                by: h.actor_role,
            })
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub order_number: String,
    pub date: String,
    pub items: Vec<OrderItemView>,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub payment_id: Option<String>,
    pub paid_at: Option<String>,
}

/// The receipt of api-reference.md's verify-payment response, from the order's own view.
pub fn receipt(view: &OrderView) -> Receipt {
    Receipt {
        order_number: view.order_number.clone(),
        date: view
            .payment_details
            .paid_at
            .clone()
            .unwrap_or_else(|| view.created_at.clone()),
        items: view
            .items
            .iter()
            .map(|i| OrderItemView {
                product_id: match &i.product_id {
                    ProductRef::Id(id) => ProductRef::Id(id.clone()),
                    ProductRef::Product(p) => ProductRef::Id(p.id.clone()),
                },
                product_name: i.product_name.clone(),
                product_image: i.product_image.clone(),
                vendor_id: i.vendor_id.clone(),
                quantity: i.quantity,
                price: i.price,
                total_price: i.total_price,
                hsn_code: i.hsn_code.clone(),
                gst_rate: i.gst_rate,
                taxable_value: i.taxable_value,
                cgst: i.cgst,
                sgst: i.sgst,
                igst: i.igst,
            })
            .collect(),
        subtotal: view.subtotal,
        discount: view.discount,
        shipping: view.shipping_charges,
        tax: view.tax,
        total: view.total_amount,
        payment_method: view.payment_details.method,
        payment_status: view.payment_details.status,
        payment_id: view.payment_details.razorpay_payment_id.clone(),
        paid_at: view.payment_details.paid_at.clone(),
    }
}
