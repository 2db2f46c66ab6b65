//! The client: configuration, key material, and turning a template and its
//! options into a [`PreparedRequest`]. Sending is the (private) `transport` module's.

use std::fmt;
use std::ops::Index;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use elsa::sync::FrozenMap;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use tokio::task::AbortHandle;

use crate::chain::{intern, Chain};
use crate::error::{Error, Result};
use crate::options::{Body, Options};
use crate::path::{join, url};
use crate::request::{PreparedRequest, Protocol, Signature};
use crate::retry::RetryPolicy;
use crate::sign::RequestSigner;
use crate::verify::headers::SERIAL;
use crate::verify::Verifier;

// The engine: the builder fills `Inner`, the transport sends with it; both
// are children of this module so that `Inner`'s fields stay private to them.
mod builder;
pub(crate) mod transport;

pub use builder::{ClientBuilder, RequestCheck};

/// WeChat Pay's production API host.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com/";

/// Default limit for a whole request, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// WeChat Pay's backup API host, for [`ClientBuilder::backup_base_url`].
pub const BACKUP_BASE_URL: &str = "https://api2.mch.weixin.qq.com/";

/// A good period for [`ClientBuilder::certificate_refresh`]: WeChat Pay
/// announces a new certificate 24 h before it signs with it.
pub const DEFAULT_CERTIFICATE_REFRESH: Duration = Duration::from_secs(12 * 3600);

/// Default limit for one read of an answer: a connection idle this long is dropped.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default limit for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A WeChat Pay APIv3 client for one merchant (or service provider).
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. `Debug` shows ids, never
/// key material.
///
/// ```
/// use wechatpay_chain::Client;
///
/// let client = Client::builder()
///     .mchid("1900000109")
///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
///     .private_key_file("src/mock/data/merchant_key.pem")
///     .platform_public_key_file("PUB_KEY_ID_0119000001092026010100000000000001", "src/mock/data/wechatpay_pub_key.pem")
///     .platform_certificate_file("src/mock/data/platform_cert.pem")
///     .build()?;
/// assert_eq!(client.preferred_serial().as_deref(), Some("PUB_KEY_ID_0119000001092026010100000000000001"));
/// assert!(!format!("{client:?}").contains("PRIVATE"));
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Nodes handed out by `Index`, kept so that a reference can be returned.
    nodes: Arc<FrozenMap<String, Box<Chain>>>,
}

pub(crate) struct Inner {
    signer: RequestSigner,
    /// Swapped whole when certificates are refreshed; requests take a snapshot.
    verifier: RwLock<Arc<Verifier>>,
    apiv3_key: Option<ApiV3Key>,
    base_url: String,
    /// The base URL's path (`/`, or `/hk/` for a prefix).
    base_path: String,
    http: reqwest::Client,
    user_agent: HeaderValue,
    /// Background certificate refresh period, if asked for.
    certificate_refresh: Option<Duration>,
    /// APIv2 key, defaults and TLS client, when configured.
    apiv2: Option<crate::v2::Settings>,
    retry: RetryPolicy,
    /// Failover host, tried on every other repeat.
    backup_url: Option<String>,
    /// The whole-request limit, to tell which timeout was hit.
    timeout: Option<Duration>,
    trace_signed_messages: bool,
    /// Sign on tokio's blocking pool instead of the async worker.
    sign_off_thread: bool,
    /// Downloads stop past this many bytes (`None`: no limit).
    max_download_bytes: Option<u64>,
    /// Run on every prepared request before it is signed.
    request_check: Option<builder::RequestCheck>,
    /// The background certificate refresh, stopped when the client goes.
    refresher: Mutex<Option<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut refresher) = self.refresher.lock() {
            if let Some(task) = refresher.take() {
                task.abort();
            }
        }
    }
}

/// The APIv3 key (32 bytes); `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct ApiV3Key(pub(crate) [u8; 32]);

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(redacted)")
    }
}

