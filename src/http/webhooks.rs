//! `POST /webhooks/razorpay` (CONTRACT §6): verified by signature over the raw body, deduplicated
//! by `x-razorpay-event-id`, and safe in any order or repetition because every effect is the same
//! exactly-once store operation the other paths use. A capture confirms the order even when the
//! customer never came back to verify-payment.
//!
//! The answer never waits on the gateway (Razorpay wants one within 5 s and disables a webhook
//! that keeps failing): the event is recorded, its processing starts in a task of its own, and the
//! answer waits at most `ANSWER_WAIT` for it; what is not done by then finishes in the background,
//! and a failed attempt is retried by the jobs (`app::gateway_events`).

use super::extract::{Envelope, RawBody, Reply};
use super::AppState;
use crate::app::gateway_events::{self, WEBHOOK_CLAIM_MS};
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorBody, Result};
use crate::payments::razorpay::parse_webhook_event;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(razorpay_webhook))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOutcome {
    pub event: String,
    /// processed | ignored (handled before the answer), queued (recorded, finishing in the
    /// background) | duplicate (this event id was received before)
    pub outcome: &'static str,
}

/// How long the answer waits for a fast gateway, so the usual event is answered as handled;
/// a slow one is answered `queued` well inside Razorpay's 5 s.
const ANSWER_WAIT: Duration = Duration::from_millis(500);

/// Razorpay webhook receiver. Configure it in the Razorpay dashboard with the webhook secret and
/// the events payment.authorized, payment.captured, order.paid, payment.failed, refund.processed
/// and refund.failed.
#[utoipa::path(post, path = "/webhooks/razorpay", tag = "webhooks",
    request_body(content = Object, description = "A Razorpay webhook event", content_type = "application/json"),
    params(
        ("X-Razorpay-Signature" = String, Header, description = "Hex HMAC-SHA256 of the raw body with the webhook secret"),
        ("x-razorpay-event-id" = Option<String>, Header, description = "Razorpay's event id, used to ignore repeats"),
    ),
    responses(
        (status = 200, description = "Event handled, repeated or ignored", body = Envelope<WebhookOutcome>),
        (status = 400, description = "Missing or bad signature, or unreadable body", body = ErrorBody),
    ))]
async fn razorpay_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Reply<WebhookOutcome>> {
    let signature = headers
        .get("x-razorpay-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if signature.is_empty() || !state.gateway.verify_webhook_signature(&body, signature) {
        metrics::counter!("payments_webhooks_total", "outcome" => "bad_signature").increment(1);
        return Err(Error::invalid(
            "X-Razorpay-Signature",
            "Webhook signature verification failed",
            serde_json::Value::Null,
        ));
    }
    let event = parse_webhook_event(&body)
        .map_err(|e| Error::bad_request(format!("Unreadable webhook body: {e}")))?;
    // Razorpay always sends an event id; a hash of the signed body stands in if it is missing.
    let event_id = headers
        .get("x-razorpay-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 100)
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(Sha256::digest(&body)));
    let body = std::str::from_utf8(&body)
        .map_err(|_| Error::bad_request("Unreadable webhook body: not UTF-8"))?
        .to_string();
    let now = now_millis();
    if !state
        .store
        .record_webhook(&event_id, &event.event, &body, now, now + WEBHOOK_CLAIM_MS)
        .await?
    {
        metrics::counter!("payments_webhooks_total", "outcome" => "duplicate").increment(1);
        return Ok(Reply::ok(
            "Duplicate event ignored",
            WebhookOutcome {
                event: event.event,
                outcome: "duplicate",
            },
        ));
    }
    // Its own task: the processing goes on when this answer is sent (or the client hangs up).
    let processing = tokio::spawn({
        let state = state.clone();
        async move { gateway_events::run_claimed(&state, &event_id, &body, 1).await }
    });
    let outcome = match tokio::time::timeout(ANSWER_WAIT, processing).await {
        Ok(Ok(Ok(outcome))) => outcome,
        // Failed (retried by the jobs) or still running: recorded either way.
        _ => "queued",
    };
    Ok(Reply::ok(
        "Webhook received",
        WebhookOutcome {
            event: event.event,
            outcome,
        },
    ))
}
