//! Profit sharing (分账) from start to end, offline, against the embedded
//! WeChat Pay: an order paid with `settle_info.profit_sharing=true` → a
//! merchant receiver added (its name encrypted) → 20% shared → the receiver's
//! share SUCCESS and its 分账 notification received and verified → the
//! request queried (FINISHED) → part of it returned (the splittable amount
//! stays as it was) → the rest unfrozen with a new `out_order_no` → nothing
//! left to split. Exits non-zero on any mismatch.
//!
//! Run: `cargo run --example profit_sharing`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use tokio::sync::mpsc;
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{json, notify, Client, Value};

const APPID: &str = "wxd678efh567hg6787";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
/// The receiver: a shop's merchant id and its full name (商户全称).
const SHOP: &str = "1900000111";
const SHOP_NAME: &str = "深圳腾大分店";
const TOTAL: i64 = 10_000; // 100.00 yuan
const SHARE: i64 = TOTAL / 5; // 20%, under the default maximum of 30%
const RETURN: i64 = 500;
/// WeChat Pay's fee (the mock's 0.60%, rounded to the fen): not splittable.
const FEE: i64 = (TOTAL * 60 + 5_000) / 10_000;

type Failure = Box<dyn std::error::Error>;

/// POST /notify: verify the signature over the raw body, decrypt, answer 204.
async fn receive(
    State((client, seen)): State<(Client, mpsc::UnboundedSender<(Value, Value)>)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let envelope: Value = serde_json::from_slice(&body).unwrap_or_default();
    match client.notification(&headers, &body) {
        Ok(event) => {
            let _ = seen.send((envelope, event.resource().unwrap_or_default()));
            notify::success().into()
        }
        Err(e) => notify::failure(&e.to_string()).into(),
    }
}

fn check(what: &str, ok: bool, detail: impl std::fmt::Display) -> Result<(), Failure> {
    if ok {
        println!("  ✓ {what}");
        Ok(())
    } else {
        Err(format!("✗ {what}: {detail}").into())
    }
}

