//! The catalog: products, their stock and the part of it held by unpaid orders (`reserved`).
//!
//! Stock changes made here are single conditional statements, so an edit can never set stock below
//! what unpaid orders hold, however requests interleave.

use super::{like_pattern, read, write, PageRequest, Store};
use crate::domain::gst::GstRate;
use crate::domain::ids::new_id;
use crate::domain::money::Money;
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result, ResultExt};
use sqlx::QueryBuilder;

/// A product as stored, with its amounts and lists already typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub stock: i64,
    /// Units held by unpaid orders.
    pub reserved: i64,
    pub brand: String,
    pub category: String,
    pub image_urls: Vec<String>,
    pub sku: Option<String>,
    pub is_active: bool,
    pub vendor_id: Option<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// GST (CONTRACT §10): the HSN code (4, 6 or 8 digits) and the rate.
    pub hsn_code: Option<String>,
    pub gst_rate: GstRate,
}

impl Product {
    /// What a new order may still take: stock minus what unpaid orders hold.
    pub fn available_stock(&self) -> i64 {
        (self.stock - self.reserved).max(0)
    }

    /// The average rating in tenths (4.5 is 45), rounded half-up; 0 when unrated. Integer maths so
    /// both databases and every node agree on it.
    pub fn rating_tenths(&self) -> i64 {
        if self.rating_count <= 0 {
            return 0;
        }
        (self.rating_sum * 10 * 2 + self.rating_count) / (self.rating_count * 2)
    }

    /// The first image, which order lines keep as their picture.
    pub fn main_image(&self) -> Option<&str> {
        self.image_urls.first().map(String::as_str)
    }
}

/// The row as the database holds it; `image_urls` is a JSON array in a TEXT column. Other stores
/// that join products (the cart) flatten it into their own rows.
#[derive(sqlx::FromRow)]
pub(crate) struct ProductRow {
    id: String,
    name: String,
    description: String,
    price: i64,
    stock: i64,
    reserved: i64,
    brand: String,
    category: String,
    image_urls: String,
    sku: Option<String>,
    is_active: bool,
    vendor_id: Option<String>,
    rating_sum: i64,
    rating_count: i64,
    created_at: i64,
    updated_at: i64,
    hsn_code: Option<String>,
    gst_rate: GstRate,
}

impl From<ProductRow> for Product {
    fn from(row: ProductRow) -> Self {
        Product {
            id: row.id,
            name: row.name,
            description: row.description,
            price: Money::from_minor(row.price),
            stock: row.stock,
            reserved: row.reserved,
            brand: row.brand,
            category: row.category,
            // Written as a JSON list of strings (here and by the demo loader).
            image_urls: serde_json::from_str(&row.image_urls).unwrap_or_default(),
            sku: row.sku,
            is_active: row.is_active,
            vendor_id: row.vendor_id,
            rating_sum: row.rating_sum,
            rating_count: row.rating_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
            hsn_code: row.hsn_code,
            gst_rate: row.gst_rate,
        }
    }
}

pub const PRODUCT_COLUMNS: &str =
    "id, name, description, price, stock, reserved, brand, category, \
     image_urls, sku, is_active, vendor_id, rating_sum, rating_count, created_at, updated_at, \
     hsn_code, gst_rate";

/// A checked new product.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price: Money,
    pub stock: i64,
    pub brand: String,
    pub category: String,
    pub image_urls: Vec<String>,
    pub sku: Option<String>,
    pub is_active: bool,
    pub vendor_id: Option<String>,
    pub hsn_code: Option<String>,
    pub gst_rate: GstRate,
}

/// Checked changes to a product; `None` leaves a field as it is. `sku` and `vendor_id` may be
/// cleared, hence the nested option.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub stock: Option<i64>,
    pub brand: Option<String>,
    pub category: Option<String>,
    pub image_urls: Option<Vec<String>>,
    pub sku: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub vendor_id: Option<Option<String>>,
    pub hsn_code: Option<Option<String>>,
    pub gst_rate: Option<GstRate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSort {
    CreatedAt,
    Price,
    Name,
    Rating,
}

/// Filters of the public catalog list; every product listed is active.
#[derive(Debug, Clone)]
pub struct ProductFilter {
    /// Case-insensitive substring of the name or the brand.
    pub search: Option<String>,
    /// Case-insensitive exact category.
    pub category: Option<String>,
    /// Case-insensitive exact brand.
    pub brand: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub sort: ProductSort,
    pub descending: bool,
    pub scope: ProductScope,
}

/// Which products a list may show: the catalog shows active ones to everyone; the consoles show
/// an admin every product and a vendor its own, active or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductScope {
    Catalog,
    Managed {
        /// Only this vendor's products (a vendor's own; an admin's filter).
        vendor: Option<String>,
        /// Only active (`true`) or inactive (`false`) ones; `None`: both.
        active: Option<bool>,
    },
}

