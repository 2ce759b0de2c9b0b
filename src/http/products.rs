//! The catalog routes (CONTRACT §4): anyone browses active products; admins and vendors create
//! them; an admin or the owning vendor edits and deactivates them.

use super::extract::{
    optional_text, ApiJson, ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply,
};
use super::session::{AuthUser, MaybeAuthUser};
use super::AppState;
use crate::app::cache::{page_key, CatalogPage};
use crate::domain::ids::parse_id;
use crate::domain::money::{Money, MAX_AMOUNT};
use crate::domain::time::to_rfc3339;
use crate::domain::user::{check_name, Role};
use crate::error::{Error, ErrorBody, Result};
use crate::store::products::{
    Editor, NewProduct, Product, ProductChanges, ProductFilter, ProductSort,
};
use crate::store::PageRequest;
use axum::extract::State;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(
            get_product,
            replace_product,
            update_product,
            delete_product
        ))
}

/// The most units one product may hold in stock.
pub const MAX_STOCK: i64 = 1_000_000;
const MAX_IMAGES: usize = 10;
const MAX_URL_LEN: usize = 2048;

/// A product as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub stock: i64,
    /// Stock minus what unpaid orders hold reserved.
    pub available_stock: i64,
    pub brand: String,
    pub category: String,
    pub image_urls: Vec<String>,
    pub sku: Option<String>,
    pub is_active: bool,
    /// The vendor who owns the product; `null` for the shop's own products.
    pub vendor_id: Option<String>,
    /// Average rating with one decimal; 0 when unrated.
    pub rating_average: f64,
    pub rating_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Product> for ProductView {
    fn from(product: Product) -> Self {
        ProductView {
            available_stock: product.available_stock(),
            rating_average: product.rating_tenths() as f64 / 10.0,
            id: product.id,
            name: product.name,
            description: product.description,
            price: product.price,
            stock: product.stock,
            brand: product.brand,
            category: product.category,
            image_urls: product.image_urls,
            sku: product.sku,
            is_active: product.is_active,
            vendor_id: product.vendor_id,
            rating_count: product.rating_count,
            created_at: to_rfc3339(product.created_at),
            updated_at: to_rfc3339(product.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductView>,
    pub pagination: Pagination,
}

/// Body of `POST /products` and `PUT /products/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductBody {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 5000 characters.
    pub description: Option<String>,
    /// Major units, 0 to 10,000,000, at most two decimals.
    pub price: Money,
    /// 0 to 1,000,000.
    pub stock: i64,
    pub brand: Option<String>,
    pub category: Option<String>,
    /// Up to 10 http(s) URLs.
    pub image_urls: Option<Vec<String>>,
    /// Up to 64 characters, unique.
    pub sku: Option<String>,
    pub is_active: Option<bool>,
    /// Admins only: the vendor who owns the product.
    pub vendor_id: Option<String>,
}

/// Body of `PATCH /products/{id}`: only the fields present change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub stock: Option<i64>,
    pub brand: Option<String>,
    pub category: Option<String>,
    pub image_urls: Option<Vec<String>>,
    /// `null` removes the SKU.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    pub is_active: Option<bool>,
    /// Admins only; `null` makes it a shop product.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub vendor_id: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`, via `default`).
fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Query of `GET /products`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ProductQuery {
    /// Case-insensitive text found in the name or the brand.
    pub search: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    /// Lowest price in major units.
    pub min_price: Option<String>,
    /// Highest price in major units.
    pub max_price: Option<String>,
    /// `createdAt` (default), `price`, `name` or `rating`.
    pub sort_by: Option<String>,
    /// `asc` or `desc`; defaults to `desc` for `createdAt` and `rating`, `asc` for `price` and `name`.
    pub sort_order: Option<String>,
}

impl ProductQuery {
    fn checked(&self) -> Result<ProductFilter> {
        let text =
            |field: &str, value: &Option<String>| optional_text(field, value.as_deref(), 200);
        let price = |field: &str, value: &Option<String>| -> Result<Option<Money>> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(raw) => match Money::parse_major(raw) {
                    Some(m) if m >= Money::ZERO && m.minor() <= MAX_AMOUNT => Ok(Some(m)),
                    _ => Err(Error::invalid(
                        field,
                        "must be an amount from 0 with at most two decimals",
                        raw,
                    )),
                },
            }
        };
        let min_price = price("minPrice", &self.min_price)?;
        let max_price = price("maxPrice", &self.max_price)?;
        if let (Some(min), Some(max)) = (min_price, max_price) {
            if min > max {
                return Err(Error::invalid(
                    "minPrice",
                    "must not be above maxPrice",
                    min.to_string(),
                ));
            }
        }
        let sort = match self.sort_by.as_deref() {
            None | Some("") | Some("createdAt") => ProductSort::CreatedAt,
            Some("price") => ProductSort::Price,
            Some("name") => ProductSort::Name,
            Some("rating") => ProductSort::Rating,
            Some(other) => {
                return Err(Error::invalid(
                    "sortBy",
                    "must be createdAt, price, name or rating",
                    other,
                ))
            }
        };
        let descending = match self.sort_order.as_deref().map(str::to_ascii_lowercase) {
            None => matches!(sort, ProductSort::CreatedAt | ProductSort::Rating),
            Some(order) if order.is_empty() => {
                matches!(sort, ProductSort::CreatedAt | ProductSort::Rating)
            }
            Some(order) if order == "desc" => true,
            Some(order) if order == "asc" => false,
            Some(order) => return Err(Error::invalid("sortOrder", "must be asc or desc", order)),
        };
        Ok(ProductFilter {
            search: text("search", &self.search)?,
            category: text("category", &self.category)?,
            brand: text("brand", &self.brand)?,
            min_price,
            max_price,
            sort,
            descending,
        })
    }
}

