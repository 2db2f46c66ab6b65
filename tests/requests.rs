//! The chain client against a real HTTP server on loopback (httpmock): the
//! payscore seed examples, what goes on the wire, and every way a response
//! can fail verification.

mod common;

use std::sync::{Arc, Mutex};

use common::{
    check_request, client, signed_headers, unix_now, SignWith, PLATFORM_SERIAL, PUBLIC_KEY_ID,
};
use httpmock::prelude::*;
use wechatpay_chain::{chain, json, Error, Options, Value, VerifyError};

const ORDER_NO: &str = "1234323JKHDFE1243252";

fn modify_body() -> Value {
    json!({
        "appid": "wxd678efh567hg6787",
        "service_id": "2002000000000558128851361561536",
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
        "total_amount": 39800,
        "reason": "用户投诉",
        "device": {"start_device_id": "HG123456", "end_device_id": "HG123456", "materiel_no": "example_materiel_no"},
    })
}

fn order_json(state: &str) -> String {
    json!({
        "appid": "wxd678efh567hg6787", "mchid": "1900000109", "out_order_no": ORDER_NO,
        "service_id": "2002000000000558128851361561536", "state": state, "state_description": "MCH_COMPLETE",
        "total_amount": 39800, "order_id": "15646546545165651651",
        "collection": {"state": "USER_PAYING", "total_amount": 39800, "paying_amount": 39800, "paid_amount": 0},
    })
    .to_string()
}

/// A mock answering `status` with `body`, signed as `with`, for requests
/// whose signature checks out; the request targets it saw are recorded.
async fn signed_mock<'a>(
    server: &'a MockServer,
    method: httpmock::Method,
    path: &str,
    status: u16,
    body: &str,
    headers: Vec<(&'static str, String)>,
) -> (httpmock::Mock<'a>, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let mock = server
        .mock_async(|when, then| {
            let when = when.method(method).path(path).is_true(move |req| {
                record.lock().unwrap().push(common::target(req).to_owned());
                match check_request(req) {
                    Ok(()) => true,
                    Err(why) => {
                        eprintln!("request rejected: {why}");
                        false
                    }
                }
            });
            let _ = when;
            common::with_headers(then.status(status).body(body), headers);
        })
        .await;
    (mock, seen)
}

#[tokio::test]
async fn seed_direct_modify_answers_200_with_the_order_in_all_three_styles() {
    let server = MockServer::start_async().await;
    let body = order_json("DOING");
    let headers = signed_headers(body.as_bytes(), SignWith::PublicKey, unix_now());
    let path = format!("/v3/payscore/serviceorder/{ORDER_NO}/modify");
    let (mock, _) = signed_mock(&server, POST, &path, 200, &body, headers).await;
    let client = client(&server.base_url());
    let options = || json!({"out_order_no": ORDER_NO, "json": modify_body()});

    let a = client
        .chain("v3/payscore/serviceorder/{out_order_no}/modify")
        .post(options())
        .await
        .unwrap();
    let b = client["v3/payscore/serviceorder/{out_order_no}/modify"]
        .post(options())
        .await
        .unwrap();
    let c = chain!(client.v3.payscore.serviceorder._out_order_no_.modify)
        .post(options())
        .await
        .unwrap();
    mock.assert_calls_async(3).await;
    for res in [a, b, c] {
        assert_eq!(res.status(), 200);
        assert_eq!(res.verified_by(), Some(PUBLIC_KEY_ID));
        assert_eq!(res.request_id(), Some("08F78BB5AF0D11ED8E1C0A58E7B4E7A4"));
        let order: Value = res.json().unwrap();
        assert_eq!(order["out_order_no"], ORDER_NO);
        assert_eq!(order["total_amount"], 39800);
    }
}

