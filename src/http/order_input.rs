//! Order request parsing shared by the customer, admin and vendor routes: finding the caller's
//! order, the status filter and sort of order lists, and the body of a status move.

use super::extract::sort_descending;
use super::session::AuthUser;
use super::AppState;
use crate::app::fulfilment::{self, StatusMove};
use crate::domain::order::OrderStatus;
use crate::domain::order_number::OrderRef;
use crate::domain::time::parse_timestamp;
use crate::error::{Error, Result};
use crate::store::order_queries::Viewer;
use crate::store::orders::{Order, OrderSort};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller's order by `_id` or `orderNumber` (admins: any order); otherwise 404.
pub async fn owned_order(state: &AppState, caller: &AuthUser, reference: &str) -> Result<Order> {
    let viewer = if caller.is_admin() {
        Viewer::Admin
    } else {
        Viewer::Owner(&caller.id)
    };
    let Some(reference) = OrderRef::parse(reference) else {
        return Err(Error::not_found("Order"));
    };
    state
        .store
        .order_for(reference.as_str(), viewer)
        .await?
        .ok_or_else(|| Error::not_found("Order"))
}

pub fn parse_status(raw: Option<&str>) -> Result<Option<OrderStatus>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => OrderStatus::parse(s).map(Some).ok_or_else(|| {
            Error::invalid(
                "status",
                "must be pending, confirmed, processing, shipped, delivered, cancelled or returned",
                s,
            )
        }),
    }
}

pub fn parse_sort(
    sort_by: Option<&str>,
    sort_order: Option<&str>,
    allow_number: bool,
) -> Result<(OrderSort, bool)> {
    let sort = match sort_by.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("createdAt") => OrderSort::CreatedAt,
        Some("totalAmount") => OrderSort::TotalAmount,
        Some("status") => OrderSort::Status,
        Some("orderNumber") if allow_number => OrderSort::OrderNumber,
        Some(other) => {
            return Err(Error::invalid(
                "sortBy",
                if allow_number {
                    "must be createdAt, totalAmount, status or orderNumber"
                } else {
                    "must be createdAt, totalAmount or status"
                },
                other,
            ))
        }
    };
    let descending = sort_descending(sort_order.map(str::trim))?.unwrap_or(true);
    Ok((sort, descending))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    pub status: OrderStatus,
    /// Up to 50 characters.
    pub tracking_number: Option<String>,
    /// RFC 3339 time.
    pub estimated_delivery: Option<String>,
    /// Why (for cancellations), up to 200 characters.
    pub reason: Option<String>,
}

/// Checks a status body's tracking fields.
pub fn tracking_fields(body: &StatusBody) -> Result<(Option<String>, Option<i64>)> {
    let tracking = match body
        .tracking_number
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t)
            if t.chars().count() <= 50
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_ /".contains(c)) =>
        {
            Some(t.to_string())
        }
        Some(t) => {
            return Err(Error::invalid(
                "trackingNumber",
                "must be at most 50 letters, digits, spaces, '-', '_' or '/'",
                t,
            ))
        }
    };
    let estimated = match body
        .estimated_delivery
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => {
            let at = parse_timestamp(t).ok_or_else(|| {
                Error::invalid("estimatedDelivery", "must be an RFC 3339 time", t)
            })?;
            // The shopper is shown this date: one already past is a typing mistake.
            if at <= crate::domain::time::now_millis() {
                return Err(Error::invalid(
                    "estimatedDelivery",
                    "must be in the future",
                    t,
                ));
            }
            Some(at)
        }
    };
    Ok((tracking, estimated))
}

/// Parses a status body and applies it through `crate::app::fulfilment` for an admin or a vendor.
pub async fn apply_status_body(
    state: &AppState,
    order: &Order,
    body: &StatusBody,
    actor: crate::domain::order::Actor,
    actor_id: &str,
) -> Result<Order> {
    let (tracking, estimated) = tracking_fields(body)?;
    // A shipped order always has a tracking number (CONTRACT §8). An illegal move stays the 409
    // naming the allowed states; the store checks the move again inside its write.
    if body.status == OrderStatus::Shipped && tracking.is_none() {
        order.status.check_transition(OrderStatus::Shipped, actor)?;
        return Err(Error::invalid(
            "trackingNumber",
            "is required to ship an order",
            body.tracking_number.clone().unwrap_or_default(),
        ));
    }
    fulfilment::apply_status(
        state,
        order,
        StatusMove {
            status: body.status,
            tracking_number: tracking.as_deref(),
            estimated_delivery: estimated,
            reason: body.reason.as_deref(),
        },
        actor,
        actor_id,
    )
    .await
}
