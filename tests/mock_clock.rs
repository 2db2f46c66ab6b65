//! The mock's clock: moving it applies WeChat Pay's time rules, each typed
//! here from its source, not read back from the mock: a `prepay_id` lives
//! 2 h and an unpaid order closes at `time_expire`, 7 days without one
//! (FLOWS.md §1.3, SK 订单状态流转.md); the notification ladder waits
//! 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (FLOWS.md §1.6, SK
//! 回调通知处理.md); a day's bill exists from 10:00 the next day, China time
//! (FLOWS.md §5), WeChat Pay answering `400 STATEMENT_CREATING 账单生成中`
//! before (the error table of its 下载账单 API page), and its
//! `download_url` is valid 5 minutes (FLOWS.md §5). The times a flow
//! writes (payscore's `paid_time`, APIv2's `time_end`, both
//! `yyyyMMddHHmmss` China time) are the clock's, computed here from the
//! clock's own answer.

mod common;

use std::time::Duration;

use common::flows::{control, jsapi_order, setup, APPID};
use common::sink::NotifySink;
use serde_json::{json, Value};
use wechatpay_chain::clock::{parse_rfc3339, rfc3339};
use wechatpay_chain::download::{BillInfo, Compression};
use wechatpay_chain::mock::{Credentials, MockServer, RefundOutcome};
use wechatpay_chain::{Client, Error};

const HOUR: u64 = 3600;

async fn order(client: &Client, no: &str, notify_url: &str, extra: Value) -> Value {
    let mut body = jsapi_order(no, notify_url, 100);
    if let Value::Object(fields) = extra {
        body.as_object_mut().unwrap().extend(fields);
    }
    client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": body }))
        .await
        .unwrap()
        .json()
        .unwrap()
}

async fn query(client: &Client, no: &str) -> Value {
    client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": no, "query": {"mchid": Credentials::get().mchid}}))
        .await
        .unwrap()
        .json()
        .unwrap()
}