impl Client {
    /// Starts configuring a client.
    ///
    /// ```
    /// let builder = wechatpay_chain::Client::builder().mchid("1900000109");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A node for `path`, taken literally: `client.chain("v3/pay/transactions/id/{transaction_id}")`.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// let node = client.chain("v3/pay/transactions/id/{transaction_id}");
    /// assert_eq!(node.template(), "v3/pay/transactions/id/{transaction_id}");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn chain(&self, path: &str) -> Chain {
        Chain::new(self.inner.clone(), join("", path))
    }

    /// What [`chain!`](crate::chain!) expands to.
    #[doc(hidden)]
    pub fn chain_idents(&self, idents: &[&str]) -> Chain {
        Chain::new(self.inner.clone(), String::new()).chain_idents(idents)
    }

    /// The key id sent as `Wechatpay-Serial`: the first WeChat Pay public key,
    /// else the newest valid platform certificate.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// assert_eq!(client.preferred_serial().as_deref(), Some("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn preferred_serial(&self) -> Option<String> {
        self.inner.verifier().preferred_id().map(str::to_owned)
    }

    /// The merchant id.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// assert_eq!(client.mchid(), "1900000109");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn mchid(&self) -> &str {
        self.inner.signer.mchid()
    }

    /// The base URL, always ending in `/`.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// assert_eq!(client.base_url(), "https://api.mch.weixin.qq.com/");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// A snapshot of the verification keys (certificate refreshes replace
    /// the whole set; a snapshot never changes).
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// assert!(client.verifier().contains("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn verifier(&self) -> Arc<Verifier> {
        self.inner.verifier()
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Signs `request` as it would be sent now: the `Authorization` header
    /// and the exact message it covers (what `wxpay --dry-run` prints).
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// let request = client.chain("v3/certificates").prepare(wechatpay_chain::Method::GET, ().into())?;
    /// let signature = client.sign(&request)?;
    /// assert!(signature.authorization.to_string().starts_with("WECHATPAY2-SHA256-RSA2048 "));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn sign(&self, request: &PreparedRequest) -> Result<Signature> {
        self.inner.sign(request)
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Client {
        Client {
            inner,
            nodes: Arc::default(),
        }
    }
}

impl Index<&str> for Client {
    type Output = Chain;

