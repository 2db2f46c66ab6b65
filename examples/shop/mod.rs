//! The shop of the use-case guides (docs/guides/): a small axum app with a
//! merchant's routes, shared by `examples/guide_jsapi.rs` and
//! `examples/guide_refund.rs`, which drive it to the end.
//!
//! | route | what |
//! |---|---|
//! | `POST /checkout` `{"openid", "total"}` | places a JSAPI order, answers the front-end parameters |
//! | `GET /orders/{out_trade_no}` | the order as WeChat Pay has it (a query, never a guess) |
//! | `POST /orders/{out_trade_no}/refund` `{"out_refund_no", "refund"}` | refunds part or all of it |
//! | `GET /refunds/{out_refund_no}` | the refund as WeChat Pay has it |
//! | `POST /wxpay/notify` | WeChat Pay's notifications: verified, decrypted, typed |

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response};
use axum::routing::{get, post};
use tokio::sync::mpsc;
use wechatpay_chain::models::{Refund, Transaction};
use wechatpay_chain::{json, notify, Client, ClientBuilder, Value};

/// The official account's (or mini-program's) appid the orders are placed for.
pub const APPID: &str = "wxd678efh567hg6787";
/// A payer's openid under [`APPID`].
pub const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/// What the notification endpoint hands to the rest of the shop, typed.
#[derive(Debug)]
pub enum Event {
    /// `TRANSACTION.SUCCESS`: the order is paid.
    Paid(Transaction),
    /// `REFUND.SUCCESS`, `REFUND.ABNORMAL` or `REFUND.CLOSED`.
    Refund(String, Refund),
}

/// The shop's state: its WeChat Pay client, where WeChat Pay notifies it,
/// the amount of each order it placed, and its fulfilment queue.
#[derive(Clone)]
pub struct Shop {
    client: Client,
    notify_url: String,
    totals: Arc<Mutex<HashMap<String, i64>>>,
    events: mpsc::UnboundedSender<Event>,
}

/// WeChat Pay for the shop: `wxpay mock` (or WeChat Pay itself) in another
/// process when `WECHATPAY_PROFILE` names a profile, else a mock in this
/// process (kept alive by the returned guard).
pub async fn wechat_pay(
) -> wechatpay_chain::Result<(Client, Option<wechatpay_chain::mock::MockServer>)> {
    if std::env::var_os("WECHATPAY_PROFILE").is_some() {
        Ok((ClientBuilder::from_env()?.build()?, None))
    } else {
        let mock = wechatpay_chain::mock::MockServer::start().await?;
        Ok((mock.client()?, Some(mock)))
    }
}

/// Starts the shop on a free loopback port; returns its address
/// (`http://127.0.0.1:PORT`) and the events its notification endpoint
/// received.
pub async fn open(client: Client) -> std::io::Result<(String, mpsc::UnboundedReceiver<Event>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let (events, received) = mpsc::unbounded_channel();
    let shop = Shop {
        client,
        notify_url: format!("{address}/wxpay/notify"),
        totals: Arc::default(),
        events,
    };
    let app = axum::Router::new()
        .route("/checkout", post(checkout))
        .route("/orders/{out_trade_no}", get(order))
        .route("/orders/{out_trade_no}/refund", post(refund))
        .route("/refunds/{out_refund_no}", get(refund_state))
        .route("/wxpay/notify", post(notified))
        .with_state(shop);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((address, received))
}

/// A JSON answer.
fn reply(status: u16, body: Value) -> Response<String> {
    let mut response = Response::new(body.to_string());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// What WeChat Pay said no to (or why it could not be asked), for the page.
fn refused(e: wechatpay_chain::Error) -> Response<String> {
    reply(502, json!({"error": e.to_string()}))
}

/// WeChat Pay's verified answer, typed, passed on to the page (or why not).
fn relay<T: serde::Serialize>(answer: wechatpay_chain::Result<T>) -> Response<String> {
    match answer {
        Ok(answer) => reply(200, json!(answer)),
        Err(e) => refused(e),
    }
}

/// POST /checkout: the page posts its cart; the shop places the order and
/// answers what `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` takes.
async fn checkout(State(shop): State<Shop>, body: Bytes) -> Response<String> {
    let cart: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(openid), Some(total)) = (cart["openid"].as_str(), cart["total"].as_i64()) else {
        return reply(
            400,
            json!({"error": "post {\"openid\": …, \"total\": fen}"}),
        );
    };
    // Unique per merchant, also when two shops share one `wxpay mock`: the
    // time, the process and a counter (two carts in one second).
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (now, process) = (
        wechatpay_chain::clock::compact_now(),
        std::process::id() % 100_000,
    );
    let out_trade_no = format!("SHOP{now}{process:05}{n:04}");
    let order = json!({
        "appid": APPID, "mchid": shop.client.mchid(), "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no, "notify_url": shop.notify_url,
        "amount": {"total": total, "currency": "CNY"}, "payer": {"openid": openid},
    });
    match shop.client.prepay_jsapi(&order).await {
        Ok(prepay) => {
            let mut totals = shop.totals.lock().unwrap_or_else(PoisonError::into_inner);
            totals.insert(out_trade_no.clone(), total);
            reply(
                200,
                json!({"out_trade_no": out_trade_no, "params": prepay.params}),
            )
        }
        Err(e) => refused(e),
    }
}

