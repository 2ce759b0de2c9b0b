//! Discount codes, managed by admins (CONTRACT §5): `GET/POST /admin/discounts`,
//! `GET/PUT/DELETE /admin/discounts/:code`.
//!
//! `DELETE` deletes a code no order ever used and deactivates one that was used (orders keep
//! referring to it). `PUT` replaces every setting but the code and its uses; lowering `usageLimit`
//! below the uses already made is a 409.

use super::extract::{ApiJson, ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::roles::Admin;
use super::AppState;
use crate::domain::discount::{DiscountType, RuleDefinition};
use crate::domain::discount_code::DiscountCode;
use crate::domain::money::Money;
use crate::domain::time::{now_millis, parse_timestamp, to_rfc3339};
use crate::error::{Error, ErrorBody, ErrorCode, Result};
use crate::store::discounts::{Discount, Removal, Replaced};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_discounts, create_discount))
        .routes(routes!(get_discount, replace_discount, delete_discount))
}

/// A discount code as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscountView {
    /// Upper-case, up to 20 characters; the code's identity.
    pub code: String,
    #[serde(rename = "type")]
    pub kind: DiscountType,
    /// Percent off (`percent`, e.g. 10 or 12.5) or the amount off in major units (`fixed`).
    #[schema(value_type = f64)]
    pub value: Money,
    /// The smallest subtotal the code applies to.
    pub min_order_amount: Money,
    /// The most a `percent` code takes off; `null` for no cap.
    pub max_discount_amount: Option<Money>,
    pub starts_at: Option<String>,
    /// The code stops applying at this instant.
    pub ends_at: Option<String>,
    /// Total uses allowed over all customers; `null` for unlimited.
    pub usage_limit: Option<i64>,
    /// Uses allowed per customer; `null` for unlimited.
    pub per_user_limit: Option<i64>,
    /// Uses held by orders: reserved (placed, unpaid) plus final (confirmed).
    pub used_count: i64,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Discount> for DiscountView {
    fn from(d: Discount) -> Self {
        DiscountView {
            kind: d.kind(),
            // `value` holds hundredths of the admin's number in both cases.
            value: Money::from_minor(d.value().hundredths()),
            min_order_amount: d.min_order_amount,
            max_discount_amount: d.max_discount_amount,
            starts_at: d.starts_at.map(to_rfc3339),
            ends_at: d.ends_at.map(to_rfc3339),
            usage_limit: d.usage_limit,
            per_user_limit: d.per_user_limit,
            used_count: d.used_count,
            is_active: d.is_active,
            created_at: to_rfc3339(d.created_at),
            updated_at: to_rfc3339(d.updated_at),
            code: d.code,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiscountList {
    pub discounts: Vec<DiscountView>,
    pub pagination: Pagination,
}

/// A code's definition. On `PUT`, `code` may be left out (it must match the path when given) and
/// every other field replaces the stored one, omitted optional fields becoming `null`/defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscountCodeBody {
    /// 1 to 20 of A-Z, 0-9, `_`, `-`; stored upper-case. Required on `POST`.
    pub code: Option<String>,
    #[serde(rename = "type")]
    #[schema(required = true)]
    pub kind: Option<DiscountType>,
    /// `percent`: more than 0 and at most 100 (e.g. 10 or 12.5). `fixed`: the amount off in major
    /// units, more than 0. At most two decimals.
    #[schema(value_type = f64, required = true)]
    pub value: Option<Money>,
    /// Default 0.
    pub min_order_amount: Option<Money>,
    pub max_discount_amount: Option<Money>,
    /// RFC 3339 time or a date (midnight UTC).
    pub starts_at: Option<String>,
    /// RFC 3339 time or a date (midnight UTC); must be after `startsAt` and in the future.
    pub ends_at: Option<String>,
    /// At least 1.
    pub usage_limit: Option<i64>,
    /// At least 1.
    pub per_user_limit: Option<i64>,
    /// Default true.
    pub is_active: Option<bool>,
}

fn timestamp(field: &str, raw: Option<&str>) -> Result<Option<i64>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => parse_timestamp(text).map(Some).ok_or_else(|| {
            Error::invalid(
                field,
                "must be an RFC 3339 time (2024-01-15T10:00:00Z) or a date (2024-01-15)",
                text,
            )
        }),
    }
}

impl DiscountCodeBody {
    /// The checked definition; every problem is a 400 naming its field.
    fn definition(&self) -> Result<RuleDefinition> {
        let kind = self.kind.ok_or_else(|| {
            Error::invalid(
                "type",
                "is required: percent or fixed",
                serde_json::Value::Null,
            )
        })?;
        let value = self
            .value
            .ok_or_else(|| Error::invalid("value", "is required", serde_json::Value::Null))?;
        let def = RuleDefinition {
            kind,
            value: value.minor(),
            min_order_amount: self.min_order_amount.unwrap_or(Money::ZERO),
            max_discount_amount: self.max_discount_amount,
            starts_at: timestamp("startsAt", self.starts_at.as_deref())?,
            ends_at: timestamp("endsAt", self.ends_at.as_deref())?,
            usage_limit: self.usage_limit,
            per_user_limit: self.per_user_limit,
            is_active: self.is_active.unwrap_or(true),
        };
        def.check()?;
        Ok(def)
    }

