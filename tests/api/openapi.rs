//! `/openapi.json` is OpenAPI 3.1 and documents every route of the API; `/docs` serves the Swagger
//! UI from the binary.

use crate::api_tests;
use crate::helpers::TestApp;
use cartwright::error::ErrorCode;
use std::collections::BTreeSet;

api_tests!(
    openapi_documents_every_route,
    openapi_lists_every_error_code,
    docs_are_served_from_the_binary
);

/// Every route of api-reference.md and CONTRACT.md, as `METHOD /path`.
const ROUTES: &[&str] = &[
    "POST /auth/register",
    "POST /auth/login",
    "GET /auth/me",
    "GET /auth/session",
    "POST /auth/logout",
    "GET /admin/users",
    "GET /admin/refunds",
    "POST /admin/refunds/{refundId}/retry",
    "GET /admin/emails",
    "POST /admin/emails/{emailId}/retry",
    "PATCH /auth/me",
    "POST /auth/password/forgot",
    "POST /auth/password/reset",
    "POST /auth/password/change",
    "POST /admin/users",
    "PATCH /admin/users/{id}",
    "GET /products",
    "POST /products",
    "GET /products/manage",
    "POST /uploads/images",
    "GET /products/{id}",
    "PUT /products/{id}",
    "PATCH /products/{id}",
    "DELETE /products/{id}",
    "GET /products/{id}/reviews",
    "POST /products/{id}/reviews",
    "PUT /products/{id}/reviews/mine",
    "DELETE /products/{id}/reviews/mine",
    "GET /addresses",
    "POST /addresses",
    "PUT /addresses/{id}",
    "DELETE /addresses/{id}",
    "GET /cart",
    "DELETE /cart",
    "GET /cart/summary",
    "POST /cart/items",
    "PUT /cart/items/{productId}",
    "PATCH /cart/items/{productId}",
    "DELETE /cart/items/{productId}",
    "POST /cart/discount",
    "DELETE /cart/discount",
    "PUT /cart/shipping-address",
    "GET /admin/discounts",
    "POST /admin/discounts",
    "GET /admin/discounts/{code}",
    "PUT /admin/discounts/{code}",
    "DELETE /admin/discounts/{code}",
    "POST /orders",
    "POST /orders/verify-payment",
    "POST /payments",
    "GET /orders/my-orders",
    "GET /orders/{orderId}",
    "GET /orders/{orderId}/tracking",
    "PATCH /orders/{orderId}/cancel",
    "PATCH /orders/{orderId}/received",
    "POST /orders/{orderId}/return",
    "GET /orders/admin/all",
    "GET /orders/admin/export.csv",
    "GET /orders/admin/stats",
    "GET /orders/admin/stats/daily",
    "PATCH /orders/admin/{orderId}/status",
    "PATCH /orders/admin/{orderId}/return",
    "GET /orders/{orderId}/invoices",
    "GET /invoices/{file}",
    "GET /admin/gst/export",
    "GET /vendor/orders",
    "GET /vendor/orders/{orderId}",
    "PATCH /vendor/orders/{orderId}/status",
    "GET /notifications",
    "GET /events",
    "PATCH /notifications/{id}/read",
    "PATCH /notifications/read-all",
    "POST /webhooks/razorpay",
    "GET /health",
    "GET /ready",
    "GET /metrics",
    "GET /openapi.json",
];

async fn openapi_documents_every_route(app: TestApp) {
    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let route = format!("{} {path}", method.to_uppercase());
            let responses = operation["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{route} documents no responses");
            assert!(operation["summary"].is_string(), "{route} has no summary");
            documented.insert(route);
        }
    }
    let expected: BTreeSet<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!(documented, expected);
}

/// The error schema's `code` is the closed set of `ErrorCode`, no more and no less, so a client
/// generated from the document knows every code the server can send.
async fn openapi_lists_every_error_code(app: TestApp) {
    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    let schemas = &doc.body["components"]["schemas"];
    let code = &schemas["ErrorBody"]["properties"]["code"];
    // Inline, or a reference to the enum's own schema.
    let code = match code["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &schemas[name]
        }
        None => code,
    };
    let documented: BTreeSet<String> = code["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("the error code is an enum: {code}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let declared: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(documented, declared);
    assert_eq!(declared.len(), ErrorCode::ALL.len(), "codes are distinct");
    let required = schemas["ErrorBody"]["required"].as_array().unwrap();
    assert!(
        required.contains(&serde_json::json!("code")),
        "{required:?}"
    );
}

async fn docs_are_served_from_the_binary(app: TestApp) {
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert!(init.text().await.unwrap().contains("/openapi.json"));
}
