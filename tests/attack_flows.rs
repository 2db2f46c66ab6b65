//! Adversarial tests of the mock's payment, refund, notification and bill
//! flows (feature `mock`). Each test is one break an adversarial review
//! found: it failed on the code it was written against (overflowing bills,
//! notifications driving the controls, resends piling up, pinned bill
//! copies, wrong WeChat Pay behaviour, keys in `Debug`) and passes since the
//! fix; its comment says what a correct mock does. The WeChat Pay facts used
//! are written out by hand from FLOWS.md (section named at each test).

mod common;

use std::time::Duration;

use common::flows::{control, setup};

use serde_json::{json, Value};
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{Client, Error};

const APPID: &str = "wxd678efh567hg6787";
const MCHID: &str = "1900000109";

fn order(no: &str, notify_url: &str, total: i64) -> Value {
    json!({"appid": APPID, "mchid": MCHID, "description": "attack",
           "out_trade_no": no, "notify_url": notify_url,
           "amount": {"total": total, "currency": "CNY"},
           "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}})
}

/// What a call came back with: `Ok((status, json))` for any HTTP answer
/// (2xx or a WeChat Pay error), `Err` when no answer came at all (the
/// server task died, the connection was cut).
fn answered(
    result: wechatpay_chain::Result<wechatpay_chain::response::Response>,
) -> Result<(u16, Value), String> {
    match result {
        Ok(response) => Ok((
            response.status(),
            response.json::<Value>().unwrap_or(Value::Null),
        )),
        Err(Error::Api(api)) => Ok((
            api.status,
            json!({"code": api.code, "message": api.message}),
        )),
        Err(other) => Err(format!("{other:?}")),
    }
}

async fn create(client: &Client, path: &str, body: Value) -> Result<(u16, Value), String> {
    answered(client[path].post(json!({ "json": body })).await)
}

/// Today in China time, `YYYY-MM-DD`: the day the mock's payments fall in.
/// Today (China time), after moving the mock's clock to 10:00 tomorrow,
/// when today's bill exists (FLOWS.md §5).
async fn billed_today(server: &MockServer) -> String {
    use wechatpay_chain::clock::{parse_rfc3339, rfc3339};
    let date = rfc3339(server.now())[..10].to_owned();
    let midnight = parse_rfc3339(&format!("{date}T00:00:00+08:00")).unwrap();
    server
        .set_clock(midnight + 86_400 + 10 * 3600)
        .await
        .unwrap();
    date
}

async fn paid_order(server: &MockServer, client: &Client, no: &str, total: i64) -> bool {
    let created = create(
        client,
        "v3/pay/transactions/jsapi",
        order(no, "http://127.0.0.1:9/notify", total),
    )
    .await
    .unwrap();
    if created.0 != 200 {
        return false;
    }
    let (status, _) = control(server, &format!("transactions/{no}/pay"), None).await;
    assert_eq!(status, 200);
    true
}

/// The answer is 400 PARAM_ERROR (`what` says which case, for the message).
fn assert_param_error(status: u16, answer: &Value, what: &str) {
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{what}: {answer}"
    );
}

/// Places a 1-fen JSAPI order `no` notified at `notify_url`.
async fn place(client: &Client, no: &str, notify_url: &str) -> (u16, Value) {
    create(
        client,
        "v3/pay/transactions/jsapi",
        order(no, notify_url, 1),
    )
    .await
    .unwrap()
}

/// A 10-fen refund of paid order `no` as `out_refund_no`, with `notify_url`.
async fn refund_notified(
    client: &Client,
    no: &str,
    out_refund_no: &str,
    notify_url: &str,
) -> (u16, Value) {
    create(
        client,
        "v3/refund/domestic/refunds",
        json!({"out_trade_no": no, "out_refund_no": out_refund_no, "notify_url": notify_url,
               "amount": {"refund": 10, "total": 100, "currency": "CNY"}}),
    )
    .await
    .unwrap()
}

/// A payscore service order (the seed scenario's fields) with `notify_url`.
fn payscore_order(no: &str, notify_url: &str) -> Value {
    json!({"out_order_no": no, "appid": APPID,
           "service_id": "2002000000000558128851361561536",
           "service_introduction": "某某酒店",
           "time_range": {"start_time": "OnAccept"},
           "risk_fund": {"name": "DEPOSIT", "amount": 50000, "description": "押金"},
           "notify_url": notify_url, "need_user_confirm": true})
}

// ---------------------------------------------------------------------------
// Panics in the server task (arithmetic overflow on amounts).
// ---------------------------------------------------------------------------

/// Break: `amount.total` = i64::MAX is accepted (required_fen only checks
/// >= 1); once paid, `v3/bill/tradebill` panics in `fee_on`
/// (`saturating_mul(60) + 5000` overflows) and the connection is cut.
/// Correct: refuse a total WeChat Pay cannot hold at create (PARAM_ERROR;
/// `total` is a 32-bit int in the Java SDK), and never panic while making a
/// bill: the apply answers 200 or a WeChat Pay error.
#[tokio::test]
async fn a_paid_order_of_i64_max_fen_does_not_kill_the_trade_bill() {
    let (server, client) = setup().await;
    if !paid_order(&server, &client, "HUGE000001", i64::MAX).await {
        return; // refused at create: correct.
    }
    let day = billed_today(&server).await;
    let bill = answered(
        client["v3/bill/tradebill"]
            .get(json!({"query": {"bill_date": day}}))
            .await,
    );
    assert!(bill.is_ok(), "the bill request got no answer: {bill:?}");
}

/// Break: many orders whose totals each fit (1.5e17 fen, no fee overflow)
/// overflow the trade bill's footer sums (`sums.settled += p.total`): the
/// server task panics and the connection is cut.
/// Correct: either bound `total` at create, or sum with checked/saturating
/// arithmetic and answer an error; never panic.
#[tokio::test]
async fn the_trade_bill_footer_of_many_large_orders_does_not_overflow() {
    let (server, client) = setup().await;
    for i in 0..70 {
        if !paid_order(
            &server,
            &client,
            &format!("BIGSUM{i:04}"),
            150_000_000_000_000_000,
        )
        .await
        {
            return; // refused at create: correct.
        }
    }
    let day = billed_today(&server).await;
    let bill = answered(
        client["v3/bill/tradebill"]
            .get(json!({"query": {"bill_date": day}}))
            .await,
    );
    assert!(bill.is_ok(), "the bill request got no answer: {bill:?}");
}

/// Break: the same orders overflow the fund-flow bill's running balance
/// (`*balance += entry.amount` in `fund_flow_bill`): panic, connection cut.
/// Correct: as above, bound amounts or use checked arithmetic; never panic.
#[tokio::test]
async fn the_fund_flow_balance_of_many_large_orders_does_not_overflow() {
    let (server, client) = setup().await;
    for i in 0..70 {
        if !paid_order(
            &server,
            &client,
            &format!("BIGFUND{i:04}"),
            150_000_000_000_000_000,
        )
        .await
        {
            return;
        }
    }
    let day = billed_today(&server).await;
    let bill = answered(
        client["v3/bill/fundflowbill"]
            .get(json!({"query": {"bill_date": day}}))
            .await,
    );
    assert!(bill.is_ok(), "the bill request got no answer: {bill:?}");
}

// ---------------------------------------------------------------------------
// time_expire / parse_rfc3339.
// ---------------------------------------------------------------------------

/// Break: `time_expire` "2026-02-30T10:00:00+08:00" (no such day) is taken:
/// `parse_rfc3339` checks the day only against 1..=31 and rolls it into
/// March. Correct: an impossible date is not RFC 3339, so create answers
/// 400 PARAM_ERROR naming /time_expire (FLOWS.md §1.2: time_expire is
/// rfc3339) and no order is kept.
#[tokio::test]
async fn an_impossible_time_expire_date_is_refused() {
    let (_server, client) = setup().await;
    let mut body = order("BADDATE001", "http://127.0.0.1:9/n", 1);
    body["time_expire"] = json!("2099-02-30T10:00:00+08:00");
    let (status, answer) = create(&client, "v3/pay/transactions/jsapi", body)
        .await
        .unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{answer}"
    );
}

