//! Configuring a client: every setting collected as given, everything
//! checked once in `build()`, which names what is wrong and how to fix it.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::Url;

use super::inner::{ApiV3Key, Inner, RequestCheck};
use super::stopped_mock::MockOrigin;
use crate::client::{
    Client, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_TIMEOUT,
};
use crate::error::{Error, Result};
use crate::keys::{path_label, read_file, PrivateKey, WechatpayKey};
use crate::path::url_for_display;
use crate::retry::RetryPolicy;
use crate::sign::RequestSigner;
use crate::verify::Verifier;

/// Key material given to the builder: PEM bytes or a file to read at build.
enum KeyInput {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl KeyInput {
    /// The bytes; `hint` says what to do when a file "path" is the content.
    fn read(&self, what: &str, hint: &str) -> Result<Vec<u8>> {
        match self {
            KeyInput::Pem(pem) => Ok(pem.clone()),
            KeyInput::File(path) => read_file(path, &format!("{what} {}", path_label(path)), hint),
        }
    }
}

impl fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyInput::Pem(pem) => write!(f, "Pem(<{} bytes>)", pem.len()),
            // A "path" holding the key itself is not printed.
            KeyInput::File(path) => write!(f, "File({})", path_label(path)),
        }
    }
}

/// Configures a [`Client`]. Settings are collected as given; everything is
/// checked once, in [`ClientBuilder::build`], which names what is wrong.
///
/// Required: [`mchid`](Self::mchid), [`merchant_serial`](Self::merchant_serial),
/// the merchant private key ([`private_key_file`](Self::private_key_file) or
/// [`private_key_pem`](Self::private_key_pem)) and at least one WeChat Pay
/// key (a platform certificate or the WeChat Pay public key), unless the
/// client is built with [`build_with_certificates`](Self::build_with_certificates).
///
/// Defaults: base URL [`DEFAULT_BASE_URL`](crate::client::DEFAULT_BASE_URL)
/// and no backup host; a whole request may take 30 s, connecting 10 s, an
/// idle read 30 s; [`RetryPolicy::default`](crate::retry::RetryPolicy) (3
/// attempts within 30 s, only where repeating is safe); no proxy beyond the
/// environment's, the system's root certificates; the public key preferred
/// over a certificate as `Wechatpay-Serial`; no certificate refresh, no
/// APIv3 or APIv2 key, no download size limit; signing on the calling task;
/// signed messages not logged. The timeouts, proxies and root certificates
/// apply to the APIv2 TLS-certificate client too.
///
/// ```
/// use std::time::Duration;
/// use wechatpay_chain::retry::RetryPolicy;
/// use wechatpay_chain::{client, Client, Error};
///
/// let client = Client::builder()
///     .mchid("1900000109")                                   // 商户号
///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
///     .private_key_file("src/mock/data/merchant_key.pem")    // or .private_key_pem(bytes)
///     .platform_public_key_file(
///         "PUB_KEY_ID_0119000001092026010100000000000001",
///         "src/mock/data/wechatpay_pub_key.pem",
///     )
///     .platform_certificate_file("src/mock/data/platform_cert.pem")
///     .apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")          // notifications, certificates
///     .apiv2_key("192006250b4c09247ec02edce69f6a2d")          // v2/… calls
///     .apiv2_appid("wxd678efh567hg6787")
///     .base_url("https://api.mch.weixin.qq.com/")
///     .backup_base_url(client::BACKUP_BASE_URL)
///     .timeout(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(3))
///     .read_timeout(Duration::from_secs(10))
///     .retry(RetryPolicy::default().max_attempts(2))
///     .proxy(wechatpay_chain::reqwest::Proxy::all("http://127.0.0.1:3128")?)
///     .user_agent("my-shop/2.1")
///     .max_download_bytes(8 << 30)
///     .build()?;
/// assert_eq!(client.mchid(), "1900000109");
///
/// // Mistakes are named at build time, before any request.
/// let err = Client::builder().mchid("1900000109").build().unwrap_err();
/// assert!(matches!(err, Error::Config(_)));
/// assert!(err.to_string().contains("merchant_serial"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
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
    max_download_bytes: Option<u64>,
    prefer_certificate: bool,
    request_check: Option<RequestCheck>,
    /// Set by a profile `wxpay mock` wrote: its refused connections say
    /// the mock has stopped.
    mock_origin: Option<MockOrigin>,
}

