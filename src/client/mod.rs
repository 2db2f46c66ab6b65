//! The client: configuration, key material, and turning a template and its
//! options into a [`PreparedRequest`]. Sending is the (private) `transport` module's.

use std::fmt;
use std::ops::Index;
use std::sync::Arc;
use std::time::Duration;

use elsa::sync::FrozenMap;

use self::inner::Inner;
use crate::chain::{intern, Chain};
use crate::error::Result;
use crate::path::join;
use crate::request::{PreparedRequest, Signature};
use crate::verify::Verifier;

// The engine: the builder fills `Inner`, the transport sends with it; both
// are children of this module so that `Inner`'s fields stay private to them.
mod builder;
pub(crate) mod inner;
pub(crate) mod stopped_mock;
pub(crate) mod transport;

pub use builder::ClientBuilder;
pub use inner::RequestCheck;

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

/// Largest response read into memory; see [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge).
pub use self::transport::MAX_RESPONSE_BYTES;