/// Break: `parse_rfc3339` takes offsets that are not RFC 3339: a signed
/// hour (`++1:00`, parsed by `i64::from_str` as "+1"), or hours and minutes
/// out of range (`+99:99`). Correct: RFC 3339 §5.6 `time-numoffset` is
/// ("+" / "-") 2DIGIT ":" 2DIGIT with hour 00-23 and minute 00-59; anything
/// else is `None`. Likewise a fraction with no digit (`12:00:00.Z`).
#[test]
fn parse_rfc3339_refuses_offsets_rfc_3339_does_not_allow() {
    use wechatpay_chain::clock::parse_rfc3339;
    for text in [
        "2026-01-01T12:00:00++1:00",
        "2026-01-01T12:00:00+-1:00",
        "2026-01-01T12:00:00+99:99",
        "2026-01-01T12:00:00+08:60",
        // time-secfrac is "." 1*DIGIT: a bare dot is not a fraction.
        "2026-01-01T12:00:00.Z",
    ] {
        assert_eq!(parse_rfc3339(text), None, "{text}");
    }
}

// ---------------------------------------------------------------------------
// WeChat Pay behaviour (FLOWS.md) the mock gets wrong.
// ---------------------------------------------------------------------------

/// Break: re-entry compares only the body, not the operation. A JSAPI order
/// re-posted with the same body to `v3/pay/transactions/native` is taken as
/// re-entry and the Native call answers `{"prepay_id"}`, not `{"code_url"}`.
/// Correct (FLOWS.md §1.3): re-entry needs identical parameters, the trade
/// type among them; changed ones are refused with 400 PARAM_ERROR
/// "订单重入参数校验失败". At the very least a Native call never answers a
/// prepay_id (FLOWS.md §1.1: Native answers `code_url`).
#[tokio::test]
async fn re_entry_through_another_trade_type_is_refused() {
    let (_server, client) = setup().await;
    let body = order("REENTRY001", "http://127.0.0.1:9/n", 1);
    let (status, _) = create(&client, "v3/pay/transactions/jsapi", body.clone())
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, answer) = create(&client, "v3/pay/transactions/native", body)
        .await
        .unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "a Native re-entry of a JSAPI order answered {answer}"
    );
}

