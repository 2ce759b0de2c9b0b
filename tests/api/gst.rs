//! Indian GST (CONTRACT §10, `TAX_MODE=gst`): orders priced per line and state, checked against
//! figures worked by hand; invoices per seller and credit notes; GSTIN and state validation; the
//! GSTR-1 export. `TAX_MODE=flat` keeps every other test's figures.

use crate::helpers::{Db, TestApp};
use serde_json::{json, Value};

/// The shop: Maharashtra (27), a GSTIN whose check character is right.
const SHOP_GSTIN: &str = "27AAPFU0939F1ZV";
/// A registered buyer and a vendor in Karnataka (29).
const KARNATAKA_GSTIN: &str = "29AAGCB7383J1Z4";
/// The same with its check character changed.
const BAD_GSTIN: &str = "29AAGCB7383J1Z5";

macro_rules! gst_tests {
    ($($name:ident: $inclusive:literal),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = super::gst_app($crate::helpers::Db::Sqlite, $inclusive).await;
                    super::$name(app).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = super::gst_app($crate::helpers::Db::Postgres, $inclusive).await;
                    super::$name(app).await;
                }
            }
        )*
    };
}

gst_tests!(
    an_intra_state_order_charges_cgst_and_sgst_per_line_as_worked_by_hand: "false",
    an_inter_state_order_charges_igst_per_line_as_worked_by_hand: "false",
    inclusive_prices_take_the_tax_out_of_what_the_customer_pays: "true",
    a_multi_vendor_order_gets_one_invoice_per_seller_in_its_own_state: "false",
    cancelling_and_returning_issue_credit_notes_referring_to_the_invoices: "false",
    a_wrong_gstin_or_an_unknown_state_is_a_400_that_changes_nothing: "false",
    invoices_are_for_the_owner_admins_and_the_vendor_for_its_own: "false",
    the_gstr1_export_adds_up_to_invoices_minus_credit_notes_per_rate: "false",
    the_invoice_pdf_read_back_as_text_holds_every_rule_46_field: "false",
);

crate::api_tests!(flat_mode_keeps_the_single_rate_and_shows_no_breakdown);

async fn gst_app(db: Db, inclusive: &str) -> TestApp {
    TestApp::spawn_with(
        db,
        &[
            ("TAX_MODE", "gst"),
            ("SELLER_NAME", "Cartwright Retail Pvt Ltd"),
            ("SELLER_ADDRESS", "12 Marine Drive, Mumbai 400002"),
            ("SELLER_GSTIN", SHOP_GSTIN),
            ("SELLER_STATE", "27"),
            ("PRICES_INCLUDE_TAX", inclusive),
            ("SHIPPING_FEE", "50"),
        ],
    )
    .await
    .expect("the test app starts")
}

/// The four lines of `domain::pricing`'s worked example: 1000.00 at 18 %, 2 x 250.00 at 5 %,
/// 99.99 at 0 %, 3 x 333.33 at 40 %, with a fixed 100.00 off; in the cart of a new customer
/// shipping to `state`. Returns the customer's token.
async fn mixed_cart(app: &TestApp, state: &str) -> String {
    let products = [
        ("Kettle", 1000.0, 18, "85161000", 1),
        ("Rice", 250.0, 5, "1006", 2),
        ("Books", 99.99, 0, "4901", 1),
        ("Cola", 333.33, 40, "220210", 3),
    ];
    let (_, token) = app.customer("Asha Rao").await;
    for (name, price, rate, hsn, quantity) in products {
        let id = app
            .product_with(
                json!({"name": name, "price": price, "stock": 50, "gstRate": rate, "hsnCode": hsn}),
            )
            .await;
        app.add_to_cart(&token, &id, quantity).await;
    }
    let code = format!("FLAT{}", crate::helpers::unique().to_uppercase());
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect();
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": code, "type": "fixed", "value": 100, "minOrderAmount": 0, "isActive": true}),
    )
    .await
    .expect(201);
    app.post(
        "/cart/discount",
        Some(&token),
        json!({"discountCode": code}),
    )
    .await
    .expect(200);
    app.put(
        "/cart/shipping-address",
        Some(&token),
        json!({"name": "Asha Rao", "street": "4 Hill Road", "city": "City", "state": state,
               "zipCode": "400050", "phone": "+919800000000"}),
    )
    .await
    .expect(200);
    token
}

