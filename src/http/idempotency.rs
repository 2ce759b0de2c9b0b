//! `Idempotency-Key` handling for the POST and PATCH routes that create or move money or stock.
//! The key is scoped to the user and bound to a hash of the request. Only answers that a retry
//! must get again are stored and replayed with `Idempotent-Replayed: true`: a success (2xx), and
//! 409 or 422 (the request conflicted with what it did or would do again). Any other answer (a
//! 400 for an empty cart, a 404, a 5xx with the gateway down, ...) frees the key, so a retry
//! after the client fixed the cause runs anew rather than replaying a stale refusal. A claim left by a request that died with its process is freed
//! once the request timeout (which bounds every request) has passed.

use super::session::AuthUser;
use super::AppState;
use crate::error::{Error, ErrorCode, Result};
use crate::store::idempotency::Claim;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";

/// Runs `handler` at most once per (user, key); without the header it simply runs.
pub async fn idempotent<B, F, Fut>(
    state: &AppState,
    caller: &AuthUser,
    headers: &HeaderMap,
    route: &str,
    body: &B,
    handler: F,
) -> Result<Response>
where
    B: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response>>,
{
    let Some(raw) = headers.get(HEADER) else {
        return handler().await;
    };
    let key = raw
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        .ok_or_else(|| {
            Error::invalid(
                "Idempotency-Key",
                "must be 1 to 255 printable characters without spaces",
                serde_json::Value::Null,
            )
        })?;
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(body).map_err(|e| Error::Internal(e.into()))?);
    let hash = hex::encode(hasher.finalize());

    match state
        .store
        .claim_idempotency(
            &caller.id,
            key,
            &hash,
            state.config.request_timeout().as_millis() as i64,
        )
        .await?
    {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            response
                .headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            Ok(response)
        }
        Claim::Busy { reclaimable_in_ms } => {
            // The other request finishes (and the retry is replayed) or dies (and the claim is
            // reclaimed) within this time.
            let seconds = (reclaimable_in_ms.max(0) as u64).div_ceil(1000).max(1);
            let mut response = Error::Conflict(
                ErrorCode::IdempotencyInProgress,
                "A request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            )
            .into_response();
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
            Ok(response)
        }
        Claim::Fresh => {
            let response = match handler().await {
                Ok(response) => response,
                Err(err) => err.into_response(),
            };
            let status = response.status();
            if !replayable(status) {
                state.store.release_idempotency(&caller.id, key).await?;
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("buffering response: {e}")))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            state
                .store
                .finish_idempotency(&caller.id, key, status.as_u16(), &text)
                .await?;
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
    }
}

/// Whether an answer is stored for replay: a success, or a conflict a retry would meet again.
fn replayable(status: StatusCode) -> bool {
    status.is_success()
        || status == StatusCode::CONFLICT
        || status == StatusCode::UNPROCESSABLE_ENTITY
}
