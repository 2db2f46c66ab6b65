//! One error type for everything the SDK can fail at.
//!
//! The variants say *what* went wrong in terms a WeChat Pay integrator knows
//! (a missing placeholder, a stale response timestamp, an API error code), so
//! that a `match` can react and a log line explains itself.
//!
//! It depends on nothing else in the crate: the error types its variants
//! carry (APIv2 refusals, XML, AES-GCM, notification envelopes) are
//! defined here too, and re-exported where they are used
//! (`v2::ApiV2Error`, `v2::xml::XmlError`, `crypto::AeadError`,
//! `notify::NotificationError`), so every layer can name them.

use bytes::Bytes;
use serde_json::{Map, Value};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while configuring the client, building a
/// request, talking to WeChat Pay or checking its answer.
///
/// ```
/// use wechatpay_chain::Error;
///
/// fn explain(err: &Error) -> &'static str {
///     match err {
///         Error::Api(api) if api.code == "ORDER_NOT_EXIST" => "no such order",
///         Error::Api(_) => "WeChat Pay refused the request",
///         Error::Verify { .. } => "the answer was not signed by WeChat Pay",
///         _ => "something else",
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client builder was given incomplete or contradictory settings.
    #[error("client configuration: {0}")]
    Config(String),

    /// A key or certificate could not be read or is not usable.
    #[error("{what}: {reason}")]
    Key {
        /// Which key: `merchant private key`, `platform certificate #1`, …
        what: String,
        /// Why it was rejected, with a hint where one helps.
        reason: String,
    },

    /// The path template is malformed (unclosed `{`, a `?` in the path, …).
    #[error("path template `{template}`: {reason}")]
    Template {
        /// The template as written.
        template: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The template names a placeholder that the options do not fill.
    #[error("placeholder `{{{name}}}` of `{template}` has no value: pass \"{name}\": \"…\" in the options")]
    MissingPlaceholder {
        /// The placeholder's name.
        name: String,
        /// The path template.
        template: String,
    },

    /// An option key is neither reserved (`json`, `query`, `headers`,
    /// `body`) nor a placeholder of the template.
    #[error("option `{key}` is neither a placeholder of `{template}` nor a reserved key (json, query, headers, body; xml, security, nonceless for APIv2){hint}")]
    UnknownOption {
        /// The key that was given.
        key: String,
        /// The path template.
        template: String,
        /// What the key was probably meant to be (`: did you mean
        /// `out_trade_no`?`, or that a body goes under `"json"`); empty
        /// when nothing fits.
        hint: String,
    },

    /// An option has a value of the wrong kind (an object where a string
    /// was expected, an empty placeholder value, an invalid header, …).
    #[error("option `{key}`: {reason}")]
    InvalidOption {
        /// The option key (or `headers.Name`, `query.name`).
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// The request body could not be serialized to JSON.
    #[error("request body is not serializable to JSON: {0}")]
    Serialize(#[source] serde_json::Error),

    /// The response body is not the JSON the caller asked for.
    #[error("response body (status {status}) does not decode as the requested type: {source}")]
    Decode {
        /// HTTP status of the response.
        status: u16,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// This kind of request is not supported by this version (or not for
    /// this kind of endpoint).
    #[error("{0}")]
    Unsupported(String),

    /// A download URL the SDK refuses to send a signature to (not https,
    /// or plain http outside the base URL's own origin).
    #[error("download URL `{url}` {reason}; refusing to send a signature there")]
    DownloadUrl {
        /// The URL as given, without any `user:password@` (shown as `***@`).
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// A streaming download was asked of an endpoint whose response is
    /// signed: such a response must be read whole to be verified.
    #[error("`{template}` answers a signed response, which must be read whole to be verified: use .get() or .post()")]
    NotADownload {
        /// The path template.
        template: String,
    },

    /// The request check the client was built with
    /// ([`ClientBuilder::request_check`](crate::ClientBuilder::request_check),
    /// e.g. the catalog's schema check) refused the request before it was
    /// signed or sent.
    #[error("{operation}: refused before sending by the request check ({} problem(s)): {}; fix the request, or turn the check off if the description is wrong", violations.len(), violations.join("; "))]
    RequestCheck {
        /// `METHOD template`.
        operation: String,
        /// What is wrong, one line each (`body /amount/total (type): …`).
        violations: Vec<String>,
    },

    /// An APIv2 answer said `return_code` or `result_code` ≠ SUCCESS.
    #[error(transparent)]
    ApiV2(Box<ApiV2Error>),

    /// An APIv2 document could not be read safely.
    #[error("APIv2 XML: {0}")]
    Xml(#[from] XmlError),

    /// A response was larger than the SDK reads into memory
    /// ([`MAX_RESPONSE_BYTES`](crate::client::MAX_RESPONSE_BYTES)).
    #[error("the response is larger than {limit} bytes; files are fetched with the download functions, which stream")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// A download grew past the limit set with
    /// [`ClientBuilder::max_download_bytes`](crate::ClientBuilder::max_download_bytes);
    /// what was written so far is incomplete.
    #[error("the download is larger than the {limit}-byte limit (after decompression): stopped")]
    DownloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// A time limit was hit.
    #[error("timed out: the {limit} limit was hit ({source})")]
    Timeout {
        /// Which limit.
        limit: TimeoutLimit,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// Connecting, sending or receiving failed.
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),

    /// The mock a profile names has stopped: the profile was written by
    /// `wxpay mock --dir DIR` (or `MockServer::write_profile`), and its
    /// loopback base URL refused the connection. Start the mock again with
    /// `wxpay mock --dir DIR` (DIR is the profile's directory): it takes
    /// the port it had, so the profile is right again.
    #[error("{}", mock_stopped_message(.base_url, .profile))]
    MockStopped {
        /// The base URL the profile names.
        base_url: String,
        /// The profile's path.
        profile: std::path::PathBuf,
        /// The refused connection.
        #[source]
        source: reqwest::Error,
    },

    /// WeChat Pay answered with a non-2xx status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// A 2xx answer failed signature verification: it must not be trusted.
    #[error("response verification failed: {kind}{}", request_id_suffix(.request_id))]
    Verify {
        /// Which check failed.
        kind: VerifyError,
        /// `Request-ID` of the response, when it had one.
        request_id: Option<String>,
    },

    /// An AES-256-GCM ciphertext (notification resource, certificate) did
    /// not open.
    #[error("decryption failed: {0}")]
    Decrypt(#[from] AeadError),

    /// A sensitive field is longer than RSA-OAEP can take.
    #[error("sensitive field is {len} bytes; RSA-OAEP with this key takes at most {max}: it is never truncated")]
    PlaintextTooLong {
        /// Length of the plaintext in bytes.
        len: usize,
        /// The limit (214 for RSA-2048).
        max: usize,
    },

    /// A sensitive field of a response did not decrypt with the merchant key.
    #[error("sensitive field does not decrypt with the merchant private key (not base64, encrypted for another key, or not UTF-8)")]
    FieldDecrypt,

    /// A notification body is not what WeChat Pay sends.
    #[error("notification: {0}")]
    Notification(#[from] NotificationError),

    /// A downloaded file does not have the hash WeChat Pay announced.
    #[error("downloaded file has SHA-1 {actual}, WeChat Pay announced {expected}: do not use it")]
    HashMismatch {
        /// The announced digest.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },

    /// A download arrived compressed otherwise than the caller said: gzip
    /// (it starts with the magic bytes `1f 8b`) with `Compression::None`,
    /// or plain with `Compression::Gzip`. Nothing was written.
    #[error("the download arrived {arrived} but Compression::{asked} was given: pass Compression::{pass} \
             (Compression::Gzip when the bill was asked with tar_type=GZIP, Compression::None without tar_type)")]
    CompressionMismatch {
        /// What the caller said: `None` or `Gzip`.
        asked: &'static str,
        /// What arrived: `gzip-compressed (it starts with 1f 8b)` or `plain (not gzip)`.
        arrived: &'static str,
        /// What to pass instead: `Gzip` or `None`.
        pass: &'static str,
    },

    /// A bill's text is not what WeChat Pay writes: a row with another
    /// number of values than the header has columns, a column that is not
    /// there, an amount that is not yuan with at most two decimals.
    #[error("bill: {0}")]
    Bill(String),

    /// A gzip download did not decompress (truncated or corrupt).
    #[error("decompressing the download: {0}")]
    Decompress(#[source] std::io::Error),

    /// A local file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (`binding 127.0.0.1:0`, `writing mock.json`).
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// OpenSSL failed on an operation that should not fail.
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

impl Error {
    /// The HTTP status WeChat Pay answered with, for [`Error::Api`] (any
    /// non-2xx status); `None` for every other error.
    ///
    /// ```
    /// use wechatpay_chain::{ApiError, Error};
    /// let err: Error = ApiError::from_response(429, None, "{}".into()).into();
    /// assert_eq!(err.status(), Some(429));
    /// assert_eq!(Error::Config("x".into()).status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            _ => None,
        }
    }

    /// WeChat Pay's `Request-ID` for this failure, when the response had
    /// one (API errors and failed verifications): what support asks for.
    ///
    /// ```
    /// use wechatpay_chain::{ApiError, Error};
    /// let err: Error = ApiError::from_response(500, Some("08F7"), "{}".into()).into();
    /// assert_eq!(err.request_id(), Some("08F7"));
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id.as_deref(),
            Error::Verify { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether a time limit was hit ([`Error::Timeout`]).
    ///
    /// ```
    /// assert!(!wechatpay_chain::Error::Config("x".into()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether sending the same request again later may succeed: a timeout,
    /// a connection failure, a 429 or a 5xx. It says nothing about whether
    /// repeating is *safe*: a POST that timed out may have been executed,
    /// so repeat a payment only with the same `out_trade_no` (WeChat Pay
    /// then refuses a duplicate) or after querying it. The SDK's own
    /// retries already follow that rule ([`crate::retry`]).
    ///
    /// ```
    /// use wechatpay_chain::{ApiError, Error};
    /// let busy: Error = ApiError::from_response(503, None, "{}".into()).into();
    /// let refused: Error = ApiError::from_response(400, None, "{}".into()).into();
    /// assert!(busy.is_retryable());
    /// assert!(!refused.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Transport(_) | Error::MockStopped { .. } => true,
            Error::Api(api) => api.status == 429 || (500..600).contains(&api.status),
            _ => false,
        }
    }
}

/// The message of [`Error::MockStopped`]: what stopped and the command
/// that starts it again (its directory quoted for a shell when needed).
fn mock_stopped_message(base_url: &str, profile: &std::path::Path) -> String {
    let dir = match profile.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    format!(
        "the mock this profile names is not answering: nothing listens at {base_url} \
         (profile {}), so it has stopped. Start it again with `wxpay mock --dir {}`: \
         it takes the same port again",
        profile.display(),
        shell_word(&dir.display().to_string()),
    )
}

/// `text` as one word for a POSIX shell: as it is when it is plain,
/// single-quoted otherwise.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Which time limit a [`Error::Timeout`] hit.
///
/// ```
/// use wechatpay_chain::TimeoutLimit;
/// assert_eq!(TimeoutLimit::Read.to_string(), "idle-read");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutLimit {
    /// Establishing the connection (`connect_timeout`).
    Connect,
    /// The whole request (`timeout`).
    Request,
    /// One read of the answer: the connection went idle (`read_timeout`).
    Read,
}

impl std::fmt::Display for TimeoutLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutLimit::Connect => "connect",
            TimeoutLimit::Request => "whole-request",
            TimeoutLimit::Read => "idle-read",
        })
    }
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    match request_id {
        Some(id) => format!(" (Request-ID {id})"),
        None => String::new(),
    }
}

/// Why a WeChat Pay signature was rejected. Each check of a response or
/// notification (the four `Wechatpay-*` headers present, a timestamp within
/// 300 s, a known key that is valid now, the RSA signature over the raw
/// body; for APIv2, the `sign` field) has its own variant.
///
/// ```
/// use wechatpay_chain::VerifyError;
///
/// let err = VerifyError::MissingHeader("Wechatpay-Signature");
/// assert_eq!(err.to_string(), "header `Wechatpay-Signature` is missing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// One of the four `Wechatpay-*` headers is absent (or not text).
    #[error("header `{0}` is missing")]
    MissingHeader(&'static str),

    /// `Wechatpay-Timestamp` is not a plain integer.
    #[error("Wechatpay-Timestamp `{0}` is not an integer number of seconds")]
    InvalidTimestamp(String),

    /// `Wechatpay-Timestamp` is more than 300 seconds away from now.
    #[error("Wechatpay-Timestamp {timestamp} is {}s away from now ({now}); the limit is 300s", .now.abs_diff(*.timestamp))]
    StaleTimestamp {
        /// The timestamp received.
        timestamp: i64,
        /// Local time when checked.
        now: i64,
    },

    /// `Wechatpay-Serial` names no key this client knows.
    #[error("Wechatpay-Serial `{0}` is not a configured WeChat Pay key (certificate serial or PUB_KEY_ID_…)")]
    UnknownSerial(String),

    /// The serial names a platform certificate that is expired or not yet
    /// valid.
    #[error("WeChat Pay certificate `{0}` is expired or not yet valid; refresh the platform certificates")]
    KeyNotValid(String),

    /// `Wechatpay-Signature-Type` names an algorithm other than RSA.
    #[error(
        "Wechatpay-Signature-Type `{0}` is not supported (expected WECHATPAY2-SHA256-RSA2048)"
    )]
    UnsupportedSignatureType(String),

    /// WeChat Pay's deliberate probe (`WECHATPAY/SIGNTEST/…`): a correct
    /// client rejects it, which is what WeChat Pay checks for.
    #[error("probe signature (WECHATPAY/SIGNTEST/…) rejected as it must be")]
    ProbeSignature,

    /// An APIv2 answer that must be signed has no `sign`.
    #[error("the APIv2 answer has no `sign`")]
    V2SignatureMissing,

    /// An APIv2 answer's `sign` does not match under the APIv2 key.
    #[error("the APIv2 answer's `sign` does not match (wrong APIv2 key, or tampered)")]
    V2SignatureMismatch,

    /// The signature does not match the body under the named key.
    #[error("signature does not match the body under key `{serial}`")]
    SignatureMismatch {
        /// The key the signature was checked with.
        serial: String,
    },
}

