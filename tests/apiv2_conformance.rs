//! APIv2 on the wire as WeChat Pay and the PHP/Node SDKs have it, checked
//! against things we did not write: the shared `apiv2_sign` vector, and the
//! documented algorithm (sorted `k=v&…&key=KEY`, MD5, uppercase hex) redone
//! here with plain OpenSSL; the server side is httpmock, not our mock.

mod common;

use common::{data, read, vectors, MERCHANT_SERIAL};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use wechatpay_chain::v2::rules;
use wechatpay_chain::{json, Client, Error, Method, Options, Value};

/// The vector's fields: `appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA`.
const VECTOR_MCHID: &str = "10000100";

fn client(base_url: &str, mchid: &str) -> Client {
    let key = vectors()["apiv2_sign"]["key"].as_str().unwrap().to_owned();
    Client::builder()
        .mchid(mchid)
        .merchant_serial(MERCHANT_SERIAL)
        .private_key_file(data("merchant_key.pem"))
        .platform_certificate_file(data("platform_cert.pem"))
        .apiv2_key(key)
        .base_url(base_url)
        .build()
        .unwrap()
}

fn vector_fields() -> Value {
    json!({"appid": "wxd930ea5d5a258f4f", "body": "test", "device_info": "1000",
           "mch_id": VECTOR_MCHID, "nonce_str": "ibuaiVcKdpRxkhJA"})
}

