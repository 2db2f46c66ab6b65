//! The payscore examples against the embedded mock WeChat Pay.
//!
//! For a direct merchant and for a service provider: create a service order,
//! let the user confirm it, complete it, modify the amount (the modify-amount
//! page's request), sync it as paid, and query it — each answer's WeChat Pay
//! signature verified. The three chain styles are all used.
//!
//! Run: `cargo run --example quickstart`. Exits non-zero if any step fails.

use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{chain, json, Client, Response, Value};

const APPID: &str = "wxd678efh567hg6787";
const SERVICE_ID: &str = "2002000000000558128851361561536";

type Failure = Box<dyn std::error::Error>;

fn report(step: &str, res: &Response) -> Result<Value, Failure> {
    // 200 with the order (direct merchant) or 204 without (service provider).
    let body: Value = res.json_opt()?.unwrap_or(Value::Null);
    println!(
        "  {step:<8} {} verified by {:<46} state={} {}",
        res.status(),
        res.verified_by().ok_or("the answer was not verified")?,
        body["state"].as_str().unwrap_or("-"),
        body["state_description"].as_str().unwrap_or(""),
    );
    Ok(body)
}

/// The payscore examples; `sub_mchid` switches to the service-provider paths.
async fn scenario(
    server: &MockServer,
    client: &Client,
    no: &str,
    sub_mchid: Option<&str>,
) -> Result<(), Failure> {
    let base = if sub_mchid.is_some() {
        "v3/payscore/partner/serviceorder"
    } else {
        "v3/payscore/serviceorder"
    };
    let with_sub = |mut body: Value| {
        if let Some(sub) = sub_mchid {
            body["sub_mchid"] = json!(sub);
        }
        body
    };

    // create: a path string
    let create = with_sub(json!({
        "out_order_no": no, "appid": APPID, "service_id": SERVICE_ID,
        "service_introduction": "某某酒店", "time_range": {"start_time": "OnAccept"},
        "risk_fund": {"name": "DEPOSIT", "amount": 50000, "description": "就餐的预估费用"},
        // The mock notifies here: loopback, where nothing listens.
        "notify_url": "http://127.0.0.1:9/payscore/notify", "need_user_confirm": true,
    }));
    report(
        "create",
        &client.chain(base).post(json!({"json": create})).await?,
    )?;

    let order = server.user_confirms(no, sub_mchid)?;
    println!(
        "  (user confirms in WeChat: {} {})",
        order["state"], order["state_description"]
    );

    // complete: index style
    let complete = with_sub(json!({
        "appid": APPID, "service_id": SERVICE_ID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
        "total_amount": 39900,
    }));
    let res = client[base]["{out_order_no}"]["complete"]
        .post(json!({"out_order_no": no, "json": complete}))
        .await?;
    report("complete", &res)?;

    // modify (the modify-amount page): chain style, direct 200 with the order / partner 204
    let modify = with_sub(json!({
        "appid": APPID, "service_id": SERVICE_ID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 200, "count": 2}],
        "total_amount": 39800,
        "reason": "用户投诉",
        "device": {"start_device_id": "HG123456", "end_device_id": "HG123456", "materiel_no": "example_materiel_no"},
    }));
    let options = json!({"out_order_no": no, "json": modify});
    let res = match sub_mchid {
        None => {
            chain!(client.v3.payscore.serviceorder._out_order_no_.modify)
                .post(options)
                .await?
        }
        Some(_) => {
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
    let body = report("modify", &res)?;
    let expected = if sub_mchid.is_some() { 204 } else { 200 };
    if res.status() != expected || (expected == 200 && body["total_amount"] != 39800) {
        return Err(format!("modify answered {} {body}", res.status()).into());
    }

    // sync as paid (the sync-order page)
    let sync = with_sub(
        json!({"appid": APPID, "service_id": SERVICE_ID, "type": "Order_Paid", "detail": {"paid_time": "20260101120000"}}),
    );
    report(
        "sync",
        &client[base]["{out_order_no}/sync"]
            .post(json!({"out_order_no": no, "json": sync}))
            .await?,
    )?;

    let mut query = json!({"service_id": SERVICE_ID, "appid": APPID, "out_order_no": no});
    if let Some(sub) = sub_mchid {
        query["sub_mchid"] = json!(sub);
    }
    let body = report(
        "query",
        &client.chain(base).get(json!({"query": query})).await?,
    )?;
    if body["state"] != "DONE"
        || body["collection"]["state"] != "USER_PAID"
        || body["total_amount"] != 39800
    {
        return Err(format!("unexpected final order: {body}").into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let server = MockServer::start().await?;
    let client = server.client()?;
    println!("mock WeChat Pay at {}", server.base_url());
    println!("direct merchant {}:", client.mchid());
    scenario(&server, &client, "1234323JKHDFE1243252", None).await?;
    println!(
        "service provider {} for sub-merchant 1900000110:",
        client.mchid()
    );
    scenario(&server, &client, "1234323JKHDFE1243253", Some("1900000110")).await?;
    println!("all steps verified");
    Ok(())
}