/// Who is editing: an admin may edit any product, a vendor only its own.
#[derive(Debug, Clone, Copy)]
pub enum Editor<'a> {
    Admin,
    Vendor(&'a str),
}

/// Appends the WHERE clause of the catalog list. Generic over the database so the list and its
/// count share one definition on both back-ends.
fn push_filters<'a, DB>(qb: &mut QueryBuilder<'a, DB>, filter: &ProductFilter)
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    match &filter.scope {
        ProductScope::Catalog => {
            qb.push(" WHERE is_active");
        }
        ProductScope::Managed { vendor, active } => {
            // Fixed fragments only; the vendor id is bound.
            qb.push(match active {
                None => " WHERE TRUE",
                Some(true) => " WHERE is_active",
                Some(false) => " WHERE NOT is_active",
            });
            if let Some(vendor) = vendor {
                qb.push(" AND vendor_id = ").push_bind(vendor.clone());
            }
        }
    }
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        qb.push(" AND (LOWER(name) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(brand) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(category) = &filter.category {
        qb.push(" AND LOWER(category) = ")
            .push_bind(category.to_lowercase());
    }
    if let Some(brand) = &filter.brand {
        qb.push(" AND LOWER(brand) = ")
            .push_bind(brand.to_lowercase());
    }
    if let Some(min) = filter.min_price {
        qb.push(" AND price >= ").push_bind(min);
    }
    if let Some(max) = filter.max_price {
        qb.push(" AND price <= ").push_bind(max);
    }
}

/// The ORDER BY clause: the chosen key, then the id, so pages never overlap or skip rows when
/// keys tie. Only fixed fragments are pushed, never client text.
fn order_clause(sort: ProductSort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    match sort {
        ProductSort::CreatedAt => format!(" ORDER BY created_at {dir}, id {dir}"),
        ProductSort::Price => format!(" ORDER BY price {dir}, id {dir}"),
        ProductSort::Name => format!(" ORDER BY LOWER(name) {dir}, id {dir}"),
        // Integer average in thousandths: identical on both databases, no float ordering quirks.
        ProductSort::Rating => format!(
            " ORDER BY CASE WHEN rating_count = 0 THEN 0 ELSE (rating_sum * 1000) / rating_count END {dir}, \
             rating_count {dir}, id {dir}"
        ),
    }
}

/// Appends `SET ...` for the fields that change.
fn push_changes<'a, DB>(qb: &mut QueryBuilder<'a, DB>, changes: &ProductChanges, now: i64)
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push(" SET updated_at = ").push_bind(now);
    if let Some(name) = &changes.name {
        qb.push(", name = ").push_bind(name.clone());
    }
    if let Some(description) = &changes.description {
        qb.push(", description = ").push_bind(description.clone());
    }
    if let Some(price) = changes.price {
        qb.push(", price = ").push_bind(price);
    }
    if let Some(stock) = changes.stock {
        qb.push(", stock = ").push_bind(stock);
    }
    if let Some(brand) = &changes.brand {
        qb.push(", brand = ").push_bind(brand.clone());
    }
    if let Some(category) = &changes.category {
        qb.push(", category = ").push_bind(category.clone());
    }
    if let Some(urls) = &changes.image_urls {
        qb.push(", image_urls = ").push_bind(image_urls_json(urls));
    }
    if let Some(sku) = &changes.sku {
        qb.push(", sku = ").push_bind(sku.clone());
    }
    if let Some(active) = changes.is_active {
        qb.push(", is_active = ").push_bind(active);
    }
    if let Some(vendor) = &changes.vendor_id {
        qb.push(", vendor_id = ").push_bind(vendor.clone());
    }
    if let Some(hsn) = &changes.hsn_code {
        qb.push(", hsn_code = ").push_bind(hsn.clone());
    }
    if let Some(rate) = changes.gst_rate {
        qb.push(", gst_rate = ").push_bind(rate.percent());
    }
}

fn image_urls_json(urls: &[String]) -> String {
    serde_json::to_string(urls).unwrap_or_else(|_| "[]".into())
}

fn duplicate_sku() -> Error {
    Error::Conflict(
        ErrorCode::AlreadyExists,
        "A product with this SKU already exists".into(),
    )
}

