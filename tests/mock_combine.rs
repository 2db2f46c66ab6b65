//! The mock's combine payments (合单支付), checked against what WeChat Pay
//! does (FLOWS.md §4.1 and §4.3, with their sources: OA = the OpenAPI
//! description `docs/v3/combine-transactions/*.yaml`, SK = WeChat Pay's own
//! 合单支付常见问题.md): the field sets of the query answer and of the
//! notification, the sub-order limits, the appid and re-entry rules, the
//! close that must list exactly the original sub-orders, refunds per
//! sub-order and never by `combine_out_trade_no`, the normal query's
//! `ORDER_NOT_EXIST`, and each sub-order a row of the trade bill. Every
//! expectation is typed here from FLOWS.md, not read back from the mock.

mod common;

use common::flows::{control, jsapi_order, keys, refusal, set, setup, APPID, MCHID, OPENID};

use common::sink::NotifySink;
use serde_json::{json, Value};
use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::mock::{Credentials, RefundOutcome};
use wechatpay_chain::{Client, Error};

const SUB_MCHID: &str = "1900000110";

/// A sub-order as OA `jsapi.yaml` names its fields (`attach` is required).
fn sub(no: &str, total: i64) -> Value {
    json!({"mchid": MCHID, "attach": "深圳分店", "out_trade_no": no,
           "description": "腾讯充值中心-QQ会员充值", "amount": {"total_amount": total, "currency": "CNY"}})
}

/// A direct merchant's JSAPI combine order (OA jsapi.yaml required fields).
fn combine(no: &str, notify_url: &str, subs: Vec<Value>) -> Value {
    json!({"combine_appid": APPID, "combine_mchid": MCHID, "combine_out_trade_no": no,
           "scene_info": {"device_id": "POS1:1", "payer_client_ip": "14.17.22.32"},
           "sub_orders": subs, "combine_payer_info": {"openid": OPENID}, "notify_url": notify_url})
}

async fn create(client: &Client, kind: &str, body: &Value) -> Result<Value, Error> {
    client
        .chain(&format!("v3/combine-transactions/{kind}"))
        .post(json!({ "json": body }))
        .await?
        .json()
}

async fn query(client: &Client, no: &str) -> Result<Value, Error> {
    client["v3/combine-transactions/out-trade-no/{combine_out_trade_no}"]
        .get(json!({ "combine_out_trade_no": no }))
        .await?
        .json()
}

async fn close(client: &Client, no: &str, body: Value) -> Result<u16, Error> {
    Ok(
        client["v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close"]
            .post(json!({ "combine_out_trade_no": no, "json": body }))
            .await?
            .status(),
    )
}

async fn refund(client: &Client, body: Value) -> Result<Value, Error> {
    client["v3/refund/domestic/refunds"]
        .post(json!({ "json": body }))
        .await?
        .json()
}

/// The trade bill `query` names, downloaded and parsed.
async fn trade_bill(client: &Client, query: Value) -> BillTable {
    let info: BillInfo = client["v3/bill/tradebill"]
        .get(json!({ "query": query }))
        .await
        .unwrap()
        .json()
        .unwrap();
    let mut csv = Vec::new();
    client
        .download_bill(&info, Compression::None, &mut csv)
        .await
        .unwrap();
    BillTable::parse(&String::from_utf8(csv).unwrap()).unwrap()
}

