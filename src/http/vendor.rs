//! Vendor fulfilment (CONTRACT §6): a vendor sees the confirmed orders holding its products, only
//! its own lines and the totals of those lines, and moves along the orders whose lines are all its own.

use super::extract::{page_request, ApiJson, ApiPath, ApiQuery, Envelope, Pagination, Reply};
use super::order_input::{apply_status_body, parse_status, StatusBody};
use super::order_views::{load_order_list, OrderList, OrderView};
use super::roles::Vendor;
use super::AppState;
use crate::domain::money::Money;
use crate::domain::order::Actor;
use crate::domain::order_number::OrderRef;
use crate::error::{Error, ErrorBody, ErrorCode, Result};
use crate::store::order_queries::Viewer;
use crate::store::orders::Order;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vendor_orders))
        .routes(routes!(vendor_order))
        .routes(routes!(vendor_update_status))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VendorOrdersQuery {
    pub status: Option<String>,
    pub page: Option<String>,
    pub limit: Option<String>,
}

/// The vendor's view of one order: only its own lines; any other order is "not found".
async fn vendor_view(state: &AppState, vendor_id: &str, order: Order) -> Result<OrderView> {
    let views = load_order_list(&state.store, vec![order], |item| {
        item.vendor_id.as_deref() == Some(vendor_id)
    })
    .await?;
    views
        .into_iter()
        .next()
        .filter(|v| !v.items.is_empty())
        .map(vendor_share)
        .ok_or_else(|| Error::not_found("Order"))
}

/// `part` of `whole` applied to `amount`, rounded half-up to the minor unit.
fn pro_rata(amount: Money, part: Money, whole: Money) -> Money {
    if whole.minor() <= 0 {
        return Money::ZERO;
    }
    let scaled = i128::from(amount.minor()) * i128::from(part.minor());
    let whole = i128::from(whole.minor());
    let rounded = (2 * scaled + whole).div_euclid(2 * whole);
    Money::from_minor(i64::try_from(rounded).unwrap_or(0))
}

/// Narrows an order view (already holding only the vendor's lines) to the vendor's share: totals
/// computed from its lines (discount and tax pro rata of the order's subtotal, the shop's
/// shipping left out), the payment amount and refunds scaled the same way, and nothing of the
/// payment's identity, so no other vendor's amounts can be read or derived from it.
fn vendor_share(mut view: OrderView) -> OrderView {
    // The vendor moves an order only when every line is its own (`vendor_update_status`): its
    // lines hold all of the order's units exactly then.
    let own_units: i64 = view.items.iter().map(|line| line.quantity).sum();
    view.next_statuses = Some(if own_units == view.total_items {
        view.status.next_states(Actor::Vendor)
    } else {
        Vec::new()
    });
    let order_subtotal = view.subtotal;
    let order_total = view.total_amount;
    let mine = view
        .items
        .iter()
        .try_fold(Money::ZERO, |sum, line| sum.checked_add(line.total_price))
        .unwrap_or(Money::ZERO);
    let discount = pro_rata(view.discount, mine, order_subtotal);
    let tax = pro_rata(view.tax, mine, order_subtotal);
    let total = mine
        .checked_sub(discount)
        .and_then(|m| m.checked_add(tax))
        .unwrap_or(Money::ZERO);
    view.total_items = view.items.iter().map(|line| line.quantity).sum();
    view.subtotal = mine;
    view.discount = discount;
    view.tax = tax;
    view.shipping_charges = Money::ZERO;
    view.total_amount = total;
    let payment = &mut view.payment_details;
    payment.refunded_amount = pro_rata(payment.refunded_amount, total, order_total).min(total);
    payment.amount = total;
    payment.razorpay_order_id = None;
    payment.razorpay_payment_id = None;
    payment.refunds.clear();
    view
}

