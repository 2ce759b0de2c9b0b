//! Sessions (issue 18, defect 8): server-side revocation by a per-user session version (logout,
//! deactivation), the browser apps' `HttpOnly` cookie session with its CSRF token, and the
//! hardening headers of `/docs` and `/pay-frame`.

use crate::api_tests;
use crate::helpers::{read, unique, Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

api_tests!(
    logout_ends_the_token_for_every_route_and_is_idempotent,
    an_open_stream_ends_when_its_session_logs_out,
    an_old_token_cannot_log_out_a_newer_session,
    reactivation_does_not_revive_the_tokens_of_before_the_deactivation,
    a_bumped_session_version_ends_every_token_of_the_account,
    login_and_register_set_an_http_only_strict_cookie,
    the_cookie_is_secure_when_configured_or_behind_https,
    a_cookie_session_reads_and_recovers_its_csrf_token,
    a_cookie_write_without_the_csrf_token_is_refused,
    a_bearer_write_needs_no_csrf_token,
    cookie_logout_needs_the_csrf_token_and_clears_the_cookie,
    a_stale_cookie_does_not_break_public_pages,
    docs_are_not_sniffed_and_send_no_referrer,
    the_pay_frame_sandboxes_itself,
);

const PASSWORD: &str = "password123";

/// Registers a customer and returns `(id, email)`.
async fn register(app: &TestApp, name: &str) -> (String, String) {
    let email = format!(
        "{}-{}@example.com",
        name.to_lowercase().replace(' ', "."),
        unique()
    );
    let resp = app
        .post(
            "/auth/register",
            None,
            json!({"name": name, "email": email, "password": PASSWORD}),
        )
        .await
        .expect(201);
    (
        resp.data()["user"]["_id"].as_str().unwrap().to_string(),
        email,
    )
}

/// Logs in and returns the whole answer (body and `Set-Cookie`).
async fn login(app: &TestApp, email: &str) -> Resp {
    app.post(
        "/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .expect(200)
}

fn token_of(resp: &Resp) -> String {
    resp.data()["token"].as_str().unwrap().to_string()
}

fn set_cookie(resp: &Resp) -> String {
    resp.headers
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string()
}

/// The session cookie's value in a `Set-Cookie` header.
fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("cartwright_session="))
        .expect("the session cookie")
        .to_string()
}

/// A request carrying the session cookie (and, when given, an `X-CSRF-Token`), no bearer token.
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut builder = app
        .client
        .request(method, app.url(path))
        .header("Cookie", format!("theme=dark; cartwright_session={cookie}"));
    if let Some(csrf) = csrf {
        builder = builder.header("X-CSRF-Token", csrf);
    }
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    read(builder.send().await.unwrap()).await
}

fn address() -> Value {
    json!({"street": "1 Main St", "city": "Mumbai", "state": "MH", "zipCode": "400001", "phone": "+1234567890"})
}

async fn address_count(app: &TestApp, token: &str) -> usize {
    app.get("/addresses", Some(token)).await.expect(200).data()["addresses"]
        .as_array()
        .map_or_else(|| panic!("a list of addresses"), Vec::len)
}

