//! What a new merchant trips on in the first hour (issue 27): errors that
//! say what WeChat Pay said, options mistakes that name the likely fix, a
//! builder that refuses the APIv2 key given as the APIv3 key, and a client
//! in another process reaching the mock through `WECHATPAY_PROFILE`.

mod common;

use std::process::Command;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{Client, ClientBuilder, Error};

use common::flows::jsapi_order;

/// The builder of the mock's merchant with another `mchid`: WeChat Pay
/// then answers 401 SIGN_ERROR (FLOWS.md §1.5) and says why in `detail`.
#[tokio::test]
async fn api_error_display_names_the_detail() {
    let server = MockServer::start().await.unwrap();
    let client = server.client_builder().mchid("1900000000").build().unwrap();
    let err = client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("FH0001", "http://127.0.0.1:9/notify", 1)}))
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("{err:?}")
    };
    let issue = api.detail.as_ref().unwrap()["issue"].as_str().unwrap();
    assert!(!issue.is_empty());
    // The status, code and message as FLOWS.md §1.5 lists them, then the issue.
    assert_eq!(
        err.to_string(),
        format!(
            "WeChat Pay answered 401 SIGN_ERROR: 签名错误 (detail: issue: {issue}) (Request-ID {})",
            api.request_id.as_deref().unwrap()
        )
    );
    let debug = format!("{err:?}");
    assert!(debug.contains("签名错误"), "{debug}");
    assert!(!debug.contains("\\xe7"), "{debug}");
}

/// Serves one raw HTTP answer to the first connection; returns its base URL.
async fn one_answer(answer: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0; 65536];
        let _ = socket.read(&mut buffer).await;
        socket.write_all(&answer).await.unwrap();
        let _ = socket.shutdown().await;
    });
    format!("http://{address}/")
}

