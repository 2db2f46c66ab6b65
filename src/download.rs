//! File downloads: bills (`v3/bill/tradebill`, `v3/bill/fundflowbill`, …
//! answer a `download_url` and a hash), and the other unsigned downloads.
//! Streamed chunk by chunk to any `AsyncWrite`, hashed (and gunzipped) on
//! the way, so memory stays flat whatever the file size.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use openssl::sha::Sha1;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, USER_AGENT};
use reqwest::{Method, Url};
use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::chain::Chain;
use crate::client::inner::Inner;
use crate::client::transport::next_chunk;
use crate::client::Client;
use crate::error::{Error, Result, VerifyError};
use crate::request::{PreparedRequest, Protocol};

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
        check_hash_type(bill)?;
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

    /// [`Client::download_bill`] into a file. The bill is checked first
    /// (hash type, download URL), then written to a temporary file beside
    /// `path`, which replaces `path` only once its SHA-1 matches: an error,
    /// or a download cancelled halfway (its future dropped by a timeout or
    /// `select!`), leaves `path` as it was and no temporary file behind.
    pub async fn download_bill_to_file(
        &self,
        bill: &BillInfo,
        compression: Compression,
        path: impl AsRef<Path>,
    ) -> Result<Downloaded> {
        let path = path.as_ref();
        check_hash_type(bill)?;
        checked_download_url(&self.inner().download_bases(), &bill.download_url)?;
        let io = |what: &str, source| Error::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let part = PartFile::beside(path).map_err(|e| io("preparing", e))?;
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part.path)
            .await
            .map_err(|e| io("creating a temporary file for", e))?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let done = self.download_bill(bill, compression, &mut out).await?;
        out.flush().await.map_err(|e| io("writing", e))?;
        out.into_inner()
            .sync_all()
            .await
            .map_err(|e| io("writing", e))?;
        tokio::fs::rename(&part.path, path)
            .await
            .map_err(|e| io("renaming the verified download to", e))?;
        part.keep();
        Ok(done)
    }

    /// GETs `url` (signed: the canonical URL is its path and query), expects
    /// no signature, and streams the body to `out`. The URL must be on the
    /// base URL's origin (or the backup's: same scheme, host and port) and
    /// name one of the downloads WeChat Pay answers unsigned
    /// ([`UNSIGNED_DOWNLOADS`](crate::request::UNSIGNED_DOWNLOADS)): a
    /// signature is sent nowhere else, and no signed endpoint is read
    /// unverified through here.
    pub async fn download_url<W: AsyncWrite + Unpin>(
        &self,
        url: &str,
        compression: Compression,
        out: &mut W,
    ) -> Result<Downloaded> {
        let inner = self.inner();
        let (url, relative_path) = checked_download_url(&inner.download_bases(), url)?;
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(USER_AGENT, inner.user_agent());
        let request = PreparedRequest {
            method: Method::GET,
            relative_path,
            template: "download_url".to_owned(),
            url,
            headers,
            body: None,
            // The file is checked by its hash, not by a signature.
            signed_response: false,
            upload: None,
            idempotent: true,
            protocol: Protocol::V3,
            timeout: Some(DOWNLOAD_TIMEOUT),
        };
        let raw = inner.open_stream(&request).await?;
        pump(
            raw,
            Bytes::new(),
            Some(compression),
            inner.max_download_bytes(),
            out,
        )
        .await
    }
}

impl Chain {
    /// Streams one of the downloads WeChat Pay answers unsigned (complaint
    /// images `v3/merchant-service/images/{media_id}`, `v3/billdownload/file`,
    /// `v3/transferdownload/signfile`, `v3/transferdownload/elecvoucherfile`,
    /// `v3/new-tax-control-fapiao/download`, `v3/statements`,
    /// `v3/global/statements`) to `out`; any other endpoint is refused,
    /// since a signed answer must be read whole to be verified. An overseas
    /// statement's `Wechatpay-Statement-Sha1` is verified and checked.
    /// APIv2's `v2/pay/downloadbill` and `v2/pay/downloadfundflow` stream too
    /// (a POST with the `xml` option; their refusals come as `Error::ApiV2`).
    pub async fn download_to<W: AsyncWrite + Unpin>(
        &self,
        options: impl Into<crate::Options>,
        out: &mut W,
    ) -> Result<Downloaded> {
        let (inner, template) = (self.inner(), self.template());
        if crate::path::is_apiv2(template) {
            let (raw, head) =
                crate::v2::download::open(inner, template, options.into(), DOWNLOAD_TIMEOUT)
                    .await?;
            let limit = inner.max_download_bytes();
            return pump(raw, head, None, limit, out).await;
        }
        download_node(inner, template, options.into(), out).await
    }
}

