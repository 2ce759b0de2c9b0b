//! `GET /notifications`, `PATCH /notifications/:id/read`, `PATCH /notifications/read-all`
//! (CONTRACT §6): every user, whatever the role, reads and clears only their own notifications.

use super::extract::{ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::roles::AnyUser;
use super::AppState;
use crate::domain::ids::parse_id;
use crate::domain::notification::NotificationKind;
use crate::domain::time::to_rfc3339;
use crate::error::{Error, ErrorBody, Result};
use crate::store::notifications::Notification;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    // `/notifications/read-all` and `/notifications/{id}/read` differ in segment count, so the
    // literal route is never taken for an id.
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_all_read))
        .routes(routes!(mark_read))
}

/// A notification as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    #[serde(rename = "_id")]
    pub id: String,
    /// What happened: `order_confirmed`, `order_shipped`, `order_delivered`, `order_cancelled`,
    /// refund and return steps.
    pub kind: NotificationKind,
    pub title: String,
    pub message: String,
    /// The order it is about, when there is one.
    pub order_id: Option<String>,
    pub is_read: bool,
    pub created_at: String,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView {
            id: n.id,
            kind: n.kind,
            title: n.title,
            message: n.message,
            order_id: n.order_id,
            is_read: n.is_read,
            created_at: to_rfc3339(n.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationList {
    pub notifications: Vec<NotificationView>,
    pub pagination: Pagination,
    /// How many of the caller's notifications are unread, whatever the filter.
    pub unread_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllRead {
    /// How many notifications were unread and are now read.
    pub updated: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// `true`: only unread notifications; `false`: only read ones; absent: all.
    pub unread: Option<String>,
}

impl NotificationFilter {
    /// The `is_read` value to filter on, if any.
    fn is_read(&self) -> Result<Option<bool>> {
        match self.unread.as_deref() {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(false)),
            Some("false") => Ok(Some(true)),
            Some(other) => Err(Error::invalid("unread", "must be true or false", other)),
        }
    }
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])),
    params(NotificationFilter, PageParams),
    responses(
        (status = 200, description = "A page of the caller's notifications and the unread count", body = Envelope<NotificationList>),
        (status = 400, description = "Bad filter or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn list_notifications(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiQuery(filter): ApiQuery<NotificationFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<NotificationList>> {
    let is_read = filter.is_read()?;
    let page = page.checked()?;
    let (notifications, total, unread_count) = state
        .store
        .list_notifications(&caller.id, is_read, page)
        .await?;
    Ok(Reply::ok(
        "Notifications retrieved successfully",
        NotificationList {
            notifications: notifications
                .into_iter()
                .map(NotificationView::from)
                .collect(),
            pagination: Pagination::new(page, total),
            unread_count,
        },
    ))
}

/// Mark one of the caller's notifications read. Marking it again succeeds and changes nothing.
#[utoipa::path(patch, path = "/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification, now read", body = Envelope<NotificationView>),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "The caller has no such notification", body = ErrorBody),
    ))]
async fn mark_read(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Reply<NotificationView>> {
    let id = parse_id("id", &id)?;
    let notification = state
        .store
        .mark_notification_read(&caller.id, &id)
        .await?
        .ok_or_else(|| Error::not_found("Notification"))?;
    Ok(Reply::ok(
        "Notification marked as read",
        notification.into(),
    ))
}

/// Mark all of the caller's notifications read.
#[utoipa::path(patch, path = "/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses(
        (status = 200, description = "How many notifications changed", body = Envelope<AllRead>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn mark_all_read(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Result<Reply<AllRead>> {
    let updated = state.store.mark_all_notifications_read(&caller.id).await?;
    Ok(Reply::ok(
        "All notifications marked as read",
        AllRead { updated },
    ))
}
