//! The same client for code without async (feature `blocking`): the same
//! builder, the same three chain styles and options, verbs that return
//! `Result<Response>` directly.
//!
//! ```no_run
//! use wechatpay_chain::{chain, json};
//!
//! fn main() -> wechatpay_chain::Result<()> {
//!     let client = wechatpay_chain::Client::builder()
//!         .mchid("1900000109")
//!         .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
//!         .private_key_file("apiclient_key.pem")
//!         .platform_public_key_file("PUB_KEY_ID_0119000001092026010100000000000001", "pub_key.pem")
//!         .build_blocking()?;
//!     let res = chain!(client.v3.payscore.serviceorder._out_order_no_.modify)
//!         .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": {"appid": "wxd678efh567hg6787"}}))?;
//!     println!("{}", res.status());
//!     Ok(())
//! }
//! ```
//!
//! It runs its own small tokio runtime (one worker thread), so it must not
//! be called from inside an async runtime: use the async client there.

use std::fmt;
use std::io::Write;
use std::ops::Index;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use elsa::sync::FrozenMap;
use tokio::runtime::Runtime;

use crate::download::{BillInfo, Compression, Downloaded};
use crate::error::{Error, Result};
use crate::keys::WechatpayKey;
use crate::media::Media;
use crate::options::Options;
use crate::response::Response;
use crate::{ClientBuilder, Method};

/// A blocking WeChat Pay client. Cheap to clone.
///
/// ```
/// let runtime = tokio::runtime::Runtime::new()?;
/// let server = runtime.block_on(wechatpay_chain::mock::MockServer::start())?;
/// let client = server.client_builder().build_blocking()?;
/// let res = wechatpay_chain::chain!(client.v3.certificates).get(())?;
/// assert_eq!(res.status(), 200);
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: crate::Client,
    runtime: Arc<Runtime>,
    nodes: Arc<FrozenMap<String, Box<Chain>>>,
}

/// A blocking chain node: [`Client::chain`], index or `chain!`, then a verb.
///
/// ```no_run
/// # fn demo(client: wechatpay_chain::blocking::Client) -> wechatpay_chain::Result<()> {
/// let res = client["v3/payscore/serviceorder/{out_order_no}/sync"]
///     .post(wechatpay_chain::json!({"out_order_no": "1234323JKHDFE1243252", "json": {}}))?;
/// # Ok(()) }
/// ```
pub struct Chain {
    inner: crate::Chain,
    runtime: Arc<Runtime>,
    children: FrozenMap<String, Box<Chain>>,
}

impl ClientBuilder {
    /// Builds a [`blocking::Client`](Client) (feature `blocking`).
    pub fn build_blocking(self) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wechatpay-blocking")
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                what: "starting the blocking client's runtime".to_owned(),
                source,
            })?;
        // Inside the runtime, so that a certificate refresh can start.
        let inner = {
            let _entered = runtime.enter();
            self.build()?
        };
        Ok(Client {
            inner,
            runtime: Arc::new(runtime),
            nodes: Arc::default(),
        })
    }
}

impl Client {
    /// Starts configuring a client; finish with [`ClientBuilder::build_blocking`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A node for `path`, taken literally.
    pub fn chain(&self, path: &str) -> Chain {
        self.wrap(self.inner.chain(path))
    }

    /// What [`chain!`](crate::chain!) expands to.
    #[doc(hidden)]
    pub fn chain_idents(&self, idents: &[&str]) -> Chain {
        self.wrap(self.inner.chain_idents(idents))
    }

    /// The async client inside (notifications, encryption and the other
    /// synchronous helpers are there).
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// Front-end invocation parameters (see [`crate::Client::invocation`]):
    /// signing needs no network, so this is the async client's builder.
    ///
    /// ```
    /// let client = wechatpay_chain::Client::builder().mchid("1900000109")
    ///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    ///     .private_key_file("src/mock/data/merchant_key.pem")
    ///     .platform_certificate_file("src/mock/data/platform_cert.pem")
    ///     .build_blocking()?;
    /// let params = client.invocation().jsapi("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
    /// assert_eq!(params.sign_type, "RSA");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn invocation(&self) -> crate::invoke::Invocation {
        self.inner.invocation()
    }

    /// Places a JSAPI or mini-program order and signs its front-end
    /// parameters in one call (see [`crate::Client::prepay_jsapi`]).
    ///
    /// ```no_run
    /// # fn demo(client: wechatpay_chain::blocking::Client, order: wechatpay_chain::Value) -> wechatpay_chain::Result<()> {
    /// let prepay = client.prepay_jsapi(&order)?;
    /// println!("{}", serde_json::to_string(&prepay.params).unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub fn prepay_jsapi<T: serde::Serialize + ?Sized>(
        &self,
        order: &T,
    ) -> Result<crate::invoke::JsapiPrepay> {
        self.runtime.block_on(self.inner.prepay_jsapi(order))
    }

    /// Downloads the platform certificates (see
    /// [`crate::Client::download_certificates`]).
    pub fn download_certificates(&self) -> Result<Vec<WechatpayKey>> {
        self.runtime.block_on(self.inner.download_certificates())
    }

    /// Downloads the platform certificates and trusts them (see
    /// [`crate::Client::refresh_certificates`]).
    pub fn refresh_certificates(&self) -> Result<usize> {
        self.runtime.block_on(self.inner.refresh_certificates())
    }

    /// Downloads a bill to `out`, checking its SHA-1 (see
    /// [`crate::Client::download_bill`]).
    pub fn download_bill(
        &self,
        bill: &BillInfo,
        compression: Compression,
        out: &mut impl Write,
    ) -> Result<Downloaded> {
        let mut out = SyncWriter(out);
        self.runtime
            .block_on(self.inner.download_bill(bill, compression, &mut out))
    }

    /// Downloads a bill into a file, removed on failure (see
    /// [`crate::Client::download_bill_to_file`]).
    pub fn download_bill_to_file(
        &self,
        bill: &BillInfo,
        compression: Compression,
        path: impl AsRef<Path>,
    ) -> Result<Downloaded> {
        self.runtime
            .block_on(self.inner.download_bill_to_file(bill, compression, path))
    }

    fn wrap(&self, inner: crate::Chain) -> Chain {
        Chain {
            inner,
            runtime: self.runtime.clone(),
            children: FrozenMap::new(),
        }
    }
}