/// A non-2xx answer from WeChat Pay, with everything support will ask for.
///
/// ```
/// use wechatpay_chain::ApiError;
///
/// let err = ApiError::from_response(
///     404,
///     Some("08F78BB5AF0D11ED"),
///     r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#.into(),
/// );
/// assert_eq!(err.code, "ORDER_NOT_EXIST");
/// assert_eq!(err.request_id.as_deref(), Some("08F78BB5AF0D11ED"));
/// ```
///
/// `Display` names the `detail`'s field and issue, where WeChat Pay says
/// what exactly is wrong; `Debug` shows the body as text and the headers
/// without the signature:
///
/// ```
/// use wechatpay_chain::ApiError;
///
/// let err = ApiError::from_response(
///     401,
///     None,
///     r#"{"code":"SIGN_ERROR","message":"签名错误","detail":{"issue":"mchid 1900000000 is not the merchant of serial 3775B6A4"}}"#.into(),
/// );
/// assert_eq!(
///     err.to_string(),
///     "WeChat Pay answered 401 SIGN_ERROR: 签名错误 (detail: issue: mchid 1900000000 is not the merchant of serial 3775B6A4)"
/// );
/// let debug = format!("{err:?}");
/// assert!(debug.contains(r#"body: "{\"code\":\"SIGN_ERROR\",\"message\":\"签名错误\""#));
/// ```
#[derive(Clone, thiserror::Error)]
#[error("WeChat Pay answered {status} {code}: {}{}{}", shown(.message, MESSAGE_SHOWN), detail_suffix(.detail), request_id_suffix(.request_id))]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// WeChat Pay's error code (`PARAM_ERROR`, `SIGN_ERROR`, …); empty when
    /// the body was not WeChat Pay's error JSON.
    pub code: String,
    /// Human-readable message, usually Chinese.
    pub message: String,
    /// `detail` object, e.g. `{"field":…,"issue":…}` or `sign_information`.
    pub detail: Option<Value>,
    /// `Request-ID` header.
    pub request_id: Option<String>,
    /// All response headers (empty when built by hand).
    pub headers: reqwest::header::HeaderMap,
    /// The raw response body.
    pub body: Bytes,
}

