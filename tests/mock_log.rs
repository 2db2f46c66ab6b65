//! The mock talks: every request a client sends is logged with what the mock
//! made of it (`MockServer::requests`, `GET /_mock/requests`), and a refused
//! signature shows the exact message the mock verified against, never a key.

use wechatpay_chain::mock::{Credentials, Fault, LoggedRequest, MockServer, KEPT_REQUESTS};
use wechatpay_chain::{json, Error, Method, Value};

/// No log output may carry key material.
fn assert_no_key(text: &str) {
    let c = Credentials::get();
    for pem in [c.merchant_private_key] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(line), "private key material in the log");
        }
    }
    assert!(!text.contains(c.apiv3_key), "APIv3 key in the log");
    assert!(!text.contains(c.apiv2_key), "APIv2 key in the log");
}

fn last(server: &MockServer) -> LoggedRequest {
    server.requests().pop().expect("nothing logged")
}

#[tokio::test]
async fn a_good_request_is_logged_ok_with_its_operation() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let client = server.client().unwrap();
    client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {"out_trade_no": "T1"}}))
        .await
        .unwrap();
    let log = server.requests();
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!(
        (entry.method.as_str(), entry.target.as_str(), entry.status),
        ("POST", "/v3/marketing/favor/coupon-stocks", 200)
    );
    let c = Credentials::get();
    assert_eq!(
        entry.verdict,
        format!(
            "ok: signature verified (merchant {}, certificate {}), answered as POST v3/marketing/favor/coupon-stocks",
            c.mchid, c.merchant_serial
        )
    );
    assert_eq!(
        entry.template.as_deref(),
        Some("POST v3/marketing/favor/coupon-stocks")
    );
    assert_eq!(entry.signed_message, None);
    // the stderr line: time, method, target, status, verdict
    assert!(entry.time.ends_with("+08:00"), "{}", entry.time);
    assert_eq!(
        entry.line(),
        format!(
            "{} POST /v3/marketing/favor/coupon-stocks 200 {}",
            entry.time, entry.verdict
        )
    );
}

