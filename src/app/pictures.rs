//! Product pictures (CONTRACT §8): an upload is decoded under limits and re-encoded, so nothing
//! of the sender's file but its pixels survives (EXIF, GPS, comments, colour profiles), then kept
//! in two sizes in one storage interface (`object_store`: a local folder for one node, an
//! S3-compatible bucket for several). The binary serves them under `/uploads/<name>`.

use crate::config::{PictureStorage, S3Settings};
use crate::error::{Error, Result};
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};
use std::io::Cursor;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The largest file accepted: 10 MiB.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The largest width and height accepted.
pub const MAX_SIDE: u32 = 6000;
/// Longest side of the two stored sizes.
pub const LARGE_SIDE: u32 = 1600;
pub const THUMB_SIDE: u32 = 400;
/// What one decode may allocate: a full-size RGBA picture and a little more. A file whose header
/// promises more (a decompression bomb) is refused before its pixels are inflated.
const MAX_DECODE_ALLOC: u64 = (MAX_SIDE as u64) * (MAX_SIDE as u64) * 4 + 16 * 1024 * 1024;
/// Decodes at once per node: each may hold up to `MAX_DECODE_ALLOC` bytes.
const DECODES_AT_ONCE: usize = 2;

/// The stored sizes of one picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Large,
    Thumb,
}

impl Size {
    fn suffix(self) -> &'static str {
        match self {
            Size::Large => "large",
            Size::Thumb => "thumb",
        }
    }
}

/// How a picture is stored: JPEG, or PNG when it has transparency to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Jpeg,
    Png,
}

impl Encoding {
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Jpeg => "jpg",
            Encoding::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Jpeg => "image/jpeg",
            Encoding::Png => "image/png",
        }
    }

    fn of_name(name: &str) -> Option<Encoding> {
        match name.rsplit_once('.')?.1 {
            "jpg" => Some(Encoding::Jpeg),
            "png" => Some(Encoding::Png),
            _ => None,
        }
    }
}

/// A picture re-encoded in both sizes, ready to store.
#[derive(Debug)]
pub struct Processed {
    pub encoding: Encoding,
    pub large: Vec<u8>,
    pub thumb: Vec<u8>,
}

fn refused(message: impl Into<String>) -> Error {
    Error::invalid("image", message, serde_json::Value::Null)
}

/// Decodes `bytes` (JPEG, PNG or WebP, by content, never by name) within the limits and re-encodes
/// a large size and a thumbnail. CPU work: run it off the async threads.
pub fn process(bytes: &[u8]) -> Result<Processed> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(refused(format!(
            "must be at most {} MB",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    let not_a_picture = || refused("must be a JPEG, PNG or WebP picture");
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_a_picture())?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        _ => return Err(not_a_picture()),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            refused(format!("must be at most {MAX_SIDE}x{MAX_SIDE} pixels"))
        }
        _ => refused("could not be read as a JPEG, PNG or WebP picture"),
    })?;
    let encoding = if picture.color().has_alpha() {
        Encoding::Png
    } else {
        Encoding::Jpeg
    };
    let large = if picture.width() > LARGE_SIDE || picture.height() > LARGE_SIDE {
        picture.resize(
            LARGE_SIDE,
            LARGE_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        picture
    };
    // `thumbnail` fits the picture into the box, enlarging a small one: never enlarge.
    let thumb = if large.width() > THUMB_SIDE || large.height() > THUMB_SIDE {
        large.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        large.clone()
    };
    Ok(Processed {
        encoding,
        large: encode(&large, encoding)?,
        thumb: encode(&thumb, encoding)?,
    })
}

/// Writes only pixels: the encoders of `image` add no metadata of the source.
fn encode(picture: &DynamicImage, encoding: Encoding) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    match encoding {
        Encoding::Jpeg => {
            let rgb = picture.to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
                .encode_image(&rgb)
                .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a JPEG: {e}")))?;
        }
        Encoding::Png => picture
            .to_rgba8()
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a PNG: {e}")))?,
    }
    Ok(out.into_inner())
}

/// The picture storage of this node.
pub struct Pictures {
    store: Arc<dyn ObjectStore>,
    decodes: Semaphore,
}

