//! The mock's transfer bills (商家转账, user-confirmation mode), checked
//! against what WeChat Pay does (FLOWS.md §8): the field sets of the create,
//! query and cancel answers (§8.1, OA yaml for the partner forms), the
//! states and transitions (§8.2), the real error bodies (§8.2), the
//! notification envelope and decrypted shape (§8.3, with `mchid` where the
//! query says `mch_id`), and the front end's parameters (§8.4). Every
//! expectation is typed here from FLOWS.md, not read back from the mock.

mod common;

use common::flows::{control, keys, refusal, set};

use std::collections::BTreeSet;

use common::sink::NotifySink;
use serde_json::{json, Value};
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{Client, Error, Options};

const APPID: &str = "wxf636efh567hg4356";
const OPENID: &str = "o-MYE42l80oelYMDE34nYD456Xoy";
const MCHID: &str = "1900000109";
const SUB_MCHID: &str = "1900000110";
const BILLS: &str = "v3/fund-app/mch-transfer/transfer-bills";
const PARTNER_BILLS: &str = "v3/fund-app/mch-transfer/partner/transfer-bills";

/// FLOWS.md §8.2, the real NOT_ENOUGH body.
const NOT_ENOUGH: &str = "商户运营账户资金不足,充值后可以原单号发起重试,请勿更换商户单号";

async fn setup() -> (MockServer, Client, NotifySink) {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    (server, client, sink)
}