/// Only SHA-1 is announced for bills; anything else is refused before sending.
fn check_hash_type(bill: &BillInfo) -> Result<()> {
    if bill.hash_type.eq_ignore_ascii_case("SHA1") {
        Ok(())
    } else {
        Err(Error::Unsupported(format!(
            "bill hash type `{}` (only SHA1 is known)",
            bill.hash_type
        )))
    }
}

/// The temporary file a download is written to before it is verified,
/// removed when dropped unless kept (renamed into place).
struct PartFile {
    path: std::path::PathBuf,
    kept: bool,
}

impl PartFile {
    /// A fresh name in `path`'s directory (so that the rename stays on one
    /// file system): `.NAME.RANDOM.part`.
    fn beside(path: &Path) -> std::io::Result<PartFile> {
        let name = path.file_name().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file path: give the file to write, e.g. bills/2026-01-01.csv",
            )
        })?;
        let tag = crate::crypto::random_alphanumeric(12).map_err(std::io::Error::other)?;
        let mut part_name = std::ffi::OsString::from(".");
        part_name.push(name);
        part_name.push(format!(".{tag}.part"));
        Ok(PartFile {
            path: path.with_file_name(part_name),
            kept: false,
        })
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            // Synchronous: a dropped future has no later point to await in.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A download URL must be on one of the configured origins (so plain http
/// only where the base URL itself is plain http) and name an unsigned
/// download; returns it and its path relative to that origin's base.
fn checked_download_url(bases: &[&str], text: &str) -> Result<(Url, String)> {
    let refuse = |reason: &str| Error::DownloadUrl {
        url: crate::path::url_for_display(text),
        reason: reason.to_owned(),
    };
    let url = Url::parse(text).map_err(|_| refuse("is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(refuse("is neither https nor http"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "carries credentials (user:password@), which WeChat Pay's download URLs never do",
        ));
    }
    let same_origin = |base: &Url| {
        base.scheme() == url.scheme()
            && base.host_str() == url.host_str()
            && base.port_or_known_default() == url.port_or_known_default()
    };
    let base = bases
        .iter()
        .filter_map(|base| Url::parse(base).ok())
        .find(|base| same_origin(base))
        .ok_or_else(|| {
            refuse("is not on the base URL's (or the backup's) scheme, host and port")
        })?;
    let relative = url
        .path()
        .strip_prefix(base.path())
        .unwrap_or_else(|| url.path().trim_start_matches('/'))
        .to_owned();
    if !crate::request::is_unsigned_download(&relative) {
        return Err(refuse(
            "is not one of the downloads WeChat Pay answers unsigned (v3/billdownload/file, …); \
             call a signed endpoint with .get(), which verifies its response",
        ));
    }
    Ok((url, relative))
}

/// The two bytes every gzip stream starts with (RFC 1952, 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Refuses a download whose first bytes contradict the compression the
/// caller gave (`head` holds at least two bytes, or the whole file).
fn check_compression(head: &[u8], compression: Compression) -> Result<()> {
    let gzip = head.starts_with(&GZIP_MAGIC);
    match (compression, gzip) {
        (Compression::None, true) => Err(Error::CompressionMismatch {
            asked: "None",
            arrived: "gzip-compressed (it starts with 1f 8b)",
            pass: "Gzip",
        }),
        (Compression::Gzip, false) => Err(Error::CompressionMismatch {
            asked: "Gzip",
            arrived: "plain (not gzip)",
            pass: "None",
        }),
        _ => Ok(()),
    }
}

