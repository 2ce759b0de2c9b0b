//! The user's notifications: read and marked read here. They are written by the order code, in
//! the same transaction as the event they report, so a notice never describes a change that
//! rolled back.

use super::{read, write, PageRequest, Store};
use crate::domain::notification::NotificationKind;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub kind: NotificationKind,
    pub title: String,
    pub message: String,
    pub order_id: Option<String>,
    pub is_read: bool,
    pub created_at: i64,
}

const NOTIFICATION_COLUMNS: &str =
    "id, user_id, kind, title, message, order_id, is_read, created_at";

impl Store {
    /// A page of the user's notifications, newest first, optionally only read (`Some(true)`) or
    /// unread (`Some(false)`) ones. Returns the page, how many match the filter, and how many of
    /// the user's notifications are unread in all (the badge count, whatever the filter).
    pub async fn list_notifications(
        &self,
        user_id: &str,
        is_read: Option<bool>,
        page: PageRequest,
    ) -> Result<(Vec<Notification>, i64, i64)> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications
             WHERE user_id = $1 AND ($2 IS NULL OR is_read = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        let count_sql =
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND ($2 IS NULL OR is_read = $2)";
        let unread_sql = "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND NOT is_read";
        Ok(read!(self, |pool| {
            let notifications = sqlx::query_as(&sql)
                .bind(user_id)
                .bind(is_read)
                .bind(page.limit)
                .bind(page.offset())
                .fetch_all(pool)
                .await?;
            let (total,): (i64,) = sqlx::query_as(count_sql)
                .bind(user_id)
                .bind(is_read)
                .fetch_one(pool)
                .await?;
            let (unread,): (i64,) = sqlx::query_as(unread_sql)
                .bind(user_id)
                .fetch_one(pool)
                .await?;
            (notifications, total, unread)
        }))
    }

    /// Marks one of the user's notifications read and returns it; `None` when the user has no
    /// such notification (another user's id looks exactly like an unknown one). Marking a read
    /// notification again changes nothing and succeeds.
    pub async fn mark_notification_read(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<Option<Notification>> {
        let sql = format!(
            "UPDATE notifications SET is_read = TRUE WHERE id = $1 AND user_id = $2
             RETURNING {NOTIFICATION_COLUMNS}"
        );
        Ok(write!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Marks all of the user's unread notifications read in one statement; returns how many
    /// changed.
    pub async fn mark_all_notifications_read(&self, user_id: &str) -> Result<u64> {
        let done = write!(self, |pool| {
            sqlx::query(
                "UPDATE notifications SET is_read = TRUE WHERE user_id = $1 AND NOT is_read",
            )
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}
