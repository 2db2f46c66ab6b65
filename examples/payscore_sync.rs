//! The payscore page "sync order" (同步服务订单信息), runnable against the
//! embedded mock: `cargo run --example payscore_sync`.
//!
//! After the user paid offline, the merchant tells WeChat Pay with
//! `type: "Order_Paid"`: the order becomes DONE, the collection USER_PAID.
//! Direct merchant: 200 with the order; service provider: 204. Each in all
//! three chain styles.

use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{chain, json, Client, Value};

const APPID: &str = "wxd678efh567hg6787";
const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000110";

/// An order whose collection is USER_PAYING (what sync needs).
async fn collecting_order(
    server: &MockServer,
    client: &Client,
    no: &str,
    sub_mchid: Option<&str>,
) -> wechatpay_chain::Result<()> {
    let base = if sub_mchid.is_some() {
        "v3/payscore/partner/serviceorder"
    } else {
        "v3/payscore/serviceorder"
    };
    let mut create = json!({
        "out_order_no": no, "appid": APPID, "service_id": SERVICE_ID, "service_introduction": "某某酒店",
        "time_range": {"start_time": "OnAccept"}, "risk_fund": {"name": "DEPOSIT", "amount": 50000},
        // The mock sends its notifications here: loopback, where nothing listens.
        "notify_url": "http://127.0.0.1:9/notify",
    });
    let mut complete = json!({"appid": APPID, "service_id": SERVICE_ID,
        "post_payments": [{"name": "就餐费用", "amount": 40000}], "total_amount": 40000});
    if let Some(sub) = sub_mchid {
        create["sub_mchid"] = json!(sub);
        complete["sub_mchid"] = json!(sub);
    }
    client.chain(base).post(json!({"json": create})).await?;
    server.user_confirms(no, sub_mchid)?;
    client
        .chain(base)
        .chain("{out_order_no}/complete")
        .post(json!({"out_order_no": no, "json": complete}))
        .await?;
    Ok(())
}

fn sync_body(sub_mchid: Option<&str>) -> Value {
    let mut body = json!({
        "appid": APPID,
        "service_id": SERVICE_ID,
        "type": "Order_Paid",
        "detail": {"paid_time": "20091225091210"},
    });
    if let Some(sub) = sub_mchid {
        body["sub_mchid"] = json!(sub);
    }
    body
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start().await?;
    let client = server.client()?;

    for (style, no) in [
        ("string", "S-STRING"),
        ("index", "S-INDEX"),
        ("chain!", "S-CHAIN"),
    ] {
        collecting_order(&server, &client, no, None).await?;
        let options = json!({"out_order_no": no, "json": sync_body(None)});
        let res = match style {
            "string" => {
                client
                    .chain("v3/payscore/serviceorder/{out_order_no}/sync")
                    .post(options)
                    .await?
            }
            "index" => {
                client["v3/payscore/serviceorder/{out_order_no}/sync"]
                    .post(options)
                    .await?
            }
            _ => {
                chain!(client.v3.payscore.serviceorder._out_order_no_.sync)
                    .post(options)
                    .await?
            }
        };
        let order: Value = res.json()?;
        println!(
            "direct  {style:<6} {} state={} collection={}",
            res.status(),
            order["state"],
            order["collection"]["state"]
        );
        if order["state"] != "DONE" || order["collection"]["state"] != "USER_PAID" {
            return Err(format!("direct sync ({style}): {order}").into());
        }
    }

    let sub = Some(SUB_MCHID);
    for (style, no) in [
        ("string", "PS-STRING"),
        ("index", "PS-INDEX"),
        ("chain!", "PS-CHAIN"),
    ] {
        collecting_order(&server, &client, no, sub).await?;
        let options = json!({"out_order_no": no, "json": sync_body(sub)});
        let res = match style {
            "string" => {
                client
                    .chain("v3/payscore/partner/serviceorder/{out_order_no}/sync")
                    .post(options)
                    .await?
            }
            "index" => {
                client["v3/payscore/partner/serviceorder/{out_order_no}/sync"]
                    .post(options)
                    .await?
            }
            _ => {
                chain!(client.v3.payscore.partner.serviceorder._out_order_no_.sync)
                    .post(options)
                    .await?
            }
        };
        println!(
            "partner {style:<6} {} verified by {}",
            res.status(),
            res.verified_by().unwrap_or("-")
        );
        if res.status() != 204 {
            return Err(format!("partner sync ({style}) answered {}", res.status()).into());
        }
    }
    Ok(())
}