fn money(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not an amount"))
}

/// `taxBreakdown` as `(rate, taxable, cgst, sgst, igst)` rows.
fn breakdown(order: &Value) -> Vec<(i64, f64, f64, f64, f64)> {
    order["taxBreakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["gstRate"].as_i64().unwrap(),
                money(&row["taxableValue"]),
                money(&row["cgst"]),
                money(&row["sgst"]),
                money(&row["igst"]),
            )
        })
        .collect()
}

async fn place(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/orders", Some(token), body)
        .await
        .expect(201)
        .data()["order"]
        .clone()
}

async fn invoices(app: &TestApp, token: &str, order_id: &str) -> Vec<Value> {
    app.get(&format!("/orders/{order_id}/invoices"), Some(token))
        .await
        .expect(200)
        .data()
        .as_array()
        .unwrap()
        .clone()
}

async fn an_intra_state_order_charges_cgst_and_sgst_per_line_as_worked_by_hand(app: TestApp) {
    let token = mixed_cart(&app, "Maharashtra").await;
    // The cart already shows the order's figures.
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(money(&cart.data()["estimatedTax"]), 601.74, "{}", cart.body);
    assert_eq!(money(&cart.data()["estimatedTotal"]), 3151.72);

    let order = place(&app, &token, json!({"paymentMethod": "cod"})).await;
    // Discount 100.00 shared 38.46 / 19.23 / 3.85 / 38.46: taxable 961.54, 480.77, 96.14,
    // 961.53; 961.54 x 9 % = 86.54 each; 480.77 x 2.5 % = 12.02; 961.53 x 20 % = 192.31;
    // shipping 50.00 at the highest rate (40 %): 10.00 + 10.00.
    assert_eq!(
        breakdown(&order),
        vec![
            (0, 96.14, 0.0, 0.0, 0.0),
            (5, 480.77, 12.02, 12.02, 0.0),
            (18, 961.54, 86.54, 86.54, 0.0),
            (40, 1011.53, 202.31, 202.31, 0.0),
        ]
    );
    assert_eq!(money(&order["subtotal"]), 2599.98);
    assert_eq!(money(&order["discount"]), 100.0);
    assert_eq!(money(&order["shippingCharges"]), 50.0);
    assert_eq!(money(&order["tax"]), 601.74);
    assert_eq!(money(&order["totalAmount"]), 3151.72);
    assert_eq!(order["placeOfSupply"], "27-Maharashtra");
    let kettle = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["productName"] == "Kettle")
        .unwrap();
    assert_eq!(kettle["hsnCode"], "85161000");
    assert_eq!(kettle["gstRate"], 18);
    assert_eq!(money(&kettle["cgst"]), 86.54);

    // Cash on delivery is confirmed at once: one invoice, the shop's first of the year.
    let order_id = order["_id"].as_str().unwrap();
    let docs = invoices(&app, &token, order_id).await;
    assert_eq!(docs.len(), 1);
    let invoice = &docs[0];
    assert_eq!(invoice["kind"], "invoice");
    let number = invoice["number"].as_str().unwrap();
    assert!(
        number.starts_with("INV/") && number.ends_with("/000001"),
        "{number}"
    );
    assert!(number.len() <= 16);
    assert_eq!(invoice["seller"]["gstin"], SHOP_GSTIN);
    assert_eq!(invoice["buyer"]["name"], "Asha Rao");
    assert_eq!(invoice["placeOfSupply"], "27-Maharashtra");
    assert_eq!(
        invoice["lines"].as_array().unwrap().len(),
        5,
        "four goods and shipping"
    );
    assert_eq!(money(&invoice["totals"]["cgst"]), 300.87);
    assert_eq!(money(&invoice["totals"]["total"]), 3151.72);
}

