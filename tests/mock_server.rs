//! The mock's front door: request checks as WeChat Pay makes them, answers
//! signed with the key the request asked for, the whole endpoint corpus,
//! `v3/certificates`, fault injection, bad input and garbage.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wechatpay_chain::crypto::aes_256_gcm_decrypt;
use wechatpay_chain::keys::{PrivateKey, WechatpayKey};
use wechatpay_chain::media::Media;
use wechatpay_chain::mock::{Credentials, Fault, MockServer, ENDPOINTS_TSV};
use wechatpay_chain::sign::{unix_now, RequestSigner};
use wechatpay_chain::{json, Error, Method, Options, Value, VerifyError};

fn signer() -> RequestSigner {
    let c = Credentials::get();
    RequestSigner::new(
        c.mchid,
        c.merchant_serial,
        PrivateKey::from_pem(c.merchant_private_key.as_bytes()).unwrap(),
    )
}

/// Sends a request by hand with the given Authorization parts.
async fn raw(
    server: &MockServer,
    target: &str,
    auth: Option<String>,
    accept: bool,
    body: &'static str,
) -> (u16, Value) {
    let mut headers = HeaderMap::new();
    // reqwest adds `Accept: */*` when none is set; an empty one stands for none
    let accept = if accept { "application/json" } else { "" };
    headers.insert("accept", HeaderValue::from_static(accept));
    if let Some(auth) = auth {
        headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    }
    let url = format!("{}{}", server.base_url(), target.trim_start_matches('/'));
    let res = reqwest::Client::builder()
        .user_agent("test/1")
        .build()
        .unwrap()
        .post(url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn requests_are_checked_as_wechat_pay_checks_them() {
    let server = MockServer::start().await.unwrap();
    // A generic operation with any body: the schema check is tests/mock_schema.rs's.
    server.check_schemas(false);
    let target = "/v3/marketing/favor/coupon-stocks";
    let body = r#"{"a":1}"#;
    let good = |nonce: &str, ts: i64| {
        signer()
            .sign_at("POST", target, body.as_bytes(), ts, nonce)
            .unwrap()
            .to_string()
    };

    let (status, _) = raw(
        &server,
        target,
        Some(good("NONCE0000000000000000000000000001", unix_now())),
        true,
        body,
    )
    .await;
    assert_eq!(status, 200);
    // the same nonce again inside five minutes
    let (status, answer) = raw(
        &server,
        target,
        Some(good("NONCE0000000000000000000000000001", unix_now())),
        true,
        body,
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("SIGN_ERROR")));
    assert!(answer["detail"]["issue"]
        .as_str()
        .unwrap()
        .contains("nonce"));
    // parameters in another order are fine
    let auth = signer()
        .sign_at(
            "POST",
            target,
            body.as_bytes(),
            unix_now(),
            "NONCE0000000000000000000000000002",
        )
        .unwrap();
    let reordered = format!(
        "WECHATPAY2-SHA256-RSA2048 serial_no=\"{}\",signature=\"{}\",timestamp=\"{}\",nonce_str=\"{}\",mchid=\"{}\"",
        auth.serial_no, auth.signature, auth.timestamp, auth.nonce_str, auth.mchid
    );
    assert_eq!(
        raw(&server, target, Some(reordered), true, body).await.0,
        200
    );
    // stale
    let (status, answer) = raw(
        &server,
        target,
        Some(good("NONCE0000000000000000000000000003", unix_now() - 301)),
        true,
        body,
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("SIGN_ERROR")));
    // signed over another body: sign_information shows what the server computed
    let other = signer()
        .sign_at(
            "POST",
            target,
            b"{}",
            unix_now(),
            "NONCE0000000000000000000000000004",
        )
        .unwrap()
        .to_string();
    let (status, answer) = raw(&server, target, Some(other), true, body).await;
    assert_eq!(status, 401);
    let info = &answer["detail"]["sign_information"];
    assert_eq!(info["method"], "POST");
    assert_eq!(info["url"], target);
    assert!(info["truncated_sign_message"]
        .as_str()
        .unwrap()
        .ends_with("{\"a\":1}\n"));
    // no Accept
    let (status, answer) = raw(
        &server,
        target,
        Some(good("NONCE0000000000000000000000000005", unix_now())),
        false,
        body,
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
    // no Authorization, a wrong scheme, an unknown merchant
    assert_eq!(raw(&server, target, None, true, body).await.0, 401);
    assert_eq!(
        raw(&server, target, Some("Bearer x".into()), true, body)
            .await
            .0,
        401
    );
    let stranger = RequestSigner::new(
        "1900000999",
        Credentials::get().merchant_serial,
        PrivateKey::from_pem(Credentials::get().merchant_private_key.as_bytes()).unwrap(),
    );
    let auth = stranger
        .sign_at(
            "POST",
            target,
            body.as_bytes(),
            unix_now(),
            "NONCE0000000000000000000000000006",
        )
        .unwrap()
        .to_string();
    assert_eq!(raw(&server, target, Some(auth), true, body).await.0, 401);
}

#[tokio::test]
async fn the_answer_is_signed_with_the_key_the_request_named() {
    let server = MockServer::start().await.unwrap();
    // A generic operation with any body: the schema check is tests/mock_schema.rs's.
    server.check_schemas(false);
    let c = Credentials::get();
    let by_key = server.client().unwrap();
    let res = by_key["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap();
    assert_eq!(res.verified_by(), Some(c.platform_public_key_id));
    let by_cert = wechatpay_chain::Client::builder()
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .platform_certificate(c.platform_certificate)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let res = by_cert["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap();
    assert_eq!(res.verified_by(), Some(c.platform_certificate_serial));
}

#[tokio::test]
async fn every_corpus_operation_is_matched_signed_and_verified() {
    let server = MockServer::start().await.unwrap();
    // Routing and signing with awkward placeholders, read back from the
    // echo; the schema check and shaped answers are tests/mock_schema.rs's.
    server.check_schemas(false);
    server.answer_with_echo(true);
    let client = server.client().unwrap();
    let awkward = ["a b", "x/y", "中文", "100%", "q?x=1", "h#f", "..%2F"];
    let mut lines = ENDPOINTS_TSV.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (method_col, path_col, api_col, responses_col, consumes_col) = (
        col("METHOD"),
        col("PATH"),
        col("API"),
        col("RESPONSES"),
        col("CONSUMES"),
    );
    let (mut sent, mut payscore, mut uploads) = (0, 0, 0);
    for (row, line) in lines.enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[api_col] != "v3" {
            continue; // APIv2 (XML) is another issue's work
        }
        let template = f[path_col];
        let method = Method::from_bytes(f[method_col].as_bytes()).unwrap();
        let parsed = wechatpay_chain::path::Template::parse(template).unwrap();
        let mut options = Options::new();
        let mut expected = serde_json::Map::new();
        for (i, name) in parsed.placeholders().enumerate() {
            let value = format!("{}-{}", awkward[(row + i) % awkward.len()], i);
            expected.insert(name.to_owned(), Value::String(value.clone()));
            options = options.path(name, value);
        }
        sent += 1;
        if f[consumes_col].contains("multipart/form-data") {
            let media =
                Media::from_bytes(format!("row{row}.png"), format!("image {row}").into_bytes());
            let res = client
                .chain(template)
                .upload_with(options, media)
                .await
                .unwrap_or_else(|e| panic!("{template}: {e}"));
            assert!(res.verified_by().is_some());
            assert!(res.json::<Value>().unwrap()["media_id"]
                .as_str()
                .unwrap()
                .starts_with("MOCK-"));
            uploads += 1;
            continue;
        }
        if method != Method::GET && method != Method::DELETE {
            options = options.json(&json!({"row": row}));
        }
        let result = client.chain(template).send(method.clone(), options).await;
        let payments = template
            .strip_prefix("v3/pay/transactions/")
            .or_else(|| template.strip_prefix("v3/pay/partner/transactions/"))
            .is_some_and(|rest| {
                [
                    "jsapi",
                    "app",
                    "h5",
                    "native",
                    "miniprogram",
                    "id/{transaction_id}",
                    "out-trade-no/{out_trade_no}",
                    "out-trade-no/{out_trade_no}/close",
                ]
                .contains(&rest)
            });
        // Profit sharing's own answers (tests/mock_profitsharing.rs checks them).
        let profitsharing =
            template.starts_with("v3/profitsharing/") && template != "v3/profitsharing/bills";
        let domain = profitsharing
            || template.starts_with("v3/payscore/serviceorder")
            || template.starts_with("v3/payscore/partner/serviceorder")
            || template.starts_with("v3/refund/domestic/refunds")
            || template.starts_with("v3/combine-transactions/")
            || payments
            || transfer_bills(&method, template)
            || [
                "v3/bill/tradebill",
                "v3/bill/fundflowbill",
                "v3/billdownload/file",
            ]
            .contains(&template);
        if domain {
            // served by the order book or the bills: their answer, never "no such route"
            if let Err(Error::Api(api)) = &result {
                assert!(
                    [
                        "PARAM_ERROR",
                        "ORDER_NOT_EXIST",
                        "INVALID_REQUEST",
                        "RESOURCE_NOT_EXISTS",
                        "NOT_FOUND"
                    ]
                    .contains(&api.code.as_str()),
                    "{template}: {api}"
                );
                payscore += 1;
                continue;
            }
            if profitsharing {
                let answer = result.unwrap_or_else(|e| panic!("{method} {template}: {e}"));
                assert_eq!(answer.status(), 200, "{method} {template}");
                continue;
            }
        }
        let res = result.unwrap_or_else(|e| panic!("{method} {template}: {e}"));
        let status: u16 = f[responses_col].split(',').next().unwrap().parse().unwrap();
        assert_eq!(res.status(), status, "{method} {template}");
        let unsigned = method == Method::GET
            && (wechatpay_chain::request::UNSIGNED_DOWNLOADS.contains(&template)
                || template == "v3/merchant-service/images/{media_id}");
        assert_eq!(res.verified_by().is_none(), unsigned, "{method} {template}");
        if status != 204 && template != "v3/certificates" {
            let echo: Value = res.json().unwrap();
            assert_eq!(echo["template"], template);
            assert_eq!(echo["method"], method.as_str());
            assert_eq!(echo["path_params"], Value::Object(expected), "{template}");
        }
    }
    assert_eq!(sent, 1019);
    assert!(payscore > 0);
    assert_eq!(uploads, 14, "every APIv3 multipart endpoint");
    assert_eq!(server.catalog_len(), 1019);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_404_and_405_as_json() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    match client.chain("v3/no/such/thing").get(()).await {
        Err(Error::Api(api)) => assert_eq!(
            (api.status, api.code.as_str()),
            (404, "RESOURCE_NOT_EXISTS")
        ),
        other => panic!("{other:?}"),
    }
    match client
        .chain("v3/marketing/favor/coupon-stocks")
        .get(())
        .await
    {
        Err(Error::Api(api)) => {
            assert_eq!((api.status, api.code.as_str()), (405, "METHOD_NOT_ALLOWED"));
            assert_eq!(api.detail.unwrap()["allowed"], json!(["POST"]));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn certificates_are_encrypted_with_the_apiv3_key_and_signed_by_themselves() {
    let server = MockServer::start().await.unwrap();
    let res = server.client().unwrap()["v3/certificates"]
        .get(())
        .await
        .unwrap();
    let body: Value = res.json().unwrap();
    let item = &body["data"][0];
    let c = Credentials::get();
    assert_eq!(item["serial_no"], c.platform_certificate_serial);
    assert!(item["effective_time"].as_str().unwrap().ends_with("+08:00"));
    let sealed = &item["encrypt_certificate"];
    assert_eq!(sealed["associated_data"], "certificate");
    let key: [u8; 32] = c.apiv3_key.as_bytes().try_into().unwrap();
    let pem = aes_256_gcm_decrypt(
        &key,
        sealed["nonce"].as_str().unwrap().as_bytes(),
        b"certificate",
        sealed["ciphertext"].as_str().unwrap(),
    )
    .unwrap();
    let cert = WechatpayKey::from_certificate_pem(&pem).unwrap();
    assert_eq!(cert.id(), c.platform_certificate_serial);
}

async fn fault_outcome(
    server: &MockServer,
    fault: Fault,
) -> Result<wechatpay_chain::Response, Error> {
    server.inject(fault);
    let client = server
        .client_builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {"amount": {"total": 1}}}))
        .await
}

#[tokio::test]
async fn each_fault_gives_the_client_error_it_should() {
    let server = MockServer::start().await.unwrap();
    // A generic operation with any body: the schema check is tests/mock_schema.rs's.
    server.check_schemas(false);
    let verify = |r: Result<wechatpay_chain::Response, Error>| match r {
        Err(Error::Verify { kind, .. }) => kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        verify(fault_outcome(&server, Fault::ProbeSignature).await),
        VerifyError::ProbeSignature
    );
    assert!(matches!(
        verify(fault_outcome(&server, Fault::UnknownSerial).await),
        VerifyError::UnknownSerial(_)
    ));
    assert!(matches!(
        verify(fault_outcome(&server, Fault::StaleTimestamp).await),
        VerifyError::StaleTimestamp { .. }
    ));
    assert_eq!(
        verify(fault_outcome(&server, Fault::DropHeader("Wechatpay-Nonce".into())).await),
        VerifyError::MissingHeader("Wechatpay-Nonce")
    );
    for (status, code) in [
        (500, "SYSTEM_ERROR"),
        (429, "FREQUENCY_LIMITED"),
        (503, "SERVICE_UNAVAILABLE"),
    ] {
        match fault_outcome(&server, Fault::Status(status)).await {
            Err(Error::Api(api)) => assert_eq!((api.status, api.code.as_str()), (status, code)),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        fault_outcome(&server, Fault::Delay(Duration::from_secs(2))).await,
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        fault_outcome(&server, Fault::CloseMidBody).await,
        Err(Error::Transport(_))
    ));
    // faults are used up: the next request is fine
    fault_outcome(&server, Fault::Delay(Duration::ZERO))
        .await
        .unwrap();
    // and they can be queued over HTTP
    let http = reqwest::Client::new();
    let url = format!("{}_mock/faults", server.base_url());
    let res = http
        .post(&url)
        .body(r#"{"fault":"status","status":500,"count":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let client = server.client().unwrap();
    assert!(client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .is_err());
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 204);
    client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap();
    let res = http
        .post(&url)
        .body(r#"{"fault":"nonsense"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn malformed_json_is_refused_with_param_error() {
    let server = MockServer::start().await.unwrap();
    match server.client().unwrap()["v3/marketing/favor/coupon-stocks"]
        .post(Options::new().body("{\"a\":"))
        .await
    {
        Err(Error::Api(api)) => assert_eq!((api.status, api.code.as_str()), (400, "PARAM_ERROR")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_param_error() {
    let server = MockServer::start().await.unwrap();
    let big = format!(
        "{{\"x\":\"{}\"}}",
        "a".repeat(wechatpay_chain::mock::MAX_BODY)
    );
    match server.client().unwrap()["v3/marketing/favor/coupon-stocks"]
        .post(Options::new().body(big))
        .await
    {
        Err(Error::Api(api)) => assert_eq!((api.status, api.code.as_str()), (400, "PARAM_ERROR")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn garbage_does_not_hurt_the_server() {
    let server = MockServer::start().await.unwrap();
    // A generic operation with any body: the schema check is tests/mock_schema.rs's.
    server.check_schemas(false);
    let garbage: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02\xff\xfe".to_vec(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        b"POST /v3/marketing/favor/coupon-stocks HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{".to_vec(),
        b"POST /v3/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n".to_vec(),
        b"GET /_mock/payscore/%ff%fe/confirm HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"POST /_mock/payscore/%ff/confirm HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"GET /v3/certificates HTTP/1.1\r\nHost: x\r\nAuthorization: WECHATPAY2-SHA256-RSA2048 mchid=\"\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a/".repeat(5000)).into_bytes(),
        (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
    ];
    for bytes in garbage {
        let Ok(mut stream) = tokio::net::TcpStream::connect(server.address()).await else {
            panic!("connect")
        };
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut sink)).await;
    }
    // still serving
    server.client().unwrap()["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_profile_names_every_credential_a_client_needs() {
    let server = MockServer::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("wechatpay-mock-profile-{}", std::process::id()));
    let path = server.write_profile(&dir).unwrap();
    let profile: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut keys: Vec<&str> = profile
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "apiv2_key",
            "apiv3_key",
            "base_url",
            "mchid",
            "merchant_private_key",
            "merchant_serial",
            "mock",
            "platform_certificate",
            "platform_certificate_serial",
            "platform_public_key",
            "platform_public_key_id"
        ]
    );
    let file = |k: &str| dir.join(profile[k].as_str().unwrap());
    let client = wechatpay_chain::Client::builder()
        .mchid(profile["mchid"].as_str().unwrap())
        .merchant_serial(profile["merchant_serial"].as_str().unwrap())
        .private_key_file(file("merchant_private_key"))
        .platform_certificate_file(file("platform_certificate"))
        .platform_public_key_file(
            profile["platform_public_key_id"].as_str().unwrap(),
            file("platform_public_key"),
        )
        .base_url(profile["base_url"].as_str().unwrap())
        .build()
        .unwrap();
    client["v3/certificates"].get(()).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The transfer bills' operations the mock keeps (flows/transfers.rs).
fn transfer_bills(method: &Method, template: &str) -> bool {
    let Some(rest) = template
        .strip_prefix("v3/fund-app/mch-transfer/partner/")
        .or_else(|| template.strip_prefix("v3/fund-app/mch-transfer/"))
    else {
        return false;
    };
    matches!(
        (method.as_str(), rest),
        ("POST", "transfer-bills")
            | ("GET", "transfer-bills/out-bill-no/{out_bill_no}")
            | ("GET", "transfer-bills/transfer-bill-no/{transfer_bill_no}")
            | ("POST", "transfer-bills/out-bill-no/{out_bill_no}/cancel")
    )
}
