//! Product reviews, one per customer and product, and the running totals behind a product's
//! rating (`products.rating_sum`, `rating_count`). Every change to a review moves the totals in
//! the same transaction, so the average shown on the product always matches its reviews.

use super::{read, transaction, Backend, PageRequest, Store};
use crate::domain::ids::new_id;
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result, ResultExt};

/// A review with its author's current name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Review {
    pub id: String,
    pub product_id: String,
    pub user_id: String,
    pub user_name: String,
    pub rating: i64,
    pub title: Option<String>,
    pub comment: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the author writes: a checked rating (1..=5) and optional title and comment.
#[derive(Debug, Clone)]
pub struct ReviewText {
    pub rating: i64,
    pub title: Option<String>,
    pub comment: Option<String>,
}

const REVIEW_SELECT: &str =
    "SELECT r.id, r.product_id, r.user_id, u.name AS user_name, r.rating, r.title, r.comment,
            r.created_at, r.updated_at
     FROM reviews r JOIN users u ON u.id = r.user_id";

/// Whether an order holding the product was delivered to the user: the right to review it.
const DELIVERED_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM order_items i JOIN orders o ON o.id = i.order_id
 WHERE o.user_id = $1 AND i.product_id = $2 AND o.delivered_at IS NOT NULL)";

/// The totals move with the reviews; `updated_at` is left alone because it records edits to the
/// product itself, which a review is not.
const ADD_RATING_SQL: &str =
    "UPDATE products SET rating_sum = rating_sum + $2, rating_count = rating_count + $3
 WHERE id = $1";

fn duplicate_review() -> Error {
    Error::Conflict(
        ErrorCode::AlreadyReviewed,
        "You have already reviewed this product; change it with PUT /products/{id}/reviews/mine"
            .into(),
    )
}

impl Store {
    /// A page of a product's reviews, newest first, and how many it has.
    pub async fn list_reviews(
        &self,
        product_id: &str,
        page: PageRequest,
    ) -> Result<(Vec<Review>, i64)> {
        let sql = format!(
            "{REVIEW_SELECT} WHERE r.product_id = $1
             ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3"
        );
        let count_sql = "SELECT COUNT(*) FROM reviews WHERE product_id = $1";
        Ok(read!(self, |pool| {
            let reviews = sqlx::query_as(&sql)
                .bind(product_id)
                .bind(page.limit)
                .bind(page.offset())
                .fetch_all(pool)
                .await?;
            let (total,): (i64,) = sqlx::query_as(count_sql)
                .bind(product_id)
                .fetch_one(pool)
                .await?;
            (reviews, total)
        }))
    }

    /// Adds the user's review of a product and its rating to the product's totals. Only a user
    /// who received the product may review it (403); a second review by the same user is refused
    /// by the table's unique key (409), so two racing submissions cannot both land.
    pub async fn create_review(
        &self,
        product_id: &str,
        user_id: &str,
        text: &ReviewText,
    ) -> Result<Review> {
        let id = new_id();
        let now = now_millis();
        let select = format!("{REVIEW_SELECT} WHERE r.id = $1");
        Ok(transaction!(self, |tx| {
            let delivered: bool = sqlx::query_scalar(DELIVERED_SQL)
                .bind(user_id)
                .bind(product_id)
                .fetch_one(&mut *tx)
                .await?;
            if !delivered {
                return Err(Error::Forbidden(
                    "You can review a product only after an order holding it has been delivered to you"
                        .into(),
                ));
            }
            sqlx::query(
                "INSERT INTO reviews (id, product_id, user_id, rating, title, comment, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(&id)
            .bind(product_id)
            .bind(user_id)
            .bind(text.rating)
            .bind(&text.title)
            .bind(&text.comment)
            .bind(now)
            .execute(&mut *tx)
            .await
            .on_unique_violation(duplicate_review)?;
            sqlx::query(ADD_RATING_SQL)
                .bind(product_id)
                .bind(text.rating)
                .bind(1_i64)
                .execute(&mut *tx)
                .await?;
            let review: Review = sqlx::query_as(&select)
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
            review
        }))
    }

    /// Replaces the user's review of a product and moves the product's rating sum by the change;
    /// `None` when the user has not reviewed it. The review row is locked first (PostgreSQL), so
    /// two racing edits each move the sum from the rating the other left, never from the same one.
    pub async fn update_review(
        &self,
        product_id: &str,
        user_id: &str,
        text: &ReviewText,
    ) -> Result<Option<Review>> {
        let lock = match self.backend {
            // The single writer already runs SQLite transactions one at a time.
            Backend::Sqlite(_) => {
                "SELECT rating FROM reviews WHERE product_id = $1 AND user_id = $2"
            }
            Backend::Postgres(_) => {
                "SELECT rating FROM reviews WHERE product_id = $1 AND user_id = $2 FOR UPDATE"
            }
        };
        let now = now_millis();
        let select = format!("{REVIEW_SELECT} WHERE r.product_id = $1 AND r.user_id = $2");
        Ok(transaction!(self, |tx| {
            let old: Option<(i64,)> = sqlx::query_as(lock)
                .bind(product_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((old_rating,)) = old else {
                return Ok(None);
            };
            sqlx::query(
                "UPDATE reviews SET rating = $3, title = $4, comment = $5, updated_at = $6
                 WHERE product_id = $1 AND user_id = $2",
            )
            .bind(product_id)
            .bind(user_id)
            .bind(text.rating)
            .bind(&text.title)
            .bind(&text.comment)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if text.rating != old_rating {
                sqlx::query(ADD_RATING_SQL)
                    .bind(product_id)
                    .bind(text.rating - old_rating)
                    .bind(0_i64)
                    .execute(&mut *tx)
                    .await?;
            }
            let review: Review = sqlx::query_as(&select)
                .bind(product_id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            Some(review)
        }))
    }

    /// Removes the user's review of a product and takes its rating out of the product's totals;
    /// returns the removed review's id, or `None` when there was none. The DELETE itself reports
    /// the rating it removed, so a racing second delete finds nothing and changes nothing.
    pub async fn delete_review(&self, product_id: &str, user_id: &str) -> Result<Option<String>> {
        Ok(transaction!(self, |tx| {
            let deleted: Option<(String, i64)> = sqlx::query_as(
                "DELETE FROM reviews WHERE product_id = $1 AND user_id = $2 RETURNING id, rating",
            )
            .bind(product_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id, rating)) = deleted else {
                return Ok(None);
            };
            sqlx::query(ADD_RATING_SQL)
                .bind(product_id)
                .bind(-rating)
                .bind(-1_i64)
                .execute(&mut *tx)
                .await?;
            Some(id)
        }))
    }
}
