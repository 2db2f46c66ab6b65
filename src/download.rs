//! File downloads: bills (`v3/bill/tradebill`, `v3/bill/fundflowbill`, …
//! answer a `download_url` and a hash), and the other unsigned downloads.
//! Streamed chunk by chunk to any `AsyncWrite`, hashed (and gunzipped) on
//! the way, so memory stays flat whatever the file size.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use openssl::sha::Sha1;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use reqwest::Url;
use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::Client;
use crate::error::{ApiError, Error, Result};
use crate::media::hex;
use crate::verify::headers::REQUEST_ID;

/// Limit for a whole download; the client's idle-read limit still applies
/// to each read.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// What the bill endpoints answer.
///
/// ```
/// let bill: wechatpay_chain::download::BillInfo = serde_json::from_str(
///     r#"{"hash_type":"SHA1","hash_value":"79bb0f45fc4c42234a918000b2668d689e2bde04",
///         "download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=xx"}"#,
/// )?;
/// assert_eq!(bill.hash_type, "SHA1");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct BillInfo {
    /// `SHA1`.
    pub hash_type: String,
    /// Hex digest of the (decompressed) file.
    pub hash_value: String,
    /// Where to GET the file, signed like any request.
    pub download_url: String,
}

/// What a download wrote.
///
/// ```no_run
/// # async fn demo(client: wechatpay_chain::Client, bill: wechatpay_chain::download::BillInfo) -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::download::Compression;
/// let done = client.download_bill_to_file(&bill, Compression::None, "bill.csv").await?;
/// println!("{} bytes, sha1 {}", done.bytes, done.sha1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Bytes written (after decompression).
    pub bytes: u64,
    /// Lowercase hex SHA-1 of what was written.
    pub sha1: String,
}

/// Whether the file arrives gzip-compressed (`tar_type=GZIP`).
///
/// ```
/// use wechatpay_chain::download::Compression;
/// let tar_type = Some("GZIP");
/// let compression = if tar_type == Some("GZIP") { Compression::Gzip } else { Compression::None };
/// assert_eq!(compression, Compression::Gzip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Plain CSV.
    None,
    /// Gzip, decompressed on the way.
    Gzip,
}

impl Client {
    /// Downloads a bill to `out`, gunzipping if asked, and checks its SHA-1
    /// against `bill.hash_value`. On a mismatch the error comes after the
    /// bytes were written: use [`Client::download_bill_to_file`] to have a
    /// bad file removed.
    ///
    /// ```no_run
    /// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::download::{BillInfo, Compression};
    /// use wechatpay_chain::json;
    ///
    /// let bill: BillInfo = client["v3/bill/tradebill"]
    ///     .get(json!({"query": {"bill_date": "2026-01-01", "tar_type": "GZIP"}}))
    ///     .await?
    ///     .json()?;
    /// client.download_bill_to_file(&bill, Compression::Gzip, "tradebill-2026-01-01.csv").await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_bill<W: AsyncWrite + Unpin>(
        &self,
        bill: &BillInfo,
        compression: Compression,
        out: &mut W,
    ) -> Result<Downloaded> {
        if !bill.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(Error::Unsupported(format!(
                "bill hash type `{}` (only SHA1 is known)",
                bill.hash_type
            )));
        }
        let written = self
            .download_url(&bill.download_url, compression, out)
            .await?;
        if !written.sha1.eq_ignore_ascii_case(&bill.hash_value) {
            return Err(Error::HashMismatch {
                expected: bill.hash_value.clone(),
                actual: written.sha1,
            });
        }
        Ok(written)
    }

    /// [`Client::download_bill`] into a file; the file is removed if the
    /// download fails or the hash does not match.
    pub async fn download_bill_to_file(
        &self,
        bill: &BillInfo,
        compression: Compression,
        path: impl AsRef<Path>,
    ) -> Result<Downloaded> {
        let path = path.as_ref();
        let io = |what: &str, source| Error::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let file = tokio::fs::File::create(path)
            .await
            .map_err(|e| io("creating", e))?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let result = self.download_bill(bill, compression, &mut out).await;
        let result = match result {
            Ok(done) => out
                .shutdown()
                .await
                .map(|()| done)
                .map_err(|e| io("writing", e)),
            Err(e) => Err(e),
        };
        if result.is_err() {
            drop(out);
            let _ = tokio::fs::remove_file(path).await;
        }
        result
    }

    /// GETs `url` (signed: the canonical URL is its path and query, whatever
    /// its host), expects no signature, and streams the body to `out`.
    pub async fn download_url<W: AsyncWrite + Unpin>(
        &self,
        url: &str,
        compression: Compression,
        out: &mut W,
    ) -> Result<Downloaded> {
        let url = self.checked_download_url(url)?;
        let canonical = url[url::Position::BeforePath..].to_owned();
        let signature = self.inner().signer.sign("GET", &canonical, b"")?;
        let request = self
            .inner()
            .http()
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("*/*"))
            .header(USER_AGENT, self.inner().user_agent())
            .header(AUTHORIZATION, sensitive(&signature.to_string())?);
        let answer = fetch(request).await?;
        pump(answer, compression, out).await
    }
    /// A download URL must be http(s) and, unless it is https, on the base
    /// URL's host (a plain-text URL elsewhere would leak the signature).
    fn checked_download_url(&self, text: &str) -> Result<Url> {
        let url = Url::parse(text)
            .map_err(|e| Error::Unsupported(format!("download_url `{text}` is not a URL: {e}")))?;
        let base = Url::parse(self.base_url()).ok();
        let same_host = base
            .as_ref()
            .is_some_and(|b| b.host_str() == url.host_str() && b.port() == url.port());
        match url.scheme() {
            "https" => Ok(url),
            "http" if same_host => Ok(url),
            _ => Err(Error::Unsupported(format!(
                "download_url `{text}` is neither https nor on the base URL's host; refusing to send a signature there"
            ))),
        }
    }
}

