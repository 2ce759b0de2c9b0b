//! Who may call what: every operation of `/openapi.json` is called with no token and with a
//! customer's, a vendor's and an admin's, and each answer is checked against the table kept
//! beside the router (`cartwright::http::routes::ROUTE_ROLES`): 401 without a token on a route
//! that needs one, 403 for a role the route does not admit, and neither for a caller it admits
//! (whatever else the placeholder ids and empty bodies earn: 200, 400, 404, 422...).

use crate::api_tests;
use crate::helpers::TestApp;
use cartwright::http::routes::{Access, ROUTE_ROLES};
use reqwest::Method;
use std::collections::BTreeSet;

api_tests!(every_route_admits_exactly_the_roles_of_its_table_entry);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    Customer,
    Vendor,
    Admin,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Unauthenticated,
    Forbidden,
    Allowed,
}

/// What the table says `caller` gets on a route of `access`.
fn expected(access: Access, caller: Caller) -> Outcome {
    use Caller as C;
    match (access, caller) {
        (Access::Public, _) => Outcome::Allowed,
        (_, C::Nobody) => Outcome::Unauthenticated,
        (Access::AnyUser, _)
        | (Access::Customer, C::Customer)
        | (Access::Vendor, C::Vendor)
        | (Access::Admin, C::Admin)
        | (Access::Editor, C::Admin | C::Vendor) => Outcome::Allowed,
        _ => Outcome::Forbidden,
    }
}

/// Every `(METHOD, path template)` that `/openapi.json` documents.
async fn documented_operations(app: &TestApp) -> BTreeSet<(String, String)> {
    // The document itself, not an envelope.
    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.body;
    let paths = doc["paths"].as_object().expect("openapi.json has paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

/// The path with every `{param}` replaced by a random UUID: no such record exists.
fn placeholder_path(template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("closed path parameter") + open;
        path.push_str(&rest[..open]);
        path.push_str(&uuid::Uuid::new_v4().to_string());
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    path
}

/// Calls the route once as `token`'s holder (or with no token) and classifies the answer. Only
/// the head is awaited: `/events` streams for as long as the connection stays open.
async fn call(app: &TestApp, method: &str, template: &str, token: Option<&str>) -> Outcome {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method.clone(), app.url(&placeholder_path(template)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        request = request.json(&serde_json::json!({}));
    }
    let response = request.send().await.expect("request sent");
    match response.status().as_u16() {
        status @ (401 | 403) => {
            // A refusal is the application's own answer: in the envelope.
            let body = crate::helpers::read(response).await.body;
            assert_eq!(
                body["success"], false,
                "{template}: {status} not in the envelope: {body}"
            );
            if status == 401 {
                Outcome::Unauthenticated
            } else {
                Outcome::Forbidden
            }
        }
        _ => Outcome::Allowed,
    }
}

async fn every_route_admits_exactly_the_roles_of_its_table_entry(app: TestApp) {
    let documented = documented_operations(&app).await;
    let table: BTreeSet<(String, String)> = ROUTE_ROLES
        .iter()
        .map(|(method, path, _)| (method.as_str().to_string(), path.to_string()))
        .collect();
    assert_eq!(
        table.len(),
        ROUTE_ROLES.len(),
        "a route is listed twice in ROUTE_ROLES"
    );
    let missing: Vec<_> = documented.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes in /openapi.json without an entry in ROUTE_ROLES: {missing:?}"
    );
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "ROUTE_ROLES entries that /openapi.json does not document: {stale:?}"
    );

    let (_, customer) = app.customer("Role Walker").await;
    let (_, vendor) = app.user_with_role("Role Vendor", "vendor").await;
    let admin = app.admin_token.clone();
    let callers = [
        (Caller::Nobody, None),
        (Caller::Customer, Some(customer.as_str())),
        (Caller::Vendor, Some(vendor.as_str())),
        (Caller::Admin, Some(admin.as_str())),
    ];
    // Logging out ends the session of the token it is sent with: it goes last.
    let mut routes: Vec<_> = ROUTE_ROLES.iter().collect();
    routes.sort_by_key(|(_, path, _)| *path == "/auth/logout");
    let mut wrong = Vec::new();
    for (method, path, access) in routes {
        for (caller, token) in callers {
            let got = call(&app, method.as_str(), path, token).await;
            let want = expected(*access, caller);
            if got != want {
                wrong.push(format!(
                    "{method} {path} as {caller:?}: {got:?}, the table ({access:?}) says {want:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
