//! What the catalog routes accept: the bodies of create, replace and patch, the list query, and
//! the check of each field (each names its field in the 400 and changes nothing).

use super::extract::{optional_text, sort_descending};
use super::session::AuthUser;
use super::AppState;
use crate::domain::gst::{GstRate, HsnCode};
use crate::domain::ids::parse_id;
use crate::domain::money::{Money, MAX_AMOUNT};
use crate::domain::user::{check_name, Role};
use crate::error::{Error, Result};
use crate::store::products::{
    NewProduct, ProductChanges, ProductFilter, ProductScope, ProductSort,
};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

/// The most units one product may hold in stock.
pub const MAX_STOCK: i64 = 1_000_000;
const MAX_IMAGES: usize = 10;
const MAX_URL_LEN: usize = 2048;

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
    /// Up to 10 http(s) URLs or paths of uploaded pictures (`/uploads/...`).
    pub image_urls: Option<Vec<String>>,
    /// Up to 64 characters, unique.
    pub sku: Option<String>,
    pub is_active: Option<bool>,
    /// Admins only: the vendor who owns the product.
    pub vendor_id: Option<String>,
    /// HSN code: 4, 6 or 8 digits (GST, CONTRACT §10).
    pub hsn_code: Option<String>,
    /// GST rate in percent: 0, 5, 18 (the default) or 40.
    pub gst_rate: Option<i64>,
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
    /// `null` removes the HSN code.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub hsn_code: Option<Option<String>>,
    /// 0, 5, 18 or 40.
    pub gst_rate: Option<i64>,
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
    pub(super) fn checked(&self) -> Result<ProductFilter> {
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
        let order = self.sort_order.as_deref().map(str::to_ascii_lowercase);
        let descending = sort_descending(order.as_deref())?
            .unwrap_or(matches!(sort, ProductSort::CreatedAt | ProductSort::Rating));
        Ok(ProductFilter {
            search: text("search", &self.search)?,
            category: text("category", &self.category)?,
            brand: text("brand", &self.brand)?,
            min_price,
            max_price,
            sort,
            descending,
            scope: ProductScope::Catalog,
        })
    }
}

/// Query of `GET /products/manage`, on top of the catalog's filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ManageQuery {
    /// `all` (default), `active` or `inactive`.
    pub status: Option<String>,
    /// Admins only: one vendor's products.
    pub vendor_id: Option<String>,
}

impl ManageQuery {
    /// The scope for this caller: a vendor sees only its own products whatever it asks.
    pub(super) fn scope(&self, caller: &AuthUser) -> Result<ProductScope> {
        let active = match self.status.as_deref().map(str::trim) {
            None | Some("") | Some("all") => None,
            Some("active") => Some(true),
            Some("inactive") => Some(false),
            Some(other) => {
                return Err(Error::invalid(
                    "status",
                    "must be all, active or inactive",
                    other,
                ))
            }
        };
        let vendor = match (caller.role, self.vendor_id.as_deref().map(str::trim)) {
            (Role::Vendor, None | Some("")) => Some(caller.id.clone()),
            (Role::Vendor, Some(raw)) => {
                if parse_id("vendorId", raw)? != caller.id {
                    return Err(Error::Forbidden(
                        "Vendors see only their own products".into(),
                    ));
                }
                Some(caller.id.clone())
            }
            (_, None | Some("")) => None,
            (_, Some(raw)) => Some(parse_id("vendorId", raw)?),
        };
        Ok(ProductScope::Managed { vendor, active })
    }
}

// ---- field checks: each names its field in the 400 and changes nothing ----

pub(super) fn check_price(price: Money) -> Result<Money> {
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

pub(super) fn check_stock(stock: i64) -> Result<i64> {
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
pub(super) fn check_text(field: &str, value: Option<&str>, max: usize) -> Result<String> {
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

pub(super) fn check_sku(sku: Option<&str>) -> Result<Option<String>> {
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

pub(super) fn check_image_urls(urls: &[String]) -> Result<Vec<String>> {
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
            // A picture uploaded here (`POST /uploads/images`) is named by its path.
            if url
                .strip_prefix("/uploads/")
                .is_some_and(|name| crate::app::pictures::valid_name(name).is_some())
            {
                return Ok(url.to_string());
            }
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
                    format!("each must be an http(s) URL of at most {MAX_URL_LEN} characters or an uploaded picture's /uploads/ path"),
                    raw.as_str(),
                ))
            }
        })
        .collect()
}

/// Who owns a new or edited product. Vendors own what they make and cannot hand it to someone
/// else; an admin may name any vendor account. `None` in the result leaves ownership as it is.
pub(super) async fn check_vendor(
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

fn check_hsn(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => HsnCode::parse(text)
            .map(|code| Some(code.as_str().to_string()))
            .ok_or_else(|| Error::invalid("hsnCode", "must be 4, 6 or 8 digits", text)),
    }
}

fn check_gst_rate(percent: i64) -> Result<GstRate> {
    GstRate::from_percent(percent)
        .ok_or_else(|| Error::invalid("gstRate", "must be 0, 5, 18 or 40", percent))
}

/// Every field of a full body checked. The owner is settled separately by `check_vendor`.
pub(super) fn checked_body(body: &ProductBody) -> Result<NewProduct> {
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
        hsn_code: check_hsn(body.hsn_code.as_deref())?,
        gst_rate: body
            .gst_rate
            .map(check_gst_rate)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A full body as the changes a `PUT` makes: every editable field replaced, optional ones left out
/// reset to empty; `isActive` only when given, so an edit does not undo a deactivation.
pub(super) fn replacement(body: &ProductBody) -> Result<ProductChanges> {
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
        hsn_code: Some(new.hsn_code),
        gst_rate: Some(new.gst_rate),
    })
}

pub(super) fn checked_patch(body: &ProductPatch) -> Result<ProductChanges> {
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
        hsn_code: body
            .hsn_code
            .as_ref()
            .map(|h| check_hsn(h.as_deref()))
            .transpose()?,
        gst_rate: body.gst_rate.map(check_gst_rate).transpose()?,
    })
}