// ---- field checks: each names its field in the 400 and changes nothing ----

fn check_price(price: Money) -> Result<Money> {
    if price < Money::ZERO || price.minor() > MAX_AMOUNT {
        return Err(Error::invalid(
            "price",
            format!(
                "must be from 0 to {} with at most two decimals",
                Money::from_minor(MAX_AMOUNT)
            ),
            price.to_json_number(),
        ));
    }
    Ok(price)
}

fn check_stock(stock: i64) -> Result<i64> {
    if !(0..=MAX_STOCK).contains(&stock) {
        return Err(Error::invalid(
            "stock",
            format!("must be a whole number from 0 to {MAX_STOCK}"),
            stock,
        ));
    }
    Ok(stock)
}

/// Trimmed optional text of at most `max` characters (empty when absent).
fn check_text(field: &str, value: Option<&str>, max: usize) -> Result<String> {
    let value = value.unwrap_or("").trim();
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
            value,
        ));
    }
    Ok(value.to_string())
}

fn check_sku(sku: Option<&str>) -> Result<Option<String>> {
    let Some(sku) = sku.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if sku.chars().count() > 64 || sku.chars().any(char::is_control) {
        return Err(Error::invalid(
            "sku",
            "must be at most 64 printable characters",
            sku,
        ));
    }
    Ok(Some(sku.to_string()))
}

fn check_image_urls(urls: &[String]) -> Result<Vec<String>> {
    if urls.len() > MAX_IMAGES {
        return Err(Error::invalid(
            "imageUrls",
            format!("must hold at most {MAX_IMAGES} URLs"),
            urls.len(),
        ));
    }
    urls.iter()
        .map(|raw| {
            let url = raw.trim();
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .unwrap_or("");
            let valid = !host.is_empty()
                && !host.starts_with('/')
                && url.len() <= MAX_URL_LEN
                && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if valid {
                Ok(url.to_string())
            } else {
                Err(Error::invalid(
                    "imageUrls",
                    format!("each must be an http(s) URL of at most {MAX_URL_LEN} characters"),
                    raw.as_str(),
                ))
            }
        })
        .collect()
}

/// Who owns a new or edited product. Vendors own what they make and cannot hand it to someone
/// else; an admin may name any vendor account. `None` in the result leaves ownership as it is.
async fn check_vendor(
    state: &AppState,
    caller: &AuthUser,
    requested: Option<Option<&str>>,
) -> Result<Option<Option<String>>> {
    if caller.role == Role::Vendor {
        return match requested {
            None => Ok(None),
            Some(Some(raw)) if parse_id("vendorId", raw)? == caller.id => Ok(None),
            Some(_) => Err(Error::Forbidden(
                "Vendors cannot assign products to another owner".into(),
            )),
        };
    }
    match requested {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(raw)) => {
            let id = parse_id("vendorId", raw)?;
            let is_vendor = state
                .store
                .user_by_id(&id)
                .await?
                .is_some_and(|user| user.role() == Role::Vendor);
            if !is_vendor {
                return Err(Error::invalid(
                    "vendorId",
                    "must be the id of a vendor account",
                    raw,
                ));
            }
            Ok(Some(Some(id)))
        }
    }
}

