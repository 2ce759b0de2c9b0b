//! Attempt counters shared by every node (login and registration limits on PostgreSQL, failed
//! logins per account on both databases): one row per (bucket, key, fixed window), bumped by a
//! single upsert; the `client` column holds the bucket's key (an address, an account, or both).
//! Finished windows are deleted by the jobs (`purge_rate_limits`). Also where accounts have logged
//! in from (`login_addresses`).

use super::{read, with_retries, write, Store};
use crate::domain::time::now_millis;
use crate::error::Result;
use std::time::Duration;

impl Store {
    /// Counts one attempt of `client` in `bucket` in the current `window`; returns the attempts
    /// counted in this window so far (this one included) and the time left in the window.
    pub async fn count_attempt(
        &self,
        bucket: &str,
        client: &str,
        window: Duration,
    ) -> Result<(i64, Duration)> {
        let now = now_millis();
        let window_ms = (window.as_millis() as i64).max(1);
        let window_start = now - now.rem_euclid(window_ms);
        let count: i64 = write!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO rate_limits (bucket, client, window_start, count) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (bucket, client, window_start)
                 DO UPDATE SET count = rate_limits.count + 1
                 RETURNING count",
            )
            .bind(bucket)
            .bind(client)
            .bind(window_start)
            .fetch_one(pool)
            .await?
        });
        let left = Duration::from_millis((window_start + window_ms - now).max(0) as u64);
        Ok((count, left))
    }

    /// The attempts counted for `client` in `bucket` in the current `window`, and the time left
    /// in the window; counts nothing.
    pub async fn attempts_in_window(
        &self,
        bucket: &str,
        client: &str,
        window: Duration,
    ) -> Result<(i64, Duration)> {
        let now = now_millis();
        let window_ms = (window.as_millis() as i64).max(1);
        let window_start = now - now.rem_euclid(window_ms);
        let count: Option<i64> = read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT count FROM rate_limits
                 WHERE bucket = $1 AND client = $2 AND window_start = $3",
            )
            .bind(bucket)
            .bind(client)
            .bind(window_start)
            .fetch_optional(pool)
            .await?
        });
        let left = Duration::from_millis((window_start + window_ms - now).max(0) as u64);
        Ok((count.unwrap_or(0), left))
    }

    /// Deletes at most `limit` counters of `bucket` of windows that started before `before`
    /// (oldest first); returns how many. The jobs call it with the start of the bucket's last
    /// finished window (buckets have windows of different lengths).
    pub async fn purge_rate_limits(&self, bucket: &str, before: i64, limit: i64) -> Result<u64> {
        with_retries(|| async {
            Ok(write!(self, |pool| sqlx::query(
                "DELETE FROM rate_limits WHERE (bucket, client, window_start) IN (
                     SELECT bucket, client, window_start FROM rate_limits
                     WHERE bucket = $3 AND window_start < $1 ORDER BY window_start LIMIT $2)"
            )
            .bind(before)
            .bind(limit)
            .bind(bucket)
            .execute(pool)
            .await?
            .rows_affected()))
        })
        .await
    }

    /// Remembers that `user_id` logged in from `client` at `now`.
    pub async fn record_login_address(&self, user_id: &str, client: &str, now: i64) -> Result<()> {
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO login_addresses (user_id, client, last_login_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, client) DO UPDATE SET last_login_at = $3",
            )
            .bind(user_id)
            .bind(client)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Whether `user_id` logged in from `client` at or after `since`.
    pub async fn logged_in_from(&self, user_id: &str, client: &str, since: i64) -> Result<bool> {
        let found: Option<i64> = read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT last_login_at FROM login_addresses
                 WHERE user_id = $1 AND client = $2 AND last_login_at >= $3",
            )
            .bind(user_id)
            .bind(client)
            .bind(since)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// Deletes at most `limit` login addresses last used before `before`; returns how many.
    pub async fn purge_login_addresses(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM login_addresses WHERE (user_id, client) IN (
                 SELECT user_id, client FROM login_addresses
                 WHERE last_login_at < $1 ORDER BY last_login_at LIMIT $2)",
            before,
            limit,
        )
        .await
    }
}