/// POST /wxpay/notify: verify the signature over the raw body, decrypt,
/// hand the typed resource on, answer 204 (or 500: WeChat Pay retries).
async fn notified(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> Response<String> {
    let event = match shop.client.notification(&headers, &body) {
        Ok(event) => event,
        Err(e) => return notify::failure(&e.to_string()).into(),
    };
    let typed = match event.event_type.as_str() {
        "TRANSACTION.SUCCESS" => event.resource::<Transaction>().map(Event::Paid),
        kind if kind.starts_with("REFUND.") => event
            .resource::<Refund>()
            .map(|refund| Event::Refund(event.event_type.clone(), refund)),
        _ => return notify::success().into(), // not one this shop acts on
    };
    match typed {
        Ok(typed) => {
            let _ = shop.events.send(typed);
            notify::success().into()
        }
        Err(e) => notify::failure(&e.to_string()).into(),
    }
}

/// GET /orders/{out_trade_no}: the order's state is what WeChat Pay answers.
async fn order(State(shop): State<Shop>, Path(out_trade_no): Path<String>) -> Response<String> {
    let query = json!({"out_trade_no": out_trade_no, "query": {"mchid": shop.client.mchid()}});
    relay::<Transaction>(
        shop.client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(query)
            .await
            .and_then(|res| res.json()),
    )
}

/// POST /orders/{out_trade_no}/refund: refund `refund` fen of a paid order
/// under the shop's own `out_refund_no` (a retry with the same number and
/// amount is the same refund).
async fn refund(
    State(shop): State<Shop>,
    Path(out_trade_no): Path<String>,
    body: Bytes,
) -> Response<String> {
    let ask: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(out_refund_no), Some(fen)) = (ask["out_refund_no"].as_str(), ask["refund"].as_i64())
    else {
        return reply(
            400,
            json!({"error": "post {\"out_refund_no\": …, \"refund\": fen}"}),
        );
    };
    let total = shop
        .totals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&out_trade_no)
        .copied();
    let Some(total) = total else {
        return reply(
            404,
            json!({"error": format!("no order {out_trade_no} in this shop")}),
        );
    };
    let request = json!({"json": {
        "out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "reason": "商品已售完",
        "notify_url": shop.notify_url, "amount": {"refund": fen, "total": total, "currency": "CNY"},
    }});
    relay::<Refund>(
        shop.client["v3/refund/domestic/refunds"]
            .post(request)
            .await
            .and_then(|res| res.json()),
    )
}

/// GET /refunds/{out_refund_no}: the refund as WeChat Pay has it.
async fn refund_state(
    State(shop): State<Shop>,
    Path(out_refund_no): Path<String>,
) -> Response<String> {
    let query = json!({"out_refund_no": out_refund_no});
    relay::<Refund>(
        shop.client["v3/refund/domestic/refunds/{out_refund_no}"]
            .get(query)
            .await
            .and_then(|res| res.json()),
    )
}

/// One HTTP client for the page's side (building one per request costs
/// ~0.3 s: it loads the system's root certificates).
fn browser() -> &'static reqwest::Client {
    static BROWSER: OnceLock<reqwest::Client> = OnceLock::new();
    BROWSER.get_or_init(reqwest::Client::new)
}

/// The page's side: posts JSON (`null`: no body) to the shop (or the
/// mock), answers the status and the JSON body.
pub async fn post_json(url: String, body: Value) -> Result<(u16, Value), reqwest::Error> {
    let mut request = browser().post(url);
    if !body.is_null() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let res = request.send().await?;
    let status = res.status().as_u16();
    Ok((
        status,
        serde_json::from_str(&res.text().await?).unwrap_or_default(),
    ))
}

/// The page's side: a GET answered with JSON.
pub async fn get_json(url: String) -> Result<(u16, Value), reqwest::Error> {
    let res = browser().get(url).send().await?;
    let status = res.status().as_u16();
    Ok((
        status,
        serde_json::from_str(&res.text().await?).unwrap_or_default(),
    ))
}

/// The next event the notification endpoint received (10 s at most).
pub async fn next_event(
    received: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<Event, Box<dyn std::error::Error>> {
    tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
        .await
        .map_err(|_| "no notification within 10 s")?
        .ok_or_else(|| "the notification endpoint stopped".into())
}

/// Prints a passed check, or fails with what was seen.
pub fn check(
    what: &str,
    ok: bool,
    seen: impl std::fmt::Debug,
) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        println!("  ✓ {what}");
        Ok(())
    } else {
        Err(format!("✗ {what}: {seen:?}").into())
    }
}