/// Every field of a full body checked. The owner is settled separately by `check_vendor`.
fn checked_body(body: &ProductBody) -> Result<NewProduct> {
    Ok(NewProduct {
        name: check_name("name", &body.name, 200)?,
        description: check_text("description", body.description.as_deref(), 5000)?,
        price: check_price(body.price)?,
        stock: check_stock(body.stock)?,
        brand: check_text("brand", body.brand.as_deref(), 100)?,
        category: check_text("category", body.category.as_deref(), 100)?,
        image_urls: check_image_urls(body.image_urls.as_deref().unwrap_or(&[]))?,
        sku: check_sku(body.sku.as_deref())?,
        is_active: body.is_active.unwrap_or(true),
        vendor_id: None,
    })
}

/// A full body as the changes a `PUT` makes: every editable field replaced, optional ones left out
/// reset to empty; `isActive` only when given, so an edit does not undo a deactivation.
fn replacement(body: &ProductBody) -> Result<ProductChanges> {
    let new = checked_body(body)?;
    Ok(ProductChanges {
        name: Some(new.name),
        description: Some(new.description),
        price: Some(new.price),
        stock: Some(new.stock),
        brand: Some(new.brand),
        category: Some(new.category),
        image_urls: Some(new.image_urls),
        sku: Some(new.sku),
        is_active: body.is_active,
        vendor_id: None,
    })
}

fn checked_patch(body: &ProductPatch) -> Result<ProductChanges> {
    Ok(ProductChanges {
        name: body
            .name
            .as_deref()
            .map(|n| check_name("name", n, 200))
            .transpose()?,
        description: body
            .description
            .as_deref()
            .map(|d| check_text("description", Some(d), 5000))
            .transpose()?,
        price: body.price.map(check_price).transpose()?,
        stock: body.stock.map(check_stock).transpose()?,
        brand: body
            .brand
            .as_deref()
            .map(|b| check_text("brand", Some(b), 100))
            .transpose()?,
        category: body
            .category
            .as_deref()
            .map(|c| check_text("category", Some(c), 100))
            .transpose()?,
        image_urls: body
            .image_urls
            .as_deref()
            .map(check_image_urls)
            .transpose()?,
        sku: body
            .sku
            .as_ref()
            .map(|s| check_sku(s.as_deref()))
            .transpose()?,
        is_active: body.is_active,
        vendor_id: None,
    })
}

fn editor(caller: &AuthUser) -> Result<Editor<'_>> {
    caller.require_any(&[Role::Admin, Role::Vendor])?;
    Ok(if caller.is_admin() {
        Editor::Admin
    } else {
        Editor::Vendor(&caller.id)
    })
}

/// List active products, filtered, sorted and paginated.
#[utoipa::path(get, path = "/products", tag = "products",
    params(ProductQuery, PageParams),
    responses(
        (status = 200, description = "A page of active products (empty past the last page)", body = Envelope<ProductList>),
        (status = 400, description = "Bad filter, sort or page", body = ErrorBody),
    ))]
async fn list_products(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ProductQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<ProductList>> {
    let page = page.checked()?;
    let filter = query.checked()?;
    let listed = catalog_page(&state, &filter, page).await?;
    Ok(Reply::ok(
        "Products retrieved successfully",
        ProductList {
            products: listed.0.iter().cloned().map(ProductView::from).collect(),
            pagination: Pagination::new(page, listed.1),
        },
    ))
}

/// A catalog page from the catalog cache of `crate::app::cache`, or read and remembered.
async fn catalog_page(
    state: &AppState,
    filter: &ProductFilter,
    page: PageRequest,
) -> Result<CatalogPage> {
    let connected = state.live.is_connected();
    let key = page_key(filter, page);
    if let Some(listed) = state.live.catalog.page(&key, connected) {
        return Ok(listed);
    }
    let fill = state.live.catalog.begin_page(connected);
    let listed = Arc::new(state.store.list_products(filter, page).await?);
    state.live.catalog.put_page(key, listed.clone(), fill);
    Ok(listed)
}

/// A product, active or not, from the catalog cache or read and remembered.
async fn catalog_product(state: &AppState, id: &str) -> Result<Option<Arc<Product>>> {
    let connected = state.live.is_connected();
    if let Some(product) = state.live.catalog.product(id, connected) {
        return Ok(Some(product));
    }
    let fill = state.live.catalog.begin_product(connected);
    let Some(product) = state.store.product_by_id(id).await? else {
        return Ok(None);
    };
    let product = Arc::new(product);
    state.live.catalog.put_product(product.clone(), fill);
    Ok(Some(product))
}

/// One product. An inactive product is visible only to admins and its vendor.
#[utoipa::path(get, path = "/products/{id}", tag = "products", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Envelope<ProductView>),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "A token was sent and is bad or expired", body = ErrorBody),
        (status = 404, description = "No such product, or it is inactive", body = ErrorBody),
    ))]
