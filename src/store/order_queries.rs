//! Reads of orders: by id, number or gateway order, their lines, history and payments ledger, the
//! customer, admin and vendor lists, the stats aggregate and the unpaid orders past their time.

use super::orders::{HistoryEntry, LedgerEntry, Order, OrderFilter, OrderItem, OrderStats};
use super::{read, PageRequest, Store};
use crate::domain::ids::parse_id;
use crate::domain::order::OrderStatus;
use crate::error::Result;
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
        let by_number = reference.starts_with("ORD") && reference.len() == 16;
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
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT * FROM order_items WHERE order_id = $1 ORDER BY product_name, product_id",
            )
            .bind(order_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The lines of several orders in one query (for list pages).
    pub async fn items_of_orders(&self, order_ids: &[String]) -> Result<Vec<OrderItem>> {
        if order_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(read!(self, |pool| {
            let mut query = QueryBuilder::new("SELECT * FROM order_items WHERE order_id IN (");
            let mut ids = query.separated(", ");
            for id in order_ids {
                ids.push_bind(id.as_str());
            }
            query.push(") ORDER BY product_name, product_id");
            query.build_query_as().fetch_all(pool).await?
        }))
    }

    pub async fn order_history(&self, order_id: &str) -> Result<Vec<HistoryEntry>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT status, description, created_at FROM order_status_history WHERE order_id = $1 ORDER BY id",
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

    /// A page of orders matching `filter`, and how many match in all.
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, i64)> {
        let direction = if filter.descending { "DESC" } else { "ASC" };
        Ok(read!(self, |pool| {
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
            let orders: Vec<Order> = query.build_query_as().fetch_all(pool).await?;
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM orders");
            push_filter(&mut count, filter);
            let (total,): (i64,) = count.build_query_as().fetch_one(pool).await?;
            (orders, total)
        }))
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

    /// `GET /orders/admin/stats`, aggregated in the database: the overview in one pass and the
    /// per-status breakdown in one grouped query.
    pub async fn order_stats(&self, filter: &OrderFilter) -> Result<OrderStats> {
        Ok(read!(self, |pool| {
            let mut overview = QueryBuilder::new(
                // PostgreSQL sums BIGINT into NUMERIC; the casts keep both back-ends on BIGINT.
                "SELECT COUNT(*),
                        CAST(COALESCE(SUM(CASE WHEN payment_status = 'completed' THEN total_amount - refunded_amount ELSE 0 END), 0) AS BIGINT),
                        CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT),
                        CAST(COALESCE(SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT),
                        CAST(COALESCE(SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT)
                 FROM orders",
            );
            push_filter(&mut overview, filter);
            let (total_orders, total_revenue, pending_orders, completed_orders, cancelled_orders): (i64, i64, i64, i64, i64) =
                overview.build_query_as().fetch_one(pool).await?;
            let mut breakdown = QueryBuilder::new("SELECT status, COUNT(*), CAST(COALESCE(SUM(total_amount), 0) AS BIGINT) FROM orders");
            push_filter(&mut breakdown, filter);
            breakdown.push(" GROUP BY status ORDER BY COUNT(*) DESC, status");
            let breakdown: Vec<(String, i64, i64)> =
                breakdown.build_query_as().fetch_all(pool).await?;
            OrderStats {
                total_orders,
                total_revenue,
                pending_orders,
                completed_orders,
                cancelled_orders,
                breakdown,
            }
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
    /// between commit and call), oldest first.
    pub async fn unsent_refunds(&self, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT id FROM payment_transactions WHERE kind = 'refund' AND status = 'requested'
                 ORDER BY created_at LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
