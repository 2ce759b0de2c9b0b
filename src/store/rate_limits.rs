//! Attempt counters shared by every node (login and registration limits on PostgreSQL): one row
//! per (bucket, client, fixed window), bumped by a single upsert. Finished windows are deleted by
//! the jobs (`purge_rate_limits`).

use super::{write, Store};
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

    /// Deletes at most `limit` counters of windows that started before `before` (oldest first);
    /// returns how many. The jobs call it with the start of the last finished window.
    pub async fn purge_rate_limits(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM rate_limits WHERE (bucket, client, window_start) IN (
                 SELECT bucket, client, window_start FROM rate_limits
                 WHERE window_start < $1 ORDER BY window_start LIMIT $2)",
            before,
            limit,
        )
        .await
    }
}
