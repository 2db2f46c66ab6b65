//! The client: configuration, key material, and the one place where a
//! request is filled, signed, sent and its answer verified.

use std::fmt;
use std::ops::Index;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tracing::Instrument;

use elsa::sync::FrozenMap;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, Url};
use tokio::task::AbortHandle;

use crate::chain::{intern, Chain};
use crate::error::{ApiError, Error, Result, TimeoutLimit};
use crate::keys::{read_file, PrivateKey, WechatpayKey};
use crate::retry::{self, RetryPolicy};
use bytes::Bytes;

use crate::options::{Body, Options};
use crate::path::{encode_component, join, Template};
use crate::request::{PreparedRequest, Signature};
use crate::response::Response;
use crate::sign::{unix_now, RequestSigner};
use crate::verify::headers::{REQUEST_ID, SERIAL};
use crate::verify::Verifier;

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
    pub(crate) signer: RequestSigner,
    /// Swapped whole when certificates are refreshed; requests take a snapshot.
    verifier: RwLock<Arc<Verifier>>,
    pub(crate) apiv3_key: Option<ApiV3Key>,
    base_url: String,
    http: reqwest::Client,
    user_agent: HeaderValue,
    /// Background certificate refresh period, if asked for.
    pub(crate) certificate_refresh: Option<Duration>,
    /// APIv2 key, defaults and TLS client, when configured.
    pub(crate) apiv2: Option<crate::v2::Settings>,
    retry: RetryPolicy,
    /// Failover host, tried on every other repeat.
    backup_url: Option<String>,
    /// The whole-request limit, to tell which timeout was hit.
    timeout: Option<Duration>,
    trace_signed_messages: bool,
    /// Sign on tokio's blocking pool instead of the async worker.
    sign_off_thread: bool,
    /// The background certificate refresh, stopped when the client goes.
    pub(crate) refresher: Mutex<Option<AbortHandle>>,
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
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A node for `path`, taken literally: `client.chain("v3/pay/transactions/id/{transaction_id}")`.
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
    pub fn preferred_serial(&self) -> Option<String> {
        self.inner.verifier().preferred_id().map(str::to_owned)
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        self.inner.signer.mchid()
    }

    /// The base URL, always ending in `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// A snapshot of the verification keys (certificate refreshes replace
    /// the whole set; a snapshot never changes).
    pub fn verifier(&self) -> Arc<Verifier> {
        self.inner.verifier()
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Signs `request` as it would be sent now: the `Authorization` header
    /// and the exact message it covers (what `wxpay --dry-run` prints).
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
        intern(&self.nodes, &self.inner, join("", path))
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

impl Inner {
    /// The current verification keys.
    pub(crate) fn verifier(&self) -> Arc<Verifier> {
        match self.verifier.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
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
        if let Some(error) = options.error {
            return Err(error);
        }
        if template.starts_with("v2/") {
            return Err(Error::Unsupported(format!(
                "`{template}` is an APIv2 (XML) endpoint: send it with a verb; it has no APIv3 request to prepare"
            )));
        }
        let (url, relative_path) = self.url(template, &options.params, &options.query)?;
        let is_get = method == Method::GET;
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
                .is_some_and(|v| v.as_bytes() != serial.as_bytes())
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
        Ok(PreparedRequest {
            method,
            url,
            relative_path,
            headers,
            body: match &options.upload {
                Some(media) => Some(Bytes::from(media.meta_json())),
                None => options.body.map(Body::into_bytes),
            },
            skip_verification: options.skip_verification,
            upload: options.upload,
            template: template.to_owned(),
            idempotent: options.idempotent || is_get,
        })
    }

    /// Signs a prepared request now (fresh timestamp and nonce).
    pub(crate) fn sign(&self, request: &PreparedRequest) -> Result<Signature> {
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

    /// Signs, sends and verifies one request, repeating it as far as the
    /// retry policy and safety allow (see [`crate::retry`]).
    pub(crate) async fn send(&self, request: PreparedRequest) -> Result<Response> {
        let span = tracing::info_span!(
            "wechatpay.request",
            method = %request.method,
            template = %request.template,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        self.send_with_retries(request).instrument(span).await
    }

    async fn send_with_retries(&self, request: PreparedRequest) -> Result<Response> {
        let started = Instant::now();
        let span = tracing::Span::current();
        let mut attempt = 1;
        loop {
            span.record("attempt", attempt);
            // Failover: every other repeat goes to the backup host.
            let url = match (&self.backup_url, attempt % 2) {
                (Some(backup), 0) => rebase(&request.url, &self.base_url, backup),
                _ => request.url.clone(),
            };
            let outcome = self.attempt(&request, url).await;
            span.record("latency_ms", started.elapsed().as_millis() as u64);
            let (error, failure, retry_after) = match outcome {
                Ok(response) => return Ok(response),
                Err(failed) => failed,
            };
            let Some(failure) = failure else {
                return Err(error);
            };
            let delay = self.retry.delay(attempt + 1, retry_after);
            let in_time = started.elapsed() + delay < self.retry.max_elapsed_time();
            if attempt >= self.retry.attempts()
                || !in_time
                || !retry::may_retry(failure, request.idempotent)
            {
                return Err(error);
            }
            tracing::debug!(
                attempt,
                ?failure,
                delay_ms = delay.as_millis() as u64,
                "retrying: {error}"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: sign afresh, send, read, verify. A failure carries what
    /// the retry logic needs: whether the request may have been sent, and
    /// `Retry-After`.
    async fn attempt(&self, request: &PreparedRequest, url: Url) -> AttemptResult {
        let fail = |e: Error| (e, None, None);
        let canonical = url[url::Position::BeforePath..].to_owned();
        let (authorization, message) = if self.sign_off_thread {
            let (signer, method, body) = (
                self.signer.clone(),
                request.method.clone(),
                request.body().to_vec(),
            );
            tokio::task::spawn_blocking(move || {
                signer.sign_with_message(method.as_str(), &canonical, &body)
            })
            .await
            .map_err(|e| fail(Error::Config(format!("the signing task failed: {e}"))))?
        } else {
            self.signer
                .sign_with_message(request.method.as_str(), &canonical, request.body())
        }
        .map_err(fail)?;
        if self.trace_signed_messages {
            // The message is what was signed; the signature itself is never logged.
            tracing::debug!(message = %String::from_utf8_lossy(&message), "signed message");
        }
        let mut auth = HeaderValue::from_str(&authorization.to_string()).map_err(|_| {
            fail(Error::Config(
                "mchid or merchant serial is not printable ASCII".to_owned(),
            ))
        })?;
        auth.set_sensitive(true);
        let mut headers = request.headers.clone();
        headers.insert(AUTHORIZATION, auth);
        let mut http = self
            .http
            .request(request.method.clone(), url)
            .headers(headers);
        match (&request.upload, &request.body) {
            (Some(media), Some(meta)) => {
                http = http.multipart(media.form(meta).await.map_err(fail)?)
            }
            (_, Some(body)) => http = http.body(body.clone()),
            _ => {}
        }
        let sent = Instant::now();
        let answer = http
            .send()
            .await
            .map_err(|e| self.transport_failure(e, sent))?;
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| self.transport_failure(e, sent))?;
        let span = tracing::Span::current();
        span.record("status", status);
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(id) = &request_id {
            span.record("request_id", id.as_str());
        }
        if !(200..300).contains(&status) {
            let retry_after = retry::retry_after(&headers);
            let mut api = ApiError::from_response(status, request_id.as_deref(), bytes);
            api.headers = headers;
            return Err((
                api.into(),
                Some(retry::Failure::Answered(status)),
                retry_after,
            ));
        }
        let verified_by = if request.expects_signature() {
            let verifier = self.verifier();
            let id = verifier
                .verify(&headers, &bytes, unix_now())
                .map_err(|kind| fail(Error::Verify { kind, request_id }))?;
            Some(id.to_owned())
        } else {
            None
        };
        Ok(Response::new(status, headers, bytes, verified_by))
    }

    /// Classifies a transport error: its SDK error, and whether the request
    /// may have reached the server.
    fn transport_failure(
        &self,
        error: reqwest::Error,
        sent: Instant,
    ) -> (Error, Option<retry::Failure>, Option<Duration>) {
        let failure = if error.is_connect() {
            retry::Failure::NotSent
        } else {
            retry::Failure::MaybeSent
        };
        let error = if error.is_timeout() {
            let limit = if error.is_connect() {
                TimeoutLimit::Connect
            } else if self
                .timeout
                .is_some_and(|t| sent.elapsed() + Duration::from_millis(50) >= t)
            {
                TimeoutLimit::Request
            } else {
                TimeoutLimit::Read
            };
            Error::Timeout {
                limit,
                source: error,
            }
        } else {
            Error::Transport(error)
        };
        (error, Some(failure), None)
    }

    /// `base_url` + filled template + `?query`, every value percent-encoded;
    /// also returns the filled template alone.
    pub(crate) fn url(
        &self,
        template: &str,
        params: &[(String, String)],
        query: &[(String, String)],
    ) -> Result<(Url, String)> {
        let parsed = Template::parse(template)?;
        if let Some((key, _)) = params.iter().find(|(key, _)| !parsed.has_placeholder(key)) {
            return Err(Error::UnknownOption {
                key: key.clone(),
                template: template.to_owned(),
            });
        }
        let path = parsed.fill(|name| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v.as_str())
        })?;
        let mut url =
            Url::parse(&format!("{}{}", self.base_url, path)).map_err(|e| Error::Template {
                template: template.to_owned(),
                reason: format!(
                    "does not form a valid URL with base `{}`: {e}",
                    self.base_url
                ),
            })?;
        if !query.is_empty() {
            let text = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                .collect::<Vec<_>>()
                .join("&");
            url.set_query(Some(&text));
        }
        Ok((url, path))
    }
}

/// A transport error outside the retry loop (downloads).
pub(crate) fn transport(error: reqwest::Error) -> Error {
    if error.is_timeout() {
        let limit = if error.is_connect() {
            TimeoutLimit::Connect
        } else {
            TimeoutLimit::Read
        };
        Error::Timeout {
            limit,
            source: error,
        }
    } else {
        Error::Transport(error)
    }
}

/// What a failed attempt reports: the error, how it failed (`None`: never
/// retry), and `Retry-After`.
type AttemptResult =
    std::result::Result<Response, (Error, Option<retry::Failure>, Option<Duration>)>;

/// `url` moved from `base` to `backup`, path and query kept.
fn rebase(url: &Url, base: &str, backup: &str) -> Url {
    let text = url.as_str();
    match text
        .strip_prefix(base)
        .map(|rest| format!("{backup}{rest}"))
    {
        Some(moved) => Url::parse(&moved).unwrap_or_else(|_| url.clone()),
        None => url.clone(),
    }
}

/// Key material given to the builder: PEM bytes or a file to read at build.
enum KeyInput {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl KeyInput {
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            KeyInput::Pem(pem) => Ok(pem.clone()),
            KeyInput::File(path) => read_file(path, &format!("{what} {}", path.display())),
        }
    }
}

impl fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyInput::Pem(pem) => write!(f, "Pem(<{} bytes>)", pem.len()),
            KeyInput::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

/// Configures a [`Client`]. Settings are collected as given; everything is
/// checked once, in [`ClientBuilder::build`], which names what is wrong.
///
/// ```
/// use wechatpay_chain::{Client, Error};
///
/// let err = Client::builder().mchid("1900000109").build().unwrap_err();
/// assert!(matches!(err, Error::Config(_)));
/// assert!(err.to_string().contains("merchant_serial"));
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    mchid: Option<String>,
    merchant_serial: Option<String>,
    private_key: Option<KeyInput>,
    certificates: Vec<KeyInput>,
    public_keys: Vec<(String, KeyInput)>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    user_agent: Option<String>,
    http: Option<reqwest::Client>,
    passphrase: Option<Secret>,
    apiv3_key: Option<Secret>,
    certificate_refresh: Option<Duration>,
    apiv2_key: Option<Secret>,
    apiv2_appid: Option<String>,
    apiv2_add_mch_id: bool,
    apiv2_identity: Option<Identity>,
    retry: Option<RetryPolicy>,
    backup_url: Option<String>,
    proxies: Vec<reqwest::Proxy>,
    root_certificates: Vec<Vec<u8>>,
    trace_signed_messages: bool,
    sign_off_thread: bool,
}

/// The merchant TLS client certificate for APIv2's `security` calls.
enum Identity {
    Pem { certificate: Vec<u8>, key: Secret },
    Pkcs12 { der: Secret, passphrase: Secret },
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Identity::Pem { .. } => "Identity::Pem(<redacted>)",
            Identity::Pkcs12 { .. } => "Identity::Pkcs12(<redacted>)",
        })
    }
}

