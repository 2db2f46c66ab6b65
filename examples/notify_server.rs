//! A merchant's notification endpoint (axum) receiving payscore
//! notifications from the mock WeChat Pay's simulated user.
//!
//! The handler does what a production one does: verify the signature over
//! the raw body, decrypt the resource with the APIv3 key, answer 204 — or
//! 500 with `{"code":"FAIL"}` so that WeChat Pay retries.
//!
//! Run: `cargo run --example notify_server`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use axum::routing::post;
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{json, notify, Client, Value};

/// POST /notify
async fn receive(
    State(client): State<Client>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let response = match client.notification(&headers, &body) {
        Ok(event) => {
            let order: Value = event.resource().unwrap_or_default();
            println!(
                "notification {} {} ({}), verified by {}: order {} state {} {}",
                event.id,
                event.event_type,
                event.summary,
                event.verified_by,
                order["out_order_no"],
                order["state"],
                order["collection"]["state"].as_str().unwrap_or("")
            );
            notify::success()
        }
        Err(e) => {
            eprintln!("rejected a notification: {e}");
            notify::failure(&e.to_string())
        }
    };
    // 204, or 500 with {"code":"FAIL",…} as JSON: an http::Response axum returns as is.
    response.into()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wechatpay = MockServer::start().await?;
    let client = wechatpay
        .client_builder()
        .apiv3_key(Credentials::get().apiv3_key)
        .build()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/notify", post(receive))
        .with_state(client.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "merchant notify_url {notify_url}, mock WeChat Pay {}",
        wechatpay.base_url()
    );

    let no = "NOTIFY-DEMO-1";
    client["v3/payscore/serviceorder"]
        .post(json!({"json": {
            "out_order_no": no, "appid": "wxd678efh567hg6787", "service_id": "2002000000000558128851361561536",
            "service_introduction": "某某酒店", "time_range": {"start_time": "OnAccept"},
            "risk_fund": {"name": "DEPOSIT", "amount": 50000}, "notify_url": notify_url,
        }}))
        .await?;
    wechatpay.user_confirms(no, None)?;
    client["v3/payscore/serviceorder/{out_order_no}/complete"]
        .post(json!({"out_order_no": no, "json": {
            "appid": "wxd678efh567hg6787", "service_id": "2002000000000558128851361561536",
            "post_payments": [{"name": "就餐费用", "amount": 39900}], "total_amount": 39900,
        }}))
        .await?;
    wechatpay.user_pays(no, None)?;

    let log = wechatpay
        .wait_for_deliveries(2, Duration::from_secs(10))
        .await;
    let delivered = log.iter().filter(|d| d.delivered).count();
    println!(
        "{delivered} of {} notifications delivered and verified",
        log.len()
    );
    if delivered != 2 {
        return Err("expected two delivered notifications".into());
    }
    Ok(())
}
