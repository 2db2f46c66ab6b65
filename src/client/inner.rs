//! The state a client and its chains share (keys, settings, the HTTP
//! client) and how it prepares and signs a request; sending is
//! `transport`'s, building it `builder`'s.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use tokio::task::AbortHandle;

use crate::error::{Error, Result};
use crate::options::{Body, Options};
use crate::path::url;
use crate::request::{PreparedRequest, Protocol, Signature};
use crate::retry::RetryPolicy;
use crate::sign::RequestSigner;
use crate::verify::headers::SERIAL;
use crate::verify::Verifier;

/// A check run on every prepared request before it is signed: `Err`
/// refuses it. See [`ClientBuilder::request_check`](crate::ClientBuilder::request_check).
pub type RequestCheck = Arc<dyn Fn(&PreparedRequest) -> Result<()> + Send + Sync>;

/// What every [`Client`](super::Client) and [`Chain`](crate::Chain) of one
/// configuration shares: keys, settings, the HTTP client.
pub(crate) struct Inner {
    pub(super) signer: RequestSigner,
    /// Swapped whole when certificates are refreshed; requests take a snapshot.
    pub(super) verifier: RwLock<Arc<Verifier>>,
    pub(super) apiv3_key: Option<ApiV3Key>,
    pub(super) base_url: String,
    /// The base URL's path (`/`, or `/hk/` for a prefix).
    pub(super) base_path: String,
    pub(super) http: reqwest::Client,
    pub(super) user_agent: HeaderValue,
    /// Background certificate refresh period, if asked for.
    pub(super) certificate_refresh: Option<Duration>,
    /// APIv2 key, defaults and TLS client, when configured.
    pub(super) apiv2: Option<crate::v2::Settings>,
    pub(super) retry: RetryPolicy,
    /// Failover host, tried on every other repeat.
    pub(super) backup_url: Option<String>,
    /// The whole-request limit, to tell which timeout was hit.
    pub(super) timeout: Option<Duration>,
    pub(super) trace_signed_messages: bool,
    /// Sign on tokio's blocking pool instead of the async worker.
    pub(super) sign_off_thread: bool,
    /// Downloads stop past this many bytes (`None`: no limit).
    pub(super) max_download_bytes: Option<u64>,
    /// Run on every prepared request before it is signed.
    pub(super) request_check: Option<RequestCheck>,
    /// The mock a profile pointed the client at, to say when it stopped.
    pub(super) mock_origin: Option<super::stopped_mock::MockOrigin>,
    /// The background certificate refresh, stopped when the client goes.
    pub(super) refresher: Mutex<Option<AbortHandle>>,
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