/// Break: an `out_refund_no` already used for order A, sent again with the
/// same amounts for order B, answers 200 with A's refund (the existing one
/// is returned before the order is looked at). Correct (FLOWS.md §2,
/// DEV 000aa6987bcfb0db72ff3771d52000): 400 INVALID_REQUEST
/// "请求内容和上次请求不一致…商户退款单号已经被其他请求使用", and nothing
/// changes.
#[tokio::test]
async fn an_out_refund_no_reused_for_another_order_is_refused() {
    let (server, client) = setup().await;
    assert!(paid_order(&server, &client, "REFA000001", 100).await);
    assert!(paid_order(&server, &client, "REFB000001", 100).await);
    let refund = |no: &str| {
        json!({"out_trade_no": no, "out_refund_no": "R-SHARED-1",
               "amount": {"refund": 10, "total": 100, "currency": "CNY"}})
    };
    let (status, _) = create(&client, "v3/refund/domestic/refunds", refund("REFA000001"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, answer) = create(&client, "v3/refund/domestic/refunds", refund("REFB000001"))
        .await
        .unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("INVALID_REQUEST")),
        "the refund number of order A was answered for order B: {answer}"
    );
}

/// Break: a refund's `notify_url` is not checked at all (a payment's must
/// be http(s)): `ftp://…` is accepted and the REFUND.* notification later
/// fails. Correct: the same rule as the order's notify_url — 400
/// PARAM_ERROR naming /notify_url, no refund kept.
#[tokio::test]
async fn a_refund_notify_url_that_is_not_http_is_refused() {
    let (server, client) = setup().await;
    assert!(paid_order(&server, &client, "REFURL0001", 100).await);
    let (status, answer) =
        refund_notified(&client, "REFURL0001", "R-URL-1", "ftp://127.0.0.1/refund").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{answer}"
    );
}

