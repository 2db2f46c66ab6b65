//! A WeChat Pay APIv3 server for tests, examples and trying things out
//! (feature `mock`). Real HTTP on loopback: it checks request signatures as
//! WeChat Pay does, signs its answers as WeChat Pay does, keeps payment
//! orders (direct and partner; combine orders too), refunds, profit sharing
//! ([`crate::guide::profit_sharing`]), payscore service orders and
//! transfer bills (商家转账, [`crate::guide::transfers`]) through their
//! whole life, sends encrypted notifications on WeChat Pay's retry
//! schedule (sped up), writes bills from the payments and refunds it holds,
//! serves `v3/certificates`, and misbehaves on request. A simulated user and
//! back office move orders along ([`MockServer::pay_transaction`],
//! [`MockServer::resolve_refund`], or the `/_mock/` controls over HTTP).
//! Every request is first checked against its operation's schema (as
//! TheNorthMemory/wechatpay-openapi describes it) and refused with WeChat
//! Pay's `400 PARAM_ERROR` where it breaks a rule. Every other operation of
//! the endpoint corpus (marketing, batch transfers, …) answers a signed body
//! shaped like its answer schema (required fields, listed values, the
//! request's own ids and amounts), and keeps nothing.
//!
//! The guide, with the states, errors and controls of each flow and a whole
//! merchant journey: [`crate::guide::mock`].
//!
//! ```
//! use wechatpay_chain::json;
//! use wechatpay_chain::mock::MockServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> wechatpay_chain::Result<()> {
//! let server = MockServer::start().await?;
//! let client = server.client()?;
//! let res = client["v3/fund-app/mch-transfer/transfer-bills"].post(json!({"json": {
//!     "appid": "wxf636efh567hg4356", "out_bill_no": "T1", "transfer_scene_id": "1000",
//!     "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 100, "transfer_remark": "报销",
//!     "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}]}})).await?;
//! let answer: wechatpay_chain::Value = res.json()?;
//! assert_eq!(answer["out_bill_no"], "T1"); // the request's own number
//! assert!(answer["transfer_bill_no"].is_string() && answer["state"].is_string());
//! # Ok(()) }
//! ```
//!
//! The keys are this repository's throwaway test keys ([`Credentials`]).

// The layout follows a request (DESIGN.md, "Layout"); tests/layers.rs holds
// the rule the folders obey:
//
//   wire/    what every request and answer goes through: server.rs accepts
//            (bounded), guard.rs keeps /_mock/ to loopback, auth.rs verifies
//            the merchant's signature, catalog.rs routes once by template,
//            body.rs checks what every flow's body shares, upload.rs reads
//            media; on the way out identity.rs signs every answer (answer.rs),
//            faults.rs misbehaves on request, log.rs keeps the requests and
//            notify.rs delivers every flow's notifications.
//   flows/   one module per product (payments, combine orders over them,
//            refunds, payscore, bills, transfer bills, profit sharing, v2 micropay;
//            invocation.rs, the WeChat client's check of a
//            front end's parameters), each owning its state machine over the
//            store they share (kept.rs).
//   pages/   console, cashier, bridge stand-in and the /_mock/ controls
//            (transfer.rs: the transfer bills' controls and confirm page):
//            views over the flows, and actions.rs, the one path by which a
//            page, a control or MockServer moves an order.
//
// Top first, each layer using only those above it: the wire's services, the
// flows, the wire's server (it dispatches to a flow's entry point), the
// pages, and this file, which hands the server the pages' entry point
// (`pages::control::handle`) so that the wire never reaches into a page.

mod flows;
mod pages;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::oneshot;

#[allow(deprecated)] // kept for callers of 0.1
pub use self::flows::bills::DEFAULT_BILL_ROWS;
pub use self::flows::kept::KEPT_ORDERS;
pub use self::flows::refunds::RefundOutcome;
pub use self::flows::transfers::{DEFAULT_TRANSFER_BALANCE, KEPT_TRANSFERS};
pub use self::wire::catalog::ENDPOINTS_TSV;
pub use self::wire::faults::Fault;
pub use self::wire::identity::Credentials;
pub use self::wire::intake::{BODY_BUDGET, BODY_TIMEOUT, MAX_BODY};
pub use self::wire::log::{LoggedRequest, KEPT_REQUESTS};
pub use self::wire::notify::{
    Delivery, DeliveryAttempt, DEFAULT_SPEEDUP, KEPT_NOTIFICATIONS, MAX_ATTEMPTS, RETRY_SCHEDULE,
};
pub use self::wire::store::MAX_RETENTION;

use self::flows::payscore::UserAction;
use self::flows::transfers;
use self::pages::actions::{
    combine_list, combine_request, resolve_refund, transaction_action, user_action, PayRequest,
    TransactionAction,
};
use self::wire::server::Shared;
use crate::error::{ApiError, Error, Result};
use crate::{Client, ClientBuilder};