/// RFC 3986: everything but unreserved characters percent-encoded.
fn rfc3986(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_independent_signer_agrees_with_the_shared_vector() {
    let v = vectors();
    let pairs = [
        ("appid", "wxd930ea5d5a258f4f"),
        ("body", "test"),
        ("device_info", "1000"),
        ("mch_id", "10000100"),
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
    ];
    let key = v["apiv2_sign"]["key"].as_str().unwrap();
    assert_eq!(common::apiv2_md5(&pairs, key), v["apiv2_sign"]["md5"]);
}

#[tokio::test]
async fn a_get_signs_its_fields_into_the_query_and_sends_no_body() {
    let v = vectors();
    let expected_sign = v["apiv2_sign"]["md5"].as_str().unwrap();
    // The exact query, written from the vector by hand: sorted fields, `sign` last.
    let expected_query = format!(
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&sign={expected_sign}"
    );
    let server = MockServer::start_async().await;
    let page = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/papay/entrustweb")
                .query_param("sign", expected_sign)
                .query_param("nonce_str", "ibuaiVcKdpRxkhJA");
            then.status(200).body("<html>签约页</html>");
        })
        .await;
    let client = client(&server.base_url(), VECTOR_MCHID);
    let node = &client["v2/papay/entrustweb"];
    let options = json!({"query": vector_fields()});

    let prepared = node.prepare(Method::GET, options.clone().into()).unwrap();
    assert_eq!(prepared.url().query(), Some(expected_query.as_str()));
    assert!(prepared.body().is_empty());
    assert!(prepared.is_apiv2());

    let url = node.signed_url(options.clone()).unwrap();
    assert_eq!(
        url.as_str(),
        prepared.url().as_str(),
        "signed_url is what get sends"
    );
    assert_eq!(url.path(), "/papay/entrustweb");

    let res = node.get(options).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.verified_by().is_none(),
        "entrustweb answers a page, unsigned"
    );
    page.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_get_query_decodes_to_exactly_the_values_that_were_signed() {
    let hostile = "a&b=c d+e/中文?#%";
    let key = vectors()["apiv2_sign"]["key"].as_str().unwrap().to_owned();
    let pairs = [
        ("appid", "wx1"),
        ("contract_display_account", hostile),
        ("mch_id", "1900000109"),
        ("nonce_str", "N1"),
        ("plan_id", "12535"),
    ];
    let sign = common::apiv2_md5(&pairs, &key);
    let mut expected_query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", rfc3986(v)))
        .collect();
    expected_query.push(format!("sign={sign}"));
    let expected_query = expected_query.join("&");

    let server = MockServer::start_async().await;
    let page = server
        .mock_async(|when, then| {
            // httpmock decodes the query: the decoded value must be the signed one.
            when.method(GET)
                .path("/papay/h5entrustweb")
                .query_param("contract_display_account", hostile)
                .query_param("sign", sign.as_str());
            then.status(200).body("ok");
        })
        .await;
    let client = client(&server.base_url(), "1900000109");
    let options = json!({"query": {"appid": "wx1", "contract_display_account": hostile,
                                   "mch_id": "1900000109", "nonce_str": "N1", "plan_id": "12535"}});
    let url = client["v2/papay/h5entrustweb"]
        .signed_url(options.clone())
        .unwrap();
    assert_eq!(url.query(), Some(expected_query.as_str()));
    client["v2/papay/h5entrustweb"].get(options).await.unwrap();
    page.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_post_sends_the_vector_sign_in_its_xml_body() {
    let v = vectors();
    let expected_sign = v["apiv2_sign"]["md5"].as_str().unwrap().to_owned();
    let key = v["apiv2_sign"]["key"].as_str().unwrap().to_owned();
    // The answer, signed by hand (MD5 of its own sorted fields).
    let answer_pairs = [
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("trade_state", "SUCCESS"),
    ];
    let answer_sign = common::apiv2_md5(&answer_pairs, &key);
    let answer = format!(
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code><trade_state>SUCCESS</trade_state><sign>{answer_sign}</sign></xml>"
    );
    let server = MockServer::start_async().await;
    let query = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/pay/orderquery")
                .body_includes(format!("<sign>{expected_sign}</sign>").as_str())
                .body_includes("<nonce_str>ibuaiVcKdpRxkhJA</nonce_str>");
            then.status(200).body(answer.clone());
        })
        .await;
    let client = client(&server.base_url(), VECTOR_MCHID);
    let res = client["v2/pay/orderquery"]
        .post(json!({"xml": vector_fields()}))
        .await
        .unwrap();
    assert_eq!(res.verified_by(), Some("APIv2 MD5"));
    query.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_get_refuses_xml_and_a_v3_path_has_no_signed_url() {
    let client = client("https://api.mch.weixin.qq.com/", "1900000109");
    let err = client["v2/papay/entrustweb"]
        .get(json!({"xml": {"plan_id": "1"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, reason } if key == "xml" && reason.contains("`query`")),
        "{err}"
    );
    let err = client["v3/pay/transactions/native"]
        .signed_url(Options::new())
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

/// Each unsigned-response entry: a 200 without `sign` is accepted there, and
/// the same response on a signed endpoint is refused.
#[tokio::test]
async fn every_unsigned_response_entry_is_accepted_unsigned_and_only_there() {
    let server = MockServer::start_async().await;
    let unsigned_xml =
        "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code></xml>";
    let token = r#"{"retcode":0,"retmsg":"OK","access_token":"T"}"#;
    common::respond(&server, Some((GET, "/appauth/getaccesstoken")), 200, token).await;
    common::respond(&server, None, 200, unsigned_xml).await;
    let client = client(&server.base_url(), "1900000109");
    assert_eq!(rules::UNSIGNED_RESPONSES.len(), 30);
    for (path, reason) in rules::UNSIGNED_RESPONSES {
        assert!(!reason.is_empty(), "{path}");
        let node = client.chain(&format!("v2/{path}"));
        let res = if path.contains("entrustweb") || path == rules::JSON_RESPONSE {
            node.get(json!({"query": {"mch_id": "1900000109"}})).await
        } else {
            node.post(json!({"xml": {"mch_id": "1900000109"}})).await
        }
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(res.verified_by().is_none(), "{path}");
    }
    let err = client["v2/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "T1"}}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Verify { .. }), "{err}");
}

#[tokio::test]
async fn getaccesstoken_answers_json_and_a_nonzero_retcode_is_an_error() {
    let server = MockServer::start_async().await;
    let refusal = r#"{"retcode":-1,"retmsg":"invalid code"}"#;
    common::respond(
        &server,
        Some((GET, "/appauth/getaccesstoken")),
        200,
        refusal,
    )
    .await;
    let client = client(&server.base_url(), "1900000109");
    let err = client["v2/appauth/getaccesstoken"]
        .get(json!({"query": {"code": "C"}}))
        .await
        .unwrap_err();
    match err {
        Error::ApiV2(e) => {
            assert_eq!(e.err_code.as_deref(), Some("-1"));
            assert_eq!(e.return_msg.as_deref(), Some("invalid code"));
        }
        other => panic!("{other}"),
    }
}

/// Every NONCELESS path: `nonceless` leaves `nonce_str` out of what is
/// signed and sent, and without the option a nonce is added.
#[test]
fn nonceless_paths_send_no_nonce_when_asked() {
    let client = client("https://api.mch.weixin.qq.com/", "1900000109");
    assert_eq!(rules::NONCELESS.len(), 18);
    for path in rules::NONCELESS {
        let node = client.chain(&format!("v2/{path}"));
        let without = node
            .prepare(
                Method::POST,
                json!({"nonceless": true, "xml": {"a": "1"}}).into(),
            )
            .unwrap();
        let body = String::from_utf8(without.body().to_vec()).unwrap();
        assert!(!body.contains("nonce_str"), "{path}: {body}");
        assert!(body.contains("<sign>"), "{path}: {body}");
        let with = node
            .prepare(Method::POST, json!({"xml": {"a": "1"}}).into())
            .unwrap();
        assert!(
            String::from_utf8_lossy(with.body()).contains("<nonce_str>"),
            "{path}"
        );
    }
}

#[test]
fn the_vectors_file_is_the_shared_one() {
    // The copy under tests/data must not drift from ../shared/vectors.
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/vectors.json");
    if let Ok(text) = std::fs::read(shared) {
        assert_eq!(text, read("vectors.json"));
    }
}
