//! The caller's cart (CONTRACT §5, api-reference.md "Cart Endpoints"): `GET /cart`,
//! `GET /cart/summary`, `POST /cart/items`, `PUT`/`PATCH`/`DELETE /cart/items/:productId`,
//! `DELETE /cart`, `POST`/`DELETE /cart/discount`, `PUT /cart/shipping-address`.
//!
//! `GET /cart` and `GET /cart/summary` price the snapshot the cart cache of `crate::app` holds (one
//! statement to fill it); the writes read the cart afresh. Every answer that shows the cart shows
//! it as `Store::priced_cart` left it: lines of products no
//! longer for sale dropped, current prices, the discount re-checked; what that changed is appended
//! to `message`.

use super::cart_views::{CartSummaryView, CartView};
use super::extract::{ApiJson, ApiPath, BodyError, Envelope, Reply};
use super::roles::AnyUser;
use super::session::AuthUser;
use super::AppState;
use crate::app::cache::cached_priced_cart;
use crate::app::cart;
use crate::domain::discount_code::DiscountCode;
use crate::domain::ids::{AddressId, ProductId};
use crate::domain::pricing::{PricingSettings, MAX_LINE_QUANTITY};
use crate::error::{Error, ErrorBody, ErrorCode, FieldError, Result};
use crate::store::addresses::{ShippingAddress, DEFAULT_COUNTRY};
use crate::store::cart::PricedCart;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart, clear_cart))
        .routes(routes!(cart_summary))
        .routes(routes!(add_item))
        .routes(routes!(update_item_put, update_item_patch, remove_item))
        .routes(routes!(apply_discount, remove_discount))
        .routes(routes!(set_shipping_address))
}

// The request types below are both the OpenAPI schema and the parser: each deserializes
// (`try_from`) from its raw shape, every field read as raw JSON and checked in a fixed order, so
// that a wrong type, a fraction or a missing field all get the same 400 naming the field (a
// `BodyError`, which `ApiJson` turns into the envelope). A handler only ever sees checked values.
/// Body of `POST /cart/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", try_from = "RawAddItem")]
pub struct AddItemBody {
    /// The product's id.
    #[schema(value_type = String, format = "uuid")]
    pub product_id: ProductId,
    /// Units to add, a whole number from 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAddItem {
    product_id: Option<Value>,
    quantity: Option<Value>,
}

impl TryFrom<RawAddItem> for AddItemBody {
    type Error = BodyError;

    fn try_from(raw: RawAddItem) -> Result<Self, BodyError> {
        Ok(AddItemBody {
            product_id: parse_product_id(raw.product_id.as_ref())?,
            quantity: parse_quantity(raw.quantity.as_ref())?,
        })
    }
}

/// Body of `PUT`/`PATCH /cart/items/{productId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(try_from = "RawQuantity")]
pub struct QuantityBody {
    /// The line's new quantity, a whole number from 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
}

#[derive(Deserialize)]
struct RawQuantity {
    quantity: Option<Value>,
}

impl TryFrom<RawQuantity> for QuantityBody {
    type Error = BodyError;

    fn try_from(raw: RawQuantity) -> Result<Self, BodyError> {
        Ok(QuantityBody {
            quantity: parse_quantity(raw.quantity.as_ref())?,
        })
    }
}

/// Body of `POST /cart/discount`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", try_from = "RawApplyDiscount")]
pub struct ApplyDiscountBody {
    /// Up to 20 characters; case does not matter.
    #[schema(value_type = String)]
    pub discount_code: DiscountCode,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawApplyDiscount {
    discount_code: Option<Value>,
}

impl TryFrom<RawApplyDiscount> for ApplyDiscountBody {
    type Error = BodyError;

    fn try_from(raw: RawApplyDiscount) -> Result<Self, BodyError> {
        let discount_code = match raw.discount_code {
            Some(Value::String(raw)) => {
                DiscountCode::parse("discountCode", &raw).map_err(|_| {
                    invalid(
                        "discountCode",
                        "must be 1 to 20 characters of A-Z, 0-9, _ and -",
                        raw.as_str(),
                    )
                })?
            }
            None | Some(Value::Null) => {
                return Err(invalid("discountCode", "is required", Value::Null).into())
            }
            Some(other) => {
                return Err(invalid(
                    "discountCode",
                    "must be a string of up to 20 characters",
                    other,
                )
                .into())
            }
        };
        Ok(ApplyDiscountBody { discount_code })
    }
}

/// One of the caller's saved addresses, by id.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedAddressRef {
    #[schema(value_type = String, format = "uuid")]
    pub address_id: AddressId,
}

