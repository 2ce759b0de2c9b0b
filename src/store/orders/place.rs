//! Checkout: the cart frozen into an order, its stock reserved (or sold, for cash on delivery
//! and zero totals), in one transaction.

use super::*;
use crate::store::addresses::ShippingAddress;
use crate::store::emails::EmailSteps;
use crate::store::invoices::InvoiceSteps;

/// Freezes the cart into what the order will hold, checking it can be ordered: not empty, every
/// product for sale and in stock, an address. Shared by the pre-check and the in-transaction
/// re-check so both apply the same rules.
fn draft_from(
    cart: &Cart,
    lines: &[CartLine],
    discount: Money,
    address_override: Option<&str>,
    settings: &PricingSettings,
) -> Result<CheckoutDraft> {
    if lines.is_empty() {
        return Err(cart_empty());
    }
    let mut draft_lines = Vec::with_capacity(lines.len());
    for line in lines {
        let product = &line.product;
        if !product.is_active {
            return Err(Error::Conflict(
                ErrorCode::ProductUnavailable,
                format!(
                    "{} is no longer available; remove it from your cart",
                    product.name
                ),
            ));
        }
        if line.quantity > product.available_stock() {
            return Err(insufficient_stock(&product.name, product.available_stock()));
        }
        draft_lines.push(DraftLine {
            product_id: product.id.clone(),
            vendor_id: product.vendor_id.clone(),
            name: product.name.clone(),
            image: product.main_image().map(str::to_string),
            price: product.price,
            quantity: line.quantity,
            total: line.line_total(),
            hsn_code: product.hsn_code.clone(),
            seller_state: line.seller_state,
            tax: None,
        });
    }
    let shipping_address = match (address_override, &cart.shipping_address) {
        (Some(address), _) => address.to_string(),
        (None, Some(address)) => {
            serde_json::to_string(address).map_err(|e| Error::Internal(e.into()))?
        }
        (None, None) => {
            return Err(Error::invalid(
                "addressId",
                "A shipping address is required: set one on the cart or pass addressId",
                serde_json::Value::Null,
            ))
        }
    };
    // GST is charged by where the goods go: an address whose state is not an Indian state or
    // union territory cannot be invoiced (saved before GST mode was turned on, say).
    let place_of_supply = match settings.gst {
        None => None,
        Some(_) => {
            let address: ShippingAddress =
                serde_json::from_str(&shipping_address).map_err(|e| Error::Internal(e.into()))?;
            Some(address.place_of_supply().ok_or_else(|| {
                Error::invalid(
                    "state",
                    "The shipping address's state is not an Indian state or union territory (a name or its GST code); edit the address",
                    address.state.as_str(),
                )
            })?)
        }
    };
    let priced: Vec<Line> = lines.iter().map(CartLine::pricing_line).collect();
    let detailed = price_detailed(&priced, discount, settings, place_of_supply)
        .ok_or_else(|| Error::bad_request("Order amount is too large"))?;
    for (draft_line, tax) in draft_lines.iter_mut().zip(&detailed.lines) {
        draft_line.tax = Some(*tax);
    }
    // Products in id order, so concurrent checkouts take product rows in one order (no deadlock).
    draft_lines.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    Ok(CheckoutDraft {
        cart_id: cart.id.clone(),
        lines: draft_lines,
        totals: detailed.totals,
        discount_code: cart.discount_code.clone(),
        shipping_address,
        place_of_supply,
        shipping_tax: detailed.shipping,
    })
}

/// Values bound per order line by the insert of `order_items`.
const ORDER_ITEM_BINDS: usize = 16;

/// The 400 of a checkout with nothing in the cart.
fn cart_empty() -> Error {
    Error::Validation {
        code: ErrorCode::CartEmpty,
        message: "Your cart is empty".into(),
        errors: Vec::new(),
    }
}

fn insufficient_stock(name: &str, available: i64) -> Error {
    Error::Conflict(
        ErrorCode::InsufficientStock,
        format!(
            "Insufficient stock for {name}: only {} left",
            available.max(0)
        ),
    )
}

impl Store {
    /// Prices the caller's cart for checkout (as `GET /cart` shows it) and checks it can be
    /// ordered. When the read had to change the cart (a product gone, a code that stopped
    /// applying) the customer has not seen the new total yet: that is a 409 saying what changed.
    pub async fn draft_checkout(
        &self,
        user_id: &str,
        address_override: Option<&str>,
        settings: &PricingSettings,
    ) -> Result<CheckoutDraft> {
        let priced = self.priced_cart(user_id, settings).await?;
        if !priced.notices.is_empty() {
            return Err(Error::Conflict(
                ErrorCode::CartChanged,
                format!(
                    "{} Review your cart and place the order again.",
                    priced.notices.join(" ")
                ),
            ));
        }
        draft_from(
            &priced.cart,
            &priced.lines,
            priced.totals.discount,
            address_override,
            settings,
        )
    }

