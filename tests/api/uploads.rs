//! Product pictures (CONTRACT §8): `POST /uploads/images` re-encodes what it accepts (EXIF and
//! GPS tags do not survive), refuses what is not a picture, is too large or is a decompression
//! bomb with a 400 and nothing stored, and the binary serves the result with long caching. Every
//! test runs on both databases and on both storages: the local folder, and S3-compatible object
//! storage (a `moto_server` started by the test).
//!
//! Also `GET /products/manage`: the consoles' list of products, active or not.

use crate::helpers::{read, unique, Db, Resp, TestApp};
use serde_json::{json, Value};
use std::io::Cursor;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One test per database and storage for each named `async fn(TestApp)`.
macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Db;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn folder_sqlite() {
                    super::$name(super::folder_app(Db::Sqlite).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn folder_postgres() {
                    super::$name(super::folder_app(Db::Postgres).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3_sqlite() {
                    let (app, _moto) = super::s3_app(Db::Sqlite).await;
                    super::$name(app).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3_postgres() {
                    let (app, _moto) = super::s3_app(Db::Postgres).await;
                    super::$name(app).await;
                }
            }
        )*
    };
}

storage_tests!(
    uploaded_jpeg_is_served_reencoded_without_exif_or_gps,
    refused_uploads_are_400_and_store_nothing,
    only_admins_and_vendors_upload,
    product_shows_an_uploaded_picture_to_shoppers,
);

crate::api_tests!(
    consoles_list_products_active_or_not_vendors_their_own,
    an_upload_path_not_made_here_is_not_a_picture_url,
);

async fn folder_app(db: Db) -> TestApp {
    TestApp::spawn(db).await.expect("the test app starts")
}

/// A `moto_server` on a free port, killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server runs (pip install 'moto[server]'; .ci/run installs it)");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(&moto.endpoint).send().await.is_ok() {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not answer on {}", moto.endpoint);
}

async fn s3_app(db: Db) -> (TestApp, Moto) {
    let moto = start_moto().await;
    let bucket = format!("pictures-{}", unique());
    // moto takes unsigned requests: make the bucket the app writes into.
    let made = reqwest::Client::new()
        .put(format!("{}/{bucket}", moto.endpoint))
        .send()
        .await
        .expect("bucket created");
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let url = format!("s3://{bucket}/shop/pictures");
    let app = TestApp::spawn_with(
        db,
        &[
            ("STORAGE_URL", url.as_str()),
            ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ],
    )
    .await
    .expect("the test app starts");
    (app, moto)
}

/// Sends `file` as the multipart field `field` (with `filename`) to `POST /uploads/images`.
async fn upload_as(app: &TestApp, token: &str, field: &str, filename: &str, file: &[u8]) -> Resp {
    let boundary = format!("----cartwright{}", unique());
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post(app.url("/uploads/images"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload sent");
    read(response).await
}

async fn upload(app: &TestApp, token: &str, file: &[u8]) -> Resp {
    upload_as(app, token, "image", "picture.jpg", file).await
}

/// A plain JPEG of `width` x `height` with a gradient (so it is not all one colour).
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::new_rgb8(width, height)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

const SECRET_PLACE: &str = "Secret place 19.0760N 72.8777E";

/// An EXIF block (APP1) with an image description and a GPS IFD (latitude N 19° 4' 33.6"),
/// big-endian TIFF, built byte by byte.
fn exif_app1() -> Vec<u8> {
    let description = format!("{SECRET_PLACE}\0");
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a");
    tiff.extend_from_slice(&8u32.to_be_bytes());
    // IFD0 at 8: two entries, then the next-IFD offset; its data follows.
    let ifd0_len = 2 + 2 * 12 + 4;
    let description_at = 8 + ifd0_len;
    let gps_at = description_at + description.len();
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&kind.to_be_bytes());
        tiff.extend_from_slice(&count.to_be_bytes());
        tiff.extend_from_slice(&value.to_be_bytes());
    };
    tiff.extend_from_slice(&2u16.to_be_bytes());
    entry(
        &mut tiff,
        0x010e,
        2,
        description.len() as u32,
        description_at as u32,
    );
    entry(&mut tiff, 0x8825, 4, 1, gps_at as u32);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(description.as_bytes());
    // The GPS IFD: GPSLatitudeRef "N" (inline), GPSLatitude three rationals (after the IFD).
    let gps_len = 2 + 2 * 12 + 4;
    let latitude_at = gps_at + gps_len;
    tiff.extend_from_slice(&2u16.to_be_bytes());
    entry(&mut tiff, 0x0001, 2, 2, u32::from_be_bytes(*b"N\0\0\0"));
    entry(&mut tiff, 0x0002, 5, 3, latitude_at as u32);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    for (numerator, denominator) in [(19u32, 1u32), (4, 1), (336, 10)] {
        tiff.extend_from_slice(&numerator.to_be_bytes());
        tiff.extend_from_slice(&denominator.to_be_bytes());
    }
    let mut segment = vec![0xff, 0xe1];
    let length = (2 + 6 + tiff.len()) as u16;
    segment.extend_from_slice(&length.to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.extend_from_slice(&tiff);
    segment
}

/// A JPEG whose EXIF block carries GPS tags and a description naming a place.
fn jpeg_with_gps() -> Vec<u8> {
    let plain = jpeg(64, 48);
    assert_eq!(&plain[..2], &[0xff, 0xd8]);
    let mut tagged = plain[..2].to_vec();
    tagged.extend_from_slice(&exif_app1());
    tagged.extend_from_slice(&plain[2..]);
    tagged
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A PNG whose header claims `width` x `height` over a 1x1 picture's data: a decoder that
/// believed it would allocate width x height x 3 bytes.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1, 1);
    // Signature (8), IHDR length (4) and type (4): width and height follow.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    bytes
}

/// The stored picture at `url` as the browser gets it.
async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(app.url(url)).send().await.unwrap()
}

