//! APIv2 file downloads (`pay/downloadbill`, `pay/downloadfundflow`): a
//! feature over the engine, like the APIv3 downloads.

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{rules, xml, ApiV2Error};
use crate::client::transport::next_chunk;
use crate::client::Inner;
use crate::download::{Downloaded, DOWNLOAD_TIMEOUT};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::Method;

/// Streams an APIv2 file response (`pay/downloadbill`, `pay/downloadfundflow`)
/// to `out` as it arrives (gzip stays gzip when `tar_type=GZIP`); an XML
/// response instead is WeChat Pay's refusal and becomes the error.
pub(crate) async fn download<W: AsyncWrite + Unpin>(
    inner: &Inner,
    template: &str,
    options: Options,
    out: &mut W,
) -> Result<Downloaded> {
    let mut request = inner.prepare(Method::POST, template, options)?;
    if !rules::is_file(&request.relative_path) {
        return Err(Error::NotADownload {
            template: template.to_owned(),
        });
    }
    request.timeout = Some(DOWNLOAD_TIMEOUT);
    let mut raw = inner.open_stream(&request).await?;
    let write = |e: std::io::Error| Error::Io {
        what: "writing the download".to_owned(),
        source: e,
    };
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
    let mut hasher = openssl::sha::Sha1::new();
    let mut written = 0u64;
    let mut next = Some(bytes::Bytes::from(head));
    while let Some(chunk) = next {
        written = written.saturating_add(chunk.len() as u64);
        if let Some(limit) = limit.filter(|limit| written > *limit) {
            return Err(Error::DownloadTooLarge { limit });
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(write)?;
        next = next_chunk(&mut raw).await?;
    }
    out.flush().await.map_err(write)?;
    Ok(Downloaded {
        bytes: written,
        sha1: crate::hex::encode(&hasher.finish()),
    })
}