/// A `std::io::Write` as tokio's `AsyncWrite`. Writing blocks, which is
/// what a blocking caller asked for: the future runs on the caller's thread
/// (`block_on`), not on a runtime worker.
struct SyncWriter<'a, W: Write>(&'a mut W);

impl<W: Write> tokio::io::AsyncWrite for SyncWriter<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.0.write(buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl Index<&str> for Client {
    type Output = Chain;

    fn index(&self, path: &str) -> &Chain {
        crate::chain::intern(&self.nodes, path.to_owned(), |path| self.chain(path))
    }
}

impl Chain {
    /// The path template of this node.
    pub fn template(&self) -> &str {
        self.inner.template()
    }

    /// A child node; `piece` is appended after a `/`, literally.
    pub fn chain(&self, piece: &str) -> Chain {
        self.wrap(self.inner.chain(piece))
    }

    /// What [`chain!`](crate::chain!) expands to.
    #[doc(hidden)]
    pub fn chain_idents(&self, idents: &[&str]) -> Chain {
        self.wrap(self.inner.chain_idents(idents))
    }

    fn wrap(&self, inner: crate::Chain) -> Chain {
        Chain {
            inner,
            runtime: self.runtime.clone(),
            children: FrozenMap::new(),
        }
    }

    /// `GET` this endpoint.
    pub fn get(&self, options: impl Into<Options>) -> Result<Response> {
        self.send(Method::GET, options.into())
    }

    /// `POST` this endpoint.
    pub fn post(&self, options: impl Into<Options>) -> Result<Response> {
        self.send(Method::POST, options.into())
    }

    /// `PUT` this endpoint.
    pub fn put(&self, options: impl Into<Options>) -> Result<Response> {
        self.send(Method::PUT, options.into())
    }

    /// `PATCH` this endpoint.
    pub fn patch(&self, options: impl Into<Options>) -> Result<Response> {
        self.send(Method::PATCH, options.into())
    }

    /// `DELETE` this endpoint.
    pub fn delete(&self, options: impl Into<Options>) -> Result<Response> {
        self.send(Method::DELETE, options.into())
    }

    /// Sends with any method.
    pub fn send(&self, method: Method, options: Options) -> Result<Response> {
        self.runtime.block_on(self.inner.send(method, options))
    }

    /// Uploads `media` (see [`crate::Chain::upload`]).
    pub fn upload(&self, media: Media) -> Result<Response> {
        self.runtime.block_on(self.inner.upload(media))
    }

    /// Uploads `media` with options (see [`crate::Chain::upload_with`]).
    pub fn upload_with(&self, options: impl Into<Options>, media: Media) -> Result<Response> {
        self.runtime
            .block_on(self.inner.upload_with(options, media))
    }

    /// The request as it would be sent (see [`crate::Chain::prepare`]).
    pub fn prepare(&self, method: Method, options: Options) -> Result<crate::PreparedRequest> {
        self.inner.prepare(method, options)
    }

    /// Streams one of the unsigned downloads to `out` (see
    /// [`crate::Chain::download_to`]).
    pub fn download_to(
        &self,
        options: impl Into<Options>,
        out: &mut impl Write,
    ) -> Result<Downloaded> {
        let mut out = SyncWriter(out);
        self.runtime
            .block_on(self.inner.download_to(options, &mut out))
    }

    /// The signed URL of an APIv2 GET (see [`crate::Chain::signed_url`]).
    pub fn signed_url(&self, options: impl Into<Options>) -> Result<reqwest::Url> {
        self.inner.signed_url(options)
    }
}

impl Index<&str> for Chain {
    type Output = Chain;

    fn index(&self, piece: &str) -> &Chain {
        crate::chain::intern(&self.children, piece.to_owned(), |piece| self.chain(piece))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Client")
            .field(&self.inner)
            .finish()
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Chain")
            .field(&self.inner.template())
            .finish()
    }
}
