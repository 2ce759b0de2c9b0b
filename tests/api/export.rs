//! `GET /orders/admin/export.csv` (issue 21): the admin list's filters, RFC 4180 quoting with
//! formulas made inert, amounts in rupees, an attachment, admins only.

use crate::api_tests;
use crate::helpers::TestApp;
use serde_json::Value;

api_tests!(
    export_holds_exactly_the_orders_of_the_filter,
    export_quotes_names_and_makes_formulas_inert,
    export_is_for_admins_and_checks_its_filters,
);

/// The export as `(status, content type, content disposition, body)`.
async fn export(app: &TestApp, query: &str, token: Option<&str>) -> (u16, String, String, String) {
    let mut request = app
        .client
        .get(app.url(&format!("/orders/admin/export.csv{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await.expect("export sent");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = resp.status().as_u16();
    (
        status,
        content_type,
        disposition,
        resp.text().await.unwrap(),
    )
}

/// Reads CSV text (RFC 4180: quoted cells may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut cell) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(!quoted, "unterminated quote in {text:?}");
    assert!(
        cell.is_empty() && record.is_empty(),
        "last record ends with CRLF: {text:?}"
    );
    records
}

/// The order numbers of an export, checking its header first.
fn numbers(text: &str) -> Vec<String> {
    let records = parse_csv(text);
    assert_eq!(records[0][0], "orderNumber", "{text}");
    assert_eq!(records[0].len(), 15);
    records[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 15, "{r:?}");
            r[0].clone()
        })
        .collect()
}

/// The order numbers the admin list shows for the same query, in its order.
async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    let sep = if query.is_empty() { "?" } else { "&" };
    let resp = app
        .get(
            &format!("/orders/admin/all{query}{sep}limit=100"),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    resp.data()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderNumber"].as_str().unwrap().to_string())
        .collect()
}

async fn export_holds_exactly_the_orders_of_the_filter(app: TestApp) {
    let product = app.product("Kettle", 12.5, 50).await;
    let (_, asha) = app.customer("Asha").await;
    let (_, ravi) = app.customer("Ravi").await;
    app.cod_order(&asha, &product, 2).await;
    let (unpaid, _) = app.unpaid_order(&ravi, &product, 1).await;
    let shipped = app.cod_order(&ravi, &product, 1).await;
    app.admin_status(
        &shipped,
        serde_json::json!({"status": "shipped", "trackingNumber": "TRK-42"}),
    )
    .await
    .expect(200);
    let ravi_email = app.get("/auth/me", Some(&ravi)).await.expect(200).data()["email"]
        .as_str()
        .unwrap()
        .to_string();

    let queries = [
        String::new(),
        "?status=pending".to_string(),
        "?status=shipped".to_string(),
        "?paymentStatus=pending".to_string(),
        format!("?search={ravi_email}"),
        "?sortBy=orderNumber&sortOrder=asc".to_string(),
        "?search=nobody@example.com".to_string(),
    ];
    for query in &queries {
        let (status, content_type, disposition, text) =
            export(&app, query, Some(&app.admin_token)).await;
        assert_eq!(status, 200, "{query}: {text}");
        assert_eq!(content_type, "text/csv; charset=utf-8");
        assert!(
            disposition.starts_with("attachment; filename=\"orders-")
                && disposition.ends_with(".csv\""),
            "{disposition}"
        );
        assert_eq!(numbers(&text), listed(&app, query).await, "{query}");
    }
    let (_, _, _, all) = export(&app, "", Some(&app.admin_token)).await;
    assert_eq!(numbers(&all).len(), 3);
    // Gzipped for a client that asks (as browsers do), the same file once unpacked.
    let zipped = app
        .client
        .get(app.url("/orders/admin/export.csv"))
        .bearer_auth(&app.admin_token)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let mut unpacked = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&zipped.bytes().await.unwrap()[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, all);
    let (_, _, _, pending) = export(&app, "?status=pending", Some(&app.admin_token)).await;
    let records = parse_csv(&pending);
    assert_eq!(records.len(), 2, "{pending}");
    let unpaid_number = app
        .get(&format!("/orders/{unpaid}"), Some(&app.admin_token))
        .await;
    assert_eq!(
        records[1][0],
        unpaid_number.data()["orderNumber"].as_str().unwrap()
    );
    assert_eq!(&records[1][2..5], ["pending", "pending", "razorpay"]);
    assert_eq!(records[1][5], "Ravi");
    assert_eq!(records[1][6], ravi_email);
    // Amounts in rupees with paise, never minor units.
    assert_eq!(records[1][7], "1");
    assert_eq!(records[1][8], "12.50");
    let (_, _, _, shipped_csv) = export(&app, "?status=shipped", Some(&app.admin_token)).await;
    assert_eq!(parse_csv(&shipped_csv)[1][14], "TRK-42");
    let (_, _, _, nobody) =
        export(&app, "?search=nobody@example.com", Some(&app.admin_token)).await;
    assert_eq!(parse_csv(&nobody).len(), 1, "the header alone: {nobody}");
}

async fn export_quotes_names_and_makes_formulas_inert(app: TestApp) {
    let product = app.product("Lamp", 10.0, 50).await;
    let (id, token) = app.customer("Mallory").await;
    app.cod_order(&token, &product, 1).await;
    let name = "=HYPERLINK(\"http://x\"), \"the\"\nsecond line";
    app.exec_sql(
        &format!("UPDATE users SET name = $1 WHERE id = '{id}' AND $2 = $2"),
        name,
        0,
    )
    .await;
    let (status, _, _, text) = export(&app, "", Some(&app.admin_token)).await;
    assert_eq!(status, 200);
    // The cell is quoted (its quotes doubled) and starts with an apostrophe.
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://x\"\"), \"\"the\"\"\nsecond line\""),
        "{text}"
    );
    let records = parse_csv(&text);
    assert_eq!(
        records.len(),
        2,
        "the line break stays inside its cell: {text}"
    );
    assert_eq!(records[1][5], format!("'{name}"));
}

async fn export_is_for_admins_and_checks_its_filters(app: TestApp) {
    let (_, customer) = app.customer("Asha").await;
    let (_, vendor) = app.user_with_role("Vendor", "vendor").await;
    let (status, _, _, body) = export(&app, "", None).await;
    assert_eq!(status, 401, "{body}");
    for token in [&customer, &vendor] {
        let (status, _, _, body) = export(&app, "", Some(token)).await;
        assert_eq!(status, 403, "{body}");
    }
    for (query, field) in [
        ("?status=lost", "status"),
        ("?paymentStatus=maybe", "paymentStatus"),
        ("?startDate=2026-02-01&endDate=2026-01-01", "endDate"),
        ("?search=kettle", "search"),
        ("?sortBy=colour", "sortBy"),
    ] {
        let (status, content_type, _, body) = export(&app, query, Some(&app.admin_token)).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
}
