//! The customer's order routes (api-reference.md, CONTRACT §6): checkout, payment confirmation,
//! my orders, one order, tracking, cancel, received and return.

use super::extract::{
    optional_reason, optional_text, page_request, ApiJson, ApiPath, ApiQuery, Envelope,
    OptionalJson, Pagination, Reply,
};
use super::idempotency::idempotent;
use super::order_input::{owned_order, parse_sort, parse_status};
use super::order_views::{
    load_order_list, load_order_view, load_populated_order_view, receipt, tracking_view,
    written_order_view, OrderList, OrderView, Receipt, TrackingView,
};
use super::roles::AnyUser;
use super::session::AuthUser;
use super::AppState;
use crate::app::cancellation::{cancel_and_refund, CUSTOMER_REASON};
use crate::app::checkout::{self, Checkout, CheckoutRequest};
use crate::app::payments::PaymentSource;
use crate::app::{fulfilment, returns};
use crate::domain::gst::Gstin;
use crate::domain::ids::AddressId;
use crate::domain::order::{is_online_method, Actor, OrderStatus, PaymentMethod, PaymentStatus};
use crate::error::{Error, ErrorBody, ErrorCode, Result};
use crate::store::orders::OrderFilter;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
        .routes(routes!(verify_payment))
        .routes(routes!(pay))
        .routes(routes!(my_orders))
        .routes(routes!(get_order))
        .routes(routes!(tracking))
        .routes(routes!(cancel_order))
        .routes(routes!(mark_received))
        .routes(routes!(request_return))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderBody {
    /// `cod`, or an online method: razorpay, card, credit_card, debit_card, upi, netbanking, wallet.
    pub payment_method: String,
    /// Up to 500 characters.
    pub notes: Option<String>,
    /// One of the caller's saved addresses; overrides the cart's shipping address.
    pub address_id: Option<String>,
    /// The caller's cart id (optional; checked when given).
    pub cart_id: Option<String>,
    /// The buyer's GSTIN, for a B2B tax invoice (15 characters, check character verified).
    pub gstin: Option<String>,
}

/// The gateway order as api-reference.md shows it (Razorpay's own field names).
#[derive(Debug, Serialize, ToSchema)]
pub struct RazorpayOrderView {
    pub id: String,
    /// In paise.
    pub amount: i64,
    pub currency: String,
    pub receipt: Option<String>,
    pub status: crate::payments::GatewayOrderStatus,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedOrder {
    pub order: OrderView,
    /// Present for online payments.
    pub razorpay_order: Option<RazorpayOrderView>,
    /// The key the browser opens Razorpay Checkout with; present for online payments.
    pub payment_key: Option<String>,
    /// The same as `order._id` and `order.status`, for clients following user-flow.md.
    pub order_id: String,
    pub status: OrderStatus,
}

/// Check out the cart. Online methods create a gateway order (pay with Razorpay Checkout, then
/// verify); `cod` confirms at once.
#[utoipa::path(post, path = "/orders", tag = "orders", security(("bearer" = [])),
    request_body = CreateOrderBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Order created", body = Envelope<CreatedOrder>),
        (status = 400, description = "Invalid body, empty cart or no address", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "Unknown cart or address", body = ErrorBody),
        (status = 409, description = "Insufficient stock, code used up, cart changed, or key in use", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorBody),
        (status = 502, description = "Payment gateway error; nothing was written", body = ErrorBody),
        (status = 503, description = "Payment gateway unavailable; nothing was written", body = ErrorBody),
    ))]
async fn create_order(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateOrderBody>,
) -> Result<Response> {
    idempotent(&state, &caller, &headers, "POST /orders", &body, || {
        place_order(&state, &caller, &body)
    })
    .await
}

