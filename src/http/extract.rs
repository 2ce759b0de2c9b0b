//! Request extractors whose every rejection is the JSON error envelope (CONTRACT §2), and the
//! success envelope.

use crate::error::{Error, ErrorCode, FieldError};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

/// The largest request body accepted (CONTRACT §2: 1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// `{"success": true, "message": ..., "data": ...}` with a status code.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub message: String,
    pub data: T,
}

pub struct Reply<T> {
    status: StatusCode,
    body: Envelope<T>,
}

impl<T> Reply<T> {
    pub fn ok(message: impl Into<String>, data: T) -> Self {
        Reply {
            status: StatusCode::OK,
            body: Envelope {
                success: true,
                message: message.into(),
                data,
            },
        }
    }

    pub fn created(message: impl Into<String>, data: T) -> Self {
        Reply {
            status: StatusCode::CREATED,
            ..Reply::ok(message, data)
        }
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        use axum::http::header::{HeaderValue, CONTENT_TYPE};
        // Most answers fit in 1 KiB: one allocation rather than a doubling from axum's 128 bytes.
        let mut body = Vec::with_capacity(1024);
        match serde_json::to_writer(&mut body, &self.body) {
            Ok(()) => (
                self.status,
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response(),
            Err(err) => {
                Error::Internal(anyhow::anyhow!("serializing a reply: {err}")).into_response()
            }
        }
    }
}

/// JSON body extractor: wrong content type, malformed JSON, wrong field types, NUL characters and
/// oversized bodies all become envelope errors.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_content = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !json_content {
            return Err(Error::bad_request("Content-Type must be application/json"));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        let value = axum::Json::<T>::from_bytes(&bytes).map_err(json_rejection)?;
        if has_escaped_nul(&bytes) {
            return Err(nul_error("body"));
        }
        Ok(ApiJson(value.0))
    }
}

/// `application/json` or any `application/*+json`, parameters (charset) allowed, as axum's `Json`.
fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether a JSON text holds the escape `\u0000` (a raw NUL byte is already invalid JSON). A
/// backslash that is itself escaped (`\\u0000`) is plain text, so the run of backslashes before
/// `u0000` must be odd.
fn has_escaped_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000"
            && json[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// PostgreSQL cannot store U+0000 in text and no field of this API has a use for it, so it is
/// refused at the edge, the same on both databases, instead of failing inside a query.
fn nul_error(field: &str) -> Error {
    Error::invalid(
        field,
        "must not contain NUL (U+0000) characters",
        serde_json::Value::Null,
    )
}

/// The raw request body (webhooks verify signatures over exact bytes), with the 413 and unreadable
/// body rejections in the envelope.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Error::PayloadTooLarge(MAX_BODY_BYTES)
                } else {
                    Error::bad_request(format!(
                        "Unreadable request body: {}",
                        rejection.body_text()
                    ))
                }
            })
    }
}

fn json_rejection(rejection: JsonRejection) -> Error {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            Error::bad_request("Content-Type must be application/json")
        }
        JsonRejection::JsonSyntaxError(err) => {
            Error::bad_request(format!("Malformed JSON: {}", inner_message(&err)))
        }
        JsonRejection::JsonDataError(err) => {
            let detail = inner_message(&err);
            if let Some(error) = BodyError::read(&detail) {
                return error;
            }
            Error::Validation {
                code: ErrorCode::ValidationFailed,
                message: format!("Invalid request body: {detail}"),
                errors: vec![FieldError::new(
                    field_of(&detail),
                    detail.clone(),
                    serde_json::Value::Null,
                )],
            }
        }
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::PayloadTooLarge(MAX_BODY_BYTES)
        }
        other => Error::bad_request(format!("Unreadable request body: {}", other.body_text())),
    }
}

/// A 400 raised by a request type that checks its own fields while it is deserialized (through
/// `#[serde(try_from = ...)]`). serde carries only text, so its `Display` writes a tag and the
/// envelope as JSON, and `json_rejection` reads it back: the client gets the envelope the type
/// built, message and field errors as they were, not serde's wording.
#[derive(Debug)]
pub struct BodyError {
    message: String,
    errors: Vec<FieldError>,
}

