//! The address book: ownership, the single default, validation.

use crate::api_tests;
use crate::helpers::{Resp, TestApp};
use serde_json::{json, Value};

api_tests!(
    address_crud_with_india_as_default_country,
    another_users_address_is_not_found,
    one_default_per_user,
    deleting_the_default_promotes_the_newest,
    invalid_addresses_are_rejected_and_nothing_is_saved,
    address_book_needs_a_token,
);

fn home() -> Value {
    json!({
        "street": "123 Main St",
        "city": "Mumbai",
        "state": "Maharashtra",
        "zipCode": "400001",
        "phone": "+1234567890"
    })
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

async fn create(app: &TestApp, token: &str, body: Value) -> String {
    app.post("/addresses", Some(token), body)
        .await
        .expect(201)
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn addresses(app: &TestApp, token: &str) -> Vec<Value> {
    let resp: Resp = app.get("/addresses", Some(token)).await.expect(200);
    resp.data()["addresses"].as_array().unwrap().clone()
}

fn default_ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter(|a| a["isDefault"] == json!(true))
        .map(|a| a["_id"].as_str().unwrap().to_string())
        .collect()
}

async fn address_crud_with_india_as_default_country(app: TestApp) {
    let (_, token) = app.customer("Asha").await;
    let created = app
        .post(
            "/addresses",
            Some(&token),
            with(home(), "name", json!("Asha K")),
        )
        .await
        .expect(201);
    let a = created.data().clone();
    let id = a["_id"].as_str().unwrap().to_string();
    assert_eq!(a["street"], "123 Main St");
    assert_eq!(a["city"], "Mumbai");
    assert_eq!(a["state"], "Maharashtra");
    assert_eq!(a["zipCode"], "400001");
    assert_eq!(a["country"], "India");
    assert_eq!(a["phone"], "+1234567890");
    assert_eq!(a["name"], "Asha K");
    // The first address is the default even when not asked for.
    assert_eq!(a["isDefault"], true);
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));

    let list = app.get("/addresses", Some(&token)).await.expect(200);
    assert_eq!(list.data()["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(list.data()["pagination"]["totalItems"], 1);

    let updated = app
        .put(
            &format!("/addresses/{id}"),
            Some(&token),
            json!({"street": "  9 Park Rd ", "city": "Pune", "state": "MH", "zipCode": "411001",
                   "country": "IN", "phone": "020 1234 5678"}),
        )
        .await
        .expect(200);
    let u = updated.data();
    assert_eq!(u["street"], "9 Park Rd");
    assert_eq!(u["country"], "IN");
    assert_eq!(u["name"], Value::Null);
    // Left out, the default flag stays.
    assert_eq!(u["isDefault"], true);

    let deleted = app
        .delete(&format!("/addresses/{id}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(deleted.data()["_id"], id.as_str());
    app.delete(&format!("/addresses/{id}"), Some(&token))
        .await
        .expect_error(404, "not_found");
    assert!(addresses(&app, &token).await.is_empty());
}

async fn another_users_address_is_not_found(app: TestApp) {
    let (_, owner) = app.customer("Owner").await;
    let (_, other) = app.customer("Other").await;
    let id = create(&app, &owner, home()).await;
    let path = format!("/addresses/{id}");
    app.put(&path, Some(&other), home())
        .await
        .expect_error(404, "not_found");
    app.delete(&path, Some(&other))
        .await
        .expect_error(404, "not_found");
    assert!(addresses(&app, &other).await.is_empty());
    // Even the admin has no access to someone else's address book.
    app.delete(&path, Some(&app.admin_token))
        .await
        .expect_error(404, "not_found");
    let mine = addresses(&app, &owner).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["street"], "123 Main St");
    // An id that is not an id is a 400.
    let resp = app
        .put("/addresses/not-an-id", Some(&owner), home())
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "id");
    app.put(
        "/addresses/0190f8e0-0000-7000-8000-000000000000",
        Some(&owner),
        with(home(), "isDefault", json!(true)),
    )
    .await
    .expect_error(404, "not_found");
    // The failed default change above left the real default alone.
    assert_eq!(default_ids(&addresses(&app, &owner).await), vec![id]);
}

async fn one_default_per_user(app: TestApp) {
    let (_, token) = app.customer("Many").await;
    let (_, neighbour) = app.customer("Neighbour").await;
    let theirs = create(&app, &neighbour, home()).await;

    let first = create(&app, &token, home()).await;
    let second = create(&app, &token, with(home(), "street", json!("2 Second St"))).await;
    // A second address does not take the default unless asked.
    assert_eq!(
        default_ids(&addresses(&app, &token).await),
        vec![first.clone()]
    );

    let third = app
        .post(
            "/addresses",
            Some(&token),
            with(
                with(home(), "street", json!("3 Third St")),
                "isDefault",
                json!(true),
            ),
        )
        .await
        .expect(201);
    let third = third.data()["_id"].as_str().unwrap().to_string();
    let list = addresses(&app, &token).await;
    assert_eq!(default_ids(&list), vec![third.clone()]);
    // The default is listed first.
    assert_eq!(list[0]["_id"], third.as_str());

    app.put(
        &format!("/addresses/{second}"),
        Some(&token),
        with(home(), "isDefault", json!(true)),
    )
    .await
    .expect(200);
    assert_eq!(
        default_ids(&addresses(&app, &token).await),
        vec![second.clone()]
    );

    // Unsetting leaves the user with no default, which is allowed.
    app.put(
        &format!("/addresses/{second}"),
        Some(&token),
        with(home(), "isDefault", json!(false)),
    )
    .await
    .expect(200);
    assert!(default_ids(&addresses(&app, &token).await).is_empty());

    // Another user's default was never touched.
    assert_eq!(
        default_ids(&addresses(&app, &neighbour).await),
        vec![theirs]
    );

    // Pagination applies to the address book too.
    let page = app
        .get("/addresses?limit=2&page=2", Some(&token))
        .await
        .expect(200);
    assert_eq!(page.data()["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(page.data()["pagination"]["totalItems"], 3);
    app.get("/addresses?limit=0", Some(&token))
        .await
        .expect(400);
}

async fn deleting_the_default_promotes_the_newest(app: TestApp) {
    let (_, token) = app.customer("Mover").await;
    let first = create(&app, &token, home()).await;
    let _second = create(&app, &token, with(home(), "street", json!("2 Second St"))).await;
    let third = create(&app, &token, with(home(), "street", json!("3 Third St"))).await;
    app.delete(&format!("/addresses/{first}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(
        default_ids(&addresses(&app, &token).await),
        vec![third.clone()]
    );
    // Deleting a non-default address leaves the default where it is.
    let list = addresses(&app, &token).await;
    let other = list.iter().find(|a| a["_id"] != json!(third)).unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/addresses/{other}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(default_ids(&addresses(&app, &token).await), vec![third]);
}

async fn invalid_addresses_are_rejected_and_nothing_is_saved(app: TestApp) {
    let (_, token) = app.customer("Careful").await;
    let without = |key: &str| {
        let mut body = home();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        (without("street"), "street"),
        (without("city"), "city"),
        (without("phone"), "phone"),
        (without("zipCode"), "zipCode"),
        (with(home(), "street", json!("   ")), "street"),
        (with(home(), "street", json!("x".repeat(201))), "street"),
        (with(home(), "city", json!("x".repeat(101))), "city"),
        (with(home(), "state", json!("")), "state"),
        (with(home(), "country", json!("x".repeat(101))), "country"),
        (with(home(), "zipCode", json!("12")), "zipCode"),
        (with(home(), "zipCode", json!("1234567890123")), "zipCode"),
        (with(home(), "zipCode", json!("4000;01")), "zipCode"),
        (with(home(), "phone", json!("call me")), "phone"),
        (with(home(), "phone", json!("123")), "phone"),
        (with(home(), "phone", json!("")), "phone"),
        (with(home(), "name", json!("x".repeat(101))), "name"),
        (with(home(), "isDefault", json!("yes")), "isDefault"),
        (with(home(), "street", json!(5)), "street"),
        (with(home(), "phone", json!(1234567890)), "phone"),
    ];
    for (body, field) in cases {
        let resp = app
            .post("/addresses", Some(&token), body.clone())
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "body: {body}");
    }
    assert!(addresses(&app, &token).await.is_empty());

    // A bad update leaves the saved address as it was.
    let id = create(&app, &token, home()).await;
    app.put(
        &format!("/addresses/{id}"),
        Some(&token),
        with(home(), "zipCode", json!("!")),
    )
    .await
    .expect(400);
    assert_eq!(addresses(&app, &token).await[0]["zipCode"], "400001");
    // Postal codes of other countries fit.
    let uk = app
        .post(
            "/addresses",
            Some(&token),
            with(
                with(home(), "zipCode", json!("SW1A 1AA")),
                "country",
                json!("United Kingdom"),
            ),
        )
        .await
        .expect(201);
    assert_eq!(uk.data()["zipCode"], "SW1A 1AA");
}

async fn address_book_needs_a_token(app: TestApp) {
    app.get("/addresses", None)
        .await
        .expect_error(401, "unauthorized");
    app.post("/addresses", None, home())
        .await
        .expect_error(401, "unauthorized");
    app.put(
        "/addresses/0190f8e0-0000-7000-8000-000000000000",
        None,
        home(),
    )
    .await
    .expect_error(401, "unauthorized");
    app.delete("/addresses/0190f8e0-0000-7000-8000-000000000000", None)
        .await
        .expect_error(401, "unauthorized");
}
