//! The typed answers (`models`): what the mock sends over real HTTP parses
//! into them, answers recorded from WeChat Pay (FLOWS.md §1.4, §2) parse
//! too, and a field or state WeChat Pay adds later never fails a parse.
//! Also `prepay_jsapi`: order and front-end parameters in one call, the
//! parameters checked by the mock as the WeChat client checks them.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{json, Value};
use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::mock::{MockServer, RefundOutcome};
use wechatpay_chain::models::{
    FundsAccount, Refund, RefundChannel, RefundStatus, TradeBillRow, TradeState, TradeType,
    Transaction,
};
use wechatpay_chain::Client;

use common::flows::{jsapi_order, APPID, MCHID, OPENID};

/// What a merchant's endpoint made of each notification, typed.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, Value)>>>);

/// A merchant's notification endpoint: verifies with the SDK, reads the
/// resource as the type its event names.
async fn endpoint(client: Client, seen: Seen) -> String {
    async fn receive(
        State((client, seen)): State<(Client, Seen)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::http::StatusCode {
        let Ok(event) = client.notification(&headers, &body) else {
            return axum::http::StatusCode::UNAUTHORIZED;
        };
        let typed = if event.event_type.starts_with("TRANSACTION.") {
            event
                .resource::<Transaction>()
                .map(|t| serde_json::to_value(t).unwrap())
        } else {
            event
                .resource::<Refund>()
                .map(|r| serde_json::to_value(r).unwrap())
        };
        match typed {
            Ok(value) => {
                seen.0.lock().unwrap().push((event.event_type, value));
                axum::http::StatusCode::NO_CONTENT
            }
            Err(_) => axum::http::StatusCode::BAD_REQUEST,
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state((client, seen));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn wait_for(seen: &Seen, count: usize) -> Vec<(String, Value)> {
    for _ in 0..200 {
        let now = seen.0.lock().unwrap().clone();
        if now.len() >= count {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "fewer than {count} notifications: {:?}",
        seen.0.lock().unwrap()
    );
}

/// Order (with its front-end parameters, in one call), pay with them,
/// notification, query, refund, refund notification, bill: each answer as
/// its type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_answers_and_notifications_parse_typed() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let seen = Seen::default();
    let notify_url = endpoint(client.clone(), seen.clone()).await;

    let prepay = client
        .prepay_jsapi(&jsapi_order("MODELS0001", &notify_url, 1999))
        .await
        .unwrap();
    assert!(prepay.prepay_id.starts_with("wx"), "{}", prepay.prepay_id);
    assert_eq!(prepay.params.app_id, APPID);
    assert_eq!(
        prepay.params.package,
        format!("prepay_id={}", prepay.prepay_id)
    );

    let query = json!({"out_trade_no": "MODELS0001", "query": {"mchid": MCHID}});
    let node = &client["v3/pay/transactions/out-trade-no/{out_trade_no}"];
    let unpaid: Transaction = node.get(query.clone()).await.unwrap().json().unwrap();
    assert_eq!(unpaid.trade_state, Some(TradeState::NotPay));
    assert_eq!(unpaid.out_trade_no.as_deref(), Some("MODELS0001"));
    assert_eq!(
        unpaid.transaction_id, None,
        "FLOWS.md §1.4: no transaction_id until paid"
    );

    // The user pays with exactly what the merchant's server handed over.
    let invocation = serde_json::to_value(&prepay.params).unwrap();
    server
        .pay_transaction_with("MODELS0001", None, &invocation)
        .unwrap();
    let seen_now = wait_for(&seen, 1).await;
    assert_eq!(seen_now[0].0, "TRANSACTION.SUCCESS");
    let notified: Transaction = serde_json::from_value(seen_now[0].1.clone()).unwrap();
    assert_eq!(notified.trade_state, Some(TradeState::Success));
    assert_eq!(notified.trade_type, Some(TradeType::Jsapi));
    assert_eq!(
        notified.payer.as_ref().and_then(|p| p.openid.as_deref()),
        Some(OPENID)
    );
    assert_eq!(notified.amount.as_ref().and_then(|a| a.total), Some(1999));

    let paid: Transaction = node.get(query).await.unwrap().json().unwrap();
    assert_eq!(paid.trade_state, Some(TradeState::Success));
    assert_eq!(paid.transaction_id, notified.transaction_id);
    assert!(paid.success_time.is_some());

    let refund: Refund = client["v3/refund/domestic/refunds"]
        .post(json!({"json": {"out_trade_no": "MODELS0001", "out_refund_no": "MODELS-R1",
                              "notify_url": notify_url, "amount": {"refund": 500, "total": 1999, "currency": "CNY"}}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(refund.state(), Some(&RefundStatus::Processing));
    assert_eq!(refund.amount.as_ref().and_then(|a| a.refund), Some(500));
    server
        .resolve_refund("MODELS-R1", None, RefundOutcome::Success)
        .unwrap();
    let seen_now = wait_for(&seen, 2).await;
    assert_eq!(seen_now[1].0, "REFUND.SUCCESS");
    let notified: Refund = serde_json::from_value(seen_now[1].1.clone()).unwrap();
    assert_eq!(
        notified.refund_status,
        Some(RefundStatus::Success),
        "FLOWS.md §2: refund_status"
    );
    assert_eq!(notified.state(), Some(&RefundStatus::Success));
    let queried: Refund = client["v3/refund/domestic/refunds/{out_refund_no}"]
        .get(json!({"out_refund_no": "MODELS-R1"}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried.status, Some(RefundStatus::Success));
    assert_eq!(queried.refund_id, notified.refund_id);

    // The day's trade bill, rows typed.
    let day = &paid.success_time.as_deref().unwrap()[..10];
    let bill: BillInfo = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": day, "bill_type": "ALL"}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    let mut csv = Vec::new();
    client
        .download_bill(&bill, Compression::None, &mut csv)
        .await
        .unwrap();
    let rows: Vec<TradeBillRow> = BillTable::parse(std::str::from_utf8(&csv).unwrap())
        .unwrap()
        .rows_as()
        .unwrap();
    assert_eq!(rows.len(), 2);
    let payment = rows
        .iter()
        .find(|r| r.trade_state == Some(TradeState::Success))
        .unwrap();
    let refunded = rows
        .iter()
        .find(|r| r.trade_state == Some(TradeState::Refund))
        .unwrap();
    assert_eq!(payment.out_trade_no.as_deref(), Some("MODELS0001"));
    assert_eq!(payment.total.as_ref().unwrap().fen().unwrap(), 1999);
    assert_eq!(refunded.refund_amount.as_ref().unwrap().fen().unwrap(), 500);
    assert_eq!(refunded.out_refund_no.as_deref(), Some("MODELS-R1"));
    assert!(
        payment.extra.is_empty(),
        "every real column is named: {:?}",
        payment.extra
    );
}

/// The captured SUCCESS answer of FLOWS.md §1.4, typed from there, plus a
/// field and a state WeChat Pay may add one day: both kept, nothing fails.
#[test]
fn a_recorded_transaction_with_new_fields_and_states_parses() {
    let recorded = r#"{"amount":{"currency":"CNY","payer_currency":"CNY","payer_total":1,"total":1},"appid":"wxd678efh567hg6787",
        "attach":"","bank_type":"BOC_CREDIT","mchid":"1900000109","out_trade_no":"1217752501201407033233368018","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"promotion_detail":[],
        "success_time":"2022-07-14T15:34:45+08:00","trade_state":"SUCCESS","trade_state_desc":"支付成功",
        "trade_type":"JSAPI","transaction_id":"4200001460202207148197935963"}"#;
    let tx: Transaction = serde_json::from_str(recorded).unwrap();
    assert_eq!(tx.trade_state, Some(TradeState::Success));
    assert_eq!(
        tx.transaction_id.as_deref(),
        Some("4200001460202207148197935963")
    );
    assert_eq!(tx.bank_type.as_deref(), Some("BOC_CREDIT"));
    assert_eq!(tx.amount.as_ref().unwrap().payer_total, Some(1));
    assert!(tx.extra.is_empty());

    let mut later: Value = serde_json::from_str(recorded).unwrap();
    later["trade_state"] = json!("PARTIALLY_SETTLED");
    later["trade_type"] = json!("BRAND_NEW_PAY");
    later["settle_time"] = json!("2031-01-01T00:00:00+08:00");
    later["amount"]["fx_rate"] = json!({"rate": "7.1", "base": "USD"});
    later["payer"]["union_id"] = json!("oUnion");
    let tx: Transaction = serde_json::from_value(later.clone()).unwrap();
    assert_eq!(
        tx.trade_state,
        Some(TradeState::Other("PARTIALLY_SETTLED".into()))
    );
    assert_eq!(
        tx.trade_type,
        Some(TradeType::Other("BRAND_NEW_PAY".into()))
    );
    assert_eq!(tx.extra["settle_time"], "2031-01-01T00:00:00+08:00");
    assert_eq!(tx.amount.as_ref().unwrap().extra["fx_rate"]["base"], "USD");
    assert_eq!(tx.payer.as_ref().unwrap().extra["union_id"], "oUnion");
    // Nothing lost on the way back.
    assert_eq!(serde_json::to_value(&tx).unwrap(), later);

    // The captured NOTPAY answer: most fields absent (FLOWS.md §1.4).
    let notpay: Transaction = serde_json::from_str(
        r#"{"amount":{"payer_currency":"CNY","total":1},"appid":"wxd678efh567hg6787","mchid":"1900000109","out_trade_no":"T1",
            "promotion_detail":[],"scene_info":{"device_id":""},"trade_state":"NOTPAY","trade_state_desc":"订单未支付"}"#,
    )
    .unwrap();
    assert_eq!(notpay.trade_state, Some(TradeState::NotPay));
    assert_eq!((notpay.payer, notpay.success_time), (None, None));
}

/// A refund answer and a partner refund notification's resource, with
/// the fields FLOWS.md §2 names, plus new ones.
#[test]
fn a_recorded_refund_with_new_fields_and_states_parses() {
    let answer: Refund = serde_json::from_value(json!({
        "refund_id": "50000000382019052709732678859", "out_refund_no": "1217752501201407033233368018",
        "transaction_id": "1217752501201407033233368018", "out_trade_no": "1217752501201407033233368018",
        "channel": "ORIGINAL", "user_received_account": "招商银行信用卡0403",
        "create_time": "2020-12-01T16:18:12+08:00", "status": "PROCESSING", "funds_account": "UNSETTLED",
        "amount": {"total": 100, "refund": 100, "from": [], "payer_total": 90, "payer_refund": 90,
                   "settlement_refund": 100, "settlement_total": 100, "discount_refund": 10,
                   "currency": "CNY", "refund_fee": 1},
        "promotion_detail": []
    }))
    .unwrap();
    assert_eq!(answer.status, Some(RefundStatus::Processing));
    assert_eq!(answer.channel, Some(RefundChannel::Original));
    assert_eq!(answer.funds_account, Some(FundsAccount::Unsettled));
    assert_eq!(answer.amount.as_ref().unwrap().discount_refund, Some(10));
    assert_eq!(answer.amount.as_ref().unwrap().refund_fee, Some(1));

    let notified: Refund = serde_json::from_value(json!({
        "sp_mchid": "1900000100", "sub_mchid": "1900000109", "out_trade_no": "T1",
        "transaction_id": "4200000000000000000000000000", "out_refund_no": "R1",
        "refund_id": "50000000000000000000000000000", "refund_status": "REFUND_TO_WALLET_LATER",
        "success_time": "2018-06-08T10:34:56+08:00", "channel": "TO_SOMEWHERE_NEW",
        "amount": {"total": 999, "refund": 999, "payer_total": 999, "payer_refund": 999}
    }))
    .unwrap();
    assert_eq!(
        notified.state(),
        Some(&RefundStatus::Other("REFUND_TO_WALLET_LATER".into()))
    );
    assert_eq!(
        notified.channel,
        Some(RefundChannel::Other("TO_SOMEWHERE_NEW".into()))
    );
    assert_eq!(notified.sub_mchid.as_deref(), Some("1900000109"));
}

/// A value of the wrong type is still an error that says what it got (a
/// typed model cannot guess): `Value` is the way for such an answer.
#[test]
fn a_wrong_type_is_named() {
    let err = serde_json::from_str::<Transaction>(r#"{"amount": {"total": "1"}}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid type: string \"1\", expected i64"),
        "{err}"
    );
}

/// The blocking client: order and front-end parameters in one call, the
/// parameters accepted by the mock's check of the WeChat client.
#[test]
fn blocking_prepay_jsapi() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start()).unwrap();
    let client = server.client_builder().build_blocking().unwrap();
    let prepay = client
        .prepay_jsapi(&jsapi_order("MODELS0002", "http://127.0.0.1:9/notify", 1))
        .unwrap();
    let invocation = serde_json::to_value(&prepay.params).unwrap();
    assert_eq!(invocation["signType"], "RSA");
    let paid = server
        .pay_transaction_with("MODELS0002", None, &invocation)
        .unwrap();
    assert_eq!(paid["trade_state"], "SUCCESS");

    // An order that names no appid is refused before anything is sent.
    let mut order = jsapi_order("MODELS0003", "http://127.0.0.1:9/notify", 1);
    order.as_object_mut().unwrap().remove("appid");
    let err = client.prepay_jsapi(&order).unwrap_err();
    assert!(
        err.to_string().contains("the order names no appid"),
        "{err}"
    );
    assert_eq!(server.transactions().len(), 1);
    drop(client);
    runtime.block_on(server.shutdown());
}
