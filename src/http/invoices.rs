//! GST documents (CONTRACT §10): `GET /orders/:orderId/invoices` (the order's owner, an admin, or
//! the vendor for its own invoices; anyone else gets a 404) and `GET /admin/gst/export`, the
//! GSTR-1 shaped CSV of a period.

use super::extract::{ApiPath, ApiQuery, Envelope};
use super::invoice_pdf::{render, PdfHeader};
use super::roles::{Admin, AnyUser};
use super::session::AuthUser;
use super::AppState;
use crate::domain::gst::DocumentKind;
use crate::domain::invoice::{gstr1_csv, DocumentBody, IssuedDocument};
use crate::domain::order_number::OrderRef;
use crate::domain::time::to_rfc3339;
use crate::domain::user::Role;
use crate::error::{Error, ErrorBody, Result};
use crate::store::invoices::GstDocument;
use crate::store::order_queries::Viewer;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{FixedOffset, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(order_invoices))
        .routes(routes!(invoice_pdf))
        .routes(routes!(gst_export))
}

/// An invoice or credit note as issued.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceView {
    #[serde(rename = "_id")]
    pub id: String,
    /// invoice | credit_note
    pub kind: DocumentKind,
    /// `INV/25-26/000001` or `CN/25-26/000001`.
    pub number: String,
    pub issued_at: String,
    #[serde(flatten)]
    pub body: DocumentBody,
    /// For a credit note: the number of the invoice it takes back.
    pub refers_to: Option<String>,
    /// Where the PDF is downloaded.
    pub pdf_url: String,
}

fn view(document: &GstDocument, all: &[GstDocument]) -> Result<InvoiceView> {
    Ok(InvoiceView {
        id: document.id.clone(),
        kind: document.kind,
        number: document.number.clone(),
        issued_at: to_rfc3339(document.issued_at),
        body: document.document()?,
        refers_to: document.refers_to.as_ref().and_then(|id| {
            all.iter()
                .find(|other| other.id == *id)
                .map(|other| other.number.clone())
        }),
        pdf_url: format!("/invoices/{}.pdf", document.id),
    })
}

/// The documents `caller` may read among an order's: all of them for the owner and admins, a
/// vendor's own for a vendor. `None` when the caller may see none (a 404, so ids cannot be probed).
pub(super) async fn readable_documents(
    state: &AppState,
    caller: &AuthUser,
    order_ref: &str,
) -> Result<Option<Vec<GstDocument>>> {
    let Some(reference) = OrderRef::parse(order_ref) else {
        return Ok(None);
    };
    let Some(order) = state
        .store
        .order_for(reference.as_str(), Viewer::Admin)
        .await?
    else {
        return Ok(None);
    };
    let documents = state.store.order_documents(&order.id).await?;
    if caller.is_admin() || order.user_id == caller.id {
        return Ok(Some(documents));
    }
    if caller.role == Role::Vendor {
        let own: Vec<GstDocument> = documents
            .into_iter()
            .filter(|doc| doc.vendor_id.as_deref() == Some(caller.id.as_str()))
            .collect();
        return Ok((!own.is_empty()).then_some(own));
    }
    Ok(None)
}

/// The tax invoices and credit notes of an order.
#[utoipa::path(get, path = "/orders/{orderId}/invoices", tag = "orders", security(("bearer" = [])),
    params(("orderId" = String, Path, description = "Order `_id` or `orderNumber`")),
    responses(
        (status = 200, description = "The order's invoices and credit notes (empty before confirmation or in flat tax mode)", body = Envelope<Vec<InvoiceView>>),
        (status = 400, description = "Malformed path", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such order among the caller's (a vendor: none of its invoices)", body = ErrorBody),
    ))]
async fn order_invoices(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(order_id): ApiPath<String>,
) -> Result<super::extract::Reply<Vec<InvoiceView>>> {
    let documents = readable_documents(&state, &caller, &order_id)
        .await?
        .ok_or_else(|| Error::not_found("Order"))?;
    let views = documents
        .iter()
        .map(|doc| view(doc, &documents))
        .collect::<Result<Vec<_>>>()?;
    Ok(super::extract::Reply::ok(
        "Invoices retrieved successfully",
        views,
    ))
}

/// The PDF of an invoice or credit note: `/invoices/<_id>.pdf`.
#[utoipa::path(get, path = "/invoices/{file}", tag = "orders", security(("bearer" = [])),
    params(("file" = String, Path, description = "The document's `_id` followed by `.pdf`")),
    responses(
        (status = 200, description = "The document as PDF, with every field of Rule 46 (CGST Rules)", content_type = "application/pdf", body = Vec<u8>),
        (status = 400, description = "Malformed path", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such document among the caller's", body = ErrorBody),
    ))]
