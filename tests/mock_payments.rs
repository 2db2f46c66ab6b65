//! The mock's payments, refunds and their notifications, checked against
//! what WeChat Pay does (FLOWS.md §1–§3): the field sets of real NOTPAY and
//! SUCCESS answers, the error codes and messages of real answers, the id
//! formats seen in real data, and the notification envelope as documented,
//! decrypted with plain OpenSSL. Each expectation is written out here from
//! FLOWS.md, not taken from the mock's code.

mod common;

use common::flows::{control, jsapi_order, keys, refusal, set, setup, APPID, MCHID};

use std::time::Duration;

use common::sink::NotifySink;
use serde_json::{json, Value};
use wechatpay_chain::mock::{Credentials, RefundOutcome};
use wechatpay_chain::Error;

const SUB_MCHID: &str = "1900000110";

async fn get_json(url: String) -> Value {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_jsapi_order_is_created_paid_notified_and_queried_as_wechat_pay_answers() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let no = "1217752501201407033233368018";

    let created: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order(no, &sink.url, 1)}))
        .await
        .unwrap()
        .json()
        .unwrap();
    // `wx` + 34 hex digits, as wx201120027891195e80fa6ccea7f9090001.
    let prepay_id = created["prepay_id"].as_str().unwrap();
    assert_eq!(keys(&created), set(&["prepay_id"]));
    assert_eq!(prepay_id.len(), 36, "{prepay_id}");
    assert!(prepay_id.starts_with("wx") && prepay_id[2..].bytes().all(|b| b.is_ascii_hexdigit()));

    // NOTPAY: the captured answer's fields, no transaction_id/payer/success_time.
    let unpaid: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": no, "query": {"mchid": MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        keys(&unpaid),
        set(&[
            "amount",
            "appid",
            "mchid",
            "out_trade_no",
            "promotion_detail",
            "scene_info",
            "trade_state",
            "trade_state_desc"
        ])
    );
    assert_eq!(
        unpaid["amount"],
        json!({"payer_currency": "CNY", "total": 1})
    );
    assert_eq!(
        (
            unpaid["trade_state"].as_str(),
            unpaid["trade_state_desc"].as_str()
        ),
        (Some("NOTPAY"), Some("订单未支付"))
    );

    // The user pays (the control, over HTTP): TRANSACTION.SUCCESS arrives.
    let (status, _) = control(&server, &format!("transactions/{no}/pay"), None).await;
    assert_eq!(status, 200);
    let got = sink.wait_for(1).await;
    let envelope = &got[0].envelope;
    assert_eq!(
        keys(envelope),
        set(&[
            "id",
            "create_time",
            "event_type",
            "resource_type",
            "summary",
            "resource"
        ])
    );
    assert_eq!(envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(envelope["resource_type"], "encrypt-resource");
    assert_eq!(envelope["summary"], "支付成功");
    assert!(envelope["id"].as_str().unwrap().starts_with("EV-"));
    assert_eq!(envelope["resource"]["original_type"], "transaction");
    assert_eq!(envelope["resource"]["associated_data"], "transaction");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(got[0].verified.as_ref().unwrap(), &got[0].resource);

    // SUCCESS: the captured answer's fields.
    let paid = &got[0].resource;
    assert_eq!(
        keys(paid),
        set(&[
            "amount",
            "appid",
            "attach",
            "bank_type",
            "mchid",
            "out_trade_no",
            "payer",
            "promotion_detail",
            "success_time",
            "trade_state",
            "trade_state_desc",
            "trade_type",
            "transaction_id"
        ])
    );
    assert_eq!(
        paid["amount"],
        json!({"currency": "CNY", "payer_currency": "CNY", "payer_total": 1, "total": 1})
    );
    assert_eq!(
        paid["payer"],
        json!({"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
    );
    assert_eq!(
        (
            paid["trade_state"].as_str(),
            paid["trade_state_desc"].as_str()
        ),
        (Some("SUCCESS"), Some("支付成功"))
    );
    assert_eq!(paid["trade_type"], "JSAPI");
    // 28 digits starting 42, as 4200001460202207148197935963.
    let transaction_id = paid["transaction_id"].as_str().unwrap();
    assert!(
        transaction_id.len() == 28 && transaction_id.starts_with("42"),
        "{transaction_id}"
    );
    assert!(transaction_id.bytes().all(|b| b.is_ascii_digit()));
    let success_time = paid["success_time"].as_str().unwrap();
    assert!(
        success_time.ends_with("+08:00") && success_time.len() == 25,
        "{success_time}"
    );

    // Both queries answer the same Transaction the notification carried.
    for (template, options) in [
        (
            "v3/pay/transactions/id/{transaction_id}",
            json!({"transaction_id": transaction_id, "query": {"mchid": MCHID}}),
        ),
        (
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
            json!({"out_trade_no": no, "query": {"mchid": MCHID}}),
        ),
    ] {
        let queried: Value = client[template].get(options).await.unwrap().json().unwrap();
        assert_eq!(&queried, paid, "{template}");
    }
    // A paid order cannot be closed (refund it instead), nor paid again.
    let err = client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
        .post(json!({"out_trade_no": no, "json": {"mchid": MCHID}}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "ORDER_PAID");
    let (status, body) = control(&server, &format!("transactions/{no}/pay"), None).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("already paid"),
        "{body}"
    );
    assert_eq!(server.notifications().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn unknown_orders_are_404_order_not_exist() {
    let (_server, client) = setup().await;
    for (template, options) in [
        (
            "v3/pay/transactions/id/{transaction_id}",
            json!({"transaction_id": "4200001460202207148197935963", "query": {"mchid": MCHID}}),
        ),
        (
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
            json!({"out_trade_no": "NO-SUCH-ORDER", "query": {"mchid": MCHID}}),
        ),
    ] {
        let err = client[template].get(options).await.unwrap_err();
        assert_eq!(
            refusal(err),
            (404, "ORDER_NOT_EXIST".into(), "订单不存在".into()),
            "{template}"
        );
    }
    let err = client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
        .post(json!({"out_trade_no": "NO-SUCH-ORDER", "json": {"mchid": MCHID}}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "ORDER_NOT_EXIST");
}

#[tokio::test]
async fn required_fields_are_refused_with_param_error_naming_the_field() {
    let (_server, client) = setup().await;
    let full = jsapi_order("REQUIRED-1", "https://127.0.0.1:9/n", 1);
    for (remove, field) in [
        ("appid", "/appid"),
        ("mchid", "/mchid"),
        ("description", "/description"),
        ("out_trade_no", "/out_trade_no"),
        ("notify_url", "/notify_url"),
        ("amount", "/amount"),
        ("payer", "/payer/openid"),
    ] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(remove);
        let err = client["v3/pay/transactions/jsapi"]
            .post(json!({"json": body}))
            .await
            .unwrap_err();
        let Error::Api(api) = err else {
            panic!("{remove}")
        };
        assert_eq!(
            (api.status, api.code.as_str()),
            (400, "PARAM_ERROR"),
            "{remove}"
        );
        assert!(api.message.contains(field), "{remove}: {}", api.message);
    }
    // total is at least 1 fen
    let mut zero = full.clone();
    zero["amount"]["total"] = json!(0);
    let err = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": zero}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "PARAM_ERROR");
    // H5 needs scene_info.payer_client_ip and h5_info.type
    let mut h5 = full.clone();
    h5.as_object_mut().unwrap().remove("payer");
    let err = client["v3/pay/transactions/h5"]
        .post(json!({"json": h5.clone()}))
        .await
        .unwrap_err();
    assert!(refusal(err).2.contains("/scene_info/payer_client_ip"));
    h5["scene_info"] = json!({"payer_client_ip": "14.23.150.211"});
    let err = client["v3/pay/transactions/h5"]
        .post(json!({"json": h5}))
        .await
        .unwrap_err();
    assert!(refusal(err).2.contains("/scene_info/h5_info/type"));
}

#[tokio::test]
async fn re_entry_gives_a_fresh_prepay_id_and_refuses_changed_parameters() {
    let (_server, client) = setup().await;
    let body = jsapi_order("REENTRY-1", "https://127.0.0.1:9/n", 100);
    let first: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": body.clone()}))
        .await
        .unwrap()
        .json()
        .unwrap();
    let again: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": body.clone()}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_ne!(first["prepay_id"], again["prepay_id"]);
    let mut changed = body;
    changed["amount"]["total"] = json!(101);
    let err = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": changed}))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (400, "PARAM_ERROR".into(), "订单重入参数校验失败".into())
    );
}

#[tokio::test]
async fn native_h5_and_app_answer_their_own_shapes() {
    let (_server, client) = setup().await;
    let mut body = jsapi_order("SHAPES-NATIVE", "https://127.0.0.1:9/n", 1);
    body.as_object_mut().unwrap().remove("payer");
    let native: Value = client["v3/pay/transactions/native"]
        .post(json!({"json": body.clone()}))
        .await
        .unwrap()
        .json()
        .unwrap();
    let code_url = native["code_url"].as_str().unwrap();
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl/up?pr=")
            && code_url.ends_with("&groupid=00"),
        "{code_url}"
    );
    assert_eq!(keys(&native), set(&["code_url"]));

    body["out_trade_no"] = json!("SHAPES-APP");
    let app: Value = client["v3/pay/transactions/app"]
        .post(json!({"json": body.clone()}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(keys(&app), set(&["prepay_id"]));

    body["out_trade_no"] = json!("SHAPES-H5");
    body["scene_info"] = json!({"payer_client_ip": "14.23.150.211", "h5_info": {"type": "Wap"}});
    let h5: Value = client["v3/pay/transactions/h5"]
        .post(json!({"json": body}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(keys(&h5), set(&["h5_url"]));
    assert!(h5["h5_url"].as_str().unwrap().starts_with("http"));
}

#[tokio::test]
async fn close_is_204_and_repeatable_and_a_closed_order_cannot_be_paid() {
    let (server, client) = setup().await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("CLOSE-1", "https://127.0.0.1:9/n", 1)}))
        .await
        .unwrap();
    for _ in 0..2 {
        let closed = client["v3/pay/transactions/out-trade-no/{out_trade_no}/close"]
            .post(json!({"out_trade_no": "CLOSE-1", "json": {"mchid": MCHID}}))
            .await
            .unwrap();
        assert_eq!(closed.status(), 204);
    }
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "CLOSE-1", "query": {"mchid": MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (
            order["trade_state"].as_str(),
            order["trade_state_desc"].as_str()
        ),
        (Some("CLOSED"), Some("订单已关闭"))
    );
    let err = server.pay_transaction("CLOSE-1", None).unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("closed"), "{err}");

    // expiry: NOTPAY → CLOSED without a close call
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("EXPIRE-1", "https://127.0.0.1:9/n", 1)}))
        .await
        .unwrap();
    assert_eq!(
        server.expire_transaction("EXPIRE-1", None).unwrap()["trade_state"],
        "CLOSED"
    );
    assert_eq!(
        server
            .expire_transaction("EXPIRE-1", None)
            .unwrap_err()
            .status(),
        Some(409)
    );
    // a failed attempt leaves an order payable
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("FAIL-1", "https://127.0.0.1:9/n", 1)}))
        .await
        .unwrap();
    assert_eq!(
        server.fail_transaction("FAIL-1", None).unwrap()["trade_state"],
        "NOTPAY"
    );
    assert_eq!(
        server.pay_transaction("FAIL-1", None).unwrap()["trade_state"],
        "SUCCESS"
    );
}

