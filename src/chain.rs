//! Chain nodes: a path template bound to a client, extended by string,
//! by index or by identifiers, and sent with one of the five verbs.

use std::fmt;
use std::future::Future;
use std::ops::Index;
use std::sync::Arc;

use elsa::sync::FrozenMap;

use reqwest::Method;

use crate::client::inner::Inner;
use crate::error::Result;
use crate::media::Media;
use crate::options::Options;
use crate::path::{ident_segment, join};
use crate::request::PreparedRequest;
use crate::response::Response;

/// A path template bound to a client: `v3/payscore/serviceorder/{out_order_no}/modify`.
///
/// Get one with [`Client::chain`](crate::Client::chain), by index (`client["v3/…"]`, also nested
/// `client["v3"]["pay"]`) or with [`chain!`](crate::chain!); extend it with
/// [`Chain::chain`] or by index; send it with a verb.
///
/// ```no_run
/// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::{chain, json};
///
/// let body = json!({"appid": "wxd678efh567hg6787", "service_id": "500001", "total_amount": 50000});
/// let a = client.chain("v3/payscore/serviceorder/{out_order_no}/modify");
/// let b = &client["v3/payscore/serviceorder/{out_order_no}/modify"];
/// let c = chain!(client.v3.payscore.serviceorder._out_order_no_.modify);
/// assert_eq!(a.template(), b.template());
/// assert_eq!(b.template(), c.template());
///
/// let res = c.post(json!({"out_order_no": "1234323JKHDFE1243252", "json": body})).await?;
/// # Ok(()) }
/// ```
pub struct Chain {
    inner: Arc<Inner>,
    path: String,
    /// Children handed out by `Index`, kept so a reference can be returned.
    children: FrozenMap<String, Box<Chain>>,
}

impl Clone for Chain {
    fn clone(&self) -> Self {
        Chain::new(self.inner.clone(), self.path.clone())
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("template", &self.path)
            .finish_non_exhaustive()
    }
}

impl Chain {
    pub(crate) fn new(inner: Arc<Inner>, path: String) -> Self {
        Chain {
            inner,
            path,
            children: FrozenMap::new(),
        }
    }