/// Written out so that nothing secret shows: keys and passphrases are
/// redacted by their types, and proxies (whose `Debug` in reqwest prints
/// `user:password@`) and a caller's `reqwest::Client` (which prints its
/// proxies) are only said to be set.
impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so a new field is a compile error here, not a leak.
        let ClientBuilder {
            mchid,
            merchant_serial,
            private_key,
            certificates,
            public_keys,
            base_url,
            timeout,
            connect_timeout,
            read_timeout,
            user_agent,
            http,
            passphrase,
            apiv3_key,
            certificate_refresh,
            apiv2_key,
            apiv2_appid,
            apiv2_add_mch_id,
            apiv2_identity,
            retry,
            backup_url,
            proxies,
            root_certificates,
            trace_signed_messages,
            sign_off_thread,
            max_download_bytes,
            prefer_certificate,
            request_check,
            mock_origin,
        } = self;
        f.debug_struct("ClientBuilder")
            .field("mchid", mchid)
            .field("merchant_serial", merchant_serial)
            .field("private_key", private_key)
            .field("certificates", certificates)
            .field("public_keys", public_keys)
            .field("base_url", &base_url.as_deref().map(url_for_display))
            .field("timeout", timeout)
            .field("connect_timeout", connect_timeout)
            .field("read_timeout", read_timeout)
            .field("user_agent", user_agent)
            .field("http", &http.as_ref().map(|_| "<your reqwest::Client>"))
            .field("passphrase", passphrase)
            .field("apiv3_key", apiv3_key)
            .field("certificate_refresh", certificate_refresh)
            .field("apiv2_key", apiv2_key)
            .field("apiv2_appid", apiv2_appid)
            .field("apiv2_add_mch_id", apiv2_add_mch_id)
            .field("apiv2_identity", apiv2_identity)
            .field("retry", retry)
            .field("backup_url", &backup_url.as_deref().map(url_for_display))
            .field(
                "proxies",
                &format_args!("<{} set, redacted>", proxies.len()),
            )
            .field(
                "root_certificates",
                &format_args!("<{} PEM>", root_certificates.len()),
            )
            .field("trace_signed_messages", trace_signed_messages)
            .field("sign_off_thread", sign_off_thread)
            .field("max_download_bytes", max_download_bytes)
            .field("prefer_certificate", prefer_certificate)
            .field("request_check", &request_check.as_ref().map(|_| "<set>"))
            .field("mock_origin", mock_origin)
            .finish()
    }
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
    /// Marks the client as pointed at a profile's mock: a connection
    /// refused at its base URL becomes
    /// [`Error::MockStopped`](crate::Error::MockStopped).
    pub(crate) fn mock_origin(mut self, origin: MockOrigin) -> Self {
        self.mock_origin = Some(origin);
        self
    }

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
    /// background (WeChat Pay advises well inside 12 h; [`DEFAULT_CERTIFICATE_REFRESH`](crate::client::DEFAULT_CERTIFICATE_REFRESH)
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

    /// A backup base URL (WeChat Pay's is [`BACKUP_BASE_URL`](crate::client::BACKUP_BASE_URL)) for every
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
    /// [the performance guide](crate::guide::performance) for the
    /// measurements behind that choice.
    pub fn sign_off_thread(mut self, yes: bool) -> Self {
        self.sign_off_thread = yes;
        self
    }

    /// Sends the newest valid platform certificate's serial as
    /// `Wechatpay-Serial` even when a WeChat Pay public key is configured
    /// (default: the public key is preferred). For the move to the public
    /// key (微信支付公钥灰度): configure both, keep this `true` while WeChat
    /// Pay still answers with the certificate, and set it back to `false`
    /// (or drop it) once responses arrive signed by `PUB_KEY_ID_…`; both
    /// keys verify throughout. Survives certificate refreshes.
    ///
    /// ```
    /// let client = wechatpay_chain::Client::builder().mchid("1900000109")
    ///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    ///     .private_key_file("src/mock/data/merchant_key.pem")
    ///     .platform_certificate_file("src/mock/data/platform_cert.pem")
    ///     .platform_public_key_file("PUB_KEY_ID_0119000001092026010100000000000001", "src/mock/data/wechatpay_pub_key.pem")
    ///     .prefer_certificate(true)
    ///     .build()?;
    /// assert_eq!(client.preferred_serial().as_deref(), Some("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn prefer_certificate(mut self, yes: bool) -> Self {
        self.prefer_certificate = yes;
        self
    }

    /// Stops a download once it has written this many bytes (after
    /// decompression) with [`Error::DownloadTooLarge`]; no limit by
    /// default. Memory stays flat either way: this bounds the disk a
    /// hostile or broken file can fill before its hash is checked.
    pub fn max_download_bytes(mut self, limit: u64) -> Self {
        self.max_download_bytes = Some(limit);
        self
    }

    /// Runs `check` on every request once it is prepared, before it is
    /// signed or sent; an `Err` (best [`Error::RequestCheck`]) refuses the
    /// request. The check sees the request, it cannot change it. With the
    /// `catalog` feature, `check_requests(true)` installs the schema check.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wechatpay_chain::{Client, Error, Method};
    /// let client = Client::builder().mchid("1900000109")
    ///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    ///     .private_key_file("src/mock/data/merchant_key.pem")
    ///     .platform_certificate_file("src/mock/data/platform_cert.pem")
    ///     .request_check(Arc::new(|request| match request.body().is_empty() {
    ///         true => Ok(()),
    ///         false => Err(Error::RequestCheck { operation: request.template().to_owned(),
    ///                                            violations: vec!["no bodies here".to_owned()] }),
    ///     }))
    ///     .build()?;
    /// let refused = client.chain("v3/x").prepare(Method::POST, wechatpay_chain::json!({"json": {}}).into());
    /// assert!(matches!(refused, Err(Error::RequestCheck { .. })));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn request_check(mut self, check: RequestCheck) -> Self {
        self.request_check = Some(check);
        self
    }

    /// Removes a check set by [`ClientBuilder::request_check`].
    pub fn no_request_check(mut self) -> Self {
        self.request_check = None;
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
        let signer = self.signer()?;
        let verifier = self.verifier(signer.serial(), require_keys)?;
        let apiv3_key = self.checked_apiv3_key()?;
        self.check_keys_differ()?;
        if self.certificate_refresh.is_some() && apiv3_key.is_none() {
            return Err(config(
                "certificate_refresh needs the APIv3 key: add .apiv3_key(…)",
            ));
        }
        let base_url = normalize_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let base_path = Url::parse(&base_url)
            .map(|url| url.path().to_owned())
            .map_err(|e| config(&format!("base_url `{base_url}`: {e}")))?;
        let backup_url = match &self.backup_url {
            Some(url) => Some(normalize_base_url(url)?),
            None => None,
        };
        let http = match &self.http {
            Some(http) => http.clone(),
            None => self
                .http_builder()?
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(Client::from_inner(Arc::new(Inner {
            signer,
            verifier: RwLock::new(Arc::new(verifier)),
            apiv3_key,
            base_url,
            base_path,
            http,
            user_agent: user_agent(self.user_agent.as_deref())?,
            certificate_refresh: self.certificate_refresh,
            apiv2: self.apiv2_settings()?,
            retry: self.retry.clone().unwrap_or_default(),
            backup_url,
            // With the caller's own HTTP client, its limits are unknown.
            timeout: match self.http {
                Some(_) => None,
                None => Some(self.timeout.unwrap_or(DEFAULT_TIMEOUT)),
            },
            trace_signed_messages: self.trace_signed_messages,
            sign_off_thread: self.sign_off_thread,
            max_download_bytes: self.max_download_bytes,
            request_check: self.request_check,
            mock_origin: self.mock_origin,
            refresher: Mutex::new(None),
        })))
    }

    /// The merchant's id, certificate serial and private key.
    fn signer(&self) -> Result<RequestSigner> {
        let mchid = self
            .mchid
            .as_deref()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                config(
                    "mchid is not set: call .mchid(\"1900000109\") with your merchant id (商户号)",
                )
            })?;
        if !mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(config(&format!(
                "mchid `{mchid}` is not a merchant id: it must be digits only"
            )));
        }
        let serial = self.merchant_serial.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
            config("merchant_serial is not set: call .merchant_serial(\"…\") with the serial of your merchant API certificate")
        })?;
        if !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(config(&format!(
                "merchant_serial `{serial}` is not a certificate serial: it must be hex digits"
            )));
        }
        let key_input = self.private_key.as_ref().ok_or_else(|| {
            config("no merchant private key: call .private_key_file(\"apiclient_key.pem\") or .private_key_pem(…)")
        })?;
        let what = match key_input {
            KeyInput::File(path) => format!("merchant private key {}", path_label(path)),
            KeyInput::Pem(_) => "merchant private key".to_owned(),
        };
        let passphrase = self.passphrase.as_ref().map(|p| p.0.as_slice());
        let hint = "use .private_key_pem(…) for the key itself, or give its file's path (CLI: --private-key PATH or @PATH)";
        let private_key = PrivateKey::parse_with(
            &key_input.read("merchant private key", hint)?,
            passphrase,
            &what,
        )?;
        Ok(RequestSigner::new(
            mchid.to_owned(),
            serial.to_ascii_uppercase(),
            private_key,
        ))
    }

    /// The WeChat Pay keys responses are verified with.
    fn verifier(&self, merchant_serial: &str, require_keys: bool) -> Result<Verifier> {
        let mut keys = Vec::new();
        for (i, input) in self.certificates.iter().enumerate() {
            let what = format!("platform certificate #{}", i + 1);
            let hint = "use .platform_certificate(…) for the certificate itself, or give its file's path (CLI: --platform-cert PATH or @PATH)";
            keys.push(WechatpayKey::certificate(&input.read(&what, hint)?, &what)?);
        }
        for (id, input) in &self.public_keys {
            let what = format!("WeChat Pay public key {id}");
            let hint = "use .platform_public_key(id, …) for the key itself, or give its file's path (CLI: --public-key ID=PATH or ID=@PATH)";
            keys.push(WechatpayKey::public_key(
                id,
                &input.read(&what, hint)?,
                &what,
            )?);
        }
        if keys
            .iter()
            .any(|k| crate::keys::same_serial(k.id(), merchant_serial))
        {
            return Err(config(&format!(
                "`{merchant_serial}` is your merchant certificate serial, not a WeChat Pay key: give the platform certificate \
                 (downloaded from v3/certificates) or the WeChat Pay public key, not apiclient_cert.pem"
            )));
        }
        let verifier = Verifier::new(keys)?.preferring_certificate(self.prefer_certificate);
        if require_keys && verifier.is_empty() {
            return Err(config(
                "no WeChat Pay verification key: add .platform_public_key(id, pem) or .platform_certificate(pem) \
                 (or use build_with_certificates() with the APIv3 key), otherwise no response can be trusted",
            ));
        }
        Ok(verifier)
    }

    fn checked_apiv3_key(&self) -> Result<Option<ApiV3Key>> {
        let Some(Secret(bytes)) = &self.apiv3_key else {
            return Ok(None);
        };
        let key = bytes.as_slice().try_into().map_err(|_| {
            config(&format!(
                "the APIv3 key must be exactly 32 bytes (it is {}); copy it from 商户平台 → API安全 → APIv3密钥",
                bytes.len()
            ))
        })?;
        Ok(Some(ApiV3Key(key)))
    }

    /// The APIv3 and APIv2 keys are two keys (both 32 characters, both
    /// under 商户平台 → API安全): one given for the other builds fine and
    /// fails only at the first notification, so equal keys are refused.
    fn check_keys_differ(&self) -> Result<()> {
        match (&self.apiv3_key, &self.apiv2_key) {
            (Some(Secret(v3)), Some(Secret(v2))) if v3 == v2 => Err(config(
                "the APIv3 key and the APIv2 key are the same: they are two different keys \
                 (商户平台 → API安全 → APIv3密钥 for .apiv3_key(…), → API密钥 for .apiv2_key(…)); \
                 with the wrong one notifications and certificate downloads fail to decrypt",
            )),
            _ => Ok(()),
        }
    }

    /// How every HTTP client of this SDK connects: limits, proxies, extra
    /// roots, no redirects. The plain client and the APIv2 TLS-certificate
    /// client are both built from it.
    fn http_builder(&self) -> Result<reqwest::ClientBuilder> {
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
            .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
            .read_timeout(self.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT))
            .redirect(reqwest::redirect::Policy::none());
        for proxy in &self.proxies {
            builder = builder.proxy(proxy.clone());
        }
        for pem in &self.root_certificates {
            let certificate = reqwest::Certificate::from_pem(pem)
                .map_err(|_| config("a root certificate is not a PEM certificate"))?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(builder)
    }

    /// The APIv2 key, defaults and TLS-certificate client, when configured.
    fn apiv2_settings(&self) -> Result<Option<crate::v2::Settings>> {
        let Some(Secret(key)) = &self.apiv2_key else {
            return Ok(None);
        };
        let key =
            String::from_utf8(key.clone()).map_err(|_| config("the APIv2 key must be text"))?;
        if key.len() != 32 {
            return Err(config(&format!(
                "the APIv2 key must be 32 characters (it is {}); copy it from 商户平台 → API安全 → API密钥",
                key.len()
            )));
        }
        let tls = match &self.apiv2_identity {
            None => None,
            Some(identity) => Some(
                self.http_builder()?
                    .identity(identity.load()?)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot build the TLS client: {e}")))?,
            ),
        };
        Ok(Some(crate::v2::Settings {
            key,
            appid: self.apiv2_appid.clone(),
            add_mch_id: self.apiv2_add_mch_id,
            tls,
        }))
    }
}

impl Identity {
    /// The certificate and key as reqwest presents them.
    fn load(&self) -> Result<reqwest::Identity> {
        match self {
            Identity::Pem { certificate, key } => {
                reqwest::Identity::from_pkcs8_pem(certificate, &key.0)
            }
            Identity::Pkcs12 { der, passphrase } => {
                let passphrase = String::from_utf8_lossy(&passphrase.0).into_owned();
                reqwest::Identity::from_pkcs12_der(&der.0, &passphrase)
            }
        }
        .map_err(|_| config("the APIv2 client certificate does not load (PEM certificate + PKCS#8 key, or PKCS#12 and its passphrase)"))
    }
}

fn config(message: &str) -> Error {
    Error::Config(message.to_owned())
}

fn normalize_base_url(text: &str) -> Result<String> {
    // Messages show the URL without any user info: it may hold a password.
    let shown = url_for_display(text);
    let url =
        Url::parse(text).map_err(|e| config(&format!("base_url `{shown}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config(&format!(
            "base_url `{shown}` must be an http(s) URL with a host"
        )));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(config(&format!(
            "base_url `{shown}` must not carry a query, fragment or credentials"
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