#[tokio::test]
async fn partner_orders_are_kept_per_sub_merchant() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let body = json!({"sp_appid": APPID, "sp_mchid": MCHID, "sub_mchid": SUB_MCHID, "description": "d",
        "out_trade_no": "PARTNER-1", "notify_url": sink.url, "amount": {"total": 88},
        "payer": {"sp_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}});
    client["v3/pay/partner/transactions/jsapi"]
        .post(json!({"json": body.clone()}))
        .await
        .unwrap();
    let mut no_sub = body.clone();
    no_sub.as_object_mut().unwrap().remove("sub_mchid");
    let err = client["v3/pay/partner/transactions/jsapi"]
        .post(json!({"json": no_sub}))
        .await
        .unwrap_err();
    assert!(refusal(err).2.contains("/sub_mchid"));

    // the direct merchant has no such order; the sub-merchant has
    let err = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "PARTNER-1", "query": {"mchid": MCHID}}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "ORDER_NOT_EXIST");
    assert_eq!(
        server
            .pay_transaction("PARTNER-1", None)
            .unwrap_err()
            .status(),
        Some(404)
    );
    server
        .pay_transaction("PARTNER-1", Some(SUB_MCHID))
        .unwrap();
    let got = sink.wait_for(1).await;
    let paid = &got[0].resource;
    for field in [
        "sp_appid",
        "sp_mchid",
        "sub_mchid",
        "transaction_id",
        "payer",
    ] {
        assert!(paid.get(field).is_some(), "{field} in {paid}");
    }
    assert!(
        paid.get("mchid").is_none() && paid.get("appid").is_none(),
        "{paid}"
    );
    assert_eq!(
        paid["payer"],
        json!({"sp_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
    );
    let queried: Value = client["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "PARTNER-1", "query": {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID}}))
        .await.unwrap().json().unwrap();
    assert_eq!(&queried, paid);
    let by_id: Value = client["v3/pay/partner/transactions/id/{transaction_id}"]
        .get(json!({"transaction_id": paid["transaction_id"], "query": {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID}}))
        .await.unwrap().json().unwrap();
    assert_eq!(&by_id, paid);

    // a partner refund names the sub-merchant
    let refund: Value = client["v3/refund/domestic/refunds"]
        .post(json!({"json": {"sub_mchid": SUB_MCHID, "out_trade_no": "PARTNER-1", "out_refund_no": "PR-1",
            "notify_url": sink.url, "amount": {"refund": 88, "total": 88, "currency": "CNY"}}}))
        .await.unwrap().json().unwrap();
    assert_eq!(refund["status"], "PROCESSING");
    let err = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({"out_refund_no": "PR-1"}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).2, "退款单不存在");
    server
        .resolve_refund("PR-1", Some(SUB_MCHID), RefundOutcome::Success)
        .unwrap();
    let got = sink.wait_for(2).await;
    assert_eq!(got[1].resource["sp_mchid"], MCHID);
    assert_eq!(got[1].resource["sub_mchid"], SUB_MCHID);
    assert_eq!(got[1].resource["refund_status"], "SUCCESS");
}

#[tokio::test]
async fn refunds_follow_wechat_pay_rules_and_notify_every_outcome() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let refund = |out_refund_no: &str, amount: i64, total: i64| {
        json!({"json": {"out_trade_no": "REFUND-ORDER-1", "out_refund_no": out_refund_no, "reason": "商品已售完",
            "notify_url": sink.url, "amount": {"refund": amount, "total": total, "currency": "CNY"}}})
    };
    // an unpaid order cannot be refunded: 404 RESOURCE_NOT_EXISTS 订单不存在
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("REFUND-ORDER-1", &sink.url, 100)}))
        .await
        .unwrap();
    let err = client["v3/refund/domestic/refunds"]
        .post(refund("R-1", 30, 100))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (404, "RESOURCE_NOT_EXISTS".into(), "订单不存在".into())
    );
    let paid = server.pay_transaction("REFUND-ORDER-1", None).unwrap();

    let first: Value = client["v3/refund/domestic/refunds"]
        .post(refund("R-1", 30, 100))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(first["status"], "PROCESSING");
    assert_eq!(first["transaction_id"], paid["transaction_id"]);
    assert_eq!(first["amount"]["refund"], 30);
    // 29 digits starting 50
    let refund_id = first["refund_id"].as_str().unwrap();
    assert!(
        refund_id.len() == 29 && refund_id.starts_with("50"),
        "{refund_id}"
    );
    // the same out_refund_no with the same amounts is the same refund …
    let again: Value = client["v3/refund/domestic/refunds"]
        .post(refund("R-1", 30, 100))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(again["refund_id"], first["refund_id"]);
    // … with other amounts, refused
    let err = client["v3/refund/domestic/refunds"]
        .post(refund("R-1", 40, 100))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (
            400,
            "INVALID_REQUEST".into(),
            "订单金额或退款金额与之前请求不一致，请核实后再试".into()
        )
    );
    // the sum never exceeds what was paid
    let err = client["v3/refund/domestic/refunds"]
        .post(refund("R-2", 71, 100))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (
            400,
            "INVALID_REQUEST".into(),
            "申请退款金额超过订单可退金额".into()
        )
    );
    // the order is now REFUND
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "REFUND-ORDER-1", "query": {"mchid": MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["trade_state"], "REFUND");
    // an unknown order
    let err = client["v3/refund/domestic/refunds"]
        .post(json!({"json": {"out_trade_no": "NO-SUCH-ORDER", "out_refund_no": "R-9", "amount": {"refund": 1, "total": 1, "currency": "CNY"}}}))
        .await.unwrap_err();
    assert_eq!(
        refusal(err),
        (404, "RESOURCE_NOT_EXISTS".into(), "订单不存在".into())
    );
    let err = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({"out_refund_no": "R-404"}))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (404, "RESOURCE_NOT_EXISTS".into(), "退款单不存在".into())
    );

    // SUCCESS: REFUND.SUCCESS, the resource with refund_status (not status)
    server
        .resolve_refund("R-1", None, RefundOutcome::Success)
        .unwrap();
    let got = sink.wait_for(2).await;
    let note = &got[1];
    assert_eq!(note.envelope["event_type"], "REFUND.SUCCESS");
    assert_eq!(note.envelope["summary"], "退款成功");
    assert_eq!(note.envelope["resource"]["original_type"], "refund");
    assert_eq!(note.verified.as_ref().unwrap(), &note.resource);
    for field in [
        "mchid",
        "out_trade_no",
        "transaction_id",
        "out_refund_no",
        "refund_id",
        "refund_status",
        "success_time",
        "user_received_account",
        "amount",
    ] {
        assert!(
            note.resource.get(field).is_some(),
            "{field} in {}",
            note.resource
        );
    }
    assert!(note.resource.get("status").is_none());
    assert_eq!(note.resource["refund_status"], "SUCCESS");
    assert_eq!(note.resource["amount"]["refund"], 30);
    let queried: Value = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({"out_refund_no": "R-1"}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["status"], "SUCCESS");
    assert!(queried["success_time"].is_string());
    // a resolved refund cannot be resolved again; nothing is sent
    assert_eq!(
        server
            .resolve_refund("R-1", None, RefundOutcome::Closed)
            .unwrap_err()
            .status(),
        Some(409)
    );

    // ABNORMAL, then apply-abnormal-refund puts it back to PROCESSING
    let second: Value = client["v3/refund/domestic/refunds"]
        .post(refund("R-2", 50, 100))
        .await
        .unwrap()
        .json()
        .unwrap();
    server
        .resolve_refund("R-2", None, RefundOutcome::Abnormal)
        .unwrap();
    let applied: Value = client["v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund"]
        .post(json!({"refund_id": second["refund_id"], "json": {"out_refund_no": "R-2", "type": "MERCHANT_BANK_CARD"}}))
        .await.unwrap().json().unwrap();
    assert_eq!(applied["status"], "PROCESSING");
    // CLOSED gives the amount back: 70 are refundable again
    server
        .resolve_refund("R-2", None, RefundOutcome::Closed)
        .unwrap();
    let got = sink.wait_for(4).await;
    let events: Vec<&str> = got
        .iter()
        .map(|r| r.envelope["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "TRANSACTION.SUCCESS",
            "REFUND.SUCCESS",
            "REFUND.ABNORMAL",
            "REFUND.CLOSED"
        ]
    );
    assert_eq!(got[3].resource["refund_status"], "CLOSED");
    client["v3/refund/domestic/refunds"]
        .post(refund("R-3", 70, 100))
        .await
        .unwrap();
    let err = client["v3/refund/domestic/refunds"]
        .post(refund("R-4", 1, 100))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (400, "INVALID_REQUEST".into(), "订单已全额退款".into())
    );
}