    /// A code given an end that has already passed would be listed as active and never apply
    /// (issue 21). `kept_end` is the end the code already has: an update that leaves it as it
    /// was is allowed, so an ended code can still be deactivated or corrected.
    fn refuse_past_end(&self, def: &RuleDefinition, kept_end: Option<i64>) -> Result<()> {
        match def.ends_at {
            Some(ends) if ends <= now_millis() && Some(ends) != kept_end => Err(Error::invalid(
                "endsAt",
                "must be in the future",
                self.ends_at.as_deref().unwrap_or_default(),
            )),
            _ => Ok(()),
        }
    }
}

/// List discount codes, newest first (admin).
#[utoipa::path(get, path = "/admin/discounts", tag = "discounts", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of codes", body = Envelope<DiscountList>),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
async fn list_discounts(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<DiscountList>> {
    let page = page.checked()?;
    let (rows, total) = state.store.list_discounts(page).await?;
    Ok(Reply::ok(
        "Discounts retrieved successfully",
        DiscountList {
            discounts: rows.into_iter().map(DiscountView::from).collect(),
            pagination: Pagination::new(page, total),
        },
    ))
}

/// Create a discount code (admin).
#[utoipa::path(post, path = "/admin/discounts", tag = "discounts", security(("bearer" = [])),
    request_body = DiscountCodeBody,
    responses(
        (status = 201, description = "Created", body = Envelope<DiscountView>),
        (status = 400, description = "A missing or invalid field", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "A code of that name exists", body = ErrorBody),
    ))]
async fn create_discount(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(body): ApiJson<DiscountCodeBody>,
) -> Result<Reply<DiscountView>> {
    let code = match body.code.as_deref() {
        Some(raw) => DiscountCode::parse("code", raw)?,
        None => {
            return Err(Error::invalid(
                "code",
                "is required",
                serde_json::Value::Null,
            ))
        }
    };
    let def = body.definition()?;
    body.refuse_past_end(&def, None)?;
    let created = state.store.create_discount(code.as_str(), &def).await?;
    Ok(Reply::created(
        "Discount created successfully",
        created.into(),
    ))
}

/// One discount code (admin).
#[utoipa::path(get, path = "/admin/discounts/{code}", tag = "discounts", security(("bearer" = [])),
    params(("code" = String, Path, description = "The code (any case)")),
    responses(
        (status = 200, description = "The code", body = Envelope<DiscountView>),
        (status = 400, description = "Malformed code", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such code", body = ErrorBody),
    ))]
async fn get_discount(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(code): ApiPath<String>,
) -> Result<Reply<DiscountView>> {
    let code = DiscountCode::parse("code", &code)?;
    let found = state
        .store
        .discount_by_code(code.as_str())
        .await?
        .ok_or_else(|| Error::not_found("Discount code"))?;
    Ok(Reply::ok("Discount retrieved successfully", found.into()))
}

/// Replace a discount code's settings; its uses are kept (admin).
#[utoipa::path(put, path = "/admin/discounts/{code}", tag = "discounts", security(("bearer" = [])),
    params(("code" = String, Path, description = "The code (any case)")),
    request_body = DiscountCodeBody,
    responses(
        (status = 200, description = "Updated", body = Envelope<DiscountView>),
        (status = 400, description = "A missing or invalid field, or a body code other than the path's", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such code", body = ErrorBody),
        (status = 409, description = "usageLimit below the uses already made", body = ErrorBody),
    ))]
async fn replace_discount(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<DiscountCodeBody>,
) -> Result<Reply<DiscountView>> {
    let code = DiscountCode::parse("code", &code)?;
    if let Some(raw) = body.code.as_deref() {
        if DiscountCode::parse("code", raw)? != code {
            return Err(Error::invalid(
                "code",
                "a code cannot be renamed; it must match the path",
                raw,
            ));
        }
    }
    let def = body.definition()?;
    // Only an end in the past needs the stored one (to tell "kept" from "newly set").
    let kept_end = match def.ends_at {
        Some(ends) if ends <= now_millis() => state
            .store
            .discount_by_code(code.as_str())
            .await?
            .and_then(|stored| stored.ends_at),
        _ => None,
    };
    body.refuse_past_end(&def, kept_end)?;
    match state.store.replace_discount(code.as_str(), &def).await? {
        Replaced::Updated(row) => Ok(Reply::ok("Discount updated successfully", row.into())),
        Replaced::NotFound => Err(Error::not_found("Discount code")),
        Replaced::LimitBelowUses { used_count } => Err(Error::Conflict(
            ErrorCode::Conflict,
            format!("usageLimit cannot be below the {used_count} uses already made of {code}"),
        )),
    }
}

/// Delete a code never used, or deactivate one that was (admin).
#[utoipa::path(delete, path = "/admin/discounts/{code}", tag = "discounts", security(("bearer" = [])),
    params(("code" = String, Path, description = "The code (any case)")),
    responses(
        (status = 200, description = "Deleted (never used) or deactivated (used by orders, kept for their history); the message says which, the data is the code's last state", body = Envelope<DiscountView>),
        (status = 400, description = "Malformed code", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such code", body = ErrorBody),
    ))]
async fn delete_discount(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(code): ApiPath<String>,
) -> Result<Reply<DiscountView>> {
    let code = DiscountCode::parse("code", &code)?;
    match state.store.remove_discount(code.as_str()).await? {
        Some(Removal::Deleted(row)) => Ok(Reply::ok(
            format!("Discount code {code} deleted"),
            row.into(),
        )),
        Some(Removal::Deactivated(row)) => Ok(Reply::ok(
            format!(
                "Discount code {code} deactivated: orders have used it, so it is kept for their history"
            ),
            row.into(),
        )),
        None => Err(Error::not_found("Discount code")),
    }
}
