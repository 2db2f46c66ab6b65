//! The mock as the WeChat client: it opens its cashier only for front-end
//! parameters the merchant signed for this order (FLOWS.md §6), and the
//! payscore confirm page only for the order's own `package`, signed under
//! the APIv2 key.

mod common;

use common::flows::{control, jsapi_order, APPID};

use common::sink::NotifySink;
use serde_json::{json, Value};
use wechatpay_chain::mock::{Credentials, MockServer};

#[tokio::test]
async fn the_mock_pays_on_genuine_invocations_and_refuses_forged_ones() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let order = |no: &str| json!({"json": jsapi_order(no, &sink.url, 1)});
    let first: Value = client["v3/pay/transactions/jsapi"]
        .post(order("INVOKE-1"))
        .await
        .unwrap()
        .json()
        .unwrap();
    let other: Value = client["v3/pay/transactions/jsapi"]
        .post(order("INVOKE-2"))
        .await
        .unwrap()
        .json()
        .unwrap();
    let genuine = serde_json::to_value(
        client
            .invocation()
            .jsapi_from_answer(APPID, &first)
            .unwrap(),
    )
    .unwrap();

    // a tampered paySign
    let mut tampered = genuine.clone();
    let sign = tampered["paySign"].as_str().unwrap().to_owned();
    let flipped = if sign.starts_with('A') { "B" } else { "A" };
    tampered["paySign"] = json!(format!("{flipped}{}", &sign[1..]));
    // another order's prepay_id, properly signed
    let foreign = serde_json::to_value(
        client
            .invocation()
            .jsapi_from_answer(APPID, &other)
            .unwrap(),
    )
    .unwrap();
    // another appId, properly signed
    let wrong_app = serde_json::to_value(
        client
            .invocation()
            .jsapi_from_answer("wx0000000000000000", &first)
            .unwrap(),
    )
    .unwrap();
    for (what, invocation, message) in [
        ("tampered paySign", &tampered, "支付验证签名失败"),
        (
            "another order's prepay_id",
            &foreign,
            "JSAPI缺少参数total_fee",
        ),
        ("another appId", &wrong_app, "JSAPI缺少参数total_fee"),
    ] {
        let (status, body) = control(
            &server,
            "transactions/INVOKE-1/pay",
            Some(json!({"invocation": invocation})),
        )
        .await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["message"], message, "{what}: {body}");
        assert_eq!(
            server.transactions()[0]["trade_state"],
            "NOTPAY",
            "{what} changed nothing"
        );
    }
    assert!(server.notifications().is_empty());
    // an APP-shaped invocation for a JSAPI order is refused too
    let app =
        serde_json::to_value(client.invocation().app_from_answer(APPID, &first).unwrap()).unwrap();
    assert_eq!(
        server
            .pay_transaction_with("INVOKE-1", None, &app)
            .unwrap_err()
            .status(),
        Some(400)
    );

    let paid = server
        .pay_transaction_with("INVOKE-1", None, &genuine)
        .unwrap();
    assert_eq!(paid["trade_state"], "SUCCESS");
    assert_eq!(
        sink.wait_for(1).await[0].envelope["event_type"],
        "TRANSACTION.SUCCESS"
    );
}

#[tokio::test]
async fn the_payscore_confirm_page_takes_only_the_orders_signed_package() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let create = |no: &str| {
        json!({"json": {
        "out_order_no": no, "appid": APPID, "service_id": "2002000000000558128851361561536",
        "service_introduction": "某某酒店", "time_range": {"start_time": "OnAccept"},
        "risk_fund": {"name": "DEPOSIT", "amount": 50000}, "notify_url": "https://127.0.0.1:9/n",
        "need_user_confirm": true}})
    };
    let first: Value = client["v3/payscore/serviceorder"]
        .post(create("PS-PAGE-1"))
        .await
        .unwrap()
        .json()
        .unwrap();
    let other: Value = client["v3/payscore/serviceorder"]
        .post(create("PS-PAGE-2"))
        .await
        .unwrap()
        .json()
        .unwrap();
    let genuine = serde_json::to_value(
        client
            .invocation()
            .payscore_confirm_from_answer(&first)
            .unwrap(),
    )
    .unwrap();
    let foreign = serde_json::to_value(
        client
            .invocation()
            .payscore_confirm_from_answer(&other)
            .unwrap(),
    )
    .unwrap();
    let mut tampered = genuine.clone();
    tampered["nonce_str"] = json!("0123456789abcdef0123456789abcdef");
    for (what, page) in [
        ("another order's package", &foreign),
        ("a field changed after signing", &tampered),
    ] {
        let (status, body) = control(
            &server,
            "payscore/PS-PAGE-1/confirm",
            Some(json!({"extraData": page})),
        )
        .await;
        assert_eq!(status, 400, "{what}: {body}");
    }
    let (status, body) = control(
        &server,
        "payscore/PS-PAGE-1/confirm",
        Some(json!({"extraData": genuine})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "DOING");
}

/// A service provider's APP order: WeChat Pay's sources disagree on its
/// `partnerid` (docs/frontend.md: WeChat Pay's Java SDK sends the
/// provider's `sp_mchid` for APIv3; the APIv2 partner page asks for the
/// sub-merchant's, 子商户号). The mock's client takes either of the order's
/// two ids and nothing else; a direct order's is its merchant's alone.
#[tokio::test]
async fn a_partner_app_orders_partnerid_is_the_providers_or_the_sub_merchants() {
    const SUB: &str = "1900000110";
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let mchid = Credentials::get().mchid;
    let place = |no: &str| {
        let client = client.clone();
        let no = no.to_owned();
        async move {
            let answer: Value = client["v3/pay/partner/transactions/app"]
                .post(
                    json!({"json": {"sp_appid": APPID, "sp_mchid": mchid, "sub_mchid": SUB,
                    "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": no,
                    "notify_url": "http://127.0.0.1:9/notify", "amount": {"total": 1}}}),
                )
                .await
                .unwrap()
                .json()
                .unwrap();
            answer
        }
    };
    let pay = |no: &str, partnerid: &str, answer: &Value| {
        let invocation = client
            .invocation()
            .partnerid(partnerid)
            .app_from_answer(APPID, answer)
            .unwrap();
        let path = format!("transactions/{no}/pay?sub_mchid={SUB}");
        let body = json!({"invocation": serde_json::to_value(invocation).unwrap()});
        let server = &server;
        async move { control(server, &path, Some(body)).await }
    };
    for (no, partnerid) in [("PAPP000001", mchid), ("PAPP000002", SUB)] {
        let answer = place(no).await;
        let (status, paid) = pay(no, partnerid, &answer).await;
        assert_eq!(status, 200, "{partnerid}: {paid}");
        assert_eq!(paid["trade_state"], "SUCCESS", "{paid}");
    }
    let answer = place("PAPP000003").await;
    let (status, refused) = pay("PAPP000003", "1900000999", &answer).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("partnerid"), "{refused}");

    // a direct APP order: only the merchant's own id
    let direct: Value = client["v3/pay/transactions/app"]
        .post(json!({"json": {"appid": APPID, "mchid": mchid,
            "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": "DAPP000001",
            "notify_url": "http://127.0.0.1:9/notify", "amount": {"total": 1}}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    let invocation = client
        .invocation()
        .partnerid(SUB)
        .app_from_answer(APPID, &direct)
        .unwrap();
    let (status, refused) = control(
        &server,
        "transactions/DAPP000001/pay",
        Some(json!({"invocation": serde_json::to_value(invocation).unwrap()})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
}
