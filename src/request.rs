//! A request ready to be signed: the exact method, URL, headers and body
//! that will go on the wire. Useful to look at before sending (a dry run)
//! and to measure the SDK's own overhead.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};

/// GET paths WeChat Pay answers without a signature: file downloads.
/// Their content is checked by hash instead.
pub const UNSIGNED_DOWNLOADS: [&str; 6] = [
    "v3/billdownload/file",
    "v3/transferdownload/signfile",
    "v3/transferdownload/elecvoucherfile",
    "v3/new-tax-control-fapiao/download",
    "v3/statements",
    "v3/global/statements",
];

/// Everything about a request except its `Authorization`, which is computed
/// when it is sent (so the timestamp is fresh).
///
/// ```
/// use wechatpay_chain::{json, Method};
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
///
/// let request = client
///     .chain("v3/payscore/serviceorder/{out_order_no}/modify")
///     .prepare(Method::POST, json!({"out_order_no": "a/b", "json": {"total_amount": 1}}).into())?;
/// assert_eq!(request.canonical_url(), "/v3/payscore/serviceorder/a%2Fb/modify");
/// assert_eq!(request.body(), br#"{"total_amount":1}"#);
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The filled template, relative to the base URL, without the query.
    /// The path actually sent (after URL normalisation), relative to the
    /// base URL, without the query; APIv2 paths without `v2/`.
    pub(crate) relative_path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    /// Whether a 2xx must carry a valid signature (decided when prepared:
    /// the caller's opt-out and the protocol's unsigned endpoints).
    pub(crate) signed_response: bool,
    /// For an upload, the media; `body` is then its `meta` JSON.
    pub(crate) upload: Option<crate::media::Media>,
    /// The template as written (for logs: no filled values).
    pub(crate) template: String,
    /// Safe to repeat: a GET, or marked idempotent.
    pub(crate) idempotent: bool,
    /// How it is signed and its response checked.
    pub(crate) protocol: Protocol,
    /// A whole-request limit other than the client's (downloads).
    pub(crate) timeout: Option<Duration>,
}

/// How a request is signed and its response verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `Authorization` header per attempt; responses signed by a WeChat Pay key.
    V3,
    /// `sign` inside the fields (XML body, or query for a GET); responses
    /// carry a `sign` under the APIv2 key. `security`: present the merchant
    /// TLS certificate.
    V2 {
        /// Present the merchant TLS client certificate.
        security: bool,
    },
}

impl PreparedRequest {
    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// What the signature covers as URL: the request-target exactly as sent,
    /// path plus `?query`, no scheme and no host.
    pub fn canonical_url(&self) -> &str {
        &self.url[url::Position::BeforePath..]
    }

    /// The headers, `Authorization` not yet among them.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes that are signed (empty when there is none): the JSON
    /// body, or for an upload the `meta` JSON of its first part.
    pub fn body(&self) -> &[u8] {
        self.body.as_deref().unwrap_or_default()
    }

    /// The path template this request was made from.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Whether this is an APIv2 (XML) call: its `sign` is already in the
    /// body (or, for a GET, the query), and no `Authorization` is added.
    pub fn is_apiv2(&self) -> bool {
        matches!(self.protocol, Protocol::V2 { .. })
    }

    /// Whether a 2xx response must carry a valid signature (APIv3: a WeChat
    /// Pay key's; APIv2: a `sign` under the APIv2 key): true unless the
    /// caller opted out or the endpoint is one WeChat Pay answers unsigned.
    pub fn expects_signature(&self) -> bool {
        self.signed_response
    }
}

/// A request's signature: the `Authorization` header and the exact message
/// it covers.
///
/// ```
/// use wechatpay_chain::{json, Method};
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
/// let request = client.chain("v3/certificates").prepare(Method::GET, ().into())?;
/// let signature = client.sign(&request)?;
/// assert!(signature.message.starts_with(b"GET\n/v3/certificates\n"));
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Signature {
    /// The header value (`Display`); `Debug` hides the signature.
    pub authorization: crate::sign::Authorization,
    /// `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`.
    pub message: Vec<u8>,
}

/// Whether `path` (relative to the base URL) is a download WeChat Pay
/// answers without a signature.
pub(crate) fn is_unsigned_download(path: &str) -> bool {
    if UNSIGNED_DOWNLOADS.contains(&path) {
        return true;
    }
    // Complaint images: `v3/merchant-service/images/{media_id}`, but not the upload.
    path.strip_prefix("v3/merchant-service/images/")
        .is_some_and(|media| media != "upload" && !media.is_empty() && !media.contains('/'))
}
