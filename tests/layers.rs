//! The layers' imports run one way (STYLE.md): the domain knows nothing of HTTP, SQL, the gateway
//! client or the rest of the crate, persistence never reaches into HTTP or the workflows, and
//! background jobs never into HTTP. Checked on the source text, so a stray `use` fails the tests
//! rather than waiting for a review.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    files
}

/// The code of a line, without its `//` comment (doc comments may name other layers).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// `file:line: text` for each line of the files under `src/<layer>` that mentions a forbidden
/// path.
fn offences(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let mut found = Vec::new();
    for file in sources(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = code(line);
            if forbidden.iter().any(|path| mentions(code, path)) {
                found.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

/// Whether `code` names `path` as a path: `path::`, `use path`, `path::{`, not a longer
/// identifier that merely starts with it (`sqlx_like`) or a string literal.
fn mentions(code: &str, path: &str) -> bool {
    let mut rest = code;
    while let Some(at) = rest.find(path) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + path.len()..].chars().next();
        let starts_path = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '"'));
        let ends_path = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if starts_path && ends_path {
            return true;
        }
        rest = &rest[at + path.len()..];
    }
    false
}

#[test]
fn the_domain_uses_no_http_sql_or_gateway_client() {
    let found = offences(
        "domain",
        &[
            "axum",
            "sqlx",
            "reqwest",
            "crate::http",
            "crate::error",
            "crate::config",
            "crate::store",
            "crate::app",
            "crate::payments",
            "crate::jobs",
        ],
    );
    assert!(
        found.is_empty(),
        "the domain reaches out of its layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_store_never_reaches_into_http_or_the_workflows() {
    let found = offences("store", &["crate::http", "crate::app", "crate::jobs"]);
    assert!(
        found.is_empty(),
        "the store reaches out of its layer:\n{}",
        found.join("\n")
    );
}

/// Jobs call the workflows of `crate::app`, never HTTP handlers.
#[test]
fn jobs_never_reach_into_http() {
    let found = offences("jobs", &["crate::http"]);
    assert!(
        found.is_empty(),
        "jobs reach into http:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_mention_is_a_path_not_a_longer_name() {
    assert!(mentions("use axum::Router;", "axum"));
    assert!(mentions("impl sqlx::Type<Sqlite> for X", "sqlx"));
    assert!(mentions(
        "use crate::http::auth::check_phone;",
        "crate::http"
    ));
    assert!(!mentions("let sqlx_like = 1;", "sqlx"));
    assert!(!mentions("use crate::httpx;", "crate::http"));
}