#[tokio::test]
async fn seed_partner_modify_answers_204_signed_over_an_empty_body() {
    let server = MockServer::start_async().await;
    let headers = signed_headers(b"", SignWith::Certificate, unix_now());
    let path = format!("/v3/payscore/partner/serviceorder/{ORDER_NO}/modify");
    let (mock, _) = signed_mock(&server, POST, &path, 204, "", headers).await;
    let client = client(&server.base_url());
    let mut body = modify_body();
    body["sub_mchid"] = json!("1900000110");

    let res = client["v3/payscore/partner/serviceorder/{out_order_no}/modify"]
        .post(json!({"out_order_no": ORDER_NO, "json": body}))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().is_empty());
    assert_eq!(res.verified_by(), Some(PLATFORM_SERIAL));
    assert!(matches!(
        res.json::<Value>(),
        Err(Error::Decode { status: 204, .. })
    ));
}

#[tokio::test]
async fn seed_sync_answers_200_with_the_order() {
    let server = MockServer::start_async().await;
    let body = order_json("DONE");
    let headers = signed_headers(body.as_bytes(), SignWith::Certificate, unix_now());
    let path = format!("/v3/payscore/serviceorder/{ORDER_NO}/sync");
    let (mock, _) = signed_mock(&server, POST, &path, 200, &body, headers).await;
    let client = client(&server.base_url());

    let res = chain!(client.v3.payscore.serviceorder._out_order_no_.sync)
        .post(Options::new().path("out_order_no", ORDER_NO).json(
            &json!({"appid": "wxd678efh567hg6787", "service_id": "2002000000000558128851361561536",
                              "type": "Order_Paid", "detail": {"paid_time": "20091225091210"}}),
        ))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(res.json::<Value>().unwrap()["state"], "DONE");
}

#[tokio::test]
async fn requests_carry_accept_user_agent_content_type_and_the_preferred_serial() {
    let server = MockServer::start_async().await;
    let body = "{}";
    let headers = signed_headers(body.as_bytes(), SignWith::PublicKey, unix_now());
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/v3/pay/transactions/native")
                .header("accept", "application/json")
                .header("content-type", "application/json")
                .header("wechatpay-serial", PUBLIC_KEY_ID)
                .body(r#"{"b":1,"a":2}"#)
                .is_true(common::request_is_signed);
            common::with_headers(then.status(200).body(body), headers);
        })
        .await;
    let client = client(&server.base_url());
    // key order is kept: the signed bytes are the sent bytes
    client["v3/pay/transactions/native"]
        .post(json!({"json": {"b": 1, "a": 2}}))
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn placeholder_values_are_one_encoded_segment_whatever_they_contain() {
    let server = MockServer::start_async().await;
    let body = "{}";
    let headers = signed_headers(body.as_bytes(), SignWith::PublicKey, unix_now());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).is_true(move |req| {
                record.lock().unwrap().push(common::target(req).to_owned());
                common::request_is_signed(req)
            });
            common::with_headers(then.status(200).body(body), headers);
        })
        .await;
    let client = client(&server.base_url());
    let cases = [
        ("../x", "/v3/pay/transactions/id/..%2Fx?mchid=1900000109"),
        ("a/b", "/v3/pay/transactions/id/a%2Fb?mchid=1900000109"),
        (
            "a?b=c",
            "/v3/pay/transactions/id/a%3Fb%3Dc?mchid=1900000109",
        ),
        ("a#b", "/v3/pay/transactions/id/a%23b?mchid=1900000109"),
        ("100%", "/v3/pay/transactions/id/100%25?mchid=1900000109"),
        (
            "中文",
            "/v3/pay/transactions/id/%E4%B8%AD%E6%96%87?mchid=1900000109",
        ),
        (" ", "/v3/pay/transactions/id/%20?mchid=1900000109"),
        ("a%2Fb", "/v3/pay/transactions/id/a%252Fb?mchid=1900000109"),
    ];
    for (value, _) in cases {
        client
            .chain("v3/pay/transactions/id/{transaction_id}")
            .get(
                Options::new()
                    .path("transaction_id", value)
                    .query("mchid", "1900000109"),
            )
            .await
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
    }
    mock.assert_calls_async(cases.len()).await;
    let seen = seen.lock().unwrap().clone();
    let expected: Vec<&str> = cases.iter().map(|c| c.1).collect();
    // each request was matched once per mock evaluation; keep distinct ones in order
    let mut distinct: Vec<String> = Vec::new();
    for s in seen {
        if distinct.last() != Some(&s) {
            distinct.push(s);
        }
    }
    assert_eq!(distinct, expected);
}