#[tokio::test]
async fn a_combine_order_is_paid_at_once_notified_with_every_sub_order_and_refunded_per_sub_order()
{
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let no = "P20150806125346";
    let body = combine(
        no,
        &sink.url,
        vec![sub("SUB0000001", 100), sub("SUB0000002", 250)],
    );

    let created = create(&client, "jsapi", &body).await.unwrap();
    assert_eq!(keys(&created), set(&["prepay_id"]));

    // Unpaid: every sub-order NOTPAY (OA out-trade-no/{…}.yaml), no transaction yet.
    let unpaid = query(&client, no).await.unwrap();
    assert_eq!(unpaid["combine_appid"], APPID);
    assert_eq!(unpaid["combine_mchid"], MCHID);
    assert_eq!(unpaid["combine_out_trade_no"], no);
    assert_eq!(unpaid["sub_orders"].as_array().unwrap().len(), 2);
    // No combine_transaction_id before payment: it is found by combine_out_trade_no only.
    assert!(unpaid.get("combine_transaction_id").is_none(), "{unpaid}");
    for s in unpaid["sub_orders"].as_array().unwrap() {
        assert_eq!(s["trade_state"], "NOTPAY");
        assert!(s.get("transaction_id").is_none(), "{s}");
    }

    // SK 合单支付常见问题 四#1: the normal query answers ORDER_NOT_EXIST for a
    // combine order, by its sub-order's number or by the combine number.
    for number in ["SUB0000001", no] {
        let err = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": number, "query": {"mchid": MCHID}}))
            .await
            .unwrap_err();
        assert_eq!(
            refusal(err),
            (404, "ORDER_NOT_EXIST".into(), "订单不存在".into()),
            "{number}"
        );
    }

    server.pay_combine_transaction(no).unwrap();
    let got = sink.wait_for(1).await;
    // SK 七#1: one notification for the whole order, with every sub-order.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(sink.received().len(), 1);
    let notice = &got[0];
    assert_eq!(notice.envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(notice.envelope["resource"]["original_type"], "transaction");
    assert_eq!(notice.verified.as_ref().unwrap(), &notice.resource);
    let resource = &notice.resource;
    // FLOWS.md §4.3 (SK 合单支付成功回调通知说明.md): the decrypted resource.
    assert_eq!(
        keys(resource),
        set(&[
            "combine_appid",
            "combine_mchid",
            "combine_out_trade_no",
            "scene_info",
            "sub_orders",
            "combine_payer_info"
        ])
    );
    // combine_mchid tells it apart from a normal payment (JSORG).
    assert_eq!(resource["combine_mchid"], MCHID);
    assert_eq!(resource["scene_info"], json!({"device_id": "POS1:1"}));
    assert_eq!(resource["combine_payer_info"], json!({ "openid": OPENID }));
    let subs = resource["sub_orders"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    for (s, (number, total)) in subs.iter().zip([("SUB0000001", 100), ("SUB0000002", 250)]) {
        assert_eq!(
            keys(s),
            set(&[
                "mchid",
                "trade_type",
                "trade_state",
                "bank_type",
                "attach",
                "amount",
                "success_time",
                "transaction_id",
                "out_trade_no"
            ])
        );
        assert_eq!(
            s["amount"],
            json!({"total_amount": total, "currency": "CNY", "payer_amount": total, "payer_currency": "CNY"})
        );
        assert_eq!(s["out_trade_no"], number);
        assert_eq!(s["mchid"], MCHID);
        assert_eq!(s["trade_state"], "SUCCESS");
        assert_eq!(s["trade_type"], "JSAPI");
        assert_eq!(s["attach"], "深圳分店");
        // 28 digits, 42000… (FLOWS.md §1.4).
        let id = s["transaction_id"].as_str().unwrap();
        assert!(id.len() == 28 && id.starts_with("4200"), "{id}");
    }

    // Query by out-trade-no and by id: combine_transaction_id once paid (OA).
    let paid = query(&client, no).await.unwrap();
    // FLOWS.md §4.1 (SK UnionQueryByOutTradeNo.go) and §4.3 (OA: combine_transaction_id).
    assert_eq!(
        keys(&paid),
        set(&[
            "combine_appid",
            "combine_mchid",
            "combine_out_trade_no",
            "combine_transaction_id",
            "scene_info",
            "sub_orders",
            "combine_payer_info"
        ])
    );
    for s in paid["sub_orders"].as_array().unwrap() {
        // §4.1's sub-order fields of a direct merchant (no sub_mchid/sub_appid/sub_openid).
        assert_eq!(
            keys(s),
            set(&[
                "mchid",
                "out_trade_no",
                "transaction_id",
                "trade_type",
                "trade_state",
                "bank_type",
                "attach",
                "success_time",
                "amount",
                "promotion_detail"
            ])
        );
        assert_eq!(
            keys(&s["amount"]),
            set(&["total_amount", "payer_amount", "currency", "payer_currency"])
        );
    }
    let id = paid["combine_transaction_id"].as_str().unwrap().to_owned();
    let by_id: Value = client["v3/combine-transactions/id/{combine_transaction_id}"]
        .get(json!({ "combine_transaction_id": id }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_id, paid);
    for s in paid["sub_orders"].as_array().unwrap() {
        assert_eq!(s["trade_state"], "SUCCESS");
    }

    // SK 五#1: never by combine_out_trade_no. It names no payment order, and a
    // refund of an unknown order is 404 RESOURCE_NOT_EXISTS 订单不存在 (FLOWS.md §2).
    let err = refund(
        &client,
        json!({"out_trade_no": no, "out_refund_no": "RCOMBINE01",
               "amount": {"refund": 350, "total": 350, "currency": "CNY"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refusal(err),
        (404, "RESOURCE_NOT_EXISTS".into(), "订单不存在".into())
    );

    // Per sub-order: the first by its out_trade_no, the second by its transaction_id.
    let first = refund(
        &client,
        json!({"out_trade_no": "SUB0000001", "out_refund_no": "RSUB0000001",
               "amount": {"refund": 100, "total": 100, "currency": "CNY"}}),
    )
    .await
    .unwrap();
    assert_eq!(first["status"], "PROCESSING");
    server
        .resolve_refund("RSUB0000001", None, RefundOutcome::Success)
        .unwrap();
    let after = query(&client, no).await.unwrap();
    let states: Vec<&str> = after["sub_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["trade_state"].as_str().unwrap())
        .collect();
    // Each sub-order has its own trade_state (FLOWS.md §4.1).
    assert_eq!(states, ["REFUND", "SUCCESS"]);
    let second_id = after["sub_orders"][1]["transaction_id"].clone();
    let second = refund(
        &client,
        json!({"transaction_id": second_id, "out_refund_no": "RSUB0000002",
               "amount": {"refund": 50, "total": 250, "currency": "CNY"}}),
    )
    .await
    .unwrap();
    assert_eq!(second["out_trade_no"], "SUB0000002");

    // SK 六#1: in the trade bill each sub-order is a row of its own.
    let day = &resource["sub_orders"][0]["success_time"].as_str().unwrap()[..10];
    let table = trade_bill(&client, json!({ "bill_date": day })).await;
    let column = |name: &str| table.columns.iter().position(|c| c == name).unwrap();
    let (order, state) = (column("商户订单号"), column("交易状态"));
    let mut rows: Vec<(String, String)> = table
        .rows
        .iter()
        .map(|r| (r[order].clone(), r[state].clone()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("SUB0000001".to_owned(), "REFUND".to_owned()),
            ("SUB0000001".to_owned(), "SUCCESS".to_owned()),
            // A PROCESSING refund is a row too (its 退款状态 says so, FLOWS.md §5).
            ("SUB0000002".to_owned(), "REFUND".to_owned()),
            ("SUB0000002".to_owned(), "SUCCESS".to_owned()),
        ]
    );
}

#[tokio::test]
async fn sub_order_limits_and_required_fields_are_wechat_pays() {
    let (_server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    let subs = |n: usize| (0..n).map(|i| sub(&format!("LIMIT{i:05}"), 1)).collect();
    // SK 二#3: a direct merchant sends 2–10 sub-orders.
    for n in [1, 11] {
        let err = create(
            &client,
            "native",
            &combine(&format!("LIMITS{n:03}"), url, subs(n)),
        )
        .await
        .unwrap_err();
        let (status, code, _) = refusal(err);
        assert_eq!(
            (status, code.as_str()),
            (400, "PARAM_ERROR"),
            "{n} sub-orders"
        );
    }
    create(&client, "native", &combine("LIMITS010", url, subs(10)))
        .await
        .unwrap();
    // A partner (sub_mchid on its sub-orders) sends 1–50.
    let partner = |n: usize, start: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                let mut s = sub(&format!("PART{:06}", start + i), 1);
                s["sub_mchid"] = json!(SUB_MCHID);
                s
            })
            .collect()
    };
    create(
        &client,
        "native",
        &combine("PARTNER001", url, partner(1, 0)),
    )
    .await
    .unwrap();
    let err = create(
        &client,
        "native",
        &combine("PARTNER051", url, partner(51, 100)),
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(err).1, "PARAM_ERROR");

    // OA: attach is required per sub-order, as are description and amount.
    for field in ["attach", "description", "amount", "out_trade_no", "mchid"] {
        let mut body = combine("REQUIRED01", url, subs(2));
        body["sub_orders"][1].as_object_mut().unwrap().remove(field);
        let err = create(&client, "native", &body).await.unwrap_err();
        let Error::Api(api) = err else { panic!() };
        assert_eq!(
            (api.status, api.code.as_str()),
            (400, "PARAM_ERROR"),
            "{field}"
        );
        let body = String::from_utf8_lossy(&api.body);
        assert!(body.contains(&format!("/sub_orders/1/{field}")), "{body}");
    }
    // OA: combine_payer_info is required for JSAPI; H5 needs scene_info.h5_info.type.
    let mut jsapi = combine("REQUIRED02", url, subs(2));
    jsapi.as_object_mut().unwrap().remove("combine_payer_info");
    assert_eq!(
        refusal(create(&client, "jsapi", &jsapi).await.unwrap_err()).1,
        "PARAM_ERROR"
    );
    let h5 = combine("REQUIRED03", url, subs(2));
    let Error::Api(api) = create(&client, "h5", &h5).await.unwrap_err() else {
        panic!()
    };
    let body = String::from_utf8_lossy(&api.body);
    assert!(body.contains("/scene_info/h5_info/type"), "{body}");
}

#[tokio::test]
async fn the_appid_rules_refuse_with_wechat_pays_words() {
    let (_server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    // SK 二#1: every sub-order's merchant binds combine_appid.
    let mut other = sub("APPID00002", 1);
    other["mchid"] = json!("1230000109");
    let err = create(
        &client,
        "app",
        &combine("APPIDS0001", url, vec![sub("APPID00001", 1), other]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refusal(err),
        (
            400,
            "INVALID_REQUEST".into(),
            "appid和mch_id不匹配，请检查后再试".into()
        )
    );
    // SK 二#2: a sub-order's appid must be combine_appid.
    let mut stray = sub("APPID00004", 1);
    stray["appid"] = json!("wx0000000000000000");
    let err = create(
        &client,
        "app",
        &combine("APPIDS0002", url, vec![sub("APPID00003", 1), stray]),
    )
    .await
    .unwrap_err();
    assert_eq!(refusal(err).2, "子单appid不等于combine_appid");
}

#[tokio::test]
async fn re_entry_follows_the_rules_of_a_combine_order() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    let body = combine(
        "REENTRY001",
        url,
        vec![sub("REENTRYS01", 1), sub("REENTRYS02", 2)],
    );
    let first = create(&client, "jsapi", &body).await.unwrap();
    // FLOWS.md §1.3: the same parameters again give a fresh prepay_id.
    let again = create(&client, "jsapi", &body).await.unwrap();
    assert_ne!(first["prepay_id"], again["prepay_id"]);
    // SK 二#5: another settle_info.
    let mut settle = body.clone();
    settle["sub_orders"][0]["settle_info"] = json!({"profit_sharing": true});
    let (status, _, message) = refusal(create(&client, "jsapi", &settle).await.unwrap_err());
    assert_eq!(
        (status, message.as_str()),
        (400, "重复下单且结算信息不一致")
    );
    // FLOWS.md §1.3: any other change is the re-entry refusal.
    let mut changed = body.clone();
    changed["sub_orders"][1]["amount"]["total_amount"] = json!(3);
    assert_eq!(
        refusal(create(&client, "jsapi", &changed).await.unwrap_err()),
        (400, "PARAM_ERROR".into(), "订单重入参数校验失败".into())
    );
    // A sub-order's number is taken (FLOWS.md §1.5: 403 OUT_TRADE_NO_USED).
    let err = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("REENTRYS01", url, 1)}))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (403, "OUT_TRADE_NO_USED".into(), "商户订单号重复".into())
    );
    let reused = combine(
        "REENTRY002",
        url,
        vec![sub("REENTRYS02", 2), sub("REENTRYS03", 3)],
    );
    assert_eq!(
        refusal(create(&client, "jsapi", &reused).await.unwrap_err()).1,
        "OUT_TRADE_NO_USED"
    );
    // Paid: ORDER_PAID (FLOWS.md §1.5 / SK 排障手册 订单已支付).
    server.pay_combine_transaction("REENTRY001").unwrap();
    let (status, code, _) = refusal(create(&client, "jsapi", &body).await.unwrap_err());
    assert_eq!((status, code.as_str()), (403, "ORDER_PAID"));
}

#[tokio::test]
async fn close_must_list_exactly_the_original_sub_orders() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    let body = combine(
        "CLOSE00001",
        url,
        vec![sub("CLOSESUB01", 1), sub("CLOSESUB02", 2)],
    );
    create(&client, "native", &body).await.unwrap();
    let listed = |nos: &[&str]| {
        json!({"combine_appid": APPID,
               "sub_orders": nos.iter().map(|no| json!({"mchid": MCHID, "out_trade_no": no})).collect::<Vec<_>>()})
    };
    // SK 二#4 and 八#12: fewer (or other) sub-orders than placed: the close fails, 500.
    for wrong in [&["CLOSESUB01"][..], &["CLOSESUB01", "CLOSESUB03"]] {
        let (status, _, _) = refusal(
            close(&client, "CLOSE00001", listed(wrong))
                .await
                .unwrap_err(),
        );
        assert_eq!(status, 500, "{wrong:?}");
    }
    assert_eq!(
        query(&client, "CLOSE00001").await.unwrap()["sub_orders"][0]["trade_state"],
        "NOTPAY"
    );
    // Exactly the sub-orders: 204, every sub-order CLOSED; again 204 (关单接口可重入).
    for _ in 0..2 {
        let status = close(&client, "CLOSE00001", listed(&["CLOSESUB02", "CLOSESUB01"])).await;
        assert_eq!(status.unwrap(), 204);
    }
    for s in query(&client, "CLOSE00001").await.unwrap()["sub_orders"]
        .as_array()
        .unwrap()
    {
        assert_eq!(s["trade_state"], "CLOSED");
    }
    // A closed order cannot be paid, nor placed again (ORDER_CLOSED).
    assert!(server.pay_combine_transaction("CLOSE00001").is_err());
    assert_eq!(
        refusal(create(&client, "native", &body).await.unwrap_err()).1,
        "ORDER_CLOSED"
    );
    // Unknown combine order: ORDER_NOT_EXIST.
    let err = close(&client, "NOSUCH0001", listed(&["X1234567"]))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "ORDER_NOT_EXIST");
    // A paid one: ORDER_PAID, refund instead (SK 排障手册 §五 #5).
    let paid = combine(
        "CLOSE00002",
        url,
        vec![sub("CLOSESUB11", 1), sub("CLOSESUB12", 2)],
    );
    create(&client, "native", &paid).await.unwrap();
    server.pay_combine_transaction("CLOSE00002").unwrap();
    let err = close(&client, "CLOSE00002", listed(&["CLOSESUB11", "CLOSESUB12"]))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "ORDER_PAID");
}