async fn invoice_pdf(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(file): ApiPath<String>,
) -> Result<Response> {
    let not_found = || Error::not_found("Invoice");
    let id = file.strip_suffix(".pdf").ok_or_else(not_found)?;
    let id = crate::domain::ids::parse_id("id", id).map_err(|_| not_found())?;
    let document = state
        .store
        .document_by_id(&id)
        .await?
        .ok_or_else(not_found)?;
    // Readable exactly when it is listed for the caller under its order.
    let readable = readable_documents(&state, &caller, &document.order_id)
        .await?
        .ok_or_else(not_found)?;
    if !readable.iter().any(|doc| doc.id == document.id) {
        return Err(not_found());
    }
    let refers_to = match &document.refers_to {
        Some(invoice) => readable
            .iter()
            .find(|doc| doc.id == *invoice)
            .map(|doc| doc.number.clone()),
        None => None,
    };
    let body = document.document()?;
    let date = issued_date(document.issued_at);
    // A few milliseconds of CPU: kept off the async workers all the same.
    let header_owned = (document.kind, document.number.clone(), date, refers_to);
    let pdf = tokio::task::spawn_blocking(move || {
        let (kind, number, date, refers_to) = header_owned;
        render(
            &PdfHeader {
                kind,
                number: &number,
                date: &date,
                refers_to: refers_to.as_deref(),
            },
            &body,
        )
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(Error::Internal)?;
    let filename = format!(
        "inline; filename=\"{}.pdf\"",
        document.number.replace('/', "-")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day of the period, `YYYY-MM-DD` (Indian time); required.
    pub from: Option<String>,
    /// Last day of the period, `YYYY-MM-DD`, included; required.
    pub to: Option<String>,
}

/// India Standard Time, in which the documents are dated.
fn ist() -> FixedOffset {
    // 5 h 30 min east of UTC is a valid offset.
    FixedOffset::east_opt(5 * 3600 + 1800).expect("IST is a valid offset")
}

fn day_start(field: &str, text: &str) -> Result<(NaiveDate, i64)> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, "must be a date, YYYY-MM-DD", text))?;
    let start = ist()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .ok_or_else(|| Error::invalid(field, "must be a date, YYYY-MM-DD", text))?;
    Ok((date, start.timestamp_millis()))
}

/// The GSTR-1 shaped CSV of the invoices and credit notes issued in a period (admin).
#[utoipa::path(get, path = "/admin/gst/export", tag = "admin", security(("bearer" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "CSV: B2B (and CDNR) rows per document and rate, B2CS rows per seller, state and rate", content_type = "text/csv", body = String),
        (status = 400, description = "Bad or reversed dates", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn gst_export(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response> {
    // Optional in the type so that a caller who is not an admin hears 403 whatever it sent.
    let required = |field: &str, value: &Option<String>| {
        value.clone().ok_or_else(|| {
            Error::invalid(field, "is required (YYYY-MM-DD)", serde_json::Value::Null)
        })
    };
    let (from_text, to_text) = (required("from", &query.from)?, required("to", &query.to)?);
    let (from_date, from) = day_start("from", &from_text)?;
    let (to_date, to_start) = day_start("to", &to_text)?;
    if to_date < from_date {
        return Err(Error::invalid(
            "to",
            "must not be before from",
            to_text.as_str(),
        ));
    }
    let to = to_start + 86_400_000;
    let stored = state.store.documents_between(from, to).await?;
    let documents = stored
        .iter()
        .map(|doc| {
            Ok(IssuedDocument {
                kind: doc.kind,
                number: doc.number.clone(),
                date: issued_date(doc.issued_at),
                refers_to: doc.refers_to.as_ref().map(|id| {
                    stored
                        .iter()
                        .find(|other| other.id == *id)
                        .map_or_else(|| id.clone(), |other| other.number.clone())
                }),
                body: doc.document()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let csv = gstr1_csv(&documents)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("GSTR-1 sums overflowed")))?;
    let filename = format!("attachment; filename=\"gstr1-{from_date}-{to_date}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        csv,
    )
        .into_response())
}

/// The date a document carries, in Indian time.
pub(super) fn issued_date(millis: i64) -> String {
    ist()
        .timestamp_millis_opt(millis)
        .single()
        .map(|at| at.format("%d-%m-%Y").to_string())
        .unwrap_or_default()
}
