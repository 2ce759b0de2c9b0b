//! Email (CONTRACT §9) through a real SMTP server (`smtp_catcher`): what each email says and to
//! whom, that user text cannot add a header or a recipient, the password reset from the emailed
//! link, and that a down or refusing SMTP server delays mail, never a checkout. Each test runs on
//! SQLite and PostgreSQL with a catcher of its own.

use crate::api_tests;
use crate::helpers::{unique, Db, TestApp};
use crate::smtp_catcher::{Caught, Mode, SmtpCatcher};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

/// Generates one test per database for each `async fn(TestApp, SmtpCatcher)`: the app is started
/// with `SMTP_URL` pointing at a fresh catcher.
macro_rules! email_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::with_catcher($crate::helpers::Db::Sqlite, super::$name).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::with_catcher($crate::helpers::Db::Postgres, super::$name).await;
                }
            }
        )*
    };
}

email_tests!(
    a_paid_order_emails_one_receipt_and_each_vendor_only_its_lines,
    shipping_emails_the_tracking_number,
    a_reset_link_from_the_email_sets_a_new_password_and_ends_old_sessions,
    forgot_password_answers_alike_for_unknown_addresses_and_sends_nothing,
    user_text_cannot_add_headers_or_recipients_and_is_escaped_in_html,
    checkouts_succeed_while_smtp_is_down_and_mail_arrives_once_when_it_is_back,
    refused_mail_fails_deferred_mail_waits_and_an_admin_retry_sends_it,
    cancelling_a_paid_order_emails_the_reason_then_the_refund,
    a_slow_smtp_server_slows_no_checkout,
);

api_tests!(
    without_smtp_emails_are_composed_kept_and_listed_for_admins,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    the_account_holder_changes_name_and_phone,
    reset_tokens_expire_and_are_purged_a_day_after,
    forgot_password_is_rate_limited_per_client_like_login,
    racing_senders_claim_each_due_row_once,
);

const WAIT: Duration = Duration::from_secs(60);

async fn with_catcher<F, Fut>(db: Db, test: F)
where
    F: FnOnce(TestApp, SmtpCatcher) -> Fut,
    Fut: Future<Output = ()>,
{
    let catcher = SmtpCatcher::start().await;
    let url = catcher.url();
    let app = TestApp::spawn_with(
        db,
        &[("SMTP_URL", url.as_str()), ("SMTP_TIMEOUT_SECONDS", "3")],
    )
    .await
    .expect("the test app starts");
    test(app, catcher).await;
}

/// Every email of the outbox (up to 100), newest first, optionally of one status.
async fn outbox(app: &TestApp, status: Option<&str>) -> Vec<Value> {
    let path = match status {
        Some(status) => format!("/admin/emails?limit=100&status={status}"),
        None => "/admin/emails?limit=100".to_string(),
    };
    let resp = app.get(&path, Some(&app.admin_token)).await.expect(200);
    resp.data()["emails"].as_array().unwrap().clone()
}

/// Waits until no email is pending or being sent (polling the outbox).
async fn settled(app: &TestApp) {
    let deadline = Instant::now() + WAIT;
    loop {
        let waiting =
            outbox(app, Some("pending")).await.len() + outbox(app, Some("sending")).await.len();
        if waiting == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} emails still unsent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn email_of(app: &TestApp, token: &str) -> String {
    app.get("/auth/me", Some(token)).await.expect(200).data()["email"]
        .as_str()
        .unwrap()
        .to_string()
}

fn to(messages: &[Caught], address: &str) -> Vec<Caught> {
    messages
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == address))
        .cloned()
        .collect()
}

fn subject(message: &Caught) -> String {
    message.header("Subject").unwrap_or_default()
}