/// A hostile answer: a huge issue with a forged log line, a signature and a
/// cookie header. `Display` stays one bounded line; `Debug` shows the body
/// as text, never the signature or the cookie.
#[tokio::test]
async fn api_error_is_bounded_and_keeps_no_signature() {
    let issue = format!("first\nFORGED LOG LINE{}", "x".repeat(5000));
    let body = json!({"code": "PARAM_ERROR", "message": "参数错误",
                      "detail": {"field": "/amount/total", "value": "secret-ish value", "issue": issue, "location": "body"}})
    .to_string();
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nrequest-id: 08F7-HOSTILE\r\n\
         wechatpay-signature: SIGNATURE-VALUE-NOT-TO-SHOW\r\nset-cookie: session=COOKIE-NOT-TO-SHOW\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let base = one_answer([head.into_bytes(), body.into_bytes()].concat()).await;
    let client = common::client(&base);
    let err = client["v3/pay/transactions/id/{transaction_id}"]
        .get(json!({"transaction_id": "4200000000", "query": {"mchid": "1900000109"}}))
        .await
        .unwrap_err();
    let display = err.to_string();
    assert!(
        display.starts_with(
            "WeChat Pay answered 400 PARAM_ERROR: 参数错误 (detail: field: /amount/total, issue: first FORGED LOG LINExxx"
        ),
        "{display}"
    );
    assert!(
        display.contains("… (4509 more characters)) (Request-ID 08F7-HOSTILE)"),
        "{display}"
    );
    assert!(!display.contains('\n'));
    assert!(!display.contains("secret-ish value"));
    let debug = format!("{err:?}");
    assert!(!debug.contains("SIGNATURE-VALUE-NOT-TO-SHOW"), "{debug}");
    assert!(!debug.contains("COOKIE-NOT-TO-SHOW"), "{debug}");
    assert!(
        debug.contains(r#"("request-id", "08F7-HOSTILE")"#),
        "{debug}"
    );
    assert!(
        debug.contains(r#"body: "{\"code\":\"PARAM_ERROR\",\"message\":\"参数错误\""#),
        "{debug}"
    );
    assert!(debug.len() < 12_000, "{}", debug.len());
}

/// The first thing a Go, Java or Stripe developer writes: the body at the
/// top of the options; and a misspelt placeholder.
#[tokio::test]
async fn options_mistakes_name_the_likely_fix() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();

    // A body object at the top: the body goes under "json".
    let err = client["v3/pay/transactions/jsapi"]
        .post(jsapi_order("FH0002", "http://127.0.0.1:9/notify", 1))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"option `amount`: got an object: a request body goes under "json" ({"json": {"amount": …}}), query parameters under "query"; a placeholder value is a string or number"#
    );

    // Only strings at the top: the first body field is named.
    let err = client["v3/pay/transactions/jsapi"]
        .post(json!({"appid": "wxd678efh567hg6787", "mchid": "1900000109"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"option `appid` is neither a placeholder of `v3/pay/transactions/jsapi` nor a reserved key (json, query, headers, body; xml, security, nonceless for APIv2): a request body goes under "json" ({"json": {"appid": …}}), query parameters under "query""#
    );

    // A misspelt placeholder: the one it was meant to be.
    let err = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_n": "FH0002", "query": {"mchid": "1900000109"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOption { key, hint, .. } if key == "out_trade_n" && hint == ": did you mean `out_trade_no`?"),
        "{err}"
    );
    assert!(err.to_string().ends_with(": did you mean `out_trade_no`?"));

    // A misspelt reserved key.
    let err = client["v3/pay/transactions/jsapi"]
        .post(json!({"jsno": {"appid": "wxd678efh567hg6787"}}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`jsno`"), "{err}");
    assert!(
        err.to_string()
            .contains(r#"a request body goes under "json""#),
        "{err}"
    );

    // Nothing alike: no guess.
    let err = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
        .get(json!({"out_trade_no": "FH0002", "zzzzzz": "1"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOption { hint, .. } if hint.is_empty()),
        "{err}"
    );
    // None of these reached the server.
    assert_eq!(server.hits("POST", "/v3/pay/transactions/jsapi"), 0);
}

/// The APIv2 key given as the APIv3 key (both 32 characters) is refused at
/// build, not at the first notification.
#[test]
fn equal_apiv3_and_apiv2_keys_are_refused_at_build() {
    let key = "192006250b4c09247ec02edce69f6a2d";
    let err = common_builder()
        .apiv3_key(key)
        .apiv2_key(key)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "client configuration: the APIv3 key and the APIv2 key are the same: they are two different keys \
         (商户平台 → API安全 → APIv3密钥 for .apiv3_key(…), → API密钥 for .apiv2_key(…)); \
         with the wrong one notifications and certificate downloads fail to decrypt"
    );
    assert!(!format!("{err:?}").contains(key));
    // Different keys build.
    common_builder()
        .apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")
        .apiv2_key(key)
        .build()
        .unwrap();
}

fn common_builder() -> ClientBuilder {
    Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .platform_certificate_file(common::data("platform_cert.pem"))
}

/// The variable the child run of [`builder_from_env`] reads its case from.
const CASE: &str = "FIRST_HOUR_PROFILE_CASE";

/// `ClientBuilder::from_env()` in a process of its own (this test binary
/// run again), as a merchant's app reaches `wxpay mock`: unset, missing,
/// not a profile, and a working profile answering a real order.
#[tokio::test]
async fn builder_from_env() {
    if let Ok(case) = std::env::var(CASE) {
        return child(&case).await;
    }
    let server = MockServer::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("first-hour-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let profile = server.write_profile(&dir).unwrap();
    let not_a_profile = dir.join("not-a-profile.json");
    std::fs::write(&not_a_profile, "[1, 2]").unwrap();
    let missing = dir.join("missing.json");
    for (case, value) in [
        ("unset", None),
        ("missing", Some(&missing)),
        ("invalid", Some(&not_a_profile)),
        ("works", Some(&profile)),
    ] {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "builder_from_env", "--nocapture"])
            .env(CASE, case)
            .env_remove("WECHATPAY_PROFILE");
        if let Some(path) = value {
            command.env("WECHATPAY_PROFILE", path);
        }
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "case {case}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(server.transactions().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One case of [`builder_from_env`], in the child process.
async fn child(case: &str) {
    let how = "start the mock with `wxpay mock --dir /tmp/wxpay` (it writes /tmp/wxpay/mock.json \
               before it says it is listening) and set WECHATPAY_PROFILE=/tmp/wxpay/mock.json, \
               or configure the client with Client::builder()";
    let profile = std::env::var("WECHATPAY_PROFILE").unwrap_or_default();
    match case {
        "unset" => {
            let err = ClientBuilder::from_env().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("client configuration: WECHATPAY_PROFILE is not set: {how}")
            );
        }
        "missing" => {
            let err = ClientBuilder::from_env().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("client configuration: profile {profile} does not exist: {how}")
            );
        }
        "invalid" => {
            let err = ClientBuilder::from_env().unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "client configuration: profile {profile} is not a profile ("
                )),
                "{text}"
            );
            assert!(
                text.ends_with("): give the mock.json `wxpay mock --dir DIR` writes, or a file of the same shape"),
                "{text}"
            );
        }
        "works" => {
            let client = ClientBuilder::from_env().unwrap().build().unwrap();
            let res = client["v3/pay/transactions/jsapi"]
                .post(json!({"json": jsapi_order("FH0003", "http://127.0.0.1:9/notify", 1)}))
                .await
                .unwrap();
            assert!(res.verified_by().is_some());
            assert!(res.json::<serde_json::Value>().unwrap()["prepay_id"].is_string());
        }
        other => panic!("unknown case {other}"),
    }
}