const BODY_ERROR_TAG: &str = "\u{1}cartwright-body-error:";

impl BodyError {
    /// The envelope a tagged serde message carries, if it carries one.
    fn read(detail: &str) -> Option<Error> {
        let (_, tagged) = detail.split_once(BODY_ERROR_TAG)?;
        // serde_json appends " at line 1 column 42": read the first JSON value only.
        let body = serde_json::Deserializer::from_str(tagged)
            .into_iter::<serde_json::Value>()
            .next()?
            .ok()?;
        let errors = body["errors"]
            .as_array()?
            .iter()
            .map(|e| {
                Some(FieldError::new(
                    e["field"].as_str()?,
                    e["message"].as_str()?,
                    e["value"].clone(),
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Error::Validation {
            code: ErrorCode::ValidationFailed,
            message: body["message"].as_str()?.to_string(),
            errors,
        })
    }
}

impl From<Error> for BodyError {
    fn from(error: Error) -> Self {
        match error {
            Error::Validation {
                message, errors, ..
            } => BodyError { message, errors },
            // Parsing a body raises nothing but 400s; anything else is shown as one.
            other => BodyError {
                message: other.to_string(),
                errors: Vec::new(),
            },
        }
    }
}

impl From<crate::domain::error::DomainError> for BodyError {
    fn from(error: crate::domain::error::DomainError) -> Self {
        Error::from(error).into()
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = serde_json::json!({"message": self.message, "errors": self.errors});
        write!(f, "{BODY_ERROR_TAG}{body}")
    }
}

/// serde's message without axum's "Failed to deserialize the JSON body into the target type" prefix.
fn inner_message(err: &dyn std::error::Error) -> String {
    let mut source = err.source();
    let mut last = err.to_string();
    while let Some(inner) = source {
        last = inner.to_string();
        source = inner.source();
    }
    last
}

/// Serde names the failing path first ("quantity: invalid type..."); use it as the field.
fn field_of(detail: &str) -> String {
    match detail.split_once(": ") {
        Some((path, _)) if !path.contains(' ') => path.to_string(),
        _ => detail
            .split('`')
            .nth(1)
            .filter(|_| detail.starts_with("missing field"))
            .unwrap_or("body")
            .to_string(),
    }
}

/// Query-string extractor with envelope errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // In a valid query string every `%` starts an escape, so `%00` is exactly a NUL.
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(nul_error("query"));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection: QueryRejection| {
                let detail = inner_message(&rejection);
                Error::Validation {
                    code: ErrorCode::ValidationFailed,
                    message: format!("Invalid query string: {detail}"),
                    errors: vec![FieldError::new(
                        field_of(&detail),
                        detail.clone(),
                        serde_json::Value::Null,
                    )],
                }
            })
    }
}

/// Path-parameter extractor with envelope errors.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.path().contains("%00") {
            return Err(nul_error("path"));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|rejection: PathRejection| {
                Error::bad_request(format!("Invalid path: {}", inner_message(&rejection)))
            })
    }
}

/// Query parameters `page` and `limit` (CONTRACT §2), checked: page >= 1, limit 1..=100.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    pub page: Option<String>,
    /// Items per page, 1..100 (default 10).
    pub limit: Option<String>,
}

impl PageParams {
    pub fn checked(&self) -> Result<crate::store::PageRequest, Error> {
        page_request(self.page.as_deref(), self.limit.as_deref())
    }
}

/// `page` (from 1) and `limit` (1..=100, default 10) from their raw query values.
pub fn page_request(
    page: Option<&str>,
    limit: Option<&str>,
) -> Result<crate::store::PageRequest, Error> {
    Ok(crate::store::PageRequest {
        page: parse_bounded("page", page, 1, 1, 1_000_000)?,
        limit: parse_bounded("limit", limit, 10, 1, 100)?,
    })
}

/// Parses an optional integer query value within bounds; out of range is a 400 naming the field.
pub fn parse_bounded(
    field: &str,
    raw: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, Error> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Error::invalid(
            field,
            format!("must be a whole number from {min} to {max}"),
            raw,
        )),
    }
}

