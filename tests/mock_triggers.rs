//! Failures on demand: each row of the mock's trigger table, reached through
//! an ordinary client, gives the answer WeChat Pay gives in that failure.
//! The expected bodies are typed from their sources, not read from the
//! mock: `500 SYSTEM_ERROR` (FLOWS.md §1.5), `429 FREQUENCY_LIMITED`
//! (PROTOCOL.md Errors), `NOT_ENOUGH "基本账户余额不足，请充值后重新发起"`
//! (FLOWS.md §2, a quoted real answer; 403 as FLOWS.md infers), a failed
//! payment leaves the order NOTPAY "订单未支付" (FLOWS.md §1.3, §1.4's
//! captured NOTPAY answer), a refund ends ABNORMAL with `REFUND.ABNORMAL`
//! (FLOWS.md §2), "同样的通知可能会多次发送给商户系统" (WeChat Pay's
//! payment notification page), and a transfer that ends FAIL with the
//! `fail_reason` its number names, the amount given back and
//! `MCHTRANSFER.BILL.FINISHED` saying so (FLOWS.md §8.2, §8.3).

mod common;

use std::time::Duration;

use common::flows::{control, jsapi_order, setup};
use common::sink::NotifySink;
use serde_json::{json, Value};
use wechatpay_chain::mock::{Credentials, Fault, MockServer};
use wechatpay_chain::{Client, Error, Options};

fn api_error(result: wechatpay_chain::Result<wechatpay_chain::Response>) -> (u16, String, String) {
    match result {
        Err(Error::Api(api)) => (api.status, api.code.clone(), api.message.clone()),
        other => panic!("expected WeChat Pay's error, got {other:?}"),
    }
}

async fn paid(server: &MockServer, client: &Client, no: &str, url: &str) {
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order(no, url, 100)}))
        .await
        .unwrap();
    server.pay_transaction(no, None).unwrap();
}

fn refund(no: &str, refund_no: &str, url: &str) -> Value {
    json!({"json": {"out_trade_no": no, "out_refund_no": refund_no, "notify_url": url,
        "amount": {"refund": 100, "total": 100, "currency": "CNY"}}})
}

#[tokio::test]
async fn system_error_once_then_the_same_request_succeeds() {
    let (_server, client) = setup().await;
    let body = jsapi_order("T-SYSERR-1", "https://127.0.0.1:9/n", 100);
    let first = client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": body }))
        .await;
    assert_eq!(
        api_error(first),
        (500, "SYSTEM_ERROR".into(), "系统错误".into())
    );
    // The merchant retries with the same number: it goes through.
    let again: Value = client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": body }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(again["prepay_id"].as_str().unwrap().starts_with("wx"));
    // The SDK's own retry, for a request marked idempotent, gets there alone.
    let body = jsapi_order("T-SYSERR-2", "https://127.0.0.1:9/n", 100);
    let answer: Value = client["v3/pay/transactions/jsapi"]
        .post(Options::new().json(&body).idempotent())
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(answer["prepay_id"].is_string());
}

#[tokio::test]
async fn frequency_limited_once_then_the_retry_succeeds() {
    let (server, client) = setup().await;
    let body = json!({"appid": "wxd678efh567hg6787", "mchid": Credentials::get().mchid,
        "description": "d", "out_trade_no": "T-FREQLIM-1", "notify_url": "https://127.0.0.1:9/n",
        "amount": {"total": 1}});
    let first = client["v3/pay/transactions/native"]
        .post(json!({ "json": body }))
        .await;
    assert_eq!(
        api_error(first),
        (429, "FREQUENCY_LIMITED".into(), "频率超限".into())
    );
    let logged = server.requests();
    assert_eq!(logged.last().unwrap().status, 429);
    let again = client["v3/pay/transactions/native"]
        .post(json!({ "json": body }))
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn not_enough_refuses_the_refund_every_time() {
    let (server, client) = setup().await;
    paid(&server, &client, "T-NE-1", "https://127.0.0.1:9/n").await;
    for _ in 0..2 {
        let refused = client["v3/refund/domestic/refunds"]
            .post(refund("T-NE-1", "R-NOTENOUGH-1", "https://127.0.0.1:9/n"))
            .await;
        assert_eq!(
            api_error(refused),
            (
                403,
                "NOT_ENOUGH".into(),
                "基本账户余额不足，请充值后重新发起".into()
            )
        );
    }
    assert!(server.refunds().is_empty(), "nothing was accepted");
}

#[tokio::test]
async fn a_marked_payment_fails_and_the_order_stays_notpay() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("T-PAYFAIL-1", &sink.url, 100)}))
        .await
        .unwrap();
    let (status, _) = control(&server, "transactions/T-PAYFAIL-1/pay", None).await;
    assert_eq!(status, 200);
    let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "T-PAYFAIL-1", "query": {"mchid": Credentials::get().mchid}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["trade_state"], "NOTPAY");
    assert_eq!(order["trade_state_desc"], "订单未支付");
    assert!(order.get("transaction_id").is_none());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.received().is_empty(), "no TRANSACTION.SUCCESS");
}

