//! The mock's profit sharing (分账), checked against what WeChat Pay does
//! (FLOWS.md §4.2 and §4.4; field sets from the Go SDK's
//! `services/profitsharing/models.go`): its states, its refusals and their
//! messages, the cumulative cap, unfreezing, returns, the encrypted `name`
//! and the notifications. Each expectation is written out here from those
//! sources, not taken from the mock's code; where FLOWS.md gives only a
//! message, only the message is asserted.

mod common;

use common::flows::{jsapi_order, keys, refusal, set, APPID, MCHID};
use common::sink::NotifySink;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use wechatpay_chain::keys::PrivateKey;
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::sign::RequestSigner;
use wechatpay_chain::{Client, Error};

const SUB_MCHID: &str = "1900000110";
/// A merchant receiver: another merchant id and its full name (商户全称).
const SHOP: &str = "1900000111";
const SHOP_NAME: &str = "深圳腾大分店";
const USER: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/// A mock where sharing opens at once (WeChat Pay waits a minute after
/// payment; the test of that rule leaves the wait alone).
async fn setup() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    server.set_profit_sharing_wait(Duration::ZERO).unwrap();
    let client = server.client().unwrap();
    (server, client)
}

/// What may be split of `net` fen paid (FLOWS §4.4: splittable = amount −
/// fee), the fee being the mock's bill rate, 0.60% rounded to the fen
/// (docs/mock.md, "What it answers": bills).
fn splittable(net: i64) -> i64 {
    net - (net * 60 + 5_000) / 10_000
}

/// Places and pays a JSAPI order (direct, or partner for `sub`), with
/// `settle_info.profit_sharing` as asked; returns its transaction_id.
async fn paid(
    server: &MockServer,
    client: &Client,
    no: &str,
    total: i64,
    sharing: bool,
    sub: Option<&str>,
) -> String {
    let (template, mut body) = match sub {
        None => (
            "v3/pay/transactions/jsapi",
            jsapi_order(no, "http://127.0.0.1:9/notify", total),
        ),
        Some(sub) => (
            "v3/pay/partner/transactions/jsapi",
            json!({"sp_appid": APPID, "sp_mchid": MCHID, "sub_mchid": sub,
                   "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": no,
                   "notify_url": "http://127.0.0.1:9/notify",
                   "amount": {"total": total, "currency": "CNY"}, "payer": {"sp_openid": USER}}),
        ),
    };
    body["settle_info"] = json!({"profit_sharing": sharing});
    client[template].post(json!({"json": body})).await.unwrap();
    let order = server.pay_transaction(no, sub).unwrap();
    order["transaction_id"].as_str().unwrap().to_owned()
}

/// `receivers/add` (GO `AddReceiverRequest`): a merchant receiver carries
/// its encrypted full name.
async fn add_receiver(client: &Client, kind: &str, account: &str, sub: Option<&str>) -> Value {
    let mut body =
        json!({"appid": APPID, "type": kind, "account": account, "relation_type": "STORE"});
    if kind == "MERCHANT_ID" {
        body["name"] = json!(client.encrypt(SHOP_NAME).unwrap());
    }
    if let Some(sub) = sub {
        body["sub_mchid"] = json!(sub);
    }
    client["v3/profitsharing/receivers/add"]
        .post(json!({"json": body}))
        .await
        .unwrap()
        .json()
        .unwrap()
}

fn receiver(kind: &str, account: &str, amount: i64) -> Value {
    json!({"type": kind, "account": account, "amount": amount, "description": "分给商户"})
}

/// `POST v3/profitsharing/orders` (GO `CreateOrderRequest`).
async fn share(
    client: &Client,
    transaction_id: &str,
    out_order_no: &str,
    receivers: Value,
    sub: Option<&str>,
) -> Result<Value, Error> {
    let mut body = json!({"appid": APPID, "transaction_id": transaction_id, "out_order_no": out_order_no,
                          "receivers": receivers, "unfreeze_unsplit": false});
    if let Some(sub) = sub {
        body["sub_mchid"] = json!(sub);
    }
    client["v3/profitsharing/orders"]
        .post(json!({"json": body}))
        .await?
        .json()
}

/// A direct merchant's request with one receiver.
async fn share_one(
    client: &Client,
    transaction_id: &str,
    out_order_no: &str,
    kind: &str,
    account: &str,
    amount: i64,
) -> Result<Value, Error> {
    share(
        client,
        transaction_id,
        out_order_no,
        json!([receiver(kind, account, amount)]),
        None,
    )
    .await
}