#[tokio::test]
async fn query_values_are_encoded_and_kept_in_order_and_base_path_is_signed() {
    let server = MockServer::start_async().await;
    let body = "{}";
    let headers = signed_headers(body.as_bytes(), SignWith::Certificate, unix_now());
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .is_true(|req| {
                    common::target(req) == "/hk/v3/certificates?z=1&a=x%26y%3Dz&sp=%20%2B"
                })
                .is_true(common::request_is_signed);
            common::with_headers(then.status(200).body(body), headers);
        })
        .await;
    let client = client(&format!("{}/hk", server.base_url()));
    client
        .chain("v3/certificates")
        .get(json!({"query": {"z": 1, "a": "x&y=z", "sp": " +"}}))
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn option_mistakes_fail_before_anything_is_sent() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|_, then| {
            then.status(500);
        })
        .await;
    let client = client(&server.base_url());
    let node = client.chain("v3/payscore/serviceorder/{out_order_no}/modify");

    let err = node.post(json!({"json": {}})).await.unwrap_err();
    assert!(
        matches!(&err, Error::MissingPlaceholder { name, .. } if name == "out_order_no"),
        "{err}"
    );
    let err = node
        .post(json!({"out_order_no": "1", "out_trade_no": "2"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOption { key, .. } if key == "out_trade_no"),
        "{err}"
    );
    let err = node
        .post(json!({"out_order_no": {"x": 1}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key == "out_order_no"),
        "{err}"
    );
    let err = node.post(json!({"out_order_no": ""})).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidOption { .. }), "{err}");
    let err = node.post(json!({"out_order_no": ".."})).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidOption { .. }), "{err}");
    let err = node
        .post(json!({"out_order_no": "1", "query": {"a": [1]}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key == "query.a"),
        "{err}"
    );
    let err = node
        .post(json!({"out_order_no": "1", "headers": {"Authorization": "x"}}))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidOption { .. }), "{err}");
    let err = node.post(json!(["not", "a", "map"])).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key == "options"),
        "{err}"
    );
    let err = node
        .post(Options::new().path("out_order_no", "1").json(&1).body("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key == "body"),
        "{err}"
    );
    let err = client.chain("v3/x?y=1").get(()).await.unwrap_err();
    assert!(matches!(&err, Error::Template { .. }), "{err}");
    let err = client
        .chain("v3/x/{+rest}")
        .get(json!({"rest": "a"}))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Template { .. }), "{err}");
    let err = node
        .post(json!({"out_order_no": "1", "xml": {"a": 1}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key == "xml"),
        "{err}"
    );
    // APIv2 without the APIv2 key: refused before sending
    let err = client.chain("v2/pay/micropay").post(()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("APIv2 key")),
        "{err}"
    );
    mock.assert_calls_async(0).await;
}

#[tokio::test]
async fn non_2xx_is_an_api_error_with_code_message_detail_and_request_id() {
    let server = MockServer::start_async().await;
    let body = r#"{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/currency","value":"XYZ","issue":"不支持的币种","location":"body"}}"#;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(400).header("Request-ID", "REQ-400").body(body);
        })
        .await;
    let client = client(&server.base_url());
    let err = client["v3/pay/transactions/native"]
        .post(json!({"json": {}}))
        .await
        .unwrap_err();
    let Error::Api(api) = err else {
        panic!("{err}")
    };
    assert_eq!(api.status, 400);
    assert_eq!(api.code, "PARAM_ERROR");
    assert_eq!(api.message, "参数错误");
    assert_eq!(api.detail.as_ref().unwrap()["field"], "/amount/currency");
    assert_eq!(api.request_id.as_deref(), Some("REQ-400"));
    assert_eq!(&api.body[..], body.as_bytes());
}

