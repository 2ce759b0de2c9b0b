//! Idempotency keys (CONTRACT §2): the first request with a key claims it; a later one with the
//! same key and body replays the stored response, another body is refused, and one racing an
//! unfinished first request is told to wait. An unfinished claim older than the longest a
//! request can run (the server's request timeout) belongs to a request that died with its
//! process: it is given to the next request with that key. Keys older than 24 hours are
//! deleted by the jobs (`purge_idempotency_keys`).

use super::{read, write, Store};
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result};

/// Keys are kept for 24 hours (CONTRACT §2); the jobs delete older ones.
pub const KEY_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

/// Added to the request timeout before an unfinished claim counts as abandoned: room for the
/// clocks of several nodes to differ a little.
pub const ABANDONED_CLAIM_MARGIN_MS: i64 = 2_000;

pub enum Claim {
    /// This request owns the key: run it, then `finish_idempotency` (or `release_idempotency`).
    Fresh,
    /// A finished request with the same key and body: send its response again.
    Replay { status: u16, body: String },
    /// An unfinished request holds the key; it can be reclaimed in this many ms if that request
    /// died (a client should wait at least this long before retrying).
    Busy { reclaimable_in_ms: i64 },
}

impl Store {
    /// `running_limit_ms`: the longest a request can run (the request timeout); an unfinished
    /// claim older than that plus `ABANDONED_CLAIM_MARGIN_MS` is taken over.
    pub async fn claim_idempotency(
        &self,
        user_id: &str,
        key: &str,
        request_hash: &str,
        running_limit_ms: i64,
    ) -> Result<Claim> {
        let now = now_millis();
        let abandoned_before = now - running_limit_ms - ABANDONED_CLAIM_MARGIN_MS;
        write!(self, |pool| {
            // An expired key, or a claim whose request can no longer be running (its process
            // died before finishing or releasing it), is forgotten first, so it can be used afresh.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2
                 AND (created_at < $3 OR (response_status IS NULL AND created_at < $4))",
            )
            .bind(user_id)
            .bind(key)
            .bind(now - KEY_LIFETIME_MS)
            .bind(abandoned_before)
            .execute(pool)
            .await?;
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(key)
            .bind(request_hash)
            .bind(now)
            .execute(pool)
            .await?;
            if claimed.rows_affected() == 1 {
                return Ok(Claim::Fresh);
            }
        });
        let existing: Option<(String, Option<i64>, Option<String>, i64)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT request_hash, response_status, response_body, created_at FROM idempotency_keys
                 WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(user_id)
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        match existing {
            Some((hash, _, _, _)) if hash != request_hash => Err(Error::Unprocessable(
                "This Idempotency-Key was already used with a different request body".into(),
            )),
            Some((_, Some(status), Some(body), _)) => Ok(Claim::Replay {
                status: status as u16,
                body,
            }),
            Some((_, _, _, created_at)) => Ok(Claim::Busy {
                reclaimable_in_ms: created_at - abandoned_before,
            }),
            // Released between our insert attempt and the read: let the client retry.
            None => Err(Error::Conflict(
                ErrorCode::Conflict,
                "A request with this Idempotency-Key just finished without a stored result; retry"
                    .into(),
            )),
        }
    }

    pub async fn finish_idempotency(
        &self,
        user_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = $3, response_body = $4
                 WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(user_id)
            .bind(key)
            .bind(i64::from(status))
            .bind(body)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Deletes at most `limit` keys created before `before` (oldest first); returns how many.
    pub async fn purge_idempotency_keys(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM idempotency_keys WHERE (user_id, idempotency_key) IN (
                 SELECT user_id, idempotency_key FROM idempotency_keys
                 WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
            before,
            limit,
        )
        .await
    }

    /// Forgets a claim whose request did not end in an answer worth replaying (a validation
    /// error, a 5xx, the gateway down): the next request with the key runs anew.
    pub async fn release_idempotency(&self, user_id: &str, key: &str) -> Result<()> {
        write!(self, |pool| {
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2")
                .bind(user_id)
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