async fn clock_state(server: &MockServer) -> Value {
    let bytes = reqwest::get(format!("{}_mock/clock", server.base_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn advancing_two_hours_makes_a_prepay_id_invalid_for_invocation() {
    let (server, client) = setup().await;
    let invocation = |answer: &Value| {
        serde_json::to_value(
            client
                .invocation()
                .jsapi_from_answer(APPID, answer)
                .unwrap(),
        )
        .unwrap()
    };
    let young = order(&client, "PREPAY-YOUNG", "https://127.0.0.1:9/n", json!({})).await;
    let old = order(&client, "PREPAY-OLD", "https://127.0.0.1:9/n", json!({})).await;
    let (young, old) = (invocation(&young), invocation(&old));
    server
        .advance_clock(Duration::from_secs(2 * HOUR - 60))
        .await
        .unwrap();
    // A minute before its 2 hours a prepay_id still opens the cashier.
    let paid = server
        .pay_transaction_with("PREPAY-YOUNG", None, &young)
        .unwrap();
    assert_eq!(paid["trade_state"], "SUCCESS");
    let happened = server.advance_clock(Duration::from_secs(60)).await.unwrap();
    assert!(
        happened
            .iter()
            .any(|h| h["event"] == "prepay_id.expired" && h["out_trade_no"] == "PREPAY-OLD"),
        "{happened:?}"
    );
    // The WeChat client's words for a prepay id that is empty or expired
    // (SK 基础支付常见问题.md, as src/mock/flows/invocation.rs quotes them).
    let refused = server
        .pay_transaction_with("PREPAY-OLD", None, &old)
        .unwrap_err();
    match refused {
        Error::Api(api) => {
            assert_eq!(api.status, 400);
            assert_eq!(api.message, "JSAPI缺少参数total_fee");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(query(&client, "PREPAY-OLD").await["trade_state"], "NOTPAY");
}

#[tokio::test]
async fn past_time_expire_the_order_queries_closed() {
    let (server, client) = setup().await;
    let in_an_hour = rfc3339(server.now() + 3600);
    order(
        &client,
        "EXPIRE-1H",
        "https://127.0.0.1:9/n",
        json!({ "time_expire": in_an_hour }),
    )
    .await;
    order(&client, "EXPIRE-7D", "https://127.0.0.1:9/n", json!({})).await;
    server
        .advance_clock(Duration::from_secs(HOUR - 5))
        .await
        .unwrap();
    assert_eq!(query(&client, "EXPIRE-1H").await["trade_state"], "NOTPAY");
    let happened = server.advance_clock(Duration::from_secs(10)).await.unwrap();
    let closed: Vec<&Value> = happened
        .iter()
        .filter(|h| h["event"] == "transaction.closed")
        .collect();
    assert_eq!(closed.len(), 1, "{happened:?}");
    assert_eq!(closed[0]["out_trade_no"], "EXPIRE-1H");
    assert_eq!(closed[0]["time"], in_an_hour.as_str());
    assert_eq!(query(&client, "EXPIRE-1H").await["trade_state"], "CLOSED");
    // Without time_expire: 7 days.
    server
        .advance_clock(Duration::from_secs(6 * 24 * HOUR))
        .await
        .unwrap();
    assert_eq!(query(&client, "EXPIRE-7D").await["trade_state"], "NOTPAY");
    server
        .advance_clock(Duration::from_secs(24 * HOUR))
        .await
        .unwrap();
    assert_eq!(query(&client, "EXPIRE-7D").await["trade_state"], "CLOSED");
    // A closed order cannot be paid (FLOWS.md §1.3).
    assert!(server.pay_transaction("EXPIRE-7D", None).is_err());
}

#[tokio::test]
async fn advancing_walks_the_notification_ladder_on_wechat_pays_schedule() {
    let (server, client) = setup().await;
    server.set_notification_speedup(1);
    // The merchant's endpoint fails every time: the whole ladder runs.
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[500; 20]).await;
    order(&client, "LADDER-1", &sink.url, json!({})).await;
    server.pay_transaction("LADDER-1", None).unwrap();
    let happened = server
        .advance_clock(Duration::from_secs(25 * HOUR))
        .await
        .unwrap();
    let retries = happened
        .iter()
        .filter(|h| h["event"] == "notification.attempt")
        .count();
    assert_eq!(retries, 15, "{happened:?}");
    let delivery = &server.notifications()[0];
    assert_eq!(delivery.attempts, 16);
    assert!(!delivery.delivered);
    let times: Vec<i64> = delivery
        .answers
        .iter()
        .map(|a| parse_rfc3339(&a.time).unwrap())
        .collect();
    // 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h from the first try.
    let waits = [
        15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600,
    ];
    let mut expected = vec![times[0]];
    for wait in waits {
        expected.push(expected.last().unwrap() + wait);
    }
    assert_eq!(times, expected);
    assert_eq!(
        times[15] - times[0],
        24 * 3600 + 4 * 60,
        "24 h 4 min in all"
    );
    assert_eq!(
        sink.received().len(),
        16,
        "every attempt reached the endpoint"
    );
}

#[tokio::test]
async fn refunds_that_resolve_by_themselves_do_so_on_the_clock() {
    let (server, client) = setup().await;
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    order(&client, "AUTO-CLOCK", &sink.url, json!({})).await;
    server.pay_transaction("AUTO-CLOCK", None).unwrap();
    sink.wait_for(1).await;
    server.auto_resolve_refunds(Some(Duration::from_secs(2 * 86_400)));
    client["v3/refund/domestic/refunds"]
        .post(
            json!({"json": {"out_trade_no": "AUTO-CLOCK", "out_refund_no": "AUTO-CLOCK-R",
            "notify_url": sink.url, "amount": {"refund": 100, "total": 100, "currency": "CNY"}}}),
        )
        .await
        .unwrap();
    let happened = server
        .advance_clock(Duration::from_secs(3 * 86_400))
        .await
        .unwrap();
    let resolved = happened
        .iter()
        .find(|h| h["event"] == "refund.resolved")
        .unwrap_or_else(|| panic!("{happened:?}"));
    assert_eq!(resolved["status"], "SUCCESS");
    let got = sink.wait_for(2).await;
    assert_eq!(got[1].envelope["event_type"], "REFUND.SUCCESS");
    assert_eq!(
        server.refunds()[0]["success_time"],
        resolved["time"],
        "resolved at the time it fell due"
    );
    // The resolution wins over a later hand.
    assert!(server
        .resolve_refund("AUTO-CLOCK-R", None, RefundOutcome::Closed)
        .is_err());
}

#[tokio::test]
async fn the_clock_moves_forward_only_and_says_so() {
    let (server, _client) = setup().await;
    let state = clock_state(&server).await;
    assert_eq!(state["follows_real_time"], true);
    let start = state["unix"].as_i64().unwrap();
    let (status, moved) =
        control(&server, "clock/advance", Some(json!({"duration": "PT2H"}))).await;
    assert_eq!(status, 200, "{moved}");
    assert!(parse_rfc3339(moved["now"].as_str().unwrap()).unwrap() >= start + 7200);
    let (status, _) = control(&server, "clock/advance", Some(json!({"seconds": 90}))).await;
    assert_eq!(status, 200);
    let (status, refused) =
        control(&server, "clock/set", Some(json!({"time": rfc3339(start)}))).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("only moves forward"),
        "{refused}"
    );
    for (body, field) in [
        (json!({"duration": "2 fortnights"}), "/duration"),
        (json!({"seconds": -1}), "/seconds"),
        (json!({"seconds": 1, "duration": "1h"}), "/"),
        (json!({"seconds": 400 * 86_400}), "/"),
    ] {
        let (status, refused) = control(&server, "clock/advance", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(refused["code"], "PARAM_ERROR", "{body}: {refused}");
        assert_eq!(refused["detail"]["field"], field, "{body}: {refused}");
    }
    let (status, refused) = control(&server, "clock/set", Some(json!({"time": "soon"}))).await;
    assert_eq!(
        (status, refused["detail"]["field"].clone()),
        (400, json!("/time"))
    );
    assert!(server.now() >= start + 7290);
}

/// The bill `bill` names, downloaded uncompressed.
async fn download(client: &Client, bill: &BillInfo) -> Result<Vec<u8>, Error> {
    let mut csv = Vec::new();
    client
        .download_bill(bill, Compression::None, &mut csv)
        .await
        .map(|_| csv)
}

/// `YYYY-MM-DD` and the Unix seconds of 10:00 the next day, China time.
fn china_day(unix: i64) -> (String, i64) {
    let date = rfc3339(unix)[..10].to_owned();
    let midnight = parse_rfc3339(&format!("{date}T00:00:00+08:00")).unwrap();
    (date, midnight + 86_400 + 10 * 3600)
}

#[tokio::test]
async fn todays_bill_is_refused_until_ten_the_next_day() {
    let (server, client) = setup().await;
    order(&client, "BILL-CLOCK-1", "https://127.0.0.1:9/n", json!({})).await;
    let paid = server.pay_transaction("BILL-CLOCK-1", None).unwrap();
    let success = parse_rfc3339(paid["success_time"].as_str().unwrap()).unwrap();
    let (date, ready) = china_day(success);
    let apply = |client: Client, date: String| async move {
        client["v3/bill/tradebill"]
            .get(json!({"query": {"bill_date": date}}))
            .await
    };
    for moment in ["today", "09:59:59 the next day"] {
        if moment != "today" {
            server.set_clock(ready - 1).await.unwrap();
        }
        match apply(client.clone(), date.clone()).await {
            Err(Error::Api(api)) => {
                assert_eq!(api.status, 400, "{moment}");
                assert_eq!(api.code, "STATEMENT_CREATING", "{moment}");
                assert_eq!(api.message, "账单生成中", "{moment}");
            }
            other => panic!("{moment}: {other:?}"),
        }
    }
    server.set_clock(ready).await.unwrap();
    let bill: BillInfo = apply(client.clone(), date.clone())
        .await
        .unwrap()
        .json()
        .unwrap();
    let text = String::from_utf8(download(&client, &bill).await.unwrap()).unwrap();
    assert!(text.contains("`BILL-CLOCK-1"), "{text}");
    // A day without trades, once it is ready, has no bill (FLOWS.md §5).
    let (before, _) = china_day(success - 2 * 86_400);
    match apply(client.clone(), before).await {
        Err(Error::Api(api)) => assert_eq!(api.code, "NO_STATEMENT_EXIST"),
        other => panic!("{other:?}"),
    }
}

/// `yyyyMMddHHmmss`, China time, of the Unix second `unix`.
fn compact(unix: i64) -> String {
    rfc3339(unix)
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// The clock's `unix`, as `GET /_mock/clock` answers it.
async fn clock_unix(server: &MockServer) -> i64 {
    clock_state(server).await["unix"].as_i64().unwrap()
}

#[tokio::test]
async fn the_times_a_flow_writes_are_the_clocks() {
    let (server, client) = setup().await;
    // Three days ahead: no chance of the real day.
    server
        .advance_clock(Duration::from_secs(3 * 24 * HOUR))
        .await
        .unwrap();
    let service = "2002000000000558128851361561536";
    let payscore = |no: &str| {
        json!({"out_order_no": no, "appid": APPID, "service_id": service,
               "service_introduction": "某某酒店", "time_range": {"start_time": "OnAccept"},
               "risk_fund": {"name": "DEPOSIT", "amount": 50000},
               "notify_url": "https://127.0.0.1:9/n", "need_user_confirm": true})
    };
    let complete = json!({"appid": APPID, "service_id": service, "total_amount": 100,
                          "post_payments": [{"name": "就餐费用", "amount": 100}]});
    let query =
        |no: &str| json!({"query": {"service_id": service, "appid": APPID, "out_order_no": no}});
    for (no, how) in [
        ("PS-CLOCK-1", "the user pays"),
        ("PS-CLOCK-2", "the merchant's pay"),
    ] {
        client["v3/payscore/serviceorder"]
            .post(json!({ "json": payscore(no) }))
            .await
            .unwrap();
        server.user_confirms(no, None).unwrap();
        client["v3/payscore/serviceorder/{out_order_no}/complete"]
            .post(json!({"out_order_no": no, "json": complete}))
            .await
            .unwrap();
        let before = clock_unix(&server).await;
        if how == "the user pays" {
            server.user_pays(no, None).unwrap();
        } else {
            client["v3/payscore/serviceorder/{out_order_no}/pay"]
                .post(json!({"out_order_no": no, "json": {"appid": APPID, "service_id": service}}))
                .await
                .unwrap();
        }
        let after = clock_unix(&server).await;
        let order: Value = client["v3/payscore/serviceorder"]
            .get(query(no))
            .await
            .unwrap()
            .json()
            .unwrap();
        let paid_time = order["collection"]["details"][0]["paid_time"]
            .as_str()
            .unwrap_or_else(|| panic!("{how}: {order}"))
            .to_owned();
        assert!(
            (compact(before)..=compact(after)).contains(&paid_time),
            "{how}: paid_time {paid_time}, the clock {before}..{after}"
        );
    }
    // APIv2: micropay's time_end.
    let v2 = server
        .client_builder()
        .apiv2_appid("wxd678efh567hg6787")
        .apiv2_add_mch_id(true)
        .build()
        .unwrap();
    let before = clock_unix(&server).await;
    let paid: Value = v2["v2/pay/micropay"]
        .post(
            json!({"xml": {"body": "image形象店-深圳腾大-QQ公仔", "out_trade_no": "V2CLOCK1",
                             "total_fee": 888, "spbill_create_ip": "8.8.8.8",
                             "auth_code": "120061098828009406"}}),
        )
        .await
        .unwrap()
        .xml()
        .unwrap();
    let after = clock_unix(&server).await;
    let time_end = paid["time_end"].as_str().unwrap().to_owned();
    assert!(
        (compact(before)..=compact(after)).contains(&time_end),
        "time_end {time_end}, the clock {before}..{after}"
    );
}

#[tokio::test]
async fn a_download_url_ends_five_minutes_later_on_the_clock() {
    let (server, client) = setup().await;
    order(&client, "DL-CLOCK-1", "https://127.0.0.1:9/n", json!({})).await;
    let paid = server.pay_transaction("DL-CLOCK-1", None).unwrap();
    let (date, ready) = china_day(parse_rfc3339(paid["success_time"].as_str().unwrap()).unwrap());
    server.set_clock(ready).await.unwrap();
    let apply = || client["v3/bill/tradebill"].get(json!({"query": {"bill_date": date.clone()}}));
    let bill: BillInfo = apply().await.unwrap().json().unwrap();
    server
        .advance_clock(Duration::from_secs(5 * 60 - 30))
        .await
        .unwrap();
    assert!(download(&client, &bill).await.is_ok(), "still within 5 min");
    let bill: BillInfo = apply().await.unwrap().json().unwrap();
    server
        .advance_clock(Duration::from_secs(5 * 60))
        .await
        .unwrap();
    match download(&client, &bill).await {
        Err(Error::Api(api)) => assert_eq!(api.status, 400, "{api:?}"),
        other => panic!("a link 5 min old on the clock still served: {other:?}"),
    }
}

/// A move is at most 366 days however it is asked: a number of seconds too
/// big to add to the clock is refused with that rule (not an overflow), the
/// in-process methods keep the same bound, and the clock has not moved.
#[tokio::test]
async fn a_huge_move_of_the_clock_is_refused_however_it_is_asked() {
    let server = MockServer::start().await.unwrap();
    let before = server.now();
    for body in [
        json!({"seconds": i64::MAX}),
        json!({"seconds": i64::MAX / 1000}),
        json!({"duration": "106751991167d"}),
    ] {
        let (status, answer) = control(&server, "clock/advance", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains("366 days"), "{body}: {answer}");
    }
    for refused in [
        server.advance_clock(Duration::MAX).await,
        server
            .advance_clock(Duration::from_secs(367 * 86_400))
            .await,
        server.set_clock(i64::MAX).await,
    ] {
        let err = refused.unwrap_err().to_string();
        assert!(err.contains("366 days"), "{err}");
    }
    assert!(server.now() < before + 60, "the clock has not moved");
}
