//! A verified answer from WeChat Pay.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::verify::headers::REQUEST_ID;

/// A 2xx answer whose signature has been checked (unless the endpoint is an
/// unsigned download or the caller opted out, see [`Response::verified_by`]).
///
/// ```no_run
/// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::{json, Value};
///
/// let res = client
///     .chain("v3/pay/transactions/id/{transaction_id}")
///     .get(json!({"transaction_id": "4200000000202601010000000000", "query": {"mchid": "1900000109"}}))
///     .await?;
/// assert_eq!(res.status(), 200);
/// let order: Value = res.json()?;
/// println!("{} {}", res.request_id().unwrap_or("-"), order["trade_state"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    verified_by: Option<String>,
}

impl Response {
    /// The raw body and status, for decoders in other modules.
    pub(crate) fn status_and_body(&self) -> (u16, &Bytes) {
        (self.status, &self.body)
    }

    pub(crate) fn new(
        status: u16,
        headers: HeaderMap,
        body: Bytes,
        verified_by: Option<String>,
    ) -> Self {
        Response {
            status,
            headers,
            body,
            verified_by,
        }
    }

    /// HTTP status: 200, 202 or 204 for WeChat Pay successes.
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
    pub fn status(&self) -> u16 {
        self.status
    }

    /// All response headers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// assert!(res.headers().contains_key("wechatpay-signature"));
    /// # Ok(()) }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// `Request-ID`, which WeChat Pay support asks for.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// assert!(res.request_id().is_some());
    /// # Ok(()) }
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
    }

    /// The id of the WeChat Pay key that verified this answer; `None` when
    /// it was not verified (unsigned download, or verification skipped).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// assert_eq!(res.verified_by(), Some("PUB_KEY_ID_0119000001092026010100000000000001"));
    /// # Ok(()) }
    /// ```
    pub fn verified_by(&self) -> Option<&str> {
        self.verified_by.as_deref()
    }

    /// The raw body (empty for a 204).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// assert!(res.bytes().starts_with(b"{"));
    /// # Ok(()) }
    /// ```
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy for invalid UTF-8).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// assert!(res.text().contains("serial_no"));
    /// # Ok(()) }
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the JSON body into any `DeserializeOwned` type, including
    /// `serde_json::Value`. An empty body (a 204) is an error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// let res = client["v3/certificates"].get(()).await?;
    /// let body: wechatpay_chain::Value = res.json()?;
    /// assert!(body["data"].is_array());
    /// # Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Decode {
            status: self.status,
            source,
        })
    }

    /// [`Response::json`] for endpoints that answer 200 with a body in one
    /// case and 204 without one in another (payscore's modify: a direct
    /// merchant gets the order, a service provider gets 204): `None` for an
    /// empty body.
    ///
    /// ```no_run
    /// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::{json, Value};
    ///
    /// let res = client["v3/payscore/serviceorder/{out_order_no}/modify"]
    ///     .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": {"total_amount": 39900}}))
    ///     .await?;
    /// match res.json_opt::<Value>()? {
    ///     Some(order) => println!("now {}", order["total_amount"]),
    ///     None => println!("accepted (204)"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn json_opt<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        if self.body.is_empty() {
            return Ok(None);
        }
        self.json().map(Some)
    }
}