async fn unsplit(client: &Client, transaction_id: &str) -> Result<i64, Failure> {
    let amounts: Value = client["v3/profitsharing/transactions/{transaction_id}/amounts"]
        .get(json!({ "transaction_id": transaction_id }))
        .await?
        .json()?;
    amounts["unsplit_amount"]
        .as_i64()
        .ok_or_else(|| format!("no unsplit_amount in {amounts}").into())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let wechatpay = MockServer::start().await?;
    let client = wechatpay.client()?;
    let mchid = wechatpay_chain::mock::Credentials::get().mchid;

    // The merchant platform's 分账动账通知 URL, on loopback.
    let (tell, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state((client.clone(), tell));
    tokio::spawn(async move { axum::serve(listener, app).await });
    wechatpay.set_profit_sharing_notify_url(Some(&notify_url))?;
    // WeChat Pay opens sharing a minute after payment; the example does not wait.
    wechatpay.set_profit_sharing_wait(Duration::ZERO)?;
    println!("profit sharing; WeChat Pay at {}", wechatpay.base_url());

    let stamp = wechatpay_chain::clock::compact_now();
    let out_trade_no = format!("SHARE{stamp}");
    let out_order_no = format!("P{stamp}");

    // 1. An order that may be split, paid.
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": {"appid": APPID, "mchid": mchid, "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": out_trade_no, "notify_url": "http://127.0.0.1:9/notify",
            "amount": {"total": TOTAL, "currency": "CNY"}, "payer": {"openid": OPENID},
            "settle_info": {"profit_sharing": true}}}))
        .await?;
    let paid = wechatpay.pay_transaction(&out_trade_no, None)?;
    let transaction_id = paid["transaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("1. order {out_trade_no} paid: {transaction_id}");
    let left = unsplit(&client, &transaction_id).await?;
    check(
        "the amount less the fee is frozen",
        left == TOTAL - FEE,
        left,
    )?;

    // 2. The receiver, its name encrypted with the WeChat Pay key (the client
    //    names that key in Wechatpay-Serial).
    let added: Value = client["v3/profitsharing/receivers/add"]
        .post(
            json!({"json": {"appid": APPID, "type": "MERCHANT_ID", "account": SHOP,
            "name": client.encrypt(SHOP_NAME)?, "relation_type": "STORE"}}),
        )
        .await?
        .json()?;
    let name = client.decrypt(added["name"].as_str().unwrap_or_default())?;
    println!("2. receiver {SHOP} added");
    check(
        "its name comes back encrypted for us",
        name == SHOP_NAME,
        &name,
    )?;

    // 3. Share 20%.
    let request: Value = client["v3/profitsharing/orders"]
        .post(json!({"json": {"appid": APPID, "transaction_id": transaction_id, "out_order_no": out_order_no,
            "receivers": [{"type": "MERCHANT_ID", "account": SHOP, "amount": SHARE, "description": "分给门店"}],
            "unfreeze_unsplit": false}}))
        .await?
        .json()?;
    println!("3. sharing request {out_order_no}: {}", request["state"]);
    check(
        "PROCESSING, the receiver PENDING",
        request["state"] == "PROCESSING" && request["receivers"][0]["result"] == "PENDING",
        &request,
    )?;

    // 4. WeChat Pay pays the receiver; the receiver's 分账 notification arrives.
    wechatpay.succeed_profit_sharing(&out_order_no, SHOP, None)?;
    let (envelope, resource) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .map_err(|_| "no notification within 10 s")?
        .ok_or("the notification endpoint stopped")?;
    println!(
        "4. notified: {} / {}",
        envelope["event_type"], envelope["summary"]
    );
    check(
        "as observed: TRANSACTION.SUCCESS, summary 分账",
        envelope["event_type"] == "TRANSACTION.SUCCESS" && envelope["summary"] == "分账",
        &envelope,
    )?;
    check(
        "its receiver and amount",
        resource["receiver"]["account"] == SHOP && resource["receiver"]["amount"] == SHARE,
        &resource,
    )?;

    // 5. Query: FINISHED, the receiver SUCCESS (FINISHED alone says nothing of success).
    let queried: Value = client["v3/profitsharing/orders/{out_order_no}"]
        .get(json!({"out_order_no": out_order_no, "query": {"transaction_id": transaction_id}}))
        .await?
        .json()?;
    println!("5. query: {}", queried["state"]);
    check(
        "FINISHED, the receiver SUCCESS",
        queried["state"] == "FINISHED" && queried["receivers"][0]["result"] == "SUCCESS",
        &queried,
    )?;
    let left = unsplit(&client, &transaction_id).await?;
    check("the rest left to split", left == TOTAL - FEE - SHARE, left)?;

    // 6. Part of it comes back (分账回退): it does not become splittable again.
    let returned: Value = client["v3/profitsharing/return-orders"]
        .post(
            json!({"json": {"out_order_no": out_order_no, "out_return_no": format!("R{stamp}"),
            "return_mchid": SHOP, "amount": RETURN, "description": "用户退款"}}),
        )
        .await?
        .json()?;
    println!("6. returned {RETURN} fen: {}", returned["result"]);
    check(
        "SUCCESS at once",
        returned["result"] == "SUCCESS",
        &returned,
    )?;
    let left = unsplit(&client, &transaction_id).await?;
    check(
        "the splittable amount is unchanged",
        left == TOTAL - FEE - SHARE,
        left,
    )?;

    // 7. Unfreeze the rest, with a new out_order_no (the sharing request's
    //    number would answer success and unfreeze nothing).
    let unfrozen: Value = client["v3/profitsharing/orders/unfreeze"]
        .post(
            json!({"json": {"transaction_id": transaction_id, "out_order_no": format!("U{stamp}"),
            "description": "解冻全部剩余资金"}}),
        )
        .await?
        .json()?;
    println!("7. unfrozen: {}", unfrozen["receivers"][0]["amount"]);
    let left = unsplit(&client, &transaction_id).await?;
    check("nothing left to split", left == 0, left)?;
    println!("profit sharing done");
    Ok(())
}