/// A secret the builder holds until `build()`; `Debug` never shows it.
struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ClientBuilder {
    /// Merchant id (商户号), digits.
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// Serial of the merchant API certificate (商户API证书序列号), hex.
    pub fn merchant_serial(mut self, serial: impl Into<String>) -> Self {
        self.merchant_serial = Some(serial.into());
        self
    }

    /// Merchant API private key as PEM (PKCS#8 or PKCS#1).
    pub fn private_key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.private_key = Some(KeyInput::Pem(pem.into()));
        self
    }

    /// Merchant API private key file (`apiclient_key.pem`), read at `build()`.
    pub fn private_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.private_key = Some(KeyInput::File(path.into()));
        self
    }

    /// A WeChat Pay platform certificate (PEM); its serial is read from it.
    /// May be given several times (rotation).
    pub fn platform_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.certificates.push(KeyInput::Pem(pem.into()));
        self
    }

    /// A WeChat Pay platform certificate file, read at `build()`.
    pub fn platform_certificate_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.certificates.push(KeyInput::File(path.into()));
        self
    }

    /// A WeChat Pay public key (PEM) with its id `PUB_KEY_ID_…`.
    pub fn platform_public_key(mut self, id: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.public_keys
            .push((id.into(), KeyInput::Pem(pem.into())));
        self
    }

    /// A WeChat Pay public key file (`pub_key.pem`) with its id, read at `build()`.
    pub fn platform_public_key_file(
        mut self,
        id: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> Self {
        self.public_keys
            .push((id.into(), KeyInput::File(path.into())));
        self
    }

    /// Where requests go; default [`DEFAULT_BASE_URL`]. A path prefix is
    /// kept (`https://host/hk/` signs `/hk/v3/…`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Limit for a whole request; default [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Limit for connecting; default [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Limit for one read of the answer (an idle connection); default
    /// [`DEFAULT_READ_TIMEOUT`]. Downloads are bounded by this, not by the
    /// whole-request timeout.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Appended to the `User-Agent` (`wechatpay-chain/<version> (<os>/<arch>) <yours>`).
    pub fn user_agent(mut self, product: impl Into<String>) -> Self {
        self.user_agent = Some(product.into());
        self
    }

    /// Uses your `reqwest::Client` (proxies, pools, TLS roots). The timeouts
    /// set here are then not applied: configure them on your client, and
    /// turn redirects off (WeChat Pay's APIv3 never redirects).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Passphrase of an encrypted PKCS#8 private key (`BEGIN ENCRYPTED PRIVATE KEY`).
    pub fn private_key_passphrase(mut self, passphrase: impl Into<Vec<u8>>) -> Self {
        self.passphrase = Some(Secret(passphrase.into()));
        self
    }

    /// The APIv3 key (APIv3密钥, 32 characters), needed for notifications and
    /// certificate downloads.
    pub fn apiv3_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.apiv3_key = Some(Secret(key.into()));
        self
    }

    /// Downloads the platform certificates again every `interval` in the
    /// background (WeChat Pay advises well inside 12 h; [`DEFAULT_CERTIFICATE_REFRESH`]
    /// is a good value) and swaps them in while requests run. Needs the APIv3
    /// key and a tokio runtime at `build()`. The refresh stops when the last
    /// clone of the client is dropped.
    pub fn certificate_refresh(mut self, interval: Duration) -> Self {
        self.certificate_refresh = Some(interval);
        self
    }

    /// The APIv2 key (API密钥, 32 characters) for `v2/…` calls.
    pub fn apiv2_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.apiv2_key = Some(Secret(key.into()));
        self
    }

    /// APIv2: add this `appid` to payloads that lack one.
    pub fn apiv2_appid(mut self, appid: impl Into<String>) -> Self {
        self.apiv2_appid = Some(appid.into());
        self
    }

    /// APIv2: add the client's merchant id as `mch_id` to payloads that lack
    /// one. (A payload whose `mch_id` differs from it is refused either way.)
    pub fn apiv2_add_mch_id(mut self, yes: bool) -> Self {
        self.apiv2_add_mch_id = yes;
        self
    }

    /// APIv2: the merchant TLS client certificate (`apiclient_cert.pem`) and
    /// its PKCS#8 key, for calls made with `security`.
    pub fn apiv2_client_certificate(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.apiv2_identity = Some(Identity::Pem {
            certificate: certificate_pem.into(),
            key: Secret(key_pem.into()),
        });
        self
    }

    /// APIv2: the merchant TLS client certificate as PKCS#12
    /// (`apiclient_cert.p12`, passphrase usually the merchant id).
    pub fn apiv2_client_pkcs12(
        mut self,
        der: impl Into<Vec<u8>>,
        passphrase: impl Into<Vec<u8>>,
    ) -> Self {
        self.apiv2_identity = Some(Identity::Pkcs12 {
            der: Secret(der.into()),
            passphrase: Secret(passphrase.into()),
        });
        self
    }

    /// How requests are repeated; default [`RetryPolicy::default`]. Whatever
    /// the policy, only what is safe is repeated (see [`crate::retry`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// A backup base URL (WeChat Pay's is [`BACKUP_BASE_URL`]) for every
    /// other repeat, under the same safety rule as retries.
    pub fn backup_base_url(mut self, url: impl Into<String>) -> Self {
        self.backup_url = Some(url.into());
        self
    }

    /// Sends through a proxy (`reqwest::Proxy::all("socks5://…")`, …).
    pub fn proxy(mut self, proxy: reqwest::Proxy) -> Self {
        self.proxies.push(proxy);
        self
    }

    /// Trusts an extra root certificate (PEM), e.g. a corporate TLS proxy's.
    pub fn add_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Logs each signed message at `debug` level (target
    /// `wechatpay_chain::client`). Off by default; the signature, keys and
    /// decrypted fields are never logged either way.
    pub fn trace_signed_messages(mut self, yes: bool) -> Self {
        self.trace_signed_messages = yes;
        self
    }

    /// Signs on tokio's blocking thread pool rather than on the async worker
    /// (an RSA-2048 signature takes about 0.25 ms). Off by default: see
    /// `docs/performance.md` for the measurements behind that choice.
    pub fn sign_off_thread(mut self, yes: bool) -> Self {
        self.sign_off_thread = yes;
        self
    }

    /// Checks everything and builds the client. At least one WeChat Pay key
    /// must be configured; to start from none, use
    /// [`build_with_certificates`](Self::build_with_certificates).
    pub fn build(self) -> Result<Client> {
        let client = self.assemble(true)?;
        crate::certs::start_refresh(&client)?;
        Ok(client)
    }

    /// Builds the client, downloads the platform certificates once (needs the
    /// APIv3 key), and starts the background refresh if one was asked for.
    /// Works with no WeChat Pay key configured: the download is then
    /// verified with a certificate it carries.
    pub async fn build_with_certificates(self) -> Result<Client> {
        let client = self.assemble(false)?;
        client.refresh_certificates().await?;
        crate::certs::start_refresh(&client)?;
        Ok(client)
    }

    /// Builds a client that signs requests and decrypts fields but trusts
    /// no WeChat Pay key yet: every answer fails verification until
    /// [`Client::refresh_certificates`] brings keys. For tools (dry runs,
    /// decrypting, bootstrapping certificates), not for payments.
    pub fn build_for_signing_only(self) -> Result<Client> {
        self.assemble(false)
    }

    fn assemble(self, require_keys: bool) -> Result<Client> {
        let mchid = self.mchid.filter(|m| !m.is_empty()).ok_or_else(|| {
            config("mchid is not set: call .mchid(\"1900000109\") with your merchant id (商户号)")
        })?;
        if !mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(config(&format!(
                "mchid `{mchid}` is not a merchant id: it must be digits only"
            )));
        }
        let serial = self.merchant_serial.filter(|s| !s.is_empty()).ok_or_else(|| {
            config("merchant_serial is not set: call .merchant_serial(\"…\") with the serial of your merchant API certificate")
        })?;
        if !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(config(&format!(
                "merchant_serial `{serial}` is not a certificate serial: it must be hex digits"
            )));
        }
        let serial = serial.to_ascii_uppercase();
        let key_input = self.private_key.ok_or_else(|| {
            config("no merchant private key: call .private_key_file(\"apiclient_key.pem\") or .private_key_pem(…)")
        })?;
        let what = match &key_input {
            KeyInput::File(path) => format!("merchant private key {}", path.display()),
            KeyInput::Pem(_) => "merchant private key".to_owned(),
        };
        let passphrase = self.passphrase.as_ref().map(|p| p.0.as_slice());
        let private_key =
            PrivateKey::parse_with(&key_input.read("merchant private key")?, passphrase, &what)?;

        let mut keys = Vec::new();
        for (i, input) in self.certificates.iter().enumerate() {
            let what = format!("platform certificate #{}", i + 1);
            keys.push(WechatpayKey::certificate(&input.read(&what)?, &what)?);
        }
        for (id, input) in &self.public_keys {
            let what = format!("WeChat Pay public key {id}");
            keys.push(WechatpayKey::public_key(id, &input.read(&what)?, &what)?);
        }
        if keys.iter().any(|k| k.id() == serial) {
            return Err(config(&format!(
                "`{serial}` is your merchant certificate serial, not a WeChat Pay key: give the platform certificate \
                 (downloaded from v3/certificates) or the WeChat Pay public key, not apiclient_cert.pem"
            )));
        }
        let verifier = Verifier::new(keys)?;
        if require_keys && verifier.is_empty() {
            return Err(config(
                "no WeChat Pay verification key: add .platform_public_key(id, pem) or .platform_certificate(pem) \
                 (or use build_with_certificates() with the APIv3 key), otherwise no response can be trusted",
            ));
        }
        let apiv3_key = match self.apiv3_key {
            None => None,
            Some(Secret(bytes)) => Some(ApiV3Key(bytes.as_slice().try_into().map_err(|_| {
                config(&format!(
                    "the APIv3 key must be exactly 32 bytes (it is {}); copy it from 商户平台 → API安全 → APIv3密钥",
                    bytes.len()
                ))
            })?)),
        };
        if self.certificate_refresh.is_some() && apiv3_key.is_none() {
            return Err(config(
                "certificate_refresh needs the APIv3 key: add .apiv3_key(…)",
            ));
        }

        let base_url = normalize_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let user_agent = user_agent(self.user_agent.as_deref())?;
        let backup_url = match &self.backup_url {
            Some(url) => Some(normalize_base_url(url)?),
            None => None,
        };
        let timeout = match &self.http {
            Some(_) => None,
            None => Some(self.timeout.unwrap_or(DEFAULT_TIMEOUT)),
        };
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut builder = reqwest::Client::builder()
                    .timeout(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                    .read_timeout(self.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT))
                    .redirect(reqwest::redirect::Policy::none());
                for proxy in self.proxies {
                    builder = builder.proxy(proxy);
                }
                for pem in &self.root_certificates {
                    let certificate = reqwest::Certificate::from_pem(pem)
                        .map_err(|_| config("a root certificate is not a PEM certificate"))?;
                    builder = builder.add_root_certificate(certificate);
                }
                builder
                    .build()
                    .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?
            }
        };
        let apiv2 = match self.apiv2_key {
            None => None,
            Some(Secret(key)) => {
                let key =
                    String::from_utf8(key).map_err(|_| config("the APIv2 key must be text"))?;
                if key.len() != 32 {
                    return Err(config(&format!(
                        "the APIv2 key must be 32 characters (it is {}); copy it from 商户平台 → API安全 → API密钥",
                        key.len()
                    )));
                }
                let tls = match &self.apiv2_identity {
                    None => None,
                    Some(identity) => {
                        Some(tls_client(identity, self.timeout, self.connect_timeout)?)
                    }
                };
                Some(crate::v2::Settings {
                    key,
                    appid: self.apiv2_appid.clone(),
                    add_mch_id: self.apiv2_add_mch_id,
                    tls,
                })
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                signer: RequestSigner::new(mchid, serial, private_key),
                verifier: RwLock::new(Arc::new(verifier)),
                apiv3_key,
                base_url,
                http,
                user_agent,
                certificate_refresh: self.certificate_refresh,
                apiv2,
                retry: self.retry.unwrap_or_default(),
                backup_url,
                timeout,
                trace_signed_messages: self.trace_signed_messages,
                sign_off_thread: self.sign_off_thread,
                refresher: Mutex::new(None),
            }),
            nodes: Arc::default(),
        })
    }
}