async fn a_paid_order_emails_one_receipt_and_each_vendor_only_its_lines(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let (_, vendor_a) = app.user_with_role("Vendor A", "vendor").await;
    let (_, vendor_b) = app.user_with_role("Vendor B", "vendor").await;
    let alpha = app
        .product_by(
            &vendor_a,
            json!({"name": "Alpha Soap", "price": 10.5, "stock": 10, "category": "test"}),
        )
        .await;
    let beta = app
        .product_by(
            &vendor_b,
            json!({"name": "Beta Shampoo", "price": 20.25, "stock": 10, "category": "test"}),
        )
        .await;
    let (_, customer) = app.customer("Asha").await;
    let customer_email = email_of(&app, &customer).await;
    app.add_to_cart(&customer, &alpha, 1).await;
    let placed = app
        .checkout(&customer, &beta, 2, "razorpay")
        .await
        .expect(201);
    let order = placed.data()["order"].clone();
    let order_id = order["_id"].as_str().unwrap();
    let number = order["orderNumber"].as_str().unwrap();
    app.post(
        "/payments",
        Some(&customer),
        json!({"orderId": order_id, "paymentMethod": "razorpay"}),
    )
    .await
    .expect(200);

    // The request to pay, the receipt, and one email per vendor.
    catcher.wait_for(4, WAIT).await;
    settled(&app).await;
    let messages = catcher.messages();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert_eq!(outbox(&app, Some("sent")).await.len(), 4);

    let mine = to(&messages, &customer_email);
    let receipts: Vec<&Caught> = mine
        .iter()
        .filter(|m| subject(m).contains("confirmed"))
        .collect();
    assert_eq!(receipts.len(), 1, "{mine:#?}");
    let receipt = receipts[0];
    assert!(subject(receipt).contains(number));
    let text = receipt.text();
    for needle in [
        number.to_string(),
        "Alpha Soap x 1 @ INR 10.50 = INR 10.50".to_string(),
        "Beta Shampoo x 2 @ INR 20.25 = INR 40.50".to_string(),
        "Subtotal: INR 51.00".to_string(),
        "Tax: INR 9.18".to_string(),
        "Total: INR 60.18".to_string(),
        "123 Main St".to_string(),
        format!("{}/#/orders/{order_id}", app.address),
    ] {
        assert!(
            text.contains(&needle),
            "{needle:?} not in the receipt:\n{text}"
        );
    }
    assert!(receipt.html().contains("Alpha Soap"));
    let awaiting: Vec<&Caught> = mine
        .iter()
        .filter(|m| subject(m).contains("waiting for your payment"))
        .collect();
    assert_eq!(awaiting.len(), 1, "{mine:#?}");
    assert!(awaiting[0].text().contains("Pay now"));

    for (vendor, own, other) in [
        (&vendor_a, "Alpha Soap", "Beta Shampoo"),
        (&vendor_b, "Beta Shampoo", "Alpha Soap"),
    ] {
        let theirs = to(&messages, &email_of(&app, vendor).await);
        assert_eq!(theirs.len(), 1, "{theirs:#?}");
        let text = theirs[0].text();
        assert!(subject(&theirs[0]).contains(number));
        assert!(text.contains(own), "{text}");
        assert!(
            !text.contains(other),
            "another vendor's line leaked:\n{text}"
        );
        assert!(
            !text.contains("60.18"),
            "the whole order's total leaked:\n{text}"
        );
        assert!(!theirs[0].html().contains(other));
    }

    // Each email carries its own Message-ID, derived from its outbox row.
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").expect("a Message-ID"))
        .collect();
    assert_eq!(ids.len(), 4);
    for row in outbox(&app, None).await {
        let id = row["_id"].as_str().unwrap();
        assert!(ids.iter().any(|m| m.contains(id)), "{id} not among {ids:?}");
    }
}