#[tokio::test]
async fn the_controls_move_the_whole_combine_order_and_refuse_a_sub_order_alone() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    create(
        &client,
        "app",
        &combine(
            "CONTROL001",
            url,
            vec![sub("CONTROLS01", 1), sub("CONTROLS02", 2)],
        ),
    )
    .await
    .unwrap();
    // A sub-order is paid with its combine order only (SK 八#1: all or none).
    let (status, _) = control(&server, "transactions/CONTROLS01/pay", None).await;
    assert_eq!(status, 409);
    let (status, failed) = control(&server, "combine-transactions/CONTROL001/fail", None).await;
    assert_eq!(status, 200);
    assert_eq!(failed["sub_orders"][0]["trade_state"], "NOTPAY");
    let (status, expired) = control(&server, "combine-transactions/CONTROL001/expire", None).await;
    assert_eq!(status, 200, "{expired}");
    for s in expired["sub_orders"].as_array().unwrap() {
        assert_eq!(s["trade_state"], "CLOSED");
    }
    let (status, _) = control(&server, "combine-transactions/CONTROL001/pay", None).await;
    assert_eq!(status, 409);
    let (status, _) = control(&server, "combine-transactions/NOSUCH0001/pay", None).await;
    assert_eq!(status, 404);
    let (status, _) = control(&server, "combine-transactions/CONTROL001/refund", None).await;
    assert_eq!(status, 404);
    assert_eq!(server.combine_transactions().len(), 1);
}