/// 403 `NOT_ENOUGH` `分账金额不足` (GO api_orders.go).
fn not_enough() -> (u16, String, String) {
    (403, "NOT_ENOUGH".into(), "分账金额不足".into())
}

async fn unsplit(client: &Client, transaction_id: &str) -> i64 {
    let amounts: Value = client["v3/profitsharing/transactions/{transaction_id}/amounts"]
        .get(json!({"transaction_id": transaction_id}))
        .await
        .unwrap()
        .json()
        .unwrap();
    // GO QueryOrderAmountResponse{transaction_id, unsplit_amount}
    assert_eq!(keys(&amounts), set(&["transaction_id", "unsplit_amount"]));
    assert_eq!(amounts["transaction_id"], transaction_id);
    amounts["unsplit_amount"].as_i64().unwrap()
}

async fn unfreeze(
    client: &Client,
    transaction_id: &str,
    out_order_no: &str,
) -> Result<Value, Error> {
    client["v3/profitsharing/orders/unfreeze"]
        .post(
            json!({"json": {"transaction_id": transaction_id, "out_order_no": out_order_no,
                              "description": "解冻全部剩余资金"}}),
        )
        .await?
        .json()
}

#[tokio::test]
async fn a_request_goes_pending_to_success_and_the_merchant_receiver_is_notified() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    server
        .set_profit_sharing_notify_url(Some(&sink.url))
        .unwrap();
    let id = paid(&server, &client, "PS-LIFE-1", 10_000, true, None).await;
    add_receiver(&client, "MERCHANT_ID", SHOP, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    // The whole amount, less the fee, is frozen until shared or unfrozen.
    assert_eq!(unsplit(&client, &id).await, splittable(10_000));

    let created = share(
        &client,
        &id,
        "P20150806125346",
        json!([
            receiver("MERCHANT_ID", SHOP, 1500),
            receiver("PERSONAL_OPENID", USER, 500)
        ]),
        None,
    )
    .await
    .unwrap();
    // GO OrdersEntity (direct: no sub_mchid); state PROCESSING|FINISHED, result PENDING|SUCCESS|CLOSED.
    assert_eq!(
        keys(&created),
        set(&[
            "transaction_id",
            "out_order_no",
            "order_id",
            "state",
            "receivers"
        ])
    );
    assert_eq!(created["state"], "PROCESSING");
    for r in created["receivers"].as_array().unwrap() {
        assert_eq!(r["result"], "PENDING");
        for field in [
            "amount",
            "description",
            "type",
            "account",
            "result",
            "detail_id",
            "create_time",
        ] {
            assert!(r.get(field).is_some(), "receiver lacks {field}: {r}");
        }
    }
    assert_eq!(unsplit(&client, &id).await, splittable(10_000) - 2_000);

    let after = server
        .succeed_profit_sharing("P20150806125346", SHOP, None)
        .unwrap();
    assert_eq!(after["state"], "PROCESSING", "one receiver still PENDING");
    server
        .succeed_profit_sharing("P20150806125346", USER, None)
        .unwrap();
    let queried: Value = client["v3/profitsharing/orders/{out_order_no}"]
        .get(json!({"out_order_no": "P20150806125346", "query": {"transaction_id": id}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["state"], "FINISHED");
    assert_eq!(queried["order_id"], created["order_id"]);
    let results: Vec<&str> = queried["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["SUCCESS", "SUCCESS"]);
    assert!(queried["receivers"][0]["finish_time"].is_string());

    // Only the MERCHANT_ID receiver is notified, with the observed envelope.
    let got = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sink.received().len(),
        1,
        "a personal receiver gets no notification"
    );
    let envelope = &got[0].envelope;
    assert_eq!(envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(envelope["summary"], "分账");
    assert_eq!(envelope["resource"]["original_type"], "transaction");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    let resource = &got[0].resource;
    // JSORG webhook/v3/PROFITSHARING.SUCCESS.md; direct: `mchid`.
    assert_eq!(
        keys(resource),
        set(&[
            "mchid",
            "transaction_id",
            "order_id",
            "out_order_no",
            "receiver",
            "success_time"
        ])
    );
    assert_eq!(resource["mchid"], MCHID);
    assert_eq!(resource["out_order_no"], "P20150806125346");
    assert_eq!(
        resource["receiver"],
        json!({"type": "MERCHANT_ID", "account": SHOP, "amount": 1500, "description": "分给商户"})
    );
    assert_eq!(
        got[0].verified.as_ref().unwrap(),
        resource,
        "the SDK reads the same"
    );
}

#[tokio::test]
async fn the_cap_is_cumulative_across_requests_and_settable_per_sub_merchant() {
    let (server, client) = setup().await;
    let id = paid(&server, &client, "PS-CAP-1", 10_000, true, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    // Default maximum 30%: 3000 of 10000, over every request of the order.
    share_one(&client, &id, "CAP-A", "PERSONAL_OPENID", USER, 2000)
        .await
        .unwrap();
    let err = share_one(&client, &id, "CAP-B", "PERSONAL_OPENID", USER, 1001)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), not_enough());
    share_one(&client, &id, "CAP-C", "PERSONAL_OPENID", USER, 1000)
        .await
        .unwrap();
    let err = share_one(&client, &id, "CAP-D", "PERSONAL_OPENID", USER, 1)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), not_enough());

    // merchant-configs/{sub_mchid} → {sub_mchid, max_ratio} in 万分比 (GO QueryMerchantRatioResponse).
    let config = |client: Client| async move {
        client["v3/profitsharing/merchant-configs/{sub_mchid}"]
            .get(json!({"sub_mchid": SUB_MCHID}))
            .await
            .unwrap()
            .json::<Value>()
            .unwrap()
    };
    assert_eq!(
        config(client.clone()).await,
        json!({"sub_mchid": SUB_MCHID, "max_ratio": 3000})
    );
    server
        .set_profit_sharing_max_ratio(Some(SUB_MCHID), 1000)
        .unwrap();
    assert_eq!(config(client.clone()).await["max_ratio"], 1000);
    assert!(server.set_profit_sharing_max_ratio(None, 10_001).is_err());
    // The partner's order: 10% of 5000.
    let id = paid(&server, &client, "PS-CAP-2", 5_000, true, Some(SUB_MCHID)).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, Some(SUB_MCHID)).await;
    let err = share(
        &client,
        &id,
        "CAP-E",
        json!([receiver("PERSONAL_OPENID", USER, 501)]),
        Some(SUB_MCHID),
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(err).1, "NOT_ENOUGH");
    let ok = share(
        &client,
        &id,
        "CAP-E",
        json!([receiver("PERSONAL_OPENID", USER, 500)]),
        Some(SUB_MCHID),
    )
    .await
    .unwrap();
    assert_eq!(ok["sub_mchid"], SUB_MCHID);
}

