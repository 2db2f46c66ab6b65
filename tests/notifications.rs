//! Notifications: the known-answer vector, each way one can be wrong, and
//! the real thing from the mock to an axum receiver, signed either way.

mod common;

use std::time::Duration;

use reqwest::header::HeaderMap;
use wechatpay_chain::crypto::{aes_256_gcm_encrypt, AeadError};
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::notify::NotificationError;
use wechatpay_chain::{json, Client, Error, Value, VerifyError};

fn vector() -> Value {
    common::vectors()["notification"].clone()
}

fn client(apiv3_key: &str) -> Client {
    Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .platform_certificate_file(common::data("platform_cert.pem"))
        .apiv3_key(apiv3_key)
        .build()
        .unwrap()
}

/// A notification body signed now with the platform certificate.
fn signed(body: &str) -> (HeaderMap, Vec<u8>) {
    let headers = common::signed_headers(
        body.as_bytes(),
        common::SignWith::Certificate,
        common::unix_now(),
    );
    (common::header_map(&headers), body.as_bytes().to_vec())
}

/// A merchant that trusts only the WeChat Pay public key.
fn public_key_client(mchid: &str, apiv3_key: &str) -> Client {
    Client::builder()
        .mchid(mchid)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .platform_public_key_file(common::PUBLIC_KEY_ID, common::data("wechatpay_pub_key.pem"))
        .apiv3_key(apiv3_key)
        .build()
        .unwrap()
}

fn envelope(resource: Value) -> String {
    json!({"id": "EV-1", "create_time": "2026-01-01T12:00:00+08:00", "event_type": "PAYSCORE.USER_PAID",
           "resource_type": "encrypt-resource", "summary": "用户支付成功", "resource": resource})
    .to_string()
}

fn sealed(key: &str, plaintext: &str) -> Value {
    let key: [u8; 32] = key.as_bytes().try_into().unwrap();
    let ciphertext =
        aes_256_gcm_encrypt(&key, b"Zk3mQ9xT2bVw", b"payscore", plaintext.as_bytes()).unwrap();
    json!({"algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext, "nonce": "Zk3mQ9xT2bVw",
           "associated_data": "payscore", "original_type": "payscore"})
}

