//! Media uploads (images, videos, files): `multipart/form-data` with a
//! `meta` part (`{"filename","sha256"}`, some endpoints add keys) and a
//! `file` part. The signature covers the meta JSON exactly as sent in its
//! part, never the multipart bytes.
//!
//! A file given by path is read twice: once when the `Media` is made (to
//! hash it), once while uploading (streamed from disk, never held whole).

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use openssl::sha::Sha256;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Something to upload.
///
/// ```
/// use wechatpay_chain::media::Media;
///
/// let gif = Media::from_bytes("transparent.gif", &b"GIF89a"[..]);
/// assert_eq!(gif.content_type(), "image/gif");
/// assert!(gif.meta_json().starts_with(r#"{"filename":"transparent.gif","sha256":""#));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Media {
    filename: String,
    content_type: String,
    source: Source,
    len: u64,
    sha256: String,
    extra: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    Bytes(Bytes),
    File(PathBuf),
}

impl Media {
    /// Media held in memory; `filename` names it in `meta` and the `file` part.
    pub fn from_bytes(filename: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let mut hasher = Sha256::new();
        hasher.update(&bytes);
        let filename = filename.into();
        Media {
            content_type: guess_content_type(&filename).to_owned(),
            filename,
            len: bytes.len() as u64,
            sha256: crate::hex::encode(&hasher.finish()),
            source: Source::Bytes(bytes),
            extra: Map::new(),
        }
    }

    /// A file on disk: read once now to hash it, streamed again on upload.
    /// Blocking I/O: for very large files call it from `spawn_blocking`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            what: format!("reading {}", path.display()),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut len = 0u64;
        loop {
            let n = file.read(&mut buffer).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            len += n as u64;
        }
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        Ok(Media {
            content_type: guess_content_type(&filename).to_owned(),
            filename,
            len,
            sha256: crate::hex::encode(&hasher.finish()),
            source: Source::File(path.to_owned()),
            extra: Map::new(),
        })
    }

    /// Adds a key to `meta` (e.g. `bank_type` for some marketing uploads).
    /// `filename` and `sha256` are the SDK's.
    pub fn meta(mut self, key: impl Into<String>, value: impl Serialize) -> Self {
        let key = key.into();
        if key != "filename" && key != "sha256" {
            self.extra
                .insert(key, serde_json::to_value(value).unwrap_or(Value::Null));
        }
        self
    }

    /// Overrides the content type guessed from the file name.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The file name.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The content type of the `file` part.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Lowercase hex SHA-256 of the content.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `meta` JSON, exactly as sent and signed.
    pub fn meta_json(&self) -> String {
        let mut meta = Map::new();
        meta.insert("filename".to_owned(), Value::String(self.filename.clone()));
        meta.insert("sha256".to_owned(), Value::String(self.sha256.clone()));
        meta.extend(self.extra.clone());
        Value::Object(meta).to_string()
    }

    /// The multipart form: `meta` then `file`, the file streamed from disk.
    pub(crate) async fn form(&self, meta: &Bytes) -> Result<reqwest::multipart::Form> {
        let meta = reqwest::multipart::Part::bytes(meta.to_vec())
            .mime_str("application/json")
            .map_err(Error::Transport)?;
        let file = match &self.source {
            Source::Bytes(bytes) => reqwest::multipart::Part::bytes(bytes.to_vec()),
            Source::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|source| Error::Io {
                        what: format!("opening {}", path.display()),
                        source,
                    })?;
                let stream = tokio_util::io::ReaderStream::new(file);
                reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::wrap_stream(stream),
                    self.len,
                )
            }
        };
        let file = file
            .file_name(self.filename.clone())
            .mime_str(&self.content_type)
            .map_err(Error::Transport)?;
        Ok(reqwest::multipart::Form::new()
            .part("meta", meta)
            .part("file", file))
    }
}

/// The content types WeChat Pay's upload endpoints accept, by extension.
fn guess_content_type(filename: &str) -> &'static str {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "mpeg" => "video/mpeg",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "flv" => "video/x-flv",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}