/// An HTTP client presenting the merchant certificate.
fn tls_client(
    identity: &Identity,
    timeout: Option<Duration>,
    connect: Option<Duration>,
) -> Result<reqwest::Client> {
    let identity = match identity {
        Identity::Pem { certificate, key } => reqwest::Identity::from_pkcs8_pem(certificate, &key.0),
        Identity::Pkcs12 { der, passphrase } => {
            let passphrase = String::from_utf8_lossy(&passphrase.0).into_owned();
            reqwest::Identity::from_pkcs12_der(&der.0, &passphrase)
        }
    }
    .map_err(|_| config("the APIv2 client certificate does not load (PEM certificate + PKCS#8 key, or PKCS#12 and its passphrase)"))?;
    reqwest::Client::builder()
        .identity(identity)
        .timeout(timeout.unwrap_or(DEFAULT_TIMEOUT))
        .connect_timeout(connect.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Config(format!("cannot build the TLS client: {e}")))
}

fn config(message: &str) -> Error {
    Error::Config(message.to_owned())
}

fn normalize_base_url(text: &str) -> Result<String> {
    let url =
        Url::parse(text).map_err(|e| config(&format!("base_url `{text}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config(&format!(
            "base_url `{text}` must be an http(s) URL with a host"
        )));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(config(&format!(
            "base_url `{text}` must not carry a query, fragment or credentials"
        )));
    }
    let mut base = url.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}

fn user_agent(product: Option<&str>) -> Result<HeaderValue> {
    let mut text = format!(
        "wechatpay-chain/{} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    if let Some(product) = product {
        text.push(' ');
        text.push_str(product);
    }
    HeaderValue::from_str(&text).map_err(|_| config("user_agent must be printable ASCII"))
}
