//! GST invoices and credit notes (CONTRACT §10): issued inside the transaction that confirms an
//! order (`issue_invoices`) or takes it back (`issue_credit_notes`), numbered from a counter row
//! per seller, kind and financial year. The counter is bumped by one upsert in that same
//! transaction: on PostgreSQL it holds the row's lock until the commit, so concurrent
//! confirmations on any number of nodes take consecutive serials one after the other, and a
//! rolled-back confirmation gives its serial back (a sequence would leave a gap).

use super::addresses::ShippingAddress;
use super::orders::{Order, OrderItem};
use super::{read, Store};
use crate::domain::gst::{document_number, DocumentKind, FinancialYear, Seller, StateCode};
use crate::domain::ids::new_id;
use crate::domain::invoice::{
    lines_per_seller, totals, DocumentBody, DocumentLine, Party, SoldLine, SHOP_SELLER,
};
use crate::domain::pricing::TaxSplit;
use crate::error::{Error, Result};
use async_trait::async_trait;

/// An invoice or credit note as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GstDocument {
    pub id: String,
    pub order_id: String,
    pub kind: DocumentKind,
    pub seller_key: String,
    pub fiscal_year: i64,
    pub serial: i64,
    pub number: String,
    pub refers_to: Option<String>,
    /// The vendor that issued it, `None` for the shop.
    pub vendor_id: Option<String>,
    pub issued_at: i64,
    pub body: String,
}

impl GstDocument {
    pub fn document(&self) -> Result<DocumentBody> {
        serde_json::from_str(&self.body).map_err(|e| Error::Internal(e.into()))
    }
}

/// One address on one line, as printed.
fn address_text(address: &ShippingAddress) -> String {
    format!(
        "{}, {}, {} {}, {}",
        address.street, address.city, address.state, address.zip_code, address.country
    )
}

fn document_line(item: &OrderItem) -> Option<DocumentLine> {
    Some(DocumentLine {
        description: item.product_name.clone(),
        hsn_code: item.hsn_code.clone(),
        quantity: item.quantity,
        unit_price: item.price,
        taxable_value: item.taxable_value,
        gst_rate: item.gst_rate?.percent(),
        cgst: item.cgst,
        sgst: item.sgst,
        igst: item.igst,
    })
}

/// The steps that issue documents, called on the `tx` of `transaction!` before the stock moves
/// (counters come after the order and discount rows, before products, in the lock order).
#[async_trait]
pub trait InvoiceSteps {
    /// Issues the order's tax invoices, one per seller, unless it has them already or was priced
    /// in flat mode. `shop` is the shop's registration (`SELLER_*`).
    async fn issue_invoices(&mut self, shop: &Seller, order: &Order, now: i64) -> Result<()>;

    /// Issues a credit note for every invoice of the order that has none yet: the order was
    /// cancelled or returned and its amount refunded or never collected.
    async fn issue_credit_notes(&mut self, order_id: &str, now: i64) -> Result<()>;
}