async fn place_order(
    state: &AppState,
    caller: &AuthUser,
    body: &CreateOrderBody,
) -> Result<Response> {
    let method = body.payment_method.trim().to_ascii_lowercase();
    let online = is_online_method(&method);
    if !online && method != "cod" {
        return Err(Error::invalid(
            "paymentMethod",
            "must be cod, razorpay, card, credit_card, debit_card, upi, netbanking or wallet",
            body.payment_method.as_str(),
        ));
    }
    let notes = optional_text("notes", body.notes.as_deref(), 500)?;
    let address_id = body
        .address_id
        .as_deref()
        .map(|raw| AddressId::parse("addressId", raw))
        .transpose()?;
    let buyer_gstin = match body.gstin.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(Gstin::parse(raw).map_err(|why| Error::invalid("gstin", why, raw))?),
    };
    let Checkout {
        placed,
        gateway_order,
        online,
    } = checkout::place_order(
        state,
        CheckoutRequest {
            user_id: &caller.id,
            method: &method,
            online,
            method_as_sent: &body.payment_method,
            notes,
            address_id: address_id.as_ref(),
            cart_id: body.cart_id.as_deref(),
            buyer_gstin: buyer_gstin.as_ref(),
        },
    )
    .await?;
    let status = placed.order.status;
    let view = written_order_view(placed.order, placed.items, &placed.ledger);
    let created = CreatedOrder {
        order_id: view.id.clone(),
        status,
        order: view,
        razorpay_order: gateway_order.map(|g| RazorpayOrderView {
            id: g.id,
            amount: g.amount.minor(),
            currency: g.currency,
            receipt: g.receipt,
            status: g.status,
            created_at: g.created_at,
        }),
        payment_key: online.then(|| state.gateway.key_id().to_string()),
    };
    Ok(Reply::created("Order created successfully", created).into_response())
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct VerifyPaymentBody {
    /// The gateway order id (`order_...`); `razorpay_order_id` is accepted too.
    #[serde(alias = "razorpay_order_id", rename = "orderId")]
    pub order_id: String,
    #[serde(alias = "razorpay_payment_id", rename = "paymentId")]
    pub payment_id: String,
    #[serde(alias = "razorpay_signature")]
    pub signature: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedPayment {
    pub order: OrderView,
    pub receipt: Receipt,
}

/// Confirm an online payment with the signature Razorpay Checkout returned.
#[utoipa::path(post, path = "/orders/verify-payment", tag = "orders", security(("bearer" = [])),
    request_body = VerifyPaymentBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 200, description = "Payment verified and order confirmed", body = Envelope<VerifiedPayment>),
        (status = 400, description = "Bad signature or body; nothing changed", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
        (status = 402, description = "The payment is not captured money (failed, created, refunded); nothing changed", body = ErrorBody),
        (status = 409, description = "The payment belongs to another order, or cannot pay this one (cancelled, already paid, another amount) and is refunded", body = ErrorBody),
        (status = 502, description = "Payment gateway error; nothing changed", body = ErrorBody),
        (status = 503, description = "Payment gateway unavailable; nothing changed, retry", body = ErrorBody),
    ))]
async fn verify_payment(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<VerifyPaymentBody>,
) -> Result<Response> {
    idempotent(
        &state,
        &caller,
        &headers,
        "POST /orders/verify-payment",
        &body,
        || async {
            let order = state
                .store
                .order_by_gateway_order(body.order_id.trim())
                .await?
                .filter(|o| o.user_id == caller.id || caller.is_admin())
                .ok_or_else(|| Error::not_found("Order"))?;
            let order = state
                .payments()
                .confirm_checkout(
                    &order,
                    body.payment_id.trim(),
                    body.signature.trim(),
                    PaymentSource::VerifyPayment,
                )
                .await?;
            let view = load_order_view(&state.store, order).await?;
            let receipt = receipt(&view);
            Ok(Reply::ok(
                "Payment verified and order confirmed successfully",
                VerifiedPayment {
                    order: view,
                    receipt,
                },
            )
            .into_response())
        },
    )
    .await
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayBody {
    /// The order's `_id` or `orderNumber`.
    pub order_id: String,
    /// An online method (razorpay, card, credit_card, debit_card, upi, netbanking, wallet).
    pub payment_method: String,
    /// With Razorpay: the payment id Checkout returned. Left out with the simulated gateway, the
    /// payment succeeds at once.
    pub payment_id: Option<String>,
    pub signature: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResult {
    pub order_id: String,
    pub order_number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
}

/// Pay for an order (user-flow.md step 4).
#[utoipa::path(post, path = "/payments", tag = "orders", security(("bearer" = [])),
    request_body = PayBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 200, description = "Paid; the order is confirmed", body = Envelope<PaymentResult>),
        (status = 400, description = "Bad method, missing or bad signature", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
        (status = 402, description = "The payment is not captured money; nothing changed", body = ErrorBody),
        (status = 409, description = "Order cannot be paid in its state, or the payment belongs to another order", body = ErrorBody),
        (status = 502, description = "Payment gateway error", body = ErrorBody),
        (status = 503, description = "Payment gateway unavailable", body = ErrorBody),
    ))]