/// Break: a refund's `amount.currency` is not checked: a CNY order is
/// refunded in "USD" and the refund carries USD. Correct: a domestic
/// merchant's currency is CNY only (the mock itself refuses other
/// currencies at create, "境内商户只支持 CNY"); 400 PARAM_ERROR naming
/// /amount/currency.
#[tokio::test]
async fn a_refund_in_another_currency_is_refused() {
    let (server, client) = setup().await;
    assert!(paid_order(&server, &client, "REFCUR0001", 100).await);
    let (status, answer) = create(
        &client,
        "v3/refund/domestic/refunds",
        json!({"out_trade_no": "REFCUR0001", "out_refund_no": "R-CUR-1",
               "amount": {"refund": 10, "total": 100, "currency": "USD"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{answer}"
    );
}

/// Break: a payment's `notify_url` may carry a query string
/// (`https://example.com/notify?order=1` is accepted). Correct: WeChat Pay
/// refuses it — wechatpay-go `docs/payments/native/PrepayRequest.md`,
/// NotifyUrl: "有效性：1. HTTPS；2. 不允许携带查询串。" (no query string
/// allowed) — so create answers 400 PARAM_ERROR naming /notify_url. (The
/// mock's acceptance of plain http:// for loopback sinks is a deliberate
/// convenience and is not tested here.)
#[tokio::test]
async fn a_notify_url_with_a_query_string_is_refused() {
    let (_server, client) = setup().await;
    let (status, answer) = create(
        &client,
        "v3/pay/transactions/jsapi",
        order("QUERYURL01", "https://127.0.0.1/notify?order=1", 1),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{answer}"
    );
}

/// Break: FLOWS.md §2 (DOC 4012556457): "At most 50 partial refunds" per
/// order. The mock takes a 51st (100 fen refunded 1 fen at a time).
/// Correct: the 51st refund of one order is refused with a 4xx WeChat Pay
/// error, and no refund is kept for it.
#[tokio::test]
async fn a_fifty_first_partial_refund_is_refused() {
    let (server, client) = setup().await;
    assert!(paid_order(&server, &client, "MANYREF001", 100).await);
    let refund = |i: u32| {
        json!({"out_trade_no": "MANYREF001", "out_refund_no": format!("R-MANY-{i}"),
               "amount": {"refund": 1, "total": 100, "currency": "CNY"}})
    };
    for i in 1..=50 {
        let (status, answer) = create(&client, "v3/refund/domestic/refunds", refund(i))
            .await
            .unwrap();
        assert_eq!(status, 200, "refund {i}: {answer}");
    }
    let (status, answer) = create(&client, "v3/refund/domestic/refunds", refund(51))
        .await
        .unwrap();
    assert!(
        (400..500).contains(&status),
        "the 51st partial refund was accepted: {answer}"
    );
}

/// Break: FLOWS.md §2: `funds_account` is `AVAILABLE` (the only value the
/// create request takes). The mock echoes any string ("BOGUS") back in the
/// refund. Correct: 400 PARAM_ERROR naming /funds_account.
#[tokio::test]
async fn a_refund_from_an_unknown_funds_account_is_refused() {
    let (server, client) = setup().await;
    assert!(paid_order(&server, &client, "FUNDS00001", 100).await);
    let (status, answer) = create(
        &client,
        "v3/refund/domestic/refunds",
        json!({"out_trade_no": "FUNDS00001", "out_refund_no": "R-FUNDS-1",
               "funds_account": "BOGUS",
               "amount": {"refund": 10, "total": 100, "currency": "CNY"}}),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{answer}"
    );
}

/// Break: FLOWS.md §5: "Only bills from the last 3 months can be
/// requested." A bill of 2000-01-01 answers NO_STATEMENT_EXIST ("no trades
/// that day"), which tells the developer the wrong thing. Correct: a date
/// outside the window is refused as such (a 400 whose code is not
/// NO_STATEMENT_EXIST, saying the date is too old).
#[tokio::test]
async fn a_bill_older_than_three_months_is_refused_as_too_old() {
    let (_server, client) = setup().await;
    let (status, answer) = answered(
        client["v3/bill/tradebill"]
            .get(json!({"query": {"bill_date": "2000-01-01"}}))
            .await,
    )
    .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert_ne!(answer["code"], "NO_STATEMENT_EXIST", "{answer}");
}

/// The JSAPI invocation for `prepay_id`, signed here with plain OpenSSL
/// over `appId\ntimeStamp\nnonceStr\npackage\n` (FLOWS.md §6.1).
fn jsapi_invocation(prepay_id: &str, time_stamp: &str, nonce_str: &str) -> Value {
    use base64::Engine as _;
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let package = format!("prepay_id={prepay_id}");
    let message = format!("{APPID}\n{time_stamp}\n{nonce_str}\n{package}\n");
    let key =
        PKey::private_key_from_pem(Credentials::get().merchant_private_key.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(message.as_bytes()).unwrap();
    let pay_sign = base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap());
    json!({"appId": APPID, "timeStamp": time_stamp, "nonceStr": nonce_str, "package": package,
           "signType": "RSA", "paySign": pay_sign})
}

/// Break: the pay control's invocation check (which "checks the front end's
/// parameters as the WeChat client would") verifies the signature but not
/// the field formats FLOWS.md §6.1 gives: `timeStamp` is seconds as a
/// string and `nonceStr` is at most 32 characters. A correctly signed
/// invocation with `timeStamp` "yesterday" or a 64-character nonceStr pays.
/// Correct: refuse both with 400 PARAM_ERROR naming the field; the order
/// stays NOTPAY.
#[tokio::test]
async fn an_invocation_with_malformed_time_stamp_or_nonce_is_refused() {
    let (server, client) = setup().await;
    for (i, (time_stamp, nonce)) in [
        ("yesterday", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("1767240000", &*"N".repeat(64)),
    ]
    .into_iter()
    .enumerate()
    {
        let no = format!("INVOKE{i:04}");
        let (status, created) = create(
            &client,
            "v3/pay/transactions/jsapi",
            order(&no, "http://127.0.0.1:9/n", 1),
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let prepay_id = created["prepay_id"].as_str().unwrap();
        let invocation = jsapi_invocation(prepay_id, time_stamp, nonce);
        let (status, answer) = control(
            &server,
            &format!("transactions/{no}/pay"),
            Some(json!({ "invocation": invocation })),
        )
        .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("PARAM_ERROR")),
            "timeStamp {time_stamp:?}, nonceStr of {} chars: {answer}",
            nonce.len()
        );
    }
}

// ---------------------------------------------------------------------------
// Notifications turned against the mock.
// ---------------------------------------------------------------------------

/// Break: a `notify_url` may point at the mock's own unauthenticated
/// `/_mock/` controls, and the notifier posts from loopback, so the loopback
/// guard lets it through. `…/_mock/notifications/1/resend` ignores the body
/// and answers 204: each delivery of notification 1 resends itself, for
/// ever, at full speed (attempts grow without bound).
/// Correct: refuse a notify_url under the mock's own `/_mock/` (400
/// PARAM_ERROR), or never let a notification drive a control; a
/// notification is tried at most 16 times (FLOWS.md §1.6: first try plus
/// 15 retries) unless someone resends it.
#[tokio::test]
async fn a_notify_url_at_the_mocks_own_controls_does_not_loop() {
    let (server, client) = setup().await;
    let url = format!("{}_mock/notifications/1/resend", server.base_url());
    let (status, answer) = create(
        &client,
        "v3/pay/transactions/jsapi",
        order("SELFLOOP01", &url, 1),
    )
    .await
    .unwrap();
    if status == 400 {
        return; // refused at create: correct.
    }
    assert_eq!(status, 200, "{answer}");
    let (status, _) = control(&server, "transactions/SELFLOOP01/pay", None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts: u32 = server.notifications().iter().map(|d| d.attempts).sum();
    assert!(
        attempts <= 16,
        "notification 1 resent itself {attempts} times in 2 s"
    );
}

/// Break (same hole, without a loop): a payment's notify_url at
/// `…/_mock/refunds/{out_refund_no}/succeed` makes the mock's own
/// TRANSACTION.SUCCESS notification end a PROCESSING refund as SUCCESS (the
/// control ignores the body and the loopback guard passes the notifier).
/// Correct: a notification never drives a `/_mock/` control — refuse such
/// a notify_url at create (400 PARAM_ERROR), or have the notifier refuse to
/// post to the mock's own controls; the refund stays PROCESSING.
#[tokio::test]
async fn a_payment_notification_cannot_resolve_a_refund_through_the_controls() {
    let (server, client) = setup().await;
    assert!(paid_order(&server, &client, "CROSS00001", 100).await);
    let (status, _) = create(
        &client,
        "v3/refund/domestic/refunds",
        json!({"out_trade_no": "CROSS00001", "out_refund_no": "R-CROSS-1",
               "amount": {"refund": 10, "total": 100, "currency": "CNY"}}),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let url = format!("{}_mock/refunds/R-CROSS-1/succeed", server.base_url());
    let (status, _) = create(
        &client,
        "v3/pay/transactions/jsapi",
        order("CROSS00002", &url, 1),
    )
    .await
    .unwrap();
    if status == 200 {
        let (status, _) = control(&server, "transactions/CROSS00002/pay", None).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (_, refund) = answered(
        client["v3/refund/domestic/refunds/{out_refund_no}"]
            .get(json!({"out_refund_no": "R-CROSS-1"}))
            .await,
    )
    .unwrap();
    assert_eq!(refund["status"], "PROCESSING", "{refund}");
}

/// A merchant endpoint that accepts connections and never answers; the
/// counter is how many connections it holds open.
async fn silent_merchant() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let counter = open.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = counter.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut socket = socket;
                let mut buf = [0u8; 4096];
                // Read until the mock hangs up; never answer.
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (format!("http://{address}/notify"), open)
}

/// Break: `POST /_mock/notifications/{seq}/resend` spawns a new delivery
/// loop each time, even while the notification is still being tried, so a
/// client (or a script in a retry loop) resending one notification 200
/// times to a merchant that does not answer holds 200 connections, 200
/// tasks and 200 copies of the body at once — without bound.
/// Correct: a notification has at most one delivery loop; resending one
/// that is still being tried restarts its schedule (or is refused), so the
/// merchant sees at most one connection per notification at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_one_notification_again_and_again_does_not_pile_up_deliveries() {
    let (server, client) = setup().await;
    let (url, open) = silent_merchant().await;
    let (status, _) = create(
        &client,
        "v3/pay/transactions/jsapi",
        order("RESEND0001", &url, 1),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = control(&server, "transactions/RESEND0001/pay", None).await;
    assert_eq!(status, 200);
    let seq = server.wait_for_deliveries(1, Duration::from_secs(5)).await[0].seq;
    for _ in 0..200 {
        let (status, _) = control(&server, &format!("notifications/{seq}/resend"), None).await;
        assert_eq!(status, 204);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = open.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        held <= 2,
        "one notification holds {held} connections to the merchant at once"
    );
}

// ---------------------------------------------------------------------------
// Secrets.
// ---------------------------------------------------------------------------

/// Break: `Credentials` derives `Debug`, so `{:?}` prints the APIv3 key, the
/// APIv2 key and the merchant private key PEM (the standard: never
/// Debug-print a key). Correct: a hand-written Debug that shows the ids and
/// serials and redacts `apiv3_key`, `apiv2_key` and `merchant_private_key`.
#[test]
fn credentials_debug_does_not_print_keys() {
    let credentials = Credentials::get();
    let printed = format!("{credentials:?}");
    assert!(
        !printed.contains(credentials.apiv3_key),
        "APIv3 key in Debug"
    );
    assert!(
        !printed.contains(credentials.apiv2_key),
        "APIv2 key in Debug"
    );
    assert!(!printed.contains("PRIVATE KEY"), "private key in Debug");
}

// ---------------------------------------------------------------------------
// Unbounded memory.
// ---------------------------------------------------------------------------

/// Resident memory of this process (the mock runs in it), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Break: every `v3/bill/tradebill` apply renders the whole bill and keeps
/// its own copy under a fresh token for 5 minutes, with no bound on how many
/// are kept. One paid order with a 6 MB description (the body limit is
/// 8 MB; nothing bounds the field) and 30 applies of the same bill pin
/// ~180 MB; a client looping on apply exhausts memory (so does a plain
/// ledger of 100,000 orders, a ~40 MB bill, applied a few hundred times).
/// Correct: bound what is kept — cap the outstanding download tokens (the
/// oldest go, as the order books do), or keep one copy per identical bill,
/// or render on download — so memory stays flat however often the same
/// bill is applied for. (WeChat Pay also bounds `description`, but that is
/// not what this test checks.)
#[tokio::test]
async fn applying_for_the_same_bill_again_and_again_does_not_grow_memory() {
    let (server, client) = setup().await;
    let mut body = order("BIGBILL001", "http://127.0.0.1:9/n", 1);
    body["description"] = json!("x".repeat(6 << 20));
    let (status, _) = create(&client, "v3/pay/transactions/jsapi", body)
        .await
        .unwrap();
    if status != 200 {
        return; // a bounded description: correct too.
    }
    let (status, _) = control(&server, "transactions/BIGBILL001/pay", None).await;
    assert_eq!(status, 200);
    // Warm up: one apply, so the first copy and the allocator's pools count
    // in the baseline.
    let day = billed_today(&server).await;
    let first = answered(
        client["v3/bill/tradebill"]
            .get(json!({"query": {"bill_date": &day}}))
            .await,
    );
    assert_eq!(first.unwrap().0, 200);
    let before = rss_kib();
    for _ in 0..30 {
        let apply = answered(
            client["v3/bill/tradebill"]
                .get(json!({"query": {"bill_date": &day}}))
                .await,
        );
        assert_eq!(apply.unwrap().0, 200);
    }
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 60,
        "30 applies of one 6 MB bill pinned {grown_mib} MiB more"
    );
}

/// A site open in the developer's browser must not drive the controls: a
/// control POST naming a foreign `Origin` is refused (403) and changes
/// nothing; the mock's own console (a loopback origin) may.
#[tokio::test]
async fn a_foreign_web_page_cannot_drive_the_controls() {
    let (server, client) = setup().await;
    let (status, _) = create(
        &client,
        "v3/pay/transactions/jsapi",
        order("CSRF000001", "http://127.0.0.1:9/n", 1),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let post = |origin: &'static str| {
        reqwest::Client::new()
            .post(format!(
                "{}_mock/transactions/CSRF000001/pay",
                server.base_url()
            ))
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
    };
    for origin in ["https://evil.example", "null"] {
        assert_eq!(post(origin).await.unwrap().status(), 403, "{origin}");
    }
    assert_eq!(server.transactions()[0]["trade_state"], "NOTPAY");
    let own = server.base_url().trim_end_matches('/').to_owned();
    let answer = reqwest::Client::new()
        .post(format!(
            "{}_mock/transactions/CSRF000001/pay",
            server.base_url()
        ))
        .header("origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// Break (issue 26, defect 4): a payscore order accepts any `notify_url` —
/// `ftp:`, a query string, the mock's own `/_mock/` controls, `not a url`,
/// `javascript:` — which payments and refunds refuse; its notifications
/// are then never delivered. Correct: the same rule as a payment's
/// notify_url (wechatpay-go `docs/payments/native/PrepayRequest.md`,
/// NotifyUrl: "1. HTTPS；2. 不允许携带查询串"; the mock's own controls never):
/// 400 PARAM_ERROR naming /notify_url, no order kept.
#[tokio::test]
async fn a_payscore_notify_url_follows_the_payments_rule() {
    let (server, client) = setup().await;
    let controls = format!("{}_mock/notifications/1/resend", server.base_url());
    let bad = [
        "ftp://127.0.0.1/notify",
        "http://127.0.0.1:9/notify?order=1",
        controls.as_str(),
        "not a url",
        "javascript:alert(1)",
    ];
    for (i, notify_url) in bad.into_iter().enumerate() {
        let no = format!("PSURL{i:04}");
        let (status, answer) = create(
            &client,
            "v3/payscore/serviceorder",
            payscore_order(&no, notify_url),
        )
        .await
        .unwrap();
        assert_param_error(status, &answer, notify_url);
        assert!(
            answer["message"]
                .as_str()
                .unwrap_or("")
                .contains("notify_url"),
            "{notify_url}: {answer}"
        );
        let queried = client["v3/payscore/serviceorder"]
            .get(json!({"query": {"out_order_no": no,
                "service_id": "2002000000000558128851361561536", "appid": APPID}}))
            .await;
        assert!(queried.is_err(), "{notify_url}: the order was kept");
    }
}

/// Break (issue 26): the notifier posts to any http(s) host, and the mock's
/// keys are published: whoever reaches its API (a mock bound to a public
/// address, or a page in the developer's browser) makes it POST into the
/// network it runs in. Correct (docs/security.md, "Where the mock posts
/// notifications"): a notify_url must name this machine — 400 PARAM_ERROR
/// naming /notify_url and saying how to allow it — unless the mock was
/// started with `allow_remote_notify(true)`.
#[tokio::test]
async fn a_notify_url_off_this_machine_is_refused_unless_allowed() {
    let (server, client) = setup().await;
    let elsewhere = [
        "https://example.com/notify",
        "http://10.0.0.1/notify",
        "http://192.168.1.1:8080/notify",
        "http://0.0.0.0:9/notify",
        "http://[::ffff:10.0.0.1]/notify",
        "http://169.254.169.254/latest",
        "http://localhost.example.com/notify",
    ];
    for (i, url) in elsewhere.iter().enumerate() {
        let (status, answer) = place(&client, &format!("REMOTE{i:04}"), url).await;
        assert_param_error(status, &answer, url);
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("/notify_url") && message.contains("allow-remote-notify"),
            "{url}: {answer}"
        );
    }
    // this machine, however it is written
    for (i, url) in [
        "http://127.0.0.1:9/notify",
        "http://127.1.2.3:9/notify",
        "http://localhost:9/notify",
        "http://LOCALHOST:9/notify",
        "http://[::1]:9/notify",
    ]
    .iter()
    .enumerate()
    {
        let (status, answer) = place(&client, &format!("LOCAL{i:05}"), url).await;
        assert_eq!(status, 200, "{url}: {answer}");
    }
    // a refund's and a payscore order's notify_url: the same rule
    assert!(paid_order(&server, &client, "REMOTEPAID", 100).await);
    let (status, answer) = refund_notified(
        &client,
        "REMOTEPAID",
        "R-REMOTE-1",
        "https://example.com/refund",
    )
    .await;
    assert_param_error(status, &answer, "");
    let payscore = |no: &str| payscore_order(no, "https://example.com/payscore");
    let (status, answer) = create(&client, "v3/payscore/serviceorder", payscore("PSREMOTE01"))
        .await
        .unwrap();
    assert_param_error(status, &answer, "");

    // allowed: WeChat Pay's own rule alone
    server.allow_remote_notify(true);
    let (status, answer) = place(&client, "REMOTEOK01", "https://example.com/notify").await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = create(&client, "v3/payscore/serviceorder", payscore("PSREMOTE02"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
}