macro_rules! impl_invoice_steps {
    ($conn:ty) => {
        #[async_trait]
        impl InvoiceSteps for $conn {
            async fn issue_invoices(
                &mut self,
                shop: &Seller,
                order: &Order,
                now: i64,
            ) -> Result<()> {
                let Some(place) = order.place_of_supply else {
                    return Ok(());
                };
                let (issued,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM gst_documents WHERE order_id = $1 AND kind = 'invoice'",
                )
                .bind(&order.id)
                .fetch_one(&mut *self)
                .await?;
                if issued > 0 {
                    return Ok(());
                }
                let items: Vec<OrderItem> =
                    sqlx::query_as("SELECT * FROM order_items WHERE order_id = $1")
                        .bind(&order.id)
                        .fetch_all(&mut *self)
                        .await?;
                let mut sold = Vec::with_capacity(items.len());
                for item in &items {
                    let line = document_line(item).ok_or_else(|| {
                        Error::Internal(anyhow::anyhow!("order line without its GST rate"))
                    })?;
                    let seller = match (&item.seller_state, &item.vendor_id) {
                        (Some(_), Some(vendor)) => vendor.clone(),
                        _ => SHOP_SELLER.to_string(),
                    };
                    sold.push(SoldLine { seller, line });
                }
                let shipping = order.shipping_gst_rate.map(|rate| {
                    (
                        rate,
                        TaxSplit {
                            taxable_value: order.shipping_taxable,
                            cgst: order.shipping_cgst,
                            sgst: order.shipping_sgst,
                            igst: order.shipping_igst,
                        },
                    )
                });
                let address: ShippingAddress = serde_json::from_str(&order.shipping_address)
                    .map_err(|e| Error::Internal(e.into()))?;
                let buyer_name = match &address.name {
                    Some(name) => name.clone(),
                    None => {
                        let (name,): (String,) =
                            sqlx::query_as("SELECT name FROM users WHERE id = $1")
                                .bind(&order.user_id)
                                .fetch_one(&mut *self)
                                .await?;
                        name
                    }
                };
                let buyer = Party {
                    name: buyer_name,
                    address: address_text(&address),
                    state: place.to_string(),
                    gstin: order.buyer_gstin.clone(),
                };
                for (seller_key, lines) in lines_per_seller(sold, shipping) {
                    let (seller, vendor_id) = if seller_key == SHOP_SELLER {
                        (
                            Party {
                                name: shop.name.clone(),
                                address: shop.address.clone(),
                                state: shop.state.to_string(),
                                gstin: Some(shop.gstin.to_string()),
                            },
                            None,
                        )
                    } else {
                        let (name, gstin, state): (String, Option<String>, Option<StateCode>) =
                            sqlx::query_as("SELECT name, gstin, gst_state FROM users WHERE id = $1")
                                .bind(&seller_key)
                                .fetch_one(&mut *self)
                                .await?;
                        let state = state.map(|s| s.to_string()).unwrap_or_default();
                        (
                            Party {
                                name,
                                // Vendors register a GSTIN and state only (CONTRACT §10).
                                address: format!("{state}, India"),
                                state,
                                gstin,
                            },
                            Some(seller_key.clone()),
                        )
                    };
                    let totals = totals(&lines).ok_or_else(|| {
                        Error::Internal(anyhow::anyhow!("invoice total overflowed"))
                    })?;
                    let body = DocumentBody {
                        seller,
                        buyer: buyer.clone(),
                        place_of_supply: place.to_string(),
                        lines,
                        totals,
                    };
                    self.write_document(
                        NewDocument {
                            order_id: &order.id,
                            kind: DocumentKind::Invoice,
                            seller_key: &seller_key,
                            vendor_id: vendor_id.as_deref(),
                            refers_to: None,
                            body: &body,
                        },
                        now,
                    )
                    .await?;
                }
                Ok(())
            }

            async fn issue_credit_notes(&mut self, order_id: &str, now: i64) -> Result<()> {
                let invoices: Vec<GstDocument> = sqlx::query_as(
                    "SELECT * FROM gst_documents i WHERE i.order_id = $1 AND i.kind = 'invoice'
                       AND NOT EXISTS (SELECT 1 FROM gst_documents c WHERE c.refers_to = i.id)
                     ORDER BY i.seller_key",
                )
                .bind(order_id)
                .fetch_all(&mut *self)
                .await?;
                for invoice in invoices {
                    let body = invoice.document()?;
                    self.write_document(
                        NewDocument {
                            order_id,
                            kind: DocumentKind::CreditNote,
                            seller_key: &invoice.seller_key,
                            vendor_id: invoice.vendor_id.as_deref(),
                            refers_to: Some(&invoice.id),
                            body: &body,
                        },
                        now,
                    )
                    .await?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl WriteDocument for $conn {
            async fn write_document(&mut self, new: NewDocument<'_>, now: i64) -> Result<()> {
                let year = FinancialYear::of_millis(now);
                let (serial,): (i64,) = sqlx::query_as(
                    "INSERT INTO gst_counters (seller_key, kind, fiscal_year, last_serial)
                     VALUES ($1, $2, $3, 1)
                     ON CONFLICT (seller_key, kind, fiscal_year)
                     DO UPDATE SET last_serial = gst_counters.last_serial + 1
                     RETURNING last_serial",
                )
                .bind(new.seller_key)
                .bind(new.kind)
                .bind(i64::from(year.0))
                .fetch_one(&mut *self)
                .await?;
                let number = document_number(new.kind, year, serial).ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!(
                        "the {} serials of {} for {} are used up",
                        new.kind,
                        new.seller_key,
                        year.label()
                    ))
                })?;
                let body = serde_json::to_string(new.body).map_err(|e| Error::Internal(e.into()))?;
                sqlx::query(
                    "INSERT INTO gst_documents (id, order_id, kind, seller_key, fiscal_year, serial,
                         number, refers_to, vendor_id, issued_at, body)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(new_id())
                .bind(new.order_id)
                .bind(new.kind)
                .bind(new.seller_key)
                .bind(i64::from(year.0))
                .bind(serial)
                .bind(&number)
                .bind(new.refers_to)
                .bind(new.vendor_id)
                .bind(now)
                .bind(body)
                .execute(&mut *self)
                .await?;
                Ok(())
            }
        }
    };
}

impl_invoice_steps!(sqlx::SqliteConnection);
impl_invoice_steps!(sqlx::PgConnection);

struct NewDocument<'a> {
    order_id: &'a str,
    kind: DocumentKind,
    seller_key: &'a str,
    vendor_id: Option<&'a str>,
    refers_to: Option<&'a str>,
    body: &'a DocumentBody,
}

/// Writes one document under the seller's next serial (one upsert of its counter row, locked
/// until the commit).
#[async_trait]
trait WriteDocument {
    async fn write_document(&mut self, new: NewDocument<'_>, now: i64) -> Result<()>;
}

impl Store {
    /// The documents of an order, invoices first, each kind by seller.
    pub async fn order_documents(&self, order_id: &str) -> Result<Vec<GstDocument>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
            "SELECT * FROM gst_documents WHERE order_id = $1 ORDER BY kind DESC, seller_key, issued_at"
        )
        .bind(order_id)
        .fetch_all(pool)
        .await?
        }))
    }

    pub async fn document_by_id(&self, id: &str) -> Result<Option<GstDocument>> {
        Ok(read!(self, |pool| sqlx::query_as(
            "SELECT * FROM gst_documents WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?))
    }

    /// Every document issued in `from..to` (milliseconds), in the order they were numbered.
    pub async fn documents_between(&self, from: i64, to: i64) -> Result<Vec<GstDocument>> {
        Ok(read!(self, |pool| sqlx::query_as(
            "SELECT * FROM gst_documents WHERE issued_at >= $1 AND issued_at < $2
             ORDER BY issued_at, kind DESC, seller_key, serial"
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?))
    }
}
