//! What the listener itself guards (issue 18): a client that trickles its headers is cut off, a
//! node holds at most `MAX_CONNECTIONS` open, both settings show in `/metrics`, and `/metrics` is
//! answered only where it should be (CONTRACT §11).

use crate::api_tests;
use crate::helpers::{Db, TestApp};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

api_tests!(
    a_client_trickling_its_headers_is_cut_off,
    connections_past_the_cap_wait_for_a_free_slot,
    metrics_are_served_on_metrics_addr_only,
    metrics_are_not_served_through_a_proxy,
);

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

async fn spawn(db: Db, extra: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with(db, extra)
        .await
        .expect("the app starts")
}

/// Five header lines ten seconds apart used to hold a connection for as long as the client liked;
/// now the whole header section must arrive within `HEADER_READ_TIMEOUT_SECONDS`.
async fn a_client_trickling_its_headers_is_cut_off(app: TestApp) {
    let app = spawn(app.db, &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let mut closed_after = None;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let line = format!("x-trickle-{i}: yes\r\n");
        if stream.write_all(line.as_bytes()).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(10), stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            // An answer (hyper may say 408) also ends it; keep reading until closed.
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    let closed_after =
        closed_after.expect("the connection stayed open for 5 s of trickled headers");
    assert!(
        closed_after < Duration::from_secs(3),
        "closed after {closed_after:?}"
    );
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("http_header_read_timeout_seconds"), "{text}");
    assert!(text.contains("http_header_read_timeouts_total"), "{text}");
}

/// At the cap, a new client is not served until an open connection closes. (The test client's own
/// pooled connection from logging in holds a slot too, so the idle ones fill the rest.)
async fn connections_past_the_cap_wait_for_a_free_slot(app: TestApp) {
    let app = spawn(app.db, &[("MAX_CONNECTIONS", "3")]).await;
    let address = socket_address(&app);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    // Give the server the moment it needs to accept all three.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::spawn({
        let client = reqwest::Client::new();
        let url = app.url("/health");
        async move {
            let started = Instant::now();
            let resp = client.get(url).send().await.unwrap();
            (resp.status().as_u16(), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "a fourth connection was served at a cap of three"
    );
    drop(idle);
    let (status, waited) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a slot was free")
        .unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(700), "{waited:?}");
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_connections_max"), "{text}");
    assert!(text.contains("http_connections_open"), "{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// With `METRICS_ADDR` the public listener does not answer `/metrics` (no business counters for the
/// world); the metrics listener does, and answers nothing else.
async fn metrics_are_served_on_metrics_addr_only(app: TestApp) {
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let app = spawn(app.db, &[("METRICS_ADDR", metrics_addr.as_str())]).await;
    app.get("/health", None).await.expect(200);
    let public = app.get("/metrics", None).await.expect(404);
    assert_eq!(public.body["success"], false);
    let private = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    let text = private.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    let other = reqwest::get(format!("http://{metrics_addr}/products"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

/// Without `METRICS_ADDR`, `/metrics` is for this machine's own scraper: a request that came
/// through a proxy (even one on loopback) is refused.
async fn metrics_are_not_served_through_a_proxy(app: TestApp) {
    let direct = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(direct.status(), 200);
    let text = direct.text().await.unwrap();
    // Labels come from fixed sets: status classes, not codes.
    assert!(text.contains(r#"status="2xx""#), "{text}");
    for header in ["x-forwarded-for", "forwarded"] {
        let proxied = app
            .client
            .get(app.url("/metrics"))
            .header(header, "for=203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.status(), 404, "{header}");
    }
}