/// `pagination` of list responses (CONTRACT §2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: i64,
    pub total_pages: i64,
    pub total_items: i64,
    pub has_next: bool,
    pub has_prev: bool,
}

impl Pagination {
    pub fn new(page: crate::store::PageRequest, total_items: i64) -> Self {
        let total_pages = if total_items == 0 {
            0
        } else {
            (total_items + page.limit - 1) / page.limit
        };
        Pagination {
            current_page: page.page,
            total_pages,
            total_items,
            has_next: page.page < total_pages,
            has_prev: page.page > 1,
        }
    }
}

/// Trimmed text of at most `max` characters; blank or absent is `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, Error> {
    crate::domain::text::optional_text(value, max)
        .map(|v| v.map(str::to_string))
        .map_err(|too_long| Error::invalid(field, too_long.problem(), too_long.value))
}

/// An optional `reason` (cancellation, a decision on a return): at most 200 characters.
pub fn optional_reason(value: Option<&str>) -> Result<Option<String>, Error> {
    optional_text("reason", value, crate::domain::text::MAX_REASON_CHARS)
}

/// `sortOrder` of the list routes: `Some(true)` for `desc`, `Some(false)` for `asc`, `None` when
/// absent or empty (each list has its own default). Callers normalize case and spaces first.
pub fn sort_descending(value: Option<&str>) -> Result<Option<bool>, Error> {
    match value {
        None | Some("") => Ok(None),
        Some("desc") => Ok(Some(true)),
        Some("asc") => Ok(Some(false)),
        Some(other) => Err(Error::invalid("sortOrder", "must be asc or desc", other)),
    }
}

/// A JSON body that may be left out entirely (an empty body gives `T::default()`); a body that is
/// present is checked like `ApiJson`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| Error::PayloadTooLarge(MAX_BODY_BYTES))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|j| OptionalJson(j.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nul_is_found_unless_its_backslash_is_escaped() {
        assert!(has_escaped_nul(br#"{"name": "a\u0000b"}"#));
        assert!(has_escaped_nul(br#"{"a\u0000": 1}"#));
        assert!(has_escaped_nul(br#"{"name": "\\\u0000"}"#));
        assert!(!has_escaped_nul(br#"{"name": "a\\u0000b"}"#));
        assert!(!has_escaped_nul(br#"{"name": "u0000 \u0001"}"#));
    }

    #[test]
    fn a_body_error_survives_serde_and_comes_back_as_its_envelope() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(try_from = "serde_json::Value")]
        struct Even;
        impl TryFrom<serde_json::Value> for Even {
            type Error = BodyError;
            fn try_from(value: serde_json::Value) -> Result<Self, BodyError> {
                match value.as_i64() {
                    Some(n) if n % 2 == 0 => Ok(Even),
                    _ => Err(Error::invalid("n", "must be even", value).into()),
                }
            }
        }
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            #[allow(dead_code)]
            n: Even,
        }
        assert!(axum::Json::<Body>::from_bytes(br#"{"n": 2}"#).is_ok());
        let rejection = axum::Json::<Body>::from_bytes(br#"{"n": 3}"#).unwrap_err();
        match json_rejection(rejection) {
            Error::Validation {
                code,
                message,
                errors,
            } => {
                assert_eq!(code, ErrorCode::ValidationFailed);
                assert_eq!(message, "Validation failed: must be even");
                assert_eq!(errors, vec![FieldError::new("n", "must be even", 3)]);
            }
            other => panic!("{other:?}"),
        }
        // A plain serde error keeps serde's wording.
        let rejection = axum::Json::<Body>::from_bytes(br#"{}"#).unwrap_err();
        match json_rejection(rejection) {
            Error::Validation { message, .. } => {
                assert_eq!(
                    message,
                    "Invalid request body: missing field `n` at line 1 column 2"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_content_types_are_recognised_as_axum_does() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/jsonx"));
        assert!(!is_json_content_type("text/json"));
    }
}