async fn an_inter_state_order_charges_igst_per_line_as_worked_by_hand(app: TestApp) {
    let token = mixed_cart(&app, "KA").await;
    let order = place(
        &app,
        &token,
        json!({"paymentMethod": "cod", "gstin": KARNATAKA_GSTIN}),
    )
    .await;
    // 961.54 x 18 % = 173.08; 480.77 x 5 % = 24.04; 961.53 x 40 % = 384.61; shipping 20.00.
    assert_eq!(
        breakdown(&order),
        vec![
            (0, 96.14, 0.0, 0.0, 0.0),
            (5, 480.77, 0.0, 0.0, 24.04),
            (18, 961.54, 0.0, 0.0, 173.08),
            (40, 1011.53, 0.0, 0.0, 404.61),
        ]
    );
    assert_eq!(money(&order["tax"]), 601.73);
    assert_eq!(money(&order["totalAmount"]), 3151.71);
    assert_eq!(order["placeOfSupply"], "29-Karnataka");
    assert_eq!(order["buyerGstin"], KARNATAKA_GSTIN);
    let docs = invoices(&app, &token, order["_id"].as_str().unwrap()).await;
    assert_eq!(docs[0]["buyer"]["gstin"], KARNATAKA_GSTIN);
}

async fn inclusive_prices_take_the_tax_out_of_what_the_customer_pays(app: TestApp) {
    let token = mixed_cart(&app, "27").await;
    // The Razorpay order is made for the same amount as the order.
    let created = app
        .post(
            "/orders",
            Some(&token),
            json!({"paymentMethod": "razorpay"}),
        )
        .await
        .expect(201);
    let order = &created.data()["order"];
    // 961.54 x 9/118 = 73.34 each (taxable 814.86); 480.77 x 2.5/105 = 11.45 (457.87);
    // 961.53 x 20/140 = 137.36 (686.81); shipping 50.00 x 20/140 = 7.14 (35.72).
    assert_eq!(
        breakdown(order),
        vec![
            (0, 96.14, 0.0, 0.0, 0.0),
            (5, 457.87, 11.45, 11.45, 0.0),
            (18, 814.86, 73.34, 73.34, 0.0),
            (40, 722.53, 144.50, 144.50, 0.0),
        ]
    );
    assert_eq!(money(&order["tax"]), 458.58);
    assert_eq!(money(&order["totalAmount"]), 2549.98);
    assert_eq!(created.data()["razorpayOrder"]["amount"], 254_998);
}

async fn a_multi_vendor_order_gets_one_invoice_per_seller_in_its_own_state(app: TestApp) {
    let (vendor_id, vendor_token) = app.user_with_role("Bengaluru Teas", "vendor").await;
    app.patch(
        &format!("/admin/users/{vendor_id}"),
        Some(&app.admin_token),
        json!({"gstin": KARNATAKA_GSTIN, "state": "Karnataka"}),
    )
    .await
    .expect(200);
    let tea = app
        .product_by(
            &vendor_token,
            json!({"name": "Tea", "price": 100, "stock": 10, "gstRate": 5, "hsnCode": "0902"}),
        )
        .await;
    let mug = app
        .product_with(
            json!({"name": "Mug", "price": 100, "stock": 10, "gstRate": 18, "hsnCode": "6912"}),
        )
        .await;
    let (_, token) = app.customer("Ravi").await;
    app.add_to_cart(&token, &tea, 1).await;
    app.add_to_cart(&token, &mug, 1).await;
    app.put(
        "/cart/shipping-address",
        Some(&token),
        json!({"street": "1 MG Road", "city": "Bengaluru", "state": "Karnataka", "zipCode": "560001", "phone": "+919800000001"}),
    )
    .await
    .expect(200);
    let order = place(&app, &token, json!({"paymentMethod": "cod"})).await;
    // Tea: sold in Karnataka by a Karnataka vendor, 2.50 + 2.50. Mug: from the Maharashtra shop,
    // 18.00 IGST. Shipping 50.00 at 18 % from the shop: 9.00 IGST.
    assert_eq!(
        breakdown(&order),
        vec![(5, 100.0, 2.5, 2.5, 0.0), (18, 150.0, 0.0, 0.0, 27.0)]
    );
    assert_eq!(money(&order["totalAmount"]), 282.0);
    let order_id = order["_id"].as_str().unwrap();
    let docs = invoices(&app, &token, order_id).await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    let shop = docs
        .iter()
        .find(|d| d["seller"]["gstin"] == SHOP_GSTIN)
        .unwrap();
    let vendor = docs
        .iter()
        .find(|d| d["seller"]["gstin"] == KARNATAKA_GSTIN)
        .unwrap();
    assert!(shop["number"].as_str().unwrap().ends_with("/000001"));
    // Each seller counts its own serials.
    assert!(vendor["number"].as_str().unwrap().ends_with("/000001"));
    assert_eq!(vendor["seller"]["name"], "Bengaluru Teas");
    assert_eq!(money(&vendor["totals"]["total"]), 105.0);
    assert_eq!(money(&shop["totals"]["total"]), 177.0);
    // The vendor sees its own invoice only.
    let own = invoices(&app, &vendor_token, order_id).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["_id"], vendor["_id"]);
}