/// Streams the body, after the `head` already read from it, through the
/// sink into `out`. With `checked`, the first bytes must agree with the
/// compression (bills); without, the body is taken as plain (statements,
/// APIv2 downloads).
async fn pump<W: AsyncWrite + Unpin>(
    mut raw: reqwest::Response,
    head: Bytes,
    checked: Option<Compression>,
    max_bytes: Option<u64>,
    out: &mut W,
) -> Result<Downloaded> {
    let mut sink = Sink::new(checked.unwrap_or(Compression::None), max_bytes);
    // The first bytes wait until there are enough to check the magic.
    let mut checking = checked;
    let mut pending = Vec::new();
    let mut next = Some(head);
    while let Some(chunk) = next {
        let chunk = match checking {
            None => chunk,
            Some(compression) => {
                pending.extend_from_slice(&chunk);
                if pending.len() < GZIP_MAGIC.len() {
                    next = next_chunk(&mut raw).await?;
                    if next.is_some() {
                        continue;
                    }
                    // The end, short: check what there is.
                    if pending.is_empty() {
                        break;
                    }
                }
                check_compression(&pending, compression)?;
                checking = None;
                Bytes::from(std::mem::take(&mut pending))
            }
        };
        let mut input = &chunk[..];
        while !input.is_empty() {
            let (used, plain) = sink.feed(input)?;
            out.write_all(plain).await.map_err(write_error)?;
            input = &input[used..];
        }
        next = next_chunk(&mut raw).await?;
    }
    loop {
        let plain = sink.finish()?;
        if plain.is_empty() {
            break;
        }
        out.write_all(plain).await.map_err(write_error)?;
    }
    out.flush().await.map_err(write_error)?;
    Ok(sink.done())
}

/// Header an overseas statement (`v3/global/statements`, `hk/v3/statements`)
/// carries instead of a body signature: the file's SHA-1, which the
/// answer's signature covers. WeChat Pay documents it on every successful
/// statement, so an answer without it is refused.
pub const STATEMENT_SHA1: &str = "Wechatpay-Statement-Sha1";

