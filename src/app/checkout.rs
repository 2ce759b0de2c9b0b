//! Checkout (CONTRACT §6): turns the caller's cart into an order. The store prices the cart and
//! writes the order in one transaction; this module picks the address, keeps an online total
//! payable, creates the gateway order and retries when two nodes draw the same order number.

use super::AppState;
use crate::domain::gst::Gstin;
use crate::domain::ids::{new_id, parse_id, AddressId};
use crate::domain::order::{new_order_number, PaymentMethod};
use crate::domain::pricing::PricingSettings;
use crate::domain::time::now_millis;
use crate::error::{Error, Result};
use crate::payments::{CreateOrderRequest, GatewayOrder};
use crate::store::orders::{PlaceOrder, Placed, PlacedOrder, Settlement};

/// Razorpay's smallest payment: 1.00 in minor units.
const MIN_ONLINE_MINOR: i64 = 100;

/// What the customer asked for, already parsed by the caller.
pub struct CheckoutRequest<'a> {
    pub user_id: &'a str,
    /// `cod` or an online method, lower case.
    pub method: &'a str,
    /// Whether `method` is paid online.
    pub online: bool,
    /// The method as the client sent it, echoed in a refusal.
    pub method_as_sent: &'a str,
    pub notes: Option<String>,
    /// One of the caller's saved addresses; overrides the cart's shipping address.
    pub address_id: Option<&'a AddressId>,
    /// The caller's cart id as sent, checked when given.
    pub cart_id: Option<&'a str>,
    /// The buyer's GSTIN, already verified.
    pub buyer_gstin: Option<&'a Gstin>,
}

/// The order placed, and the gateway order to pay it with when it is paid online.
pub struct Checkout {
    /// The order as written: row, lines and ledger.
    pub placed: PlacedOrder,
    pub gateway_order: Option<GatewayOrder>,
    /// Whether the customer pays at the gateway (false for cash and for a total of zero).
    pub online: bool,
}

pub fn pricing(state: &AppState) -> PricingSettings {
    PricingSettings::from_config(&state.config)
}

/// Places the caller's cart as an order.
pub async fn place_order(state: &AppState, request: CheckoutRequest<'_>) -> Result<Checkout> {
    let CheckoutRequest {
        user_id,
        method,
        online,
        method_as_sent,
        notes,
        address_id,
        cart_id,
        buyer_gstin,
    } = request;
    let address = match address_id {
        None => None,
        Some(id) => {
            let address = state
                .store
                .address_for_user(user_id, id.as_str())
                .await?
                .ok_or_else(|| Error::not_found("Address"))?;
            Some(
                serde_json::to_string(&address.shipping())
                    .map_err(|e| Error::Internal(e.into()))?,
            )
        }
    };
    let settings = pricing(state);
    let draft = state
        .store
        .draft_checkout(user_id, address.as_deref(), &settings)
        .await?;
    if let Some(raw) = cart_id {
        if parse_id("cartId", raw)? != draft.cart_id {
            return Err(Error::not_found("Cart"));
        }
    }

    // Razorpay takes at least 1.00; a total of zero (a code covering everything) needs no gateway
    // and is confirmed at once, anything in between cannot be paid online.
    let total = draft.totals.total.minor();
    let nothing_to_pay = online && total == 0;
    if online && (1..MIN_ONLINE_MINOR).contains(&total) {
        return Err(Error::invalid(
            "paymentMethod",
            format!(
                "online payments must be at least 1.00; this order's total is {}: choose cod",
                draft.totals.total
            ),
            method_as_sent,
        ));
    }
    let online = online && !nothing_to_pay;

    // Two nodes may pick the same order number in the same millisecond; the loser writes nothing
    // and tries again with a new number (and, for online payments, a new gateway order, since
    // its receipt is the order number; the unused one simply expires at the gateway).
    let mut attempts = 0;
    let (placed, gateway_order) = loop {
        attempts += 1;
        let now = now_millis();
        let order_id = new_id();
        let order_number = new_order_number(now);
        let gateway_order = if online {
            let created = state
                .gateway
                .create_order(CreateOrderRequest {
                    amount: draft.totals.total,
                    currency: state.config.currency.clone(),
                    receipt: order_number.clone(),
                    notes: vec![
                        ("order_id".into(), order_id.clone()),
                        ("user_id".into(), user_id.to_string()),
                    ],
                })
                .await;
            metrics::counter!("orders_gateway_orders_total", "outcome" => if created.is_ok() { "created" } else { "failed" })
                .increment(1);
            Some(created?)
        } else {
            None
        };
        let timeout_ms = state.config.order_payment_timeout_minutes * 60 * 1000;
        let placed = state
            .store
            .place_order(
                &draft,
                PlaceOrder {
                    order_id: &order_id,
                    order_number: &order_number,
                    user_id,
                    payment_method: PaymentMethod::parse(method)
                        .ok_or_else(|| Error::bad_request("Unknown payment method"))?,
                    notes: notes.as_deref(),
                    currency: &state.config.currency,
                    settlement: match &gateway_order {
                        Some(gateway_order) => Settlement::Gateway {
                            gateway_order_id: &gateway_order.id,
                            expires_at: now + timeout_ms,
                        },
                        None if nothing_to_pay => Settlement::NothingToPay,
                        None => Settlement::CashOnDelivery,
                    },
                    buyer_gstin,
                },
                address.as_deref(),
                &settings,
            )
            .await;
        let outcome = match &placed {
            Ok(Placed::Order(_)) => "placed",
            Ok(Placed::NumberTaken) => "number_taken",
            Err(_) => "refused",
        };
        metrics::counter!("orders_placed_total", "outcome" => outcome, "method" => if online { "online" } else { "cod" })
            .increment(1);
        match placed? {
            Placed::Order(order) => break (*order, gateway_order),
            Placed::NumberTaken if attempts < 5 => continue,
            Placed::NumberTaken => {
                return Err(Error::ServiceUnavailable(
                    "Could not allocate an order number; please retry".into(),
                ))
            }
        }
    };
    Ok(Checkout {
        placed,
        gateway_order,
        online,
    })
}
