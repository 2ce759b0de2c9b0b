//! `GET /admin/refunds`, `POST /admin/refunds/:refundId/retry`: the refunds an admin must look at
//! (failed after their retries, or refused by the gateway) and a retry that keeps the refund's
//! idempotency key, so the gateway can never pay it twice.

use super::extract::{ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::roles::Admin;
use super::AppState;
use crate::app::refunds::retry_failed_refund;
use crate::domain::ids::parse_id;
use crate::domain::ledger::LedgerStatus;
use crate::domain::money::Money;
use crate::domain::time::to_rfc3339;
use crate::error::{Error, ErrorBody, Result};
use crate::store::orders::LedgerEntry;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_refunds))
        .routes(routes!(retry_refund))
}

/// A refund's states in the ledger.
const STATUSES: [LedgerStatus; 4] = [
    LedgerStatus::Requested,
    LedgerStatus::Pending,
    LedgerStatus::Processed,
    LedgerStatus::Failed,
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    /// requested, pending, processed or failed (the default).
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    #[serde(rename = "_id")]
    pub id: String,
    pub order_id: String,
    pub order_number: String,
    pub amount: Money,
    /// requested, pending, processed or failed.
    pub status: LedgerStatus,
    /// The payment the money goes back from.
    pub payment_id: Option<String>,
    /// The gateway's refund id, once it accepted the refund.
    pub gateway_refund_id: Option<String>,
    /// Why the refund was made (a capture of another amount is flagged "NEEDS REVIEW").
    pub reason: Option<String>,
    /// Gateway calls made so far.
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When the next automatic attempt is due (requested refunds).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl RefundView {
    fn new(entry: LedgerEntry, order_number: String) -> Self {
        RefundView {
            id: entry.id,
            order_id: entry.order_id,
            order_number,
            amount: entry.amount,
            status: entry.status,
            payment_id: entry.payment_ref,
            gateway_refund_id: entry.gateway_ref,
            reason: entry.detail,
            attempts: entry.attempts,
            last_error: entry.last_error,
            next_attempt_at: entry.next_attempt_at.map(to_rfc3339),
            created_at: to_rfc3339(entry.created_at),
            updated_at: to_rfc3339(entry.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundList {
    pub refunds: Vec<RefundView>,
    pub pagination: Pagination,
}

/// Refunds by status, newest first (admin); failed ones by default.
#[utoipa::path(get, path = "/admin/refunds", tag = "admin", security(("bearer" = [])),
    params(RefundFilter, PageParams),
    responses(
        (status = 200, description = "A page of refunds", body = Envelope<RefundList>),
        (status = 400, description = "Bad status or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_refunds(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(filter): ApiQuery<RefundFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<RefundList>> {
    let page = page.checked()?;
    let status = filter.status.as_deref().unwrap_or("failed").trim();
    let Some(status) = LedgerStatus::parse(status).filter(|s| STATUSES.contains(s)) else {
        return Err(Error::invalid(
            "status",
            "must be requested, pending, processed or failed",
            status,
        ));
    };
    let (rows, total) = state.store.refunds_with_status(status, page).await?;
    Ok(Reply::ok(
        "Refunds retrieved successfully",
        RefundList {
            refunds: rows
                .into_iter()
                .map(|(entry, number)| RefundView::new(entry, number))
                .collect(),
            pagination: Pagination::new(page, total),
        },
    ))
}

/// Send a failed refund again (admin). It keeps its idempotency key, so a refund the gateway did
/// make after all is not made twice; the answer shows where it stands after this attempt.
#[utoipa::path(post, path = "/admin/refunds/{refundId}/retry", tag = "admin", security(("bearer" = [])),
    params(("refundId" = String, Path, description = "The refund's `_id`")),
    responses(
        (status = 200, description = "Sent again; its status after the attempt", body = Envelope<RefundView>),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such refund", body = ErrorBody),
        (status = 409, description = "The refund is not failed", body = ErrorBody),
    ))]
async fn retry_refund(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(refund_id): ApiPath<String>,
) -> Result<Reply<RefundView>> {
    let refund_id = parse_id("refundId", &refund_id)?;
    retry_failed_refund(&state.store, state.gateway.as_ref(), &refund_id, &caller.id).await?;
    let (entry, number) = state
        .store
        .refund_by_id(&refund_id)
        .await?
        .ok_or_else(|| Error::not_found("Refund"))?;
    Ok(Reply::ok(
        "Refund sent again",
        RefundView::new(entry, number),
    ))
}