#[tokio::test]
async fn a_marked_refund_ends_abnormal_with_its_notification() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    paid(&server, &client, "T-AB-1", &sink.url).await;
    let accepted: Value = client["v3/refund/domestic/refunds"]
        .post(refund("T-AB-1", "R-ABNORMAL-1", &sink.url))
        .await
        .unwrap()
        .json()
        .unwrap();
    // The answer to create only says it was accepted (FLOWS.md §2).
    assert_eq!(accepted["status"], "PROCESSING");
    let got = sink.wait_for(2).await;
    assert_eq!(got[1].envelope["event_type"], "REFUND.ABNORMAL");
    assert_eq!(got[1].resource["refund_status"], "ABNORMAL");
    let queried: Value = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({"out_refund_no": "R-ABNORMAL-1"}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["status"], "ABNORMAL");
}

#[tokio::test]
async fn a_marked_notification_is_delivered_twice() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    paid(&server, &client, "T-TWICE-1", &sink.url).await;
    let got = sink.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].envelope["id"], got[1].envelope["id"],
        "the same notification"
    );
    assert_eq!(got[1].envelope["event_type"], "TRANSACTION.SUCCESS");
    assert!(got.iter().all(|r| r.verified.is_ok()), "{got:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.received().len(), 2, "twice, not more");
    assert!(server.notifications()[0].delivered);
}

