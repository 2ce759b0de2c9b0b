//! GST invoice numbers (CONTRACT §10) across two API processes on one PostgreSQL: 200 orders
//! confirmed at once, half on each node, get invoice numbers 1..200 for each seller, with no gap
//! and no duplicate; and a checkout rolled back after its invoice was numbered gives the number
//! back.

use crate::multi_node::Cluster;
use reqwest::Method;
use serde_json::json;

const SHOP_GSTIN: &str = "27AAPFU0939F1ZV";
const VENDOR_GSTIN: &str = "29AAGCB7383J1Z4";

const GST: &[(&str, &str)] = &[
    ("TAX_MODE", "gst"),
    ("SELLER_NAME", "Cartwright Retail Pvt Ltd"),
    ("SELLER_ADDRESS", "12 Marine Drive, Mumbai 400002"),
    ("SELLER_GSTIN", SHOP_GSTIN),
    ("SELLER_STATE", "Maharashtra"),
    ("DATABASE_MAX_CONNECTIONS", "16"),
    // 200 confirmations queue for one counter row; a request may wait its turn for a connection.
    ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "60"),
];

// The two-node set-up of `multi_node`, with the GST helpers of these tests.
impl Cluster {
    /// A product of the shop, or of `vendor` (its token), with plenty of stock.
    async fn product(&self, token: &str, name: &str) -> String {
        self.api
            .post(
                &self.a,
                "/products",
                token,
                json!({"name": name, "price": 100, "stock": 100_000, "gstRate": 18, "hsnCode": "3305"}),
            )
            .await
            .expect(201)
            .data()["_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A vendor registered for GST in Karnataka; returns `(id, token)`.
    async fn vendor(&self) -> (String, String) {
        let email = format!("vendor-{}@example.com", crate::node::unique());
        let created = self
            .api
            .post(
                &self.a,
                "/admin/users",
                &self.admin,
                json!({"name": "Teas of Karnataka", "email": email, "password": "password123", "role": "vendor"}),
            )
            .await
            .expect(201);
        let id = created.data()["_id"].as_str().unwrap().to_string();
        self.api
            .send(
                Method::PATCH,
                &self.a.url(&format!("/admin/users/{id}")),
                Some(&self.admin),
                Some(json!({"gstin": VENDOR_GSTIN})),
            )
            .await
            .expect(200);
        (id, self.api.login(&self.a, &email, "password123").await)
    }

    /// The serials of one seller's invoices, in order.
    async fn serials(&self, seller_key: &str) -> Vec<i64> {
        self.sql
            .rows(
                "SELECT number, serial, fiscal_year FROM gst_documents
                 WHERE seller_key = $1 AND kind = 'invoice' ORDER BY serial",
                &[seller_key],
            )
            .await
            .into_iter()
            .map(|(number, serial, _)| {
                assert!(number.ends_with(&format!("/{serial:06}")), "{number}");
                serial
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_orders_confirmed_on_two_nodes_get_invoices_one_to_two_hundred_per_seller() {
    let p = Cluster::with_vars(GST)
        .await
        .expect("a PostgreSQL database");
    let shop_product = p.product(&p.admin, "Soap").await;
    let (vendor_id, vendor_token) = p.vendor().await;
    let vendor_product = p.product(&vendor_token, "Tea").await;

    // 20 customers place 10 online orders each (unpaid: no invoice yet), spread over both nodes;
    // every order holds a line of the shop and one of the vendor.
    let customers = p.api.customers(&[&p.a, &p.b], "Buyer", 20).await;
    let mut tasks = Vec::new();
    for (i, (_, token)) in customers.iter().enumerate() {
        let (api, token) = (p.api.clone(), token.clone());
        let node = p.node(i).base.clone();
        let (shop_product, vendor_product) = (shop_product.clone(), vendor_product.clone());
        tasks.push(tokio::spawn(async move {
            let url = |path: &str| format!("{node}{path}");
            let mut orders = Vec::new();
            for _ in 0..10 {
                for product in [&shop_product, &vendor_product] {
                    let added = api
                        .send(
                            Method::POST,
                            &url("/cart/items"),
                            Some(&token),
                            Some(json!({"productId": product, "quantity": 1})),
                        )
                        .await;
                    assert!(added.status < 300, "{}", added.body);
                }
                api.send(
                    Method::PUT,
                    &url("/cart/shipping-address"),
                    Some(&token),
                    Some(json!({"street": "1 MG Road", "city": "Bengaluru", "state": "Karnataka", "zipCode": "560001", "phone": "+919800000000"})),
                )
                .await
                .expect(200);
                let placed = api
                    .send(
                        Method::POST,
                        &url("/orders"),
                        Some(&token),
                        Some(json!({"paymentMethod": "razorpay"})),
                    )
                    .await
                    .expect(201);
                orders.push((
                    placed.data()["order"]["_id"].as_str().unwrap().to_string(),
                    token.clone(),
                ));
            }
            orders
        }));
    }
    let mut orders = Vec::new();
    for task in tasks {
        orders.extend(task.await.unwrap());
    }
    assert_eq!(orders.len(), 200);
    assert!(p.serials("shop").await.is_empty());

    // All 200 payments at once, alternating nodes.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(orders.len()));
    let mut tasks = Vec::new();
    for (i, (order_id, token)) in orders.iter().enumerate() {
        let (api, barrier) = (p.api.clone(), barrier.clone());
        let url = p.node(i).url("/payments");
        let body = json!({"orderId": order_id, "paymentMethod": "razorpay"});
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            api.send(Method::POST, &url, Some(&token), Some(body)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().expect(200);
    }

    let expected: Vec<i64> = (1..=200).collect();
    assert_eq!(p.serials("shop").await, expected);
    assert_eq!(p.serials(&vendor_id).await, expected);
    // Each order has exactly its two invoices.
    let per_order = p
        .sql
        .count(
            "SELECT COUNT(*) FROM (SELECT order_id FROM gst_documents GROUP BY order_id HAVING COUNT(*) = 2) o",
            &[],
        )
        .await;
    assert_eq!(per_order, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_rolled_back_after_numbering_leaves_no_gap() {
    let p = Cluster::with_vars(GST)
        .await
        .expect("a PostgreSQL database");
    let product = p.product(&p.admin, "Soap").await;
    let poisoned = p.product(&p.admin, "Poisoned").await;
    // The stock move is a checkout's last statement, after the invoice took its number: making it
    // fail for one product rolls that checkout back from after the numbering.
    p.sql
        .execute(
            &format!(
                "CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.id = '{poisoned}' THEN RAISE EXCEPTION 'refused for the test'; END IF;
                 RETURN NEW; END $$"
            ),
            &[],
        )
        .await;
    p.sql
        .execute(
            "CREATE TRIGGER refuse_poisoned BEFORE UPDATE ON products
             FOR EACH ROW EXECUTE FUNCTION refuse_poisoned()",
            &[],
        )
        .await;
    let (_, token) = p.api.customer(&p.a, "Asha").await;
    let cod = |node: usize, product: String| {
        let (api, token) = (p.api.clone(), token.clone());
        let base = p.node(node).base.clone();
        async move {
            let added = api
                .send(
                    Method::POST,
                    &format!("{base}/cart/items"),
                    Some(&token),
                    Some(json!({"productId": product, "quantity": 1})),
                )
                .await;
            assert!(added.status < 300, "{}", added.body);
            api.send(
                Method::PUT,
                &format!("{base}/cart/shipping-address"),
                Some(&token),
                Some(json!({"street": "1 Main", "city": "Mumbai", "state": "27", "zipCode": "400001", "phone": "+919800000000"})),
            )
            .await
            .expect(200);
            api.send(
                Method::POST,
                &format!("{base}/orders"),
                Some(&token),
                Some(json!({"paymentMethod": "cod"})),
            )
            .await
        }
    };
    cod(0, product.clone()).await.expect(201);
    let refused = cod(1, poisoned.clone()).await;
    assert!(refused.status >= 500, "{}", refused.body);
    assert_eq!(
        p.sql
            .count(
                "SELECT last_serial FROM gst_counters WHERE seller_key = 'shop'",
                &[]
            )
            .await,
        1
    );
    let removed = p
        .api
        .send(
            Method::DELETE,
            &p.b.url(&format!("/cart/items/{poisoned}")),
            Some(&token),
            None,
        )
        .await;
    assert!(removed.status < 300, "{}", removed.body);
    cod(1, product).await.expect(201);
    assert_eq!(p.serials("shop").await, vec![1, 2]);
}