    /// Places the order in one transaction: re-reads the cart (locked on PostgreSQL) and refuses if
    /// it changed since `draft`, takes a use of the discount code within its limits, reserves every
    /// line's stock with a conditional update (or, for cash on delivery, takes it), writes the
    /// order, its lines, history and ledger, and empties the cart. Any failure rolls all of it back.
    pub async fn place_order(
        &self,
        draft: &CheckoutDraft,
        place: PlaceOrder<'_>,
        address_override: Option<&str>,
        settings: &PricingSettings,
    ) -> Result<Placed> {
        let now = now_millis();
        // Cash on delivery and zero totals are confirmed (and their stock sold) at once.
        let cod = !matches!(place.settlement, Settlement::Gateway { .. });
        let (gateway_order_id, payment_expires_at) = match place.settlement {
            Settlement::Gateway {
                gateway_order_id,
                expires_at,
            } => (Some(gateway_order_id), Some(expires_at)),
            _ => (None, None),
        };
        let paid_now = place.settlement == Settlement::NothingToPay;
        // Confirmed at once is the move pending -> confirmed made by the server at checkout, and
        // selling at once the stock step reserved -> committed: both checked like any other.
        let confirm_now = if cod {
            Some(StatusMove::checked(
                OrderStatus::Pending,
                OrderStatus::Confirmed,
                Actor::System,
            )?)
        } else {
            None
        };
        let status = confirm_now.map_or(OrderStatus::Pending, StatusMove::to);
        let stock_state = if cod {
            StockStep::checked(StockState::Reserved, StockState::Committed)?.to()
        } else {
            StockState::Reserved
        };
        let placed: Result<PlacedOrder> = (async { Ok(transaction!(self, |tx| {
            let (cart, lines) = tx
                .lock_cart(place.user_id)
                .await?
                .ok_or_else(cart_empty)?;
            let subtotal = lines
                .iter()
                .try_fold(Money::ZERO, |sum, line| sum.checked_add(line.line_total()))
                .ok_or_else(|| Error::bad_request("Order amount is too large"))?;
            let discount = match &cart.discount_code {
                Some(code) => {
                    let amount = tx
                        .reserve_discount_use(place.order_id, code, place.user_id, subtotal, now)
                        .await?;
                    if cod {
                        // Cash on delivery is confirmed at once, so its use is final at once.
                        tx.finalize_discount_use(place.order_id, now).await?;
                    }
                    amount
                }
                None => Money::ZERO,
            };
            let fresh = draft_from(&cart, &lines, discount, address_override, settings)?;
            if &fresh != draft {
                return Err(Error::Conflict(ErrorCode::CartChanged,
                    "Your cart changed during checkout; review it and place the order again".into(),
                ));
            }

            let totals = &draft.totals;
            let shipping_split = draft.shipping_tax.map(|tax| tax.split).unwrap_or_default();
            let inserted = sqlx::query_as::<_, Order>(
                "INSERT INTO orders (id, order_number, user_id, status, total_items, subtotal, discount, discount_code,
                    shipping_charges, tax, total_amount, currency, shipping_address, notes, payment_method,
                    payment_status, gateway_order_id, stock_state, payment_expires_at, confirmed_at,
                    paid_at, created_at, updated_at, buyer_gstin, place_of_supply, shipping_gst_rate,
                    shipping_taxable, shipping_cgst, shipping_sgst, shipping_igst)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $21, $16, $17, $18, $19,
                         $22, $20, $20, $23, $24, $25, $26, $27, $28, $29)
                 RETURNING *",
            )
            .bind(place.order_id)
            .bind(place.order_number)
            .bind(place.user_id)
            .bind(status)
            .bind(totals.total_items)
            .bind(totals.subtotal)
            .bind(totals.discount)
            .bind(&draft.discount_code)
            .bind(totals.shipping)
            .bind(totals.tax)
            .bind(totals.total)
            .bind(place.currency)
            .bind(&draft.shipping_address)
            .bind(place.notes)
            .bind(place.payment_method)
            .bind(gateway_order_id)
            .bind(stock_state)
            .bind(payment_expires_at)
            .bind(if cod { Some(now) } else { None })
            .bind(now)
            .bind(if paid_now {
                PaymentStatus::Completed
            } else {
                PaymentStatus::Pending
            })
            .bind(if paid_now { Some(now) } else { None })
            .bind(place.buyer_gstin.map(|gstin| gstin.as_str()))
            .bind(draft.place_of_supply)
            .bind(draft.shipping_tax.map(|tax| tax.gst_rate))
            .bind(shipping_split.taxable_value)
            .bind(shipping_split.cgst)
            .bind(shipping_split.sgst)
            .bind(shipping_split.igst)
            .fetch_one(&mut *tx)
            .await;
            let order = match inserted {
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    // Rolls back the reservations above; the caller tries another number.
                    return Err(Error::Conflict(ErrorCode::Conflict, ORDER_NUMBER_TAKEN.into()));
                }
                other => other?,
            };

            // Every line in one statement (a round trip per line is what a busy database feels),
            // up to `MAX_LIST_BINDS` values per statement: a statement binding more than the
            // database's limit would fail the whole checkout.
            let mut items: Vec<OrderItem> = Vec::with_capacity(draft.lines.len());
            for lines in draft.lines.chunks(MAX_LIST_BINDS / ORDER_ITEM_BINDS) {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO order_items (order_id, product_id, vendor_id, product_name, product_image, price, quantity, total_price,
                        hsn_code, gst_rate, seller_state, discount_share, taxable_value, cgst, sgst, igst) ",
                );
                insert.push_values(lines, |mut row, line| {
                    row.push_bind(place.order_id)
                        .push_bind(&line.product_id)
                        .push_bind(&line.vendor_id)
                        .push_bind(&line.name)
                        .push_bind(&line.image)
                        .push_bind(line.price)
                        .push_bind(line.quantity)
                        .push_bind(line.total);
                    let split = line.tax.map(|tax| tax.split).unwrap_or_default();
                    row.push_bind(&line.hsn_code)
                        .push_bind(line.tax.map(|tax| tax.gst_rate))
                        .push_bind(line.seller_state)
                        .push_bind(line.tax.map_or(Money::ZERO, |tax| tax.discount))
                        .push_bind(split.taxable_value)
                        .push_bind(split.cgst)
                        .push_bind(split.sgst)
                        .push_bind(split.igst);
                });
                insert.push(" RETURNING *");
                let written: Vec<OrderItem> =
                    insert.build_query_as().fetch_all(&mut *tx).await?;
                items.extend(written);
            }
            sort_items(&mut items);

            tx.record_history(
                place.order_id,
                OrderStatus::Pending,
                OrderStatus::Pending.description(),
                Some(place.user_id),
                now,
            )
            .await?;
            if let (Some(_), Some(shop)) = (confirm_now, &self.gst) {
                tx.issue_invoices(shop, &order, now).await?;
            }
            if let Some(confirm) = confirm_now {
                let (history, by) = if paid_now {
                    ("Order confirmed: nothing to pay", ConfirmedBy::NothingToPay)
                } else {
                    ("Order confirmed: cash on delivery", ConfirmedBy::CashOnDelivery)
                };
                tx.record_history(place.order_id, confirm.to(), history, None, now)
                    .await?;
                tx.notify(&self.mail, &order, Some(&items), OrderEvent::Confirmed(by), now)
                    .await?;
            }
            if confirm_now.is_none() {
                // Placed, to be paid online: the customer is emailed a link to pay.
                tx.queue_order_emails(&self.mail, &order, Some(&items), OrderMail::AwaitingPayment, now)
                    .await?;
            }
            let mut ledger = Vec::new();
            if let Some(gateway_order_id) = gateway_order_id {
                let entry = tx.record_ledger(
                    LedgerRow {
                        order_id: place.order_id,
                        kind: LedgerKind::GatewayOrder,
                        gateway_ref: gateway_order_id,
                        amount: totals.total,
                        status: LedgerStatus::Created,
                        detail: None,
                    },
                    now,
                )
                .await?;
                ledger.push(entry);
            }

            tx.empty_cart(&draft.cart_id, now).await?;

            // Stock last: on PostgreSQL the product rows stay locked from here to the commit, and
            // hot products are what every checkout shares, so they are held as briefly as can be.
            let stock_lines: Vec<StockLine> = draft
                .lines
                .iter()
                .map(|line| StockLine {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                })
                .collect();
            let kind = if cod {
                StockMove::Sell
            } else {
                StockMove::Reserve
            };
            if let Some(short) = tx.move_stock(&stock_lines, kind, now).await? {
                let (available,): (i64,) =
                    sqlx::query_as("SELECT stock - reserved FROM products WHERE id = $1")
                        .bind(&short)
                        .fetch_one(&mut *tx)
                        .await?;
                let name = draft
                    .lines
                    .iter()
                    .find(|line| line.product_id == short)
                    .map_or("a product", |line| line.name.as_str());
                return Err(insufficient_stock(name, available));
            }
            PlacedOrder {
                order,
                items,
                ledger,
            }
        })) })
        .await;
        match placed {
            Ok(placed) => Ok(Placed::Order(Box::new(placed))),
            Err(Error::Conflict(_, reason)) if reason == ORDER_NUMBER_TAKEN => {
                Ok(Placed::NumberTaken)
            }
            Err(other) => Err(other),
        }
    }
}
