//! Regression tests for defect 9 of issue 23: behind a reverse proxy the login limit is kept per
//! client (the address `X-Forwarded-For` names when the peer is a trusted proxy, the peer
//! otherwise), and wrong passwords are also limited per account, from whatever addresses.
//!
//! The tests reach the app from chosen loopback addresses (Linux routes all of 127.0.0.0/8 to
//! the loopback interface): 127.0.0.2 plays the trusted proxy, 127.0.0.3 a client that is not.

use crate::api_tests;
use crate::helpers::{read, Resp, TestApp};
use serde_json::json;
use std::net::IpAddr;

api_tests!(
    behind_a_trusted_proxy_wrong_passwords_from_one_client_do_not_limit_another,
    forwarded_for_from_an_untrusted_peer_is_ignored,
    wrong_passwords_for_one_account_are_limited_from_any_address,
    an_email_without_an_account_is_limited_the_same_way,
    the_owner_logs_in_from_a_known_address_while_the_account_is_limited,
);

const PROXY: &str = "127.0.0.2";
const UNTRUSTED_PEER: &str = "127.0.0.3";

/// A login sent from the local address `from`, with `X-Forwarded-For: forwarded_for` if given.
async fn login_from(
    app: &TestApp,
    from: &str,
    forwarded_for: Option<&str>,
    email: &str,
    password: &str,
) -> Resp {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut request = client
        .post(app.url("/auth/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    read(request.send().await.unwrap()).await
}

/// Registers a customer (password `password123`) and returns its email.
async fn account(app: &TestApp, name: &str) -> String {
    let email = format!("{}-{}@example.com", name, crate::helpers::unique());
    app.post(
        "/auth/register",
        None,
        json!({"name": name, "email": email, "password": "password123"}),
    )
    .await
    .expect(201);
    email
}

/// The test's shop behind `PROXY`, limiting an account to 5 wrong passwords an hour.
async fn account_limited_app(app: TestApp) -> TestApp {
    TestApp::spawn_with(
        app.db,
        &[
            ("TRUSTED_PROXIES", PROXY),
            ("LOGIN_FAILURES_PER_ACCOUNT", "5"),
            ("LOGIN_FAILURE_WINDOW_SECONDS", "3600"),
        ],
    )
    .await
    .unwrap()
}

fn retry_after(resp: &Resp) -> u64 {
    resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits out the last seconds of a fixed window of `window_secs`, so a test's attempts fall in
/// one window.
async fn wait_for_a_fresh_window_of(window_secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = window_secs - now % window_secs;
    if left < 15 {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
}

async fn behind_a_trusted_proxy_wrong_passwords_from_one_client_do_not_limit_another(app: TestApp) {
    let app = TestApp::spawn_with(
        app.db,
        &[
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.2"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "5"),
        ],
    )
    .await
    .unwrap();
    let email = account(&app, "proxied-customer").await;
    crate::guard::wait_for_a_fresh_window().await;
    // Client A guesses through the proxy (and a second proxy hop that is trusted too) until it is
    // limited.
    let mut limited = None;
    for n in 1..=6 {
        let resp = login_from(
            &app,
            PROXY,
            Some("203.0.113.10, 10.1.2.3"),
            "someone@example.com",
            "wrong-password",
        )
        .await;
        if resp.status == 429 {
            limited = Some(n);
            break;
        }
        resp.expect(401);
    }
    assert_eq!(limited, Some(6), "client A is limited after its 5 attempts");
    // Client B, through the same proxy, is not.
    let resp = login_from(&app, PROXY, Some("198.51.100.20"), &email, "password123")
        .await
        .expect(200);
    assert_eq!(resp.data()["user"]["email"], email);
    // A client that forges an entry left of what the proxy wrote is still itself: A.
    login_from(
        &app,
        PROXY,
        Some("198.51.100.20, 203.0.113.10"),
        &email,
        "password123",
    )
    .await
    .expect(429);
}

async fn forwarded_for_from_an_untrusted_peer_is_ignored(app: TestApp) {
    let app = TestApp::spawn_with(
        app.db,
        &[
            ("TRUSTED_PROXIES", PROXY),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "5"),
        ],
    )
    .await
    .unwrap();
    let email = account(&app, "direct-customer").await;
    crate::guard::wait_for_a_fresh_window().await;
    // A client that is not a proxy names another address on each attempt; it is limited all the
    // same, as itself.
    let mut limited = None;
    for n in 1..=6 {
        let forged = format!("192.0.2.{n}");
        let resp = login_from(
            &app,
            UNTRUSTED_PEER,
            Some(&forged),
            "someone@example.com",
            "wrong-password",
        )
        .await;
        if resp.status == 429 {
            limited = Some(n);
            break;
        }
        resp.expect(401);
    }
    assert_eq!(
        limited,
        Some(6),
        "the untrusted peer's own address is limited"
    );
    // The attempts were counted on the peer's address: the proxy naming that address is refused
    // too, while an address the peer forged was never charged.
    login_from(&app, PROXY, Some(UNTRUSTED_PEER), &email, "password123")
        .await
        .expect(429);
    login_from(&app, PROXY, Some("192.0.2.1"), &email, "password123")
        .await
        .expect(200);
}

async fn wrong_passwords_for_one_account_are_limited_from_any_address(app: TestApp) {
    let app = account_limited_app(app).await;
    let victim = account(&app, "guessed-victim").await;
    let bystander = account(&app, "bystander").await;
    wait_for_a_fresh_window_of(3600).await;
    // Five guesses, each from another address (well under the per-client limit).
    for n in 1..=5 {
        let client = format!("203.0.113.{n}");
        login_from(&app, PROXY, Some(&client), &victim, "wrong-password")
            .await
            .expect(401);
    }
    // The sixth is refused before the password is looked at, even the right one, from an address
    // that never tried.
    for password in ["wrong-password", "password123"] {
        let resp = login_from(&app, PROXY, Some("198.51.100.77"), &victim, password)
            .await
            .expect(429);
        let wait = retry_after(&resp);
        assert!((1..=3600).contains(&wait), "Retry-After {wait}");
        assert!(resp.body["errors"].as_array().unwrap().is_empty());
    }
    // Straight to the node as well, and with the address typed differently.
    let shouting = victim.to_uppercase();
    login_from(&app, "127.0.0.1", None, &shouting, "password123")
        .await
        .expect(429);
    // Another account is untouched, from the same addresses.
    login_from(&app, PROXY, Some("203.0.113.1"), &bystander, "password123")
        .await
        .expect(200);
}

async fn an_email_without_an_account_is_limited_the_same_way(app: TestApp) {
    let app = account_limited_app(app).await;
    let victim = account(&app, "existing-account").await;
    let ghost = format!("ghost-{}@example.com", crate::helpers::unique());
    wait_for_a_fresh_window_of(3600).await;
    let mut answers = Vec::new();
    for email in [&victim, &ghost] {
        for n in 1..=5 {
            let client = format!("203.0.113.{n}");
            login_from(&app, PROXY, Some(&client), email, "wrong-password")
                .await
                .expect(401);
        }
        let resp = login_from(&app, PROXY, Some("198.51.100.9"), email, "wrong-password")
            .await
            .expect(429);
        answers.push(resp);
    }
    // The same refusal, word for word, whether or not the email has an account.
    assert_eq!(answers[0].body, answers[1].body);
    assert!(retry_after(&answers[1]) >= 1);
}

async fn the_owner_logs_in_from_a_known_address_while_the_account_is_limited(app: TestApp) {
    let app = account_limited_app(app).await;
    let owner = account(&app, "known-owner").await;
    wait_for_a_fresh_window_of(3600).await;
    let home = "198.51.100.50";
    login_from(&app, PROXY, Some(home), &owner, "password123")
        .await
        .expect(200);
    // Someone else locks the account from elsewhere.
    for n in 1..=5 {
        let client = format!("203.0.113.{n}");
        login_from(&app, PROXY, Some(&client), &owner, "wrong-password")
            .await
            .expect(401);
    }
    login_from(&app, PROXY, Some("203.0.113.99"), &owner, "password123")
        .await
        .expect(429);
    // The owner, at home, is held only by home's own wrong passwords: a typo or two and then in.
    login_from(&app, PROXY, Some(home), &owner, "wrong-password")
        .await
        .expect(401);
    login_from(&app, PROXY, Some(home), &owner, "password123")
        .await
        .expect(200);
    // That login ended no one's lock: new addresses are still refused.
    login_from(&app, PROXY, Some("203.0.113.100"), &owner, "password123")
        .await
        .expect(429);
    // And guessing from the known address is limited like any other.
    for _ in 0..4 {
        login_from(&app, PROXY, Some(home), &owner, "wrong-password")
            .await
            .expect(401);
    }
    login_from(&app, PROXY, Some(home), &owner, "password123")
        .await
        .expect(429);
}
