//! A merchant's whole first day, offline, against the embedded WeChat Pay:
//! JSAPI order → front-end parameters → the user pays → TRANSACTION.SUCCESS
//! received and verified → query → partial refund → REFUND.SUCCESS → the
//! day's trade bill downloaded, hash-checked and reconciled row by row and
//! with its footer against what was sent. Exits non-zero on any mismatch.
//!
//! Run: `cargo run --example journey` (direct merchant) and
//! `cargo run --example journey -- --partner` (service provider, 服务商).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use tokio::sync::mpsc;
use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::mock::{MockServer, RefundOutcome};
use wechatpay_chain::{json, notify, Client, Value};

const APPID: &str = "wxd678efh567hg6787";
const SUB_MCHID: &str = "1900000110";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
const TOTAL: i64 = 1999; // 19.99 yuan
const REFUND: i64 = 500; // 5.00 yuan

type Failure = Box<dyn std::error::Error>;

/// What the merchant's notification endpoint hands to the business logic.
struct Notice {
    event_type: String,
    resource: Value,
}

/// POST /notify: verify the signature over the raw body, decrypt, answer 204.
async fn receive(
    State((client, seen)): State<(Client, mpsc::UnboundedSender<Notice>)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let response = match client.notification(&headers, &body) {
        Ok(event) => {
            let resource: Value = event.resource().unwrap_or_default();
            let _ = seen.send(Notice {
                event_type: event.event_type.clone(),
                resource,
            });
            notify::success()
        }
        Err(e) => notify::failure(&e.to_string()),
    };
    response.into()
}

fn check(what: &str, ok: bool, detail: impl std::fmt::Display) -> Result<(), Failure> {
    if ok {
        println!("  ✓ {what}");
        Ok(())
    } else {
        Err(format!("✗ {what}: {detail}").into())
    }
}

async fn next_notice(seen: &mut mpsc::UnboundedReceiver<Notice>) -> Result<Notice, Failure> {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .map_err(|_| "no notification within 10 s")?
        .ok_or_else(|| "the notification endpoint stopped".into())
}