async fn pay(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PayBody>,
) -> Result<Response> {
    idempotent(&state, &caller, &headers, "POST /payments", &body, || async {
        let method = body.payment_method.trim().to_ascii_lowercase();
        if !is_online_method(&method) {
            return Err(Error::invalid(
                "paymentMethod",
                "must be an online method: razorpay, card, credit_card, debit_card, upi, netbanking or wallet",
                body.payment_method.as_str(),
            ));
        }
        let order = owned_order(&state, &caller, &body.order_id).await?;
        if order.payment_method == PaymentMethod::Cod {
            return Err(Error::Conflict(
                ErrorCode::Conflict,
                "This order is paid in cash on delivery".into(),
            ));
        }
        let order = match (&body.payment_id, &body.signature) {
            (Some(payment_id), Some(signature)) => {
                state.payments().confirm_checkout(&order, payment_id.trim(), signature.trim(), PaymentSource::Payments).await?
            }
            (Some(_), None) => {
                return Err(Error::invalid("signature", "is required with paymentId", serde_json::Value::Null))
            }
            (None, _) => state.payments().pay_without_checkout(order).await?,
        };
        Ok(Reply::ok(
            "Payment processed successfully",
            PaymentResult {
                order_id: order.id.clone(),
                order_number: order.order_number.clone(),
                status: order.status,
                payment_status: order.payment_status,
            },
        )
        .into_response())
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct MyOrdersQuery {
    /// Only orders in this status.
    pub status: Option<String>,
    pub page: Option<String>,
    pub limit: Option<String>,
    /// createdAt (default), totalAmount or status.
    pub sort_by: Option<String>,
    /// asc or desc (default).
    pub sort_order: Option<String>,
}

/// The caller's orders.
#[utoipa::path(get, path = "/orders/my-orders", tag = "orders", security(("bearer" = [])),
    params(MyOrdersQuery),
    responses(
        (status = 200, description = "A page of the caller's orders", body = Envelope<OrderList>),
        (status = 400, description = "Bad filter, sort or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn my_orders(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiQuery(query): ApiQuery<MyOrdersQuery>,
) -> Result<Reply<OrderList>> {
    let page = page_request(query.page.as_deref(), query.limit.as_deref())?;
    let (sort, descending) =
        parse_sort(query.sort_by.as_deref(), query.sort_order.as_deref(), false)?;
    let filter = OrderFilter {
        user_id: Some(caller.id.clone()),
        status: parse_status(query.status.as_deref())?,
        sort,
        descending,
        ..OrderFilter::default()
    };
    let (orders, total) = state.store.list_orders(&filter, page).await?;
    let orders = load_order_list(&state.store, orders, |_| true).await?;
    Ok(Reply::ok(
        "User orders retrieved successfully",
        OrderList {
            orders,
            pagination: Pagination::new(page, total).into(),
        },
    ))
}

/// One order, by `_id` or `orderNumber`, with user and products populated.
#[utoipa::path(get, path = "/orders/{orderId}", tag = "orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    responses(
        (status = 200, description = "The order", body = Envelope<OrderView>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
    ))]
async fn get_order(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(order_id): ApiPath<String>,
) -> Result<Reply<OrderView>> {
    let order = owned_order(&state, &caller, &order_id).await?;
    let mut view = load_populated_order_view(&state.store, order).await?;
    if caller.is_admin() {
        // The admin console's order page offers exactly these moves.
        view = view.with_next_statuses(crate::domain::order::Actor::Admin);
    }
    Ok(Reply::ok("Order retrieved successfully", view))
}

/// Where an order is: status, tracking number and its full status history.
#[utoipa::path(get, path = "/orders/{orderId}/tracking", tag = "orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    responses(
        (status = 200, description = "Tracking information", body = Envelope<TrackingView>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
    ))]
