//! The catalog routes (CONTRACT §4): anyone browses active products; admins and vendors create
//! them; an admin or the owning vendor edits and deactivates them.

use super::extract::{ApiJson, ApiPath, ApiQuery, Envelope, PageParams, Pagination, Reply};
use super::product_input::{
    check_vendor, checked_body, checked_patch, replacement, ManageQuery, ProductBody, ProductPatch,
    ProductQuery,
};
use super::roles::Editor;
use super::session::MaybeAuthUser;
use super::AppState;
use crate::app::cache::{page_key, CatalogPage};
use crate::domain::ids::parse_id;
use crate::domain::money::Money;
use crate::domain::time::to_rfc3339;
use crate::domain::user::Role;
use crate::error::{Error, ErrorBody, Result};
use crate::store::products::{Product, ProductFilter};
use crate::store::PageRequest;
use axum::extract::State;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(list_managed_products))
        .routes(routes!(
            get_product,
            replace_product,
            update_product,
            delete_product
        ))
}

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
    /// GST (CONTRACT §10): HSN code, and the rate in percent (0, 5, 18 or 40).
    pub hsn_code: Option<String>,
    pub gst_rate: i64,
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
            hsn_code: product.hsn_code,
            gst_rate: product.gst_rate.percent(),
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

/// The products a console manages, active or not: every product for an admin (or one vendor's,
/// with `vendorId`), a vendor's own for a vendor. Read from the database, never the cache.
#[utoipa::path(get, path = "/products/manage", tag = "products", security(("bearer" = [])),
    params(ManageQuery, ProductQuery, PageParams),
    responses(
        (status = 200, description = "A page of products, active and inactive", body = Envelope<ProductList>),
        (status = 400, description = "Bad filter, sort or page", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin or vendor, or another vendor's products", body = ErrorBody),
    ))]
async fn list_managed_products(
    State(state): State<AppState>,
    caller: Editor,
    ApiQuery(manage): ApiQuery<ManageQuery>,
    ApiQuery(query): ApiQuery<ProductQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Reply<ProductList>> {
    let page = page.checked()?;
    let mut filter = query.checked()?;
    filter.scope = manage.scope(&caller)?;
    let (products, total) = state.store.list_products(&filter, page).await?;
    Ok(Reply::ok(
        "Products retrieved successfully",
        ProductList {
            products: products.into_iter().map(ProductView::from).collect(),
            pagination: Pagination::new(page, total),
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
    caller: Editor,
    ApiJson(body): ApiJson<ProductBody>,
) -> Result<Reply<ProductView>> {
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
    caller: Editor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProductBody>,
) -> Result<Reply<ProductView>> {
    let id = parse_id("id", &id)?;
    let mut changes = replacement(&body)?;
    changes.vendor_id = check_vendor(&state, &caller, body.vendor_id.as_deref().map(Some)).await?;
    let product = state
        .store
        .update_product(&id, caller.product_editor(), &changes)
        .await?;
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
    caller: Editor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProductPatch>,
) -> Result<Reply<ProductView>> {
    let id = parse_id("id", &id)?;
    let mut changes = checked_patch(&body)?;
    changes.vendor_id = check_vendor(
        &state,
        &caller,
        body.vendor_id.as_ref().map(|v| v.as_deref()),
    )
    .await?;
    let product = state
        .store
        .update_product(&id, caller.product_editor(), &changes)
        .await?;
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
    caller: Editor,
    ApiPath(id): ApiPath<String>,
) -> Result<Reply<ProductView>> {
    let id = parse_id("id", &id)?;
    let product = state
        .store
        .deactivate_product(&id, caller.product_editor())
        .await?;
    Ok(Reply::ok("Product deleted successfully", product.into()))
}
