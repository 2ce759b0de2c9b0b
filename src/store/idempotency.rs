//! Idempotency keys (CONTRACT §2): the first request with a key claims it; a later one with the
//! same key and body replays the stored response, another body is refused, and one racing an
//! unfinished first request is told to wait.

use super::{read, write, Store};
use crate::domain::time::now_millis;
use crate::error::{Error, Result};

/// Keys are kept for 24 hours.
const KEY_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;

pub enum Claim {
    /// This request owns the key: run it, then `finish_idempotency` (or `release_idempotency`).
    Fresh,
    /// A finished request with the same key and body: send its response again.
    Replay { status: u16, body: String },
}

impl Store {
    pub async fn claim_idempotency(
        &self,
        user_id: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim> {
        let now = now_millis();
        write!(self, |pool| {
            // An expired key is forgotten first, so it can be used afresh.
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 AND created_at < $3")
                .bind(user_id)
                .bind(key)
                .bind(now - KEY_LIFETIME_MS)
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
        let existing: Option<(String, Option<i64>, Option<String>)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT request_hash, response_status, response_body FROM idempotency_keys
                 WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(user_id)
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        match existing {
            Some((hash, _, _)) if hash != request_hash => Err(Error::Unprocessable(
                "This Idempotency-Key was already used with a different request body".into(),
            )),
            Some((_, Some(status), Some(body))) => Ok(Claim::Replay {
                status: status as u16,
                body,
            }),
            Some(_) => Err(Error::Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            )),
            // Released between our insert attempt and the read: let the client retry.
            None => Err(Error::Conflict(
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

    /// Forgets a claim whose request failed in a way worth retrying (5xx, gateway down).
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