impl Pictures {
    /// Opens the configured storage.
    pub fn open(storage: &PictureStorage) -> anyhow::Result<Pictures> {
        let store: Arc<dyn ObjectStore> = match storage {
            PictureStorage::Folder(dir) => {
                // The folder is made by the first upload (`put` creates it), so a node that never
                // takes one, or starts on a full or read-only disk, is not stopped by it.
                let dir = std::path::absolute(dir).map_err(|e| {
                    anyhow::anyhow!("UPLOAD_DIR {} has no absolute path: {e}", dir.display())
                })?;
                let prefix = StorePath::from_absolute_path(&dir)?;
                Arc::new(PrefixStore::new(LocalFileSystem::new(), prefix))
            }
            PictureStorage::S3(settings) => s3(settings)?,
        };
        Ok(Pictures {
            store,
            decodes: Semaphore::new(DECODES_AT_ONCE),
        })
    }

    /// Checks and re-encodes an upload, stores both sizes, and returns the large size's name.
    /// Nothing is stored unless the picture was accepted.
    pub async fn save(&self, bytes: Vec<u8>) -> Result<String> {
        let _permit = self
            .decodes
            .acquire()
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        let processed = tokio::task::spawn_blocking(move || process(&bytes))
            .await
            .map_err(|e| Error::Internal(e.into()))??;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name =
            |size: Size| format!("{id}-{}.{}", size.suffix(), processed.encoding.extension());
        // The thumbnail first: the large size's name is what the caller gets, so a failure in
        // between leaves only an unreferenced thumbnail.
        for (size, body) in [
            (Size::Thumb, processed.thumb),
            (Size::Large, processed.large),
        ] {
            self.store
                .put(&StorePath::from(name(size)), PutPayload::from(body))
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("storing a picture: {e}")))?;
        }
        Ok(name(Size::Large))
    }

    /// A stored picture by name, with its content type; `None` when there is none.
    pub async fn fetch(&self, name: &str) -> Result<Option<(Vec<u8>, &'static str)>> {
        let Some(encoding) = valid_name(name) else {
            return Ok(None);
        };
        match self.store.get(&StorePath::from(name)).await {
            Ok(found) => {
                let body = found
                    .bytes()
                    .await
                    .map_err(|e| Error::Internal(anyhow::anyhow!("reading a picture: {e}")))?;
                Ok(Some((body.to_vec(), encoding.content_type())))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::Internal(anyhow::anyhow!("reading a picture: {e}"))),
        }
    }

    /// How many pictures (files of either size) are stored: for tests that check a refused
    /// upload left nothing behind.
    pub async fn count(&self) -> Result<usize> {
        use futures_util::TryStreamExt;
        let listed: Vec<_> = self
            .store
            .list(None)
            .try_collect()
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("listing pictures: {e}")))?;
        Ok(listed.len())
    }
}

/// The names this module makes (`<32 hex>-large.jpg`), and nothing else: no path can reach
/// outside the storage.
pub fn valid_name(name: &str) -> Option<Encoding> {
    let encoding = Encoding::of_name(name)?;
    let stem = name.strip_suffix(encoding.extension())?.strip_suffix('.')?;
    let (id, size) = stem.split_once('-')?;
    let id_ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (id_ok && matches!(size, "large" | "thumb")).then_some(encoding)
}

fn s3(settings: &S3Settings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(key) = &settings.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &settings.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose());
    }
    if let Some(token) = &settings.session_token {
        builder = builder.with_token(token.expose());
    }
    let bucket = builder.build()?;
    Ok(if settings.prefix.is_empty() {
        Arc::new(bucket)
    } else {
        Arc::new(PrefixStore::new(bucket, settings.prefix.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_this_module_makes_are_valid() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(valid_name(&format!("{id}-large.jpg")), Some(Encoding::Jpeg));
        assert_eq!(valid_name(&format!("{id}-thumb.png")), Some(Encoding::Png));
        for bad in [
            format!("../{id}-large.jpg"),
            format!("{id}-large.svg"),
            format!("{id}-huge.jpg"),
            format!("{id}x-large.jpg"),
            "a-large.jpg".to_string(),
        ] {
            assert_eq!(valid_name(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_picture_is_reencoded_in_two_sizes() {
        let picture = DynamicImage::new_rgb8(2000, 1000);
        let mut png = Cursor::new(Vec::new());
        picture.write_to(&mut png, ImageFormat::Png).unwrap();
        let processed = process(png.get_ref()).unwrap();
        assert_eq!(processed.encoding, Encoding::Jpeg);
        let large = image::load_from_memory(&processed.large).unwrap();
        assert_eq!((large.width(), large.height()), (1600, 800));
        let thumb = image::load_from_memory(&processed.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (400, 200));
    }

    #[test]
    fn text_is_not_a_picture() {
        assert!(process(b"hello, this is not an image").is_err());
    }
}