/// `PUT /cart/shipping-address`: an inline address, or `{"addressId": "..."}` of a saved one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, try_from = "Value")]
pub enum ShippingAddressBody {
    Saved(SavedAddressRef),
    Inline(ShippingAddress),
}

impl TryFrom<Value> for ShippingAddressBody {
    type Error = BodyError;

    /// Reads the body as one of the two shapes; a field missing or of the wrong type is a 400
    /// naming it.
    fn try_from(body: Value) -> Result<Self, BodyError> {
        let Value::Object(body) = body else {
            return Err(Error::bad_request(
                "The body must be an address object or {\"addressId\": \"...\"}",
            )
            .into());
        };
        // `"addressId": null` reads as absent, the way optional fields read everywhere else.
        match body.get("addressId").filter(|v| !v.is_null()) {
            Some(raw) => {
                if ADDRESS_FIELDS.iter().any(|f| body.contains_key(*f)) {
                    return Err(invalid(
                        "addressId",
                        "send either addressId or an inline address, not both",
                        raw.clone(),
                    )
                    .into());
                }
                let address_id = match raw {
                    Value::String(id) => AddressId::parse("addressId", id).map_err(|_| {
                        invalid("addressId", "must be a valid id (UUID)", id.as_str())
                    })?,
                    other => {
                        return Err(invalid(
                            "addressId",
                            "must be a valid id (UUID)",
                            other.clone(),
                        )
                        .into())
                    }
                };
                Ok(ShippingAddressBody::Saved(SavedAddressRef { address_id }))
            }
            None => Ok(ShippingAddressBody::Inline(inline_address(&body)?)),
        }
    }
}

/// A 400 about one field whose message names the field, so a client reading only `message` still
/// knows which input to fix.
fn invalid(field: &str, problem: impl Into<String>, value: impl Into<Value>) -> Error {
    let problem = problem.into();
    Error::Validation {
        code: ErrorCode::ValidationFailed,
        message: format!("Validation failed: {field} {problem}"),
        errors: vec![FieldError::new(field, problem, value)],
    }
}

/// The `{productId}` of a line's path, checked while the request is extracted, before its body
/// is read: a malformed id is the 400 even when the body is bad too.
struct LinePath(ProductId);

impl<S: Send + Sync> FromRequestParts<S> for LinePath {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let ApiPath(raw) = ApiPath::<String>::from_request_parts(parts, state).await?;
        checked_product_id(&raw).map(LinePath)
    }
}

fn checked_product_id(raw: &str) -> Result<ProductId> {
    ProductId::parse("productId", raw)
        .map_err(|_| invalid("productId", "must be a valid id (UUID)", raw))
}

fn parse_quantity(raw: Option<&Value>) -> Result<i64> {
    let message = format!("must be a whole number from 1 to {MAX_LINE_QUANTITY}");
    match raw {
        None | Some(Value::Null) => Err(invalid(
            "quantity",
            format!("is required and {message}"),
            Value::Null,
        )),
        Some(value) => match value.as_i64() {
            Some(q) if (1..=MAX_LINE_QUANTITY).contains(&q) => Ok(q),
            _ => Err(invalid("quantity", message, value.clone())),
        },
    }
}

fn parse_product_id(raw: Option<&Value>) -> Result<ProductId> {
    match raw {
        Some(Value::String(id)) => checked_product_id(id),
        None | Some(Value::Null) => Err(invalid("productId", "is required", Value::Null)),
        Some(other) => Err(invalid(
            "productId",
            "must be a valid id (UUID)",
            other.clone(),
        )),
    }
}

/// The success message with what the read changed appended.
fn message(base: &str, priced: &PricedCart) -> String {
    if priced.notices.is_empty() {
        base.to_string()
    } else {
        format!("{base}. {}", priced.notices.join(" "))
    }
}

async fn cart_reply(state: &AppState, user_id: &str, base: &str) -> Result<Reply<CartView>> {
    let settings = PricingSettings::from_config(&state.config);
    let priced = state.store.priced_cart(user_id, &settings).await?;
    Ok(Reply::ok(message(base, &priced), CartView::from(&priced)))
}

