//! Admin order routes: every order with filters, status moves, return decisions and the stats.

use super::extract::{
    optional_reason, page_request, ApiJson, ApiPath, ApiQuery, Envelope, Pagination, Reply,
};
use super::idempotency::idempotent;
use super::order_input::{apply_status_body, owned_order, parse_sort, parse_status, StatusBody};
use super::order_views::{
    load_order_list, load_order_view, OrderList, OrderView, UserRef, UserSummary,
};
use super::roles::Admin;
use super::AppState;
use crate::app::returns;
use crate::domain::csv;
use crate::domain::ids::parse_id;
use crate::domain::money::Money;
use crate::domain::order::{Actor, OrderStatus, PaymentStatus};
use crate::domain::order_number::is_order_number;
use crate::domain::time::{parse_timestamp, to_rfc3339};
use crate::domain::user::normalize_email;
use crate::error::{Error, ErrorBody, Result};
use crate::store::order_queries::ExportRow;
use crate::store::orders::{OrderFilter, ReturnAction};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(all_orders))
        .routes(routes!(export_orders))
        .routes(routes!(stats))
        .routes(routes!(daily_stats))
        .routes(routes!(update_status))
        .routes(routes!(process_return))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AdminOrdersQuery {
    pub status: Option<String>,
    /// pending, completed, failed or refunded.
    pub payment_status: Option<String>,
    pub user_id: Option<String>,
    /// An order number (`ORD` and 13 digits) or a customer's email.
    pub search: Option<String>,
    /// RFC 3339 or YYYY-MM-DD; orders created at or after it.
    pub start_date: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (a plain date includes that whole day).
    pub end_date: Option<String>,
    pub page: Option<String>,
    pub limit: Option<String>,
    /// createdAt (default), totalAmount, status or orderNumber.
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
}

/// The date and user filters shared by the list and the stats.
fn base_filter(
    user_id: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<OrderFilter> {
    let date = |field: &str, raw: Option<&str>, end_of_day: bool| -> Result<Option<i64>> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(text) => {
                let at = parse_timestamp(text).ok_or_else(|| {
                    Error::invalid(
                        field,
                        "must be a date (YYYY-MM-DD) or an RFC 3339 time",
                        text,
                    )
                })?;
                // A plain end date means "through that day".
                let whole_day = end_of_day && text.len() == 10;
                Ok(Some(if whole_day {
                    at + 24 * 60 * 60 * 1000 - 1
                } else {
                    at
                }))
            }
        }
    };
    let created_from = date("startDate", start, false)?;
    let created_to = date("endDate", end, true)?;
    if let (Some(from), Some(to)) = (created_from, created_to) {
        if from > to {
            return Err(Error::invalid(
                "endDate",
                "must not be before startDate",
                end.unwrap_or_default(),
            ));
        }
    }
    Ok(OrderFilter {
        user_id: user_id
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|raw| parse_id("userId", raw))
            .transpose()?,
        created_from,
        created_to,
        descending: true,
        ..OrderFilter::default()
    })
}

