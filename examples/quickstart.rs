//! The payscore seed examples, end to end on loopback.
//!
//! A local HTTP server (httpmock) plays WeChat Pay: it accepts a request
//! only if its signature verifies with the merchant certificate, and signs
//! its answers with the test platform key. The client then modifies an order
//! as a direct merchant (200 with the order), as a service provider (204),
//! and syncs it as paid, in all three chain styles.
//!
//! Run: `cargo run --example quickstart`. Exits non-zero if any step fails.

use std::path::PathBuf;

use httpmock::prelude::*;
use openssl::pkey::PKey;
use openssl::x509::X509;
use wechatpay_chain::crypto::{random_alphanumeric, sign_sha256_rsa, verify_sha256_rsa};
use wechatpay_chain::sign::{request_message, response_message, unix_now};
use wechatpay_chain::{chain, json, Client, Value};

const ORDER_NO: &str = "1234323JKHDFE1243252";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(if name.ends_with(".pem") {
            "src/mock/data"
        } else {
            "tests/data"
        })
        .join(name)
}

type Failure = Box<dyn std::error::Error>;

/// WeChat Pay's check: RSA over METHOD, target, timestamp, nonce and body.
fn signed_by_merchant(req: &HttpMockRequest) -> bool {
    let Ok(cert) = std::fs::read(data("merchant_cert.pem")).map(|pem| X509::from_pem(&pem)) else {
        return false;
    };
    let Some(key) = cert.ok().and_then(|c| c.public_key().ok()) else {
        return false;
    };
    let headers = req.headers();
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let field = |name: &str| {
        auth.split([' ', ','])
            .find_map(|p| p.strip_prefix(name)?.strip_prefix("=\"")?.strip_suffix('"'))
            .unwrap_or_default()
            .to_owned()
    };
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let timestamp = field("timestamp").parse().unwrap_or(0);
    let message = request_message(
        req.method_str(),
        &target,
        timestamp,
        &field("nonce_str"),
        req.body_ref(),
    );
    verify_sha256_rsa(&key, &message, &field("signature"))
}

/// An answer signed the way WeChat Pay signs it.
fn signed_answer(server: &MockServer, path: &str, status: u16, body: &str) -> Result<(), Failure> {
    let key = PKey::private_key_from_pem(&std::fs::read(data("platform_key.pem"))?)?;
    let (timestamp, nonce) = (unix_now().to_string(), random_alphanumeric(32)?);
    let signature = sign_sha256_rsa(&key, &response_message(&timestamp, &nonce, body.as_bytes()))?;
    let path = path.to_owned();
    let body = body.to_owned();
    server.mock(move |when, then| {
        when.method(POST).path(path).is_true(signed_by_merchant);
        then.status(status)
            .header("Wechatpay-Timestamp", timestamp)
            .header("Wechatpay-Nonce", nonce)
            .header("Wechatpay-Signature", signature)
            .header(
                "Wechatpay-Serial",
                "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            )
            .header("Request-ID", "08F78BB5AF0D11ED8E1C0A58E7B4E7A4")
            .body(body);
    });
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let server = MockServer::start_async().await;
    let order = json!({"out_order_no": ORDER_NO, "state": "DOING", "state_description": "MCH_COMPLETE", "total_amount": 39900});
    let paid = json!({"out_order_no": ORDER_NO, "state": "DONE", "total_amount": 39900});
    signed_answer(
        &server,
        &format!("/v3/payscore/serviceorder/{ORDER_NO}/modify"),
        200,
        &order.to_string(),
    )?;
    signed_answer(
        &server,
        &format!("/v3/payscore/partner/serviceorder/{ORDER_NO}/modify"),
        204,
        "",
    )?;
    signed_answer(
        &server,
        &format!("/v3/payscore/serviceorder/{ORDER_NO}/sync"),
        200,
        &paid.to_string(),
    )?;

    let client = Client::builder()
        .mchid("1900000109")
        .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
        .private_key_file(data("merchant_key.pem"))
        .platform_certificate_file(data("platform_cert.pem"))
        .base_url(server.base_url())
        .build()?;
    println!("WeChat Pay stand-in at {}", server.base_url());

    let modify = json!({
        "appid": "wxd678efh567hg6787",
        "service_id": "2002000000000558128851361561536",
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
        "total_amount": 39900,
        "reason": "用户投诉",
        "device": {"start_device_id": "HG123456", "end_device_id": "HG123456", "materiel_no": "example_materiel_no"},
    });

    // direct merchant, three styles: 200 with the order
    let styles = [
        (
            "string",
            client.chain("v3/payscore/serviceorder/{out_order_no}/modify"),
        ),
        (
            "index",
            client["v3/payscore/serviceorder/{out_order_no}/modify"].clone(),
        ),
        (
            "chain!",
            chain!(client.v3.payscore.serviceorder._out_order_no_.modify),
        ),
    ];
    for (style, node) in styles {
        let res = node
            .post(json!({"out_order_no": ORDER_NO, "json": modify}))
            .await?;
        let body: Value = res.json()?;
        println!(
            "modify ({style:6}) -> {} verified by {}: state {} total_amount {}",
            res.status(),
            res.verified_by().unwrap_or("-"),
            body["state"],
            body["total_amount"]
        );
    }

    // service provider: 204, signed over an empty body
    let mut partner = modify.clone();
    partner["sub_mchid"] = json!("1900000110");
    let res = client["v3/payscore/partner/serviceorder/{out_order_no}/modify"]
        .post(json!({"out_order_no": ORDER_NO, "json": partner}))
        .await?;
    println!(
        "partner modify  -> {} verified by {}",
        res.status(),
        res.verified_by().unwrap_or("-")
    );
    if res.status() != 204 {
        return Err("partner modify should answer 204".into());
    }

    // sync as paid
    let res = chain!(client.v3.payscore.serviceorder._out_order_no_.sync)
        .post(json!({
            "out_order_no": ORDER_NO,
            "json": {"appid": "wxd678efh567hg6787", "service_id": "2002000000000558128851361561536",
                     "type": "Order_Paid", "detail": {"paid_time": "20260101120000"}},
        }))
        .await?;
    let body: Value = res.json()?;
    println!(
        "sync            -> {} state {}",
        res.status(),
        body["state"]
    );
    if body["state"] != "DONE" {
        return Err("sync should leave the order DONE".into());
    }
    println!("all steps verified");
    Ok(())
}