/// Answers one request with `status`/`body` and the given headers; returns
/// the error (or success) the client reports.
async fn answer(
    headers: Vec<(&'static str, String)>,
    body: &str,
    path: &str,
) -> Result<wechatpay_chain::Response, Error> {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            common::with_headers(then.status(200).body(body), headers);
        })
        .await;
    client(&server.base_url()).chain(path).get(()).await
}

fn verify_kind(result: Result<wechatpay_chain::Response, Error>) -> VerifyError {
    match result {
        Err(Error::Verify { kind, .. }) => kind,
        other => panic!("expected a verification error, got {other:?}"),
    }
}

#[tokio::test]
async fn each_verification_failure_is_rejected_with_its_own_error() {
    let body = r#"{"ok":true}"#;
    let good = || signed_headers(body.as_bytes(), SignWith::Certificate, unix_now());

    // sanity: the untouched answer passes
    answer(good(), body, "v3/x").await.unwrap();

    for missing in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ] {
        let headers = good().into_iter().filter(|(n, _)| *n != missing).collect();
        assert_eq!(
            verify_kind(answer(headers, body, "v3/x").await),
            VerifyError::MissingHeader(missing)
        );
    }
    for offset in [-310, 310] {
        let ts = unix_now() + offset;
        let kind = verify_kind(
            answer(
                signed_headers(body.as_bytes(), SignWith::Certificate, ts),
                body,
                "v3/x",
            )
            .await,
        );
        assert!(
            matches!(kind, VerifyError::StaleTimestamp { timestamp, .. } if timestamp == ts),
            "{kind}"
        );
    }
    let now = unix_now();
    for bad in [
        format!("{now}O"),
        format!("-{now}"),
        format!("+{now}"),
        format!("{now}.0"),
        format!("{now:x}"),
        String::new(),
    ] {
        let headers = common::replace_header(good(), "Wechatpay-Timestamp", &bad);
        let kind = verify_kind(answer(headers, body, "v3/x").await);
        assert!(
            matches!(
                kind,
                VerifyError::InvalidTimestamp(_) | VerifyError::MissingHeader(_)
            ),
            "{bad:?}: {kind}"
        );
    }
    let headers = common::replace_header(good(), "Wechatpay-Serial", "0123456789ABCDEF");
    assert_eq!(
        verify_kind(answer(headers, body, "v3/x").await),
        VerifyError::UnknownSerial("0123456789ABCDEF".into())
    );

    let tampered = r#"{"ok":false}"#;
    assert_eq!(
        verify_kind(answer(good(), tampered, "v3/x").await),
        VerifyError::SignatureMismatch {
            serial: PLATFORM_SERIAL.into()
        }
    );
    let signed = good();
    let signature = signed
        .iter()
        .find(|(n, _)| *n == "Wechatpay-Signature")
        .unwrap()
        .1
        .clone();
    let probe = common::replace_header(
        signed,
        "Wechatpay-Signature",
        &format!("WECHATPAY/SIGNTEST/{signature}"),
    );
    assert_eq!(
        verify_kind(answer(probe, body, "v3/x").await),
        VerifyError::ProbeSignature
    );
    let wrong_key = signed_headers(body.as_bytes(), SignWith::WrongKey, unix_now());
    assert_eq!(
        verify_kind(answer(wrong_key, body, "v3/x").await),
        VerifyError::SignatureMismatch {
            serial: PLATFORM_SERIAL.into()
        }
    );
    let other_type = common::replace_header(
        good(),
        "Wechatpay-Signature-Type",
        "WECHATPAY2-SM2-WITH-SM3",
    );
    assert!(matches!(
        verify_kind(answer(other_type, body, "v3/x").await),
        VerifyError::UnsupportedSignatureType(_)
    ));
    // an unsigned 2xx is forged
    assert_eq!(
        verify_kind(answer(vec![], body, "v3/x").await),
        VerifyError::MissingHeader("Wechatpay-Timestamp")
    );
}