/// Every order, filtered (admin).
#[utoipa::path(get, path = "/orders/admin/all", tag = "admin-orders", security(("bearer" = [])),
    params(AdminOrdersQuery),
    responses(
        (status = 200, description = "A page of orders", body = Envelope<OrderList>),
        (status = 400, description = "Bad filter, sort or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn all_orders(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<AdminOrdersQuery>,
) -> Result<Reply<OrderList>> {
    let page = page_request(query.page.as_deref(), query.limit.as_deref())?;
    let Some(filter) = admin_filter(&state, &query).await? else {
        // Nobody with that email: no orders, said as an empty page.
        return Ok(Reply::ok(
            "All orders retrieved successfully",
            OrderList {
                orders: Vec::new(),
                pagination: Pagination::new(page, 0).into(),
            },
        ));
    };
    let (orders, total) = state.store.list_orders(&filter, page).await?;
    let mut orders: Vec<OrderView> = load_order_list(&state.store, orders, |_| true)
        .await?
        .into_iter()
        .map(|view| view.with_next_statuses(Actor::Admin))
        .collect();
    populate_customers(&state, &mut orders).await?;
    Ok(Reply::ok(
        "All orders retrieved successfully",
        OrderList {
            orders,
            pagination: Pagination::new(page, total).into(),
        },
    ))
}

/// The filters of the admin list (and of its CSV export) from its query; `None` when the search
/// names an email nobody has, so nothing can match.
async fn admin_filter(state: &AppState, query: &AdminOrdersQuery) -> Result<Option<OrderFilter>> {
    let mut filter = base_filter(
        query.user_id.as_deref(),
        query.start_date.as_deref(),
        query.end_date.as_deref(),
    )?;
    filter.status = parse_status(query.status.as_deref())?;
    filter.payment_status = match query
        .payment_status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) if PaymentStatus::parse(s).is_some() => PaymentStatus::parse(s),
        Some(other) => {
            return Err(Error::invalid(
                "paymentStatus",
                "must be pending, completed, failed or refunded",
                other,
            ))
        }
    };
    (filter.sort, filter.descending) =
        parse_sort(query.sort_by.as_deref(), query.sort_order.as_deref(), true)?;
    match query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => {}
        Some(text) if is_order_number(text) => filter.order_number = Some(text.to_string()),
        Some(text) if text.contains('@') => {
            let email = normalize_email(text).map_err(|_| {
                Error::invalid(
                    "search",
                    "must be an order number or an email address",
                    text,
                )
            })?;
            match state.store.user_by_email(&email).await? {
                Some(user) => filter.user_id = Some(user.id),
                None => return Ok(None),
            }
        }
        Some(text) => {
            return Err(Error::invalid(
                "search",
                "must be an order number (ORD and 13 digits) or a customer's email address",
                text,
            ))
        }
    }
    Ok(Some(filter))
}

/// The columns of the order export, in order.
const EXPORT_HEADER: &[&str] = &[
    "orderNumber",
    "createdAt",
    "status",
    "paymentStatus",
    "paymentMethod",
    "customerName",
    "customerEmail",
    "items",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "refunded",
    "trackingNumber",
];

/// One order as a CSV record; amounts in major units (rupees with paise after the point).
fn export_record(row: &ExportRow) -> String {
    csv::record(&[
        row.order_number.clone(),
        to_rfc3339(row.created_at),
        row.status.as_str().to_string(),
        row.payment_status.as_str().to_string(),
        row.payment_method.as_str().to_string(),
        row.customer_name.clone().unwrap_or_default(),
        row.customer_email.clone().unwrap_or_default(),
        row.total_items.to_string(),
        row.subtotal.to_string(),
        row.discount.to_string(),
        row.shipping_charges.to_string(),
        row.tax.to_string(),
        row.total_amount.to_string(),
        row.refunded_amount.to_string(),
        row.tracking_number.clone().unwrap_or_default(),
    ])
}

/// Bytes gathered from the rows already read before a chunk goes to the client.
const EXPORT_CHUNK_BYTES: usize = 32 * 1024;

/// Every order of the list's filters as CSV (admin), streamed from the database as it is read.
#[utoipa::path(get, path = "/orders/admin/export.csv", tag = "admin-orders", security(("bearer" = [])),
    params(AdminOrdersQuery),
    responses(
        (status = 200, description = "CSV of every order the filters match (page and limit are ignored), one row per order, amounts in rupees; sent as an attachment, streamed", content_type = "text/csv", body = String),
        (status = 400, description = "Bad filter or sort", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn export_orders(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<AdminOrdersQuery>,
) -> Result<Response> {
    let rows = match admin_filter(&state, &query).await? {
        Some(filter) => state.store.export_orders(filter),
        // A receiver whose sender is gone: the header alone.
        None => tokio::sync::mpsc::channel(1).1,
    };
    let header = futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(
        Bytes::from(csv::record(EXPORT_HEADER)),
    )));
    let records = futures_util::stream::unfold(rows, |mut rows| async move {
        let mut chunk = String::new();
        let mut next = Some(rows.recv().await?);
        while let Some(item) = next.take() {
            match item {
                Ok(row) => chunk.push_str(&export_record(&row)),
                Err(e) => {
                    // The status line is sent: ending the body with an error cuts the
                    // download short, so a truncated file is never taken for a whole one.
                    tracing::error!(error = ?e, "order export stopped");
                    return Some((Err(std::io::Error::other("order export failed")), rows));
                }
            }
            if chunk.len() < EXPORT_CHUNK_BYTES {
                next = rows.try_recv().ok();
            }
        }
        Some((Ok(Bytes::from(chunk)), rows))
    });
    let filename = format!(
        "attachment; filename=\"orders-{}.csv\"",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        // Fused: the compression layer polls once more after the end, which `unfold` forbids.
        Body::from_stream(header.chain(records).fuse()),
    )
        .into_response())
}

