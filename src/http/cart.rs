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
use super::extract::{ApiJson, ApiPath, Envelope, Reply};
use super::session::AuthUser;
use super::AppState;
use crate::app::cache::cached_priced_cart;
use crate::domain::discount::normalize_code;
use crate::domain::ids::parse_id;
use crate::domain::pricing::{PricingSettings, MAX_LINE_QUANTITY};
use crate::error::{Error, ErrorBody, FieldError, Result};
use crate::store::addresses::{ShippingAddress, DEFAULT_COUNTRY};
use crate::store::cart::PricedCart;
use axum::extract::State;
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

// The request types below are both the OpenAPI schema and the parser: serde reads each field as
// raw JSON and their `parse` checks it, so that a wrong type, a fraction or a missing field all
// get the same 400 naming the field.
/// Body of `POST /cart/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddItemBody {
    /// The product's id.
    #[schema(value_type = String, required = true)]
    pub product_id: Option<Value>,
    /// Units to add, a whole number from 1 to 100.
    #[schema(value_type = i64, minimum = 1, maximum = 100, required = true)]
    pub quantity: Option<Value>,
}

/// Body of `PUT`/`PATCH /cart/items/{productId}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuantityBody {
    /// The line's new quantity, a whole number from 1 to 100.
    #[schema(value_type = i64, minimum = 1, maximum = 100, required = true)]
    pub quantity: Option<Value>,
}

/// Body of `POST /cart/discount`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyDiscountBody {
    /// Up to 20 characters; case does not matter.
    #[schema(value_type = String, required = true)]
    pub discount_code: Option<Value>,
}

/// One of the caller's saved addresses, by id.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedAddressRef {
    pub address_id: String,
}

/// `PUT /cart/shipping-address`: an inline address, or `{"addressId": "..."}` of a saved one.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum ShippingAddressBody {
    Saved(SavedAddressRef),
    Inline(ShippingAddress),
}

impl AddItemBody {
    /// The product id and the quantity.
    fn parse(&self) -> Result<(String, i64)> {
        let product_id = parse_product_id(self.product_id.as_ref())?;
        let quantity = parse_quantity(self.quantity.as_ref())?;
        Ok((product_id, quantity))
    }
}

impl QuantityBody {
    fn parse(&self) -> Result<i64> {
        parse_quantity(self.quantity.as_ref())
    }
}

impl ApplyDiscountBody {
    /// The code, normalized.
    fn parse(self) -> Result<String> {
        match self.discount_code {
            Some(Value::String(raw)) => normalize_code("discountCode", &raw).map_err(|_| {
                invalid(
                    "discountCode",
                    "must be 1 to 20 characters of A-Z, 0-9, _ and -",
                    raw.as_str(),
                )
            }),
            None | Some(Value::Null) => Err(invalid("discountCode", "is required", Value::Null)),
            Some(other) => Err(invalid(
                "discountCode",
                "must be a string of up to 20 characters",
                other,
            )),
        }
    }
}

impl ShippingAddressBody {
    /// Reads the body as one of the two shapes; a field missing or of the wrong type is a 400
    /// naming it.
    fn parse(body: Value) -> Result<ShippingAddressBody> {
        let Value::Object(body) = body else {
            return Err(Error::bad_request(
                "The body must be an address object or {\"addressId\": \"...\"}",
            ));
        };
        // `"addressId": null` reads as absent, the way optional fields read everywhere else.
        match body.get("addressId").filter(|v| !v.is_null()) {
            Some(raw) => {
                if ADDRESS_FIELDS.iter().any(|f| body.contains_key(*f)) {
                    return Err(invalid(
                        "addressId",
                        "send either addressId or an inline address, not both",
                        raw.clone(),
                    ));
                }
                let address_id = match raw {
                    Value::String(id) => checked_id("addressId", id)?,
                    other => {
                        return Err(invalid(
                            "addressId",
                            "must be a valid id (UUID)",
                            other.clone(),
                        ))
                    }
                };
                Ok(ShippingAddressBody::Saved(SavedAddressRef { address_id }))
            }
            None => inline_address(&body).map(ShippingAddressBody::Inline),
        }
    }
}