/// A running mock WeChat Pay. Stops when dropped (or with [`MockServer::shutdown`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::mock::{Fault, MockServer};
///
/// let server = MockServer::start().await?;
/// server.inject(Fault::Status(503));
/// let err = server.client()?["v3/marketing/favor/coupon-stocks"].post(()).await.unwrap_err();
/// assert!(matches!(err, wechatpay_chain::Error::Api(api) if api.status == 503));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MockServer {
    base_url: String,
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts on `127.0.0.1` and a free port. Needs a tokio runtime.
    pub async fn start() -> Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `address` (port 0 picks a free one).
    pub async fn bind(address: SocketAddr) -> Result<Self> {
        Self::launch(address, None).await
    }

    /// Starts on `address` keeping its state in `dir` (`dir/mock.sqlite`):
    /// orders, refunds, payscore orders, notifications and their attempts,
    /// the clock and the settings are written before each answer is sent,
    /// and read back when a mock starts on the same directory again, which
    /// then delivers the notifications still pending. A second mock on a
    /// directory in use is refused ([`Error::Config`] saying so).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::mock::MockServer;
    /// let dir = std::env::temp_dir().join(format!("mock-doc-{}", std::process::id()));
    /// let address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    /// let server = MockServer::bind_in(address, &dir).await?;
    /// assert!(MockServer::bind_in(address, &dir).await.is_err(), "one mock per directory");
    /// server.shutdown().await;
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # Ok(()) }
    /// ```
    pub async fn bind_in(address: SocketAddr, dir: impl AsRef<Path>) -> Result<Self> {
        Self::launch(address, Some(dir.as_ref())).await
    }

    async fn launch(address: SocketAddr, dir: Option<&Path>) -> Result<Self> {
        let shared = Arc::new(Shared::new(
            wire::identity::ServerKeys::load()?,
            tokio::runtime::Handle::current(),
        ));
        if let Some(dir) = dir {
            // Before the port: a refused mock takes nothing.
            shared.open_store(dir).map_err(Error::Config)?;
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| Error::Io {
                what: format!("binding {address}"),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Io {
            what: "reading the bound address".to_owned(),
            source,
        })?;
        // The mock's clock: refunds that resolve by themselves.
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(20));
            loop {
                every.tick().await;
                match weak.upgrade() {
                    Some(shared) => shared.tick(),
                    None => return,
                }
            }
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = wire::server::router(shared.clone(), pages::control::handle);
        let connections = shared.clone();
        let listener =
            axum::serve::ListenerExt::tap_io(listener, move |_| connections.count_connection());
        tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            // The peer's address, for the /_mock/ loopback check (guard.rs).
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await;
        });
        Ok(MockServer {
            base_url: format!("http://{address}/"),
            address,
            shared,
            shutdown: Some(shutdown),
        })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A builder with the mock's credentials and base URL, to adjust before
    /// `build()`: everything a client needs, the APIv3 key (notifications,
    /// certificate downloads) and the APIv2 key included. It trusts both the
    /// platform certificate and the public key (and so sends the public key
    /// id as `Wechatpay-Serial`).
    pub fn client_builder(&self) -> ClientBuilder {
        let c = Credentials::get();
        Client::builder()
            .apiv3_key(c.apiv3_key)
            .apiv2_key(c.apiv2_key)
            .mchid(c.mchid)
            .merchant_serial(c.merchant_serial)
            .private_key_pem(c.merchant_private_key)
            .platform_certificate(c.platform_certificate)
            .platform_public_key(c.platform_public_key_id, c.platform_public_key)
            .base_url(self.base_url.clone())
    }

    /// A ready client for this server, complete: it verifies responses,
    /// decrypts notifications and downloads certificates.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// let client = server.client()?;
    /// assert!(!client.download_certificates().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> Result<Client> {
        self.client_builder().build()
    }

    /// TCP connections accepted so far (to check connection reuse).
    pub fn connections(&self) -> u64 {
        self.shared.connections()
    }

    /// Requests received so far for `method` and `path` (the path as sent,
    /// without query), whatever their fate: to check nothing is sent twice.
    pub fn hits(&self, method: &str, path: &str) -> u64 {
        self.shared.hits(method, path)
    }

    /// The last [`KEPT_REQUESTS`] requests a client sent (not the `/_mock/`
    /// control ones), oldest first, each with what the mock made of it:
    /// the same as `GET /_mock/requests`.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.recent()
    }

    /// Forgets the logged requests (`DELETE /_mock/requests`).
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Prints each request as one line on stderr from now on (`false`, the
    /// default, stops): time, method, target, status, verdict, and for a
    /// refused signature the message the mock verified against
    /// ([`LoggedRequest::line`]). `wxpay mock` turns it on unless `--quiet`.
    pub fn log_to_stderr(&self, yes: bool) {
        self.shared
            .log
            .to_stderr
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Number of APIv3 operations answered from the endpoint corpus.
    pub fn catalog_len(&self) -> usize {
        self.shared.catalog_len()
    }

    /// The next answer misbehaves as `fault` says.
    pub fn inject(&self, fault: Fault) {
        self.inject_times(fault, 1);
    }

    /// The next `count` answers misbehave as `fault` says.
    pub fn inject_times(&self, fault: Fault, count: usize) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            faults.extend(std::iter::repeat_n(fault, count));
        }
    }

    /// The next `count` requests to `path` (a catalog template such as
    /// `v3/refund/domestic/refunds`, or a path as sent) get `fault`'s
    /// error answer before any flow runs: a [`Fault::Status`] or a
    /// [`Fault::Error`] naming WeChat Pay's code and message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::mock::{Fault, MockServer};
    ///
    /// let server = MockServer::start().await?;
    /// let not_enough = Fault::from_json(&serde_json::json!({"fault": "error", "status": 403,
    ///     "code": "NOT_ENOUGH", "message": "基本账户余额不足，请充值后重新发起"})).map_err(wechatpay_chain::Error::Config)?;
    /// server.inject_for_path("v3/marketing/favor/coupon-stocks", not_enough, 1)?;
    /// let err = server.client()?["v3/marketing/favor/coupon-stocks"].post(()).await.unwrap_err();
    /// assert!(matches!(err, wechatpay_chain::Error::Api(api) if api.code == "NOT_ENOUGH"));
    /// # Ok(()) }
    /// ```
    pub fn inject_for_path(&self, path: &str, fault: Fault, count: usize) -> Result<()> {
        self.shared
            .triggers
            .add_path_fault(path, fault, count)
            .map_err(Error::Config)
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            faults.clear();
        }
        self.shared.triggers.clear_path_faults();
    }

    /// The user confirms payscore order `out_order_no` in WeChat (CREATED →
    /// DOING/USER_CONFIRM); PAYSCORE.USER_CONFIRM goes to its `notify_url`.
    /// `sub_mchid` names the sub-merchant of a partner order.
    pub fn user_confirms(&self, out_order_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.act(UserAction::Confirm, out_order_no, sub_mchid)
    }

    /// The user pays what is being collected (DOING/MCH_COMPLETE → DONE,
    /// collection USER_PAID); PAYSCORE.USER_PAID goes to its `notify_url`.
    pub fn user_pays(&self, out_order_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.act(UserAction::Pay, out_order_no, sub_mchid)
    }

    /// An unconfirmed order times out (CREATED → EXPIRED).
    pub fn expire(&self, out_order_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.act(UserAction::Expire, out_order_no, sub_mchid)
    }

    fn act(
        &self,
        action: UserAction,
        out_order_no: &str,
        sub_mchid: Option<&str>,
    ) -> Result<Value> {
        user_action(
            &self.shared,
            action,
            sub_mchid.unwrap_or_default(),
            out_order_no,
        )
        .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// Issues a new platform certificate, listed by `v3/certificates` at once
    /// but not signing yet (WeChat Pay announces one 24 h before use).
    /// Returns its serial. Generates an RSA-2048 key: takes a moment.
    pub fn rotate_certificate(&self) -> Result<String> {
        self.shared.keys.rotate()
    }

    /// Signs with the newest platform certificate from now on.
    pub fn use_newest_certificate(&self) {
        self.shared.keys.activate_newest();
    }

    /// Signs notifications with the WeChat Pay public key (`true`) or the
    /// platform certificate (`false`, the default): WeChat Pay may use either.
    pub fn sign_notifications_with_public_key(&self, yes: bool) {
        self.shared
            .notifier
            .use_public_key
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Checks every APIv3 request against its operation's schema before any
    /// flow sees it (`true`, the default): a missing required field, a
    /// wrong type, a value off the list, `null`, an encrypted field sent in
    /// plaintext, without `Wechatpay-Serial` or not decrypting with the key
    /// it names, are refused with `400 PARAM_ERROR` in WeChat Pay's shape
    /// and wording ([`crate::catalog::OperationSchema::check`]). `false`
    /// lets everything through to the flows, for a request the description
    /// (which can lag) gets wrong.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::{json, Error};
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// let client = server.client()?;
    /// let refused = client["v3/marketing/favor/coupon-stocks"]
    ///     .post(json!({"json": {"stock_name": "s"}})).await.unwrap_err();
    /// let Error::Api(api) = refused else { panic!() };
    /// assert_eq!((api.status, api.code.as_str()), (400, "PARAM_ERROR"));
    /// server.check_schemas(false);
    /// assert!(client["v3/marketing/favor/coupon-stocks"].post(json!({"json": {"stock_name": "s"}})).await.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn check_schemas(&self, yes: bool) {
        self.shared
            .schema_check
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Answers an operation no flow keeps with a signed echo of the request
    /// (`{"template","method","path_params","query","echo"}`, the answer of
    /// earlier versions) instead of a body shaped like the operation's
    /// answer schema (`false`, the default).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::{json, Value};
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// server.answer_with_echo(true);
    /// let res = server.client()?["v3/marketing/favor/stocks/{stock_id}"]
    ///     .get(json!({"stock_id": "9856", "query": {"stock_creator_mchid": "1900000109"}})).await?;
    /// assert_eq!(res.json::<Value>()?["path_params"]["stock_id"], "9856");
    /// # Ok(()) }
    /// ```
    pub fn answer_with_echo(&self, yes: bool) {
        self.shared
            .echo
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bills issued from now on are synthetic, for size tests: `rows` paid
    /// orders (about 250 bytes each) on the day asked, in the real format
    /// (BOM, CRLF, 27 columns, footer of sums), whatever `bill_type`,
    /// `sub_mchid` or `account_type` say; a few million rows make a file of
    /// gigabytes, generated as it is sent. `0` goes back to the default:
    /// bills made of the payments and refunds the mock holds.
    pub fn set_bill_rows(&self, rows: u64) {
        self.shared.bills.set_rows(rows);
    }

    /// The notifications queued so far (the last [`KEPT_NOTIFICATIONS`]),
    /// with their delivery state and every attempt.
    pub fn notifications(&self) -> Vec<Delivery> {
        self.shared.notifier.deliveries()
    }

    /// Runs WeChat Pay's notification schedule ([`RETRY_SCHEDULE`]) `speedup`
    /// times faster: 1 is real time (15 s before the first retry), the
    /// default [`DEFAULT_SPEEDUP`] makes it 15 ms (`PUT /_mock/settings`
    /// `{"notification_speedup": n}`). Values below 1 count as 1.
    pub fn set_notification_speedup(&self, speedup: u32) {
        self.shared
            .notifier
            .speedup
            .store(speedup.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every store keep at most `limit` entries (payment orders,
    /// refunds, payscore orders, combine orders, transfer bills, each of
    /// profit sharing's books, micropay orders; at least 1), forgetting the
    /// oldest past it at once, as each does when full; the default is
    /// [`KEPT_ORDERS`], the most [`MAX_RETENTION`] (a larger `limit` keeps that many). Kept with the state of a mock that has a directory
    /// (`PUT /_mock/settings` `{"retention": n}`, `wxpay mock --retain N`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// assert_eq!(server.retention(), wechatpay_chain::mock::KEPT_ORDERS);
    /// server.set_retention(500);
    /// assert_eq!(server.retention(), 500);
    /// # Ok(()) }
    /// ```
    pub fn set_retention(&self, limit: usize) {
        self.shared.set_retention(limit);
    }

    /// How many entries each store keeps ([`MockServer::set_retention`]).
    pub fn retention(&self) -> usize {
        self.shared
            .retention
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The simulated user pays payment order `out_trade_no` (NOTPAY →
    /// SUCCESS); TRANSACTION.SUCCESS goes to its `notify_url`. Returns the
    /// Transaction. `sub_mchid` names the sub-merchant of a partner order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::json;
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// server.client()?["v3/pay/transactions/native"].post(json!({"json": {
    ///     "appid": "wxd678efh567hg6787", "mchid": "1900000109", "description": "Image形象店-深圳腾大-QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "notify_url": "https://127.0.0.1:9/notify",
    ///     "amount": {"total": 100, "currency": "CNY"},
    /// }})).await?;
    /// let paid = server.pay_transaction("1217752501201407033233368018", None)?;
    /// assert_eq!(paid["trade_state"], "SUCCESS");
    /// # Ok(()) }
    /// ```
    pub fn pay_transaction(&self, out_trade_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.transaction(TransactionAction::Pay, out_trade_no, sub_mchid, b"")
    }

    /// As [`MockServer::pay_transaction`], the user paying from the front end
    /// with `invocation`: the JSON object the merchant's server handed to
    /// `wx.requestPayment` / `getBrandWCPayRequest` or the APP SDK. It is
    /// checked as the WeChat client checks it (signature, this order's live
    /// `prepay_id`, its appid); a refusal changes nothing.
    pub fn pay_transaction_with(
        &self,
        out_trade_no: &str,
        sub_mchid: Option<&str>,
        invocation: &Value,
    ) -> Result<Value> {
        let body = json!({ "invocation": invocation }).to_string();
        self.transaction(
            TransactionAction::Pay,
            out_trade_no,
            sub_mchid,
            body.as_bytes(),
        )
    }

    /// A payment attempt fails (declined card, wrong password): the order
    /// stays NOTPAY and can be paid again; nothing is sent.
    pub fn fail_transaction(&self, out_trade_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.transaction(TransactionAction::Fail, out_trade_no, sub_mchid, b"")
    }

    /// The unpaid order runs out of time at once (NOTPAY → CLOSED), as it
    /// would at its `time_expire` (or after 7 days without one).
    pub fn expire_transaction(&self, out_trade_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.transaction(TransactionAction::Expire, out_trade_no, sub_mchid, b"")
    }

    fn transaction(
        &self,
        action: TransactionAction,
        out_trade_no: &str,
        sub_mchid: Option<&str>,
        body: &[u8],
    ) -> Result<Value> {
        transaction_action(
            &self.shared,
            action,
            sub_mchid.unwrap_or_default(),
            out_trade_no,
            body,
        )
        .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// The simulated user pays combine order `combine_out_trade_no` (合单):
    /// every sub-order NOTPAY → SUCCESS at once, and one TRANSACTION.SUCCESS
    /// with all of them in `sub_orders[]` goes to its `notify_url`. Returns
    /// the combine order as its query answers it. Each sub-order is then
    /// refunded on its own, by its `out_trade_no` or `transaction_id`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::json;
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// let sub = |no: &str, total: i64| json!({"mchid": "1900000109", "out_trade_no": no,
    ///     "description": "腾讯充值中心-QQ会员充值", "attach": "深圳分店",
    ///     "amount": {"total_amount": total, "currency": "CNY"}});
    /// server.client()?["v3/combine-transactions/native"].post(json!({"json": {
    ///     "combine_appid": "wxd678efh567hg6787", "combine_mchid": "1900000109",
    ///     "combine_out_trade_no": "P20150806125346", "notify_url": "https://127.0.0.1:9/notify",
    ///     "sub_orders": [sub("20150806125346", 100), sub("20150806125347", 200)],
    /// }})).await?;
    /// let paid = server.pay_combine_transaction("P20150806125346")?;
    /// assert_eq!(paid["sub_orders"][1]["trade_state"], "SUCCESS");
    /// # Ok(()) }
    /// ```
    pub fn pay_combine_transaction(&self, combine_out_trade_no: &str) -> Result<Value> {
        self.combine(
            TransactionAction::Pay,
            combine_out_trade_no,
            PayRequest::default(),
        )
    }

    /// As [`MockServer::pay_combine_transaction`], the user paying from the
    /// front end with `invocation` (JSAPI or APP parameters built as for a
    /// normal order, with `combine_appid` and the combine order's
    /// `prepay_id`), checked as the WeChat client checks them.
    pub fn pay_combine_transaction_with(
        &self,
        combine_out_trade_no: &str,
        invocation: &Value,
    ) -> Result<Value> {
        let request = PayRequest {
            openid: None,
            invocation: Some(invocation.clone()),
        };
        self.combine(TransactionAction::Pay, combine_out_trade_no, request)
    }

    /// A payment attempt of the combine order fails: every sub-order stays NOTPAY.
    pub fn fail_combine_transaction(&self, combine_out_trade_no: &str) -> Result<Value> {
        self.combine(
            TransactionAction::Fail,
            combine_out_trade_no,
            PayRequest::default(),
        )
    }

    /// The unpaid combine order runs out of time: every sub-order CLOSED.
    pub fn expire_combine_transaction(&self, combine_out_trade_no: &str) -> Result<Value> {
        self.combine(
            TransactionAction::Expire,
            combine_out_trade_no,
            PayRequest::default(),
        )
    }

    fn combine(&self, action: TransactionAction, no: &str, request: PayRequest) -> Result<Value> {
        combine_request(&self.shared, action, no, &request)
            .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// Every combine order held, oldest first (`GET /_mock/combine-transactions`):
    /// the query's answer, plus the mock's own `trade_type`, `trade_state`
    /// of the whole, `total`, `prepay_id`, `notify_url` and `create_time`.
    pub fn combine_transactions(&self) -> Vec<Value> {
        combine_list(&self.shared, usize::MAX)
    }

    /// The back office ends PROCESSING refund `out_refund_no` with
    /// `outcome`; REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED goes to
    /// the refund's `notify_url`. Returns the refund as the query answers it.
    pub fn resolve_refund(
        &self,
        out_refund_no: &str,
        sub_mchid: Option<&str>,
        outcome: RefundOutcome,
    ) -> Result<Value> {
        resolve_refund(
            &self.shared,
            outcome,
            sub_mchid.unwrap_or_default(),
            out_refund_no,
        )
        .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// Lets an order's or refund's `notify_url` name a host other than this
    /// machine (by default only a loopback address or `localhost`; another
    /// host is refused with 400 `PARAM_ERROR` when the order is placed).
    /// The mock's keys are published: allow it only on a network you trust,
    /// for a merchant endpoint that runs elsewhere (docs/security.md).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// server.allow_remote_notify(true);
    /// # Ok(())
    /// # }
    /// ```
    pub fn allow_remote_notify(&self, yes: bool) {
        self.shared
            .remote_notify
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Refunds succeed by themselves `delay` after they are accepted (as
    /// real ones do within 1–3 working days); `None`, the default, leaves
    /// them PROCESSING until [`MockServer::resolve_refund`].
    pub fn auto_resolve_refunds(&self, delay: Option<Duration>) {
        if let Ok(mut slot) = self.shared.refund_delay.lock() {
            *slot = delay;
        }
    }

    /// Receiver `account` of profit-sharing request `out_order_no` gets its
    /// share (PENDING → SUCCESS; the request turns FINISHED when no receiver
    /// is PENDING). A `MERCHANT_ID` receiver's 分账 notification goes to the
    /// URL of [`MockServer::set_profit_sharing_notify_url`]. Returns the
    /// request as the query answers it. `sub_mchid` names a partner's.
    pub fn succeed_profit_sharing(
        &self,
        out_order_no: &str,
        account: &str,
        sub_mchid: Option<&str>,
    ) -> Result<Value> {
        self.resolve_share(out_order_no, account, sub_mchid, "succeed", None)
    }

    /// Receiver `account` of profit-sharing request `out_order_no` is not
    /// paid (PENDING → CLOSED) for `fail_reason`: `ACCOUNT_ABNORMAL`,
    /// `NO_RELATION`, `RECEIVER_HIGH_RISK`, `RECEIVER_REAL_NAME_NOT_VERIFIED`,
    /// `NO_AUTH`, `RECEIVER_RECEIPT_LIMIT`, `PAYER_ACCOUNT_ABNORMAL` or
    /// `INVALID_REQUEST`. Its amount stays with the order, splittable again.
    ///
    /// ```no_run
    /// # fn demo(server: &wechatpay_chain::mock::MockServer) -> wechatpay_chain::Result<()> {
    /// let request = server.close_profit_sharing("P20150806125346", "1900000110", None, "RECEIVER_HIGH_RISK")?;
    /// assert_eq!(request["receivers"][0]["fail_reason"], "RECEIVER_HIGH_RISK");
    /// # Ok(()) }
    /// ```
    pub fn close_profit_sharing(
        &self,
        out_order_no: &str,
        account: &str,
        sub_mchid: Option<&str>,
        fail_reason: &str,
    ) -> Result<Value> {
        self.resolve_share(out_order_no, account, sub_mchid, "close", Some(fail_reason))
    }

    fn resolve_share(
        &self,
        out_order_no: &str,
        account: &str,
        sub_mchid: Option<&str>,
        action: &str,
        fail_reason: Option<&str>,
    ) -> Result<Value> {
        flows::profitsharing::ReceiverOutcome::from_action(action, fail_reason)
            .and_then(|outcome| {
                pages::actions::resolve_profit_sharing(
                    &self.shared,
                    &outcome,
                    sub_mchid.unwrap_or_default(),
                    out_order_no,
                    account,
                )
            })
            .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// The maximum share of an order the merchant (`None`) or sub-merchant
    /// may split, in WeChat Pay's unit, 万分比: 3000 (30%) unless set;
    /// `v3/profitsharing/merchant-configs/{sub_mchid}` answers it. More
    /// than 10000 is refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// server.set_profit_sharing_max_ratio(Some("1900000110"), 2000)?;
    /// let config: wechatpay_chain::Value = server.client()?["v3/profitsharing/merchant-configs/{sub_mchid}"]
    ///     .get(wechatpay_chain::json!({"sub_mchid": "1900000110"})).await?.json()?;
    /// assert_eq!(config["max_ratio"], 2000);
    /// # Ok(()) }
    /// ```
    pub fn set_profit_sharing_max_ratio(
        &self,
        sub_mchid: Option<&str>,
        max_ratio: u32,
    ) -> Result<()> {
        let mut sharing = self
            .shared
            .profitsharing
            .lock()
            .map_err(|_| Error::Config("the profit-sharing store is poisoned".to_owned()))?;
        sharing
            .set_max_ratio(sub_mchid.unwrap_or_default(), i64::from(max_ratio))
            .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// Where 分账动账通知 go, as set on the merchant platform (WeChat Pay
    /// takes no URL per request): a MERCHANT_ID receiver's SUCCESS and every
    /// return. `None`, the default, sends none.
    pub fn set_profit_sharing_notify_url(&self, url: Option<&str>) -> Result<()> {
        self.profit_sharing_setting("profitsharing_notify_url", json!(url))
    }

    /// Sends profit-sharing notifications as documented
    /// (`PROFITSHARING.SUCCESS` / `PROFITSHARING.RETURN`, `original_type`
    /// `profitsharing`) instead of as WeChat Pay is observed to send them
    /// (`TRANSACTION.SUCCESS`, `original_type` `transaction`, told apart by
    /// `summary` 分账 / 分账回退), the default.
    pub fn profit_sharing_documented_events(&self, yes: bool) {
        let kind = if yes { "documented" } else { "observed" };
        let _ = self.profit_sharing_setting("profitsharing_event_type", json!(kind));
    }

    /// How long after payment sharing opens: WeChat Pay's minute by
    /// default ("订单处理中，请稍后重试" before it); shorter for tests, at
    /// most 60 s (whole seconds).
    pub fn set_profit_sharing_wait(&self, wait: Duration) -> Result<()> {
        self.profit_sharing_setting("profitsharing_wait_s", json!(wait.as_secs()))
    }

    fn profit_sharing_setting(&self, key: &str, value: Value) -> Result<()> {
        let mut sharing = self
            .shared
            .profitsharing
            .lock()
            .map_err(|_| Error::Config("the profit-sharing store is poisoned".to_owned()))?;
        flows::profitsharing::change_setting(&mut sharing.settings, key, &value)
            .map(|_| ())
            .map_err(|answer| ApiError::from_response(answer.status, None, answer.body).into())
    }

    /// Every profit-sharing and unfreezing request held, oldest first
    /// (`GET /_mock/profitsharing/orders`).
    pub fn profit_sharing_orders(&self) -> Vec<Value> {
        self.shared
            .profitsharing
            .lock()
            .map(|sharing| sharing.list(usize::MAX))
            .unwrap_or_default()
    }

    /// The mock's clock: Unix seconds. It follows real time, shifted by
    /// however far it was moved ([`MockServer::advance_clock`]).
    pub fn now(&self) -> i64 {
        self.shared.clock.now()
    }

    /// Moves the mock's clock forward by `by`, firing on the way, in time
    /// order, what falls due: unpaid orders closing at `time_expire`,
    /// `prepay_id`s ending their 2 hours, refunds resolving by themselves,
    /// transfer bills unconfirmed for 24 h ending FAIL and cancels going
    /// through, the funds profit sharing left frozen unfreezing 30 days
    /// after payment, every notification attempt of WeChat Pay's ladder (at the time it
    /// falls due; set [`MockServer::set_notification_speedup`] to 1 to walk
    /// the real schedule). Returns what happened, oldest first, as
    /// `POST /_mock/clock/advance` answers `happened`. A move is at most
    /// 366 days, as the control's; a longer one is refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// let before = server.now();
    /// server.advance_clock(std::time::Duration::from_secs(2 * 3600)).await?;
    /// assert!(server.now() >= before + 7200);
    /// # Ok(()) }
    /// ```
    pub async fn advance_clock(&self, by: Duration) -> Result<Vec<Value>> {
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let target = self.shared.clock.now_ms().saturating_add(by_ms);
        self.move_clock(target).await
    }

    /// Moves the mock's clock forward to `unix` seconds, as
    /// [`MockServer::advance_clock`] does; an earlier time is refused
    /// (the clock never goes back), and so is one more than 366 days on.
    pub async fn set_clock(&self, unix: i64) -> Result<Vec<Value>> {
        self.move_clock(unix.saturating_mul(1000)).await
    }

    async fn move_clock(&self, target_ms: i64) -> Result<Vec<Value>> {
        self.shared.advance_to(target_ms).await.map_err(|why| {
            ApiError::from_response(
                400,
                None,
                json!({"code": "INVALID_REQUEST", "message": why})
                    .to_string()
                    .into(),
            )
            .into()
        })
    }

    /// Every payment order held, oldest first (`GET /_mock/transactions`).
    pub fn transactions(&self) -> Vec<Value> {
        let mchid = self.shared.keys.credentials.mchid;
        self.shared
            .payments
            .lock()
            .map(|mut book| book.list(mchid, self.shared.clock.now(), usize::MAX))
            .unwrap_or_default()
    }

    /// The payee confirms transfer bill `out_bill_no` on WeChat's confirm
    /// page (WAIT_USER_CONFIRM → SUCCESS, or FAIL with the `fail_reason` an
    /// `out_bill_no` marked `FAIL…` names: docs/mock.md, "Failures on
    /// demand"); MCHTRANSFER.BILL.FINISHED goes to its `notify_url`.
    /// Returns the bill as the query answers it.
    /// `sub_mchid` names the sub-merchant of a partner's bill.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::json;
    /// let server = wechatpay_chain::mock::MockServer::start().await?;
    /// server.client()?["v3/fund-app/mch-transfer/transfer-bills"].post(json!({"json": {
    ///     "appid": "wxf636efh567hg4356", "out_bill_no": "plfk2020042013", "transfer_scene_id": "1000",
    ///     "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "2020年4月报销",
    ///     "transfer_scene_report_infos": [{"info_type": "岗位类型", "info_content": "外卖员"},
    ///                                     {"info_type": "报酬说明", "info_content": "7月份配送费"}],
    /// }})).await?;
    /// let bill = server.confirm_transfer("plfk2020042013", None)?;
    /// assert_eq!(bill["state"], "SUCCESS");
    /// # Ok(()) }
    /// ```
    pub fn confirm_transfer(&self, out_bill_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.transfer(out_bill_no, sub_mchid, transfers::Action::Confirm, b"")
    }

    /// As [`MockServer::confirm_transfer`], the confirm page opened with
    /// `invocation`: the object the front end handed to
    /// `requestMerchantTransfer` (`mchId`, `appId`, `package`, `subMchId`,
    /// `openId`), checked against the bill as the WeChat client checks it; a
    /// refusal changes nothing.
    pub fn confirm_transfer_with(
        &self,
        out_bill_no: &str,
        sub_mchid: Option<&str>,
        invocation: &Value,
    ) -> Result<Value> {
        let body = json!({ "invocation": invocation }).to_string();
        self.transfer(
            out_bill_no,
            sub_mchid,
            transfers::Action::Confirm,
            body.as_bytes(),
        )
    }

    /// The payee closes the confirm page without confirming: the bill still
    /// waits (WeChat Pay has no declined state); nothing is sent.
    pub fn decline_transfer(&self, out_bill_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.transfer(out_bill_no, sub_mchid, transfers::Action::Decline, b"")
    }

    /// WeChat Pay fails the waiting bill with `fail_reason` (one of the
    /// documented values, e.g. `PAYEE_ACCOUNT_ABNORMAL`): FAIL, the amount
    /// back in the operating account, MCHTRANSFER.BILL.FINISHED sent.
    pub fn fail_transfer(
        &self,
        out_bill_no: &str,
        sub_mchid: Option<&str>,
        fail_reason: &str,
    ) -> Result<Value> {
        let body = json!({ "fail_reason": fail_reason }).to_string();
        let answer = pages::transfer::control(
            &self.shared,
            out_bill_no,
            "fail",
            sub_mchid.unwrap_or_default(),
            &[],
            body.as_bytes(),
        );
        Self::bill(answer)
    }

    /// The waiting bill's 24 hours pass now: FAIL (`OVERDUE_CLOSE`), the
    /// amount back, MCHTRANSFER.BILL.FINISHED sent.
    pub fn expire_transfer(&self, out_bill_no: &str, sub_mchid: Option<&str>) -> Result<Value> {
        self.transfer(out_bill_no, sub_mchid, transfers::Action::Expire, b"")
    }

    fn transfer(
        &self,
        out_bill_no: &str,
        sub_mchid: Option<&str>,
        action: transfers::Action,
        body: &[u8],
    ) -> Result<Value> {
        let segment = match action {
            transfers::Action::Confirm => "confirm",
            transfers::Action::Decline => "decline",
            transfers::Action::Expire => "expire",
            transfers::Action::Fail(_) => "fail",
        };
        let answer = pages::transfer::control(
            &self.shared,
            out_bill_no,
            segment,
            sub_mchid.unwrap_or_default(),
            &[],
            body,
        );
        Self::bill(answer)
    }

    fn bill(
        answer: std::result::Result<wire::answer::Answer, wire::answer::Answer>,
    ) -> Result<Value> {
        match answer {
            Ok(answer) => serde_json::from_slice(&answer.body).map_err(|source| Error::Decode {
                status: answer.status,
                source,
            }),
            Err(refused) => Err(ApiError::from_response(refused.status, None, refused.body).into()),
        }
    }

    /// The transfers' operating account (运营账户) balance, in fen.
    pub fn transfer_balance(&self) -> i64 {
        self.shared
            .transfers
            .lock()
            .map(|book| book.balance())
            .unwrap_or_default()
    }

    /// Sets the operating account's balance (fen): below a bill's amount,
    /// creating it answers `403 NOT_ENOUGH`; a top-up lets the same
    /// `out_bill_no` go through. Default [`DEFAULT_TRANSFER_BALANCE`]
    /// (`PUT /_mock/settings` `{"transfer_balance_fen": n}`).
    pub fn set_transfer_balance(&self, fen: i64) {
        if let Ok(mut book) = self.shared.transfers.lock() {
            book.set_balance(fen);
        }
    }

    /// Every transfer bill held (at most [`KEPT_TRANSFERS`]), oldest first,
    /// as the query answers each plus `sub_mchid` and `notify_url`
    /// (`GET /_mock/transfer-bills`).
    pub fn transfer_bills(&self) -> Vec<Value> {
        let mchid = self.shared.keys.credentials.mchid;
        self.shared
            .transfers
            .lock()
            .map(|book| book.list(usize::MAX, mchid))
            .unwrap_or_default()
    }

    /// Every refund held, oldest first (`GET /_mock/refunds`).
    pub fn refunds(&self) -> Vec<Value> {
        self.shared
            .refunds
            .lock()
            .map(|refunds| refunds.list(usize::MAX))
            .unwrap_or_default()
    }

    /// Waits until `count` notifications have been delivered (answered 2xx)
    /// or `timeout` passes; returns the log either way.
    pub async fn wait_for_deliveries(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.notifications();
            if log.iter().filter(|d| d.delivered).count() >= count || Instant::now() >= deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Writes the credentials a client needs into `dir`: PEM files and
    /// `mock.json` (paths relative to it). Returns the path of `mock.json`.
    pub fn write_profile(&self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        write_profile(dir.as_ref(), &self.base_url)
    }

    /// Stops serving and waits a moment for the listener to close.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        tokio::task::yield_now().await;
    }

    /// Serves until `signal` completes, then stops (for `wxpay mock`).
    pub async fn serve_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

/// The profile format (`mock.json`) the CLI and outside clients read.
fn write_profile(dir: &Path, base_url: &str) -> Result<PathBuf> {
    let io = |what: String| move |source| Error::Io { what, source };
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let c = Credentials::get();
    let files = [
        ("apiclient_key.pem", c.merchant_private_key),
        ("wechatpay_cert.pem", c.platform_certificate),
        ("wechatpay_pub_key.pem", c.platform_public_key),
    ];
    for (name, pem) in files {
        let path = dir.join(name);
        std::fs::write(&path, pem).map_err(io(format!("writing {}", path.display())))?;
    }
    let profile = json!({
        "base_url": base_url,
        "mchid": c.mchid,
        "merchant_serial": c.merchant_serial,
        "merchant_private_key": "apiclient_key.pem",
        "platform_certificate": "wechatpay_cert.pem",
        "platform_certificate_serial": c.platform_certificate_serial,
        "platform_public_key": "wechatpay_pub_key.pem",
        "platform_public_key_id": c.platform_public_key_id,
        "apiv3_key": c.apiv3_key,
        "apiv2_key": c.apiv2_key,
        // A client built from it says so when this mock has stopped.
        "mock": true,
    });
    let path = dir.join("mock.json");
    let text = serde_json::to_string_pretty(&profile).map_err(Error::Serialize)?;
    // Written beside and renamed: a reader polling for it (`wxpay mock
    // wait`, a script) sees no file or the whole file, never half of it.
    let part = dir.join(format!(".mock.json.{}.part", std::process::id()));
    std::fs::write(&part, text + "\n").map_err(io(format!("writing {}", part.display())))?;
    std::fs::rename(&part, &path).map_err(io(format!("writing {}", path.display())))?;
    Ok(path)
}
