//! The caller's address book (CONTRACT §4): `GET/POST /addresses`, `PUT/DELETE /addresses/{id}`.
//! Only the owner sees an address; anyone else's is a 404, so ids cannot be probed.

use super::extract::{ApiJson, ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::roles::AnyUser;
use super::AppState;
use crate::domain::ids::parse_id;
use crate::domain::time::to_rfc3339;
use crate::error::{Error, ErrorBody, Result};
use crate::store::addresses::{Address, ShippingAddress, DEFAULT_COUNTRY};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(replace_address, delete_address))
}

/// A saved address as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: Option<String>,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
    pub country: String,
    pub phone: String,
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Address> for AddressView {
    fn from(address: Address) -> Self {
        AddressView {
            id: address.id,
            name: address.name,
            street: address.street,
            city: address.city,
            state: address.state,
            zip_code: address.zip_code,
            country: address.country,
            phone: address.phone,
            is_default: address.is_default,
            created_at: to_rfc3339(address.created_at),
            updated_at: to_rfc3339(address.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressList {
    pub addresses: Vec<AddressView>,
    pub pagination: Pagination,
}

/// Body of `POST /addresses` and `PUT /addresses/{id}`: a shipping address and whether it is the
/// default. The address fields are spelled out rather than flattened from `ShippingAddress`, so a
/// wrongly typed field is reported by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressBody {
    /// Up to 200 characters.
    pub street: String,
    /// Up to 100 characters.
    pub city: String,
    /// Up to 100 characters.
    pub state: String,
    /// 3 to 12 letters, digits, spaces or hyphens.
    pub zip_code: String,
    /// Up to 100 characters; `India` when left out.
    pub country: Option<String>,
    /// 5 to 20 digits, with `+`, `-`, spaces or parentheses.
    pub phone: String,
    /// Who receives the parcel, up to 100 characters.
    pub name: Option<String>,
    /// Make this the default address (the user's first address always is).
    pub is_default: Option<bool>,
}

impl AddressBody {
    fn checked(self) -> Result<(ShippingAddress, Option<bool>)> {
        let address = ShippingAddress {
            street: self.street,
            city: self.city,
            state: self.state,
            zip_code: self.zip_code,
            country: self.country.unwrap_or_else(|| DEFAULT_COUNTRY.to_string()),
            phone: self.phone,
            name: self.name,
        };
        Ok((address.validated()?, self.is_default))
    }
}

/// The caller's addresses, the default first.
#[utoipa::path(get, path = "/addresses", tag = "addresses", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's addresses", body = Envelope<AddressList>),
        (status = 400, description = "Bad page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn list_addresses(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<AddressList>> {
    let page = page.checked()?;
    // An address book is small; paging the loaded list keeps one query and one ordering.
    let all = state.store.addresses_for_user(&caller.id).await?;
    let total = all.len() as i64;
    let addresses = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .map(AddressView::from)
        .collect();
    Ok(Reply::ok(
        "Addresses retrieved successfully",
        AddressList {
            addresses,
            pagination: Pagination::new(page, total),
        },
    ))
}

/// Save an address for the caller.
#[utoipa::path(post, path = "/addresses", tag = "addresses", security(("bearer" = [])),
    request_body = AddressBody,
    responses(
        (status = 201, description = "Address saved", body = Envelope<AddressView>),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn create_address(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiJson(body): ApiJson<AddressBody>,
) -> Result<Reply<AddressView>> {
    let (address, is_default) = body.checked()?;
    let address = address.checked_for_gst(state.config.gst.is_some())?;
    let saved = state
        .store
        .create_address(&caller.id, &address, is_default.unwrap_or(false))
        .await?;
    Ok(Reply::created("Address saved successfully", saved.into()))
}

/// Replace one of the caller's addresses. `isDefault` left out keeps the flag as it is.
#[utoipa::path(put, path = "/addresses/{id}", tag = "addresses", security(("bearer" = [])),
    params(("id" = String, Path, description = "Address id")),
    request_body = AddressBody,
    responses(
        (status = 200, description = "Address updated", body = Envelope<AddressView>),
        (status = 400, description = "Invalid field or id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "The caller has no such address", body = ErrorBody),
    ))]
async fn replace_address(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddressBody>,
) -> Result<Reply<AddressView>> {
    let id = parse_id("id", &id)?;
    let (address, is_default) = body.checked()?;
    let address = address.checked_for_gst(state.config.gst.is_some())?;
    let saved = state
        .store
        .update_address(&caller.id, &id, &address, is_default)
        .await?
        .ok_or_else(|| Error::not_found("Address"))?;
    Ok(Reply::ok("Address updated successfully", saved.into()))
}

/// Delete one of the caller's addresses. If it was the default, the newest other one takes over.
#[utoipa::path(delete, path = "/addresses/{id}", tag = "addresses", security(("bearer" = [])),
    params(("id" = String, Path, description = "Address id")),
    responses(
        (status = 200, description = "Address deleted", body = Envelope<AddressDeleted>),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "The caller has no such address", body = ErrorBody),
    ))]
async fn delete_address(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Reply<AddressDeleted>> {
    let id = parse_id("id", &id)?;
    if !state.store.delete_address(&caller.id, &id).await? {
        return Err(Error::not_found("Address"));
    }
    Ok(Reply::ok(
        "Address deleted successfully",
        AddressDeleted { id },
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressDeleted {
    #[serde(rename = "_id")]
    pub id: String,
}