async fn uploaded_jpeg_is_served_reencoded_without_exif_or_gps(app: TestApp) {
    let tagged = jpeg_with_gps();
    assert!(contains(&tagged, b"Exif\0\0") && contains(&tagged, SECRET_PLACE.as_bytes()));
    let mut decoder = image::ImageReader::new(Cursor::new(&tagged))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    use image::ImageDecoder;
    assert!(
        decoder.exif_metadata().unwrap().is_some(),
        "the test picture carries EXIF"
    );

    let resp = upload(&app, &app.admin_token, &tagged).await.expect(201);
    let url = resp.data()["url"].as_str().unwrap().to_string();
    let thumb = resp.data()["thumbnailUrl"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("/uploads/") && url.ends_with("-large.jpg"),
        "{url}"
    );
    assert!(thumb.ends_with("-thumb.jpg"), "{thumb}");

    for served in [&url, &thumb] {
        let response = fetch(&app, served).await;
        assert_eq!(response.status(), 200, "{served}");
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        let cache = response.headers()["cache-control"].to_str().unwrap();
        assert!(cache.contains("max-age=31536000"), "{cache}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = response.bytes().await.unwrap();
        assert!(!contains(&body, b"Exif"), "{served} kept an EXIF block");
        assert!(
            !contains(&body, SECRET_PLACE.as_bytes()),
            "{served} kept the tags"
        );
        assert!(
            !contains(&body, &[0xff, 0xe1]),
            "{served} has an APP1 segment"
        );
        let picture = image::load_from_memory(&body).expect("a JPEG");
        assert_eq!((picture.width(), picture.height()), (64, 48));
    }
    assert_eq!(app.state.pictures.count().await.unwrap(), 2);

    // A large picture is scaled down; the thumbnail is small.
    let resp = upload(&app, &app.admin_token, &jpeg(3200, 1600))
        .await
        .expect(201);
    let large = fetch(&app, resp.data()["url"].as_str().unwrap()).await;
    let large = image::load_from_memory(&large.bytes().await.unwrap()).unwrap();
    assert_eq!((large.width(), large.height()), (1600, 800));
    let thumb = fetch(&app, resp.data()["thumbnailUrl"].as_str().unwrap()).await;
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (400, 200));

    // Names not made here, and made-up ones, are 404s.
    for missing in [
        "/uploads/0123456789abcdef0123456789abcdef-large.jpg",
        "/uploads/..%2F..%2Fetc%2Fpasswd",
        "/uploads/picture.svg",
    ] {
        assert_eq!(fetch(&app, missing).await.status(), 404, "{missing}");
    }
}

async fn refused_uploads_are_400_and_store_nothing(app: TestApp) {
    let admin = app.admin_token.clone();
    let mut over_size = jpeg(8, 8);
    over_size.resize(10 * 1024 * 1024 + 1, 0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"just some words, not a picture".to_vec()),
        (
            "an SVG",
            b"<svg xmlns='http://www.w3.org/2000/svg'></svg>".to_vec(),
        ),
        ("a GIF", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        (
            "a JPEG header and nothing else",
            vec![0xff, 0xd8, 0xff, 0xe0, 0, 16],
        ),
        ("over 6000 px wide", png(6001, 1)),
        ("over 6000 px high", png(1, 6001)),
        ("a decompression bomb", png_claiming(100_000, 100_000)),
        ("a bomb within the side limit", png_claiming(6000, 6000)),
        ("over 10 MB", over_size),
        ("empty", Vec::new()),
    ];
    for (what, file) in cases {
        let resp = upload(&app, &admin, &file).await;
        assert_eq!(resp.status.as_u16(), 400, "{what}: {}", resp.body);
        assert_eq!(
            resp.body["errors"][0]["field"], "image",
            "{what}: {}",
            resp.body
        );
    }
    // The form itself: another field name, or not multipart at all.
    upload_as(&app, &admin, "picture", "a.jpg", &jpeg(8, 8))
        .await
        .expect(400);
    app.post("/uploads/images", Some(&admin), json!({"image": "x"}))
        .await
        .expect(400);
    assert_eq!(
        app.state.pictures.count().await.unwrap(),
        0,
        "a refused upload stored nothing"
    );
}

