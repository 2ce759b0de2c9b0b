//! Bounds every request passes through before its route: a server-wide time limit (which also
//! bounds how long an `Idempotency-Key` claim can belong to a running request) and a URI length
//! limit answered in the error envelope.

use crate::error::{envelope, ErrorCode};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use std::future::Future;
use std::time::Duration;

/// Longest request target accepted, in bytes. hyper itself refuses targets of 65,535 bytes and
/// more with a bare 414 before any service runs; below that the answer is ours, in the envelope.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// A request still running after `limit` is dropped (its transactions roll back) and answered
/// 503. Nothing a request does can outlive this bound, which is what lets an abandoned
/// idempotency claim be reclaimed once it is older than the bound.
pub async fn within_timeout(limit: Duration, work: impl Future<Output = Response>) -> Response {
    let deadline = std::time::Instant::now() + limit;
    let work = crate::payments::deadline::within(deadline, work);
    match tokio::time::timeout(limit, work).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "request dropped: it ran past the request timeout"
            );
            let mut response = envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::RequestTimeout,
                "The request took too long and was stopped; retry it",
            );
            // An `Idempotency-Key` this request claimed is reclaimable once the claim is older
            // than the limit plus the margin; it was taken after the request started, so at
            // most the margin (and the moment before the claim) from now.
            let seconds =
                (crate::store::idempotency::ABANDONED_CLAIM_MARGIN_MS as u64).div_ceil(1000) + 1;
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
            response
        }
    }
}

/// 414 in the envelope for request targets over `MAX_URI_BYTES`; `None` for the others.
pub fn uri_too_long(request: &Request) -> Option<Response> {
    let length = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    (length > MAX_URI_BYTES).then(|| {
        envelope(
            StatusCode::URI_TOO_LONG,
            ErrorCode::UriTooLong,
            format!("The request URI is {length} bytes; at most {MAX_URI_BYTES} are accepted"),
        )
    })
}