/// The caller's cart with populated products and totals; a new user gets an empty cart.
#[utoipa::path(get, path = "/cart", tag = "cart", security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart; `message` also says which lines or code were removed because they no longer apply", body = Envelope<CartView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn get_cart(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Result<Reply<CartView>> {
    let settings = PricingSettings::from_config(&state.config);
    let priced = cached_priced_cart(&state.live, &state.store, &caller.id, &settings).await?;
    Ok(Reply::ok(
        message("Cart retrieved successfully", &priced),
        CartView::from(&priced),
    ))
}

/// The cart's amounts without the lines.
#[utoipa::path(get, path = "/cart/summary", tag = "cart", security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart's totals", body = Envelope<CartSummaryView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn cart_summary(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Result<Reply<CartSummaryView>> {
    let settings = PricingSettings::from_config(&state.config);
    let priced = cached_priced_cart(&state.live, &state.store, &caller.id, &settings).await?;
    Ok(Reply::ok(
        message("Cart summary retrieved successfully", &priced),
        CartSummaryView::from(&priced),
    ))
}

/// Add a product to the cart; adding one already there adds to its quantity.
#[utoipa::path(post, path = "/cart/items", tag = "cart", security(("bearer" = [])),
    request_body = AddItemBody,
    responses(
        (status = 200, description = "Added; the updated cart", body = Envelope<CartView>),
        (status = 400, description = "Missing or malformed productId, or quantity not a whole number from 1 to 100", body = ErrorBody),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
        (status = 404, description = "No such product, or it is no longer for sale", body = ErrorBody),
        (status = 409, description = "The line would exceed availableStock (the message says how many are left) or 100 units, or the product is new to a cart already holding CART_MAX_LINES distinct products (the message says the cart is full and names the limit)", body = ErrorBody),
    ))]
async fn add_item(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiJson(body): ApiJson<AddItemBody>,
) -> Result<Reply<CartView>> {
    state
        .store
        .add_to_cart(
            &caller.id,
            body.product_id.as_str(),
            body.quantity,
            state.config.cart_max_lines,
        )
        .await?;
    cart_reply(&state, &caller.id, "Item added to cart successfully").await
}

async fn update_item(
    state: AppState,
    caller: AuthUser,
    product_id: ProductId,
    body: QuantityBody,
) -> Result<Reply<CartView>> {
    state
        .store
        .set_cart_quantity(&caller.id, product_id.as_str(), body.quantity)
        .await?;
    cart_reply(&state, &caller.id, "Cart item updated successfully").await
}

/// Set the quantity of a line in the cart.
#[utoipa::path(put, path = "/cart/items/{productId}", tag = "cart", security(("bearer" = [])),
    params(("productId" = String, Path, description = "The product's id")),
    request_body = QuantityBody,
    responses(
        (status = 200, description = "Updated; the cart", body = Envelope<CartView>),
        (status = 400, description = "Malformed productId, or quantity not a whole number from 1 to 100", body = ErrorBody),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
        (status = 404, description = "The product is not in the cart, or no longer for sale", body = ErrorBody),
        (status = 409, description = "Above availableStock (the message says how many are left)", body = ErrorBody),
    ))]
async fn update_item_put(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    LinePath(product_id): LinePath,
    ApiJson(body): ApiJson<QuantityBody>,
) -> Result<Reply<CartView>> {
    update_item(state, caller, product_id, body).await
}

/// Set the quantity of a line in the cart (the same as `PUT`, for user-flow.md).
#[utoipa::path(patch, path = "/cart/items/{productId}", tag = "cart", security(("bearer" = [])),
    params(("productId" = String, Path, description = "The product's id")),
    request_body = QuantityBody,
    responses(
        (status = 200, description = "Updated; the cart", body = Envelope<CartView>),
        (status = 400, description = "Malformed productId, or quantity not a whole number from 1 to 100", body = ErrorBody),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
        (status = 404, description = "The product is not in the cart, or no longer for sale", body = ErrorBody),
        (status = 409, description = "Above availableStock (the message says how many are left)", body = ErrorBody),
    ))]
async fn update_item_patch(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    LinePath(product_id): LinePath,
    ApiJson(body): ApiJson<QuantityBody>,
) -> Result<Reply<CartView>> {
    update_item(state, caller, product_id, body).await
}

/// Remove a line from the cart.
#[utoipa::path(delete, path = "/cart/items/{productId}", tag = "cart", security(("bearer" = [])),
    params(("productId" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "Removed; the cart", body = Envelope<CartView>),
        (status = 400, description = "Malformed productId", body = ErrorBody),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
        (status = 404, description = "The product is not in the cart", body = ErrorBody),
    ))]
