//! Product pictures (CONTRACT §8): `POST /uploads/images` (admins and vendors) takes one file,
//! `image`, which `crate::app::pictures` checks, re-encodes and stores; `GET /uploads/<name>`
//! serves a stored picture from whichever storage is configured, with long-lived caching.

use super::extract::{Envelope, Reply};
use super::roles::Editor;
use super::AppState;
use crate::app::pictures::MAX_FILE_BYTES;
use crate::error::{Error, ErrorBody, Result};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The body limit of an upload: the largest file plus room for the form's framing. Bodies past
/// it are a 413; files between `MAX_FILE_BYTES` and this are a 400 naming the limit.
pub const UPLOAD_BODY_LIMIT: usize = MAX_FILE_BYTES + 2 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_image))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

/// Serving the stored pictures; not part of the OpenAPI document (like the apps' assets).
pub fn files_router() -> Router<AppState> {
    Router::new().route("/uploads/{name}", get(serve_picture))
}

/// The form of `POST /uploads/images`.
#[allow(dead_code)] // Describes the multipart body for the OpenAPI document only.
#[derive(ToSchema)]
pub struct ImageUpload {
    /// A JPEG, PNG or WebP file of at most 10 MB and 6000x6000 pixels.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadedImage {
    /// The large size (at most 1600 px a side), for a product's `imageUrls`.
    pub url: String,
    /// The thumbnail (at most 400 px a side).
    pub thumbnail_url: String,
}

fn form_error(message: impl Into<String>) -> Error {
    Error::invalid("image", message, serde_json::Value::Null)
}

/// Upload a product picture (admin or vendor). It is decoded and re-encoded (metadata such as a
/// GPS location is dropped) in a large size and a thumbnail.
#[utoipa::path(post, path = "/uploads/images", tag = "products", security(("bearer" = [])),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored; `url` is the large size", body = Envelope<UploadedImage>),
        (status = 400, description = "No `image` file, not a JPEG/PNG/WebP picture, over 10 MB or 6000x6000 px, or a decompression bomb; nothing is stored", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin or vendor", body = ErrorBody),
        (status = 413, description = "Request body over 12 MiB", body = ErrorBody),
    ))]
async fn upload_image(
    State(state): State<AppState>,
    _: Editor,
    form: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Reply<UploadedImage>> {
    let mut form =
        form.map_err(|_| form_error("must be sent as multipart/form-data with a file `image`"))?;
    let mut bytes = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e.status())),
        };
        if field.name() != Some("image") {
            continue;
        }
        if bytes.is_some() {
            return Err(form_error("must be one file"));
        }
        let data = field
            .bytes()
            .await
            .map_err(|e| multipart_error(e.status()))?;
        bytes = Some(data.to_vec());
    }
    let bytes = bytes.ok_or_else(|| form_error("is required: send one file named `image`"))?;
    if bytes.is_empty() {
        return Err(form_error("is empty"));
    }
    let name = state.pictures.save(bytes).await?;
    let thumbnail = name.replacen("-large.", "-thumb.", 1);
    Ok(Reply::created(
        "Image uploaded successfully",
        UploadedImage {
            url: format!("/uploads/{name}"),
            thumbnail_url: format!("/uploads/{thumbnail}"),
        },
    ))
}

fn multipart_error(status: StatusCode) -> Error {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(UPLOAD_BODY_LIMIT)
    } else {
        form_error("the form could not be read")
    }
}

async fn serve_picture(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let found = match state.pictures.fetch(&name).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let Some((body, content_type)) = found else {
        return Error::not_found("Picture").into_response();
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A name is never reused for other pixels: cache it for a year.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