/// Replaces each order's customer id by the customer's name, email and phone, in one statement
/// for the page.
async fn populate_customers(state: &AppState, orders: &mut [OrderView]) -> Result<()> {
    let mut ids: Vec<String> = orders
        .iter()
        .filter_map(|o| match &o.user_id {
            UserRef::Id(id) => Some(id.clone()),
            UserRef::User(_) => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    let users: HashMap<String, UserSummary> = state
        .store
        .users_by_ids(&ids)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.id.clone(),
                UserSummary {
                    id: u.id,
                    name: u.name,
                    email: u.email,
                    phone: u.phone,
                },
            )
        })
        .collect();
    for order in orders.iter_mut() {
        if let UserRef::Id(id) = &order.user_id {
            if let Some(user) = users.get(id) {
                order.user_id = UserRef::User(user.clone());
            }
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct StatsQuery {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsOverview {
    pub total_orders: i64,
    /// Payments completed and not refunded.
    pub total_revenue: Money,
    /// totalRevenue / totalOrders.
    pub average_order_value: Money,
    pub pending_orders: i64,
    /// Delivered orders.
    pub completed_orders: i64,
    pub cancelled_orders: i64,
    /// Orders that are sales: paid online or cash on delivery (confirmed onwards), neither
    /// waiting for payment nor cancelled. `saleAmount` and `averageSale` are over the same set.
    pub sale_orders: i64,
    /// The summed totals of those orders.
    pub sale_amount: Money,
    /// saleAmount / saleOrders.
    pub average_sale: Money,
    /// Orders to send now: confirmed or processing (of the range).
    pub orders_to_fulfil: i64,
}

/// A product sold in the range, by units.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopProduct {
    pub product_id: String,
    pub name: String,
    pub units: i64,
    pub amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    /// The status.
    #[serde(rename = "_id")]
    pub id: OrderStatus,
    pub count: i64,
    pub total_amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatsView {
    pub overview: StatsOverview,
    pub status_breakdown: Vec<StatusCount>,
    /// The products sold most (units) in the range's sales, at most five (none when `userId`
    /// is given).
    pub top_products: Vec<TopProduct>,
}

/// How many products the dashboard's top list names.
const TOP_PRODUCTS: i64 = 5;

/// Order statistics, computed in the database (admin).
#[utoipa::path(get, path = "/orders/admin/stats", tag = "admin-orders", security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "Statistics", body = Envelope<OrderStatsView>),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn stats(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> Result<Reply<OrderStatsView>> {
    let filter = base_filter(
        query.user_id.as_deref(),
        query.start_date.as_deref(),
        query.end_date.as_deref(),
    )?;
    let stats = state.store.order_stats(&filter).await?;
    // Half-up to the paisa, in integers.
    let average = stats
        .total_revenue
        .checked_average(stats.total_orders)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("order totals overflowed")))?;
    let average_sale = stats
        .sale_amount
        .checked_average(stats.sale_orders)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("order totals overflowed")))?;
    // The top list is the shop's, like the rest; a customer's own figures have none.
    let top_products = match filter.user_id {
        Some(_) => Vec::new(),
        None => state
            .store
            .top_products(filter.created_from, filter.created_to, TOP_PRODUCTS)
            .await?
            .into_iter()
            .map(|p| TopProduct {
                product_id: p.product_id,
                name: p.product_name,
                units: p.units,
                amount: p.amount,
            })
            .collect(),
    };
    Ok(Reply::ok(
        "Order statistics retrieved successfully",
        OrderStatsView {
            overview: StatsOverview {
                total_orders: stats.total_orders,
                total_revenue: stats.total_revenue,
                average_order_value: average,
                pending_orders: stats.pending_orders,
                completed_orders: stats.completed_orders,
                cancelled_orders: stats.cancelled_orders,
                sale_orders: stats.sale_orders,
                sale_amount: stats.sale_amount,
                average_sale,
                orders_to_fulfil: stats.to_fulfil,
            },
            top_products,
            status_breakdown: stats
                .breakdown
                .into_iter()
                .map(|(status, count, total)| StatusCount {
                    id: status,
                    count,
                    total_amount: total,
                })
                .collect(),
        },
    ))
}

