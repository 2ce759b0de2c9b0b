//! Accounts: registration, login, tokens, roles, deactivation, rate limits, request hygiene.

use crate::api_tests;
use crate::helpers::{Db, TestApp};
use serde_json::json;

api_tests!(
    register_login_and_me,
    duplicate_email_is_a_conflict,
    wrong_password_and_unknown_email_look_the_same,
    bad_tokens_are_unauthorized,
    deactivated_user_is_locked_out_at_once,
    customer_on_admin_route_is_forbidden,
    malformed_json_is_a_400_in_the_envelope,
    oversized_body_is_a_413,
    registration_validates_fields,
);

async fn register_login_and_me(app: TestApp) {
    let resp = app
        .post(
            "/auth/register",
            None,
            json!({"name": "Asha", "email": "Asha@Example.com", "password": "password123", "phone": "+91 98765 43210"}),
        )
        .await
        .expect(201);
    let user = &resp.data()["user"];
    assert_eq!(user["email"], "asha@example.com");
    assert_eq!(user["role"], "customer");
    assert_eq!(user["isActive"], true);
    assert!(user.get("passwordHash").is_none() && user.get("password_hash").is_none());
    assert!(resp.headers.contains_key("x-request-id"));

    let token = app.login("asha@example.com", "password123").await;
    let me = app.get("/auth/me", Some(&token)).await.expect(200);
    assert_eq!(me.data()["_id"], user["_id"]);
    assert_eq!(me.data()["name"], "Asha");
    assert!(me.data()["createdAt"].as_str().unwrap().ends_with('Z'));

    app.get("/auth/me", None)
        .await
        .expect_error(401, "unauthorized");
}

async fn duplicate_email_is_a_conflict(app: TestApp) {
    let body = json!({"name": "A", "email": "dup@example.com", "password": "password123"});
    app.post("/auth/register", None, body.clone())
        .await
        .expect(201);
    let mut upper = body.clone();
    upper["email"] = json!("DUP@example.com");
    let resp = app.post("/auth/register", None, upper).await.expect(409);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
}

async fn wrong_password_and_unknown_email_look_the_same(app: TestApp) {
    app.customer("Known").await;
    app.post(
        "/auth/register",
        None,
        json!({"name": "B", "email": "b@example.com", "password": "password123"}),
    )
    .await
    .expect(201);
    let wrong_password = app
        .post(
            "/auth/login",
            None,
            json!({"email": "b@example.com", "password": "nope-nope-nope"}),
        )
        .await
        .expect_error(401, "unauthorized");
    let unknown_email = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "password123"}),
        )
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(wrong_password.body, unknown_email.body);
}

