//! The payscore page "modify order amount" (修改订单金额), runnable against the
//! embedded mock: `cargo run --example payscore_modify`.
//!
//! `POST /v3/payscore/serviceorder/{out_order_no}/modify` answers a direct
//! merchant 200 with the whole order; the service-provider path
//! `POST /v3/payscore/partner/serviceorder/{out_order_no}/modify` answers 204.
//! Each is called in all three chain styles.

use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{chain, json, Client, Value};

const APPID: &str = "wxd678efh567hg6787";
const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000110";

/// Creates an order, lets the user confirm it and completes it, so that its
/// amount can be modified (modify needs the collection to be USER_PAYING).
async fn order_ready_to_modify(
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
    let mut complete = json!({
        "appid": APPID, "service_id": SERVICE_ID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
        "total_amount": 39900,
    });
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

/// The modify-amount page's request body: lower the amount by 1 yuan.
fn modify_body(sub_mchid: Option<&str>) -> Value {
    let mut body = json!({
        "appid": APPID,
        "service_id": SERVICE_ID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 200, "count": 2}],
        "total_amount": 39800,
        "reason": "用户投诉",
        "device": {"start_device_id": "HG123456", "end_device_id": "HG123456", "materiel_no": "example_materiel_no"},
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

    // Direct merchant: 200 with the order.
    for (style, no) in [
        ("string", "M-STRING"),
        ("index", "M-INDEX"),
        ("chain!", "M-CHAIN"),
    ] {
        order_ready_to_modify(&server, &client, no, None).await?;
        let options = json!({"out_order_no": no, "json": modify_body(None)});
        let res = match style {
            "string" => {
                client
                    .chain("v3/payscore/serviceorder/{out_order_no}/modify")
                    .post(options)
                    .await?
            }
            "index" => {
                client["v3/payscore/serviceorder/{out_order_no}/modify"]
                    .post(options)
                    .await?
            }
            _ => {
                chain!(client.v3.payscore.serviceorder._out_order_no_.modify)
                    .post(options)
                    .await?
            }
        };
        let order: Value = res.json()?;
        println!(
            "direct  {style:<6} {} total_amount={} state={}",
            res.status(),
            order["total_amount"],
            order["state"]
        );
        if res.status() != 200 || order["total_amount"] != 39800 {
            return Err(
                format!("direct modify ({style}) answered {} {order}", res.status()).into(),
            );
        }
    }

    // Service provider: 204, no body (still verified).
    let sub = Some(SUB_MCHID);
    for (style, no) in [
        ("string", "P-STRING"),
        ("index", "P-INDEX"),
        ("chain!", "P-CHAIN"),
    ] {
        order_ready_to_modify(&server, &client, no, sub).await?;
        let options = json!({"out_order_no": no, "json": modify_body(sub)});
        let res = match style {
            "string" => {
                client
                    .chain("v3/payscore/partner/serviceorder/{out_order_no}/modify")
                    .post(options)
                    .await?
            }
            "index" => {
                client["v3/payscore/partner/serviceorder/{out_order_no}/modify"]
                    .post(options)
                    .await?
            }
            _ => {
                chain!(
                    client
                        .v3
                        .payscore
                        .partner
                        .serviceorder
                        ._out_order_no_
                        .modify
                )
                .post(options)
                .await?
            }
        };
        println!(
            "partner {style:<6} {} verified by {}",
            res.status(),
            res.verified_by().unwrap_or("-")
        );
        if res.status() != 204 || !res.bytes().is_empty() {
            return Err(format!("partner modify ({style}) answered {}", res.status()).into());
        }
    }
    Ok(())
}
