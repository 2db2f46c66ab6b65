//! Platform certificates: download, bootstrap, rotation picked up by a
//! refresh, background refresh per client, validity, public-key-only merchants.

mod common;

use std::time::Duration;

use httpmock::prelude::*;
use wechatpay_chain::keys::WechatpayKey;
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::verify::Verifier;
use wechatpay_chain::{json, Client, ClientBuilder, Error, VerifyError};

/// A client of `server` that trusts only what certificates give it.
fn cert_client(server: &MockServer) -> ClientBuilder {
    let c = Credentials::get();
    Client::builder()
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .apiv3_key(c.apiv3_key)
        .base_url(server.base_url())
}

async fn ping(client: &Client) -> Result<wechatpay_chain::Response, Error> {
    client["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
}

#[tokio::test]
async fn bootstraps_from_no_key_with_a_certificate_the_answer_carries() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
                                 // build() refuses an empty key store; build_with_certificates() fills it
    assert!(cert_client(&server).build().is_err());
    let client = cert_client(&server)
        .build_with_certificates()
        .await
        .unwrap();
    let serial = Credentials::get().platform_certificate_serial;
    assert_eq!(client.preferred_serial().as_deref(), Some(serial));
    assert_eq!(ping(&client).await.unwrap().verified_by(), Some(serial));

    let downloaded = client.download_certificates().await.unwrap();
    assert_eq!(downloaded.len(), 1);
    assert_eq!(downloaded[0].id(), serial);
}

#[tokio::test]
async fn a_rotated_certificate_is_picked_up_by_a_refresh_without_restart() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let client = cert_client(&server)
        .build_with_certificates()
        .await
        .unwrap();
    let mixed = server
        .client_builder()
        .apiv3_key(Credentials::get().apiv3_key)
        .build()
        .unwrap();
    let new_serial = server.rotate_certificate().unwrap();
    server.use_newest_certificate();
    // not known yet
    assert!(
        matches!(ping(&client).await, Err(Error::Verify { kind: VerifyError::UnknownSerial(s), .. }) if s == new_serial)
    );
    assert_eq!(client.refresh_certificates().await.unwrap(), 2);
    assert_eq!(
        ping(&client).await.unwrap().verified_by(),
        Some(new_serial.as_str())
    );
    // mixed mode keeps naming (and being answered with) the public key
    assert_eq!(
        ping(&mixed).await.unwrap().verified_by(),
        Some(Credentials::get().platform_public_key_id)
    );
    mixed.refresh_certificates().await.unwrap();
    assert!(mixed.verifier().contains(&new_serial));
    assert_eq!(
        mixed.preferred_serial().as_deref(),
        Some(Credentials::get().platform_public_key_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh_is_per_client_and_runs_while_requests_do() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let fast = cert_client(&server)
        .certificate_refresh(Duration::from_millis(100))
        .build_with_certificates()
        .await
        .unwrap();
    let still = cert_client(&server)
        .build_with_certificates()
        .await
        .unwrap();
    let new_serial = server.rotate_certificate().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !fast.verifier().contains(&new_serial) {
        ping(&fast).await.unwrap(); // requests keep working during swaps
        assert!(
            std::time::Instant::now() < deadline,
            "no refresh within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !still.verifier().contains(&new_serial),
        "the other client has no refresh"
    );
    drop(fast); // its refresh task ends with it
}

#[test]
fn refresh_needs_a_runtime() {
    let c = Credentials::get();
    let err = Client::builder()
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .platform_certificate(c.platform_certificate)
        .apiv3_key(c.apiv3_key)
        .certificate_refresh(Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("tokio"), "{err}");
}

#[test]
fn expired_and_future_certificates_do_not_verify() {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::private_key_from_pem(&common::read("platform_key.pem")).unwrap();
    let make = |serial: u32, from: i64, to: i64| {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(serial).unwrap()).unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(from).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(to).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        WechatpayKey::from_certificate_pem(&b.build().to_pem().unwrap()).unwrap()
    };
    let now = common::unix_now();
    let expired = make(0xE1, now - 86_400 * 30, now - 86_400);
    let future = make(0xF1, now + 86_400, now + 86_400 * 30);
    let verifier = Verifier::new(vec![expired.clone(), future.clone()]).unwrap();
    assert_eq!(verifier.preferred_id(), None, "neither may be preferred");
    for cert in [expired, future] {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in common::signed_headers(b"{}", common::SignWith::Certificate, now) {
            let value = if name == "Wechatpay-Serial" {
                cert.id().to_owned()
            } else {
                value
            };
            headers.insert(name, value.parse().unwrap());
        }
        assert_eq!(
            verifier.verify(&headers, b"{}", now),
            Err(VerifyError::KeyNotValid(cert.id().to_owned()))
        );
    }
}

#[tokio::test]
async fn an_empty_listing_is_fine_for_a_public_key_merchant() {
    let server = httpmock::MockServer::start_async().await;
    let body = r#"{"data":[]}"#;
    let headers = common::signed_headers(
        body.as_bytes(),
        common::SignWith::PublicKey,
        common::unix_now(),
    );
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v3/certificates");
            common::with_headers(then.status(200).body(body), headers);
        })
        .await;
    let c = Credentials::get();
    let client = Client::builder()
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .platform_public_key(c.platform_public_key_id, c.platform_public_key)
        .apiv3_key(c.apiv3_key)
        .base_url(server.base_url())
        .build()
        .unwrap();
    assert_eq!(client.refresh_certificates().await.unwrap(), 0);
    assert_eq!(
        client.preferred_serial().as_deref(),
        Some(c.platform_public_key_id)
    );
}

/// Mid-migration to the public key: the certificate stays preferred (and
/// so signs the responses) across a refresh until the merchant flips.
#[tokio::test]
async fn a_preferred_certificate_survives_refresh_and_names_the_signing_key() {
    let server = wechatpay_chain::mock::MockServer::start().await.unwrap();
    let c = wechatpay_chain::mock::Credentials::get();
    let client = server
        .client_builder()
        .prefer_certificate(true)
        .build()
        .unwrap();
    assert_eq!(
        client.preferred_serial().as_deref(),
        Some(c.platform_certificate_serial)
    );
    let res = client["v3/certificates"].get(()).await.unwrap();
    assert_eq!(res.verified_by(), Some(c.platform_certificate_serial));
    client.refresh_certificates().await.unwrap();
    assert_eq!(
        client.preferred_serial().as_deref(),
        Some(c.platform_certificate_serial)
    );
    let flipped = server.client().unwrap();
    let res = flipped["v3/certificates"].get(()).await.unwrap();
    assert_eq!(res.verified_by(), Some(c.platform_public_key_id));
}
