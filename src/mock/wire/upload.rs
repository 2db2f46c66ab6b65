//! Media uploads on the mock: `multipart/form-data` with `meta` and `file`,
//! the signature over `meta`, the file's SHA-256 checked against it.

use bytes::Bytes;
use openssl::sha::sha256;
use serde_json::{json, Value};

use super::answer::Answer;

/// The two parts of an upload.
pub(crate) struct Upload {
    /// The `meta` part, exactly as received: what the signature covers.
    pub(crate) meta: Bytes,
    pub(crate) file: Bytes,
}

/// `None` when the request is not multipart; otherwise its parts, or a
/// 400 PARAM_ERROR saying what is missing.
pub(crate) async fn parse(
    content_type: Option<&str>,
    body: Bytes,
) -> Option<Result<Upload, Answer>> {
    let boundary = multer::parse_boundary(content_type?).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut meta, mut file) = (None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else {
                    return Some(Err(Answer::param_error("/", "multipart 请求体不完整")));
                };
                match name.as_str() {
                    "meta" => meta = Some(bytes),
                    "file" => file = Some(bytes),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Some(Err(Answer::param_error(
                    "/",
                    &format!("multipart 请求体无法解析: {e}"),
                )))
            }
        }
    }
    Some(match (meta, file) {
        (Some(meta), Some(file)) => Ok(Upload { meta, file }),
        (None, _) => Err(Answer::param_error("/meta", "缺少 meta 部分")),
        (_, None) => Err(Answer::param_error("/file", "缺少 file 部分")),
    })
}

/// Checks the meta against the file and answers a `media_id`.
pub(crate) fn answer(upload: &Upload) -> Answer {
    let meta: Value = match serde_json::from_slice(&upload.meta) {
        Ok(meta) => meta,
        Err(_) => return Answer::param_error("/meta", "meta 不是合法的 JSON"),
    };
    let Some(filename) = meta.get("filename").and_then(Value::as_str) else {
        return Answer::param_error("/meta/filename", "缺少参数");
    };
    let digest = crate::hex::encode(&sha256(&upload.file));
    if meta.get("sha256").and_then(Value::as_str) != Some(digest.as_str()) {
        return Answer::param_error(
            "/meta/sha256",
            &format!("与文件的 SHA-256 ({digest}) 不一致"),
        );
    }
    let media_id = format!("MOCK-{}", &digest[..32]);
    Answer::json(
        200,
        &json!({"media_id": media_id, "filename": filename, "size": upload.file.len()}),
    )
}