async fn cancelling_and_returning_issue_credit_notes_referring_to_the_invoices(app: TestApp) {
    let product = app
        .product_with(
            json!({"name": "Lamp", "price": 200, "stock": 10, "gstRate": 18, "hsnCode": "9405"}),
        )
        .await;
    let (_, token) = app.customer("Meera").await;
    let first = app.cod_order(&token, &product, 1).await;
    app.patch(
        &format!("/orders/{first}/cancel"),
        Some(&token),
        json!({"reason": "changed my mind"}),
    )
    .await
    .expect(200);
    let docs = invoices(&app, &token, &first).await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    let invoice = docs.iter().find(|d| d["kind"] == "invoice").unwrap();
    let note = docs.iter().find(|d| d["kind"] == "credit_note").unwrap();
    assert!(note["number"].as_str().unwrap().starts_with("CN/"));
    assert!(note["number"].as_str().unwrap().ends_with("/000001"));
    assert_eq!(note["refersTo"], invoice["number"]);
    assert_eq!(note["totals"], invoice["totals"]);

    // A return completed after delivery is taken back by the next credit note.
    let second = app.delivered_order(&token, &product).await;
    app.post(
        &format!("/orders/{second}/return"),
        Some(&token),
        json!({"reason": "it flickers"}),
    )
    .await
    .expect(200);
    for action in ["approve", "complete"] {
        app.patch(
            &format!("/orders/admin/{second}/return"),
            Some(&app.admin_token),
            json!({"action": action}),
        )
        .await
        .expect(200);
    }
    let docs = invoices(&app, &token, &second).await;
    let note = docs.iter().find(|d| d["kind"] == "credit_note").unwrap();
    assert!(note["number"].as_str().unwrap().ends_with("/000002"));
    assert!(invoice["number"].as_str().unwrap().ends_with("/000001"));
    let second_invoice = docs.iter().find(|d| d["kind"] == "invoice").unwrap();
    assert!(second_invoice["number"]
        .as_str()
        .unwrap()
        .ends_with("/000002"));
}

async fn a_wrong_gstin_or_an_unknown_state_is_a_400_that_changes_nothing(app: TestApp) {
    let product = app.product("Pen", 10.0, 5).await;
    let (_, token) = app.customer("Kiran").await;
    app.add_to_cart(&token, &product, 1).await;
    let bad_state = app
        .put(
            "/cart/shipping-address",
            Some(&token),
            json!({"street": "1 Main", "city": "X", "state": "Atlantis", "zipCode": "400001", "phone": "+919800000002"}),
        )
        .await
        .expect(400);
    assert_eq!(
        bad_state.body["errors"][0]["field"], "state",
        "{}",
        bad_state.body
    );
    app.post(
        "/addresses",
        Some(&token),
        json!({"street": "1 Main", "city": "X", "state": "99", "zipCode": "400001", "phone": "+919800000002"}),
    )
    .await
    .expect(400);
    app.set_address(&token).await;
    let refused = app
        .post(
            "/orders",
            Some(&token),
            json!({"paymentMethod": "cod", "gstin": BAD_GSTIN}),
        )
        .await
        .expect(400);
    assert!(
        refused.body.to_string().contains("gstin"),
        "{}",
        refused.body
    );
    // Nothing was ordered: the cart still holds its line.
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["items"].as_array().unwrap().len(), 1);
    let (vendor_id, _) = app.user_with_role("Vendor", "vendor").await;
    app.patch(
        &format!("/admin/users/{vendor_id}"),
        Some(&app.admin_token),
        json!({"gstin": BAD_GSTIN}),
    )
    .await
    .expect(400);
    // A GSTIN registered in Karnataka is not a Maharashtra vendor's.
    app.patch(
        &format!("/admin/users/{vendor_id}"),
        Some(&app.admin_token),
        json!({"gstin": KARNATAKA_GSTIN, "state": "27"}),
    )
    .await
    .expect(400);
    let product = app
        .post(
            "/products",
            Some(&app.admin_token),
            json!({"name": "Odd", "price": 1, "stock": 1, "gstRate": 12}),
        )
        .await
        .expect(400);
    assert!(product.body.to_string().contains("gstRate"));
    app.post(
        "/products",
        Some(&app.admin_token),
        json!({"name": "Odd", "price": 1, "stock": 1, "hsnCode": "12345"}),
    )
    .await
    .expect(400);
}

