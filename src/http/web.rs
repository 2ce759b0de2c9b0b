//! The three browser apps (CONTRACT §8): the storefront at `/`, the vendor desk at `/vendor` and
//! the admin console at `/admin`. Their files live in `web/` and are embedded in the binary.
//!
//! Every file is read, gzipped and hashed once when the router is built, so a request only picks
//! a prepared body. The apps route with the URL fragment (`/vendor#/orders`), so no app URL can
//! collide with an API path (`/vendor/orders` stays the API) and a reload always lands on the page.
//!
//! Caching: scripts and styles are served under `/assets/<build>/...`, where `<build>` is a hash of
//! every embedded file, so they are `immutable` for a year and a new build changes every URL; the
//! pages themselves are `no-cache` with an `ETag`, so a browser revalidates them (a 304 costs one
//! round trip). Unversioned files (the demo product images stored in the catalog as
//! `/assets/demo/<name>.svg`) get an `ETag` and a one-week lifetime: they never change within a
//! release, and the catalog stores their URLs, so they cannot carry the build hash.
//!
//! Every page and asset carries a strict Content-Security-Policy: nothing inline, everything from
//! this origin, plus Razorpay Checkout's origins only when that gateway is configured.

use super::AppState;
use crate::config::{Config, GatewayKind};
use axum::extract::Path;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Files;

/// The placeholder in the pages that becomes the build hash.
const BUILD_PLACEHOLDER: &str = "__BUILD__";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const SHORT: &str = "public, max-age=604800";
const PAY_FRAME: &str = "shop/pay-frame.html";

/// One prepared file: its type, plain and gzipped bodies (gzip only when it is smaller) and ETag.
struct Prepared {
    content_type: &'static str,
    plain: Vec<u8>,
    gzip: Option<Vec<u8>>,
    etag: HeaderValue,
}

struct Site {
    build: String,
    csp: HeaderValue,
    frame_csp: HeaderValue,
    /// Keyed by the path inside `web/` (e.g. `shop/index.html`, `lib/api.js`).
    files: HashMap<String, Prepared>,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "webp" => "image/webp",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("svg")
        || content_type.contains("json")
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

fn prepare(path: &str, plain: Vec<u8>) -> Prepared {
    let content_type = content_type(path);
    let gzip = compressible(content_type)
        .then(|| gzip(&plain))
        .filter(|z| z.len() < plain.len());
    let digest = Sha256::digest(&plain);
    let etag = HeaderValue::from_str(&format!("\"{}\"", &hex::encode(digest)[..20]))
        .expect("hex is a valid header value");
    Prepared {
        content_type,
        plain,
        gzip,
        etag,
    }
}

/// The sandbox `/pay-frame` puts itself in, the same as the shop's `<iframe sandbox>`
/// (web/shop/order.js): scripts (Razorpay Checkout), its card form, its popups (3-D Secure, UPI
/// and bank pages, which must leave the sandbox to work) and its alerts, but never
/// `allow-same-origin`: the frame keeps an opaque origin even when opened on its own, so it can
/// reach neither the shop's cookie nor its storage.
pub const PAY_FRAME_SANDBOX: &str =
    "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals";

/// The Content-Security-Policy for this configuration. `framed_by_self` is for the one page the
/// shop itself frames: the sandboxed Razorpay Checkout host (`/pay-frame`), which also sandboxes
/// itself rather than rely on its parent's attribute.
pub fn content_security_policy(config: &Config, framed_by_self: bool) -> String {
    let ancestors = if framed_by_self { "'self'" } else { "'none'" };
    let razorpay = matches!(config.gateway, GatewayKind::Razorpay);
    let (script, connect, frame) = if razorpay {
        (
            " https://checkout.razorpay.com",
            " https://api.razorpay.com https://lumberjack.razorpay.com",
            "'self' https://api.razorpay.com https://checkout.razorpay.com",
        )
    } else {
        ("", "", "'none'")
    };
    let sandbox = if framed_by_self {
        format!("; {PAY_FRAME_SANDBOX}")
    } else {
        String::new()
    };
    format!(
        "default-src 'self'; script-src 'self'{script}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{connect}; frame-src {frame}; frame-ancestors {ancestors}; base-uri 'none'; \
         form-action 'self'; object-src 'none'{sandbox}"
    )
}

impl Site {
    fn build(config: &Config) -> Site {
        let mut hasher = Sha256::new();
        let mut names: Vec<String> = Files::iter().map(|n| n.into_owned()).collect();
        names.sort();
        let mut raw = Vec::new();
        for name in names {
            let Some(file) = Files::get(&name) else {
                continue;
            };
            hasher.update(name.as_bytes());
            hasher.update(file.metadata.sha256_hash());
            raw.push((name, file.data.into_owned()));
        }
        let build = hex::encode(hasher.finalize())[..12].to_string();
        let gateway = match config.gateway {
            GatewayKind::Razorpay => "razorpay",
            GatewayKind::Simulated => "simulated",
        };
        let files = raw
            .into_iter()
            .map(|(name, data)| {
                let data = if name.ends_with(".html") {
                    String::from_utf8_lossy(&data)
                        .replace(BUILD_PLACEHOLDER, &build)
                        .replace("__CURRENCY__", &config.currency)
                        .replace("__GATEWAY__", gateway)
                        .into_bytes()
                } else {
                    data
                };
                let prepared = prepare(&name, data);
                (name, prepared)
            })
            .collect();
        let policy = |framed| {
            HeaderValue::from_str(&content_security_policy(config, framed))
                .expect("the policy is plain ASCII")
        };
        Site {
            build,
            csp: policy(false),
            frame_csp: policy(true),
            files,
        }
    }