#[tokio::test]
async fn an_unanswered_notification_is_retried_and_every_answer_is_kept() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[500, 503]).await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("RETRY-1", &sink.url, 1)}))
        .await
        .unwrap();
    server.pay_transaction("RETRY-1", None).unwrap();
    let log = server.wait_for_deliveries(1, Duration::from_secs(10)).await;
    assert_eq!(sink.received().len(), 3);
    let delivery = &log[0];
    assert!(delivery.delivered);
    assert_eq!(delivery.attempts, 3);
    let statuses: Vec<Option<u16>> = delivery.answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(204)]);
    assert!(delivery.answers[0].answer.contains("FAIL"));
    // the same log over HTTP
    let listed: Value = get_json(format!("{}_mock/notifications", server.base_url())).await;
    assert_eq!(listed["data"][0]["answers"][1]["status"], 503);
    // and a resend goes out again
    let (status, _) = control(
        &server,
        &format!("notifications/{}/resend", delivery.seq),
        None,
    )
    .await;
    assert_eq!(status, 204);
    sink.wait_for(4).await;
    let (status, _) = control(&server, "notifications/999999/resend", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_retry_schedule_is_wechat_pays_sped_up() {
    // 15 s, 15 s, 30 s … at 1/100: the third attempt comes ≥ 300 ms after the first.
    let (server, client) = setup().await;
    server.set_notification_speedup(100);
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[500, 500]).await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("SCHEDULE-1", &sink.url, 1)}))
        .await
        .unwrap();
    let start = std::time::Instant::now();
    server.pay_transaction("SCHEDULE-1", None).unwrap();
    sink.wait_for(3).await;
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        wechatpay_chain::mock::RETRY_SCHEDULE.iter().sum::<u64>(),
        24 * 3600 + 4 * 60
    );
    assert_eq!(wechatpay_chain::mock::MAX_ATTEMPTS, 16);
}