    /// The client this node sends with (for the features' `impl Chain` blocks).
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// The path template of this node, as it will be filled and sent.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// assert_eq!(client["v3"]["pay"].template(), "v3/pay");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn template(&self) -> &str {
        &self.path
    }

    /// A child node: `piece` is appended after a `/`, literally.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
    /// let node = client.chain("v3").chain("pay/transactions").chain("{out_trade_no}");
    /// assert_eq!(node.template(), "v3/pay/transactions/{out_trade_no}");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn chain(&self, piece: &str) -> Chain {
        let mut child = self.clone();
        child.path = join(&self.path, piece);
        child
    }

    /// A child node from chain-style identifiers (what [`chain!`](crate::chain!)
    /// expands to): each is translated by [`ident_segment`].
    #[doc(hidden)]
    pub fn chain_idents(&self, idents: &[&str]) -> Chain {
        let mut child = self.clone();
        for ident in idents {
            child.path = join(&child.path, &ident_segment(ident));
        }
        child
    }

    /// `GET` this endpoint.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// assert_eq!(res.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn get(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.send(Method::GET, options.into())
    }

    /// `POST` this endpoint.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/marketing/favor/coupon-stocks"].post(wechatpay_chain::json!({"json": {"out_trade_no": "T1"}})).await?;
    /// assert_eq!(res.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn post(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.send(Method::POST, options.into())
    }

    /// `PUT` this endpoint.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/global/merchant-service/complaint-notifications"]
    ///     .put(wechatpay_chain::json!({"json": {"url": "https://example.com/complaints"}}))
    ///     .await?;
    /// assert_eq!(res.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn put(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.send(Method::PUT, options.into())
    }

    /// `PATCH` this endpoint.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/marketing/busifavor/stocks/{stock_id}/budget"]
    ///     .patch(wechatpay_chain::json!({"stock_id": "9856000", "json": {"target_max_coupons": 10}}))
    ///     .await?;
    /// assert!(res.verified_by().is_some());
    /// # Ok(()) }
    /// ```
    pub fn patch(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.send(Method::PATCH, options.into())
    }

    /// `DELETE` this endpoint.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let err = client["v3/certificates"].delete(()).await.unwrap_err();
    /// assert!(matches!(err, wechatpay_chain::Error::Api(api) if api.status == 405));
    /// # Ok(()) }
    /// ```
    pub fn delete(
        &self,
        options: impl Into<Options>,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.send(Method::DELETE, options.into())
    }

    /// Sends with any method; the verbs above are shorthands. Nothing
    /// happens until the future is polled, so the signature is fresh.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client.chain("v3/certificates").send(wechatpay_chain::Method::GET, Default::default()).await?;
    /// assert_eq!(res.status(), 200);
    /// # Ok(()) }
    /// ```
    pub fn send(
        &self,
        method: Method,
        options: Options,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        let inner = self.inner.clone();
        let path = self.path.clone();
        async move {
            let request = inner.prepare(method, &path, options)?;
            inner.perform(&request).await
        }
    }

    /// Uploads `media` as `multipart/form-data` (`meta` + `file`), signing
    /// the meta JSON, and verifies the answer (usually `{"media_id": …}`).
    ///
    /// ```no_run
    /// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::media::Media;
    ///
    /// let res = client.chain("v3/merchant/media/upload").upload(Media::from_path("logo.png")?).await?;
    /// let media_id = res.json::<wechatpay_chain::Value>()?["media_id"].clone();
    /// # Ok(()) }
    /// ```
    pub fn upload(&self, media: Media) -> impl Future<Output = Result<Response>> + Send + 'static {
        self.upload_with(Options::new(), media)
    }

    /// [`Chain::upload`] with options: placeholders, query, headers.
    pub fn upload_with(
        &self,
        options: impl Into<Options>,
        media: Media,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        let mut options = options.into();
        if options.body.is_some() {
            options.error.get_or_insert(crate::Error::InvalidOption {
                key: "body".to_owned(),
                reason: "an upload's body is its media; give no `json` or `body`".to_owned(),
            });
        }
        options.upload = Some(media);
        self.send(Method::POST, options)
    }

    /// Fills and assembles the request without sending it: see exactly what
    /// would go on the wire. An APIv3 request gets its `Authorization` when
    /// sent ([`Client::sign`](crate::Client::sign) shows one); an APIv2
    /// request is already complete, its `sign` in the XML body (or, for a
    /// GET, in the query).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let request = client.chain("v3/pay/transactions/id/{id}").prepare(wechatpay_chain::Method::GET, wechatpay_chain::json!({"id": "a b"}).into())?;
    /// assert!(request.canonical_url().ends_with("/a%20b"));
    /// # Ok(()) }
    /// ```
    pub fn prepare(&self, method: Method, options: Options) -> Result<PreparedRequest> {
        self.inner.prepare(method, &self.path, options)
    }

    /// The complete URL of an APIv2 GET, its fields and `sign` in the
    /// query, without sending it: the 代扣签约 pages (`v2/papay/entrustweb`,
    /// `v2/papay/h5entrustweb`, their `partner/` twins) are opened by the
    /// user's browser, so the merchant needs the URL, not a response. It is
    /// exactly the URL [`Chain::get`] would send with the same options.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem")
    /// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build()?;
    /// use wechatpay_chain::json;
    ///
    /// let url = client["v2/papay/entrustweb"].signed_url(json!({"query": {
    ///     "appid": "wxd678efh567hg6787", "plan_id": "12535", "contract_code": "100000",
    ///     "request_serial": "1000", "contract_display_account": "微信代扣",
    ///     "notify_url": "https://example.com/entrust", "version": "1.0", "timestamp": "1414488825",
    /// }}))?;
    /// assert!(url.as_str().starts_with("https://api.mch.weixin.qq.com/papay/entrustweb?appid="));
    /// assert!(url.query().unwrap().contains("&sign="));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn signed_url(&self, options: impl Into<Options>) -> Result<reqwest::Url> {
        let request = self.prepare(Method::GET, options.into())?;
        if !request.is_apiv2() {
            return Err(crate::Error::Unsupported(format!(
                "`{}` is an APIv3 path: its signature travels in the Authorization header, which a URL cannot carry",
                self.path
            )));
        }
        Ok(request.url)
    }
}

impl Index<&str> for Chain {
    type Output = Chain;

    /// A child node by index: `client["v3"]["pay"]`. Children are kept as
    /// long as this node, so index with templates, not with filled ids.
    fn index(&self, piece: &str) -> &Chain {
        intern(&self.children, join(&self.path, piece), |path| {
            Chain::new(self.inner.clone(), path.to_owned())
        })
    }
}

/// The node for `key` in `nodes`, made on first use (Rust's `Index` must
/// return a reference, so nodes handed out by index are kept).
pub(crate) fn intern<T>(
    nodes: &FrozenMap<String, Box<T>>,
    key: String,
    make: impl FnOnce(&str) -> T,
) -> &T {
    if let Some(node) = nodes.get(&key) {
        return node;
    }
    let node = Box::new(make(&key));
    nodes.insert(key, node)
}