/// A create request as OA `transfer-bills.yaml` names its fields.
fn bill(no: &str, amount: i64, notify_url: &str) -> Value {
    json!({"appid": APPID, "out_bill_no": no, "transfer_scene_id": "1000", "openid": OPENID,
           "transfer_amount": amount, "transfer_remark": "新会员开通有礼", "notify_url": notify_url,
           "user_recv_perception": "现金奖励",
           "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                           {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}]})
}

async fn create(client: &Client, body: &Value) -> Result<Value, Error> {
    client[BILLS].post(json!({ "json": body })).await?.json()
}

async fn query(client: &Client, no: &str) -> Value {
    common::flows::transfer_bill_query(client, no).await
}

fn is_bill_no(no: &str) {
    // Real captures: 34 digits starting 1330 (FLOWS.md §8.1).
    assert_eq!(no.len(), 34, "{no}");
    assert!(
        no.starts_with("1330") && no.bytes().all(|b| b.is_ascii_digit()),
        "{no}"
    );
}

/// The query answer of a direct bill (FLOWS.md §8.1), with the optional
/// fields a given bill has.
fn query_fields(extra: &[&str]) -> BTreeSet<String> {
    let mut fields = set(&[
        "mch_id",
        "out_bill_no",
        "transfer_bill_no",
        "appid",
        "state",
        "transfer_amount",
        "transfer_remark",
        "openid",
        "create_time",
        "update_time",
    ]);
    fields.extend(extra.iter().map(|s| s.to_string()));
    fields
}

/// The envelope and resource of MCHTRANSFER.BILL.FINISHED (FLOWS.md §8.3).
fn check_finished(got: &common::sink::Received, state: &str, fail_reason: Option<&str>) {
    let envelope = &got.envelope;
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
    assert_eq!(envelope["event_type"], "MCHTRANSFER.BILL.FINISHED");
    assert_eq!(envelope["resource_type"], "encrypt-resource");
    assert_eq!(envelope["summary"], "商家转账单据终态通知");
    assert_eq!(envelope["resource"]["original_type"], "mch_payment");
    assert_eq!(envelope["resource"]["associated_data"], "mch_payment");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    let resource = &got.resource;
    let mut fields = set(&[
        "mchid",
        "out_bill_no",
        "transfer_bill_no",
        "state",
        "transfer_amount",
        "openid",
        "create_time",
        "update_time",
    ]);
    if fail_reason.is_some() {
        fields.insert("fail_reason".to_owned());
    }
    assert_eq!(keys(resource), fields, "{resource}");
    assert_eq!(resource["mchid"], MCHID);
    assert_eq!(resource["state"], state);
    assert_eq!(resource["fail_reason"].as_str(), fail_reason);
    // The SDK's notification helper verifies and decrypts it to the same.
    assert_eq!(got.verified.as_ref().unwrap(), resource);
}

#[tokio::test]
async fn a_bill_is_created_confirmed_notified_and_queried_as_wechat_pay_answers() {
    let (server, client, sink) = setup().await;
    let created = create(&client, &bill("plfk2020042013", 30, &sink.url))
        .await
        .unwrap();
    // FLOWS.md §8.1/§8.2: the create answer, WAIT_USER_CONFIRM with package_info.
    assert_eq!(
        keys(&created),
        set(&[
            "out_bill_no",
            "transfer_bill_no",
            "create_time",
            "state",
            "package_info"
        ])
    );
    assert_eq!(created["state"], "WAIT_USER_CONFIRM");
    assert_eq!(created["out_bill_no"], "plfk2020042013");
    let bill_no = created["transfer_bill_no"].as_str().unwrap().to_owned();
    is_bill_no(&bill_no);
    assert!(created["create_time"].as_str().unwrap().ends_with("+08:00"));

    let waiting = query(&client, "plfk2020042013").await;
    assert_eq!(keys(&waiting), query_fields(&[]));
    assert_eq!(waiting["mch_id"], MCHID);
    assert_eq!(waiting["state"], "WAIT_USER_CONFIRM");
    assert_eq!(waiting["transfer_amount"], 30);
    assert_eq!(waiting["transfer_remark"], "新会员开通有礼");
    assert_eq!(waiting["appid"], APPID);
    assert_eq!(waiting["openid"], OPENID);
    let by_bill_no: Value = client
        ["v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}"]
        .get(json!({ "transfer_bill_no": bill_no }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_bill_no, waiting);

    // The front end's parameters, checked by the confirm control as the client does.
    let page = client
        .invocation()
        .merchant_transfer_from_answer(APPID, &created)
        .unwrap();
    let page = serde_json::to_value(&page).unwrap();
    assert_eq!(keys(&page), set(&["mchId", "appId", "package"]));
    let (status, confirmed) = control(
        &server,
        "transfer-bills/plfk2020042013/confirm",
        Some(json!({ "invocation": page })),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["state"], "SUCCESS");

    let got = sink.wait_for(1).await;
    check_finished(&got[0], "SUCCESS", None);
    let done = query(&client, "plfk2020042013").await;
    assert_eq!(done["state"], "SUCCESS");
    // The notification says what the query says (mchid there, mch_id here).
    for field in [
        "out_bill_no",
        "transfer_bill_no",
        "state",
        "transfer_amount",
        "openid",
        "create_time",
        "update_time",
    ] {
        assert_eq!(got[0].resource[field], done[field], "{field}");
    }
    assert_eq!(got[0].resource["mchid"], done["mch_id"]);

    // A confirmed bill cannot be confirmed or cancelled again.
    let (status, again) = control(&server, "transfer-bills/plfk2020042013/confirm", None).await;
    assert_eq!(
        (status, again["detail"]["state"].as_str()),
        (409, Some("SUCCESS"))
    );
    let err = client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
        .post(json!({ "out_bill_no": "plfk2020042013" }))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).1, "INVALID_REQUEST");
}

#[tokio::test]
async fn a_cancelled_bill_goes_canceling_then_cancelled_with_its_notification() {
    let (server, client, sink) = setup().await;
    create(&client, &bill("CANCEL1", 100, &sink.url))
        .await
        .unwrap();
    let balance = server.transfer_balance();
    let cancel = "v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel";
    let answer: Value = client[cancel]
        .post(json!({ "out_bill_no": "CANCEL1" }))
        .await
        .unwrap()
        .json()
        .unwrap();
    // FLOWS.md §8.1: {out_bill_no, transfer_bill_no, state: CANCELING|CANCELLED, update_time}.
    assert_eq!(
        keys(&answer),
        set(&["out_bill_no", "transfer_bill_no", "state", "update_time"])
    );
    assert_eq!(answer["state"], "CANCELING");
    let got = sink.wait_for(1).await;
    check_finished(&got[0], "CANCELLED", None);
    assert_eq!(query(&client, "CANCEL1").await["state"], "CANCELLED");
    assert_eq!(
        server.transfer_balance(),
        balance + 100,
        "the amount goes back"
    );
    // Cancelling again is answered with the final state.
    let again: Value = client[cancel]
        .post(json!({ "out_bill_no": "CANCEL1" }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(again["state"], "CANCELLED");
    // An unknown number: the real answer (FLOWS.md §8.2).
    let err = client[cancel]
        .post(json!({ "out_bill_no": "NOSUCHBILL" }))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(err),
        (
            400,
            "INVALID_REQUEST".to_owned(),
            "单号错误,请检查".to_owned()
        )
    );
}

#[tokio::test]
async fn a_cancel_waits_for_the_refunds_delay_setting() {
    let (server, client, sink) = setup().await;
    server.auto_resolve_refunds(Some(std::time::Duration::from_millis(300)));
    create(&client, &bill("SLOWCANCEL", 100, &sink.url))
        .await
        .unwrap();
    client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
        .post(json!({ "out_bill_no": "SLOWCANCEL" }))
        .await
        .unwrap();
    assert_eq!(query(&client, "SLOWCANCEL").await["state"], "CANCELING");
    let got = sink.wait_for(1).await;
    check_finished(&got[0], "CANCELLED", None);
}

#[tokio::test]
async fn expired_and_failed_bills_end_fail_with_a_reason_and_a_notification() {
    let (server, client, sink) = setup().await;
    create(&client, &bill("EXPIRE1", 100, &sink.url))
        .await
        .unwrap();
    create(&client, &bill("FAIL1", 100, &sink.url))
        .await
        .unwrap();
    let expired = server.expire_transfer("EXPIRE1", None).unwrap();
    assert_eq!(expired["state"], "FAIL");
    assert_eq!(keys(&expired), query_fields(&["fail_reason"]));
    let got = sink.wait_for(1).await;
    check_finished(&got[0], "FAIL", expired["fail_reason"].as_str());

    // A reason from §8.2's list, through the control.
    let (status, failed) = control(
        &server,
        "transfer-bills/FAIL1/fail",
        Some(json!({"fail_reason": "PAYEE_ACCOUNT_ABNORMAL"})),
    )
    .await;
    assert_eq!(status, 200, "{failed}");
    let got = sink.wait_for(2).await;
    check_finished(&got[1], "FAIL", Some("PAYEE_ACCOUNT_ABNORMAL"));
    assert_eq!(
        query(&client, "FAIL1").await["fail_reason"],
        "PAYEE_ACCOUNT_ABNORMAL"
    );

    // Not a reason WeChat Pay has: refused, saying which are.
    create(&client, &bill("FAIL2", 100, &sink.url))
        .await
        .unwrap();
    let (status, refused) = control(
        &server,
        "transfer-bills/FAIL2/fail",
        Some(json!({"fail_reason": "BECAUSE"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("OVERDUE_CLOSE"),
        "{refused}"
    );
    let (status, _) = control(&server, "transfer-bills/FAIL2/fail", None).await;
    assert_eq!(status, 400, "fail needs a fail_reason");
    // Declining closes the page: the bill still waits (no state for it in §8.2).
    let (status, declined) = control(&server, "transfer-bills/FAIL2/decline", None).await;
    assert_eq!(
        (status, declined["state"].as_str()),
        (200, Some("WAIT_USER_CONFIRM"))
    );
    assert_eq!(sink.received().len(), 2, "nothing is sent for a decline");
    let (status, _) = control(&server, "transfer-bills/FAIL2/refund", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_rules_of_the_create_call_are_wechat_pays() {
    let (_server, client, sink) = setup().await;
    let param_error = |err: Error, field: &str| {
        let (status, code, message) = refusal(err);
        assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"), "{message}");
        assert!(message.contains(field), "{message} should name {field}");
    };
    // out_bill_no: letters and digits, at most 32.
    for no in ["plfk-2020", "A/../B", &"A".repeat(33)] {
        param_error(
            create(&client, &bill(no, 30, &sink.url)).await.unwrap_err(),
            "/out_bill_no",
        );
    }
    assert!(create(&client, &bill(&"A".repeat(32), 30, &sink.url))
        .await
        .is_ok());
    // transfer_remark: at most 32 characters.
    let mut body = bill("REMARK33", 30, &sink.url);
    body["transfer_remark"] = json!("备".repeat(33));
    param_error(
        create(&client, &body).await.unwrap_err(),
        "/transfer_remark",
    );
    body["transfer_remark"] = json!("备".repeat(32));
    assert!(create(&client, &body).await.is_ok());
    // Required fields (OA required[]), each named.
    for field in [
        "appid",
        "out_bill_no",
        "transfer_scene_id",
        "openid",
        "transfer_amount",
        "transfer_remark",
        "transfer_scene_report_infos",
    ] {
        let mut body = bill("MISSING1", 30, &sink.url);
        body.as_object_mut().unwrap().remove(field);
        param_error(
            create(&client, &body).await.unwrap_err(),
            &format!("/{field}"),
        );
    }
    let mut body = bill("SCENE1", 30, &sink.url);
    body["transfer_scene_id"] = json!("9999");
    param_error(
        create(&client, &body).await.unwrap_err(),
        "/transfer_scene_id",
    );
    body["transfer_scene_id"] = json!("1000");
    body["transfer_scene_report_infos"] = json!([{"info_type": "活动名称"}]);
    param_error(create(&client, &body).await.unwrap_err(), "info_content");
    // notify_url: the payments' rules (no query string).
    param_error(
        create(
            &client,
            &bill("NOTIFY1", 30, "https://merchant.example/n?x=1"),
        )
        .await
        .unwrap_err(),
        "/notify_url",
    );
    // From 2,000 元 on, user_name is required (FLOWS.md §8.1).
    param_error(
        create(&client, &bill("BIG1", 200_000, &sink.url))
            .await
            .unwrap_err(),
        "/user_name",
    );
    assert!(create(&client, &bill("BIG2", 199_999, &sink.url))
        .await
        .is_ok());
}

#[tokio::test]
async fn user_name_is_opened_with_the_key_wechatpay_serial_names() {
    let (_server, client, sink) = setup().await;
    // Encrypted for the WeChat Pay public key (the client's preferred key).
    let encryptor = client.encryptor().unwrap();
    let mut body = bill("NAMED1", 200_000, &sink.url);
    body["user_name"] = json!(encryptor.encrypt("张三").unwrap());
    let created: Value = client[BILLS]
        .post(Options::new().json(&body).encrypted_with(&encryptor))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(created["state"], "WAIT_USER_CONFIRM");
    // The query answers user_name encrypted for the merchant: its key opens it.
    let queried = query(&client, "NAMED1").await;
    assert_eq!(keys(&queried), query_fields(&["user_name"]));
    let merchant =
        openssl::pkey::PKey::private_key_from_pem(&common::read("merchant_key.pem")).unwrap();
    let opened = wechatpay_chain::crypto::rsa_oaep_decrypt(
        &merchant,
        queried["user_name"].as_str().unwrap(),
    );
    assert_eq!(opened.as_deref(), Some("张三".as_bytes()));
    // Sent in plaintext: WeChat Pay's words (FLOWS.md §9).
    let mut plain = bill("NAMED2", 200_000, &sink.url);
    plain["user_name"] = json!("张三");
    let (status, code, message) = refusal(create(&client, &plain).await.unwrap_err());
    assert_eq!((status, code.as_str()), (400, "PARAM_ERROR"));
    assert!(
        message.contains("请确认待处理的消息是否为加密后的密文"),
        "{message}"
    );
    // Encrypted for a key the request does not name.
    let mut body = bill("NAMED3", 200_000, &sink.url);
    body["user_name"] = json!(encryptor.encrypt("张三").unwrap());
    let err = client[BILLS]
        .post(Options::new().json(&body).header(
            "Wechatpay-Serial",
            "0000000000000000000000000000000000DEAD01",
        ))
        .await
        .unwrap_err();
    let (status, _, message) = refusal(err);
    assert_eq!(status, 400);
    // The schema check runs first: a ciphertext that no key the request
    // names opens is, to it, not a ciphertext (the mock's reading; WeChat
    // Pay publishes no wording for this case).
    assert_eq!(message, "请确认待处理的消息是否为加密后的密文");
}

#[tokio::test]
async fn a_reposted_bill_is_the_same_bill_and_other_parameters_are_refused() {
    let (_server, client, sink) = setup().await;
    let first = create(&client, &bill("REPOST1", 30, &sink.url))
        .await
        .unwrap();
    let second = create(&client, &bill("REPOST1", 30, &sink.url))
        .await
        .unwrap();
    assert_eq!(first, second, "the same bill, never a second one");
    let err = create(&client, &bill("REPOST1", 31, &sink.url))
        .await
        .unwrap_err();
    let (status, code, _) = refusal(err);
    assert_eq!((status, code.as_str()), (400, "INVALID_REQUEST"));
}

#[tokio::test]
async fn not_enough_money_is_refused_and_the_same_number_goes_through_after_a_top_up() {
    let (server, client, sink) = setup().await;
    server.set_transfer_balance(50);
    let err = create(&client, &bill("TOPUP1", 100, &sink.url))
        .await
        .unwrap_err();
    // The real body (FLOWS.md §8.2).
    assert_eq!(
        refusal(err),
        (403, "NOT_ENOUGH".to_owned(), NOT_ENOUGH.to_owned())
    );
    // The settings control tops it up, as the merchant would.
    let answer = reqwest::Client::new()
        .put(format!("{}_mock/settings", server.base_url()))
        .body(r#"{"transfer_balance_fen": 150}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let settings: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(settings["transfer_balance_fen"], 150);
    let created = create(&client, &bill("TOPUP1", 100, &sink.url))
        .await
        .unwrap();
    assert_eq!(created["state"], "WAIT_USER_CONFIRM");
    assert_eq!(server.transfer_balance(), 50);
}

#[tokio::test]
async fn the_front_ends_parameters_are_checked_as_the_wechat_client_does() {
    let (server, client, sink) = setup().await;
    let created = create(&client, &bill("PAGE1", 30, &sink.url))
        .await
        .unwrap();
    let page = client
        .invocation()
        .merchant_transfer_from_answer(APPID, &created)
        .unwrap();
    // Another WeChat user (FLOWS.md §8.4).
    let other = serde_json::to_value(page.clone().with_open_id("o-SOMEONE-ELSE")).unwrap();
    let (status, refused) = control(
        &server,
        "transfer-bills/PAGE1/confirm",
        Some(json!({"invocation": other})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(refused["message"], "你的微信号与商家指定的微信号不一致");
    let (status, refused) = control(
        &server,
        "transfer-bills/PAGE1/confirm",
        Some(json!({"openid": "o-SOMEONE-ELSE"})),
    )
    .await;
    assert_eq!(
        (status, refused["message"].as_str()),
        (403, Some("你的微信号与商家指定的微信号不一致"))
    );
    // A tampered package, another appid, another merchant: refused, nothing changes.
    let mut tampered = serde_json::to_value(&page).unwrap();
    tampered["package"] = json!(format!("{}A", page.package));
    let mut wrong_app = serde_json::to_value(&page).unwrap();
    wrong_app["appId"] = json!("wxd678efh567hg6787");
    let mut wrong_mch = serde_json::to_value(&page).unwrap();
    wrong_mch["mchId"] = json!("1900000001");
    for (params, field) in [
        (tampered, "package"),
        (wrong_app, "appId"),
        (wrong_mch, "mchId"),
    ] {
        let (status, refused) = control(
            &server,
            "transfer-bills/PAGE1/confirm",
            Some(json!({"invocation": params})),
        )
        .await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["detail"]["field"]
                .as_str()
                .unwrap()
                .ends_with(field),
            "{refused}"
        );
    }
    assert_eq!(query(&client, "PAGE1").await["state"], "WAIT_USER_CONFIRM");
    // The payee with the SDK's parameters.
    let with_openid = serde_json::to_value(page.with_open_id(OPENID)).unwrap();
    let (status, confirmed) = control(
        &server,
        "transfer-bills/PAGE1/confirm",
        Some(json!({"invocation": with_openid})),
    )
    .await;
    assert_eq!(
        (status, confirmed["state"].as_str()),
        (200, Some("SUCCESS"))
    );
    sink.wait_for(1).await;
}

#[tokio::test]
async fn a_partners_bill_lives_under_its_sub_merchant() {
    let (server, client, sink) = setup().await;
    let mut body = bill("PARTNER1", 30, &sink.url);
    body["sub_mchid"] = json!(SUB_MCHID);
    let created: Value = client[PARTNER_BILLS]
        .post(json!({ "json": body }))
        .await
        .unwrap()
        .json()
        .unwrap();
    // OA partner transfer-bills.yaml: sub_mchid comes back too.
    assert_eq!(
        keys(&created),
        set(&[
            "sub_mchid",
            "out_bill_no",
            "transfer_bill_no",
            "create_time",
            "state",
            "package_info"
        ])
    );
    let page = client
        .invocation()
        .merchant_transfer_from_answer(APPID, &created)
        .unwrap();
    assert_eq!(page.sub_mch_id.as_deref(), Some(SUB_MCHID));
    let path = "v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}";
    let queried: Value = client[path]
        .get(json!({"out_bill_no": "PARTNER1", "query": {"sub_mchid": SUB_MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    // OA partner query yaml: sub_mchid and mchid (not mch_id).
    assert_eq!(
        keys(&queried),
        set(&[
            "sub_mchid",
            "mchid",
            "out_bill_no",
            "transfer_bill_no",
            "appid",
            "state",
            "transfer_amount",
            "transfer_remark",
            "openid",
            "create_time",
            "update_time"
        ])
    );
    // Not the direct merchant's bill, nor another sub-merchant's.
    let err = client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"]
        .get(json!({ "out_bill_no": "PARTNER1" }))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).0, 404);
    let err = client[path]
        .get(json!({"out_bill_no": "PARTNER1", "query": {"sub_mchid": "1900000111"}}))
        .await
        .unwrap_err();
    assert_eq!(refusal(err).0, 404);
    // The confirm page needs subMchId; the control needs ?sub_mchid=.
    let mut without_sub = serde_json::to_value(&page).unwrap();
    without_sub.as_object_mut().unwrap().remove("subMchId");
    let (status, _) = control(
        &server,
        &format!("transfer-bills/PARTNER1/confirm?sub_mchid={SUB_MCHID}"),
        Some(json!({"invocation": without_sub})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(&server, "transfer-bills/PARTNER1/confirm", None).await;
    assert_eq!(status, 404);
    let confirmed = server
        .confirm_transfer("PARTNER1", Some(SUB_MCHID))
        .unwrap();
    assert_eq!(confirmed["state"], "SUCCESS");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].resource["sub_mchid"], SUB_MCHID);
    assert_eq!(got[0].resource["mchid"], MCHID);
    assert_eq!(got[0].resource["state"], "SUCCESS");

    // Cancel takes {sub_mchid} as its body (OA partner cancel yaml).
    let mut body = bill("PARTNER2", 30, &sink.url);
    body["sub_mchid"] = json!(SUB_MCHID);
    client[PARTNER_BILLS]
        .post(json!({ "json": body }))
        .await
        .unwrap();
    let cancelled: Value = client
        ["v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
        .post(json!({"out_bill_no": "PARTNER2", "json": {"sub_mchid": SUB_MCHID}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        keys(&cancelled),
        set(&[
            "sub_mchid",
            "out_bill_no",
            "transfer_bill_no",
            "state",
            "update_time"
        ])
    );
    assert_eq!(server.transfer_bills().len(), 2);
}

#[tokio::test]
async fn the_console_lists_the_bills_with_their_buttons() {
    let (server, client, sink) = setup().await;
    create(&client, &bill("CONSOLE1", 30, &sink.url))
        .await
        .unwrap();
    let html = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("CONSOLE1"), "the console shows the bill");
    for action in ["confirm", "decline", "fail", "expire"] {
        assert!(
            html.contains(&format!("/_mock/transfer-bills/CONSOLE1/{action}")),
            "a {action} button"
        );
    }
    let listed: Value = serde_json::from_slice(
        &reqwest::get(format!("{}_mock/transfer-bills", server.base_url()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed["data"][0]["out_bill_no"], "CONSOLE1");
}

#[tokio::test]
async fn hostile_input_is_refused_or_escaped_and_changes_nothing() {
    let (server, client, sink) = setup().await;
    // Markup in the remark and the openid reaches the console escaped.
    let mut body = bill("XSS1", 30, &sink.url);
    body["transfer_remark"] = json!("<script>alert(1)</script>");
    body["openid"] = json!("o-\"><img src=x onerror=alert(1)>");
    create(&client, &body).await.unwrap();
    let html = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert(1)"), "the remark is escaped");
    assert!(!html.contains("<img src=x"), "the openid is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // A huge remark, null values, an amount out of range: PARAM_ERROR each.
    let mut huge = bill("HUGE1", 30, &sink.url);
    huge["transfer_remark"] = json!("备".repeat(100_000));
    assert_eq!(
        refusal(create(&client, &huge).await.unwrap_err()).1,
        "PARAM_ERROR"
    );
    for (field, value) in [
        ("openid", Value::Null),
        ("transfer_amount", json!(0)),
        ("transfer_amount", json!(-1)),
        ("transfer_amount", json!(4_294_967_296_i64)),
        ("transfer_amount", json!("100")),
        ("user_name", json!(12)),
    ] {
        let mut body = bill("RANGE1", 30, &sink.url);
        body[field] = value;
        let (status, code, message) = refusal(create(&client, &body).await.unwrap_err());
        assert_eq!(
            (status, code.as_str()),
            (400, "PARAM_ERROR"),
            "{field}: {message}"
        );
        assert!(message.contains(field), "{message}");
    }
    // Controls on numbers that are no bill, with dot-segments or encoded
    // slashes: 404, nothing moves.
    for path in [
        "transfer-bills/..%2FXSS1/confirm",
        "transfer-bills/XSS1%2F..%2F/confirm",
        "transfer-bills/NOPE/expire",
    ] {
        let (status, _) = control(&server, path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    // A fail_reason that is not WeChat Pay's never reaches a bill.
    let (status, _) = control(
        &server,
        "transfer-bills/XSS1/fail?fail_reason=%3Cb%3E",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(query(&client, "XSS1").await["state"], "WAIT_USER_CONFIRM");
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn the_clock_ends_an_unconfirmed_bill_after_24_hours_and_a_cancel_after_its_delay() {
    let (server, client, sink) = setup().await;
    // A cancel takes an hour on the clock (the refunds' delay setting).
    server.auto_resolve_refunds(Some(std::time::Duration::from_secs(3600)));
    create(&client, &bill("CLOCK24", 100, &sink.url))
        .await
        .unwrap();
    create(&client, &bill("CLOCKCANCEL", 200, &sink.url))
        .await
        .unwrap();
    let balance = server.transfer_balance();
    client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
        .post(json!({ "out_bill_no": "CLOCKCANCEL" }))
        .await
        .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    // The cancel goes through an hour on: the walk says so, in order.
    let moved = server.advance_clock(hour).await.unwrap();
    let ended: Vec<&Value> = moved
        .iter()
        .filter(|m| m["event"] == "transfer_bill.finished")
        .collect();
    assert_eq!(ended.len(), 1, "{moved:?}");
    assert_eq!(ended[0]["out_bill_no"], "CLOCKCANCEL");
    assert_eq!(ended[0]["state"], "CANCELLED");
    check_finished(&sink.wait_for(1).await[0], "CANCELLED", None);
    assert_eq!(
        query(&client, "CLOCK24").await["state"],
        "WAIT_USER_CONFIRM"
    );

    // FLOWS.md §8.2: not confirmed within 24 h → FAIL, with a notification.
    let moved = server.advance_clock(22 * hour).await.unwrap();
    assert!(
        !moved.iter().any(|m| m["event"] == "transfer_bill.finished"),
        "23 h after its creation the bill still waits: {moved:?}"
    );
    let moved = server.advance_clock(hour).await.unwrap();
    let ended: Vec<&Value> = moved
        .iter()
        .filter(|m| m["event"] == "transfer_bill.finished")
        .collect();
    assert_eq!(ended.len(), 1, "{moved:?}");
    assert_eq!(ended[0]["out_bill_no"], "CLOCK24");
    assert_eq!(ended[0]["state"], "FAIL");
    let got = sink.wait_for(2).await;
    let fail_reason = ended[0]["fail_reason"].as_str();
    // §8.2: OVERDUE_CLOSE exists; no source ties it to the 24 h case, so
    // only its being one of the documented reasons is asserted.
    assert!(fail_reason.is_some_and(|r| r.chars().all(|c| c.is_ascii_uppercase() || c == '_')));
    check_finished(&got[1], "FAIL", fail_reason);
    let queried = query(&client, "CLOCK24").await;
    assert_eq!(queried["state"], "FAIL");
    assert_eq!(
        server.transfer_balance(),
        balance + 300,
        "both amounts went back to the operating account"
    );
}

/// A cancel that went through while a move of the clock waited for a
/// notification on its way (the ticker waits for the walk) is walked too:
/// reported, and ended at its own time, not at the end of the move.
#[tokio::test]
async fn a_cancel_due_while_a_move_waits_is_walked_at_its_time() {
    let (server, client, sink) = setup().await;
    server.auto_resolve_refunds(Some(std::time::Duration::from_secs(1)));
    // A merchant endpoint that takes 2.5 s to answer: the move waits for it.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}/slow", slow.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::post(|| async {
            tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    tokio::spawn(async move { axum::serve(slow, app).await });
    create(&client, &bill("EARLYCANCEL", 100, &sink.url))
        .await
        .unwrap();
    let canceled: Value = client
        ["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
        .post(json!({ "out_bill_no": "EARLYCANCEL" }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(canceled["state"], "CANCELING");
    let asked =
        wechatpay_chain::clock::parse_rfc3339(canceled["update_time"].as_str().unwrap()).unwrap();
    let order = common::flows::jsapi_order("SLOWPAY1", &slow_url, 100);
    client["v3/pay/transactions/jsapi"]
        .post(json!({ "json": order }))
        .await
        .unwrap();
    server.pay_transaction("SLOWPAY1", None).unwrap();
    // The notification is on its way (the ticker starts it within 20 ms).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let moved = server
        .advance_clock(std::time::Duration::from_secs(86_400))
        .await
        .unwrap();
    let ended: Vec<&Value> = moved
        .iter()
        .filter(|m| m["event"] == "transfer_bill.finished")
        .collect();
    assert_eq!(ended.len(), 1, "{moved:?}");
    assert_eq!(ended[0]["state"], "CANCELLED");
    // The cancel took its second on the clock, not the day the move made.
    let ended_at = wechatpay_chain::clock::rfc3339(asked + 1);
    assert_eq!(ended[0]["time"], ended_at.as_str());
    let queried = query(&client, "EARLYCANCEL").await;
    assert_eq!(queried["state"], "CANCELLED");
    assert_eq!(queried["update_time"], ended_at.as_str());
    check_finished(&sink.wait_for(1).await[0], "CANCELLED", None);
}

/// An operating account set to the most a balance holds ("enough for
/// anything": `--transfer-balance 9223372036854775807`) still takes back
/// the amount of a bill that ends FAIL: it stays full, nothing overflows.
#[tokio::test]
async fn a_full_operating_account_takes_a_failed_amount_back() {
    let (server, client, sink) = setup().await;
    create(&client, &bill("FULLACCOUNT1", 100, &sink.url))
        .await
        .unwrap();
    server.set_transfer_balance(i64::MAX);
    let ended = server.expire_transfer("FULLACCOUNT1", None).unwrap();
    assert_eq!(ended["state"], "FAIL");
    assert_eq!(server.transfer_balance(), i64::MAX);
    assert_eq!(query(&client, "FULLACCOUNT1").await["state"], "FAIL");
}

#[tokio::test]
async fn a_lower_retention_forgets_the_oldest_bills() {
    let (server, client, sink) = setup().await;
    for no in ["KEEP1", "KEEP2", "KEEP3"] {
        create(&client, &bill(no, 100, &sink.url)).await.unwrap();
    }
    server.set_retention(2);
    let forgotten = client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"]
        .get(json!({ "out_bill_no": "KEEP1" }))
        .await
        .unwrap_err();
    assert_eq!(refusal(forgotten).0, 404);
    assert_eq!(query(&client, "KEEP3").await["state"], "WAIT_USER_CONFIRM");
    create(&client, &bill("KEEP4", 100, &sink.url))
        .await
        .unwrap();
    assert_eq!(server.transfer_bills().len(), 2);
    let (status, settings) =
        common::flows::control_at(server.base_url(), "GET", "settings", None).await;
    assert_eq!((status, settings["retention"].as_u64()), (200, Some(2)));
    // Past the most a store may keep: refused through the control, held to
    // it in process; a refusal changes nothing.
    let (status, refused) = common::flows::control_at(
        server.base_url(),
        "PUT",
        "settings",
        Some(json!({"retention": wechatpay_chain::mock::MAX_RETENTION + 1})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("100000"),
        "{refused}"
    );
    assert_eq!(server.retention(), 2);
    server.set_retention(usize::MAX);
    assert_eq!(server.retention(), wechatpay_chain::mock::MAX_RETENTION);
}
