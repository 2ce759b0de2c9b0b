//! Reads of orders: by id, number or gateway order, their lines, history and payments ledger, the
//! customer, admin and vendor lists, the stats aggregate and the unpaid orders past their time.

use super::orders::{
    sort_items, HistoryEntry, LedgerEntry, Order, OrderFilter, OrderItem, OrderStats,
};
use super::{read, Backend, PageRequest, Store, MAX_LIST_BINDS};
use crate::domain::ids::parse_id;
use crate::domain::money::Money;
use crate::domain::order::PaymentMethod;
use crate::domain::order::{OrderStatus, PaymentStatus};
use crate::error::{Error, Result};
use futures_util::TryStreamExt;
use sqlx::QueryBuilder;

/// Which orders a caller may see through an `:orderId` route.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// Admins see every order.
    Admin,
    /// Customers see their own; anyone else's is "not found".
    Owner(&'a str),
}

/// Appends the `WHERE` of an order list; shared by the page query and its count.
fn push_filter<'a, DB: sqlx::Database>(query: &mut QueryBuilder<'a, DB>, filter: &'a OrderFilter)
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query.push(" WHERE 1 = 1");
    if let Some(user_id) = &filter.user_id {
        query.push(" AND user_id = ").push_bind(user_id.as_str());
    }
    if let Some(number) = &filter.order_number {
        query
            .push(" AND order_number = ")
            .push_bind(number.as_str());
    }
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(payment_status) = &filter.payment_status {
        query
            .push(" AND payment_status = ")
            .push_bind(payment_status.as_str());
    }
    if let Some(from) = filter.created_from {
        query.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.created_to {
        query.push(" AND created_at <= ").push_bind(to);
    }
}

/// One order of the CSV export, with its customer's name and email.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    pub order_number: String,
    pub created_at: i64,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub payment_method: PaymentMethod,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub total_items: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping_charges: Money,
    pub tax: Money,
    pub total_amount: Money,
    pub refunded_amount: Money,
    pub tracking_number: Option<String>,
}

/// A product's units and sales over a range, of orders that are sales.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductSales {
    pub product_id: String,
    pub product_name: String,
    pub units: i64,
    pub amount: Money,
}

/// Rows the export's reader may run ahead of the client by; the rest wait in the database.
const EXPORT_BUFFER_ROWS: usize = 256;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Orders in one (status, payment status): how many, their total amount and the revenue kept.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StateTotals {
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub orders: i64,
    pub amount: Money,
    pub revenue: Money,
}

fn merge_totals(into: &mut Vec<StateTotals>, more: Vec<StateTotals>) -> Result<()> {
    for t in more {
        match into
            .iter_mut()
            .find(|i| i.status == t.status && i.payment_status == t.payment_status)
        {
            Some(existing) => {
                existing.orders += t.orders;
                existing.amount = existing
                    .amount
                    .checked_add(t.amount)
                    .ok_or_else(totals_overflow)?;
                existing.revenue = existing
                    .revenue
                    .checked_add(t.revenue)
                    .ok_or_else(totals_overflow)?;
            }
            None => into.push(t),
        }
    }
    Ok(())
}

/// Totals of stored amounts stay far inside `i64`; one that does not is corrupt data.
fn totals_overflow() -> Error {
    Error::Internal(anyhow::anyhow!("order totals overflowed"))
}

