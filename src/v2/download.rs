//! APIv2 file downloads (`pay/downloadbill`, `pay/downloadfundflow`): a
//! feature over the engine, like the APIv3 downloads, which stream the file
//! once this module has told it from a refusal.

use std::time::Duration;

use bytes::Bytes;

use super::{rules, xml, ApiV2Error};
use crate::client::inner::Inner;
use crate::client::transport::next_chunk;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::Method;

/// Opens an APIv2 file response (`pay/downloadbill`, `pay/downloadfundflow`)
/// within `timeout`: the response and its first bytes, read to tell a file
/// from WeChat Pay's refusal, which is XML and becomes the error. The
/// caller streams the rest of the file after `head` (gzip stays gzip when
/// `tar_type=GZIP`).
pub(crate) async fn open(
    inner: &Inner,
    template: &str,
    options: Options,
    timeout: Duration,
) -> Result<(reqwest::Response, Bytes)> {
    let mut request = inner.prepare(Method::POST, template, options)?;
    if !rules::is_file(&request.relative_path) {
        return Err(Error::NotADownload {
            template: template.to_owned(),
        });
    }
    request.timeout = Some(timeout);
    let mut raw = inner.open_stream(&request).await?;
    let limit = inner.max_download_bytes();
    // A refusal is XML; a file is not. Decide on the first bytes that are
    // not blank (a chunk may hold only a newline, or a BOM). Each byte is
    // looked at once; past `SNIFF_LIMIT` bytes it is a file (WeChat Pay's
    // refusals start at once), and blanks count against the limit, being
    // part of the file.
    let mut head = Vec::new();
    let mut not_blank = 0usize;
    while not_blank < xml::SNIFF_BYTES && head.len() < xml::SNIFF_LIMIT {
        let Some(chunk) = next_chunk(&mut raw).await? else {
            break;
        };
        not_blank += chunk.iter().filter(|b| !b.is_ascii_whitespace()).count();
        head.extend_from_slice(&chunk);
        if let Some(limit) = limit.filter(|limit| not_blank == 0 && head.len() as u64 > *limit) {
            return Err(Error::DownloadTooLarge { limit });
        }
    }
    if xml::looks_like_document(&head) {
        let mut body = head;
        while let Some(more) = next_chunk(&mut raw).await? {
            if body.len().saturating_add(more.len()) > xml::MAX_XML {
                return Err(xml::XmlError::TooLarge(body.len().saturating_add(more.len())).into());
            }
            body.extend_from_slice(&more);
        }
        return Err(ApiV2Error::from_fields(xml::parse(&body)?).into());
    }
    Ok((raw, Bytes::from(head)))
}