impl Store {
    /// Inserts a product; a taken SKU is a 409.
    pub async fn create_product(&self, new: NewProduct) -> Result<Product> {
        let now = now_millis();
        let product = Product {
            id: new_id(),
            name: new.name,
            description: new.description,
            price: new.price,
            stock: new.stock,
            reserved: 0,
            brand: new.brand,
            category: new.category,
            image_urls: new.image_urls,
            sku: new.sku,
            is_active: new.is_active,
            vendor_id: new.vendor_id,
            rating_sum: 0,
            rating_count: 0,
            created_at: now,
            updated_at: now,
            hsn_code: new.hsn_code,
            gst_rate: new.gst_rate,
        };
        let urls = image_urls_json(&product.image_urls);
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO products (id, name, description, price, stock, reserved, brand, category,
                     image_urls, sku, is_active, vendor_id, rating_sum, rating_count, created_at, updated_at,
                     hsn_code, gst_rate)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $10, $11, 0, 0, $12, $13, $14, $15)",
            )
            .bind(&product.id)
            .bind(&product.name)
            .bind(&product.description)
            .bind(product.price)
            .bind(product.stock)
            .bind(&product.brand)
            .bind(&product.category)
            .bind(&urls)
            .bind(&product.sku)
            .bind(product.is_active)
            .bind(&product.vendor_id)
            .bind(product.created_at)
            .bind(product.updated_at)
            .bind(&product.hsn_code)
            .bind(product.gst_rate)
            .execute(pool)
            .await
            .on_unique_violation(duplicate_sku)?;
        });
        Ok(product)
    }

    /// Any product, active or not; callers decide who may see an inactive one.
    pub async fn product_by_id(&self, id: &str) -> Result<Option<Product>> {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1");
        let row: Option<ProductRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(Product::from))
    }

    /// A page of active products matching the filter, and how many match in all.
    pub async fn list_products(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, i64)> {
        let order = order_clause(filter.sort, filter.descending);
        let (rows, total): (Vec<ProductRow>, i64) = read!(self, |pool| {
            let mut list = QueryBuilder::new(format!("SELECT {PRODUCT_COLUMNS} FROM products"));
            push_filters(&mut list, filter);
            list.push(&order)
                .push(" LIMIT ")
                .push_bind(page.limit)
                .push(" OFFSET ")
                .push_bind(page.offset());
            let rows = list.build_query_as().fetch_all(pool).await?;
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM products");
            push_filters(&mut count, filter);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Product::from).collect(), total))
    }

    /// Applies checked changes in one conditional UPDATE: the product must exist, belong to the
    /// editing vendor, and keep stock at or above what unpaid orders hold. When the statement
    /// matches nothing, the product is read once more only to say which condition failed.
    pub async fn update_product(
        &self,
        id: &str,
        editor: Editor<'_>,
        changes: &ProductChanges,
    ) -> Result<Product> {
        let now = now_millis();
        let row: Option<ProductRow> = write!(self, |pool| {
            let mut qb = QueryBuilder::new("UPDATE products");
            push_changes(&mut qb, changes, now);
            qb.push(" WHERE id = ").push_bind(id.to_string());
            if let Editor::Vendor(vendor) = editor {
                qb.push(" AND vendor_id = ").push_bind(vendor.to_string());
            }
            if let Some(stock) = changes.stock {
                qb.push(" AND reserved <= ").push_bind(stock);
            }
            qb.push(" RETURNING ").push(PRODUCT_COLUMNS);
            qb.build_query_as()
                .fetch_optional(pool)
                .await
                .on_unique_violation(duplicate_sku)?
        });
        match row {
            Some(row) => Ok(row.into()),
            None => Err(self.why_not_editable(id, editor, changes.stock).await),
        }
    }

    /// Deactivates a product (orders keep their copies of it); same permissions as an edit.
    pub async fn deactivate_product(&self, id: &str, editor: Editor<'_>) -> Result<Product> {
        let changes = ProductChanges {
            is_active: Some(false),
            ..ProductChanges::default()
        };
        self.update_product(id, editor, &changes).await
    }

    /// The error for an edit whose conditional UPDATE matched no row.
    async fn why_not_editable(&self, id: &str, editor: Editor<'_>, stock: Option<i64>) -> Error {
        let product = match self.product_by_id(id).await {
            Ok(Some(product)) => product,
            Ok(None) => return Error::not_found("Product"),
            Err(err) => return err,
        };
        if let Editor::Vendor(vendor) = editor {
            if product.vendor_id.as_deref() != Some(vendor) {
                return not_owner();
            }
        }
        match stock {
            Some(stock) if stock < product.reserved => Error::Conflict(
                ErrorCode::Conflict,
                format!(
                    "Stock cannot be set to {stock}: {} units are reserved by unpaid orders",
                    product.reserved
                ),
            ),
            // The product changed between the two statements; the client may simply retry.
            _ => Error::Conflict(
                ErrorCode::Conflict,
                "The product changed while it was being updated; try again".into(),
            ),
        }
    }
}

/// The 403 for a vendor touching a product that is not its own.
pub fn not_owner() -> Error {
    Error::Forbidden("You can only manage your own products".into())
}