    fn serve(&self, name: &str, cache: &'static str, request: &HeaderMap) -> Response {
        let Some(file) = self.files.get(name) else {
            return self.not_found();
        };
        let mut headers = self.security_headers();
        if name == PAY_FRAME {
            headers.insert(CONTENT_SECURITY_POLICY, self.frame_csp.clone());
            headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(ETAG, file.etag.clone());
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        let matches = request
            .get(IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == file.etag)
            });
        if matches {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(file.content_type));
        let accepts_gzip = request
            .get(ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',').any(|e| {
                    let mut parts = e.split(';');
                    let name = parts.next().unwrap_or("").trim();
                    let refused = parts.any(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            == Some(0.0)
                    });
                    (name == "gzip" || name == "*") && !refused
                })
            });
        let body = match (&file.gzip, accepts_gzip) {
            (Some(z), true) => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                z.clone()
            }
            _ => file.plain.clone(),
        };
        (StatusCode::OK, headers, body).into_response()
    }

    fn security_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers
    }

    fn not_found(&self) -> Response {
        let mut headers = self.security_headers();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        (StatusCode::NOT_FOUND, headers, "Not found").into_response()
    }

    /// An asset by its URL path after `/assets/`: `<build>/<file>` or an unversioned file.
    fn asset(&self, path: &str, request: &HeaderMap) -> Response {
        if path.contains("..") || path.ends_with(".html") {
            return self.not_found();
        }
        match path.split_once('/') {
            Some((build, rest)) if build == self.build => self.serve(rest, IMMUTABLE, request),
            // An older build's URL: serve today's file, but let it be revalidated.
            Some((build, rest))
                if build.len() == self.build.len()
                    && build.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                self.serve(rest, REVALIDATE, request)
            }
            _ => self.serve(path, SHORT, request),
        }
    }
}

/// The pages and their assets; not part of the OpenAPI document.
pub fn router(config: &Config) -> Router<AppState> {
    let site = Arc::new(Site::build(config));
    let page = |name: &'static str| {
        let site = site.clone();
        get(move |headers: HeaderMap| async move { site.serve(name, REVALIDATE, &headers) })
    };
    let assets = {
        let site = site.clone();
        get(
            move |Path(path): Path<String>, headers: HeaderMap| async move {
                site.asset(&path, &headers)
            },
        )
    };
    Router::new()
        .route("/", page("shop/index.html"))
        .route("/index.html", page("shop/index.html"))
        .route("/vendor", page("vendor/index.html"))
        .route("/vendor/", page("vendor/index.html"))
        .route("/admin", page("admin/index.html"))
        .route("/admin/", page("admin/index.html"))
        .route("/pay-frame", page(PAY_FRAME))
        .route("/favicon.ico", page("lib/icon.svg"))
        .route("/assets/{*path}", assets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_points_at_existing_assets() {
        let config = Config::from_lookup(&|_| None).expect("defaults are valid");
        let site = Site::build(&config);
        for page in [
            "shop/index.html",
            "vendor/index.html",
            "admin/index.html",
            PAY_FRAME,
        ] {
            let html = String::from_utf8(site.files[page].plain.clone()).unwrap();
            assert!(!html.contains(BUILD_PLACEHOLDER), "{page}");
            for part in html.split(&format!("/assets/{}/", site.build)).skip(1) {
                let name = part.split('"').next().unwrap();
                assert!(site.files.contains_key(name), "{page} links {name}");
            }
            for banned in ["style=", "<script>", "onclick", "onload"] {
                assert!(!html.contains(banned), "{page} has {banned}");
            }
        }
    }

    #[test]
    fn policy_admits_razorpay_only_in_razorpay_mode() {
        let simulated = Config::from_lookup(&|_| None).unwrap();
        let policy = content_security_policy(&simulated, false);
        assert!(policy.contains("script-src 'self';"));
        assert!(!policy.contains("razorpay"));
        assert!(policy.contains("frame-ancestors 'none'"));
        let razorpay = Config::from_lookup(&|name| match name {
            "RAZORPAY_KEY_ID" => Some("rzp_test_key".into()),
            "RAZORPAY_KEY_SECRET" => Some("secret".into()),
            "RAZORPAY_WEBHOOK_SECRET" => Some("hook".into()),
            _ => None,
        })
        .unwrap();
        let policy = content_security_policy(&razorpay, false);
        assert!(policy.contains("script-src 'self' https://checkout.razorpay.com;"));
        assert!(policy.contains("frame-src 'self' https://api.razorpay.com"));
        assert!(content_security_policy(&razorpay, true).contains("frame-ancestors 'self'"));
        for framed in [&simulated, &razorpay] {
            let policy = content_security_policy(framed, true);
            assert!(policy.ends_with(PAY_FRAME_SANDBOX), "{policy}");
            assert!(!policy.contains("allow-same-origin"));
        }
        assert!(!content_security_policy(&razorpay, false).contains("sandbox"));
    }
}