#[tokio::test]
async fn an_order_paid_without_profit_sharing_is_neither_split_nor_unfrozen() {
    let (server, client) = setup().await;
    let id = paid(&server, &client, "PS-PLAIN-1", 10_000, false, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    let err = share_one(&client, &id, "PLAIN-A", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (400, "INVALID_REQUEST".into(), "非分账订单不支持分账".into())
    );
    let err = unfreeze(&client, &id, "PLAIN-U").await.unwrap_err();
    assert_eq!(
        refusal(err),
        (
            400,
            "INVALID_REQUEST".into(),
            "非分账订单不支持解冻剩余资金".into()
        )
    );
    // An unknown order: 404 RESOURCE_NOT_EXISTS 记录不存在.
    let err = share(
        &client,
        "4200000000000000000000000000",
        "PLAIN-B",
        json!([receiver("PERSONAL_OPENID", USER, 1)]),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refusal(err),
        (404, "RESOURCE_NOT_EXISTS".into(), "记录不存在".into())
    );
}

#[tokio::test]
async fn sharing_opens_a_minute_after_payment() {
    // The mock's default is WeChat Pay's minute: a request at once is refused.
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let id = paid(&server, &client, "PS-EARLY-1", 1_000, true, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    let err = share_one(&client, &id, "EARLY-A", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).2, "订单处理中，请稍后重试");
    server.set_profit_sharing_wait(Duration::ZERO).unwrap();
    share_one(&client, &id, "EARLY-A", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap();
    assert!(server
        .set_profit_sharing_wait(Duration::from_secs(61))
        .is_err());
}

#[tokio::test]
async fn unfreezing_with_the_sharing_requests_number_answers_success_and_unfreezes_nothing() {
    let (server, client) = setup().await;
    let id = paid(&server, &client, "PS-UNFREEZE-1", 10_000, true, None).await;
    add_receiver(&client, "MERCHANT_ID", SHOP, None).await;
    let created = share_one(&client, &id, "UF-SHARE", "MERCHANT_ID", SHOP, 2000)
        .await
        .unwrap();
    server
        .succeed_profit_sharing("UF-SHARE", SHOP, None)
        .unwrap();
    let left = splittable(10_000) - 2_000;
    assert_eq!(unsplit(&client, &id).await, left);

    // SK: reusing the sharing request's number "接口返回成功但实际不解冻".
    let reused = unfreeze(&client, &id, "UF-SHARE").await.unwrap();
    assert_eq!(reused["order_id"], created["order_id"]);
    assert_eq!(unsplit(&client, &id).await, left, "nothing was unfrozen");
    // A later sharing request still goes through: the order is not unfrozen.
    share_one(&client, &id, "UF-SHARE-2", "MERCHANT_ID", SHOP, 100)
        .await
        .unwrap();

    // A new number unfreezes the rest.
    let done = unfreeze(&client, &id, "UF-NEW").await.unwrap();
    assert_eq!(
        keys(&done),
        set(&[
            "transaction_id",
            "out_order_no",
            "order_id",
            "state",
            "receivers"
        ])
    );
    assert_eq!(done["out_order_no"], "UF-NEW");
    assert_eq!(unsplit(&client, &id).await, 0);
    // SK: "已解冻的订单不支持继续分账"; GO: unfreezing again 403 NOT_ENOUGH 分账金额为0.
    let err = share_one(&client, &id, "UF-SHARE-3", "MERCHANT_ID", SHOP, 1)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).2, "已解冻的订单不支持继续分账");
    let err = unfreeze(&client, &id, "UF-NEW-2").await.unwrap_err();
    assert_eq!(
        refusal(err),
        (403, "NOT_ENOUGH".into(), "分账金额为0".into())
    );
    // "but returns still work"
    let returned: Value = client["v3/profitsharing/return-orders"]
        .post(json!({"json": {"out_order_no": "UF-SHARE", "out_return_no": "R-UF-1", "return_mchid": SHOP,
                              "amount": 100, "description": "用户退款"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(returned["result"], "SUCCESS");
}

#[tokio::test]
async fn returns_do_not_restore_the_splittable_amount() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    server
        .set_profit_sharing_notify_url(Some(&sink.url))
        .unwrap();
    let id = paid(&server, &client, "PS-RETURN-1", 10_000, true, None).await;
    add_receiver(&client, "MERCHANT_ID", SHOP, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    share(
        &client,
        &id,
        "RT-SHARE",
        json!([
            receiver("MERCHANT_ID", SHOP, 2500),
            receiver("PERSONAL_OPENID", USER, 500)
        ]),
        None,
    )
    .await
    .unwrap();
    server
        .succeed_profit_sharing("RT-SHARE", SHOP, None)
        .unwrap();
    server
        .succeed_profit_sharing("RT-SHARE", USER, None)
        .unwrap();
    sink.wait_for(1).await;
    let left = splittable(10_000) - 3_000;
    assert_eq!(unsplit(&client, &id).await, left);

    let returned: Value = client["v3/profitsharing/return-orders"]
        .post(json!({"json": {"out_order_no": "RT-SHARE", "out_return_no": "R20190516001", "return_mchid": SHOP,
                              "amount": 1000, "description": "用户退款"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    // GO ReturnOrdersEntity (direct: no sub_mchid); result PROCESSING|SUCCESS|FAILED, returns synchronous.
    assert_eq!(
        keys(&returned),
        set(&[
            "order_id",
            "out_order_no",
            "out_return_no",
            "return_id",
            "return_mchid",
            "amount",
            "description",
            "result",
            "create_time",
            "finish_time"
        ])
    );
    assert_eq!(returned["result"], "SUCCESS");
    assert_eq!(returned["amount"], 1000);
    // SK: returned funds do not restore the splittable amount, and the cap stays used up.
    assert_eq!(unsplit(&client, &id).await, left);
    let err = share_one(&client, &id, "RT-SHARE-2", "MERCHANT_ID", SHOP, 1)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), not_enough());

    let queried: Value = client["v3/profitsharing/return-orders/{out_return_no}"]
        .get(json!({"out_return_no": "R20190516001", "query": {"out_order_no": "RT-SHARE"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried, returned);
    // Returns are for merchant receivers only: 400 INVALID_REQUEST 回退方不存在.
    let err = client["v3/profitsharing/return-orders"]
        .post(json!({"json": {"out_order_no": "RT-SHARE", "out_return_no": "R20190516002", "return_mchid": USER,
                              "amount": 100, "description": "用户退款"}}))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (400, "INVALID_REQUEST".into(), "回退方不存在".into())
    );

    // The return's notification: observed envelope, summary 分账回退.
    let got = sink.wait_for(2).await;
    let back = got
        .iter()
        .find(|r| r.envelope["summary"] == "分账回退")
        .expect("a 分账回退 notification");
    assert_eq!(back.envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(back.envelope["resource"]["original_type"], "transaction");
    assert_eq!(back.resource["receiver"]["amount"], 1000);
    assert_eq!(back.resource["out_order_no"], "RT-SHARE");
}

/// A signed `POST v3/profitsharing/receivers/add` sent by hand, with or
/// without `Wechatpay-Serial`.
async fn add_by_hand(server: &MockServer, body: &Value, serial: Option<&str>) -> (u16, Value) {
    let c = Credentials::get();
    let signer = RequestSigner::new(
        c.mchid,
        c.merchant_serial,
        PrivateKey::from_pem(c.merchant_private_key.as_bytes()).unwrap(),
    );
    let text = body.to_string();
    let path = "/v3/profitsharing/receivers/add";
    let auth = signer.sign("POST", path, text.as_bytes()).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&auth.to_string()).unwrap(),
    );
    headers.insert("accept", HeaderValue::from_static("application/json"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(serial) = serial {
        headers.insert("wechatpay-serial", HeaderValue::from_str(serial).unwrap());
    }
    let answer = reqwest::Client::builder()
        .user_agent("test/1")
        .build()
        .unwrap()
        .post(format!("{}{}", server.base_url(), &path[1..]))
        .headers(headers)
        .body(text)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_nested_name_must_arrive_encrypted_with_wechatpay_serial() {
    let (server, client) = setup().await;
    let c = Credentials::get();
    let sealed = client.encrypt(SHOP_NAME).unwrap();
    let body = json!({"appid": APPID, "type": "MERCHANT_ID", "account": SHOP, "name": sealed,
                      "relation_type": "STORE"});
    // WxJava#1959; yansongda/pay#565: no header.
    let (status, answer) = add_by_hand(&server, &body, None).await;
    assert_eq!(status, 400);
    assert_eq!(answer["code"], "PARAM_ERROR");
    assert_eq!(answer["code"], "PARAM_ERROR");
    assert_eq!(
        answer["message"],
        "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)"
    );
    // klover2/wechatpay-node-v3-ts#14: the name in plaintext.
    let mut plain = body.clone();
    plain["name"] = json!(SHOP_NAME);
    let (status, answer) = add_by_hand(&server, &plain, Some(c.platform_public_key_id)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("PARAM_ERROR"))
    );
    assert_eq!(answer["message"], "请确认待处理的消息是否为加密后的密文");
    // Encrypted for one key, the header naming another: it does not open either.
    let (status, answer) = add_by_hand(&server, &body, Some(c.platform_certificate_serial)).await;
    assert_eq!(
        (status, answer["message"].as_str()),
        (400, Some("请确认待处理的消息是否为加密后的密文"))
    );
    // Encrypted, named: bound; the answer's name is sensitive too (merchant key).
    let (status, answer) = add_by_hand(&server, &body, Some(c.platform_public_key_id)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        client.decrypt(answer["name"].as_str().unwrap()).unwrap(),
        SHOP_NAME
    );

    // The same in the nested receivers[].name of a sharing request.
    let id = paid(&server, &client, "PS-NAME-1", 10_000, true, None).await;
    let mut nested = receiver("MERCHANT_ID", SHOP, 100);
    nested["name"] = json!(SHOP_NAME);
    let err = share(&client, &id, "NAME-A", json!([nested]), None)
        .await
        .unwrap_err();
    let (status, code, message) = refusal(err);
    assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"));
    assert_eq!(message, "请确认待处理的消息是否为加密后的密文");
    let mut nested = receiver("MERCHANT_ID", SHOP, 100);
    nested["name"] = json!(client.encrypt(SHOP_NAME).unwrap());
    share(&client, &id, "NAME-A", json!([nested]), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn receivers_bind_once_and_unknown_ones_are_refused() {
    let (server, client) = setup().await;
    let first = add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    assert_eq!(first["relation_type"], "STORE");
    // "重复绑定返回成功，不会覆盖原数据"
    let again: Value = client["v3/profitsharing/receivers/add"]
        .post(json!({"json": {"appid": APPID, "type": "PERSONAL_OPENID", "account": USER, "relation_type": "USER"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(again["relation_type"], "STORE", "the first binding stays");
    // A merchant receiver needs its name (商户全称, 必传).
    let err = client["v3/profitsharing/receivers/add"]
        .post(json!({"json": {"appid": APPID, "type": "MERCHANT_ID", "account": SHOP, "relation_type": "STORE"}}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "PARAM_ERROR");

    let id = paid(&server, &client, "PS-RECV-1", 10_000, true, None).await;
    let err = share_one(&client, &id, "RECV-A", "MERCHANT_ID", SHOP, 100)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).0, 400, "a receiver never added is refused");
    share_one(&client, &id, "RECV-B", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap();
    let deleted: Value = client["v3/profitsharing/receivers/delete"]
        .post(json!({"json": {"appid": APPID, "type": "PERSONAL_OPENID", "account": USER}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    // GO DeleteReceiverResponse{sub_mchid?, type, account}
    assert_eq!(deleted, json!({"type": "PERSONAL_OPENID", "account": USER}));
    let err = share_one(&client, &id, "RECV-C", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).0, 400, "a deleted receiver is refused");
}

#[tokio::test]
async fn reusing_an_out_order_no_with_other_receivers_is_refused() {
    let (server, client) = setup().await;
    let id = paid(&server, &client, "PS-REUSE-1", 10_000, true, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    add_receiver(&client, "MERCHANT_ID", SHOP, None).await;
    let first = share_one(&client, &id, "REUSE-A", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap();
    // 同一分账单号多次请求等同一次.
    let again = share_one(&client, &id, "REUSE-A", "PERSONAL_OPENID", USER, 100)
        .await
        .unwrap();
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(
        unsplit(&client, &id).await,
        splittable(10_000) - 100,
        "shared once"
    );
    let err = share_one(&client, &id, "REUSE-A", "MERCHANT_ID", SHOP, 100)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).2, "分账接收方与原请求不一致");
}

#[tokio::test]
async fn a_partial_refund_leaves_the_rest_splittable_and_a_full_refund_none() {
    let (server, client) = setup().await;
    server.set_profit_sharing_max_ratio(None, 10_000).unwrap();
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    let refund = |no: &'static str, refund_no: &'static str, amount: i64, total: i64| {
        let client = client.clone();
        async move {
            client["v3/refund/domestic/refunds"]
                .post(json!({"json": {"out_trade_no": no, "out_refund_no": refund_no,
                                      "amount": {"refund": amount, "total": total, "currency": "CNY"}}}))
                .await
                .unwrap();
        }
    };
    let id = paid(&server, &client, "PS-REFUND-1", 10_000, true, None).await;
    refund("PS-REFUND-1", "RF-1", 8_000, 10_000).await;
    let left = splittable(2_000);
    assert_eq!(unsplit(&client, &id).await, left);
    let err = share_one(&client, &id, "RF-A", "PERSONAL_OPENID", USER, left + 1)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), not_enough());
    share_one(&client, &id, "RF-A", "PERSONAL_OPENID", USER, left)
        .await
        .unwrap();

    let id = paid(&server, &client, "PS-REFUND-2", 10_000, true, None).await;
    refund("PS-REFUND-2", "RF-2", 10_000, 10_000).await;
    assert_eq!(unsplit(&client, &id).await, 0);
    let err = share_one(&client, &id, "RF-B", "PERSONAL_OPENID", USER, 1)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "NOT_ENOUGH");
}

#[tokio::test]
async fn a_closed_receiver_says_why_and_a_partner_hears_the_documented_events_when_asked() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    server
        .set_profit_sharing_notify_url(Some(&sink.url))
        .unwrap();
    server.profit_sharing_documented_events(true);
    let id = paid(
        &server,
        &client,
        "PS-PARTNER-1",
        10_000,
        true,
        Some(SUB_MCHID),
    )
    .await;
    add_receiver(&client, "MERCHANT_ID", SHOP, Some(SUB_MCHID)).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, Some(SUB_MCHID)).await;
    share(
        &client,
        &id,
        "PT-A",
        json!([
            receiver("MERCHANT_ID", SHOP, 1000),
            receiver("PERSONAL_OPENID", USER, 1000)
        ]),
        Some(SUB_MCHID),
    )
    .await
    .unwrap();
    // The control names the partner's request with ?sub_mchid=.
    let (status, body) = common::flows::control(
        &server,
        &format!("profitsharing/orders/PT-A/receivers/{USER}/close?sub_mchid={SUB_MCHID}"),
        Some(json!({"fail_reason": "RECEIVER_HIGH_RISK"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let user = &body["receivers"][1];
    assert_eq!(
        (user["result"].as_str(), user["fail_reason"].as_str()),
        (Some("CLOSED"), Some("RECEIVER_HIGH_RISK"))
    );
    // close without a fail_reason, or with one not of the enum: refused, nothing changes.
    let (status, _) = common::flows::control(
        &server,
        &format!("profitsharing/orders/PT-A/receivers/{SHOP}/close?sub_mchid={SUB_MCHID}"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = common::flows::control(
        &server,
        "profitsharing/orders/PT-A/receivers/1900000111/succeed",
        None,
    )
    .await;
    assert_eq!(
        status, 404,
        "without ?sub_mchid= the partner's request is not found"
    );
    server
        .succeed_profit_sharing("PT-A", SHOP, Some(SUB_MCHID))
        .unwrap();
    let (status, _) = common::flows::control(
        &server,
        &format!("profitsharing/orders/PT-A/receivers/{SHOP}/succeed?sub_mchid={SUB_MCHID}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "a receiver ends once");
    let queried: Value = client["v3/profitsharing/orders/{out_order_no}"]
        .get(json!({"out_order_no": "PT-A", "query": {"transaction_id": id, "sub_mchid": SUB_MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["state"], "FINISHED");
    assert_eq!(queried["sub_mchid"], SUB_MCHID);

    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope["event_type"], "PROFITSHARING.SUCCESS");
    assert_eq!(got[0].envelope["summary"], "分账");
    // Partner: sp_mchid + sub_mchid in place of mchid.
    assert_eq!(
        keys(&got[0].resource),
        set(&[
            "sp_mchid",
            "sub_mchid",
            "transaction_id",
            "order_id",
            "out_order_no",
            "receiver",
            "success_time"
        ])
    );
    assert_eq!(
        (
            got[0].resource["sp_mchid"].as_str(),
            got[0].resource["sub_mchid"].as_str()
        ),
        (Some(MCHID), Some(SUB_MCHID))
    );
    client["v3/profitsharing/return-orders"]
        .post(json!({"json": {"sub_mchid": SUB_MCHID, "out_order_no": "PT-A", "out_return_no": "PT-R1",
                              "return_mchid": SHOP, "amount": 10, "description": "用户退款"}}))
        .await
        .unwrap();
    let got = sink.wait_for(2).await;
    assert_eq!(got[1].envelope["event_type"], "PROFITSHARING.RETURN");
    assert_eq!(got[1].envelope["summary"], "分账回退");
}

#[tokio::test]
async fn careless_and_hostile_input_is_refused_plainly() {
    let (server, client) = setup().await;
    let id = paid(&server, &client, "PS-HOSTILE-1", 10_000, true, None).await;
    add_receiver(&client, "PERSONAL_OPENID", USER, None).await;
    // 51 receivers: at most 50 per request.
    let many: Vec<Value> = (0..51)
        .map(|i| receiver("PERSONAL_OPENID", &format!("o{i}"), 1))
        .collect();
    let err = share(&client, &id, "HOSTILE-A", json!(many), None)
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "PARAM_ERROR");
    // GO: 400 PARAM_ERROR 订单号格式不正确.
    let err = share_one(&client, &id, "../../x y", "PERSONAL_OPENID", USER, 1)
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (400, "PARAM_ERROR".into(), "订单号格式不正确".into())
    );
    let err = client["v3/profitsharing/orders"]
        .post(
            json!({"json": {"transaction_id": id, "out_order_no": "HOSTILE-B",
                              "receivers": [receiver("PERSONAL_OPENID", USER, 1)]}}),
        )
        .await
        .unwrap_err();
    let (status, code, message) = refusal(err);
    assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"));
    assert!(message.contains("/unfreeze_unsplit"), "{message}");
    // The control with dot-segments and encoded slashes names nothing.
    for path in [
        "profitsharing/orders/..%2F..%2Ftransactions/receivers/x/succeed",
        "profitsharing/orders/HOSTILE-A/receivers/%2e%2e/succeed",
        "profitsharing/orders/HOSTILE-A/receivers/x/explode",
    ] {
        let (status, _) = common::flows::control(&server, path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    // A notification URL must not drive the mock's own controls.
    let own = format!("{}_mock/faults", server.base_url());
    assert!(server.set_profit_sharing_notify_url(Some(&own)).is_err());
    assert!(server
        .set_profit_sharing_notify_url(Some("ftp://example.com/n"))
        .is_err());
    let (status, _) = common::flows::control(
        &server,
        "profitsharing/max-ratio",
        Some(json!({"max_ratio": -1})),
    )
    .await;
    assert_eq!(status, 404, "max-ratio is PUT, not POST");
}

#[tokio::test]
async fn the_console_shows_each_receiver_and_its_buttons_end_it() {
    let (server, client) = setup().await;
    let id = paid(
        &server,
        &client,
        "PS-CONSOLE-1",
        10_000,
        true,
        Some(SUB_MCHID),
    )
    .await;
    add_receiver(&client, "PERSONAL_OPENID", USER, Some(SUB_MCHID)).await;
    share(
        &client,
        &id,
        "CONSOLE-A",
        json!([receiver("PERSONAL_OPENID", USER, 300)]),
        Some(SUB_MCHID),
    )
    .await
    .unwrap();
    let page = reqwest::get(format!("{}_mock/?lang=en", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<section id="profitsharing""#),
        "no profit-sharing table"
    );
    let close = format!(
        "/_mock/profitsharing/orders/CONSOLE-A/receivers/{USER}/close?sub_mchid={SUB_MCHID}&amp;fail_reason=RECEIVER_HIGH_RISK"
    );
    assert!(page.contains(&close), "no close button: {page}");
    // The button is a form posting nothing else.
    let posted = reqwest::Client::new()
        .post(format!(
            "{}{}",
            server.base_url(),
            close.replace("&amp;", "&").trim_start_matches('/')
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200);
    let listed = server.profit_sharing_orders();
    assert_eq!(
        listed[0]["receivers"][0]["fail_reason"],
        "RECEIVER_HIGH_RISK"
    );
}

#[tokio::test]
async fn the_merchant_platform_settings_are_mock_settings() {
    let server = MockServer::start().await.unwrap();
    let url = format!("{}_mock/settings", server.base_url());
    let get = || async {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let put = |body: Value| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .put(url)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let before = get().await;
    assert_eq!(before["profitsharing_notify_url"], Value::Null);
    assert_eq!(before["profitsharing_event_type"], "observed");
    assert_eq!(before["profitsharing_wait_s"], 60, "WeChat Pay's minute");
    // One bad key: 400, and nothing changes, the good keys neither.
    let status =
        put(json!({"profitsharing_wait_s": 0, "profitsharing_event_type": "guessed"})).await;
    assert_eq!(status, 400);
    assert_eq!(get().await, before);
    let status = put(
        json!({"profitsharing_wait_s": 0, "profitsharing_event_type": "documented",
                            "profitsharing_notify_url": "http://127.0.0.1:9/ps"}),
    )
    .await;
    assert_eq!(status, 200);
    let after = get().await;
    assert_eq!(
        (
            after["profitsharing_wait_s"].as_i64(),
            after["profitsharing_event_type"].as_str(),
            after["profitsharing_notify_url"].as_str()
        ),
        (Some(0), Some("documented"), Some("http://127.0.0.1:9/ps"))
    );
    assert_eq!(put(json!({"profitsharing_notify_url": null})).await, 200);
    assert_eq!(get().await["profitsharing_notify_url"], Value::Null);
}

#[tokio::test]
async fn thirty_days_after_payment_the_rest_unfreezes_when_the_clock_gets_there() {
    let (server, client) = setup().await;
    let id = paid(&server, &client, "PS-MONTH-1", 10_000, true, None).await;
    add_receiver(&client, "MERCHANT_ID", SHOP, None).await;
    share_one(&client, &id, "PS-MONTH-S1", "MERCHANT_ID", SHOP, 2_000)
        .await
        .unwrap();
    // A second order paid with sharing and one without: only the first
    // unfreezes by itself (FLOWS §4.2: its funds stay frozen until unfreeze).
    let plain = paid(&server, &client, "PS-MONTH-2", 5_000, false, None).await;
    let day = Duration::from_secs(86_400);
    let moved = server.advance_clock(29 * day).await.unwrap();
    assert!(
        !moved.iter().any(|m| m["event"] == "profitsharing.unfrozen"),
        "{moved:?}"
    );
    assert_eq!(unsplit(&client, &id).await, splittable(10_000) - 2_000);

    // FLOWS §4.2: "must finish within 30 days, after which the funds
    // unfreeze automatically" — the walk says so when it passes the day.
    let moved = server.advance_clock(day).await.unwrap();
    let unfrozen: Vec<&Value> = moved
        .iter()
        .filter(|m| m["event"] == "profitsharing.unfrozen")
        .collect();
    assert_eq!(unfrozen.len(), 1, "{moved:?}");
    assert_eq!(unfrozen[0]["transaction_id"], id.as_str());
    assert_ne!(unfrozen[0]["transaction_id"], plain.as_str());
    assert_eq!(unfrozen[0]["unfrozen_amount"], splittable(10_000) - 2_000);
    assert_eq!(unsplit(&client, &id).await, 0);
    // SK 分账接入指南 (FLOWS §4.4): "已解冻的订单不支持继续分账".
    let refused = share_one(&client, &id, "PS-MONTH-S2", "MERCHANT_ID", SHOP, 100)
        .await
        .unwrap_err();
    assert_eq!(refusal(refused).2, "已解冻的订单不支持继续分账");
    // Moving on does not unfreeze it twice.
    let later = server.advance_clock(day).await.unwrap();
    assert!(
        !later.iter().any(|m| m["event"] == "profitsharing.unfrozen"),
        "{later:?}"
    );
}