async fn bad_tokens_are_unauthorized(app: TestApp) {
    use base64_like::encode;
    let (id, token) = app.customer("Tok").await;
    app.get("/auth/me", Some(&token)).await.expect(200);

    // Tampered: flip the payload to claim admin, keep the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let now = chrono_now();
    let admin_payload =
        encode(&json!({"sub": id, "role": "admin", "iat": now, "exp": now + 3600}).to_string());
    let tampered = format!("{}.{}.{}", parts[0], admin_payload, parts[2]);
    app.get("/auth/me", Some(&tampered))
        .await
        .expect_error(401, "unauthorized");

    // alg: none.
    let none_header = encode(r#"{"alg":"none","typ":"JWT"}"#);
    let none_token = format!("{none_header}.{admin_payload}.");
    app.get("/auth/me", Some(&none_token))
        .await
        .expect_error(401, "unauthorized");

    // Signed with another secret, and expired with the right one.
    let other = cartwright::auth::JwtKeys::new(b"some-other-secret-some-other-secret", 60)
        .issue(&id, cartwright::domain::user::Role::Customer, 0)
        .unwrap();
    app.get("/auth/me", Some(&other))
        .await
        .expect_error(401, "unauthorized");
    let expired = sign_hs256(
        app.config.jwt_secret.as_ref().unwrap().expose().as_bytes(),
        &json!({"sub": id, "role": "customer", "iat": now - 7200, "exp": now - 3600}),
    );
    let resp = app
        .get("/auth/me", Some(&expired))
        .await
        .expect_error(401, "unauthorized");
    assert!(resp.body["message"].as_str().unwrap().contains("expired"));
    // The same secret and a live expiry is accepted, which shows the helper signs correctly.
    let live = sign_hs256(
        app.config.jwt_secret.as_ref().unwrap().expose().as_bytes(),
        &json!({"sub": id, "role": "customer", "iat": now, "exp": now + 3600}),
    );
    app.get("/auth/me", Some(&live)).await.expect(200);

    app.get("/auth/me", Some("garbage"))
        .await
        .expect_error(401, "unauthorized");
    let resp = app
        .client
        .get(app.url("/auth/me"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

async fn deactivated_user_is_locked_out_at_once(app: TestApp) {
    let (id, token) = app.customer("Leaver").await;
    app.get("/auth/me", Some(&token)).await.expect(200);
    app.patch(
        &format!("/admin/users/{id}"),
        Some(&app.admin_token),
        json!({"isActive": false}),
    )
    .await
    .expect(200);
    app.get("/auth/me", Some(&token))
        .await
        .expect_error(401, "unauthorized");
    app.post(
        "/auth/login",
        None,
        json!({"email": "x", "password": "password123"}),
    )
    .await
    .expect_error(401, "unauthorized");
    // Reactivated, the old token stays dead: deactivation ended its session for good.
    app.patch(
        &format!("/admin/users/{id}"),
        Some(&app.admin_token),
        json!({"isActive": true}),
    )
    .await
    .expect(200);
    let resp = app
        .get("/auth/me", Some(&token))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(resp.body["message"], "Session has ended; log in again");
}

async fn customer_on_admin_route_is_forbidden(app: TestApp) {
    let (id, token) = app.customer("Curious").await;
    app.get("/admin/users", Some(&token))
        .await
        .expect_error(403, "forbidden");
    app.patch(
        &format!("/admin/users/{id}"),
        Some(&token),
        json!({"role": "admin"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/admin/users",
        Some(&token),
        json!({"name": "X", "email": "x@example.com", "password": "password123", "role": "admin"}),
    )
    .await
    .expect_error(403, "forbidden");
    // The admin sees users and can filter by role.
    let list = app
        .get("/admin/users?role=admin", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(list.data()["users"].as_array().unwrap().len(), 1);
    assert_eq!(list.data()["pagination"]["totalItems"], 1);
    app.get("/admin/users?role=wizard", Some(&app.admin_token))
        .await
        .expect(400);
    app.patch(
        "/admin/users/not-an-id",
        Some(&app.admin_token),
        json!({"isActive": false}),
    )
    .await
    .expect(400);
    app.patch(
        "/admin/users/0190f8e0-0000-7000-8000-000000000000",
        Some(&app.admin_token),
        json!({"isActive": false}),
    )
    .await
    .expect_error(404, "not_found");
}

async fn malformed_json_is_a_400_in_the_envelope(app: TestApp) {
    let resp = app
        .client
        .post(app.url("/auth/register"))
        .header("Content-Type", "application/json")
        .body("{\"name\": \"x\", ")
        .send()
        .await
        .unwrap();
    let resp = crate::helpers::read(resp).await.expect(400);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("Malformed JSON"));

    let resp = app
        .client
        .post(app.url("/auth/register"))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    crate::helpers::read(resp).await.expect(400);

    // A field of the wrong type names the field.
    let resp = app
        .post(
            "/auth/register",
            None,
            json!({"name": 5, "email": "a@b.co", "password": "password123"}),
        )
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "name");
    let resp = app
        .post("/auth/register", None, json!({"name": "x"}))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "email");

    app.get("/no/such/route", None)
        .await
        .expect_error(404, "not_found");
}

async fn oversized_body_is_a_413(app: TestApp) {
    let big = "x".repeat(2 * 1024 * 1024);
    let resp = app
        .client
        .post(app.url("/auth/register"))
        .header("Content-Type", "application/json")
        .body(format!("{{\"name\": \"{big}\"}}"))
        .send()
        .await
        .unwrap();
    crate::helpers::read(resp)
        .await
        .expect_error(413, "payload_too_large");
}

async fn registration_validates_fields(app: TestApp) {
    for (body, field) in [
        (
            json!({"name": "A", "email": "not-an-email", "password": "password123"}),
            "email",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "x".repeat(129)}),
            "password",
        ),
        (
            json!({"name": "  ", "email": "a@example.com", "password": "password123"}),
            "name",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "password123", "phone": "call me"}),
            "phone",
        ),
    ] {
        let resp = app.post("/auth/register", None, body).await.expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "{}", resp.body);
    }
    // Nothing was created by the failures.
    let list = app
        .get("/admin/users?role=customer", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(list.data()["pagination"]["totalItems"], 0);
}

#[tokio::test]
async fn eleventh_rapid_login_is_rate_limited() {
    let app = TestApp::spawn_with(Db::Sqlite, &[("AUTH_RATE_LIMIT_PER_MINUTE", "10")])
        .await
        .unwrap();
    // The harness already logged the admin in once.
    for _ in 0..9 {
        app.post(
            "/auth/login",
            None,
            json!({"email": "a@example.com", "password": "password123"}),
        )
        .await
        .expect_error(401, "unauthorized");
    }
    let resp = app
        .post(
            "/auth/login",
            None,
            json!({"email": "a@example.com", "password": "password123"}),
        )
        .await
        .expect_error(429, "rate_limited");
    let retry_after: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An HS256 JWT signed by the test itself.
fn sign_hs256(secret: &[u8], claims: &serde_json::Value) -> String {
    use hmac::{Hmac, Mac};
    let header = base64_like::encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = base64_like::encode(&claims.to_string());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = base64_like::encode_bytes(&mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

/// Unpadded base64url, enough for building tokens by hand.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(text: &str) -> String {
        encode_bytes(text.as_bytes())
    }

    pub fn encode_bytes(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }
}