/// Most characters of a server-given text `Display` shows: a hostile or
/// broken server must not flood a log line.
const MESSAGE_SHOWN: usize = 512;

/// Most characters of the body `Debug` shows.
const BODY_SHOWN: usize = 4096;

/// Headers `Debug` leaves out: the signature is noise in a log and a cookie
/// may be a credential.
const HIDDEN_HEADERS: [&str; 2] = ["wechatpay-signature", "set-cookie"];

/// At most `limit` characters of `text`, control characters (a forged log
/// line's newline) shown as spaces, and how much was cut.
fn shown(text: &str, limit: usize) -> String {
    let mut out: String = text
        .chars()
        .take(limit)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let total = text.chars().count();
    if total > limit {
        out.push_str(&format!("… ({} more characters)", total - limit));
    }
    out
}

/// ` (detail: field: /amount/total, issue: …)` from the documented detail
/// `{field, value, issue, location}`; the value is left out (it is the
/// caller's own input, possibly personal data). Empty when the detail has
/// neither field nor issue.
fn detail_suffix(detail: &Option<Value>) -> String {
    let Some(detail) = detail else {
        return String::new();
    };
    let parts: Vec<String> = ["field", "issue"]
        .into_iter()
        .filter_map(|name| {
            let text = detail.get(name)?.as_str()?;
            Some(format!("{name}: {}", shown(text, MESSAGE_SHOWN)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" (detail: {})", parts.join(", "))
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field is a compile error here, not a leak.
        let ApiError {
            status,
            code,
            message,
            detail,
            request_id,
            headers,
            body,
        } = self;
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(name, _)| !HIDDEN_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or("<not text>")))
            .collect();
        f.debug_struct("ApiError")
            .field("status", status)
            .field("code", code)
            .field("message", message)
            .field("detail", detail)
            .field("request_id", request_id)
            .field("headers", &headers)
            .field("body", &shown(&String::from_utf8_lossy(body), BODY_SHOWN))
            .finish()
    }
}

