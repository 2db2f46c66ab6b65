//! Payscore service orders on the mock, through the chain client: the seed
//! scenario in direct and partner mode, the preconditions, and the
//! notifications of simulated user actions.

use std::time::Duration;

use httpmock::prelude::*;
use wechatpay_chain::crypto::aes_256_gcm_decrypt;
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{chain, json, Client, Error, Options, Value};

const APPID: &str = "wxd678efh567hg6787";
const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000110";

fn create_body(no: &str, notify_url: &str, sub_mchid: Option<&str>) -> Value {
    let mut body = json!({
        "out_order_no": no,
        "appid": APPID,
        "service_id": SERVICE_ID,
        "service_introduction": "某某酒店",
        "time_range": {"start_time": "OnAccept"},
        "risk_fund": {"name": "DEPOSIT", "amount": 50000, "description": "就餐的预估费用"},
        "notify_url": notify_url,
        "need_user_confirm": true,
    });
    if let Some(sub) = sub_mchid {
        body["sub_mchid"] = json!(sub);
    }
    body
}

fn complete_body(sub_mchid: Option<&str>) -> Value {
    let mut body = json!({
        "appid": APPID, "service_id": SERVICE_ID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
        "total_amount": 39900,
    });
    if let Some(sub) = sub_mchid {
        body["sub_mchid"] = json!(sub);
    }
    body
}