/// Streams one of the unsigned downloads of a chain node (see
/// [`crate::Chain::download_to`]).
pub(crate) async fn download_node<W: AsyncWrite + Unpin>(
    inner: &Inner,
    template: &str,
    options: crate::Options,
    out: &mut W,
) -> Result<Downloaded> {
    let mut request = inner.prepare(Method::GET, template, options)?;
    request.timeout = Some(DOWNLOAD_TIMEOUT);
    let statement = matches!(
        request.relative_path.as_str(),
        "v3/statements" | "v3/global/statements"
    );
    let raw = inner.open_stream(&request).await?;
    // Overseas statements: the signature covers {"sha1":"<header>"}, and
    // the header must match the file. WeChat Pay sends the header with
    // every statement (its statement download pages: "账单完整性校验", and
    // the answer's signature string is built from it), so without it the
    // file is unchecked, and refused like any unsigned answer.
    let announced = if statement {
        let refused = |kind| Error::Verify {
            kind,
            request_id: crate::client::transport::request_id(raw.headers()),
        };
        let sha1 = raw
            .headers()
            .get(STATEMENT_SHA1)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| refused(VerifyError::MissingHeader(STATEMENT_SHA1)))?;
        let pseudo_body = format!(r#"{{"sha1":"{sha1}"}}"#);
        inner
            .verifier()
            .verify(
                raw.headers(),
                pseudo_body.as_bytes(),
                crate::sign::unix_now(),
            )
            .map_err(refused)?;
        Some(sha1.to_owned())
    } else {
        None
    };
    let done = pump(raw, Bytes::new(), None, inner.max_download_bytes(), out).await?;
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

/// Largest piece of plain output one step of the sink produces: what a
/// gzip bomb can make the SDK hold at once.
const PLAIN_PIECE: usize = 64 * 1024;

/// Gunzips (when asked), hashes and counts what goes to the writer, in
/// pieces of at most [`PLAIN_PIECE`] bytes whatever the compression ratio.
struct Sink {
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    hasher: Sha1,
    bytes: u64,
    max_bytes: Option<u64>,
    /// The last plain piece, lent to the writer.
    plain: Vec<u8>,
}

impl Sink {
    fn new(compression: Compression, max_bytes: Option<u64>) -> Self {
        Sink {
            gzip: (compression == Compression::Gzip)
                .then(|| flate2::write::GzDecoder::new(Vec::with_capacity(PLAIN_PIECE))),
            hasher: Sha1::new(),
            bytes: 0,
            max_bytes,
            plain: Vec::new(),
        }
    }

    /// Takes some of `input`: how much it took, and the plain bytes that
    /// came out (at most about [`PLAIN_PIECE`]).
    fn feed(&mut self, input: &[u8]) -> Result<(usize, &[u8])> {
        let used = match &mut self.gzip {
            None => {
                let used = input.len().min(PLAIN_PIECE);
                self.plain.clear();
                self.plain.extend_from_slice(&input[..used]);
                used
            }
            Some(decoder) => {
                // One `write` inflates into flate2's own 32 KiB buffer and
                // hands the previous one on: the output per call is bounded.
                let used = decoder.write(input).map_err(Error::Decompress)?;
                self.plain.clear();
                std::mem::swap(&mut self.plain, decoder.get_mut());
                if used == 0 && self.plain.is_empty() {
                    return Err(Error::Decompress(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "data after the end of the gzip stream",
                    )));
                }
                used
            }
        };
        self.account()?;
        Ok((used, &self.plain))
    }

    /// After the last input: the next piece of what the decoder still
    /// holds (empty when all is out).
    fn finish(&mut self) -> Result<&[u8]> {
        self.plain.clear();
        if let Some(decoder) = &mut self.gzip {
            decoder.try_finish().map_err(|e| {
                Error::Decompress(std::io::Error::new(
                    e.kind(),
                    format!("the gzip stream ended early or is corrupt: {e}"),
                ))
            })?;
            std::mem::swap(&mut self.plain, decoder.get_mut());
            if self.plain.is_empty() {
                self.gzip = None;
            }
        }
        self.account()?;
        Ok(&self.plain)
    }

    /// Hashes and counts the current piece; refuses to pass the limit.
    fn account(&mut self) -> Result<()> {
        self.bytes = self.bytes.saturating_add(self.plain.len() as u64);
        if let Some(limit) = self.max_bytes.filter(|limit| self.bytes > *limit) {
            return Err(Error::DownloadTooLarge { limit });
        }
        self.hasher.update(&self.plain);
        Ok(())
    }

    fn done(self) -> Downloaded {
        Downloaded {
            bytes: self.bytes,
            sha1: crate::hex::encode(&self.hasher.finish()),
        }
    }
}

/// A bill's CSV, split into its rows and the summary at the end, with its
/// values looked up by column name and its amounts read exactly, in fen.
///
/// ```
/// use wechatpay_chain::download::BillTable;
///
/// // as WeChat Pay writes it: a BOM, CRLF, backquoted values, a footer
/// let csv = "\u{feff}交易时间,商户号,订单金额\r\n`2026-01-01 12:00:00,`1900000109,`100.01\r\n总交易单数,订单总金额\r\n`1.0,`100.01\r\n";
/// let table = BillTable::parse(csv)?;
/// assert_eq!(table.columns, ["交易时间", "商户号", "订单金额"]);
/// assert_eq!(table.rows[0][1], "1900000109");
/// assert_eq!(table.value(&table.rows[0], "商户号")?, "1900000109");
/// assert_eq!(table.amount_fen(&table.rows[0], "订单金额")?, 10001);
/// assert_eq!(table.summary_columns, ["总交易单数", "订单总金额"]);
/// assert_eq!(table.summary, ["1.0", "100.01"]);
/// assert_eq!(table.summary_amount_fen("订单总金额")?, 10001);
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillTable {
    /// Column names of the detail rows.
    pub columns: Vec<String>,
    /// Detail rows, each field without its leading backtick; each has as
    /// many values as `columns`.
    pub rows: Vec<Vec<String>>,
    /// Column names of the summary.
    pub summary_columns: Vec<String>,
    /// The summary values.
    pub summary: Vec<String>,
}