#[tokio::test]
async fn a_refused_signature_shows_the_message_the_mock_verified_against() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let client = server.client().unwrap();
    // sign one body, send another: what the mock verifies is not what was signed
    let request = client
        .chain("v3/marketing/favor/coupon-stocks")
        .prepare(Method::POST, json!({"json": {"out_trade_no": "T1"}}).into())
        .unwrap();
    let signature = client.sign(&request).unwrap();
    let signed = String::from_utf8(signature.message.clone()).unwrap();
    assert!(signed.ends_with("{\"out_trade_no\":\"T1\"}\n"), "{signed}");
    let http = reqwest::Client::new();
    let send = |body: &'static str| {
        http.post(request.url().clone())
            .headers(request.headers().clone())
            .header("Authorization", signature.authorization.to_string())
            .body(body)
            .send()
    };
    let res = send(r#"{"out_trade_no":"T2"}"#).await.unwrap();
    assert_eq!(res.status(), 401);

    let entry = last(&server);
    assert_eq!(entry.status, 401);
    assert!(
        entry
            .verdict
            .starts_with("refused: SIGN_ERROR, the signature does not verify"),
        "{}",
        entry.verdict
    );
    assert!(entry.verdict.contains("--dry-run"));
    // exactly the message a dry run prints, with the body as received
    let reconstructed = signed.replace("\"T1\"", "\"T2\"");
    assert_eq!(
        entry.signed_message.as_deref(),
        Some(reconstructed.as_str())
    );
    assert_eq!(
        entry.template.as_deref(),
        Some("POST v3/marketing/favor/coupon-stocks")
    );
    // one line on stderr, the message escaped onto it
    let line = entry.line();
    assert!(!line.contains('\n'));
    assert!(
        line.contains(&format!("; signed message {reconstructed:?}")),
        "{line}"
    );
    assert_no_key(&line);

    // the same signature and body, twice: the second is a replay
    assert_eq!(
        send(r#"{"out_trade_no":"T1"}"#).await.unwrap().status(),
        200
    );
    assert_eq!(
        send(r#"{"out_trade_no":"T1"}"#).await.unwrap().status(),
        401
    );
    let replay = last(&server);
    assert!(
        replay.verdict.starts_with("refused: SIGN_ERROR, nonce_str"),
        "{}",
        replay.verdict
    );
    assert_eq!(replay.signed_message, None);

    // missing headers
    let res = reqwest::Client::new()
        .get(format!("{}v3/certificates", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(last(&server)
        .verdict
        .starts_with("refused: INVALID_REQUEST, header user-agent is missing"));

    let all = serde_json::to_string(&server.requests()).unwrap();
    assert_no_key(&all);
}

#[tokio::test]
async fn unknown_paths_wrong_methods_errors_and_faults_say_what_happened() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let client = server.client().unwrap();

    // a typo: 404, and the log names the endpoint meant
    let err = client["v3/payscore/serviceorde/{out_order_no}/modify"]
        .post(json!({"out_order_no": "1234", "json": {}}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api(ref api) if api.status == 404));
    let entry = last(&server);
    assert_eq!(
        entry.verdict,
        "not-found: v3/payscore/serviceorde/1234/modify is not a known WeChat Pay endpoint; \
         did you mean POST v3/payscore/serviceorder/{out_order_no}/modify?"
    );
    assert_eq!(entry.template, None);

    // a known path, another method
    let err = client["v3/certificates"].post(()).await.unwrap_err();
    assert!(matches!(err, Error::Api(ref api) if api.status == 405));
    assert_eq!(
        last(&server).verdict,
        "method-not-allowed: v3/certificates takes GET, not POST"
    );

    // a business error: the code and message WeChat Pay would answer
    let err = client["v3/payscore/serviceorder/{out_order_no}/cancel"]
        .post(json!({"out_order_no": "NOPE", "json": {"appid": "wx1", "service_id": "S", "reason": "r"}}))
        .await
        .unwrap_err();
    let Error::Api(api) = err else {
        panic!("not an API error")
    };
    let entry = last(&server);
    assert!(
        entry.verdict.starts_with(&format!("error: {} ", api.code)),
        "{}",
        entry.verdict
    );

    // an injected fault, and what the answer would have been
    server.inject(Fault::Status(503));
    let _ = client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await;
    let entry = server
        .requests()
        .into_iter()
        .find(|e| e.status == 503)
        .unwrap();
    assert!(
        entry
            .verdict
            .starts_with("fault: Status(503) injected (without it: ok: signature verified"),
        "{}",
        entry.verdict
    );
}

#[tokio::test]
async fn an_apiv2_sign_refusal_shows_the_string_signed_without_the_key() {
    let server = MockServer::start().await.unwrap();
    let good = server.client().unwrap();
    good["v2/pay/orderquery"]
        .post(json!({"xml": {"appid": "wx1", "out_trade_no": "NOPE"}}))
        .await
        .unwrap_err(); // ORDERNOTEXIST, a business error
    let entry = last(&server);
    assert_eq!(entry.target, "/pay/orderquery");
    assert_eq!(entry.template.as_deref(), Some("POST v2/pay/orderquery"));
    assert!(
        entry
            .verdict
            .starts_with("error: result_code FAIL, ORDERNOTEXIST"),
        "{}",
        entry.verdict
    );

    let wrong_key = server
        .client_builder()
        .apiv2_key("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap();
    wrong_key["v2/pay/orderquery"]
        .post(json!({"xml": {"appid": "wx1", "out_trade_no": "T9"}}))
        .await
        .unwrap_err();
    let entry = last(&server);
    assert!(
        entry
            .verdict
            .starts_with("refused: return_code FAIL, 签名错误"),
        "{}",
        entry.verdict
    );
    let signed = entry.signed_message.clone().unwrap();
    assert!(
        signed.starts_with("appid=wx1&nonce_str=") && signed.ends_with("&out_trade_no=T9"),
        "{signed}"
    );
    assert!(!signed.contains("key="), "{signed}");
    let text = serde_json::to_string(&server.requests()).unwrap();
    assert_no_key(&text);
    assert!(!text.contains("0123456789abcdef0123456789abcdef"));
}

#[tokio::test]
async fn the_log_is_served_over_http_and_kept_short() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    client["v3/certificates"].get(()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}_mock/requests", server.base_url());
    let bytes = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    let listed: Value = serde_json::from_slice(&bytes).unwrap();
    // the control request itself is not listed
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["method"], "GET");
    assert_eq!(data[0]["target"], "/v3/certificates");
    assert_eq!(data[0]["status"], 200);
    assert_eq!(data[0]["template"], "GET v3/certificates");
    assert!(data[0]["verdict"].as_str().unwrap().starts_with("ok: "));
    assert_eq!(data[0]["signed_message"], Value::Null);
    assert_eq!(
        serde_json::to_value(server.requests()).unwrap(),
        listed["data"]
    );

    assert_eq!(http.delete(&url).send().await.unwrap().status(), 204);
    assert!(server.requests().is_empty());

    // only the most recent are kept (these are refused before any RSA work)
    for i in 0..KEPT_REQUESTS + 5 {
        http.get(format!("{}v3/x{i}", server.base_url()))
            .send()
            .await
            .unwrap();
    }
    let log = server.requests();
    assert_eq!(log.len(), KEPT_REQUESTS);
    assert_eq!(log[0].target, "/v3/x5");
    server.clear_requests();
    assert!(server.requests().is_empty());
}

// ---- issue 23.8: input-sized text in the log and in errors -------------------

/// A few KiB: what one logged field or one error message may hold.
const FEW_KIB: usize = 8 << 10;

#[tokio::test]
async fn a_huge_tag_name_is_cut_in_the_log_and_in_the_error() {
    let server = MockServer::start().await.unwrap();
    let name = "a".repeat(1_000_000);
    let document = format!("<xml><{name}>1</b></xml>");
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let res = http
            .post(format!("{}pay/orderquery", server.base_url()))
            .body(document.clone())
            .send()
            .await
            .unwrap();
        let answer = res.bytes().await.unwrap();
        assert!(
            answer.len() < FEW_KIB,
            "an answer of {} bytes",
            answer.len()
        );
        let fields = wechatpay_chain::v2::xml::parse(&answer).unwrap();
        assert_eq!(fields["return_code"], "FAIL");
    }
    let log = server.requests();
    assert_eq!(log.len(), 3);
    for entry in &log {
        assert!(
            entry.verdict.starts_with("refused: "),
            "{}",
            &entry.verdict[..200.min(entry.verdict.len())]
        );
        let json = serde_json::to_string(entry).unwrap();
        assert!(
            json.len() < 4 * FEW_KIB,
            "a log entry of {} bytes",
            json.len()
        );
        assert!(
            entry.line().len() < 4 * FEW_KIB,
            "a log line of {} bytes",
            entry.line().len()
        );
    }
    // the same document read by the SDK
    let err = wechatpay_chain::v2::xml::parse(document.as_bytes()).unwrap_err();
    assert!(
        err.to_string().len() < FEW_KIB,
        "an error of {} bytes",
        err.to_string().len()
    );
    let err = Error::from(err);
    assert!(err.to_string().len() < FEW_KIB);
}

#[tokio::test]
async fn a_huge_target_is_cut_in_the_log() {
    let server = MockServer::start().await.unwrap();
    let target = format!(
        "{}v3/pay/transactions/id/{}",
        server.base_url(),
        "9".repeat(60 << 10)
    );
    let _ = reqwest::Client::new().get(target).send().await.unwrap();
    let entry = last(&server);
    assert!(
        entry.target.len() < FEW_KIB,
        "a target of {} bytes",
        entry.target.len()
    );
    assert!(entry.line().len() < 4 * FEW_KIB);
}

// ---- issue 23.9: a refusal the mock cannot write as XML ----------------------

#[tokio::test]
async fn a_refusal_naming_a_control_character_is_still_a_fail_answer() {
    let server = MockServer::start().await.unwrap();
    let res = reqwest::Client::new()
        .get(format!("{}pay/orderquery?%01x=1&%01x=2", server.base_url()))
        .send()
        .await
        .unwrap();
    let answer = res.bytes().await.unwrap();
    let fields = wechatpay_chain::v2::xml::parse(&answer)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&answer)));
    assert_eq!(fields["return_code"], "FAIL");
    let message = fields["return_msg"].as_str().unwrap();
    assert!(
        message.contains('x') && !message.contains('\u{1}'),
        "{message:?}"
    );
    let entry = last(&server);
    assert!(entry.verdict.starts_with("refused: "), "{}", entry.verdict);
}