#[tokio::test]
async fn a_path_rule_answers_a_named_wechat_error_before_the_flow() {
    let (server, client) = setup().await;
    // Over HTTP: the next refund create answers what the rule names.
    let (status, answer) = control(
        &server,
        "faults",
        Some(
            json!({"fault": "error", "status": 403, "code": "NOT_ENOUGH",
                    "message": "基本账户余额不足，请充值后重新发起",
                    "path": "v3/refund/domestic/refunds", "count": 1}),
        ),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    paid(&server, &client, "T-PATH-1", "https://127.0.0.1:9/n").await;
    let refused = client["v3/refund/domestic/refunds"]
        .post(refund("T-PATH-1", "R-PATH-1", "https://127.0.0.1:9/n"))
        .await;
    assert_eq!(
        api_error(refused),
        (
            403,
            "NOT_ENOUGH".into(),
            "基本账户余额不足，请充值后重新发起".into()
        )
    );
    assert!(server.refunds().is_empty(), "refused before the flow ran");
    assert!(client["v3/refund/domestic/refunds"]
        .post(refund("T-PATH-1", "R-PATH-1", "https://127.0.0.1:9/n"))
        .await
        .is_ok());
    // A path as sent, through the library.
    server
        .inject_for_path(
            "v3/pay/transactions/out-trade-no/T-PATH-1",
            Fault::Status(500),
            2,
        )
        .unwrap();
    // Without the SDK's retries of a GET, to see each answer.
    let once = server
        .client_builder()
        .retry(wechatpay_chain::retry::RetryPolicy::never())
        .build()
        .unwrap();
    let query = || {
        once["v3/pay/transactions/out-trade-no/{out_trade_no}"].get(
            Options::new()
                .path("out_trade_no", "T-PATH-1")
                .query("mchid", Credentials::get().mchid),
        )
    };
    assert_eq!(api_error(query().await).1, "SYSTEM_ERROR");
    assert_eq!(api_error(query().await).0, 500);
    assert!(query().await.is_ok(), "two, then the rule is spent");
    // Bad rules are refused, saying why.
    for (rule, field) in [
        (
            json!({"fault": "delay", "delay_ms": 5, "path": "v3/x"}),
            "/path",
        ),
        (
            json!({"fault": "error", "status": 403, "code": "not enough", "message": "x"}),
            "/fault",
        ),
        (
            json!({"fault": "error", "status": 403, "code": "X", "message": "x", "path": "v3/x?y=1"}),
            "/path",
        ),
    ] {
        let (status, answer) = control(&server, "faults", Some(rule.clone())).await;
        assert_eq!(status, 400, "{rule}: {answer}");
        assert_eq!(answer["detail"]["field"], field, "{rule}: {answer}");
    }
}

#[tokio::test]
async fn the_table_is_listed_with_sources() {
    let (server, _client) = setup().await;
    let bytes = reqwest::get(format!("{}_mock/triggers", server.base_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let table: Value = serde_json::from_slice(&bytes).unwrap();
    let names: Vec<&str> = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    for name in [
        "SYSTEM_ERROR",
        "FREQUENCY_LIMITED",
        "NOT_ENOUGH",
        "PAYERROR",
        "REFUND.ABNORMAL",
        "DUPLICATE_NOTIFICATION",
        "MCHTRANSFER.BILL.FINISHED FAIL",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(table["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|row| !row["source"].as_str().unwrap().is_empty()));
    // The console names every row too.
    let console = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in names {
        assert!(console.contains(name), "{name} on the console");
    }
}

/// A transfer bill as OA `transfer-bills.yaml` names its fields.
fn transfer_bill(no: &str, amount: i64, url: &str) -> Value {
    json!({"appid": "wxf636efh567hg4356", "out_bill_no": no, "transfer_scene_id": "1000",
           "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": amount,
           "transfer_remark": "新会员开通有礼", "notify_url": url,
           "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                           {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}]})
}

#[tokio::test]
async fn a_marked_transfer_fails_at_the_confirm_with_the_reason_it_names() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let start = server.transfer_balance();
    // (out_bill_no, the fail_reason it names: DOC 4013774966 via FLOWS.md
    // §8.2, typed here; how the payee confirms)
    let cases = [
        ("T1FAILNAMENOTCORRECT", "NAME_NOT_CORRECT", "control"),
        ("T2FAILACCOUNTFROZEN", "ACCOUNT_FROZEN", "MockServer"),
        // 34 letters: cut by the 32-character end of the number.
        (
            "FAILBLOCKB2CUSERLIMITAMOUNTBSRUL",
            "BLOCK_B2C_USERLIMITAMOUNT_BSRULE_MONTH",
            "confirm page",
        ),
    ];
    for (i, (no, reason, how)) in cases.iter().enumerate() {
        let created: Value = client["v3/fund-app/mch-transfer/transfer-bills"]
            .post(json!({ "json": transfer_bill(no, 30, &sink.url) }))
            .await
            .unwrap()
            .json()
            .unwrap();
        // Created as any bill (FLOWS.md §8.2): the marker acts at the confirm.
        assert_eq!(created["state"], "WAIT_USER_CONFIRM", "{no}");
        assert!(created.get("fail_reason").is_none(), "{created}");
        assert_eq!(server.transfer_balance(), start - 30, "{no}");
        let confirmed = match *how {
            "control" => {
                let (status, bill) =
                    control(&server, &format!("transfer-bills/{no}/confirm"), None).await;
                assert_eq!(status, 200, "{bill}");
                bill
            }
            "MockServer" => server.confirm_transfer(no, None).unwrap(),
            _ => {
                let params = client
                    .invocation()
                    .merchant_transfer_from_answer("wxf636efh567hg4356", &created)
                    .unwrap();
                let ask = json!({"api": "requestMerchantTransfer", "user": "confirms",
                                 "params": serde_json::to_value(&params).unwrap()});
                let (status, answer) = control(&server, "invocations", Some(ask)).await;
                assert_eq!(status, 200, "{answer}");
                answer["bill"].clone()
            }
        };
        assert_eq!(
            (
                confirmed["state"].as_str(),
                confirmed["fail_reason"].as_str()
            ),
            (Some("FAIL"), Some(*reason)),
            "{how}: {confirmed}"
        );
        // The query answers FAIL and the reason (FLOWS.md §8.1 fields).
        let queried = common::flows::transfer_bill_query(&client, no).await;
        assert_eq!(queried["state"], "FAIL");
        assert_eq!(queried["fail_reason"], *reason);
        // FAIL gives the amount back (FLOWS.md §8.2: refunded and closed).
        assert_eq!(server.transfer_balance(), start, "{no}");
        // MCHTRANSFER.BILL.FINISHED, decrypted: state FAIL and the reason
        // (FLOWS.md §8.3).
        let got = sink.wait_for(i + 1).await;
        let last = &got[i];
        assert_eq!(last.envelope["event_type"], "MCHTRANSFER.BILL.FINISHED");
        assert_eq!(last.envelope["summary"], "商家转账单据终态通知");
        assert_eq!(last.resource["out_bill_no"], *no);
        assert_eq!(last.resource["state"], "FAIL");
        assert_eq!(last.resource["fail_reason"], *reason);
        assert_eq!(last.resource["transfer_amount"], 30);
        assert_eq!(last.verified.as_ref().unwrap(), &last.resource);
    }
    // FAIL followed by no known reason is an ordinary number: SUCCESS,
    // no fail_reason, the amount paid out.
    for no in ["T3FAILNAMENOTCORECT", "FAIL1"] {
        client["v3/fund-app/mch-transfer/transfer-bills"]
            .post(json!({ "json": transfer_bill(no, 30, &sink.url) }))
            .await
            .unwrap();
        let bill = server.confirm_transfer(no, None).unwrap();
        assert_eq!(bill["state"], "SUCCESS", "{no}: {bill}");
        assert!(bill.get("fail_reason").is_none(), "{bill}");
    }
    assert_eq!(server.transfer_balance(), start - 60);
    // The marker acts on the confirm only: a marked bill left unconfirmed
    // for its 24 h ends as any other, not with the marked reason.
    client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(json!({ "json": transfer_bill("T4FAILNAMENOTCORRECT", 30, &sink.url) }))
        .await
        .unwrap();
    let bill = server
        .expire_transfer("T4FAILNAMENOTCORRECT", None)
        .unwrap();
    assert_eq!(bill["state"], "FAIL");
    assert_ne!(bill["fail_reason"], "NAME_NOT_CORRECT", "{bill}");
}