#[tokio::test]
async fn controls_refuse_unknown_orders_and_forbidden_actions_changing_nothing() {
    let (server, client) = setup().await;
    let (status, body) = control(&server, "transactions/NOPE/pay", None).await;
    assert_eq!(status, 404);
    assert!(body["message"].as_str().unwrap().contains("NOPE"), "{body}");
    let (status, body) = control(&server, "refunds/NOPE/succeed", None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = control(&server, "transactions/NOPE/dance", None).await;
    assert_eq!(status, 404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("pay, fail, expire"),
        "{body}"
    );
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("CONTROL-1", "https://127.0.0.1:9/n", 1)}))
        .await
        .unwrap();
    let (status, _) = control(
        &server,
        "transactions/CONTROL-1/pay",
        Some(json!({"unknown": 1})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(server.transactions()[0]["trade_state"], "NOTPAY");
    let (status, _) = control(
        &server,
        "transactions/CONTROL-1/pay",
        Some(json!({"openid": "oOTHER"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(server.transactions()[0]["payer"]["openid"], "oOTHER");
}

#[tokio::test]
async fn refunds_can_resolve_by_themselves() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("AUTO-1", &sink.url, 10)}))
        .await
        .unwrap();
    server.pay_transaction("AUTO-1", None).unwrap();
    server.auto_resolve_refunds(Some(Duration::from_millis(50)));
    client["v3/refund/domestic/refunds"]
        .post(json!({"json": {"out_trade_no": "AUTO-1", "out_refund_no": "AUTO-R1", "notify_url": sink.url,
            "amount": {"refund": 10, "total": 10, "currency": "CNY"}}}))
        .await.unwrap();
    let got = sink.wait_for(2).await;
    assert_eq!(got[1].envelope["event_type"], "REFUND.SUCCESS");
    let settings: Value = get_json(format!("{}_mock/settings", server.base_url())).await;
    assert_eq!(settings["refund_auto_resolve_ms"], 50);
    let answer = reqwest::Client::new()
        .put(format!("{}_mock/settings", server.base_url()))
        .body(json!({"refund_auto_resolve_ms": null, "typo": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}