async fn only_admins_and_vendors_upload(app: TestApp) {
    let (_, customer) = app.customer("Curious").await;
    let (_, vendor) = app.user_with_role("Maker", "vendor").await;
    let file = jpeg(32, 32);
    upload(&app, &customer, &file).await.expect(403);
    let resp = app
        .client
        .post(app.url("/uploads/images"))
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(read(resp).await.status, 401);
    assert_eq!(app.state.pictures.count().await.unwrap(), 0);
    upload(&app, &vendor, &file).await.expect(201);
    upload(&app, &app.admin_token, &png(16, 16))
        .await
        .expect(201);
    assert_eq!(app.state.pictures.count().await.unwrap(), 4);
}

async fn product_shows_an_uploaded_picture_to_shoppers(app: TestApp) {
    let (_, vendor) = app.user_with_role("Potter", "vendor").await;
    let url = upload(&app, &vendor, &jpeg(120, 90))
        .await
        .expect(201)
        .data()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let id = app
        .product_by(
            &vendor,
            json!({"name": "Blue Mug", "price": 250, "stock": 3, "imageUrls": [url]}),
        )
        .await;
    let shown = app.get(&format!("/products/{id}"), None).await.expect(200);
    assert_eq!(shown.data()["imageUrls"], json!([url]));
    let picture = fetch(&app, &url).await;
    assert_eq!(picture.status(), 200);
    assert!(image::load_from_memory(&picture.bytes().await.unwrap()).is_ok());
}

async fn an_upload_path_not_made_here_is_not_a_picture_url(app: TestApp) {
    for bad in [
        "/uploads/../admin",
        "/uploads/evil.svg",
        "/etc/passwd",
        "/uploads/0123456789abcdef0123456789abcdef-large.gif",
    ] {
        let resp = app
            .post(
                "/products",
                Some(&app.admin_token),
                json!({"name": "Odd", "price": 1, "stock": 1, "imageUrls": [bad]}),
            )
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "imageUrls", "{bad}");
    }
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn consoles_list_products_active_or_not_vendors_their_own(app: TestApp) {
    let (vendor_id, vendor) = app.user_with_role("Weaver", "vendor").await;
    let (other_id, other) = app.user_with_role("Smith", "vendor").await;
    let (_, customer) = app.customer("Browser").await;
    app.product_by(&vendor, json!({"name": "Rug", "price": 10, "stock": 1}))
        .await;
    app.product_by(
        &vendor,
        json!({"name": "Old Rug", "price": 10, "stock": 1, "isActive": false}),
    )
    .await;
    app.product_by(&other, json!({"name": "Anvil", "price": 99, "stock": 1}))
        .await;
    app.product("Shop Soap", 2.0, 5).await;

    let mine = app.get("/products/manage", Some(&vendor)).await.expect(200);
    assert_eq!(names(mine.data()), ["Old Rug", "Rug"]);
    assert_eq!(mine.data()["pagination"]["totalItems"], 2);
    let inactive = app
        .get("/products/manage?status=inactive", Some(&vendor))
        .await
        .expect(200);
    assert_eq!(names(inactive.data()), ["Old Rug"]);
    app.get(
        &format!("/products/manage?vendorId={other_id}"),
        Some(&vendor),
    )
    .await
    .expect(403);
    app.get(
        &format!("/products/manage?vendorId={vendor_id}"),
        Some(&vendor),
    )
    .await
    .expect(200);

    let all = app
        .get("/products/manage?limit=100", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(names(all.data()), ["Anvil", "Old Rug", "Rug", "Shop Soap"]);
    let one = app
        .get(
            &format!("/products/manage?vendorId={other_id}"),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    assert_eq!(names(one.data()), ["Anvil"]);
    let searched = app
        .get(
            "/products/manage?search=rug&status=active",
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    assert_eq!(names(searched.data()), ["Rug"]);
    app.get("/products/manage?status=gone", Some(&app.admin_token))
        .await
        .expect(400);

    app.get("/products/manage", Some(&customer))
        .await
        .expect(403);
    app.get("/products/manage", None).await.expect(401);
    // The public catalog still shows active products only.
    let catalog = app.get("/products?limit=100", None).await.expect(200);
    assert_eq!(names(catalog.data()), ["Anvil", "Rug", "Shop Soap"]);
}
