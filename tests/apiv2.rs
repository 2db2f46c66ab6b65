//! APIv2 through the same chain: signing vectors, the mock's micropay and
//! order query, every APIv2 operation of the corpus, answer checks, safe
//! XML, notifications.

mod common;

use wechatpay_chain::mock::{Credentials, MockServer, ENDPOINTS_TSV};
use wechatpay_chain::v2::rules;
use wechatpay_chain::v2::sign::{sign, string_to_sign, SignType};
use wechatpay_chain::v2::xml::XmlError;
use wechatpay_chain::{chain, json, Client, Error, Method, Options, Value, VerifyError};

const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// A client of the mock's merchant with `apiv2_key`, talking to `base_url`.
fn v2_builder(apiv2_key: &str, base_url: &str) -> wechatpay_chain::ClientBuilder {
    let c = Credentials::get();
    Client::builder()
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .platform_certificate(c.platform_certificate)
        .apiv2_key(apiv2_key)
        .base_url(base_url)
}

#[test]
fn sign_vectors() {
    let v = &common::vectors()["apiv2_sign"];
    let fields = json!({"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
                        "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA", "empty": "", "sign": "ignored"});
    let fields = fields.as_object().unwrap();
    assert_eq!(
        string_to_sign(fields, KEY),
        format!("{}&key={KEY}", v["string"].as_str().unwrap())
    );
    assert_eq!(
        sign(fields, KEY, SignType::Md5).unwrap(),
        v["md5"].as_str().unwrap()
    );
    assert_eq!(
        sign(fields, KEY, SignType::HmacSha256).unwrap(),
        v["hmac_sha256"].as_str().unwrap()
    );
}