impl ApiError {
    /// Reads WeChat Pay's `{"code","message","detail"}` error body; a body of
    /// another shape keeps `code` empty and the text as `message`.
    pub fn from_response(status: u16, request_id: Option<&str>, body: Bytes) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let code = field("code").unwrap_or_default();
        let message = field("message")
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(512).collect());
        let detail = parsed.as_ref().and_then(|v| v.get("detail")).cloned();
        ApiError {
            status,
            code,
            message,
            detail,
            request_id: request_id.map(str::to_owned),
            headers: reqwest::header::HeaderMap::new(),
            body,
        }
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        Error::Api(Box::new(err))
    }
}

/// An APIv2 response whose `return_code` or `result_code` is not SUCCESS
/// (or, for `appauth/getaccesstoken`, whose `retcode` is not 0).
///
/// ```no_run
/// # async fn demo(client: wechatpay_chain::Client) {
/// match client["v2/pay/orderquery"].post(wechatpay_chain::json!({"xml": {"out_trade_no": "T1"}})).await {
///     Err(wechatpay_chain::Error::ApiV2(e)) if e.err_code.as_deref() == Some("ORDERNOTEXIST") => {}
///     other => println!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("WeChat Pay APIv2 answered {return_code}/{}: {}{}", .result_code.as_deref().unwrap_or("-"), .return_msg.as_deref().unwrap_or(""), describe(.err_code, .err_code_des))]
#[non_exhaustive]
pub struct ApiV2Error {
    /// `SUCCESS` or `FAIL` (communication level).
    pub return_code: String,
    /// Why the communication failed.
    pub return_msg: Option<String>,
    /// `SUCCESS` or `FAIL` (business level), when present.
    pub result_code: Option<String>,
    /// Business error code (`ORDERPAID`, `SYSTEMERROR`, `USERPAYING`, …).
    pub err_code: Option<String>,
    /// Its description.
    pub err_code_des: Option<String>,
    /// Every field of the response.
    pub fields: Map<String, Value>,
}