/// Move an order along its lifecycle (admin). Illegal moves are 409s naming the allowed states.
#[utoipa::path(patch, path = "/orders/admin/{orderId}/status", tag = "admin-orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "Order status updated", body = Envelope<OrderView>),
        (status = 400, description = "Bad status, tracking number or date", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Move not allowed from the current status", body = ErrorBody),
    ))]
async fn update_status(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<Response> {
    idempotent(
        &state,
        &caller,
        &headers,
        &format!("PATCH /orders/admin/{order_id}/status"),
        &body,
        || async {
            let order = owned_order(&state, &caller, &order_id).await?;
            let order = apply_status_body(&state, &order, &body, Actor::Admin, &caller.id).await?;
            let view = load_order_view(&state.store, order)
                .await?
                .with_next_statuses(Actor::Admin);
            Ok(Reply::ok("Order status updated successfully", view).into_response())
        },
    )
    .await
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReturnDecision {
    Approve,
    Reject,
    Complete,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ReturnDecisionBody {
    pub action: ReturnDecision,
    /// Up to 200 characters; shown to the customer. Required (1 to 200 characters) to reject.
    pub reason: Option<String>,
}

/// Approve, reject or complete a return (admin). Completing restocks and refunds.
#[utoipa::path(patch, path = "/orders/admin/{orderId}/return", tag = "admin-orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "The order's _id or orderNumber")),
    request_body = ReturnDecisionBody,
    responses(
        (status = 200, description = "Return processed", body = Envelope<OrderView>),
        (status = 400, description = "Bad action or reason", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The return is not in a state this action applies to", body = ErrorBody),
    ))]
async fn process_return(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(body): ApiJson<ReturnDecisionBody>,
) -> Result<Response> {
    idempotent(
        &state,
        &caller,
        &headers,
        &format!("PATCH /orders/admin/{order_id}/return"),
        &body,
        || async {
            let reason = optional_reason(body.reason.as_deref())?;
            // The customer is shown why their return was refused, so a rejection needs a reason.
            if matches!(body.action, ReturnDecision::Reject) && reason.is_none() {
                return Err(Error::invalid(
                    "reason",
                    "is required to reject a return (1 to 200 characters)",
                    body.reason.clone().unwrap_or_default(),
                ));
            }
            let order = owned_order(&state, &caller, &order_id).await?;
            let (action, message) = match body.action {
                ReturnDecision::Approve => (ReturnAction::Approve, "Return approved successfully"),
                ReturnDecision::Reject => (ReturnAction::Reject, "Return rejected successfully"),
                ReturnDecision::Complete => {
                    (ReturnAction::Complete, "Return completed successfully")
                }
            };
            let order =
                returns::decide_return(&state, &order, action, reason.as_deref(), &caller.id)
                    .await?;
            let view = load_order_view(&state.store, order)
                .await?
                .with_next_statuses(Actor::Admin);
            Ok(Reply::ok(message, view).into_response())
        },
    )
    .await
}

/// The longest range `GET /orders/admin/stats/daily` answers for.
pub const MAX_DAILY_RANGE_DAYS: i64 = 366;
/// Days shown when no range is given: the last 30, today included.
const DEFAULT_DAILY_RANGE_DAYS: i64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyStatsQuery {
    /// First day, `YYYY-MM-DD` (UTC). Default: 29 days before `to`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC), included. Default: today. At most 366 days after `from`.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayFigures {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Orders placed that day, of any status.
    pub orders: i64,
    /// Kept revenue of that day's orders, counted as `overview.totalRevenue` of
    /// `GET /orders/admin/stats` counts it: payments completed, minus refunds.
    pub revenue: Money,
    /// That day's orders that are sales (paid online or cash on delivery, not cancelled), as
    /// `saleOrders` of `GET /orders/admin/stats`, and their summed totals.
    pub sale_orders: i64,
    pub sale_amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyTotalsView {
    pub orders: i64,
    pub revenue: Money,
    pub sale_orders: i64,
    pub sale_amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyStatsView {
    pub from: String,
    pub to: String,
    /// Every day of the range, oldest first, days without orders included as zeros.
    pub days: Vec<DayFigures>,
    /// Orders and their summed totals per status over the range (statuses with orders only).
    pub status_breakdown: Vec<StatusCount>,
    pub totals: DailyTotalsView,
}

fn parse_day(field: &str, raw: Option<&str>) -> Result<Option<chrono::NaiveDate>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 10)
            .map(Some)
            .ok_or_else(|| Error::invalid(field, "must be a date (YYYY-MM-DD)", text)),
    }
}

/// Orders and revenue per day (admin), from the per-day totals the database keeps, with every day
/// of the range present.
#[utoipa::path(get, path = "/orders/admin/stats/daily", tag = "admin-orders", security(("bearer" = [])),
    params(DailyStatsQuery),
    responses(
        (status = 200, description = "Figures per day", body = Envelope<DailyStatsView>),
        (status = 400, description = "Bad date, `from` after `to`, or a range over 366 days", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn daily_stats(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<DailyStatsQuery>,
) -> Result<Reply<DailyStatsView>> {
    let to =
        parse_day("to", query.to.as_deref())?.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = parse_day("from", query.from.as_deref())?
        .unwrap_or_else(|| to - chrono::Duration::days(DEFAULT_DAILY_RANGE_DAYS - 1));
    if from > to {
        return Err(Error::invalid(
            "to",
            "must not be before from",
            to.format("%Y-%m-%d").to_string(),
        ));
    }
    let span = (to - from).num_days() + 1;
    if span > MAX_DAILY_RANGE_DAYS {
        return Err(Error::invalid(
            "to",
            "the range may cover at most 366 days",
            to.format("%Y-%m-%d").to_string(),
        ));
    }
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date");
    let first_day = (from - epoch).num_days();
    let rows = state
        .store
        .daily_order_totals(first_day, first_day + span - 1)
        .await?;
    let overflow = || Error::Internal(anyhow::anyhow!("daily order totals overflowed"));
    let mut days: Vec<DayFigures> = Vec::with_capacity(span as usize);
    let (mut orders, mut revenue) = (vec![0i64; span as usize], vec![Money::ZERO; span as usize]);
    let (mut sales, mut sale_amounts) =
        (vec![0i64; span as usize], vec![Money::ZERO; span as usize]);
    let mut by_status: Vec<(OrderStatus, i64, Money)> = Vec::new();
    for row in &rows {
        let Some(index) = usize::try_from(row.day - first_day)
            .ok()
            .filter(|i| *i < orders.len())
        else {
            continue;
        };
        orders[index] += row.orders;
        revenue[index] = revenue[index]
            .checked_add(row.revenue)
            .ok_or_else(overflow)?;
        if row.status.is_sale() {
            sales[index] += row.orders;
            sale_amounts[index] = sale_amounts[index]
                .checked_add(row.amount)
                .ok_or_else(overflow)?;
        }
        match by_status
            .iter_mut()
            .find(|(status, _, _)| *status == row.status)
        {
            Some(entry) => {
                entry.1 += row.orders;
                entry.2 = entry.2.checked_add(row.amount).ok_or_else(overflow)?;
            }
            None => by_status.push((row.status, row.orders, row.amount)),
        }
    }
    for (index, (count, kept)) in orders.iter().zip(&revenue).enumerate() {
        let date = from + chrono::Duration::days(index as i64);
        days.push(DayFigures {
            date: date.format("%Y-%m-%d").to_string(),
            orders: *count,
            revenue: *kept,
            sale_orders: sales[index],
            sale_amount: sale_amounts[index],
        });
    }
    // As `GET /orders/admin/stats` orders its breakdown.
    by_status.retain(|(_, count, _)| *count > 0);
    by_status.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    Ok(Reply::ok(
        "Daily order statistics retrieved successfully",
        DailyStatsView {
            from: from.format("%Y-%m-%d").to_string(),
            to: to.format("%Y-%m-%d").to_string(),
            days,
            status_breakdown: by_status
                .into_iter()
                .map(|(status, count, total)| StatusCount {
                    id: status,
                    count,
                    total_amount: total,
                })
                .collect(),
            totals: DailyTotalsView {
                orders: orders.iter().sum(),
                revenue: Money::checked_sum(revenue.iter().copied()).ok_or_else(overflow)?,
                sale_orders: sales.iter().sum(),
                sale_amount: Money::checked_sum(sale_amounts.iter().copied())
                    .ok_or_else(overflow)?,
            },
        },
    ))
}