#[test]
fn the_vector_verifies_and_decrypts_with_a_pinned_clock() {
    let v = vector();
    let headers: Vec<(&str, String)> = v["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap().to_owned()))
        .collect();
    let client = client(v["apiv3_key"].as_str().unwrap());
    let body = v["body"].as_str().unwrap().as_bytes();
    let event = client
        .notification_at(&common::header_map(&headers), body, 1795305600)
        .unwrap();
    assert_eq!(event.id, "EV-2026010112000000001");
    assert_eq!(event.event_type, "PAYSCORE.USER_PAID");
    assert_eq!(event.resource_type, "encrypt-resource");
    assert_eq!(event.summary, "用户支付成功");
    assert_eq!(event.original_type.as_deref(), Some("payscore"));
    assert_eq!(event.verified_by, common::PLATFORM_SERIAL);
    assert_eq!(
        event.plaintext(),
        v["resource_plaintext"].as_str().unwrap().as_bytes()
    );
    #[derive(serde::Deserialize)]
    struct Paid {
        out_order_no: String,
        total_amount: i64,
    }
    let paid: Paid = event.resource().unwrap();
    assert_eq!(
        (paid.out_order_no.as_str(), paid.total_amount),
        ("1234323JKHDFE1243252", 50000)
    );

    // the same bytes: tampered, too late, wrong APIv3 key
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert!(matches!(
        client.notification_at(&common::header_map(&headers), &tampered, 1795305600),
        Err(Error::Verify {
            kind: VerifyError::SignatureMismatch { .. },
            ..
        })
    ));
    assert!(matches!(
        client.notification_at(&common::header_map(&headers), body, 1795305600 + 301),
        Err(Error::Verify {
            kind: VerifyError::StaleTimestamp { .. },
            ..
        })
    ));
    let wrong_apiv3 = self::client("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb");
    assert!(matches!(
        wrong_apiv3.notification_at(&common::header_map(&headers), body, 1795305600),
        Err(Error::Decrypt(AeadError::Authentication))
    ));
}

#[test]
fn each_malformed_notification_is_its_own_error() {
    let key = Credentials::get().apiv3_key;
    let client = client(key);
    let ok = envelope(sealed(key, r#"{"out_order_no":"N1"}"#));
    let (headers, body) = signed(&ok);
    assert_eq!(
        client
            .notification(&headers, &body)
            .unwrap()
            .resource::<Value>()
            .unwrap()["out_order_no"],
        "N1"
    );

    type Expect = fn(&Error) -> bool;
    let cases: Vec<(String, Expect)> = vec![
        ("not json".to_owned(), |e| {
            matches!(e, Error::Notification(NotificationError::NotJson(_)))
        }),
        (json!({"id": "EV-1"}).to_string(), |e| {
            matches!(
                e,
                Error::Notification(NotificationError::MissingField("resource"))
            )
        }),
        (
            envelope(json!({"algorithm": "AEAD_AES_256_GCM", "nonce": "x"})),
            |e| {
                matches!(
                    e,
                    Error::Notification(NotificationError::MissingField("resource.ciphertext"))
                )
            },
        ),
        (
            envelope(json!({"algorithm": "AES_256_CBC", "ciphertext": "AAAA", "nonce": "x"})),
            |e| matches!(e, Error::Notification(NotificationError::UnsupportedAlgorithm(a)) if a == "AES_256_CBC"),
        ),
        (
            envelope(
                json!({"algorithm": "AEAD_AES_256_GCM", "ciphertext": "AAAA", "nonce": "Zk3mQ9xT2bVw"}),
            ),
            |e| matches!(e, Error::Decrypt(AeadError::Truncated(3))),
        ),
        (
            envelope(
                json!({"algorithm": "AEAD_AES_256_GCM", "ciphertext": "@@not base64@@", "nonce": "Zk3mQ9xT2bVw"}),
            ),
            |e| matches!(e, Error::Decrypt(AeadError::Base64)),
        ),
        (
            envelope(sealed("00000000000000000000000000000000", "{}")),
            |e| matches!(e, Error::Decrypt(AeadError::Authentication)),
        ),
    ];
    for (body, expected) in cases {
        let (headers, bytes) = signed(&body);
        let err = client.notification(&headers, &bytes).unwrap_err();
        assert!(expected(&err), "{body}: {err}");
    }
    // no id once everything else is fine
    let mut no_id: Value = serde_json::from_str(&ok).unwrap();
    no_id.as_object_mut().unwrap().remove("id");
    let (headers, bytes) = signed(&no_id.to_string());
    assert!(matches!(
        client.notification(&headers, &bytes),
        Err(Error::Notification(NotificationError::MissingField("id")))
    ));

    // signed by a key the client does not have (only the public key configured)
    let key_only = public_key_client(common::MCHID, key);
    let (headers, bytes) = signed(&ok);
    assert!(matches!(
        key_only.notification(&headers, &bytes),
        Err(Error::Verify {
            kind: VerifyError::UnknownSerial(_),
            ..
        })
    ));
    // no APIv3 key configured
    let no_key = Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .platform_certificate_file(common::data("platform_cert.pem"))
        .build()
        .unwrap();
    assert!(
        matches!(no_key.notification(&headers, &bytes), Err(Error::Config(m)) if m.contains("APIv3"))
    );
}

/// An axum receiver that verifies each notification with `client` and
/// forwards what it got.
async fn receiver(
    client: Client,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<Result<(String, String, Value), String>>,
) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: AxumHeaders, body: Bytes| {
            let (client, tx) = (client.clone(), tx.clone());
            async move {
                let answer = match client.notification(&headers, &body) {
                    Ok(event) => {
                        let resource: Value = event.resource().unwrap_or_default();
                        let _ = tx.send(Ok((
                            event.event_type.clone(),
                            event.verified_by.clone(),
                            resource,
                        )));
                        wechatpay_chain::notify::success()
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        wechatpay_chain::notify::failure(&e.to_string())
                    }
                };
                (StatusCode::from_u16(answer.status).unwrap(), answer.body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

#[tokio::test]
async fn mock_notifications_verify_whichever_key_signs_them() {
    let server = MockServer::start().await.unwrap();
    let client = server
        .client_builder()
        .apiv3_key(Credentials::get().apiv3_key)
        .build()
        .unwrap();
    let (url, mut received) = receiver(client.clone()).await;
    let create = |no: &str| {
        json!({"json": {"out_order_no": no, "appid": "wxd678efh567hg6787", "service_id": "S1",
               "service_introduction": "x", "time_range": {"start_time": "OnAccept"},
               "risk_fund": {"name": "DEPOSIT", "amount": 100}, "notify_url": url}})
    };
    client["v3/payscore/serviceorder"]
        .post(create("NC1"))
        .await
        .unwrap();
    server.user_confirms("NC1", None).unwrap();
    let (event, by, order) = received.recv().await.unwrap().unwrap();
    assert_eq!(
        (event.as_str(), by.as_str()),
        ("PAYSCORE.USER_CONFIRM", common::PLATFORM_SERIAL)
    );
    assert_eq!(order["state"], "DOING");

    server.sign_notifications_with_public_key(true);
    client["v3/payscore/serviceorder"]
        .post(create("NC2"))
        .await
        .unwrap();
    server.user_confirms("NC2", None).unwrap();
    let (_, by, order) = received.recv().await.unwrap().unwrap();
    assert_eq!(by, common::PUBLIC_KEY_ID);
    assert_eq!(order["out_order_no"], "NC2");
    let log = server.wait_for_deliveries(2, Duration::from_secs(5)).await;
    assert!(log.iter().all(|d| d.delivered && d.attempts == 1));
}

/// One notification URL for several merchants: routed on `Wechatpay-Serial`
/// to the client that knows the key, through the framework-neutral entry
/// (header lookup by name, as actix-web or a queue would give it).
#[test]
fn one_url_routes_notifications_to_the_merchant_that_knows_the_key() {
    let key = Credentials::get().apiv3_key;
    let by_certificate = client(key);
    let by_public_key = public_key_client("1900000110", key);
    let clients = [by_certificate, by_public_key];
    let body = envelope(sealed(key, r#"{"out_order_no":"R1"}"#));
    for (with, mchid) in [
        (common::SignWith::Certificate, common::MCHID),
        (common::SignWith::PublicKey, "1900000110"),
    ] {
        let headers = common::signed_headers(body.as_bytes(), with, common::unix_now());
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let serial = header("Wechatpay-Serial").unwrap();
        let client = wechatpay_chain::notify::client_for(&clients, serial).unwrap();
        assert_eq!(client.mchid(), mchid);
        let event = client.notification_with(header, body.as_bytes()).unwrap();
        let order: Value = event.resource().unwrap();
        assert_eq!(order["out_order_no"], "R1");
        // The other merchant does not trust that key.
        let other = clients.iter().find(|c| c.mchid() != mchid).unwrap();
        let err = other
            .notification_with(header, body.as_bytes())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Verify {
                    kind: VerifyError::UnknownSerial(_),
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn a_notification_response_is_an_http_response() {
    let ok: http::Response<String> = wechatpay_chain::notify::success().into();
    assert_eq!(ok.status(), 204);
    assert!(ok.body().is_empty());
    let failed: http::Response<String> = wechatpay_chain::notify::failure("busy").into();
    assert_eq!(failed.status(), 500);
    assert_eq!(failed.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_str(failed.body()).unwrap();
    assert_eq!(body, json!({"code": "FAIL", "message": "busy"}));
}