/// A 400 about one field whose message names the field, so a client reading only `message` still
/// knows which input to fix.
fn invalid(field: &str, problem: impl Into<String>, value: impl Into<Value>) -> Error {
    let problem = problem.into();
    Error::Validation {
        message: format!("Validation failed: {field} {problem}"),
        errors: vec![FieldError::new(field, problem, value)],
    }
}

fn checked_id(field: &str, raw: &str) -> Result<String> {
    parse_id(field, raw).map_err(|_| invalid(field, "must be a valid id (UUID)", raw))
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

fn parse_product_id(raw: Option<&Value>) -> Result<String> {
    match raw {
        Some(Value::String(id)) => checked_id("productId", id),
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
async fn get_cart(State(state): State<AppState>, caller: AuthUser) -> Result<Reply<CartView>> {
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
    caller: AuthUser,
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
        (status = 409, description = "The line would exceed availableStock (the message says how many are left) or 100 units", body = ErrorBody),
    ))]
async fn add_item(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<AddItemBody>,
) -> Result<Reply<CartView>> {
    let (product_id, quantity) = body.parse()?;
    state
        .store
        .add_to_cart(&caller.id, &product_id, quantity)
        .await?;
    cart_reply(&state, &caller.id, "Item added to cart successfully").await
}

async fn update_item(
    state: AppState,
    caller: AuthUser,
    product_id: String,
    body: QuantityBody,
) -> Result<Reply<CartView>> {
    let product_id = checked_id("productId", &product_id)?;
    let quantity = body.parse()?;
    state
        .store
        .set_cart_quantity(&caller.id, &product_id, quantity)
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
    caller: AuthUser,
    ApiPath(product_id): ApiPath<String>,
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
    caller: AuthUser,
    ApiPath(product_id): ApiPath<String>,
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
    caller: AuthUser,
    ApiPath(product_id): ApiPath<String>,
) -> Result<Reply<CartView>> {
    let product_id = checked_id("productId", &product_id)?;
    state
        .store
        .remove_from_cart(&caller.id, &product_id)
        .await?;
    cart_reply(&state, &caller.id, "Item removed from cart successfully").await
}

/// Empty the cart: every line and the discount code (the shipping address stays).
#[utoipa::path(delete, path = "/cart", tag = "cart", security(("bearer" = [])),
    responses(
        (status = 200, description = "The empty cart", body = Envelope<CartView>),
        (status = 401, description = "No, bad or expired token", body = ErrorBody),
    ))]
async fn clear_cart(State(state): State<AppState>, caller: AuthUser) -> Result<Reply<CartView>> {
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
    caller: AuthUser,
    ApiJson(body): ApiJson<ApplyDiscountBody>,
) -> Result<Reply<CartView>> {
    let code = body.parse()?;
    let settings = PricingSettings::from_config(&state.config);
    let priced = state.store.priced_cart(&caller.id, &settings).await?;
    if priced.lines.is_empty() {
        return Err(Error::Validation {
            message: "Your cart is empty: add items before applying a discount code".into(),
            errors: vec![FieldError::new(
                "discountCode",
                "the cart is empty",
                code.as_str(),
            )],
        });
    }
    if let Err(reason) = state
        .store
        .check_cart_discount(&code, &caller.id, priced.totals.subtotal)
        .await?
    {
        return Err(Error::Validation {
            message: reason.clone(),
            errors: vec![FieldError::new("discountCode", reason, code.as_str())],
        });
    }
    state.store.set_cart_discount(&caller.id, &code).await?;
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
    caller: AuthUser,
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
    caller: AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Reply<CartView>> {
    let address = match ShippingAddressBody::parse(body)? {
        // Another user's address is not found, so ids cannot be probed (CONTRACT §2).
        ShippingAddressBody::Saved(saved) => state
            .store
            .address_for_user(&caller.id, &saved.address_id)
            .await?
            .ok_or_else(|| Error::not_found("Address"))?
            .shipping(),
        ShippingAddressBody::Inline(address) => address,
    };
    state
        .store
        .set_cart_shipping_address(&caller.id, &address)
        .await?;
    cart_reply(&state, &caller.id, "Shipping address updated successfully").await
}