impl BillTable {
    /// Parses a WeChat Pay bill: a header line, detail lines whose fields
    /// start with a backtick, then a summary header and a summary line.
    /// The UTF-8 byte order mark real bills start with is dropped (it is
    /// not part of the first column's name); lines may end in CRLF (as
    /// WeChat Pay writes them) or LF. Values are split on the two-character
    /// separator WeChat Pay writes between them (`` ,` ``), so a comma
    /// inside a value (a product name, attached data) stays in that value;
    /// header lines are split on `,`.
    ///
    /// A line with another number of values than its header has columns
    /// (a value holding `` ,` `` itself shifts every later column) is an
    /// [`Error::Bill`] naming the line, never shifted data.
    ///
    /// ```
    /// use wechatpay_chain::download::BillTable;
    ///
    /// let csv = "交易时间,商品名称,订单金额\n`2026-01-01 12:00:00,`咖啡,大杯,`0.01\n";
    /// let table = BillTable::parse(csv)?;
    /// assert_eq!(table.rows[0], ["2026-01-01 12:00:00", "咖啡,大杯", "0.01"]);
    ///
    /// let shifted = "交易时间,商品名称,订单金额\n`2026-01-01 12:00:00,`咖啡,`999.00,`0.01\n";
    /// assert_eq!(
    ///     BillTable::parse(shifted).unwrap_err().to_string(),
    ///     "bill: line 2 has 4 values for 3 columns (a value holding \",`\" splits in two): not read, rather than read shifted"
    /// );
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let fields = |line: &str| -> Vec<String> {
            // `lines()` takes off CRLF; a `\r` is left only where it stands alone.
            let line = line.trim_end_matches('\r');
            match line.strip_prefix('`') {
                Some(values) => values.split(",`").map(str::to_owned).collect(),
                None => line.split(',').map(str::to_owned).collect(),
            }
        };
        let width = |number: usize, values: Vec<String>, columns: &[String]| {
            if values.len() == columns.len() {
                Ok(values)
            } else {
                Err(Error::Bill(format!(
                    "line {number} has {} values for {} columns (a value holding \",`\" splits in two): \
                     not read, rather than read shifted",
                    values.len(),
                    columns.len()
                )))
            }
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line))
            .filter(|(_, l)| !l.trim().is_empty());
        let mut table = BillTable {
            columns: lines.next().map(|(_, l)| fields(l)).unwrap_or_default(),
            ..BillTable::default()
        };
        for (number, line) in lines.by_ref() {
            if line.starts_with('`') {
                table
                    .rows
                    .push(width(number, fields(line), &table.columns)?);
            } else {
                table.summary_columns = fields(line);
                break;
            }
        }
        if let Some((number, line)) = lines.next() {
            table.summary = width(number, fields(line), &table.summary_columns)?;
        }
        Ok(table)
    }

    /// Each row as a JSON object keyed by the column names (the values as
    /// text), for serde types such as
    /// [`models::TradeBillRow`](crate::models::TradeBillRow).
    pub fn records(&self) -> impl Iterator<Item = serde_json::Map<String, serde_json::Value>> + '_ {
        self.rows.iter().map(|row| {
            self.columns
                .iter()
                .cloned()
                .zip(row.iter().cloned().map(serde_json::Value::String))
                .collect()
        })
    }

    /// Every row as `T` (by column name; see [`records`](Self::records));
    /// a row that does not fit `T` is an [`Error::Bill`] naming it.
    ///
    /// ```
    /// # let csv = "交易时间,商户订单号\n`2026-01-01 12:00:00,`T1\n";
    /// use wechatpay_chain::models::TradeBillRow;
    /// let rows: Vec<TradeBillRow> = wechatpay_chain::download::BillTable::parse(csv)?.rows_as()?;
    /// # assert_eq!(rows.len(), 1);
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn rows_as<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.records()
            .enumerate()
            .map(|(i, record)| {
                serde_json::from_value(serde_json::Value::Object(record))
                    .map_err(|e| Error::Bill(format!("detail row {}: {e}", i + 1)))
            })
            .collect()
    }

    /// The index of column `name`, if the bill has it.
    ///
    /// ```
    /// let table = wechatpay_chain::download::BillTable::parse("交易时间,商户号\n")?;
    /// assert_eq!(table.column("商户号"), Some(1));
    /// assert_eq!(table.column("商户订单号"), None);
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The value of column `name` in `row` (one of [`rows`](Self::rows));
    /// an [`Error::Bill`] listing the columns when there is no such column.
    pub fn value<'r>(&self, row: &'r [String], name: &str) -> Result<&'r str> {
        lookup(&self.columns, row, name)
    }

    /// The amount in column `name` of `row`, in fen, exactly (see [`fen`]).
    pub fn amount_fen(&self, row: &[String], name: &str) -> Result<i64> {
        fen(self.value(row, name)?).map_err(|e| in_column(e, name))
    }

    /// The summary value of column `name`.
    pub fn summary_value(&self, name: &str) -> Result<&str> {
        lookup(&self.summary_columns, &self.summary, name)
    }

    /// The summary amount of column `name`, in fen, exactly (see [`fen`]).
    pub fn summary_amount_fen(&self, name: &str) -> Result<i64> {
        fen(self.summary_value(name)?).map_err(|e| in_column(e, name))
    }
}

