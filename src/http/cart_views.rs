//! How the cart looks on the wire (api-reference.md "Cart Endpoints"): the cart with its lines and
//! populated products, and the summary without the lines.

use crate::domain::money::Money;
use crate::domain::time::to_rfc3339;
use crate::store::addresses::ShippingAddress;
use crate::store::cart::{CartLine, PricedCart};
use serde::Serialize;
use utoipa::ToSchema;

/// The product inside a cart line, as api-reference.md populates it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartProductView {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// The current price.
    pub price: Money,
    pub image_urls: Vec<String>,
    pub brand: String,
    pub category: String,
    pub stock: i64,
    /// Stock minus what unpaid orders hold: the most this line may hold.
    pub available_stock: i64,
    pub is_active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartItemView {
    /// The product, populated.
    pub product_id: CartProductView,
    /// 1 to 100.
    pub quantity: i64,
    /// The product's current unit price.
    pub price: Money,
    /// `price x quantity`.
    pub total_price: Money,
    pub added_at: String,
}

impl From<&CartLine> for CartItemView {
    fn from(line: &CartLine) -> Self {
        let p = &line.product;
        CartItemView {
            product_id: CartProductView {
                id: p.id.clone(),
                name: p.name.clone(),
                price: p.price,
                image_urls: p.image_urls.clone(),
                brand: p.brand.clone(),
                category: p.category.clone(),
                stock: p.stock,
                available_stock: p.available_stock(),
                is_active: p.is_active,
            },
            quantity: line.quantity,
            price: p.price,
            total_price: line.line_total(),
            added_at: to_rfc3339(line.added_at),
        }
    }
}

/// The cart as api-reference.md shows it, plus `shippingCharges`, `estimatedTax` and
/// `estimatedTotal` (CONTRACT §5).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub items: Vec<CartItemView>,
    /// Units over all lines.
    pub total_items: i64,
    /// The subtotal: the sum of the lines at current prices.
    pub total_amount: Money,
    /// What the discount code takes off (0 without one).
    pub discount: Money,
    pub discount_code: Option<String>,
    pub shipping_address: Option<ShippingAddress>,
    /// `totalAmount - discount`.
    pub final_amount: Money,
    /// The flat shipping fee, or 0 at or above the free-shipping threshold.
    pub shipping_charges: Money,
    /// Tax on `totalAmount - discount`, rounded half-up to the paisa; with `TAX_MODE=gst`, the GST
    /// of the lines and the shipping at the cart's address (the shop's own state without one).
    pub estimated_tax: Money,
    /// `totalAmount - discount + shippingCharges + estimatedTax` (without `estimatedTax` when GST
    /// is included in the prices): what checkout will charge.
    pub estimated_total: Money,
    /// Always `true`: a user has one cart, and it is the active one.
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// What this read changed because it no longer applied (a line whose product was withdrawn,
    /// a discount code removed, with the reason), in words; empty on a routine read. `message`
    /// ends with the same words, so a client need not pick them out of it.
    pub notices: Vec<String>,
}

impl From<&PricedCart> for CartView {
    fn from(priced: &PricedCart) -> Self {
        let t = &priced.totals;
        CartView {
            id: priced.cart.id.clone(),
            user_id: priced.cart.user_id.clone(),
            items: priced.lines.iter().map(CartItemView::from).collect(),
            total_items: t.total_items,
            total_amount: t.subtotal,
            discount: t.discount,
            discount_code: priced.cart.discount_code.clone(),
            shipping_address: priced.cart.shipping_address.clone(),
            final_amount: t.discounted_subtotal,
            shipping_charges: t.shipping,
            estimated_tax: t.tax,
            estimated_total: t.total,
            is_active: true,
            created_at: to_rfc3339(priced.cart.created_at),
            updated_at: to_rfc3339(priced.cart.updated_at),
            notices: priced.notices.clone(),
        }
    }
}

/// `GET /cart/summary`: the amounts without the lines.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartSummaryView {
    pub total_items: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub discount_code: Option<String>,
    /// `subtotal - discount`.
    pub final_amount: Money,
    pub has_items: bool,
    pub shipping_address: Option<ShippingAddress>,
    pub shipping_charges: Money,
    pub estimated_tax: Money,
    pub estimated_total: Money,
}

impl From<&PricedCart> for CartSummaryView {
    fn from(priced: &PricedCart) -> Self {
        let t = &priced.totals;
        CartSummaryView {
            total_items: t.total_items,
            subtotal: t.subtotal,
            discount: t.discount,
            discount_code: priced.cart.discount_code.clone(),
            final_amount: t.discounted_subtotal,
            has_items: !priced.lines.is_empty(),
            shipping_address: priced.cart.shipping_address.clone(),
            shipping_charges: t.shipping,
            estimated_tax: t.tax,
            estimated_total: t.total,
        }
    }
}