fn describe(code: &Option<String>, description: &Option<String>) -> String {
    match (code, description) {
        (Some(code), Some(text)) => format!(" ({code}: {text})"),
        (Some(code), None) => format!(" ({code})"),
        _ => String::new(),
    }
}

impl ApiV2Error {
    pub(crate) fn from_fields(fields: Map<String, Value>) -> Self {
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        ApiV2Error {
            return_code: text("return_code").unwrap_or_default(),
            return_msg: text("return_msg"),
            result_code: text("result_code"),
            err_code: text("err_code"),
            err_code_des: text("err_code_des"),
            fields,
        }
    }
}

impl From<ApiV2Error> for Error {
    fn from(err: ApiV2Error) -> Self {
        Error::ApiV2(Box::new(err))
    }
}

/// Largest APIv2 document read (the limit [`XmlError::TooLarge`] names;
/// also at `v2::xml::MAX_XML`).
pub const MAX_XML: usize = 1 << 20;

/// Why an XML document was refused.
///
/// ```
/// use wechatpay_chain::v2::xml::{parse, XmlError};
/// assert_eq!(parse(b"<!DOCTYPE x><xml/>"), Err(XmlError::Dtd));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Larger than [`MAX_XML`].
    #[error("the XML document is {0} bytes, over the {MAX_XML}-byte limit")]
    TooLarge(usize),
    /// A `<!DOCTYPE>`: refused, as it is how entity bombs and external
    /// entities come in.
    #[error("the XML document has a DTD (<!DOCTYPE …>), which is refused")]
    Dtd,
    /// Not well-formed, truncated, or not `<xml>` with flat fields.
    #[error("not an APIv2 XML document: {0}")]
    Malformed(String),
}