#[tokio::test]
async fn the_front_end_pays_a_combine_order_with_a_normal_orders_parameters() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    let no = "FRONTEND01";
    let created = create(
        &client,
        "jsapi",
        &combine(no, url, vec![sub("FRONTS0001", 1), sub("FRONTS0002", 2)]),
    )
    .await
    .unwrap();
    let prepay_id = created["prepay_id"].as_str().unwrap();
    // FLOWS.md §6.1: the same parameters as a normal order, with combine_appid.
    let wrong = serde_json::to_value(
        client
            .invocation()
            .jsapi("wx0000000000000000", prepay_id)
            .unwrap(),
    )
    .unwrap();
    assert!(server.pay_combine_transaction_with(no, &wrong).is_err());
    let params =
        serde_json::to_value(client.invocation().jsapi(APPID, prepay_id).unwrap()).unwrap();
    // The bridge stand-in: looks, then pays.
    let ask = |user: &str| json!({"api": "getBrandWCPayRequest", "params": params, "user": user});
    let (status, looked) = control(&server, "invocations", Some(ask("looks"))).await;
    assert_eq!(status, 200, "{looked}");
    assert_eq!(looked["order"]["combine_out_trade_no"], no);
    let (status, paid) = control(&server, "invocations", Some(ask("pays"))).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["order"]["sub_orders"][1]["trade_state"], "SUCCESS");

    // FLOWS.md §4.3: a combine APP order's partnerid is combine_mchid.
    let app = create(
        &client,
        "app",
        &combine(
            "FRONTEND02",
            url,
            vec![sub("FRONTS0003", 1), sub("FRONTS0004", 2)],
        ),
    )
    .await
    .unwrap();
    let params = client
        .invocation()
        .app(APPID, app["prepay_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(params.partnerid, MCHID);
    let paid = server
        .pay_combine_transaction_with("FRONTEND02", &serde_json::to_value(params).unwrap())
        .unwrap();
    assert_eq!(paid["sub_orders"][0]["trade_type"], "APP");
}

#[tokio::test]
async fn the_cashier_pages_pay_an_h5_and_a_native_combine_order() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    let mut h5 = combine(
        "CASHIER001",
        url,
        vec![sub("CASHIERS01", 100), sub("CASHIERS02", 200)],
    );
    h5["scene_info"]["h5_info"] = json!({"type": "Wap"});
    let created = create(&client, "h5", &h5).await.unwrap();
    let page = reqwest::get(created["h5_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("¥3.00"), "the whole amount: {html}");
    assert!(
        html.contains(r#"action="/_mock/combine-transactions/CASHIER001/pay""#),
        "{html}"
    );
    // Another package than the h5_url's is not this order's page.
    let forged = created["h5_url"]
        .as_str()
        .unwrap()
        .replace("package=", "package=X");
    assert_eq!(reqwest::get(forged).await.unwrap().status(), 404);
    let (status, _) = control(&server, "combine-transactions/CASHIER001/pay", None).await;
    assert_eq!(status, 200);
    // Paid: the page offers no pay button any more.
    let html = reqwest::get(created["h5_url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(r#"id="pay""#), "{html}");

    let native = combine(
        "CASHIER002",
        url,
        vec![sub("CASHIERS03", 1), sub("CASHIERS04", 2)],
    );
    let code_url = create(&client, "native", &native).await.unwrap()["code_url"].clone();
    let page = reqwest::get(format!(
        "{}_mock/cashier/native?code_url={}",
        server.base_url(),
        url::form_urlencoded::byte_serialize(code_url.as_str().unwrap().as_bytes())
            .collect::<String>()
    ))
    .await
    .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"action="/_mock/combine-transactions/CASHIER002/pay""#),
        "{html}"
    );
    // The console lists both in its own table.
    let console = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(console.contains(r#"id="combines""#) && console.contains("CASHIER002"));
}

#[tokio::test]
async fn a_partners_combine_order_is_refunded_and_billed_per_sub_merchant() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    // FLOWS.md §4.3: a partner sends 1–50 sub-orders, each with its sub_mchid.
    let mut one = sub("PARTNERS01", 300);
    one["sub_mchid"] = json!(SUB_MCHID);
    create(&client, "native", &combine("PARTNERC01", url, vec![one]))
        .await
        .unwrap();
    let paid = server.pay_combine_transaction("PARTNERC01").unwrap();
    assert_eq!(paid["sub_orders"][0]["sub_mchid"], SUB_MCHID);
    // The sub-order is the sub-merchant's: without sub_mchid no order is found.
    let body = |sub_mchid: Option<&str>| {
        let mut body = json!({"out_trade_no": "PARTNERS01", "out_refund_no": "RPARTNER01",
                              "amount": {"refund": 300, "total": 300, "currency": "CNY"}});
        if let Some(sub) = sub_mchid {
            body["sub_mchid"] = json!(sub);
        }
        body
    };
    assert_eq!(
        refusal(refund(&client, body(None)).await.unwrap_err()).0,
        404
    );
    refund(&client, body(Some(SUB_MCHID))).await.unwrap();
    // The partner's normal query does not know it either.
    let err = client["v3/pay/partner/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "PARTNERS01", "query": {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID}}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "ORDER_NOT_EXIST");
    // The sub-merchant's trade bill has its row (FLOWS.md §5: 特约商户号 the sub-merchant).
    let day = &paid["sub_orders"][0]["success_time"].as_str().unwrap()[..10];
    let table = trade_bill(&client, json!({"bill_date": day, "sub_mchid": SUB_MCHID})).await;
    let column = |name: &str| table.columns.iter().position(|c| c == name).unwrap();
    let paid_row = table
        .rows
        .iter()
        .find(|r| r[column("交易状态")] == "SUCCESS")
        .expect("a payment row");
    assert_eq!(paid_row[column("商户订单号")], "PARTNERS01");
    assert_eq!(paid_row[column("特约商户号")], SUB_MCHID);
}

#[tokio::test]
async fn hostile_combine_requests_are_refused_and_change_nothing() {
    let (server, client) = setup().await;
    let url = "http://127.0.0.1:9/notify";
    // A huge list: refused by its length, not walked (at most 50 sub-orders).
    let many: Vec<Value> = (0..20_000)
        .map(|i| sub(&format!("HUGE{i:08}"), 1))
        .collect();
    let mut huge = combine("HOSTILE001", url, many);
    for s in huge["sub_orders"].as_array_mut().unwrap() {
        s["sub_mchid"] = json!(SUB_MCHID);
    }
    assert_eq!(
        refusal(create(&client, "native", &huge).await.unwrap_err()).1,
        "PARAM_ERROR"
    );
    // Not an array, an entry that is not an object, a duplicate number, a bad number.
    let mut not_array = combine("HOSTILE002", url, vec![]);
    not_array["sub_orders"] = json!({"0": sub("HOSTILES01", 1)});
    let mut not_object = combine("HOSTILE003", url, vec![sub("HOSTILES02", 1)]);
    not_object["sub_orders"]
        .as_array_mut()
        .unwrap()
        .push(json!("HOSTILES03"));
    let twice = combine(
        "HOSTILE004",
        url,
        vec![sub("HOSTILES04", 1), sub("HOSTILES04", 1)],
    );
    let dots = combine(
        "../../_mock/faults",
        url,
        vec![sub("HOSTILES05", 1), sub("HOSTILES06", 1)],
    );
    let mut too_much = combine(
        "HOSTILE005",
        url,
        vec![sub("HOSTILES07", 1), sub("HOSTILES08", 1)],
    );
    too_much["sub_orders"][0]["amount"]["total_amount"] = json!(1_000_000_001);
    let mut null = combine(
        "HOSTILE006",
        url,
        vec![sub("HOSTILES09", 1), sub("HOSTILES10", 1)],
    );
    null["sub_orders"][1]["attach"] = Value::Null;
    for body in [not_array, not_object, twice, dots, too_much, null] {
        let (status, code, _) = refusal(create(&client, "native", &body).await.unwrap_err());
        assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"), "{body}");
    }
    // Nothing was kept: no order, no sub-order.
    assert!(server.combine_transactions().is_empty());
    assert!(server.transactions().is_empty());
    // A control path with encoded slashes and dot-segments names no order.
    for path in [
        "combine-transactions/..%2F..%2Ffaults/pay",
        "combine-transactions/%2E%2E/pay",
    ] {
        let (status, _) = control(&server, path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    // A body on fail is refused, as on a normal order's control.
    create(
        &client,
        "native",
        &combine(
            "HOSTILE007",
            url,
            vec![sub("HOSTILES11", 1), sub("HOSTILES12", 1)],
        ),
    )
    .await
    .unwrap();
    let (status, _) = control(
        &server,
        "combine-transactions/HOSTILE007/fail",
        Some(json!({"openid": OPENID})),
    )
    .await;
    assert_eq!(status, 400);
    // The payer the JSAPI order was placed for is the one who pays (SK 三, JSAPI #4).
    let (status, refused) = control(
        &server,
        "combine-transactions/HOSTILE007/pay",
        Some(json!({"openid": "oSomeoneElse0000000000000000"})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(
        refused["message"],
        "下单账号与支付账号不一致，请核实后再支付"
    );
    assert_eq!(
        query(&client, "HOSTILE007").await.unwrap()["sub_orders"][0]["trade_state"],
        "NOTPAY"
    );
}