async fn tracking(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(order_id): ApiPath<String>,
) -> Result<Reply<TrackingView>> {
    let order = owned_order(&state, &caller, &order_id).await?;
    let history = state.store.order_history(&order.id).await?;
    Ok(Reply::ok(
        "Order tracking information retrieved successfully",
        tracking_view(&order, history),
    ))
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct ReasonBody {
    pub reason: Option<String>,
}

/// Cancel an order (customers: pending or confirmed; admins also processing). Stock goes back and
/// a completed payment is refunded in full.
#[utoipa::path(patch, path = "/orders/{orderId}/cancel", tag = "orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "Order cancelled", body = Envelope<OrderView>),
        (status = 400, description = "Reason too long", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
        (status = 409, description = "Order can no longer be cancelled", body = ErrorBody),
    ))]
async fn cancel_order(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    headers: HeaderMap,
    ApiPath(order_id): ApiPath<String>,
    OptionalJson(body): OptionalJson<ReasonBody>,
) -> Result<Response> {
    idempotent(
        &state,
        &caller,
        &headers,
        &format!("PATCH /orders/{order_id}/cancel"),
        &body,
        || async {
            let reason = optional_reason(body.reason.as_deref())?;
            let order = owned_order(&state, &caller, &order_id).await?;
            let actor = if caller.is_admin() {
                Actor::Admin
            } else {
                Actor::Customer
            };
            let reason = reason.unwrap_or_else(|| CUSTOMER_REASON.into());
            let order = cancel_and_refund(&state, &order, actor, &caller.id, &reason).await?;
            let view = load_order_view(&state.store, order).await?;
            Ok(Reply::ok("Order cancelled successfully", view).into_response())
        },
    )
    .await
}

/// Mark a shipped (or delivered) order as received.
#[utoipa::path(patch, path = "/orders/{orderId}/received", tag = "orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    responses(
        (status = 200, description = "Order marked as received", body = Envelope<OrderView>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
        (status = 409, description = "Order is not shipped or delivered, or already received", body = ErrorBody),
    ))]
async fn mark_received(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(order_id): ApiPath<String>,
) -> Result<Reply<OrderView>> {
    let order = owned_order(&state, &caller, &order_id).await?;
    let order = fulfilment::mark_received(&state, &order, &caller.id).await?;
    let view = load_order_view(&state.store, order).await?;
    Ok(Reply::ok("Order marked as received", view))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ReturnBody {
    /// 1 to 200 characters.
    pub reason: String,
}

/// Ask to return a delivered order, within the return window.
#[utoipa::path(post, path = "/orders/{orderId}/return", tag = "orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    request_body = ReturnBody,
    responses(
        (status = 200, description = "Return requested", body = Envelope<OrderView>),
        (status = 400, description = "Missing or too long reason", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order for this user", body = ErrorBody),
        (status = 409, description = "Not delivered, already requested, or the window has ended", body = ErrorBody),
    ))]
async fn request_return(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    headers: HeaderMap,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(body): ApiJson<ReturnBody>,
) -> Result<Response> {
    idempotent(
        &state,
        &caller,
        &headers,
        &format!("POST /orders/{order_id}/return"),
        &body,
        || async {
            let reason = optional_reason(Some(&body.reason))?.ok_or_else(|| {
                Error::invalid(
                    "reason",
                    "is required (1 to 200 characters)",
                    body.reason.as_str(),
                )
            })?;
            let order = owned_order(&state, &caller, &order_id).await?;
            let order = returns::request_return(&state, &order, &reason).await?;
            let view = load_order_view(&state.store, order).await?;
            Ok(Reply::ok("Return request submitted successfully", view).into_response())
        },
    )
    .await
}
