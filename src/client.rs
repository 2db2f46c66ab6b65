//! The client: configuration, key material, and the one place where a
//! request is filled, signed, sent and its answer verified.

use std::fmt;
use std::ops::Index;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tracing::Instrument;

use elsa::sync::FrozenMap;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, Url};
use tokio::task::AbortHandle;

use crate::builder::ClientBuilder;
use crate::chain::{intern, Chain};
use crate::error::{ApiError, Error, Result, TimeoutLimit};
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
    pub(crate) verifier: RwLock<Arc<Verifier>>,
    pub(crate) apiv3_key: Option<ApiV3Key>,
    pub(crate) base_url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) user_agent: HeaderValue,
    /// Background certificate refresh period, if asked for.
    pub(crate) certificate_refresh: Option<Duration>,
    /// APIv2 key, defaults and TLS client, when configured.
    pub(crate) apiv2: Option<crate::v2::Settings>,
    pub(crate) retry: RetryPolicy,
    /// Failover host, tried on every other repeat.
    pub(crate) backup_url: Option<String>,
    /// The whole-request limit, to tell which timeout was hit.
    pub(crate) timeout: Option<Duration>,
    pub(crate) trace_signed_messages: bool,
    /// Sign on tokio's blocking pool instead of the async worker.
    pub(crate) sign_off_thread: bool,
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
        if options.xml.is_some() || options.security || options.nonceless {
            return Err(Error::InvalidOption {
                key: "xml".to_owned(),
                reason: format!(
                    "`xml`, `security` and `nonceless` are APIv2 options, and `{template}` is an APIv3 path (APIv2 paths start with v2/)"
                ),
            });
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
        let bytes = match read_capped(answer, MAX_ANSWER_BYTES).await {
            Ok(bytes) => bytes,
            Err(Capped::Transport(e)) => return Err(self.transport_failure(e, sent)),
            Err(Capped::TooLarge) => {
                return Err(fail(Error::AnswerTooLarge {
                    limit: MAX_ANSWER_BYTES,
                }))
            }
        };
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

/// Largest answer read into memory (JSON and XML answers are a few KiB;
/// files stream through `download` instead).
pub const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Why a capped read stopped.
pub(crate) enum Capped {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads the whole body, refusing more than `limit` bytes.
pub(crate) async fn read_capped(
    mut answer: reqwest::Response,
    limit: usize,
) -> std::result::Result<bytes::Bytes, Capped> {
    if answer.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Capped::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = answer.chunk().await.map_err(Capped::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
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