async fn invoices_are_for_the_owner_admins_and_the_vendor_for_its_own(app: TestApp) {
    let product = app.product("Cup", 50.0, 5).await;
    let (_, owner) = app.customer("Owner").await;
    let (_, other) = app.customer("Other").await;
    let (_, vendor) = app.user_with_role("Some Vendor", "vendor").await;
    let order_id = app.cod_order(&owner, &product, 1).await;
    assert_eq!(invoices(&app, &owner, &order_id).await.len(), 1);
    assert_eq!(invoices(&app, &app.admin_token, &order_id).await.len(), 1);
    app.get(&format!("/orders/{order_id}/invoices"), Some(&other))
        .await
        .expect(404);
    // The shop's invoice is not a vendor's.
    app.get(&format!("/orders/{order_id}/invoices"), Some(&vendor))
        .await
        .expect(404);
    app.get(&format!("/orders/{order_id}/invoices"), None)
        .await
        .expect(401);
}

async fn the_gstr1_export_adds_up_to_invoices_minus_credit_notes_per_rate(app: TestApp) {
    let five = app
        .product_with(json!({"name": "Dal", "price": 100, "stock": 10, "gstRate": 5}))
        .await;
    let eighteen = app
        .product_with(json!({"name": "Soap", "price": 200, "stock": 10, "gstRate": 18}))
        .await;
    let (_, token) = app.customer("Export").await;
    // B2C: two orders, one cancelled.
    app.cod_order(&token, &five, 1).await;
    let cancelled = app.cod_order(&token, &eighteen, 1).await;
    app.patch(
        &format!("/orders/{cancelled}/cancel"),
        Some(&token),
        json!({"reason": "no"}),
    )
    .await
    .expect(200);
    // B2B: one order with the buyer's GSTIN.
    app.add_to_cart(&token, &eighteen, 2).await;
    app.set_address(&token).await;
    place(
        &app,
        &token,
        json!({"paymentMethod": "cod", "gstin": KARNATAKA_GSTIN}),
    )
    .await;

    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(1)).format("%Y-%m-%d");
    let to = (today + chrono::Duration::days(1)).format("%Y-%m-%d");
    let response = app
        .client
        .get(app.url(&format!("/admin/gst/export?from={from}&to={to}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // Per rate: taxable value and tax summed over every row.
    let mut sums: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    let mut sections = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        sections.push(fields[column("section")].to_string());
        let rate: i64 = fields[column("gst_rate")].parse().unwrap();
        let amount = |name: &str| fields[column(name)].parse::<f64>().unwrap();
        let entry = sums.entry(rate).or_default();
        entry.0 += amount("taxable_value");
        entry.1 += amount("cgst") + amount("sgst") + amount("igst");
    }
    // Worked by hand, every order shipped for 50.00 at its highest rate: 5 %: Dal 100.00 +
    // shipping 50.00 = 150.00, tax 7.50. 18 %: the cancelled Soap's invoice and credit note
    // cancel out; the B2B order 400.00 + 50.00 = 450.00, tax 81.00.
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let sums: Vec<(i64, f64, f64)> = sums
        .into_iter()
        .map(|(rate, (taxable, tax))| (rate, round(taxable), round(tax)))
        .collect();
    assert_eq!(sums, vec![(5, 150.0, 7.5), (18, 450.0, 81.0)], "{csv}");
    assert!(sections.contains(&"B2B".to_string()), "{csv}");
    assert!(sections.contains(&"B2CS".to_string()), "{csv}");
    // Only admins export; a malformed date is a 400.
    app.get(
        &format!("/admin/gst/export?from={from}&to={to}"),
        Some(&token),
    )
    .await
    .expect(403);
    app.get(
        "/admin/gst/export?from=2026-13-01&to=2026-12-31",
        Some(&app.admin_token),
    )
    .await
    .expect(400);
}

async fn flat_mode_keeps_the_single_rate_and_shows_no_breakdown(app: TestApp) {
    let product = app.product("Shampoo", 25.99, 10).await;
    let (_, token) = app.customer("Flat").await;
    let response = app.checkout(&token, &product, 2, "cod").await.expect(201);
    let order = &response.data()["order"];
    assert_eq!(money(&order["subtotal"]), 51.98);
    assert_eq!(money(&order["tax"]), 9.36);
    assert_eq!(money(&order["totalAmount"]), 61.34);
    assert_eq!(order["taxBreakdown"], json!([]));
    assert_eq!(order["placeOfSupply"], Value::Null);
    // No invoices without GST mode; a bad GSTIN is still refused wherever one is accepted.
    let order_id = order["_id"].as_str().unwrap();
    assert!(invoices(&app, &token, order_id).await.is_empty());
    app.add_to_cart(&token, &product, 1).await;
    app.post(
        "/orders",
        Some(&token),
        json!({"paymentMethod": "cod", "gstin": BAD_GSTIN}),
    )
    .await
    .expect(400);
}

/// `pdftotext` (Debian's poppler-utils) of a PDF, laid out as on the page.
fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("invoice-{}.pdf", crate::helpers::unique()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn pdf(app: &TestApp, token: &str, url: &str) -> (u16, Vec<u8>) {
    let response = app
        .client
        .get(app.url(url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(response.headers()["content-type"], "application/pdf");
    }
    (status, response.bytes().await.unwrap().to_vec())
}

async fn the_invoice_pdf_read_back_as_text_holds_every_rule_46_field(app: TestApp) {
    let token = mixed_cart(&app, "Karnataka").await;
    let order = place(
        &app,
        &token,
        json!({"paymentMethod": "cod", "gstin": KARNATAKA_GSTIN}),
    )
    .await;
    let order_id = order["_id"].as_str().unwrap();
    let docs = invoices(&app, &token, order_id).await;
    let invoice = &docs[0];
    let (status, bytes) = pdf(&app, &token, invoice["pdfUrl"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"%PDF"));
    let text = pdf_text(&bytes);
    let number = invoice["number"].as_str().unwrap();
    let date = chrono::DateTime::parse_from_rfc3339(invoice["issuedAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(19_800).unwrap())
        .format("%d-%m-%Y")
        .to_string();
    for field in [
        "TAX INVOICE",
        number,
        &date,
        // Seller: name, address, GSTIN, state.
        "Cartwright Retail Pvt Ltd",
        "12 Marine Drive, Mumbai 400002",
        SHOP_GSTIN,
        "27-Maharashtra",
        // Buyer: name, address, state, GSTIN.
        "Asha Rao",
        "4 Hill Road",
        KARNATAKA_GSTIN,
        "Place of supply: 29-Karnataka",
        // Lines: description, HSN, quantity, value, taxable value, rate, tax.
        "Kettle",
        "85161000",
        "1000.00",
        "961.54",
        "18%",
        "173.08",
        "Cola",
        "333.33",
        "40%",
        "384.61",
        "Shipping charges",
        // Totals, in rupees with the sign the font must carry.
        "₹2549.98",
        "₹601.73",
        "₹3151.71",
        "Authorised signatory",
    ] {
        assert!(text.contains(field), "{field:?} missing from:\n{text}");
    }

    // Another customer's download is a 404, as is a made-up id; a credit note prints its invoice.
    let (_, other) = app.customer("Other").await;
    assert_eq!(
        pdf(&app, &other, invoice["pdfUrl"].as_str().unwrap())
            .await
            .0,
        404
    );
    assert_eq!(pdf(&app, &token, "/invoices/nothing.pdf").await.0, 404);
    app.patch(
        &format!("/orders/{order_id}/cancel"),
        Some(&token),
        json!({"reason": "late"}),
    )
    .await
    .expect(200);
    let docs = invoices(&app, &token, order_id).await;
    let note = docs.iter().find(|d| d["kind"] == "credit_note").unwrap();
    let (_, bytes) = pdf(&app, &app.admin_token, note["pdfUrl"].as_str().unwrap()).await;
    let text = pdf_text(&bytes);
    assert!(text.contains("CREDIT NOTE"), "{text}");
    assert!(
        text.contains(&format!("Against tax invoice No.: {number}")),
        "{text}"
    );
}