/// Yuan with two decimals, as the bill writes amounts.
#[tokio::main]
async fn main() -> Result<(), Failure> {
    let partner = std::env::args().any(|a| a == "--partner");
    let wechatpay = MockServer::start().await?;
    let client = wechatpay.client()?;

    // The merchant's notification endpoint, on loopback.
    let (tell, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state((client.clone(), tell));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mode = if partner {
        "partner (服务商)"
    } else {
        "direct merchant"
    };
    println!(
        "journey as a {mode}; WeChat Pay at {}",
        wechatpay.base_url()
    );
    let stamp = wechatpay_chain::clock::compact_now();
    let out_trade_no = format!("JOURNEY{stamp}");
    let out_refund_no = format!("REFUND{stamp}");
    let sub = partner.then_some(SUB_MCHID);

    // 1. Order.
    let mchid = wechatpay_chain::mock::Credentials::get().mchid;
    let (create, order) = if partner {
        (
            "v3/pay/partner/transactions/jsapi",
            json!({"sp_appid": APPID, "sp_mchid": mchid, "sub_mchid": SUB_MCHID,
                   "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": out_trade_no,
                   "notify_url": notify_url, "amount": {"total": TOTAL, "currency": "CNY"},
                   "payer": {"sp_openid": OPENID}}),
        )
    } else {
        (
            "v3/pay/transactions/jsapi",
            json!({"appid": APPID, "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
                   "out_trade_no": out_trade_no, "notify_url": notify_url,
                   "amount": {"total": TOTAL, "currency": "CNY"}, "payer": {"openid": OPENID}}),
        )
    };
    let answer: Value = client[create]
        .post(json!({ "json": order }))
        .await?
        .json()?;
    println!("1. order {out_trade_no} placed: {answer}");

    // 2. Front-end parameters: what wx.requestPayment receives.
    let params = client.invocation().jsapi_from_answer(APPID, &answer)?;
    let front_end = serde_json::to_value(&params)?;
    println!("2. front end gets {front_end}");

    // 3. The user pays in WeChat (the mock checks the parameters first).
    wechatpay.pay_transaction_with(&out_trade_no, sub, &front_end)?;
    let paid = next_notice(&mut seen).await?;
    println!(
        "3. the user paid; notification {} received and verified",
        paid.event_type
    );
    check(
        "TRANSACTION.SUCCESS",
        paid.event_type == "TRANSACTION.SUCCESS",
        &paid.event_type,
    )?;
    check(
        "paid state",
        paid.resource["trade_state"] == "SUCCESS",
        &paid.resource,
    )?;
    check(
        "paid amount",
        paid.resource["amount"]["total"] == TOTAL,
        &paid.resource,
    )?;
    let transaction_id = paid.resource["transaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // 4. Query (never trust a notification alone for the order's state).
    let query = if partner {
        client["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": out_trade_no, "query": {"sp_mchid": mchid, "sub_mchid": SUB_MCHID}}))
            .await?
    } else {
        client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": out_trade_no, "query": {"mchid": mchid}}))
            .await?
    };
    let queried: Value = query.json()?;
    println!("4. queried: trade_state {}", queried["trade_state"]);
    check(
        "query equals the notification",
        queried == paid.resource,
        &queried,
    )?;

    // 5. Partial refund, then the back office completes it.
    let mut refund = json!({"transaction_id": transaction_id, "out_refund_no": out_refund_no,
        "reason": "商品已售完", "notify_url": notify_url,
        "amount": {"refund": REFUND, "total": TOTAL, "currency": "CNY"}});
    if partner {
        refund["sub_mchid"] = json!(SUB_MCHID);
    }
    let accepted: Value = client["v3/refund/domestic/refunds"]
        .post(json!({ "json": refund }))
        .await?
        .json()?;
    println!(
        "5. refund {out_refund_no} accepted: status {}",
        accepted["status"]
    );
    check(
        "refund PROCESSING",
        accepted["status"] == "PROCESSING",
        &accepted,
    )?;
    wechatpay.resolve_refund(&out_refund_no, sub, RefundOutcome::Success)?;
    let refunded = next_notice(&mut seen).await?;
    println!(
        "   notification {} received and verified",
        refunded.event_type
    );
    check(
        "REFUND.SUCCESS",
        refunded.event_type == "REFUND.SUCCESS",
        &refunded.event_type,
    )?;
    check(
        "refund_status",
        refunded.resource["refund_status"] == "SUCCESS",
        &refunded.resource,
    )?;
    let refund_id = refunded.resource["refund_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // 6. The trade bill of the day the user paid (China time), gzip,
    // hash-checked on the way. WeChat Pay makes a day's bill by 10:00 the
    // next day and answers 400 STATEMENT_CREATING before: the simulated
    // clock is moved there instead of waiting a night.
    let success_time = paid.resource["success_time"].as_str().unwrap_or_default();
    let today = success_time
        .get(..10)
        .ok_or("the payment has no success_time")?;
    let too_early = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": today}}))
        .await;
    check(
        "the bill is not ready today (STATEMENT_CREATING)",
        matches!(&too_early, Err(wechatpay_chain::Error::Api(api)) if api.code == "STATEMENT_CREATING"),
        format!("{too_early:?}"),
    )?;
    let midnight = wechatpay_chain::clock::parse_rfc3339(&format!("{today}T00:00:00+08:00"))
        .ok_or("success_time is not a date")?;
    wechatpay.set_clock(midnight + 86_400 + 10 * 3600).await?;
    println!(
        "   the clock moved to {}",
        wechatpay_chain::clock::rfc3339(wechatpay.now())
    );
    let mut bill_query = json!({"bill_date": today, "bill_type": "ALL", "tar_type": "GZIP"});
    if partner {
        bill_query["sub_mchid"] = json!(SUB_MCHID);
    }
    let bill: BillInfo = client["v3/bill/tradebill"]
        .get(json!({ "query": bill_query }))
        .await?
        .json()?;
    let mut csv = Vec::new();
    let written = client
        .download_bill(&bill, Compression::Gzip, &mut csv)
        .await?;
    println!(
        "6. trade bill of {today}: {} bytes, SHA-1 {} checked",
        written.bytes, written.sha1
    );
    check("UTF-8 BOM", csv.starts_with(b"\xEF\xBB\xBF"), "no BOM")?;
    check("CRLF line ends", csv.ends_with(b"\r\n"), "no CRLF")?;

    // 7. Reconcile: both rows and the footer against what was sent.
    // Amounts are read exactly, in fen (never through f64: a payments
    // team copies this), and values by column name.
    let table = BillTable::parse(&String::from_utf8(csv)?)?;
    let cell =
        |row: &Vec<String>, name: &str| table.value(row, name).unwrap_or_default().to_owned();
    check("27 columns", table.columns.len() == 27, table.columns.len())?;
    check("two rows", table.rows.len() == 2, table.rows.len())?;
    let payment = table
        .rows
        .iter()
        .find(|r| cell(r, "交易状态") == "SUCCESS")
        .ok_or("no payment row")?;
    let refund_row = table
        .rows
        .iter()
        .find(|r| cell(r, "交易状态") == "REFUND")
        .ok_or("no refund row")?;
    check(
        "payment row: order",
        cell(payment, "商户订单号") == out_trade_no,
        cell(payment, "商户订单号"),
    )?;
    check(
        "payment row: transaction",
        cell(payment, "微信订单号") == transaction_id,
        cell(payment, "微信订单号"),
    )?;
    check(
        "payment row: amount",
        table.amount_fen(payment, "订单金额")? == TOTAL,
        cell(payment, "订单金额"),
    )?;
    let sub_column = if partner { SUB_MCHID } else { "0" };
    check(
        "payment row: sub-merchant",
        cell(payment, "特约商户号") == sub_column,
        cell(payment, "特约商户号"),
    )?;
    check(
        "refund row: refund no",
        cell(refund_row, "商户退款单号") == out_refund_no,
        cell(refund_row, "商户退款单号"),
    )?;
    check(
        "refund row: refund id",
        cell(refund_row, "微信退款单号") == refund_id,
        cell(refund_row, "微信退款单号"),
    )?;
    check(
        "refund row: amount",
        table.amount_fen(refund_row, "退款金额")? == REFUND,
        cell(refund_row, "退款金额"),
    )?;
    let footer = |name: &str| table.summary_amount_fen(name);
    check(
        "footer: 2 rows",
        table.summary_value("总交易单数")? == "2.0",
        format!("{:?}", table.summary),
    )?;
    check(
        "footer: settled total",
        footer("应结订单总金额")? == TOTAL,
        format!("{:?}", table.summary),
    )?;
    check(
        "footer: refunded total",
        footer("退款总金额")? == REFUND,
        format!("{:?}", table.summary),
    )?;
    check(
        "footer: order total",
        footer("订单总金额")? == TOTAL,
        format!("{:?}", table.summary),
    )?;
    println!("7. reconciled: the bill says what was sent");
    Ok(())
}
