//! Notification replay: a resend goes out signed afresh (a new
//! `Wechatpay-Timestamp` and `Wechatpay-Nonce`, FLOWS.md §1.6's headers)
//! with the body first sent; `POST /_mock/trigger` makes the objects
//! behind a notification so that a merchant's endpoint receives a real one.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use common::flows::{control, jsapi_order};
use common::sink::NotifySink;
use serde_json::json;
use wechatpay_chain::mock::{Credentials, MockServer};

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// An endpoint that keeps every request's headers and body, answering 204.
async fn recorder() -> (String, Seen) {
    async fn keep(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> &'static str {
        seen.lock().unwrap().push((headers, body));
        ""
    }
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(keep))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn wait(seen: &Seen, count: usize) -> Vec<(HeaderMap, Bytes)> {
    for _ in 0..500 {
        if seen.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn a_resend_is_signed_afresh_with_the_same_body() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (url, seen) = recorder().await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("REPLAY-1", &url, 100)}))
        .await
        .unwrap();
    server.pay_transaction("REPLAY-1", None).unwrap();
    wait(&seen, 1).await;
    // A second apart, so that the timestamp can differ too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let seq = server.notifications()[0].seq;
    let (status, _) = control(&server, &format!("notifications/{seq}/resend"), None).await;
    assert_eq!(status, 204);
    let got = wait(&seen, 2).await;
    assert_eq!(got.len(), 2);
    let header = |i: usize, name: &str| got[i].0[name].to_str().unwrap().to_owned();
    assert_eq!(got[0].1, got[1].1, "the body first sent");
    assert_ne!(header(0, "wechatpay-nonce"), header(1, "wechatpay-nonce"));
    assert_ne!(
        header(0, "wechatpay-timestamp"),
        header(1, "wechatpay-timestamp")
    );
    assert_ne!(
        header(0, "wechatpay-signature"),
        header(1, "wechatpay-signature")
    );
    // Both verify as a merchant verifies them.
    for (headers, body) in &got {
        client.notification(headers, body).unwrap();
    }
}

#[tokio::test]
async fn a_trigger_sends_a_real_notification_in_one_call() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let sink = NotifySink::start(client, Credentials::get().apiv3_key, &[]).await;
    let (status, made) = control(
        &server,
        "trigger",
        Some(json!({"event": "TRANSACTION.SUCCESS", "notify_url": sink.url})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(got[0].resource["trade_state"], "SUCCESS");
    assert_eq!(
        got[0].resource["out_trade_no"],
        made["transaction"]["out_trade_no"]
    );
    assert!(got[0].verified.is_ok(), "{:?}", got[0].verified);
    let (status, made) = control(
        &server,
        "trigger",
        Some(json!({"event": "REFUND.SUCCESS", "notify_url": sink.url})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let got = sink.wait_for(3).await;
    let refund = got
        .iter()
        .find(|r| r.envelope["event_type"] == "REFUND.SUCCESS")
        .unwrap();
    // The decrypted refund resource says `refund_status` (FLOWS.md §2).
    assert_eq!(refund.resource["refund_status"], "SUCCESS");
    assert_eq!(
        refund.resource["out_refund_no"],
        made["refund"]["out_refund_no"]
    );
    for (body, field) in [
        (
            json!({"event": "REFUND.CLOSED", "notify_url": sink.url}),
            "/event",
        ),
        (json!({"event": "TRANSACTION.SUCCESS"}), "/"),
    ] {
        let (status, refused) = control(&server, "trigger", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(refused["detail"]["field"], field, "{body}: {refused}");
    }
}
