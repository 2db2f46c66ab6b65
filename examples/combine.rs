//! A combine payment (合单支付), offline, against the embedded WeChat Pay:
//! a JSAPI combine order of two sub-orders → front-end parameters → the
//! user pays once → one TRANSACTION.SUCCESS with both sub-orders received
//! and verified → one sub-order refunded by its own `out_trade_no` (a
//! refund by `combine_out_trade_no` is refused, as WeChat Pay refuses it)
//! → the day's trade bill, a row per sub-order and one for the refund.
//! Exits non-zero on any mismatch.
//!
//! Run: `cargo run --example combine`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use tokio::sync::mpsc;
use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::mock::{MockServer, RefundOutcome};
use wechatpay_chain::{json, notify, Client, Error, Value};

const APPID: &str = "wxd678efh567hg6787";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
/// The two sub-orders: 12.00 and 7.99 yuan.
const TOTALS: [i64; 2] = [1200, 799];

type Failure = Box<dyn std::error::Error>;

/// POST /notify: verify the signature over the raw body, decrypt, answer 204.
async fn receive(
    State((client, seen)): State<(Client, mpsc::UnboundedSender<(String, Value)>)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let response = match client.notification(&headers, &body) {
        Ok(event) => {
            let resource: Value = event.resource().unwrap_or_default();
            let _ = seen.send((event.event_type.clone(), resource));
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

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let wechatpay = MockServer::start().await?;
    let client = wechatpay.client()?;
    let mchid = wechatpay_chain::mock::Credentials::get().mchid;

    let (tell, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state((client.clone(), tell));
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("combine payment; WeChat Pay at {}", wechatpay.base_url());

    let stamp = wechatpay_chain::clock::compact_now();
    let combine_no = format!("COMBINE{stamp}");
    let subs = [format!("SUBA{stamp}"), format!("SUBB{stamp}")];

    // 1. One order of two sub-orders (attach is required on each).
    let sub_orders: Vec<Value> = subs
        .iter()
        .zip(TOTALS)
        .map(|(no, total)| {
            json!({"mchid": mchid, "out_trade_no": no, "attach": "深圳分店",
                   "description": "腾讯充值中心-QQ会员充值",
                   "amount": {"total_amount": total, "currency": "CNY"}})
        })
        .collect();
    let created: Value = client["v3/combine-transactions/jsapi"]
        .post(json!({"json": {
            "combine_appid": APPID, "combine_mchid": mchid, "combine_out_trade_no": combine_no,
            "scene_info": {"device_id": "POS1:1", "payer_client_ip": "14.17.22.32"},
            "sub_orders": sub_orders, "combine_payer_info": {"openid": OPENID},
            "notify_url": notify_url}}))
        .await?
        .json()?;
    let prepay_id = wechatpay_chain::invoke::prepay_id(&created)?;
    println!("1. combine order {combine_no}: prepay_id {prepay_id}");

    // 2. The front end gets the same parameters as for a normal order, with combine_appid.
    let params = client.invocation().jsapi(APPID, prepay_id)?;
    let paid =
        wechatpay.pay_combine_transaction_with(&combine_no, &serde_json::to_value(&params)?)?;
    println!("2. the user paid both sub-orders at once");

    // 3. One notification with both sub-orders.
    let (event_type, resource) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .map_err(|_| "no notification within 10 s")?
        .ok_or("the notification endpoint stopped")?;
    println!("3. {event_type} received and verified");
    check(
        "TRANSACTION.SUCCESS",
        event_type == "TRANSACTION.SUCCESS",
        &event_type,
    )?;
    check(
        "combine_mchid (a combine order's notification)",
        resource["combine_mchid"] == mchid,
        &resource,
    )?;
    let notified = resource["sub_orders"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check("two sub-orders", notified.len() == 2, notified.len())?;
    for (sub, (no, total)) in notified.iter().zip(subs.iter().zip(TOTALS)) {
        check(
            &format!("{no} SUCCESS, {total} fen"),
            sub["out_trade_no"] == no.as_str()
                && sub["trade_state"] == "SUCCESS"
                && sub["amount"]["total_amount"] == total,
            sub,
        )?;
    }
    let ids = |order: &Value| -> Vec<Value> {
        order["sub_orders"]
            .as_array()
            .map(|s| s.iter().map(|s| s["transaction_id"].clone()).collect())
            .unwrap_or_default()
    };
    check(
        "the notified transaction ids are the paid ones",
        ids(&paid) == ids(&resource) && paid["combine_transaction_id"].is_string(),
        &paid,
    )?;

    // 4. Refunds are per sub-order: never by combine_out_trade_no.
    let refund = |no: &str, out_refund_no: &str, fen: i64, total: i64| {
        json!({"json": {"out_trade_no": no, "out_refund_no": out_refund_no,
                        "amount": {"refund": fen, "total": total, "currency": "CNY"}}})
    };
    let total: i64 = TOTALS.iter().sum();
    match client["v3/refund/domestic/refunds"]
        .post(refund(&combine_no, &format!("RC{stamp}"), total, total))
        .await
    {
        Err(Error::Api(api)) => check(
            "a refund by combine_out_trade_no is refused",
            api.status == 404 && api.code == "RESOURCE_NOT_EXISTS",
            format!("{} {}", api.status, api.code),
        )?,
        other => {
            return Err(
                format!("✗ a refund by combine_out_trade_no was not refused: {other:?}").into(),
            )
        }
    }
    let out_refund_no = format!("RA{stamp}");
    let accepted: Value = client["v3/refund/domestic/refunds"]
        .post(refund(&subs[0], &out_refund_no, TOTALS[0], TOTALS[0]))
        .await?
        .json()?;
    check(
        "refund accepted",
        accepted["status"] == "PROCESSING",
        &accepted,
    )?;
    wechatpay.resolve_refund(&out_refund_no, None, RefundOutcome::Success)?;
    let (event_type, _) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .map_err(|_| "no refund notification within 10 s")?
        .ok_or("the notification endpoint stopped")?;
    check(
        "REFUND.SUCCESS",
        event_type == "REFUND.SUCCESS",
        &event_type,
    )?;
    let queried: Value = client["v3/combine-transactions/out-trade-no/{combine_out_trade_no}"]
        .get(json!({ "combine_out_trade_no": combine_no }))
        .await?
        .json()?;
    let states: Vec<&str> = queried["sub_orders"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["trade_state"].as_str()).collect())
        .unwrap_or_default();
    check(
        "per-sub-order states",
        states == ["REFUND", "SUCCESS"],
        format!("{states:?}"),
    )?;
    println!("4. {} refunded on its own", subs[0]);

    // 5. The trade bill: a row per sub-order, and the refund's.
    let success_time = notified[0]["success_time"].as_str().unwrap_or_default();
    let day = success_time.get(..10).ok_or("no success_time")?;
    // A day's bill exists from 10:00 the next day (China time): the mock's
    // clock is moved there instead of waiting a night.
    let midnight = wechatpay_chain::clock::parse_rfc3339(&format!("{day}T00:00:00+08:00"))
        .ok_or("success_time is not a date")?;
    wechatpay.set_clock(midnight + 86_400 + 10 * 3600).await?;
    let bill: BillInfo = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": day, "bill_type": "ALL"}}))
        .await?
        .json()?;
    let mut csv = Vec::new();
    client
        .download_bill(&bill, Compression::None, &mut csv)
        .await?;
    // Values by column name, amounts exactly in fen (never through f64).
    let table = BillTable::parse(&String::from_utf8(csv)?)?;
    let cell =
        |row: &Vec<String>, name: &str| table.value(row, name).unwrap_or_default().to_owned();
    check("three rows", table.rows.len() == 3, table.rows.len())?;
    for (no, total) in subs.iter().zip(TOTALS) {
        let row = table
            .rows
            .iter()
            .find(|r| cell(r, "商户订单号") == *no && cell(r, "交易状态") == "SUCCESS")
            .ok_or_else(|| format!("✗ no payment row for {no}"))?;
        check(
            &format!("row {no}: {total} fen"),
            table.amount_fen(row, "订单金额")? == total,
            cell(row, "订单金额"),
        )?;
    }
    let refund_row = table
        .rows
        .iter()
        .find(|r| cell(r, "交易状态") == "REFUND")
        .ok_or("✗ no refund row")?;
    check(
        "refund row: the sub-order and its amount",
        cell(refund_row, "商户订单号") == subs[0]
            && table.amount_fen(refund_row, "退款金额")? == TOTALS[0],
        format!("{refund_row:?}"),
    )?;
    println!("5. reconciled: the bill has each sub-order and the refund");
    Ok(())
}