/// Sends a download request; a non-2xx answer becomes `Error::Api`.
async fn fetch(request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
    let answer = request
        .timeout(DOWNLOAD_TIMEOUT)
        .send()
        .await
        .map_err(crate::client::transport)?;
    let status = answer.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(answer);
    }
    let request_id = answer
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let headers = answer.headers().clone();
    let body = match crate::client::read_capped(answer, crate::client::MAX_ANSWER_BYTES).await {
        Ok(body) => body,
        Err(crate::client::Capped::Transport(e)) => return Err(crate::client::transport(e)),
        Err(crate::client::Capped::TooLarge) => {
            return Err(Error::AnswerTooLarge {
                limit: crate::client::MAX_ANSWER_BYTES,
            })
        }
    };
    let mut api = ApiError::from_response(status, request_id.as_deref(), body);
    api.headers = headers;
    Err(api.into())
}

/// Streams the body through the sink into `out`.
async fn pump<W: AsyncWrite + Unpin>(
    mut answer: reqwest::Response,
    compression: Compression,
    out: &mut W,
) -> Result<Downloaded> {
    let mut sink = Sink::new(compression);
    while let Some(chunk) = answer.chunk().await.map_err(crate::client::transport)? {
        let plain = sink.feed(&chunk)?;
        out.write_all(plain).await.map_err(write_error)?;
    }
    let rest = sink.finish()?;
    out.write_all(&rest).await.map_err(write_error)?;
    out.flush().await.map_err(write_error)?;
    Ok(sink.done())
}