    /// `client["v3/pay/transactions/native"]`. Nodes are kept for the
    /// client's lifetime, so index with templates, not with filled ids.
    fn index(&self, path: &str) -> &Chain {
        intern(&self.nodes, join("", path), |path| {
            Chain::new(self.inner.clone(), path.to_owned())
        })
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("mchid", &self.inner.signer.mchid())
            .field("merchant_serial", &self.inner.signer.serial())
            .field("base_url", &self.inner.base_url)
            .field("preferred_serial", &self.preferred_serial())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Largest response read into memory; see [`Error::ResponseTooLarge`].
pub use self::transport::MAX_RESPONSE_BYTES;

impl Inner {
    /// The current verification keys.
    pub(crate) fn verifier(&self) -> Arc<Verifier> {
        match self.verifier.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn user_agent(&self) -> HeaderValue {
        self.user_agent.clone()
    }

    /// Replaces the verification keys (certificate refresh).
    pub(crate) fn set_verifier(&self, verifier: Verifier) {
        let verifier = Arc::new(verifier);
        match self.verifier.write() {
            Ok(mut guard) => *guard = verifier,
            Err(poisoned) => *poisoned.into_inner() = verifier,
        }
    }

    /// Fills the template and assembles method, URL, headers and body.
    pub(crate) fn prepare(
        &self,
        method: Method,
        template: &str,
        options: Options,
    ) -> Result<PreparedRequest> {
        if crate::path::is_apiv2(template) {
            let context = crate::v2::Context {
                settings: self.apiv2.as_ref(),
                mchid: self.signer.mchid(),
                user_agent: &self.user_agent,
                base_url: &self.base_url,
                base_path: &self.base_path,
            };
            return crate::v2::prepare(&context, method, template, options);
        }
        if let Some(error) = options.error {
            return Err(error);
        }
        if options.xml.is_some() || options.security || options.nonceless {
            return Err(Error::InvalidOption {
                key: "xml".to_owned(),
                reason: format!(
                    "`xml`, `security` and `nonceless` are APIv2 options, and `{template}` is an APIv3 path (APIv2 paths start with v2/)"
                ),
            });
        }
        let (url, relative_path) = url(
            &self.base_url,
            &self.base_path,
            template,
            &options.params,
            &options.query,
        )?;
        let is_get = method == Method::GET;
        let unsigned_download = is_get && crate::request::is_unsigned_download(&relative_path);
        let signed_response = !(options.skip_verification || unsigned_download);
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, self.user_agent.clone());
        // An upload's content type (multipart, with its boundary) is set when sent.
        if options.body.is_some() && options.upload.is_none() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(serial) = self.verifier().preferred_header() {
            headers.insert(SERIAL, serial.clone());
        }
        // Caller's headers win (a `Wechatpay-Serial` chosen for encryption, a
        // content type for a raw body); the SDK-owned ones were refused earlier.
        for (name, value) in &options.headers {
            headers.insert(name, value.clone());
        }
        if let Some(serial) = &options.encrypted_for {
            if options
                .headers
                .get(SERIAL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|named| !crate::keys::same_serial(named, serial))
            {
                return Err(Error::InvalidOption {
                    key: format!("headers.{SERIAL}"),
                    reason: format!(
                        "the body is encrypted for WeChat Pay key `{serial}`; the request must name that key, not another"
                    ),
                });
            }
            let value = HeaderValue::from_str(serial).map_err(|_| {
                Error::Config("the WeChat Pay key id is not printable ASCII".to_owned())
            })?;
            headers.insert(SERIAL, value);
        }
        let request = PreparedRequest {
            method,
            url,
            relative_path,
            headers,
            body: match &options.upload {
                Some(media) => Some(Bytes::from(media.meta_json())),
                None => options.body.map(Body::into_bytes),
            },
            signed_response,
            upload: options.upload,
            template: template.to_owned(),
            idempotent: options.idempotent || is_get,
            protocol: Protocol::V3,
            timeout: None,
        };
        if let Some(check) = &self.request_check {
            check(&request)?;
        }
        Ok(request)
    }

    /// Signs a prepared request now (fresh timestamp and nonce).
    pub(crate) fn sign(&self, request: &PreparedRequest) -> Result<Signature> {
        if request.is_apiv2() {
            return Err(Error::Unsupported(format!(
                "`{}` is an APIv2 call: its `sign` is already in the {}; it has no Authorization header",
                request.template,
                if request.body.is_some() { "XML body" } else { "query" }
            )));
        }
        let (authorization, message) = self.signer.sign_with_message(
            request.method.as_str(),
            request.canonical_url(),
            request.body(),
        )?;
        Ok(Signature {
            authorization,
            message,
        })
    }

    /// The origins a download URL may name: the base URL and the backup's.
    pub(crate) fn download_bases(&self) -> Vec<&str> {
        std::iter::once(self.base_url.as_str())
            .chain(self.backup_url.as_deref())
            .collect()
    }

    /// The download size limit, if one was set.
    pub(crate) fn max_download_bytes(&self) -> Option<u64> {
        self.max_download_bytes
    }

    /// The merchant signer (mchid, serial, private key).
    pub(crate) fn signer(&self) -> &RequestSigner {
        &self.signer
    }

    /// The APIv3 key, or the error that says what `needs` it and how to add it.
    pub(crate) fn apiv3_key(&self, needs: &str) -> Result<&ApiV3Key> {
        self.apiv3_key
            .as_ref()
            .ok_or_else(|| Error::Config(format!("{needs} the APIv3 key: add .apiv3_key(…)")))
    }

    /// The background certificate refresh period, if asked for.
    pub(crate) fn certificate_refresh(&self) -> Option<Duration> {
        self.certificate_refresh
    }

    /// Keeps the handle of the background refresh (aborting an older one),
    /// so that dropping the client stops it.
    pub(crate) fn set_refresher(&self, task: AbortHandle) {
        if let Ok(mut slot) = self.refresher.lock() {
            if let Some(old) = slot.replace(task) {
                old.abort();
            }
        }
    }

    /// The APIv2 settings, or the error that says how to add them.
    pub(crate) fn apiv2_settings(&self) -> Result<&crate::v2::Settings> {
        crate::v2::Settings::required(self.apiv2.as_ref())
    }

    pub(crate) fn apiv2_key(&self) -> Result<&str> {
        Ok(&self.apiv2_settings()?.key)
    }

    /// The client that presents the merchant TLS certificate.
    pub(crate) fn apiv2_tls_client(&self) -> Result<&reqwest::Client> {
        self.apiv2_settings()?.tls_client()
    }
}