/// Why an AES-256-GCM ciphertext could not be opened.
///
/// ```
/// use wechatpay_chain::crypto::{aes_256_gcm_decrypt, AeadError};
/// assert_eq!(aes_256_gcm_decrypt(&[0; 32], b"0123456789ab", b"", "AAAA"), Err(AeadError::Truncated(3)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AeadError {
    /// The ciphertext is not valid base64.
    #[error("ciphertext is not valid base64")]
    Base64,
    /// Shorter than the 16-byte tag.
    #[error("ciphertext is {0} bytes, shorter than the 16-byte GCM tag")]
    Truncated(usize),
    /// Wrong key, nonce or associated data, or a tampered ciphertext.
    #[error("authentication failed: wrong APIv3 key, nonce or associated_data, or a tampered ciphertext")]
    Authentication,
}

/// Why a verified notification body could not be read.
///
/// ```
/// use wechatpay_chain::notify::NotificationError;
/// assert_eq!(NotificationError::MissingField("id").to_string(), "field `id` is missing or not a string");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// The body is not a JSON object.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// A field the envelope must have is missing or not a string.
    #[error("field `{0}` is missing or not a string")]
    MissingField(&'static str),
    /// `resource.algorithm` is not `AEAD_AES_256_GCM`.
    #[error("resource algorithm `{0}` is not supported (expected AEAD_AES_256_GCM)")]
    UnsupportedAlgorithm(String),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::mock_stopped_message;

    #[test]
    fn a_stopped_mock_is_named_with_the_command_that_starts_it() {
        let text =
            mock_stopped_message("http://127.0.0.1:8080/", Path::new("/tmp/wxpay/mock.json"));
        assert!(
            text.contains("nothing listens at http://127.0.0.1:8080/"),
            "{text}"
        );
        assert!(text.contains("profile /tmp/wxpay/mock.json"), "{text}");
        assert!(text.contains("`wxpay mock --dir /tmp/wxpay`"), "{text}");
        // A directory a shell would split or expand is quoted.
        let text =
            mock_stopped_message("http://127.0.0.1:1/", Path::new("/tmp/my shop's/mock.json"));
        assert!(
            text.contains(r"`wxpay mock --dir '/tmp/my shop'\''s'`"),
            "{text}"
        );
        let text = mock_stopped_message("http://127.0.0.1:1/", Path::new("mock.json"));
        assert!(text.contains("`wxpay mock --dir .`"), "{text}");
    }
}