/// `row[name]` by the header `columns`.
fn lookup<'r>(columns: &[String], row: &'r [String], name: &str) -> Result<&'r str> {
    let index = columns.iter().position(|c| c == name).ok_or_else(|| {
        Error::Bill(format!(
            "no column `{name}` (the columns are {})",
            columns.join(", ")
        ))
    })?;
    row.get(index).map(String::as_str).ok_or_else(|| {
        Error::Bill(format!(
            "the row has {} values, none for column `{name}` (#{})",
            row.len(),
            index + 1
        ))
    })
}

/// Names the column in an amount's error.
fn in_column(error: Error, name: &str) -> Error {
    match error {
        Error::Bill(reason) => Error::Bill(format!("column `{name}`: {reason}")),
        other => other,
    }
}

/// A bill amount, yuan as WeChat Pay writes it (`100.00`, `-0.01`; in
/// summaries `0.0`; the fee column with 5 decimals, `0.01000`), as a whole
/// number of fen, without floating point. A value that is not a whole
/// number of fen (a fee of `0.00600`: read it as text), anything but
/// digits with an optional `-` and `.`, or a value past `i64` is an
/// [`Error::Bill`].
///
/// ```
/// use wechatpay_chain::download::fen;
/// assert_eq!(fen("100.00")?, 10000);
/// assert_eq!(fen("0.01")?, 1);
/// assert_eq!(fen("0.1")?, 10);
/// assert_eq!(fen("-12.30")?, -1230);
/// assert_eq!(fen("0.01000")?, 1);
/// assert_eq!(
///     fen("0.00600").unwrap_err().to_string(),
///     "bill: amount `0.00600` is not a whole number of fen (a decimal past the second is not 0): read it as text"
/// );
/// assert!(fen("1e3").is_err() && fen("").is_err() && fen("92233720368547758.08").is_err());
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn fen(text: &str) -> Result<i64> {
    let bad = |why: &str| Error::Bill(format!("amount `{text}` {why}"));
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (yuan, decimals) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if yuan.is_empty()
        || !digits(yuan)
        || !digits(decimals)
        || (unsigned.contains('.') && decimals.is_empty())
    {
        return Err(bad(
            "is not a decimal number of yuan (digits, an optional `-` and `.`)",
        ));
    }
    let (decimals, beyond) = decimals.split_at(decimals.len().min(2));
    if beyond.bytes().any(|b| b != b'0') {
        return Err(bad(
            "is not a whole number of fen (a decimal past the second is not 0): read it as text",
        ));
    }
    let overflow = || bad("does not fit in 64 bits of fen");
    let mut value: i64 = 0;
    for b in yuan.bytes().chain(format!("{decimals:0<2}").bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    Ok(if negative { -value } else { value })
}