async fn logout_ends_the_token_for_every_route_and_is_idempotent(app: TestApp) {
    let (_, email) = register(&app, "Leaver").await;
    let token = token_of(&login(&app, &email).await);
    app.get("/auth/me", Some(&token)).await.expect(200);
    app.get("/cart", Some(&token)).await.expect(200);

    let resp = app
        .post("/auth/logout", Some(&token), json!({}))
        .await
        .expect(200);
    assert_eq!(resp.data()["ended"], true);
    let cleared = set_cookie(&resp);
    assert!(cleared.starts_with("cartwright_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let resp = app.get("/auth/me", Some(&token)).await.expect(401);
    assert_eq!(resp.body["message"], "Session has ended; log in again");
    app.get("/cart", Some(&token)).await.expect(401);
    app.get("/events", Some(&token)).await.expect(401);
    app.post("/addresses", Some(&token), address())
        .await
        .expect(401);

    // Again: nothing left to end, still a 200. With no token at all too.
    let again = app
        .post("/auth/logout", Some(&token), json!({}))
        .await
        .expect(200);
    assert_eq!(again.data()["ended"], false);
    app.post("/auth/logout", None, json!({})).await.expect(200);

    // A new login is a new session.
    let fresh = token_of(&login(&app, &email).await);
    app.get("/auth/me", Some(&fresh)).await.expect(200);
}

async fn an_open_stream_ends_when_its_session_logs_out(app: TestApp) {
    let (_, email) = register(&app, "Streamer").await;
    let token = token_of(&login(&app, &email).await);
    let mut response = app
        .client
        .get(app.url("/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), response.chunk())
        .await
        .expect("the ready event")
        .unwrap()
        .expect("a first chunk");
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));
    app.post("/auth/logout", Some(&token), json!({}))
        .await
        .expect(200);
    // The stream ends: its body finishes (no more chunks) within a few seconds.
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match response.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream of a logged-out session is still open"
    );
}

async fn an_old_token_cannot_log_out_a_newer_session(app: TestApp) {
    let (_, email) = register(&app, "Twice").await;
    let old = token_of(&login(&app, &email).await);
    app.post("/auth/logout", Some(&old), json!({}))
        .await
        .expect(200);
    let current = token_of(&login(&app, &email).await);
    // Someone replays the old token's logout: the current session is not theirs to end.
    let resp = app
        .post("/auth/logout", Some(&old), json!({}))
        .await
        .expect(200);
    assert_eq!(resp.data()["ended"], false);
    app.get("/auth/me", Some(&current)).await.expect(200);
}

async fn reactivation_does_not_revive_the_tokens_of_before_the_deactivation(app: TestApp) {
    let (id, email) = register(&app, "Paused").await;
    let token = token_of(&login(&app, &email).await);
    app.get("/auth/me", Some(&token)).await.expect(200);
    let cookie = cookie_value(&set_cookie(&login(&app, &email).await));
    for active in [false, true] {
        app.patch(
            &format!("/admin/users/{id}"),
            Some(&app.admin_token),
            json!({"isActive": active}),
        )
        .await
        .expect(200);
    }
    let resp = app.get("/auth/me", Some(&token)).await.expect(401);
    assert_eq!(resp.body["message"], "Session has ended; log in again");
    with_cookie(&app, Method::GET, "/auth/me", &cookie, None, None)
        .await
        .expect(401);
    app.get("/events", Some(&token)).await.expect(401);
    // Logging in again works, and a role change alone ends no session.
    let fresh = token_of(&login(&app, &email).await);
    app.patch(
        &format!("/admin/users/{id}"),
        Some(&app.admin_token),
        json!({"role": "vendor", "name": "Paused Vendor"}),
    )
    .await
    .expect(200);
    let me = app.get("/auth/me", Some(&fresh)).await.expect(200);
    assert_eq!(me.data()["role"], "vendor");
}

async fn a_bumped_session_version_ends_every_token_of_the_account(app: TestApp) {
    let (id, email) = register(&app, "Rotated").await;
    let (_, other_email) = register(&app, "Bystander").await;
    let first = token_of(&login(&app, &email).await);
    let second = token_of(&login(&app, &email).await);
    let bystander = token_of(&login(&app, &other_email).await);
    app.get("/auth/me", Some(&first)).await.expect(200);
    // What a password change or reset will call.
    assert!(app.state.store.bump_session_version(&id).await.unwrap());
    assert!(!app
        .state
        .store
        .bump_session_version("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap());
    // Heard through the change feed (no request made the change, so nothing flushed the account
    // cache), well before the cache's own 900 ms safety net would have dropped the entry.
    let started = std::time::Instant::now();
    loop {
        let first_status = app.get("/auth/me", Some(&first)).await.status;
        if first_status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "the bump did not come through the change feed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.get("/auth/me", Some(&second)).await.expect(401);
    app.get("/auth/me", Some(&bystander)).await.expect(200);
    app.get("/auth/me", Some(&token_of(&login(&app, &email).await)))
        .await
        .expect(200);
}

async fn login_and_register_set_an_http_only_strict_cookie(app: TestApp) {
    let email = format!("cookie-{}@example.com", unique());
    let registered = app
        .post(
            "/auth/register",
            None,
            json!({"name": "Cookie", "email": email, "password": PASSWORD}),
        )
        .await
        .expect(201);
    let logged_in = login(&app, &email).await;
    for resp in [&registered, &logged_in] {
        let header = set_cookie(resp);
        let attributes: Vec<&str> = header.split(';').map(str::trim).collect();
        assert_eq!(cookie_value(&header), token_of(resp), "{header}");
        for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(attributes.contains(&wanted), "{wanted} missing: {header}");
        }
        assert!(
            attributes.iter().any(|a| a.starts_with("Max-Age=")),
            "{header}"
        );
        // Plain HTTP in the tests: a Secure cookie would never come back.
        assert!(!attributes.contains(&"Secure"), "{header}");
        // API clients still get the token and the apps the CSRF token.
        assert!(resp.data()["token"].is_string());
        assert_eq!(resp.data()["csrfToken"].as_str().unwrap().len(), 64);
    }
    // A failed login sets nothing.
    let failed = app
        .post(
            "/auth/login",
            None,
            json!({"email": email, "password": "wrong-password"}),
        )
        .await
        .expect(401);
    assert!(failed.headers.get("set-cookie").is_none());
}

async fn the_cookie_is_secure_when_configured_or_behind_https(app: TestApp) {
    for config in [
        [("COOKIE_SECURE", "true"), ("PUBLIC_URL", "")],
        [
            ("COOKIE_SECURE", ""),
            ("PUBLIC_URL", "https://shop.example.com"),
        ],
    ] {
        let secure = TestApp::spawn_with(app.db, &config)
            .await
            .expect("the test app starts");
        let resp = secure
            .post(
                "/auth/login",
                None,
                json!({"email": crate::helpers::ADMIN_EMAIL, "password": crate::helpers::ADMIN_PASSWORD}),
            )
            .await
            .expect(200);
        let header = set_cookie(&resp);
        assert!(
            header.split(';').any(|a| a.trim() == "Secure"),
            "{config:?}: {header}"
        );
        let out = secure
            .post("/auth/logout", Some(&token_of(&resp)), json!({}))
            .await
            .expect(200);
        assert!(set_cookie(&out).contains("Secure"), "{config:?}");
    }
}

async fn a_cookie_session_reads_and_recovers_its_csrf_token(app: TestApp) {
    let (id, email) = register(&app, "Browser").await;
    let resp = login(&app, &email).await;
    let cookie = cookie_value(&set_cookie(&resp));
    let csrf = resp.data()["csrfToken"].as_str().unwrap().to_string();

    let me = with_cookie(&app, Method::GET, "/auth/me", &cookie, None, None)
        .await
        .expect(200);
    assert_eq!(me.data()["_id"], id.as_str());
    with_cookie(&app, Method::GET, "/cart", &cookie, None, None)
        .await
        .expect(200);
    // After a reload the page has only the cookie: the session tells it who it is and its token.
    let session = with_cookie(&app, Method::GET, "/auth/session", &cookie, None, None)
        .await
        .expect(200);
    assert_eq!(session.data()["user"]["_id"], id.as_str());
    assert_eq!(session.data()["csrfToken"], csrf.as_str());
    assert!(session.data().get("token").is_none());
    app.get("/auth/session", None).await.expect(401);
    with_cookie(&app, Method::GET, "/auth/session", "garbage", None, None)
        .await
        .expect(401);
    // The live stream takes the cookie.
    let stream = app
        .client
        .get(app.url("/events"))
        .header("Cookie", format!("cartwright_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
}

async fn a_cookie_write_without_the_csrf_token_is_refused(app: TestApp) {
    let (_, email) = register(&app, "Forged").await;
    let resp = login(&app, &email).await;
    let token = token_of(&resp);
    let cookie = cookie_value(&set_cookie(&resp));
    let csrf = resp.data()["csrfToken"].as_str().unwrap().to_string();
    let other = login(&app, &register(&app, "Other").await.1).await;
    let others_csrf = other.data()["csrfToken"].as_str().unwrap().to_string();

    for (method, path, body) in [
        (Method::POST, "/addresses", Some(address())),
        (Method::DELETE, "/cart", None),
        (Method::PATCH, "/notifications/read-all", Some(json!({}))),
    ] {
        for presented in [None, Some(""), Some("00"), Some(others_csrf.as_str())] {
            let resp = with_cookie(&app, method.clone(), path, &cookie, presented, body.clone())
                .await
                .expect(403);
            assert!(
                resp.body["message"]
                    .as_str()
                    .unwrap()
                    .contains("X-CSRF-Token"),
                "{method} {path}: {}",
                resp.body
            );
        }
    }
    assert_eq!(
        address_count(&app, &token).await,
        0,
        "a refused write wrote"
    );
    with_cookie(
        &app,
        Method::POST,
        "/addresses",
        &cookie,
        Some(&csrf),
        Some(address()),
    )
    .await
    .expect(201);
    assert_eq!(address_count(&app, &token).await, 1);
}

async fn a_bearer_write_needs_no_csrf_token(app: TestApp) {
    let (_, email) = register(&app, "Client").await;
    let token = token_of(&login(&app, &email).await);
    app.post("/addresses", Some(&token), address())
        .await
        .expect(201);
    // With both, the bearer token decides: a stray cookie does not call for a CSRF token.
    let resp = app
        .client
        .post(app.url("/addresses"))
        .bearer_auth(&token)
        .header("Cookie", "cartwright_session=whatever")
        .json(&address())
        .send()
        .await
        .unwrap();
    read(resp).await.expect(201);
    assert_eq!(address_count(&app, &token).await, 2);
}

async fn cookie_logout_needs_the_csrf_token_and_clears_the_cookie(app: TestApp) {
    let (_, email) = register(&app, "Cookie Leaver").await;
    let resp = login(&app, &email).await;
    let cookie = cookie_value(&set_cookie(&resp));
    let csrf = resp.data()["csrfToken"].as_str().unwrap().to_string();
    // A page elsewhere cannot log the user out.
    with_cookie(&app, Method::POST, "/auth/logout", &cookie, None, None)
        .await
        .expect(403);
    with_cookie(&app, Method::GET, "/auth/me", &cookie, None, None)
        .await
        .expect(200);
    let out = with_cookie(
        &app,
        Method::POST,
        "/auth/logout",
        &cookie,
        Some(&csrf),
        None,
    )
    .await
    .expect(200);
    assert_eq!(out.data()["ended"], true);
    let cleared = set_cookie(&out);
    assert!(cleared.starts_with("cartwright_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"));
    with_cookie(&app, Method::GET, "/auth/me", &cookie, None, None)
        .await
        .expect(401);
    with_cookie(&app, Method::GET, "/events", &cookie, None, None)
        .await
        .expect(401);
}

async fn a_stale_cookie_does_not_break_public_pages(app: TestApp) {
    let product = app.product("Public Soap", 3.0, 4).await;
    let (_, email) = register(&app, "Stale").await;
    let resp = login(&app, &email).await;
    let token = token_of(&resp);
    let cookie = cookie_value(&set_cookie(&resp));
    app.post("/auth/logout", Some(&token), json!({}))
        .await
        .expect(200);
    with_cookie(
        &app,
        Method::GET,
        &format!("/products/{product}"),
        &cookie,
        None,
        None,
    )
    .await
    .expect(200);
    // A bad bearer token is still refused there.
    app.get(&format!("/products/{product}"), Some(&token))
        .await
        .expect(401);
}

async fn docs_are_not_sniffed_and_send_no_referrer(app: TestApp) {
    for path in [
        "/docs/",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let headers = resp.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }
}

async fn the_pay_frame_sandboxes_itself(app: TestApp) {
    let resp = app.client.get(app.url("/pay-frame")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let sandbox = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("sandbox"))
        .unwrap_or_else(|| panic!("no sandbox directive: {csp}"));
    let flags: Vec<&str> = sandbox.split_whitespace().skip(1).collect();
    for needed in ["allow-scripts", "allow-forms", "allow-popups"] {
        assert!(flags.contains(&needed), "{needed} missing: {sandbox}");
    }
    // Its origin stays opaque: it may never reach the shop's cookie or storage.
    assert!(!flags.contains(&"allow-same-origin"), "{sandbox}");
    // The shop's own pages are not sandboxed.
    let shop = app.client.get(app.url("/")).send().await.unwrap();
    let shop_csp = shop.headers()["content-security-policy"].to_str().unwrap();
    assert!(!shop_csp.contains("sandbox"), "{shop_csp}");
}