async fn get_product(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Reply<ProductView>> {
    let id = parse_id("id", &id)?;
    let product = catalog_product(&state, &id)
        .await?
        .map(|p| (*p).clone())
        .filter(|p| {
            p.is_active
                || caller
                    .as_ref()
                    .is_some_and(|c| c.is_admin() || p.vendor_id.as_deref() == Some(c.id.as_str()))
        })
        .ok_or_else(|| Error::not_found("Product"))?;
    Ok(Reply::ok("Product retrieved successfully", product.into()))
}

/// Create a product (admin or vendor). A vendor's product is owned by that vendor; an admin may
/// name the owning vendor with `vendorId`.
#[utoipa::path(post, path = "/products", tag = "products", security(("bearer" = [])),
    request_body = ProductBody,
    responses(
        (status = 201, description = "Product created", body = Envelope<ProductView>),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin or vendor", body = ErrorBody),
        (status = 409, description = "SKU already taken", body = ErrorBody),
    ))]
async fn create_product(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<ProductBody>,
) -> Result<Reply<ProductView>> {
    editor(&caller)?;
    let mut new = checked_body(&body)?;
    new.vendor_id = match check_vendor(&state, &caller, body.vendor_id.as_deref().map(Some)).await?
    {
        Some(chosen) => chosen,
        None if caller.role == Role::Vendor => Some(caller.id.clone()),
        None => None,
    };
    let product = state.store.create_product(new).await?;
    Ok(Reply::created(
        "Product created successfully",
        product.into(),
    ))
}

/// Replace a product's editable fields (admin or owning vendor). Optional fields left out are
/// reset to empty; `isActive` and the owner stay as they are unless given.
#[utoipa::path(put, path = "/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = ProductBody,
    responses(
        (status = 200, description = "Product updated", body = Envelope<ProductView>),
        (status = 400, description = "Invalid field or id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin or the owning vendor", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "SKU taken, or stock below what unpaid orders hold", body = ErrorBody),
    ))]
async fn replace_product(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProductBody>,
) -> Result<Reply<ProductView>> {
    let editor = editor(&caller)?;
    let id = parse_id("id", &id)?;
    let mut changes = replacement(&body)?;
    changes.vendor_id = check_vendor(&state, &caller, body.vendor_id.as_deref().map(Some)).await?;
    let product = state.store.update_product(&id, editor, &changes).await?;
    Ok(Reply::ok("Product updated successfully", product.into()))
}

/// Change some of a product's fields (admin or owning vendor).
#[utoipa::path(patch, path = "/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = ProductPatch,
    responses(
        (status = 200, description = "Product updated", body = Envelope<ProductView>),
        (status = 400, description = "Invalid field or id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin or the owning vendor", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "SKU taken, or stock below what unpaid orders hold", body = ErrorBody),
    ))]
async fn update_product(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProductPatch>,
) -> Result<Reply<ProductView>> {
    let editor = editor(&caller)?;
    let id = parse_id("id", &id)?;
    let mut changes = checked_patch(&body)?;
    changes.vendor_id = check_vendor(
        &state,
        &caller,
        body.vendor_id.as_ref().map(|v| v.as_deref()),
    )
    .await?;
    let product = state.store.update_product(&id, editor, &changes).await?;
    Ok(Reply::ok("Product updated successfully", product.into()))
}

/// Deactivate a product (admin or owning vendor). It leaves the catalog; orders keep their copy.
#[utoipa::path(delete, path = "/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "Product deactivated", body = Envelope<ProductView>),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin or the owning vendor", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
    ))]
async fn delete_product(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Reply<ProductView>> {
    let editor = editor(&caller)?;
    let id = parse_id("id", &id)?;
    let product = state.store.deactivate_product(&id, editor).await?;
    Ok(Reply::ok("Product deleted successfully", product.into()))
}