fn sensitive(authorization: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(authorization)
        .map_err(|_| Error::Config("mchid or merchant serial is not printable ASCII".to_owned()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Header an overseas statement may carry instead of a body signature.
pub const STATEMENT_SHA1: &str = "Wechatpay-Statement-Sha1";

/// Streams one of the unsigned downloads of a chain node (see
/// [`crate::Chain::download_to`]).
pub(crate) async fn download_node<W: AsyncWrite + Unpin>(
    inner: &crate::client::Inner,
    template: &str,
    options: crate::Options,
    out: &mut W,
) -> Result<Downloaded> {
    let request = inner.prepare(reqwest::Method::GET, template, options)?;
    let statement = matches!(
        request.relative_path.as_str(),
        "v3/statements" | "v3/global/statements"
    );
    if request.expects_signature() {
        return Err(Error::Unsupported(format!(
            "`{template}` answers signed JSON, which must be read whole to be verified: use .get()"
        )));
    }
    let signature = inner.sign(&request)?;
    let crate::request::PreparedRequest { url, headers, .. } = request;
    let http = inner.http().get(url).headers(headers).header(
        AUTHORIZATION,
        sensitive(&signature.authorization.to_string())?,
    );
    let answer = fetch(http).await?;
    // Overseas statements: the signature covers {"sha1":"<header>"}, and
    // the header must match the file.
    let announced = match answer
        .headers()
        .get(STATEMENT_SHA1)
        .and_then(|v| v.to_str().ok())
    {
        Some(sha1) if statement => {
            let pseudo_body = format!(r#"{{"sha1":"{sha1}"}}"#);
            inner
                .verifier()
                .verify(
                    answer.headers(),
                    pseudo_body.as_bytes(),
                    crate::sign::unix_now(),
                )
                .map_err(|kind| Error::Verify {
                    kind,
                    request_id: None,
                })?;
            Some(sha1.to_owned())
        }
        _ => None,
    };
    let done = pump(answer, Compression::None, out).await?;
    match announced {
        Some(expected) if !expected.eq_ignore_ascii_case(&done.sha1) => Err(Error::HashMismatch {
            expected,
            actual: done.sha1,
        }),
        _ => Ok(done),
    }
}

fn write_error(source: std::io::Error) -> Error {
    Error::Io {
        what: "writing the download".to_owned(),
        source,
    }
}

/// Gunzips (when asked) and hashes what goes to the writer.
struct Sink {
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    hasher: Sha1,
    bytes: u64,
    /// The last plain chunk, lent to the writer.
    plain: Vec<u8>,
}

impl Sink {
    fn new(compression: Compression) -> Self {
        Sink {
            gzip: (compression == Compression::Gzip)
                .then(|| flate2::write::GzDecoder::new(Vec::new())),
            hasher: Sha1::new(),
            bytes: 0,
            plain: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<&[u8]> {
        match &mut self.gzip {
            None => {
                self.plain.clear();
                self.plain.extend_from_slice(chunk);
            }
            Some(decoder) => {
                decoder
                    .write_all(chunk)
                    .map_err(|e| Error::Decompress(e.to_string()))?;
                self.plain = std::mem::take(decoder.get_mut());
            }
        }
        self.hasher.update(&self.plain);
        self.bytes += self.plain.len() as u64;
        Ok(&self.plain)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let Some(decoder) = self.gzip.take() else {
            return Ok(Vec::new());
        };
        let rest = decoder.finish().map_err(|e| {
            Error::Decompress(format!("the gzip stream ended early or is corrupt: {e}"))
        })?;
        self.hasher.update(&rest);
        self.bytes += rest.len() as u64;
        Ok(rest)
    }

    fn done(self) -> Downloaded {
        Downloaded {
            bytes: self.bytes,
            sha1: hex(&self.hasher.finish()),
        }
    }
}

/// A bill's CSV, split into its rows and the summary at the end.
///
/// ```
/// use wechatpay_chain::download::BillTable;
///
/// let csv = "交易时间,商户号,订单金额\n`2026-01-01 12:00:00,`1900000109,`0.01\n总交易单数,总金额\n`1,`0.01\n";
/// let table = BillTable::parse(csv);
/// assert_eq!(table.columns, ["交易时间", "商户号", "订单金额"]);
/// assert_eq!(table.rows[0][1], "1900000109");
/// assert_eq!(table.summary_columns, ["总交易单数", "总金额"]);
/// assert_eq!(table.summary, ["1", "0.01"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillTable {
    /// Column names of the detail rows.
    pub columns: Vec<String>,
    /// Detail rows, each field without its leading backtick.
    pub rows: Vec<Vec<String>>,
    /// Column names of the summary.
    pub summary_columns: Vec<String>,
    /// The summary values.
    pub summary: Vec<String>,
}

impl BillTable {
    /// Parses a WeChat Pay bill: a header line, detail lines whose fields
    /// start with a backtick, then a summary header and a summary line.
    pub fn parse(text: &str) -> Self {
        let fields = |line: &str| -> Vec<String> {
            line.trim_end_matches('\r')
                .split(',')
                .map(|f| f.strip_prefix('`').unwrap_or(f).to_owned())
                .collect()
        };
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let mut table = BillTable {
            columns: lines.next().map(fields).unwrap_or_default(),
            ..BillTable::default()
        };
        for line in lines.by_ref() {
            if line.starts_with('`') {
                table.rows.push(fields(line));
            } else {
                table.summary_columns = fields(line);
                break;
            }
        }
        table.summary = lines.next().map(fields).unwrap_or_default();
        table
    }
}