/// A confirmed-or-later order holding one of the vendor's products, or 404.
async fn vendor_order_by_ref(
    state: &AppState,
    vendor_id: &str,
    reference: &str,
) -> Result<(Order, bool)> {
    let reference = OrderRef::parse(reference).ok_or_else(|| Error::not_found("Order"))?;
    let order = state
        .store
        .order_for(reference.as_str(), Viewer::Admin)
        .await?
        .filter(|o| o.confirmed_at.is_some())
        .ok_or_else(|| Error::not_found("Order"))?;
    let items = state.store.order_items(&order.id).await?;
    let mine = items
        .iter()
        .filter(|i| i.vendor_id.as_deref() == Some(vendor_id))
        .count();
    if mine == 0 {
        return Err(Error::not_found("Order"));
    }
    Ok((order, mine == items.len()))
}

/// Orders holding the vendor's products (vendor).
#[utoipa::path(get, path = "/vendor/orders", tag = "vendor", security(("bearer" = [])),
    params(VendorOrdersQuery),
    responses(
        (status = 200, description = "A page of orders, with only the vendor's lines", body = Envelope<OrderList>),
        (status = 400, description = "Bad filter or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not a vendor", body = ErrorBody),
    ))]
async fn vendor_orders(
    State(state): State<AppState>,
    Vendor(caller): Vendor,
    ApiQuery(query): ApiQuery<VendorOrdersQuery>,
) -> Result<Reply<OrderList>> {
    let page = page_request(query.page.as_deref(), query.limit.as_deref())?;
    let status = parse_status(query.status.as_deref())?;
    let (orders, total) = state.store.vendor_orders(&caller.id, status, page).await?;
    let vendor_id = caller.id.clone();
    let orders = load_order_list(&state.store, orders, |item| {
        item.vendor_id.as_deref() == Some(vendor_id.as_str())
    })
    .await?
    .into_iter()
    .map(vendor_share)
    .collect();
    Ok(Reply::ok(
        "Vendor orders retrieved successfully",
        OrderList {
            orders,
            pagination: Pagination::new(page, total).into(),
        },
    ))
}

/// One order holding the vendor's products (vendor).
#[utoipa::path(get, path = "/vendor/orders/{orderId}", tag = "vendor", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    responses(
        (status = 200, description = "The order, with only the vendor's lines", body = Envelope<OrderView>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not a vendor", body = ErrorBody),
        (status = 404, description = "No such order for this vendor", body = ErrorBody),
    ))]
async fn vendor_order(
    State(state): State<AppState>,
    Vendor(caller): Vendor,
    ApiPath(order_id): ApiPath<String>,
) -> Result<Reply<OrderView>> {
    let (order, _) = vendor_order_by_ref(&state, &caller.id, &order_id).await?;
    Ok(Reply::ok(
        "Order retrieved successfully",
        vendor_view(&state, &caller.id, order).await?,
    ))
}

/// Move an order the vendor fulfils alone: processing, shipped, delivered (vendor).
#[utoipa::path(patch, path = "/vendor/orders/{orderId}/status", tag = "vendor", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "Order status updated", body = Envelope<OrderView>),
        (status = 400, description = "Bad status, tracking number or date", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not a vendor", body = ErrorBody),
        (status = 404, description = "No such order for this vendor", body = ErrorBody),
        (status = 409, description = "Move not allowed, or the order has other vendors' lines", body = ErrorBody),
    ))]
async fn vendor_update_status(
    State(state): State<AppState>,
    Vendor(caller): Vendor,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<Reply<OrderView>> {
    let (order, all_mine) = vendor_order_by_ref(&state, &caller.id, &order_id).await?;
    if !all_mine {
        return Err(Error::Conflict(
            ErrorCode::Conflict,
            "This order holds other sellers' products and is fulfilled by the shop".into(),
        ));
    }
    let order = apply_status_body(&state, &order, &body, Actor::Vendor, &caller.id).await?;
    Ok(Reply::ok(
        "Order status updated successfully",
        vendor_view(&state, &caller.id, order).await?,
    ))
}
