//! `GET /admin/emails`, `POST /admin/emails/:emailId/retry` (CONTRACT §9): the email outbox as an
//! admin sees it (each with its status, recipient, subject, both bodies, attempts and last
//! error), and sending a failed one again.

use super::extract::{ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::roles::Admin;
use super::AppState;
use crate::domain::ids::parse_id;
use crate::domain::mail::{EmailKind, EmailStatus};
use crate::domain::time::{now_millis, to_rfc3339};
use crate::error::{Error, ErrorBody, Result};
use crate::store::emails::EmailRow;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_emails))
        .routes(routes!(retry_email))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailFilter {
    /// pending, sending, sent or failed; every email when absent.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailView {
    #[serde(rename = "_id")]
    pub id: String,
    pub kind: EmailKind,
    /// pending (waiting, or waiting for a retry; so too while no SMTP server is configured),
    /// sending, sent or failed.
    pub status: EmailStatus,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub user_id: Option<String>,
    pub order_id: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending emails).
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<EmailRow> for EmailView {
    fn from(row: EmailRow) -> Self {
        let (text_body, html_body) = row
            .bodies()
            .unwrap_or_else(|problem| (problem.clone(), problem));
        EmailView {
            next_attempt_at: (row.status == EmailStatus::Pending)
                .then(|| to_rfc3339(row.next_attempt_at)),
            id: row.id,
            kind: row.kind,
            status: row.status,
            recipient: row.recipient,
            recipient_name: row.recipient_name,
            user_id: row.user_id,
            order_id: row.order_id,
            subject: row.subject,
            text_body,
            html_body,
            attempts: row.attempts,
            last_error: row.last_error,
            sent_at: row.sent_at.map(to_rfc3339),
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailList {
    pub emails: Vec<EmailView>,
    pub pagination: Pagination,
}

/// Emails the shop composed, newest first (admin), optionally by status.
#[utoipa::path(get, path = "/admin/emails", tag = "admin", security(("bearer" = [])),
    params(EmailFilter, PageParams),
    responses(
        (status = 200, description = "A page of emails", body = Envelope<EmailList>),
        (status = 400, description = "Bad status or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_emails(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(filter): ApiQuery<EmailFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<EmailList>> {
    let page = page.checked()?;
    let status = match filter.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(EmailStatus::parse(raw).ok_or_else(|| {
            Error::invalid("status", "must be pending, sending, sent or failed", raw)
        })?),
    };
    let (rows, total) = state.store.emails(status, page).await?;
    Ok(Reply::ok(
        "Emails retrieved successfully",
        EmailList {
            emails: rows.into_iter().map(EmailView::from).collect(),
            pagination: Pagination::new(page, total),
        },
    ))
}

/// Send a failed email again (admin): it goes back to pending, due at once, its attempts counted
/// afresh. Any other status is a 409.
#[utoipa::path(post, path = "/admin/emails/{emailId}/retry", tag = "admin", security(("bearer" = [])),
    params(("emailId" = String, Path, description = "The email's `_id`")),
    responses(
        (status = 200, description = "Queued again", body = Envelope<EmailView>),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such email", body = ErrorBody),
        (status = 409, description = "The email is not failed", body = ErrorBody),
    ))]
async fn retry_email(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(email_id): ApiPath<String>,
) -> Result<Reply<EmailView>> {
    let email_id = parse_id("emailId", &email_id)?;
    let row = state
        .store
        .retry_failed_email(&email_id, now_millis())
        .await?;
    Ok(Reply::ok("Email queued to be sent again", row.into()))
}