async fn shipping_emails_the_tracking_number(app: TestApp, catcher: SmtpCatcher) {
    let product = app.product("Gadget", 99.0, 5).await;
    let (_, customer) = app.customer("Ravi").await;
    let customer_email = email_of(&app, &customer).await;
    let order_id = app.cod_order(&customer, &product, 1).await;
    app.admin_status(
        &order_id,
        json!({"status": "shipped", "trackingNumber": "TRK-9876543"}),
    )
    .await
    .expect(200);
    catcher.wait_for(2, WAIT).await;
    settled(&app).await;
    let messages = to(&catcher.messages(), &customer_email);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let shipped: Vec<&Caught> = messages
        .iter()
        .filter(|m| subject(m).contains("has shipped"))
        .collect();
    assert_eq!(shipped.len(), 1);
    assert!(shipped[0].text().contains("Tracking number: TRK-9876543"));
    assert!(shipped[0].html().contains("TRK-9876543"));
}

/// The token of the reset link in an email's text.
fn reset_token(message: &Caught) -> String {
    let text = message.text();
    let at = text.find("#/reset?token=").expect("a reset link") + "#/reset?token=".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

async fn a_reset_link_from_the_email_sets_a_new_password_and_ends_old_sessions(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let email = format!("reset-{}@example.com", unique());
    let old_token = app.register("Reset Me", &email, "old-password-1").await;
    app.post("/auth/password/forgot", None, json!({"email": email}))
        .await
        .expect(200);
    let messages = catcher.wait_for(1, WAIT).await;
    assert_eq!(messages[0].rcpt_to, vec![email.clone()]);
    let link_prefix = format!("{}/#/reset?token=", app.address);
    assert!(
        messages[0].text().contains(&link_prefix),
        "{}",
        messages[0].text()
    );
    let token = reset_token(&messages[0]);
    assert_eq!(token.len(), 64, "32 random bytes in hex");

    app.get("/auth/me", Some(&old_token)).await.expect(200);
    let reset = app
        .post(
            "/auth/password/reset",
            None,
            json!({"token": token, "password": "new-password-2"}),
        )
        .await
        .expect(200);
    assert_eq!(reset.data()["email"], email.as_str());

    app.post(
        "/auth/login",
        None,
        json!({"email": email, "password": "old-password-1"}),
    )
    .await
    .expect(401);
    app.login(&email, "new-password-2").await;
    app.get("/auth/me", Some(&old_token)).await.expect(401);
    // Single use.
    let again = app
        .post(
            "/auth/password/reset",
            None,
            json!({"token": token, "password": "third-password-3"}),
        )
        .await
        .expect(400);
    assert_eq!(again.body["errors"][0]["field"], "token");
    app.login(&email, "new-password-2").await;
}

async fn forgot_password_answers_alike_for_unknown_addresses_and_sends_nothing(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let email = format!("known-{}@example.com", unique());
    app.register("Known", &email, "password123").await;
    let known = app
        .post("/auth/password/forgot", None, json!({"email": email}))
        .await
        .expect(200);
    let unknown = app
        .post(
            "/auth/password/forgot",
            None,
            json!({"email": format!("nobody-{}@example.com", unique())}),
        )
        .await
        .expect(200);
    assert_eq!(known.body, unknown.body);
    let malformed = app
        .post(
            "/auth/password/forgot",
            None,
            json!({"email": "not an address"}),
        )
        .await
        .expect(200);
    assert_eq!(known.body, malformed.body);
    // At most three reset emails per account per hour; the answer stays the same.
    for _ in 0..3 {
        let more = app
            .post("/auth/password/forgot", None, json!({"email": email}))
            .await
            .expect(200);
        assert_eq!(more.body, known.body);
    }
    let kept = outbox(&app, None).await;
    assert_eq!(kept.len(), 3, "{kept:#?}");
    assert!(kept.iter().all(|e| e["recipient"] == email.as_str()));
    catcher.wait_for(3, WAIT).await;
    settled(&app).await;
    let messages = catcher.messages();
    assert_eq!(messages.len(), 3);
    assert!(messages.iter().all(|m| m.rcpt_to == vec![email.clone()]));
}

/// Header lines (not continuation lines) of a raw message, lower-cased.
fn header_names(message: &Caught) -> Vec<String> {
    message
        .headers()
        .split("\r\n")
        .filter(|line| !line.starts_with([' ', '\t']))
        .filter_map(|line| {
            line.split_once(':')
                .map(|(k, _)| k.trim().to_ascii_lowercase())
        })
        .collect()
}

async fn user_text_cannot_add_headers_or_recipients_and_is_escaped_in_html(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let product = app
        .product("Soap <b>bold</b>\r\nBcc: spy2@evil.test\r\n", 12.0, 5)
        .await;
    let email = format!("eve-{}@example.com", unique());
    let customer = app
        .register(
            "Eve\r\nBcc: spy1@evil.test\r\nSubject: hi",
            &email,
            "password123",
        )
        .await;
    let order_id = app.delivered_order(&customer, &product).await;
    app.post(
        &format!("/orders/{order_id}/return"),
        Some(&customer),
        json!({"reason": "Too small\r\nBcc: spy3@evil.test\r\n\r\n<i>x</i>"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/orders/admin/{order_id}/return"),
        Some(&app.admin_token),
        json!({"action": "reject", "reason": "No\r\nCc: spy4@evil.test"}),
    )
    .await
    .expect(200);

    // Confirmed, shipped, delivered, return requested, return rejected.
    catcher.wait_for(5, WAIT).await;
    settled(&app).await;
    let messages = catcher.messages();
    assert_eq!(messages.len(), 5);
    let allowed: HashSet<&str> = [
        "from",
        "to",
        "subject",
        "message-id",
        "date",
        "mime-version",
        "content-type",
    ]
    .into_iter()
    .collect();
    for message in &messages {
        assert_eq!(message.rcpt_to, vec![email.clone()], "{message:#?}");
        for name in header_names(message) {
            assert!(
                allowed.contains(name.as_str()),
                "header {name:?} in {message:#?}"
            );
        }
        assert_eq!(
            header_names(message)
                .iter()
                .filter(|n| *n == "subject")
                .count(),
            1
        );
        let to = message.header("To").unwrap();
        assert!(to.ends_with(&format!("<{email}>")), "{to}");
        assert!(!message.text().contains("\nBcc"), "{}", message.text());
    }
    let receipt = messages
        .iter()
        .find(|m| subject(m).contains("confirmed"))
        .unwrap();
    // askama writes `<` and `>` as numeric references; either spelling is escaped.
    let entities = |html: String| html.replace("&#60;", "&lt;").replace("&#62;", "&gt;");
    let html = entities(receipt.html());
    assert!(html.contains("Soap &lt;b&gt;bold&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>bold"), "{html}");
    let requested = messages
        .iter()
        .find(|m| subject(m).contains("return requested"))
        .unwrap();
    assert!(entities(requested.html()).contains("&lt;i&gt;x&lt;/i&gt;"));
    assert!(!requested.html().contains("<i>x"));
    assert!(requested
        .text()
        .contains("Too small Bcc: spy3@evil.test <i>x</i>"));
}

/// Places `count` cash-on-delivery orders of one unit each; returns the time taken.
async fn checkouts(app: &TestApp, token: &str, product: &str, count: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..count {
        app.cod_order(token, product, 1).await;
    }
    started.elapsed()
}

async fn checkouts_succeed_while_smtp_is_down_and_mail_arrives_once_when_it_is_back(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let product = app.product("Bulk Item", 5.0, 1000).await;
    let (_, customer) = app.customer("Bulk Buyer").await;
    let up = checkouts(&app, &customer, &product, 50).await;
    catcher.wait_for(50, WAIT).await;
    // Every one recorded as sent before the server goes: stopping it between its acceptance of a
    // message and the sender's record would (rightly) send that one again.
    settled(&app).await;

    catcher.stop().await;
    let down = checkouts(&app, &customer, &product, 50).await;
    assert!(
        down < up * 2 + Duration::from_secs(2),
        "50 checkouts took {down:?} with SMTP down, {up:?} with it up"
    );
    // The sender met the closed port: the emails wait in the outbox.
    let deadline = Instant::now() + WAIT;
    loop {
        let waiting = outbox(&app, Some("pending")).await;
        if waiting
            .iter()
            .any(|e| e["attempts"].as_i64() > Some(0) && !e["lastError"].is_null())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sender never met the closed port"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(catcher.messages().len(), 50);

    catcher.resume().await;
    catcher.wait_for(100, WAIT).await;
    settled(&app).await;
    let messages = catcher.messages();
    assert_eq!(messages.len(), 100, "every email exactly once");
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 100);
    assert_eq!(outbox(&app, Some("sent")).await.len(), 100);
}

async fn refused_mail_fails_deferred_mail_waits_and_an_admin_retry_sends_it(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let product = app.product("Refused Thing", 7.0, 10).await;
    let (_, customer) = app.customer("Refused").await;

    catcher.set_mode(Mode::Refuse);
    app.cod_order(&customer, &product, 1).await;
    let deadline = Instant::now() + WAIT;
    let failed = loop {
        let failed = outbox(&app, Some("failed")).await;
        if let Some(row) = failed.first() {
            break row.clone();
        }
        assert!(Instant::now() < deadline, "the refused email never failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        failed["lastError"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    assert_eq!(failed["attempts"], 1, "a permanent refusal is not retried");
    let id = failed["_id"].as_str().unwrap();

    catcher.set_mode(Mode::Defer);
    app.cod_order(&customer, &product, 1).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let pending = outbox(&app, Some("pending")).await;
        if let Some(row) = pending
            .iter()
            .find(|e| e["lastError"].as_str().is_some_and(|e| e.contains("451")))
        {
            assert!(row["attempts"].as_i64().unwrap() >= 1);
            assert!(row["nextAttemptAt"].is_string());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deferred email was not retried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(catcher.messages().is_empty());

    catcher.set_mode(Mode::Accept);
    // The deferred one goes out on its next attempt; the failed one waits for the admin.
    catcher.wait_for(1, WAIT).await;
    settled(&app).await;
    assert_eq!(outbox(&app, Some("failed")).await.len(), 1);
    let retried = app
        .post(
            &format!("/admin/emails/{id}/retry"),
            Some(&app.admin_token),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(retried.data()["status"], "pending");
    let messages = catcher.wait_for(2, WAIT).await;
    settled(&app).await;
    assert_eq!(messages.len(), 2);
    let again = app
        .post(
            &format!("/admin/emails/{id}/retry"),
            Some(&app.admin_token),
            json!({}),
        )
        .await
        .expect(409);
    assert!(
        again.body["message"].as_str().unwrap().contains("sent"),
        "{}",
        again.body
    );
}

async fn without_smtp_emails_are_composed_kept_and_listed_for_admins(app: TestApp) {
    let product = app.product("Kept Thing", 30.0, 10).await;
    let (_, customer) = app.customer("Kept").await;
    let order_id = app.cod_order(&customer, &product, 2).await;
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200);
    let number = order.data()["orderNumber"]
        .as_str()
        .or_else(|| order.data()["order"]["orderNumber"].as_str())
        .unwrap()
        .to_string();

    let pending = outbox(&app, Some("pending")).await;
    assert_eq!(pending.len(), 1, "{pending:#?}");
    let email = &pending[0];
    assert_eq!(email["kind"], "order_confirmed");
    assert_eq!(email["orderId"], order_id.as_str());
    assert!(email["subject"].as_str().unwrap().contains(&number));
    let text = email["textBody"].as_str().unwrap();
    assert!(
        text.contains("Kept Thing x 2 @ INR 30.00 = INR 60.00"),
        "{text}"
    );
    assert!(email["htmlBody"].as_str().unwrap().contains("Kept Thing"));
    assert_eq!(email["attempts"], 0);
    assert!(outbox(&app, Some("sent")).await.is_empty());

    let page = app
        .get("/admin/emails?limit=1&page=1", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(page.data()["pagination"]["totalItems"], 1);
    app.get("/admin/emails", Some(&customer)).await.expect(403);
    app.get("/admin/emails?status=lost", Some(&app.admin_token))
        .await
        .expect(400);
    let id = email["_id"].as_str().unwrap();
    let conflict = app
        .post(
            &format!("/admin/emails/{id}/retry"),
            Some(&app.admin_token),
            json!({}),
        )
        .await
        .expect(409);
    assert!(conflict.body["message"]
        .as_str()
        .unwrap()
        .contains("pending"));
    app.post(
        &format!("/admin/emails/{}/retry", uuid::Uuid::new_v4()),
        Some(&app.admin_token),
        json!({}),
    )
    .await
    .expect(404);
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(app: TestApp) {
    let email = format!("change-{}@example.com", unique());
    let first = app.register("Changer", &email, "password-one").await;
    let second = app.login(&email, "password-one").await;
    let wrong = app
        .post(
            "/auth/password/change",
            Some(&first),
            json!({"currentPassword": "not-it-at-all", "newPassword": "password-two"}),
        )
        .await
        .expect(400);
    assert_eq!(wrong.body["errors"][0]["field"], "currentPassword");
    app.post(
        "/auth/password/change",
        Some(&first),
        json!({"currentPassword": "password-one", "newPassword": "short"}),
    )
    .await
    .expect(400);
    app.post(
        "/auth/password/change",
        None,
        json!({"currentPassword": "password-one", "newPassword": "password-two"}),
    )
    .await
    .expect(401);

    let changed = app
        .post(
            "/auth/password/change",
            Some(&first),
            json!({"currentPassword": "password-one", "newPassword": "password-two"}),
        )
        .await
        .expect(200);
    let fresh = changed.data()["token"].as_str().unwrap().to_string();
    app.get("/auth/me", Some(&fresh)).await.expect(200);
    app.get("/auth/me", Some(&first)).await.expect(401);
    app.get("/auth/me", Some(&second)).await.expect(401);
    app.post(
        "/auth/login",
        None,
        json!({"email": email, "password": "password-one"}),
    )
    .await
    .expect(401);
    app.login(&email, "password-two").await;
}

async fn the_account_holder_changes_name_and_phone(app: TestApp) {
    let (id, token) = app.customer("Old Name").await;
    let changed = app
        .patch(
            "/auth/me",
            Some(&token),
            json!({"name": "  New Name ", "phone": "+91 98765 43210"}),
        )
        .await
        .expect(200);
    assert_eq!(changed.data()["_id"], id.as_str());
    assert_eq!(changed.data()["name"], "New Name");
    assert_eq!(changed.data()["phone"], "+91 98765 43210");
    // Only what is sent changes; an empty phone clears it.
    let cleared = app
        .patch("/auth/me", Some(&token), json!({"phone": ""}))
        .await
        .expect(200);
    assert_eq!(cleared.data()["name"], "New Name");
    assert!(cleared.data()["phone"].is_null());
    let bad = app
        .patch("/auth/me", Some(&token), json!({"phone": "call me"}))
        .await
        .expect(400);
    assert_eq!(bad.body["errors"][0]["field"], "phone");
    app.patch("/auth/me", Some(&token), json!({"name": "   "}))
        .await
        .expect(400);
    app.patch("/auth/me", None, json!({"name": "X"}))
        .await
        .expect(401);
    let me = app.get("/auth/me", Some(&token)).await.expect(200);
    assert_eq!(me.data()["name"], "New Name");
}

/// The reset token of the newest reset email in the outbox (no SMTP server: it waits there).
async fn kept_reset_token(app: &TestApp) -> String {
    let emails = outbox(app, None).await;
    let text = emails
        .iter()
        .find(|e| e["kind"] == "password_reset")
        .expect("a reset email")["textBody"]
        .as_str()
        .unwrap()
        .to_string();
    let at = text.find("#/reset?token=").unwrap() + "#/reset?token=".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

async fn reset_tokens_expire_and_are_purged_a_day_after(app: TestApp) {
    let email = format!("expiring-{}@example.com", unique());
    app.register("Expiring", &email, "password123").await;
    app.post("/auth/password/forgot", None, json!({"email": email}))
        .await
        .expect(200);
    let token = kept_reset_token(&app).await;
    let count = |app: &TestApp| {
        let state = app.state.clone();
        async move {
            match &state.store.backend {
                cartwright::store::Backend::Sqlite(db) => {
                    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM password_resets")
                        .fetch_one(&db.read)
                        .await
                        .unwrap()
                        .0
                }
                cartwright::store::Backend::Postgres(pool) => {
                    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM password_resets")
                        .fetch_one(pool)
                        .await
                        .unwrap()
                        .0
                }
            }
        }
    };
    assert_eq!(count(&app).await, 1);
    // Past its 30 minutes the link no longer works.
    app.exec_sql(
        "UPDATE password_resets SET expires_at = $2 WHERE token_hash <> $1",
        "",
        cartwright::domain::time::now_millis() - 1,
    )
    .await;
    let expired = app
        .post(
            "/auth/password/reset",
            None,
            json!({"token": token, "password": "new-password-1"}),
        )
        .await
        .expect(400);
    assert_eq!(expired.body["errors"][0]["field"], "token");
    app.login(&email, "password123").await;

    let now = cartwright::domain::time::now_millis();
    cartwright::jobs::run_once(&app.state, now).await.unwrap();
    assert_eq!(count(&app).await, 1, "kept within the day");
    cartwright::jobs::run_once(&app.state, now + 26 * 60 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(count(&app).await, 0);
}

async fn cancelling_a_paid_order_emails_the_reason_then_the_refund(
    app: TestApp,
    catcher: SmtpCatcher,
) {
    let product = app.product("Returnable Lamp", 40.0, 5).await;
    let (_, customer) = app.customer("Canceller").await;
    let customer_email = email_of(&app, &customer).await;
    let order_id = app.paid_order(&customer, &product, 1).await;
    app.patch(
        &format!("/orders/{order_id}/cancel"),
        Some(&customer),
        json!({"reason": "Found it cheaper"}),
    )
    .await
    .expect(200);
    // Waiting for payment, receipt, cancelled, refund issued.
    catcher.wait_for(4, WAIT).await;
    settled(&app).await;
    let messages = to(&catcher.messages(), &customer_email);
    assert_eq!(messages.len(), 4, "{messages:#?}");
    let cancelled: Vec<&Caught> = messages
        .iter()
        .filter(|m| subject(m).contains("was cancelled"))
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert!(cancelled[0].text().contains("Reason: Found it cheaper"));
    let refunded: Vec<&Caught> = messages
        .iter()
        .filter(|m| subject(m).contains("refund issued"))
        .collect();
    assert_eq!(refunded.len(), 1);
    // 40.00 + 18 % tax.
    assert!(
        refunded[0].text().contains("INR 47.20 is being refunded"),
        "{}",
        refunded[0].text()
    );
}

async fn forgot_password_is_rate_limited_per_client_like_login(app: TestApp) {
    let app = TestApp::spawn_with(app.db, &[("AUTH_RATE_LIMIT_PER_MINUTE", "10")])
        .await
        .unwrap();
    crate::guard::wait_for_a_fresh_window().await;
    // The harness's own admin login may count in this window, so count up to the refusal.
    let mut refused = None;
    for n in 1..=11 {
        let resp = app
            .post(
                "/auth/password/forgot",
                None,
                json!({"email": format!("someone-{n}@example.com")}),
            )
            .await;
        if resp.status == 429 {
            refused = Some(n);
            break;
        }
        resp.expect(200);
    }
    let n = refused.expect("the 11th request is refused");
    assert!((10..=11).contains(&n), "refused at request {n}");
    // The limit is shared with login and the reset itself.
    app.post(
        "/auth/login",
        None,
        json!({"email": "someone@example.com", "password": "password123"}),
    )
    .await
    .expect(429);
    app.post(
        "/auth/password/reset",
        None,
        json!({"token": "00", "password": "password123"}),
    )
    .await
    .expect(429);
}

async fn a_slow_smtp_server_slows_no_checkout(app: TestApp, catcher: SmtpCatcher) {
    let product = app.product("Patient Item", 5.0, 1000).await;
    let (_, customer) = app.customer("Patient Buyer").await;
    let fast = checkouts(&app, &customer, &product, 20).await;
    catcher.wait_for(20, WAIT).await;
    settled(&app).await;

    // Each message now waits 2 s for the server's answer (inside the 3 s send bound).
    catcher.hold_after_data(Duration::from_secs(2));
    let slow = checkouts(&app, &customer, &product, 20).await;
    assert!(
        slow < fast * 2 + Duration::from_secs(2),
        "20 checkouts took {slow:?} with a slow SMTP server, {fast:?} with a quick one"
    );
    assert!(
        catcher.messages().len() < 40,
        "the sender cannot have kept up with a 2 s server"
    );
    catcher.hold_after_data(Duration::ZERO);
    catcher.wait_for(40, WAIT).await;
    settled(&app).await;
    assert_eq!(catcher.messages().len(), 40, "each email once");
}

/// Senders on several nodes (two store handles, six claimers) racing over the same due rows: each
/// row is claimed by exactly one, in rounds no larger than asked, and counted as one attempt.
async fn racing_senders_claim_each_due_row_once(app: TestApp) {
    const ORDERS: usize = 24;
    let product = app.product("Raced Mail Item", 5.0, 100).await;
    let (_, customer) = app.customer("Raced").await;
    for _ in 0..ORDERS {
        app.cod_order(&customer, &product, 1).await;
    }
    let stores = [
        cartwright::store::Store::connect(&app.config)
            .await
            .unwrap(),
        cartwright::store::Store::connect(&app.config)
            .await
            .unwrap(),
    ];
    let now = cartwright::domain::time::now_millis();
    let claimers = (0..6).map(|i| {
        let store = &stores[i % 2];
        async move {
            let mut claimed = Vec::new();
            loop {
                let token = format!("claimer-{i}-{}", claimed.len());
                let round = store
                    .claim_due_emails(&token, now, now + 60_000, 4)
                    .await
                    .expect("a claim is answered");
                assert!(round.len() <= 4, "a round holds at most the rows asked for");
                if round.is_empty() {
                    return claimed;
                }
                for row in round {
                    assert_eq!(row.claim_token.as_deref(), Some(token.as_str()));
                    claimed.push(row.id);
                }
            }
        }
    });
    let claimed: Vec<String> = futures_util::future::join_all(claimers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let distinct: HashSet<&String> = claimed.iter().collect();
    assert_eq!(distinct.len(), claimed.len(), "a row was claimed twice");
    assert_eq!(claimed.len(), ORDERS, "every due row is claimed");
    for store in &stores {
        assert!(store
            .claim_due_emails("late", now, now + 60_000, 4)
            .await
            .unwrap()
            .is_empty());
    }
    let sending = outbox(&app, Some("sending")).await;
    assert_eq!(sending.len(), ORDERS);
    assert!(sending.iter().all(|email| email["attempts"] == 1));
}
