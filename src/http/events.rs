//! `GET /events`: the caller's live updates as Server-Sent Events (CONTRACT §8), fed by the change
//! feed of `crate::app::events`, so a change made through any node reaches streams on every node.
//!
//! Events: `ready` (data `{}`) once connected; `order` (`{"orderId", "orderNumber", "status"}`)
//! to the order's customer, and to the vendors with lines in it once it is theirs to read (it was
//! confirmed: `GET /vendor/orders/:id`'s rule), whenever an order is placed or its status moves;
//! `notification` (`{"notificationId", "orderId"}`) to its user. A comment every 15 s keeps
//! proxies from closing an idle stream. A stream ends when its token expires, and when the account
//! is deactivated, its role changes or its session logs out (the client reconnects with what it
//! may now read).

use super::roles::AnyUser;
use super::session::{active_role, AuthUser, Standing};
use super::AppState;
use crate::app::Change;
use crate::domain::user::Role;
use crate::error::ErrorBody;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

struct Listening {
    state: AppState,
    caller: AuthUser,
    changes: tokio::sync::broadcast::Receiver<Arc<Change>>,
    closing: tokio::sync::watch::Receiver<bool>,
    /// The token's expiry: the stream ends then, as any request with that token would be refused.
    expires: tokio::time::Instant,
    ready_sent: bool,
}

impl Listening {
    /// The next event for this caller, or `None` when the stream must end.
    async fn next_event(&mut self) -> Option<Event> {
        if !self.ready_sent {
            self.ready_sent = true;
            return Some(Event::default().event("ready").data("{}"));
        }
        loop {
            let received = tokio::select! {
                received = self.changes.recv() => received,
                _ = self.closing.wait_for(|closing| *closing) => return None,
                _ = tokio::time::sleep_until(self.expires) => return None,
            };
            let change = match received {
                Ok(change) => change,
                // Changes were dropped for this slow stream; what they said cannot be replayed, but
                // the account must still be checked.
                Err(RecvError::Lagged(_)) => Arc::new(Change::Resync),
                Err(RecvError::Closed) => return None,
            };
            let recheck = match &*change {
                Change::Order {
                    id,
                    number,
                    user,
                    status,
                    vendors,
                } if *user == self.caller.id
                    || (self.caller.role == Role::Vendor && vendors.contains(&self.caller.id)) =>
                {
                    let data = json!({"orderId": id, "orderNumber": number, "status": status});
                    return Some(Event::default().event("order").data(data.to_string()));
                }
                Change::Notification { id, user, order } if *user == self.caller.id => {
                    let data = json!({"notificationId": id, "orderId": order});
                    return Some(
                        Event::default()
                            .event("notification")
                            .data(data.to_string()),
                    );
                }
                // The account changed, or changes were missed: is it still allowed to listen?
                Change::User { id } => *id == self.caller.id,
                Change::Resync => true,
                _ => false,
            };
            if recheck && !self.still_active().await {
                return None;
            }
        }
    }

    /// Whether the account may go on listening as it connected: still active, with the same role.
    async fn still_active(&mut self) -> bool {
        let caller = &self.caller;
        match active_role(&self.state, &caller.id, caller.session_version).await {
            Ok(Standing::Active(role)) => role == self.caller.role,
            Ok(Standing::Deactivated | Standing::SessionEnded) => false,
            // The database is unreachable for now: keep the stream; the next change checks again.
            Err(_) => true,
        }
    }
}

/// One Server-Sent Event of the stream, as a client's SSE parser sees it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the wire format for the OpenAPI document only
struct StreamEvent {
    /// `ready`, `order` or `notification`.
    #[schema(pattern = "^(ready|order|notification)$")]
    event: String,
    /// The event's JSON payload, as text.
    data: String,
}

/// Live updates of the caller's orders and notifications (`text/event-stream`).
#[utoipa::path(get, path = "/events", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, description = "A stream of Server-Sent Events: `ready` (data `{}`) on connect; \
            `order` (data `{\"orderId\", \"orderNumber\", \"status\"}`) to the order's customer and its vendors \
            when an order is placed or its status moves; `notification` (data `{\"notificationId\", \"orderId\"}`) \
            to its user; a comment every 15 s. The stream ends when the token expires, the account is deactivated or \
            changes role, or the session logs out.",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn events(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // The token is accepted through the whole second `exp` names.
    let expiry = std::time::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(caller.expires_at.saturating_add(1)).unwrap_or(0));
    let left = expiry
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    let listening = Listening {
        expires: tokio::time::Instant::now() + left,
        changes: state.live.subscribe(),
        closing: state.live.closing(),
        state,
        caller,
        ready_sent: false,
    };
    let stream = futures_util::stream::unfold(listening, |mut listening| async move {
        let event = listening.next_event().await?;
        Some((Ok(event), listening))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
