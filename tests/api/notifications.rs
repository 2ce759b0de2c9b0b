//! Notifications: written by order events, listed newest first, filtered by read state, marked
//! read one at a time or all at once, and never visible to another user.

use crate::api_tests;
use crate::helpers::TestApp;
use serde_json::{json, Value};

api_tests!(
    order_events_notify_the_customer_newest_first,
    unread_filter_and_marking_read,
    other_users_notifications_are_not_found,
    bad_ids_and_filters_are_rejected,
    notifications_are_paginated,
);

fn list(resp: &crate::helpers::Resp) -> &Vec<Value> {
    resp.data()["notifications"].as_array().unwrap()
}

async fn order_events_notify_the_customer_newest_first(app: TestApp) {
    let (_, token) = app.customer("Noor").await;
    let product = app.product("Lamp", 12.50, 5).await;
    let order_id = app.delivered_order(&token, &product).await;

    let resp = app.get("/notifications", Some(&token)).await.expect(200);
    let notifications = list(&resp);
    let kinds: Vec<&str> = notifications
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["order_delivered", "order_shipped", "order_confirmed"],
        "{}",
        resp.body
    );
    for n in notifications {
        assert_eq!(n["orderId"], order_id.as_str());
        assert_eq!(n["isRead"], false);
        assert!(!n["title"].as_str().unwrap().is_empty());
        assert!(!n["message"].as_str().unwrap().is_empty());
        assert!(n["_id"].is_string());
        assert!(n["createdAt"].as_str().unwrap().ends_with('Z'));
    }
    assert!(notifications[1]["message"]
        .as_str()
        .unwrap()
        .contains("TRK1"));
    assert_eq!(resp.data()["unreadCount"], 3);
    assert_eq!(resp.data()["pagination"]["totalItems"], 3);
    assert_eq!(resp.data()["pagination"]["currentPage"], 1);

    // The admin who moved the order gets none of the customer's notices.
    let admin = app
        .get("/notifications", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(list(&admin).len(), 0);
    assert_eq!(admin.data()["unreadCount"], 0);

    app.get("/notifications", None).await.expect(401);
}

async fn unread_filter_and_marking_read(app: TestApp) {
    let (_, token) = app.customer("Ravi").await;
    let product = app.product("Mug", 5.00, 5).await;
    app.delivered_order(&token, &product).await;

    let all = app.get("/notifications", Some(&token)).await.expect(200);
    let first = list(&all)[0]["_id"].as_str().unwrap().to_string();

    let read = app
        .patch(
            &format!("/notifications/{first}/read"),
            Some(&token),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(read.data()["_id"], first.as_str());
    assert_eq!(read.data()["isRead"], true);
    // Marking it again is harmless.
    app.patch(
        &format!("/notifications/{first}/read"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(200);

    let unread = app
        .get("/notifications?unread=true", Some(&token))
        .await
        .expect(200);
    assert_eq!(list(&unread).len(), 2);
    assert!(list(&unread).iter().all(|n| n["isRead"] == false));
    assert!(list(&unread).iter().all(|n| n["_id"] != first.as_str()));
    assert_eq!(unread.data()["pagination"]["totalItems"], 2);
    assert_eq!(unread.data()["unreadCount"], 2);

    let read_only = app
        .get("/notifications?unread=false", Some(&token))
        .await
        .expect(200);
    assert_eq!(list(&read_only).len(), 1);
    assert_eq!(list(&read_only)[0]["_id"], first.as_str());
    assert_eq!(read_only.data()["unreadCount"], 2);

    let all_read = app
        .patch("/notifications/read-all", Some(&token), json!({}))
        .await
        .expect(200);
    assert_eq!(all_read.data()["updated"], 2);
    let again = app
        .patch("/notifications/read-all", Some(&token), json!({}))
        .await
        .expect(200);
    assert_eq!(again.data()["updated"], 0);

    let after = app
        .get("/notifications?unread=true", Some(&token))
        .await
        .expect(200);
    assert_eq!(list(&after).len(), 0);
    assert_eq!(after.data()["unreadCount"], 0);
    let everything = app.get("/notifications", Some(&token)).await.expect(200);
    assert_eq!(list(&everything).len(), 3);
    assert!(list(&everything).iter().all(|n| n["isRead"] == true));
}

async fn other_users_notifications_are_not_found(app: TestApp) {
    let (_, owner) = app.customer("Owner").await;
    let (_, other) = app.customer("Other").await;
    let product = app.product("Kettle", 20.00, 5).await;
    app.delivered_order(&owner, &product).await;
    let owners = app.get("/notifications", Some(&owner)).await.expect(200);
    let id = list(&owners)[0]["_id"].as_str().unwrap().to_string();

    let resp = app
        .patch(
            &format!("/notifications/{id}/read"),
            Some(&other),
            json!({}),
        )
        .await
        .expect(404);
    assert!(resp.body["message"].as_str().unwrap().contains("not found"));
    let theirs = app.get("/notifications", Some(&other)).await.expect(200);
    assert_eq!(list(&theirs).len(), 0);
    let none = app
        .patch("/notifications/read-all", Some(&other), json!({}))
        .await
        .expect(200);
    assert_eq!(none.data()["updated"], 0);

    // Neither request touched the owner's notifications.
    let owners = app
        .get("/notifications?unread=true", Some(&owner))
        .await
        .expect(200);
    assert_eq!(owners.data()["unreadCount"], 3);
}

async fn bad_ids_and_filters_are_rejected(app: TestApp) {
    let (_, token) = app.customer("Picky").await;
    let resp = app
        .patch("/notifications/not-an-id/read", Some(&token), json!({}))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "id");
    app.patch(
        "/notifications/0190f8e0-0000-7000-8000-000000000000/read",
        Some(&token),
        json!({}),
    )
    .await
    .expect(404);
    let resp = app
        .get("/notifications?unread=maybe", Some(&token))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "unread");
    let resp = app
        .get("/notifications?limit=0", Some(&token))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "limit");
    app.patch("/notifications/read-all", None, json!({}))
        .await
        .expect(401);
}

async fn notifications_are_paginated(app: TestApp) {
    let (_, token) = app.customer("Pager").await;
    let product = app.product("Pen", 1.00, 10).await;
    app.delivered_order(&token, &product).await;
    app.delivered_order(&token, &product).await;

    let page1 = app
        .get("/notifications?page=1&limit=4", Some(&token))
        .await
        .expect(200);
    let page2 = app
        .get("/notifications?page=2&limit=4", Some(&token))
        .await
        .expect(200);
    assert_eq!(list(&page1).len(), 4);
    assert_eq!(list(&page2).len(), 2);
    assert_eq!(
        page1.data()["pagination"],
        json!({"currentPage": 1, "totalPages": 2, "totalItems": 6, "hasNext": true, "hasPrev": false})
    );
    assert_eq!(
        page2.data()["pagination"],
        json!({"currentPage": 2, "totalPages": 2, "totalItems": 6, "hasNext": false, "hasPrev": true})
    );
    let mut ids: Vec<&str> = list(&page1)
        .iter()
        .chain(list(&page2))
        .map(|n| n["_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "pages overlap");
    // Newest first across pages: the second order's delivery leads.
    assert_eq!(list(&page1)[0]["kind"], "order_delivered");
    assert_eq!(list(&page2)[1]["kind"], "order_confirmed");

    let past_end = app
        .get("/notifications?page=3&limit=4", Some(&token))
        .await
        .expect(200);
    assert_eq!(list(&past_end).len(), 0);
}