#[test]
fn refund_req_info_vector() {
    let v = &common::vectors()["apiv2_refund_req_info"];
    let plain = wechatpay_chain::v2::notify::decrypt_req_info(
        v["ciphertext"].as_str().unwrap(),
        v["apiv2_key"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(plain, v["plaintext"].as_str().unwrap().as_bytes());
}

/// A client of the mock that adds `appid` and `mch_id` to APIv2 calls.
fn apiv2_client(server: &MockServer) -> wechatpay_chain::Client {
    server
        .client_builder()
        .apiv2_appid("wxd678efh567hg6787")
        .apiv2_add_mch_id(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn micropay_then_orderquery_against_the_mock_with_either_sign_type() {
    let server = MockServer::start().await.unwrap();
    let client = apiv2_client(&server);
    for (no, sign_type) in [("V2MD5", None), ("V2HMAC", Some("HMAC-SHA256"))] {
        let mut xml = json!({"body": "image形象店-深圳腾大-QQ公仔", "out_trade_no": no, "total_fee": 888,
                             "spbill_create_ip": "8.8.8.8", "auth_code": "120061098828009406"});
        if let Some(t) = sign_type {
            xml["sign_type"] = json!(t);
        }
        let res = chain!(client.v2.pay.micropay)
            .post(json!({ "xml": xml }))
            .await
            .unwrap();
        let expected = if sign_type.is_some() {
            "APIv2 HMAC-SHA256"
        } else {
            "APIv2 MD5"
        };
        assert_eq!(res.verified_by(), Some(expected));
        let paid: Value = res.xml().unwrap();
        assert_eq!(
            (paid["out_trade_no"].as_str(), paid["total_fee"].as_str()),
            (Some(no), Some("888"))
        );
        assert_eq!(
            paid["appid"], "wxd678efh567hg6787",
            "added from the builder"
        );
        assert_eq!(paid["mch_id"], "1900000109");

        let res = client["v2/pay/orderquery"]
            .post(
                Options::new()
                    .xml(&json!({"out_trade_no": no, "sign_type": sign_type.unwrap_or("MD5")})),
            )
            .await
            .unwrap();
        assert_eq!(res.xml::<Value>().unwrap()["trade_state"], "SUCCESS");
    }
    match client["v2/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "NOPE"}}))
        .await
    {
        Err(Error::ApiV2(e)) => {
            assert_eq!(
                (e.result_code.as_deref(), e.err_code.as_deref()),
                (Some("FAIL"), Some("ORDERNOTEXIST"))
            );
        }
        other => panic!("{other:?}"),
    }
    // another merchant's mch_id is refused before anything is sent
    let before = server.hits("POST", "/pay/orderquery");
    let err = client["v2/pay/orderquery"]
        .post(json!({"xml": {"mch_id": "1900000999"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key == "xml.mch_id"),
        "{err}"
    );
    assert_eq!(server.hits("POST", "/pay/orderquery"), before);
    // a wrong APIv2 key: the mock says so (return_code FAIL)
    let wrong = v2_builder("00000000000000000000000000000000", server.base_url())
        .build()
        .unwrap();
    match wrong["v2/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "V2MD5"}}))
        .await
    {
        Err(Error::ApiV2(e)) => assert_eq!(
            (e.return_code.as_str(), e.return_msg.as_deref()),
            ("FAIL", Some("签名错误"))
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_apiv2_operation_of_the_corpus_goes_through_the_chain() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let mut lines = ENDPOINTS_TSV.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let sandbox_key: Value = client["v2/xdc/apiv2getsignkey/sign/getsignkey"]
        .post(json!({"xml": {}}))
        .await
        .unwrap()
        .xml()
        .unwrap();
    let sandbox = server
        .client_builder()
        .apiv2_key(sandbox_key["sandbox_signkey"].as_str().unwrap())
        .build()
        .unwrap();
    let mut sent = 0;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        if f[col("API")] != "v2" {
            continue;
        }
        let path = f[col("PATH")];
        let method = Method::from_bytes(f[col("METHOD")].as_bytes()).unwrap();
        // pay/micropay comes before pay/orderquery: the query finds the order
        let xml = json!({"out_trade_no": "CORPUS", "total_fee": 1, "auth_code": "1"});
        // A GET's fields travel in its query string, signed; never in a body.
        let options = if method == Method::GET {
            Options::new().query("out_trade_no", "CORPUS")
        } else {
            Options::new().xml(&xml)
        };
        // The sandbox's calls are signed with the key getsignkey hands out.
        let caller = if path.starts_with("xdc/apiv2sandbox/") {
            &sandbox
        } else {
            &client
        };
        let res = caller
            .chain(&format!("v2/{path}"))
            .send(method.clone(), options)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        sent += 1;
        let unsigned = rules::is_unsigned(path);
        assert_eq!(res.verified_by().is_none(), unsigned, "{path}");
        if path == rules::JSON_RESPONSE {
            assert_eq!(res.json::<Value>().unwrap()["template"], path);
        } else if !path.contains("download")
            && !path.ends_with("pay/micropay")
            && !path.ends_with("pay/orderquery")
            && !path.ends_with("getsignkey")
        {
            assert_eq!(res.xml::<Value>().unwrap()["template"], path);
        }
    }
    assert_eq!(sent, 136);
}

async fn answering(body: &str) -> (httpmock::MockServer, Client) {
    let server = httpmock::MockServer::start_async().await;
    let body = body.to_owned();
    server
        .mock_async(move |when, then| {
            when.any_request();
            then.status(200).body(body.clone());
        })
        .await;
    let client = v2_builder(KEY, &server.base_url()).build().unwrap();
    (server, client)
}

fn signed_xml(fields: Value) -> String {
    let mut fields = fields.as_object().unwrap().clone();
    let signature = sign(&fields, KEY, SignType::Md5).unwrap();
    fields.insert("sign".into(), Value::String(signature));
    wechatpay_chain::v2::xml::write(&fields).unwrap()
}

#[tokio::test]
async fn answers_are_checked_and_read_safely() {
    let good = signed_xml(
        json!({"return_code": "SUCCESS", "result_code": "SUCCESS", "transaction_id": "42"}),
    );
    let (_s, client) = answering(&good).await;
    assert_eq!(
        client["v2/pay/orderquery"]
            .post(json!({"xml": {}}))
            .await
            .unwrap()
            .verified_by(),
        Some("APIv2 MD5")
    );

    let tampered = good.replace("<transaction_id>42", "<transaction_id>43");
    let (_s, client) = answering(&tampered).await;
    assert!(matches!(
        client["v2/pay/orderquery"].post(json!({"xml": {}})).await,
        Err(Error::Verify {
            kind: VerifyError::V2SignatureMismatch,
            ..
        })
    ));

    let unsigned =
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code></xml>";
    let (_s, client) = answering(unsigned).await;
    assert!(matches!(
        client["v2/pay/orderquery"].post(json!({"xml": {}})).await,
        Err(Error::Verify {
            kind: VerifyError::V2SignatureMissing,
            ..
        })
    ));
    // … but fine where WeChat Pay never signs
    let res = client["v2/mmpaymkttransfers/promotion/transfers"]
        .post(json!({"xml": {}, "security": false}))
        .await
        .unwrap();
    assert_eq!(res.verified_by(), None);

    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><a>&lol2;</a></xml>"#;
    let (_s, client) = answering(bomb).await;
    assert!(matches!(
        client["v2/pay/orderquery"].post(json!({"xml": {}})).await,
        Err(Error::Xml(XmlError::Dtd))
    ));
    for broken in [
        "not xml at all",
        "<xml><return_code>SUCC",
        "<xml><a>&unknown;</a></xml>",
        "<xml><a><b>1</b></a></xml>",
    ] {
        let (_s, client) = answering(broken).await;
        let err = client["v2/pay/orderquery"]
            .post(json!({"xml": {}}))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Xml(XmlError::Malformed(_))),
            "{broken}: {err}"
        );
    }
    let huge = format!(
        "<xml><a>{}</a></xml>",
        "x".repeat(wechatpay_chain::v2::xml::MAX_XML)
    );
    let (_s, client) = answering(&huge).await;
    assert!(matches!(
        client["v2/pay/orderquery"].post(json!({"xml": {}})).await,
        Err(Error::Xml(XmlError::TooLarge(_)))
    ));
}

/// The message of a refused document, or a panic naming what was accepted.
fn refused(document: &str) -> String {
    match wechatpay_chain::v2::xml::parse(document.as_bytes()) {
        Err(XmlError::Malformed(message)) => message,
        other => panic!("{document}: {other:?}"),
    }
}

#[tokio::test]
async fn a_root_other_than_xml_two_roots_and_duplicate_fields_are_refused() {
    // a root other than <xml>
    for document in [
        "<root><return_code>SUCCESS</return_code></root>",
        "<XML><return_code>SUCCESS</return_code></XML>",
        "<html/>",
    ] {
        let message = refused(document);
        assert!(message.contains("<xml>"), "{document}: {message}");
    }
    // two root documents, or anything after the one
    for document in [
        "<xml><a>1</a></xml><xml><a>2</a></xml>",
        "<xml><a>1</a></xml><b>2</b>",
        "<xml><a>1</a></xml><b/>",
        "<xml><a>1</a></xml>trailing",
    ] {
        let message = refused(document);
        assert!(message.contains("after the root"), "{document}: {message}");
    }
    // the same field twice, whatever its form
    for document in [
        "<xml><total_fee>1</total_fee><total_fee>1000</total_fee></xml>",
        "<xml><total_fee/><total_fee>1000</total_fee></xml>",
        "<xml><total_fee>1</total_fee><total_fee/></xml>",
    ] {
        let message = refused(document);
        assert!(
            message.contains("`total_fee`") && message.contains("twice"),
            "{document}: {message}"
        );
    }
    // what WeChat Pay does send still reads
    let fields = wechatpay_chain::v2::xml::parse(
        b"<?xml version=\"1.0\"?>\n<xml>\n<a>1</a>\n<b><![CDATA[x]]></b><c/></xml>\n",
    )
    .unwrap();
    assert_eq!(
        (fields["a"].as_str(), fields["b"].as_str()),
        (Some("1"), Some("x"))
    );
    assert_eq!(fields["c"], "");

    // a signed answer with a field repeated is refused, not read last-wins
    let good =
        signed_xml(json!({"return_code": "SUCCESS", "result_code": "SUCCESS", "total_fee": "1"}));
    let twice = good.replace("</xml>", "<total_fee>1000</total_fee></xml>");
    let (_s, client) = answering(&twice).await;
    let err = client["v2/pay/orderquery"]
        .post(json!({"xml": {}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Xml(XmlError::Malformed(m)) if m.contains("twice")),
        "{err}"
    );
    // and so is a payment notification
    let client = v2_builder(KEY, "https://api.mch.weixin.qq.com/")
        .build()
        .unwrap();
    assert!(matches!(
        client.v2_notification(twice.as_bytes()),
        Err(Error::Xml(XmlError::Malformed(_)))
    ));
}

#[tokio::test]
async fn requests_carry_a_nonce_and_a_sign_and_refuse_nested_values() {
    let server = httpmock::MockServer::start_async().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let answer = signed_xml(json!({"return_code": "SUCCESS", "result_code": "SUCCESS"}));
    server
        .mock_async(move |when, then| {
            when.is_true(move |req| {
                record.lock().unwrap().push(req.body_ref().to_vec());
                true
            });
            then.status(200).body(answer.clone());
        })
        .await;
    let client = v2_builder(KEY, &server.base_url()).build().unwrap();
    client["v2/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "N1"}}))
        .await
        .unwrap();
    client["v2/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "N2"}, "nonceless": true}))
        .await
        .unwrap();
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .collect();
    let first = wechatpay_chain::v2::xml::parse(bodies[0].as_bytes()).unwrap();
    assert_eq!(first["nonce_str"].as_str().unwrap().len(), 32);
    assert!(wechatpay_chain::v2::sign::verify(&first, KEY));
    assert!(!first.contains_key("mch_id"), "not added unless asked");
    let second = wechatpay_chain::v2::xml::parse(bodies[1].as_bytes()).unwrap();
    assert!(!second.contains_key("nonce_str"));
    let err = client["v2/pay/orderquery"]
        .post(json!({"xml": {"detail": {"nested": 1}}}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
    // security without a client certificate
    let err = client["v2/secapi/pay/refund"]
        .post(json!({"xml": {}, "security": true}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("TLS")),
        "{err}"
    );
    // with one, the client builds (the handshake itself needs WeChat Pay's TLS)
    let c = Credentials::get();
    v2_builder(KEY, &server.base_url())
        .apiv2_client_certificate(c.merchant_certificate, c.merchant_private_key)
        .build()
        .unwrap();
}

#[test]
fn notifications_payment_and_refund() {
    let client = v2_builder(KEY, "https://api.mch.weixin.qq.com/")
        .build()
        .unwrap();
    let paid = signed_xml(
        json!({"return_code": "SUCCESS", "result_code": "SUCCESS", "out_trade_no": "P1", "total_fee": "1"}),
    );
    assert_eq!(
        client.v2_notification(paid.as_bytes()).unwrap()["out_trade_no"],
        "P1"
    );
    assert!(matches!(
        client.v2_notification(paid.replace("P1", "P2").as_bytes()),
        Err(Error::Verify {
            kind: VerifyError::V2SignatureMismatch,
            ..
        })
    ));

    let v = &common::vectors()["apiv2_refund_req_info"];
    let refund = format!(
        "<xml><return_code>SUCCESS</return_code><appid>wx1</appid><req_info>{}</req_info></xml>",
        v["ciphertext"].as_str().unwrap()
    );
    let read = client.v2_refund_notification(refund.as_bytes()).unwrap();
    assert_eq!(
        (
            read.decrypted["out_refund_no"].as_str(),
            read.unauthenticated["appid"].as_str()
        ),
        (Some("R1"), Some("wx1"))
    );
    assert!(!read.unauthenticated.contains_key("req_info"));
    assert!(wechatpay_chain::v2::notify::success()
        .contains("<return_code><![CDATA[SUCCESS]]></return_code>"));
    assert_eq!(
        wechatpay_chain::v2::notify::failure("busy"),
        "<xml><return_code>FAIL</return_code><return_msg>busy</return_msg></xml>"
    );
}

#[test]
fn a_forged_refund_envelope_adds_nothing_to_the_decrypted_fields() {
    let client = v2_builder(KEY, "https://api.mch.weixin.qq.com/")
        .build()
        .unwrap();
    // a genuine req_info, captured, in an envelope the attacker wrote
    let v = &common::vectors()["apiv2_refund_req_info"];
    let forged = format!(
        "<xml><return_code>SUCCESS</return_code><appid>wx1</appid><mch_id>1900000999</mch_id>\
         <success_time>2026-01-01 12:00:00</success_time><refund_recv_accout>attacker</refund_recv_accout>\
         <req_info>{}</req_info></xml>",
        v["ciphertext"].as_str().unwrap()
    );
    let refund = client.v2_refund_notification(forged.as_bytes()).unwrap();
    assert_eq!(refund.decrypted["out_refund_no"], "R1");
    for outer in ["success_time", "refund_recv_accout", "mch_id", "appid"] {
        assert!(
            !refund.decrypted.contains_key(outer),
            "unauthenticated `{outer}` among the decrypted fields"
        );
        assert!(refund.unauthenticated.contains_key(outer), "{outer}");
    }
    assert_eq!(refund.unauthenticated["refund_recv_accout"], "attacker");
    assert!(!refund.unauthenticated.contains_key("req_info"));
    assert!(!refund.unauthenticated.contains_key("out_refund_no"));
}

#[tokio::test]
async fn apiv2_bills_stream_and_refusals_are_errors() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let mut out = Vec::new();
    let done = client["v2/pay/downloadbill"]
        .download_to(
            json!({"xml": {"bill_date": "20260101", "bill_type": "ALL"}}),
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(done.bytes, out.len() as u64);
    assert!(String::from_utf8(out).unwrap().starts_with("交易时间"));

    let wrong = v2_builder("00000000000000000000000000000000", server.base_url())
        .build()
        .unwrap();
    let err = wrong["v2/pay/downloadbill"]
        .download_to(json!({"xml": {"bill_date": "20260101"}}), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApiV2(e) if e.return_code == "FAIL"));
    let err = client["v2/pay/orderquery"]
        .download_to(json!({"xml": {}}), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotADownload { .. }), "{err}");
}

/// The mock refuses APIv2 GETs the way WeChat Pay does: fields belong in a
/// signed query, never in a body. (Before GET signing, the SDK sent them
/// unsigned or as a body, and both are refused here.)
#[tokio::test]
async fn the_mock_refuses_an_unsigned_get_and_a_get_with_a_body() {
    let server = MockServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}papay/entrustweb", server.base_url());
    let xml = "<xml><plan_id>1</plan_id></xml>";
    let with_body = http.get(&url).body(xml).send().await.unwrap();
    let text = with_body.text().await.unwrap();
    assert!(text.contains("<return_code>FAIL</return_code>"), "{text}");
    let unsigned = http
        .get(format!("{url}?plan_id=1&nonce_str=N"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        unsigned.contains("FAIL") && unsigned.contains("sign"),
        "{unsigned}"
    );

    let client = server.client().unwrap();
    let signed = client["v2/papay/entrustweb"]
        .get(json!({"query": {"plan_id": "1", "contract_code": "C1"}}))
        .await
        .unwrap();
    let fields: Value = signed.xml().unwrap();
    assert_eq!(fields["return_code"], "SUCCESS");
    assert_eq!(fields["plan_id"], "1");
}

/// The 仿真 sandbox: getsignkey answers unsigned with a key, and that key
/// (not the APIv2 key) signs the calls under `xdc/apiv2sandbox/`.
#[tokio::test]
async fn the_sandbox_key_signs_the_sandbox_calls() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let res = client["v2/xdc/apiv2getsignkey/sign/getsignkey"]
        .post(json!({"xml": {}}))
        .await
        .unwrap();
    assert!(res.verified_by().is_none());
    let fields: Value = res.xml().unwrap();
    let sandbox_key = fields["sandbox_signkey"].as_str().unwrap().to_owned();
    assert_eq!(sandbox_key.len(), 32);

    let sandbox = server
        .client_builder()
        .apiv2_key(sandbox_key)
        .build()
        .unwrap();
    let paid = sandbox["v2/xdc/apiv2sandbox/pay/micropay"]
        .post(json!({"xml": {"out_trade_no": "S1", "total_fee": 101, "auth_code": "134567"}}))
        .await
        .unwrap();
    assert_eq!(paid.verified_by(), Some("APIv2 MD5"));
    // The production key is refused by the sandbox.
    let err = client["v2/xdc/apiv2sandbox/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "S1"}}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApiV2(_)), "{err}");
}

/// Issue 26, defect 5: micropay took an `out_trade_no` of any length (100
/// requests of 1,000,000 characters pinned 210 MiB) and derived
/// `transaction_id` from lengths, so that orders shared ids. WeChat Pay's
/// micropay page (https://pay.weixin.qq.com/doc/v2/merchant/4011937125):
/// out_trade_no is String(32); a parameter off its rules is
/// `result_code` FAIL, `err_code` PARAM_ERROR (参数错误).
#[tokio::test]
async fn micropay_refuses_a_long_out_trade_no_and_ids_are_unique() {
    let server = MockServer::start().await.unwrap();
    let client = apiv2_client(&server);
    let pay = |no: String| {
        let client = client.clone();
        async move {
            chain!(client.v2.pay.micropay)
                .post(
                    json!({"xml": {"body": "image形象店-深圳腾大-QQ公仔", "out_trade_no": no,
                    "total_fee": 888, "spbill_create_ip": "8.8.8.8",
                    "auth_code": "120061098828009406"}}),
                )
                .await
        }
    };
    for long in ["A".repeat(33), "B".repeat(1_000_000)] {
        match pay(long.clone()).await {
            Err(Error::ApiV2(e)) => {
                assert_eq!(
                    (e.result_code.as_deref(), e.err_code.as_deref()),
                    (Some("FAIL"), Some("PARAM_ERROR")),
                    "{e:?}"
                );
                assert!(
                    e.err_code_des
                        .as_deref()
                        .unwrap_or("")
                        .contains("out_trade_no"),
                    "{e:?}"
                );
            }
            other => panic!("{}: {other:?}", long.len()),
        }
    }
    // 32 characters is the most it takes; two orders of the same length
    // and fee are two transactions
    let mut ids = Vec::new();
    for no in ["C".repeat(32), "D".repeat(32)] {
        let paid: Value = pay(no).await.unwrap().xml().unwrap();
        ids.push(paid["transaction_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
}