#[tokio::test]
async fn unsigned_downloads_are_exempt_and_opting_out_is_explicit() {
    let csv = "`交易时间,`公众账号ID\n";
    let res = answer(vec![], csv, "v3/billdownload/file").await.unwrap();
    assert_eq!(res.text(), csv);
    assert_eq!(res.verified_by(), None);
    answer(vec![], csv, "v3/merchant-service/images/abc123")
        .await
        .unwrap();
    // the image *upload* is signed, like everything else
    assert!(answer(vec![], csv, "v3/merchant-service/images/upload")
        .await
        .is_err());

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).body("{}");
        })
        .await;
    let client = client(&server.base_url());
    let res = client
        .chain("v3/anything")
        .get(Options::new().skip_verification())
        .await
        .unwrap();
    assert_eq!(res.verified_by(), None);
    assert!(client.chain("v3/anything").get(()).await.is_err());
}

#[tokio::test]
async fn nodes_are_futures_that_can_be_spawned() {
    let server = MockServer::start_async().await;
    let body = "{}";
    let headers = signed_headers(body.as_bytes(), SignWith::PublicKey, unix_now());
    let (mock, _) = signed_mock(&server, GET, "/v3/x", 200, body, headers).await;
    let client = client(&server.base_url());
    let tasks: Vec<_> = (0..4)
        .map(|_| tokio::spawn(client["v3/x"].get(())))
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    mock.assert_calls_async(4).await;
}

#[tokio::test]
async fn an_oversized_answer_is_refused_not_buffered() {
    let server = MockServer::start_async().await;
    let huge = "x".repeat(wechatpay_chain::client::MAX_RESPONSE_BYTES + 1);
    common::respond(&server, None, 200, huge).await;
    let err = client(&server.base_url())
        .chain("v3/x")
        .get(())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResponseTooLarge { .. }), "{err}");
}

#[tokio::test]
async fn json_opt_reads_a_204_as_none_and_a_200_as_some() {
    let server = MockServer::start_async().await;
    let order = r#"{"out_order_no":"1234323JKHDFE1243252","total_amount":39900}"#;
    let direct = signed_headers(order.as_bytes(), SignWith::PublicKey, unix_now());
    signed_mock(
        &server,
        POST,
        "/v3/payscore/serviceorder/1234323JKHDFE1243252/modify",
        200,
        order,
        direct,
    )
    .await;
    let partner = signed_headers(b"", SignWith::PublicKey, unix_now());
    signed_mock(
        &server,
        POST,
        "/v3/payscore/partner/serviceorder/1234323JKHDFE1243252/modify",
        204,
        "",
        partner,
    )
    .await;
    let client = client(&server.base_url());
    let options = json!({"out_order_no": "1234323JKHDFE1243252", "json": {"total_amount": 39900}});
    let res = client["v3/payscore/serviceorder/{out_order_no}/modify"]
        .post(options.clone())
        .await
        .unwrap();
    let got: Option<Value> = res.json_opt().unwrap();
    assert_eq!(got.unwrap()["total_amount"], 39900);
    let res = client["v3/payscore/partner/serviceorder/{out_order_no}/modify"]
        .post(options)
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.json_opt::<Value>().unwrap().is_none());
    assert!(
        res.json::<Value>().is_err(),
        "json() still refuses an empty body"
    );
}

#[test]
fn options_clone_keeps_values_and_errors() {
    let bad = Options::new().header("Authorization", "x");
    let copy = bad.clone();
    let client = client("https://api.mch.weixin.qq.com/");
    for options in [bad, copy] {
        let err = client["v3/x"]
            .prepare(wechatpay_chain::Method::GET, options)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
    }
    let good = Options::new()
        .query("a", "1")
        .header(String::from("X-Trace"), String::from("t"));
    let request = client["v3/x"]
        .prepare(wechatpay_chain::Method::GET, good.clone())
        .unwrap();
    assert_eq!(request.url().query(), Some("a=1"));
    assert_eq!(request.headers()["x-trace"], "t");
}