/// The seed page's modify request (amount lowered, reason, device).
fn modify_body(sub_mchid: Option<&str>) -> Value {
    let mut body = json!({
        "appid": APPID, "service_id": SERVICE_ID,
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

fn sync_body(sub_mchid: Option<&str>) -> Value {
    let mut body = json!({"appid": APPID, "service_id": SERVICE_ID, "type": "Order_Paid", "detail": {"paid_time": "20260101120000"}});
    if let Some(sub) = sub_mchid {
        body["sub_mchid"] = json!(sub);
    }
    body
}

fn api_code(result: Result<wechatpay_chain::Response, Error>) -> (u16, String, Option<Value>) {
    match result {
        Err(Error::Api(api)) => (api.status, api.code, api.detail),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn setup() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    (server, client)
}

#[tokio::test]
async fn seed_scenario_direct_merchant() {
    let (server, client) = setup().await;
    let no = "1234323JKHDFE1243252";
    let created: Value = client["v3/payscore/serviceorder"]
        .post(json!({"json": create_body(no, "http://127.0.0.1:9/notify", None)}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(created["state"], "CREATED");
    // WeChat Pay's wx.openBusinessView example: `package: 'AAQTnZoAAAAB…'`
    assert!(created["package"].as_str().unwrap().starts_with("AAQT"));

    let confirmed = server.user_confirms(no, None).unwrap();
    assert_eq!(
        (
            confirmed["state"].as_str(),
            confirmed["state_description"].as_str()
        ),
        (Some("DOING"), Some("USER_CONFIRM"))
    );

    let res = chain!(client.v3.payscore.serviceorder._out_order_no_.complete)
        .post(json!({"out_order_no": no, "json": complete_body(None)}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // modify: 200 with the full order, amount lowered
    let res = client
        .chain("v3/payscore/serviceorder/{out_order_no}/modify")
        .post(json!({"out_order_no": no, "json": modify_body(None)}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let order: Value = res.json().unwrap();
    assert_eq!(order["total_amount"], 39800);
    assert_eq!(order["state_description"], "MCH_COMPLETE");
    assert_eq!(order["collection"]["state"], "USER_PAYING");
    assert_eq!(order["reason"], "用户投诉");

    let res = chain!(client.v3.payscore.serviceorder._out_order_no_.sync)
        .post(json!({"out_order_no": no, "json": sync_body(None)}))
        .await
        .unwrap();
    let order: Value = res.json().unwrap();
    assert_eq!(
        (
            order["state"].as_str(),
            order["collection"]["state"].as_str()
        ),
        (Some("DONE"), Some("USER_PAID"))
    );
    assert_eq!(order["collection"]["paid_amount"], 39800);

    let queried: Value = client["v3/payscore/serviceorder"]
        .get(json!({"query": {"service_id": SERVICE_ID, "appid": APPID, "out_order_no": no}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["state"], "DONE");
    let by_id: Value = client["v3/payscore/serviceorder"]
        .get(json!({"query": {"service_id": SERVICE_ID, "appid": APPID, "query_id": queried["order_id"]}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_id["out_order_no"], no);
}

#[tokio::test]
async fn seed_scenario_service_provider_answers_204() {
    let (server, client) = setup().await;
    let no = "P1234323JKHDFE1243252";
    let partner = "v3/payscore/partner/serviceorder";
    let created = client[partner]
        .post(json!({"json": create_body(no, "http://127.0.0.1:9/n", Some(SUB_MCHID))}))
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    server.user_confirms(no, Some(SUB_MCHID)).unwrap();
    for (action, body) in [
        ("complete", complete_body(Some(SUB_MCHID))),
        ("modify", modify_body(Some(SUB_MCHID))),
        ("sync", sync_body(Some(SUB_MCHID))),
    ] {
        let res = client[partner]["{out_order_no}"][action]
            .post(json!({"out_order_no": no, "json": body}))
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        assert_eq!(res.status(), 204, "{action}");
        assert!(res.bytes().is_empty());
        assert!(res.verified_by().is_some());
    }
    let order: Value = client[partner]
        .get(json!({"query": {"service_id": SERVICE_ID, "appid": APPID, "out_order_no": no, "sub_mchid": SUB_MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["state"], "DONE");
    assert_eq!(order["total_amount"], 39800);
    // the same out_order_no is another order for the direct merchant
    let (status, code, _) = api_code(
        client["v3/payscore/serviceorder"]
            .get(json!({"query": {"service_id": SERVICE_ID, "appid": APPID, "out_order_no": no}}))
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "ORDER_NOT_EXIST"));
}

#[tokio::test]
async fn preconditions_and_amount_rules_answer_wechat_error_codes() {
    let (server, client) = setup().await;
    let no = "PRE1";
    let node = |action: &str| {
        client
            .chain("v3/payscore/serviceorder/{out_order_no}")
            .chain(action)
    };
    client["v3/payscore/serviceorder"]
        .post(json!({"json": create_body(no, "http://127.0.0.1:9/n", None)}))
        .await
        .unwrap();
    // idempotent create; same number, other parameters: refused
    client["v3/payscore/serviceorder"]
        .post(json!({"json": create_body(no, "http://127.0.0.1:9/n", None)}))
        .await
        .unwrap();
    let (_, code, _) = api_code(
        client["v3/payscore/serviceorder"]
            .post(json!({"json": create_body(no, "http://127.0.0.1:9/other", None)}))
            .await,
    );
    assert_eq!(code, "INVALID_REQUEST");

    let (status, code, _) = api_code(
        node("complete")
            .post(json!({"out_order_no": no, "json": complete_body(None)}))
            .await,
    );
    assert_eq!(
        (status, code.as_str()),
        (400, "INVALID_ORDER_STATE"),
        "complete needs the user's confirmation"
    );
    let (_, code, _) = api_code(
        node("modify")
            .post(json!({"out_order_no": no, "json": modify_body(None)}))
            .await,
    );
    assert_eq!(code, "INVALID_ORDER_STATE", "modify needs USER_PAYING");
    server.user_confirms(no, None).unwrap();

    let mut wrong_total = complete_body(None);
    wrong_total["total_amount"] = json!(40000);
    let (_, code, detail) = api_code(
        node("complete")
            .post(json!({"out_order_no": no, "json": wrong_total}))
            .await,
    );
    assert_eq!(code, "PARAM_ERROR");
    assert_eq!(detail.unwrap()["field"], "/total_amount");
    node("complete")
        .post(json!({"out_order_no": no, "json": complete_body(None)}))
        .await
        .unwrap();

    let mut raised = modify_body(None);
    raised["post_discounts"][0]["amount"] = json!(0);
    raised["total_amount"] = json!(40000);
    let (_, code, detail) = api_code(
        node("modify")
            .post(json!({"out_order_no": no, "json": raised}))
            .await,
    );
    assert_eq!(
        (code.as_str(), detail.unwrap()["field"].as_str()),
        ("PARAM_ERROR", Some("/total_amount")),
        "modify may only lower"
    );
    let mut no_reason = modify_body(None);
    no_reason.as_object_mut().unwrap().remove("reason");
    let (_, code, detail) = api_code(
        node("modify")
            .post(json!({"out_order_no": no, "json": no_reason}))
            .await,
    );
    assert_eq!(
        (code.as_str(), detail.unwrap()["field"].as_str()),
        ("PARAM_ERROR", Some("/reason"))
    );

    node("pay")
        .post(json!({"out_order_no": no, "json": {"appid": APPID, "service_id": SERVICE_ID}}))
        .await
        .unwrap();
    let (_, code, _) = api_code(node("cancel").post(json!({"out_order_no": no, "json": {"appid": APPID, "service_id": SERVICE_ID, "reason": "x"}})).await);
    assert_eq!(code, "ORDER_DONE");
    let (_, code, _) = api_code(
        node("sync")
            .post(json!({"out_order_no": no, "json": sync_body(None)}))
            .await,
    );
    assert_eq!(code, "ORDER_DONE");

    // cancel: idempotent with the same reason, ORDER_CANCELED otherwise
    client["v3/payscore/serviceorder"]
        .post(json!({"json": create_body("C1", "http://127.0.0.1:9/n", None)}))
        .await
        .unwrap();
    let cancel = |reason: &str| json!({"out_order_no": "C1", "json": {"appid": APPID, "service_id": SERVICE_ID, "reason": reason}});
    assert_eq!(
        node("cancel")
            .post(cancel("用户取消"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        node("cancel")
            .post(cancel("用户取消"))
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, code, _) = api_code(node("cancel").post(cancel("别的原因")).await);
    assert_eq!(code, "ORDER_CANCELED");

    let (status, code, _) = api_code(
        node("modify")
            .post(json!({"out_order_no": "NOPE", "json": modify_body(None)}))
            .await,
    );
    assert_eq!((status, code.as_str()), (404, "ORDER_NOT_EXIST"));
    let (_, code, detail) = api_code(
        client["v3/payscore/partner/serviceorder"]
            .post(json!({"json": create_body("S1", "http://127.0.0.1:9/n", None)}))
            .await,
    );
    assert_eq!(
        (code.as_str(), detail.unwrap()["field"].as_str()),
        ("PARAM_ERROR", Some("/sub_mchid"))
    );
    let mut missing = create_body("M1", "http://127.0.0.1:9/n", None);
    missing
        .as_object_mut()
        .unwrap()
        .remove("service_introduction");
    let (_, _, detail) = api_code(
        client["v3/payscore/serviceorder"]
            .post(json!({"json": missing}))
            .await,
    );
    assert_eq!(detail.unwrap()["field"], "/service_introduction");
    let (_, code, _) = api_code(
        client["v3/payscore/serviceorder"]
            .post(Options::new().body("{not json"))
            .await,
    );
    assert_eq!(code, "PARAM_ERROR");
}

#[tokio::test]
async fn concurrent_requests_on_one_order_are_serialized() {
    let (server, client) = setup().await;
    client["v3/payscore/serviceorder"]
        .post(json!({"json": create_body("CC", "http://127.0.0.1:9/n", None)}))
        .await
        .unwrap();
    server.user_confirms("CC", None).unwrap();
    client["v3/payscore/serviceorder/{out_order_no}/complete"]
        .post(json!({"out_order_no": "CC", "json": complete_body(None)}))
        .await
        .unwrap();
    // ten syncs at once: exactly one moves the order, nine find it DONE
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(
                client["v3/payscore/serviceorder/{out_order_no}/sync"]
                    .post(json!({"out_order_no": "CC", "json": sync_body(None)})),
            )
        })
        .collect();
    let mut ok = 0;
    let mut done = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Api(api)) if api.code == "ORDER_DONE" => done += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((ok, done), (1, 9));
}

#[tokio::test]
async fn user_actions_send_signed_encrypted_notifications_and_retry() {
    let (server, client) = setup().await;
    let receiver = httpmock::MockServer::start_async().await;
    let failing = receiver
        .mock_async(|when, then| {
            when.method(POST).path("/notify");
            then.status(500).body(r#"{"code":"FAIL","message":"busy"}"#);
        })
        .await;
    let url = receiver.url("/notify");
    client["v3/payscore/serviceorder"]
        .post(json!({"json": create_body("N1", &url, None)}))
        .await
        .unwrap();
    server.user_confirms("N1", None).unwrap();

    // the merchant fails twice; the mock tries again
    while failing.calls_async().await < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    failing.delete_async().await;
    let ok = receiver
        .mock_async(|when, then| {
            when.method(POST).path("/notify");
            then.status(204);
        })
        .await;
    let log = server.wait_for_deliveries(1, Duration::from_secs(10)).await;
    assert!(log[0].delivered && log[0].attempts >= 3, "{log:?}");
    ok.assert_calls_async(1).await;

    // over HTTP, the user pays: a second notification
    client["v3/payscore/serviceorder/{out_order_no}/complete"]
        .post(json!({"out_order_no": "N1", "json": complete_body(None)}))
        .await
        .unwrap();
    let paid = reqwest::Client::new()
        .post(format!("{}_mock/payscore/N1/pay", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let log = server.wait_for_deliveries(2, Duration::from_secs(10)).await;
    assert_eq!(
        log.iter()
            .map(|d| d.event_type.as_str())
            .collect::<Vec<_>>(),
        ["PAYSCORE.USER_CONFIRM", "PAYSCORE.USER_PAID"]
    );

    // what was sent decrypts with the APIv3 key
    let delivery = &log[1];
    let envelope: Value = serde_json::from_str(&delivery.body).unwrap();
    let resource = &envelope["resource"];
    assert_eq!(resource["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(resource["associated_data"], "payscore");
    let key: [u8; 32] = Credentials::get().apiv3_key.as_bytes().try_into().unwrap();
    let plain = aes_256_gcm_decrypt(
        &key,
        resource["nonce"].as_str().unwrap().as_bytes(),
        b"payscore",
        resource["ciphertext"].as_str().unwrap(),
    )
    .unwrap();
    let order: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(
        (
            order["state"].as_str(),
            order["collection"]["state"].as_str()
        ),
        (Some("DONE"), Some("USER_PAID"))
    );
    assert!(envelope["create_time"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));
}