impl Store {
    pub async fn order_by_id(&self, id: &str) -> Result<Option<Order>> {
        Ok(read!(self, |pool| {
            sqlx::query_as("SELECT * FROM orders WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// An order by `_id` or `orderNumber`, if `viewer` may see it. Anything else, including another
    /// user's order and a malformed reference, is `None` so ids cannot be probed.
    pub async fn order_for(&self, reference: &str, viewer: Viewer<'_>) -> Result<Option<Order>> {
        let reference = reference.trim();
        let by_number = crate::domain::order_number::is_order_number(reference);
        let key = if by_number {
            reference.to_string()
        } else {
            match parse_id("orderId", reference) {
                Ok(id) => id,
                Err(_) => return Ok(None),
            }
        };
        let column = if by_number { "order_number" } else { "id" };
        let sql = format!("SELECT * FROM orders WHERE {column} = $1");
        let order: Option<Order> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(&key)
            .fetch_optional(pool)
            .await?);
        Ok(order.filter(|o| match viewer {
            Viewer::Admin => true,
            Viewer::Owner(user_id) => o.user_id == user_id,
        }))
    }

    pub async fn order_by_gateway_order(&self, gateway_order_id: &str) -> Result<Option<Order>> {
        Ok(read!(self, |pool| {
            sqlx::query_as("SELECT * FROM orders WHERE gateway_order_id = $1")
                .bind(gateway_order_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn order_items(&self, order_id: &str) -> Result<Vec<OrderItem>> {
        let mut items: Vec<OrderItem> = read!(self, |pool| {
            sqlx::query_as("SELECT * FROM order_items WHERE order_id = $1")
                .bind(order_id)
                .fetch_all(pool)
                .await?
        });
        sort_items(&mut items);
        Ok(items)
    }

    /// The lines of several orders in one query (for list pages).
    pub async fn items_of_orders(&self, order_ids: &[String]) -> Result<Vec<OrderItem>> {
        if order_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut items: Vec<OrderItem> = Vec::new();
        for chunk in order_ids.chunks(MAX_LIST_BINDS) {
            let found: Vec<OrderItem> = read!(self, |pool| {
                let mut query = QueryBuilder::new("SELECT * FROM order_items WHERE order_id IN (");
                let mut ids = query.separated(", ");
                for id in chunk {
                    ids.push_bind(id.as_str());
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await?
            });
            items.extend(found);
        }
        sort_items(&mut items);
        Ok(items)
    }

    pub async fn order_history(&self, order_id: &str) -> Result<Vec<HistoryEntry>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT h.status, h.description, h.created_at, u.role AS actor_role
                 FROM order_status_history h LEFT JOIN users u ON u.id = h.actor_id
                 WHERE h.order_id = $1 ORDER BY h.id",
            )
            .bind(order_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn order_ledger(&self, order_id: &str) -> Result<Vec<LedgerEntry>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT * FROM payment_transactions WHERE order_id = $1 ORDER BY created_at, id",
            )
            .bind(order_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every order matching `filter` in its order, read by a task as the client takes them: the
    /// rows come from one streamed query (`fetch`, never collected), through a channel of
    /// `EXPORT_BUFFER_ROWS`, so memory stays flat at any table size. The reading stops when the
    /// receiver is dropped (the client went away); an error is the channel's last item.
    pub fn export_orders(
        &self,
        filter: OrderFilter,
    ) -> tokio::sync::mpsc::Receiver<Result<ExportRow>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(EXPORT_BUFFER_ROWS);
        let backend = self.backend.clone();
        tokio::spawn(async move {
            let direction = if filter.descending { "DESC" } else { "ASC" };
            let head = "SELECT order_number, created_at, status, payment_status, payment_method,
                (SELECT u.name FROM users u WHERE u.id = orders.user_id) AS customer_name,
                (SELECT u.email FROM users u WHERE u.id = orders.user_id) AS customer_email,
                total_items, subtotal, discount, shipping_charges, tax, total_amount,
                refunded_amount, tracking_number FROM orders";
            let order_by = format!(
                " ORDER BY {} {direction}, id {direction}",
                filter.sort.column()
            );
            macro_rules! pump {
                ($pool:expr) => {{
                    let mut query = QueryBuilder::new(head);
                    push_filter(&mut query, &filter);
                    query.push(&order_by);
                    let mut rows = query.build_query_as::<ExportRow>().fetch($pool);
                    loop {
                        let item = match rows.try_next().await {
                            Ok(Some(row)) => Ok(row),
                            Ok(None) => break,
                            Err(e) => Err(Error::from(e)),
                        };
                        let failed = item.is_err();
                        if sender.send(item).await.is_err() || failed {
                            break;
                        }
                    }
                }};
            }
            match &backend {
                Backend::Sqlite(sqlite) => pump!(&sqlite.read),
                Backend::Postgres(pg) => pump!(pg),
            }
        });
        receiver
    }

    /// The products sold most (by units) in orders that are sales (`OrderStatus::is_sale`)
    /// created within `[from, to]`, at most `limit`; the name is the one of the latest line.
    pub async fn top_products(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ProductSales>> {
        // The statuses are fixed words of the domain, so they are written into the text.
        let not_sales = OrderStatus::ALL
            .iter()
            .filter(|s| !s.is_sale())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT i.product_id, MAX(i.product_name) AS product_name,
                    CAST(SUM(i.quantity) AS BIGINT) AS units,
                    CAST(SUM(i.total_price) AS BIGINT) AS amount
             FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE o.status NOT IN ({not_sales})
               AND o.created_at >= $1 AND o.created_at <= $2
             GROUP BY i.product_id ORDER BY units DESC, amount DESC, i.product_id LIMIT $3"
        );
        Ok(read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(from.unwrap_or(i64::MIN))
                .bind(to.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// A page of orders matching `filter`, and how many match in all.
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, i64)> {
        let direction = if filter.descending { "DESC" } else { "ASC" };
        let orders: Vec<Order> = read!(self, |pool| {
            let mut query = QueryBuilder::new("SELECT * FROM orders");
            push_filter(&mut query, filter);
            query
                .push(format_args!(
                    " ORDER BY {} {direction}, id {direction} LIMIT ",
                    filter.sort.column()
                ))
                .push_bind(page.limit)
                .push(" OFFSET ")
                .push_bind(page.offset());
            query.build_query_as().fetch_all(pool).await?
        });
        // The total comes from the per-state totals, which stay cheap at any table size.
        let total = self
            .state_totals(filter)
            .await?
            .iter()
            .filter(|t| filter.status.is_none_or(|s| s == t.status))
            .filter(|t| {
                filter
                    .payment_status
                    .as_ref()
                    .is_none_or(|p| *p == t.payment_status)
            })
            .map(|t| t.orders)
            .sum();
        Ok((orders, total))
    }

    /// Orders a vendor fulfils: confirmed at some point (paid or cash on delivery) and holding at
    /// least one of its products.
    pub async fn vendor_orders(
        &self,
        vendor_id: &str,
        status: Option<OrderStatus>,
        page: PageRequest,
    ) -> Result<(Vec<Order>, i64)> {
        let status = status.map(OrderStatus::as_str);
        let condition = "o.confirmed_at IS NOT NULL AND ($2 IS NULL OR o.status = $2)
             AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.vendor_id = $1)";
        let page_sql = format!(
            "SELECT o.* FROM orders o WHERE {condition} ORDER BY o.created_at DESC, o.id DESC LIMIT $3 OFFSET $4"
        );
        let count_sql = format!("SELECT COUNT(*) FROM orders o WHERE {condition}");
        Ok(read!(self, |pool| {
            let orders: Vec<Order> = sqlx::query_as(&page_sql)
                .bind(vendor_id)
                .bind(status)
                .bind(page.limit)
                .bind(page.offset())
                .fetch_all(pool)
                .await?;
            let (total,): (i64,) = sqlx::query_as(&count_sql)
                .bind(vendor_id)
                .bind(status)
                .fetch_one(pool)
                .await?;
            (orders, total)
        }))
    }

    /// `GET /orders/admin/stats` from the per-state totals (see `state_totals`).
    pub async fn order_stats(&self, filter: &OrderFilter) -> Result<OrderStats> {
        let totals = self.state_totals(filter).await?;
        let count_of = |status: OrderStatus| -> i64 {
            totals
                .iter()
                .filter(|t| t.status == status)
                .map(|t| t.orders)
                .sum()
        };
        let mut by_status: Vec<(OrderStatus, i64, Money)> = Vec::new();
        for t in &totals {
            match by_status
                .iter_mut()
                .find(|(status, _, _)| *status == t.status)
            {
                Some(entry) => {
                    entry.1 += t.orders;
                    entry.2 = entry.2.checked_add(t.amount).ok_or_else(totals_overflow)?;
                }
                None => by_status.push((t.status, t.orders, t.amount)),
            }
        }
        by_status.retain(|(_, count, _)| *count > 0);
        // Largest count first, ties by the status's name (as the document lists them).
        by_status.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
        Ok(OrderStats {
            total_orders: totals.iter().map(|t| t.orders).sum(),
            total_revenue: Money::checked_sum(totals.iter().map(|t| t.revenue))
                .ok_or_else(totals_overflow)?,
            pending_orders: count_of(OrderStatus::Pending),
            completed_orders: count_of(OrderStatus::Delivered),
            cancelled_orders: count_of(OrderStatus::Cancelled),
            sale_orders: totals
                .iter()
                .filter(|t| t.status.is_sale())
                .map(|t| t.orders)
                .sum(),
            sale_amount: Money::checked_sum(
                totals
                    .iter()
                    .filter(|t| t.status.is_sale())
                    .map(|t| t.amount),
            )
            .ok_or_else(totals_overflow)?,
            to_fulfil: totals
                .iter()
                .filter(|t| t.status.is_to_fulfil())
                .map(|t| t.orders)
                .sum(),
            breakdown: by_status,
        })
    }

    /// Orders, amounts and kept revenue per (status, payment status) for the filter's user and
    /// date range (status filters are left to the caller). Without a user, all-time figures come
    /// from `order_state_totals` and date ranges from `order_daily_totals` (both kept by triggers),
    /// with only the partial days at the edges of a range read from `orders`, so the cost follows
    /// the number of days, not of orders. A user's orders are read directly through the
    /// `(user_id, created_at)` index.
    pub async fn state_totals(&self, filter: &OrderFilter) -> Result<Vec<StateTotals>> {
        let (from, to) = (filter.created_from, filter.created_to);
        if filter.user_id.is_some() {
            return self
                .raw_state_totals(filter.user_id.as_deref(), from, to)
                .await;
        }
        if from.is_none() && to.is_none() {
            return Ok(read!(self, |pool| {
                // Summed over the shards PostgreSQL keeps (migration 0007); SQLite has one row each.
                sqlx::query_as(
                    "SELECT status, payment_status, CAST(SUM(orders) AS BIGINT) AS orders,
                            CAST(SUM(amount) AS BIGINT) AS amount, CAST(SUM(revenue) AS BIGINT) AS revenue
                     FROM order_state_totals GROUP BY status, payment_status",
                )
                    .fetch_all(pool)
                    .await?
            }));
        }
        // Whole days inside [from, to]: [first_day, end_day).
        let first_day = from.map_or(i64::MIN, |f| {
            f.div_euclid(DAY_MS) + i64::from(f.rem_euclid(DAY_MS) != 0)
        });
        let end_day = to.map_or(i64::MAX, |t| (t + 1).div_euclid(DAY_MS));
        if first_day >= end_day {
            return self.raw_state_totals(None, from, to).await;
        }
        let mut totals: Vec<StateTotals> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT status, payment_status, CAST(SUM(orders) AS BIGINT) AS orders,
                        CAST(SUM(amount) AS BIGINT) AS amount, CAST(SUM(revenue) AS BIGINT) AS revenue
                 FROM order_daily_totals WHERE day >= $1 AND day < $2 GROUP BY status, payment_status",
            )
            .bind(first_day)
            .bind(end_day)
            .fetch_all(pool)
            .await?
        });
        if let Some(from) = from.filter(|_| first_day != i64::MIN) {
            merge_totals(
                &mut totals,
                self.raw_state_totals(None, Some(from), Some(first_day * DAY_MS - 1))
                    .await?,
            )?;
        }
        if let Some(to) = to.filter(|_| end_day != i64::MAX) {
            merge_totals(
                &mut totals,
                self.raw_state_totals(None, Some(end_day * DAY_MS), Some(to))
                    .await?,
            )?;
        }
        Ok(totals)
    }

    /// `state_totals` read straight from `orders`.
    async fn raw_state_totals(
        &self,
        user_id: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<StateTotals>> {
        let filter = OrderFilter {
            user_id: user_id.map(str::to_string),
            created_from: from,
            created_to: to,
            ..OrderFilter::default()
        };
        Ok(read!(self, |pool| {
            // PostgreSQL sums BIGINT into NUMERIC; the casts keep both back-ends on BIGINT.
            let mut query = QueryBuilder::new(
                "SELECT status, payment_status, COUNT(*) AS orders,
                        CAST(COALESCE(SUM(total_amount), 0) AS BIGINT) AS amount,
                        CAST(COALESCE(SUM(CASE WHEN payment_status = 'completed' THEN total_amount - refunded_amount ELSE 0 END), 0) AS BIGINT) AS revenue
                 FROM orders",
            );
            push_filter(&mut query, &filter);
            query.push(" GROUP BY status, payment_status");
            query.build_query_as().fetch_all(pool).await?
        }))
    }

    /// Unpaid orders whose payment time ran out, oldest first.
    pub async fn expired_unpaid_orders(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT id FROM orders WHERE status = 'pending' AND payment_expires_at < $1
                 ORDER BY payment_expires_at LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Refunds recorded but not yet accepted by the gateway (a call failed or the process stopped
    /// between commit and call) whose next attempt is due at `now`, oldest first.
    pub async fn unsent_refunds(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT id FROM payment_transactions WHERE kind = 'refund' AND status = 'requested'
                   AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
                 ORDER BY created_at LIMIT $1",
            )
            .bind(limit)
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

/// One day's orders of one status, from `order_daily_totals` (kept by triggers, migration 0005).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyStatusTotals {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub status: OrderStatus,
    pub orders: i64,
    /// Sum of the orders' totals.
    pub amount: Money,
    /// What completed payments kept (total minus refunded): the revenue of
    /// `GET /orders/admin/stats`.
    pub revenue: Money,
}

impl Store {
    /// The vendors who may read an order (`vendor_orders`' rule: it was confirmed at some point,
    /// and holds lines of theirs); none for an order never confirmed.
    pub async fn order_vendor_ids(&self, order_id: &str) -> Result<Vec<String>> {
        Ok(read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT i.vendor_id FROM order_items i
                 JOIN orders o ON o.id = i.order_id AND o.confirmed_at IS NOT NULL
                 WHERE i.order_id = $1 AND i.vendor_id IS NOT NULL ORDER BY i.vendor_id",
            )
            .bind(order_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Per day and status, the order figures of the whole days `first_day..=last_day` (days since
    /// the epoch, UTC). Days without orders have no rows.
    pub async fn daily_order_totals(
        &self,
        first_day: i64,
        last_day: i64,
    ) -> Result<Vec<DailyStatusTotals>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT day, status, CAST(SUM(orders) AS BIGINT) AS orders,
                        CAST(SUM(amount) AS BIGINT) AS amount, CAST(SUM(revenue) AS BIGINT) AS revenue
                 FROM order_daily_totals WHERE day >= $1 AND day <= $2
                 GROUP BY day, status ORDER BY day, status",
            )
            .bind(first_day)
            .bind(last_day)
            .fetch_all(pool)
            .await?
        }))
    }
}