async fn remove_item(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    LinePath(product_id): LinePath,
) -> Result<Reply<CartView>> {
    state
        .store
        .remove_from_cart(&caller.id, product_id.as_str())
        .await?;
    cart_reply(&state, &caller.id, "Item removed from cart successfully").await
}

/// Empty the cart: every line and the discount code (the shipping address stays).
#[utoipa::path(delete, path = "/cart", tag = "cart", security(("bearer" = [])),
    responses(
        (status = 200, description = "The empty cart", body = Envelope<CartView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn clear_cart(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Result<Reply<CartView>> {
    state.store.clear_cart(&caller.id).await?;
    cart_reply(&state, &caller.id, "Cart cleared successfully").await
}

/// Apply a discount code to the cart (replacing any other).
#[utoipa::path(post, path = "/cart/discount", tag = "cart", security(("bearer" = [])),
    request_body = ApplyDiscountBody,
    responses(
        (status = 200, description = "Applied; the cart with the discount", body = Envelope<CartView>),
        (status = 400, description = "Malformed code, empty cart, or the code does not apply; the message says which rule: unknown, not active, not valid yet, expired, used up, per-customer limit reached, or under the minimum order (naming the minimum)", body = ErrorBody),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn apply_discount(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiJson(body): ApiJson<ApplyDiscountBody>,
) -> Result<Reply<CartView>> {
    cart::apply_discount(&state, &caller.id, &body.discount_code).await?;
    cart_reply(&state, &caller.id, "Discount applied successfully").await
}

/// Remove the discount code from the cart.
#[utoipa::path(delete, path = "/cart/discount", tag = "cart", security(("bearer" = [])),
    responses(
        (status = 200, description = "Removed (or there was none); the cart", body = Envelope<CartView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn remove_discount(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
) -> Result<Reply<CartView>> {
    let previous = state.store.remove_cart_discount(&caller.id).await?;
    let base = if previous.is_some() {
        "Discount removed successfully"
    } else {
        "No discount code was applied"
    };
    cart_reply(&state, &caller.id, base).await
}

const ADDRESS_FIELDS: [&str; 7] = [
    "street", "city", "state", "zipCode", "country", "phone", "name",
];

/// Reads an inline address field by field so a missing or mistyped one is a 400 naming it.
fn inline_address(body: &Map<String, Value>) -> Result<ShippingAddress> {
    let text = |field: &str, required: bool| -> Result<Option<String>> {
        match body.get(field) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(invalid(field, "is required", Value::Null)),
            Some(other) => Err(invalid(field, "must be a string", other.clone())),
        }
    };
    let required = |field: &str| text(field, true).map(Option::unwrap_or_default);
    ShippingAddress {
        street: required("street")?,
        city: required("city")?,
        state: required("state")?,
        zip_code: required("zipCode")?,
        country: text("country", false)?.unwrap_or_else(|| DEFAULT_COUNTRY.to_string()),
        phone: required("phone")?,
        name: text("name", false)?,
    }
    .validated()
}

/// Set the cart's shipping address: inline, or one of the caller's saved addresses by id.
#[utoipa::path(put, path = "/cart/shipping-address", tag = "cart", security(("bearer" = [])),
    request_body = ShippingAddressBody,
    responses(
        (status = 200, description = "Set; the cart", body = Envelope<CartView>),
        (status = 400, description = "A missing or invalid address field, a malformed addressId, or both an addressId and inline fields", body = ErrorBody),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
        (status = 404, description = "No such address among the caller's", body = ErrorBody),
    ))]
async fn set_shipping_address(
    State(state): State<AppState>,
    AnyUser(caller): AnyUser,
    ApiJson(body): ApiJson<ShippingAddressBody>,
) -> Result<Reply<CartView>> {
    let address = match body {
        // Another user's address is not found, so ids cannot be probed (CONTRACT §2).
        ShippingAddressBody::Saved(saved) => state
            .store
            .address_for_user(&caller.id, saved.address_id.as_str())
            .await?
            .ok_or_else(|| Error::not_found("Address"))?
            .shipping(),
        ShippingAddressBody::Inline(address) => address,
    }
    .checked_for_gst(state.config.gst.is_some())?;
    state
        .store
        .set_cart_shipping_address(&caller.id, &address)
        .await?;
    cart_reply(&state, &caller.id, "Shipping address updated successfully").await
}
