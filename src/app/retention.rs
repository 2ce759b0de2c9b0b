//! How long the records kept only for a while live, and their deletion (run by the jobs):
//! idempotency keys 24 hours (CONTRACT §2), remembered webhook events 30 days, rate-limit counters
//! until their window ends, the addresses accounts logged in from 30 days, password reset tokens a day past the longest reset link's life. Deleted in batches of `PURGE_BATCH` rows, each its own statement, so
//! a purge never holds many locks at once, and at most `PURGE_BATCHES` batches per table per
//! pass: a backlog drains over several passes instead of stalling one.

use super::rate_limit::{ACCOUNT_BUCKET, ACCOUNT_CLIENT_BUCKET, KNOWN_ADDRESS_LIFETIME_MS};
use super::AppState;
use crate::error::Result;
use crate::store::idempotency::KEY_LIFETIME_MS;

/// Rows one purge statement deletes.
const PURGE_BATCH: i64 = 500;

/// Purge statements per table per pass.
const PURGE_BATCHES: usize = 20;

/// How long a handled webhook event is remembered (so a repeat is recognised). Razorpay retries
/// a delivery for about a day; a month also covers replays sent by hand from its dashboard.
pub const WEBHOOK_EVENT_LIFETIME_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// How long a password reset token is kept: the longest `PASSWORD_RESET_TTL_MINUTES` (a day) and
/// an hour more, so every token is past use and the hourly allowance (`RESETS_PER_HOUR`) still
/// counts the last hour's.
pub const PASSWORD_RESET_LIFETIME_MS: i64 = 25 * 60 * 60 * 1000;

/// Deletes, as of `now`, idempotency keys older than 24 hours, webhook events older than
/// `WEBHOOK_EVENT_LIFETIME_MS`, and the shared rate limiter's counters of finished windows.
pub async fn purge_expired_records(state: &AppState, now: i64) -> Result<()> {
    let store = &state.store;
    let keys = purge(|| store.purge_idempotency_keys(now - KEY_LIFETIME_MS, PURGE_BATCH)).await?;
    let events =
        purge(|| store.purge_webhook_events(now - WEBHOOK_EVENT_LIFETIME_MS, PURGE_BATCH)).await?;
    // A window that started before `now - window` has ended.
    let mut counters = match state.auth_limiter.shared_window() {
        Some(window) => {
            let window_ms = window.as_millis() as i64;
            let bucket = crate::app::rate_limit::Bucket::Auth.name();
            purge(|| store.purge_rate_limits(bucket, now - window_ms, PURGE_BATCH)).await?
        }
        None => 0,
    };
    let account_window_ms = state.account_limiter.window.as_millis() as i64;
    for bucket in [ACCOUNT_BUCKET, ACCOUNT_CLIENT_BUCKET] {
        counters +=
            purge(|| store.purge_rate_limits(bucket, now - account_window_ms, PURGE_BATCH)).await?;
    }
    let addresses =
        purge(|| store.purge_login_addresses(now - KNOWN_ADDRESS_LIFETIME_MS, PURGE_BATCH)).await?;
    let resets =
        purge(|| store.purge_password_resets(now - PASSWORD_RESET_LIFETIME_MS, PURGE_BATCH))
            .await?;
    if resets > 0 {
        tracing::info!(resets, "purged spent password reset tokens");
    }
    if keys + events + counters + addresses > 0 {
        tracing::info!(
            keys,
            events,
            counters,
            addresses,
            "purged expired idempotency keys, webhook events, rate-limit counters and login addresses"
        );
    }
    Ok(())
}

/// Runs one purge batch after another until a batch comes back short or `PURGE_BATCHES` ran;
/// returns the rows deleted.
async fn purge<F, Fut>(mut batch: F) -> Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut deleted = 0;
    for _ in 0..PURGE_BATCHES {
        let gone = batch().await?;
        deleted += gone;
        if gone < PURGE_BATCH as u64 {
            break;
        }
    }
    Ok(deleted)
}
