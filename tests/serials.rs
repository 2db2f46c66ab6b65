//! Certificate serials are hexadecimal numbers, written differently by
//! different SDKs: we write whole bytes (`0A57…`), the Go and Java SDKs drop
//! the leading zero (`A57…`), a configuration may be lowercase. Each form
//! names the same certificate wherever a serial is compared; another serial,
//! or a public key id differing in case, does not.

mod common;

use httpmock::prelude::*;

use wechatpay_chain::crypto::aes_256_gcm_encrypt;
use wechatpay_chain::keys::{same_serial, WechatpayKey};
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::verify::Verifier;
use wechatpay_chain::{json, Client, Error, VerifyError};

/// The serial of [`leading_zero_certificate`]: its first byte is 0x0A.
const SERIAL: &str = "0A57C3D2E1F00112233445566778899AABBCCDD1";

/// A platform certificate, signed with the test platform key (so that
/// `common::signed_headers(…, SignWith::Certificate, …)` verifies with it),
/// whose serial starts with a zero nibble.
fn leading_zero_certificate() -> Vec<u8> {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::private_key_from_pem(&common::read("platform_key.pem")).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Tenpay.com Root CA (test)")
        .unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_hex_str(SERIAL).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    let now = common::unix_now();
    b.set_not_before(&Asn1Time::from_unix(now - 3600).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + 86_400 * 365).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build().to_pem().unwrap()
}

/// Ways of writing [`SERIAL`] that other SDKs and configurations use.
fn same_serial_spellings() -> Vec<String> {
    vec![
        SERIAL.trim_start_matches('0').to_owned(), // Go, Java: A57C…
        SERIAL.to_ascii_lowercase(),
        SERIAL.trim_start_matches('0').to_ascii_lowercase(),
        format!("00{SERIAL}"),
    ]
}

/// Another certificate's serial, one digit away.
const OTHER: &str = "A57C3D2E1F00112233445566778899AABBCCDD2";

fn builder() -> wechatpay_chain::ClientBuilder {
    Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .apiv3_key(Credentials::get().apiv3_key)
}

#[test]
fn one_rule_hex_serials_as_numbers_key_ids_as_text() {
    let key = WechatpayKey::from_certificate_pem(&leading_zero_certificate()).unwrap();
    assert_eq!(key.id(), SERIAL, "we write whole bytes");
    for spelling in same_serial_spellings() {
        assert!(same_serial(&spelling, SERIAL), "{spelling}");
        assert!(same_serial(SERIAL, &spelling), "{spelling}");
    }
    assert!(!same_serial(OTHER, SERIAL));
    assert!(!same_serial("", "0"));
    let id = common::PUBLIC_KEY_ID;
    assert!(same_serial(id, id));
    assert!(!same_serial(&id.to_ascii_lowercase(), id));

    // the key store looks serials up by the same rule
    let verifier = Verifier::new(vec![key.clone()]).unwrap();
    for spelling in same_serial_spellings() {
        assert_eq!(
            verifier.key(&spelling).map(WechatpayKey::id),
            Some(SERIAL),
            "{spelling}"
        );
        assert!(verifier.contains(&spelling));
    }
    assert!(!verifier.contains(OTHER));
}

#[test]
fn a_notification_naming_the_certificate_in_another_spelling_verifies() {
    let client = builder()
        .platform_certificate(leading_zero_certificate())
        .build()
        .unwrap();
    let key: [u8; 32] = Credentials::get().apiv3_key.as_bytes().try_into().unwrap();
    let ciphertext = aes_256_gcm_encrypt(
        &key,
        b"Zk3mQ9xT2bVw",
        b"payscore",
        br#"{"out_order_no":"S1"}"#,
    )
    .unwrap();
    let body = json!({"id": "EV-1", "create_time": "2026-01-01T12:00:00+08:00",
        "event_type": "PAYSCORE.USER_PAID", "resource_type": "encrypt-resource", "summary": "s",
        "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": ciphertext,
                     "nonce": "Zk3mQ9xT2bVw", "associated_data": "payscore"}})
    .to_string();
    let now = common::unix_now();
    let signed = common::signed_headers(body.as_bytes(), common::SignWith::Certificate, now);
    for spelling in same_serial_spellings() {
        let headers = common::replace_header(signed.clone(), "Wechatpay-Serial", &spelling);
        let event = client
            .notification_at(&common::header_map(&headers), body.as_bytes(), now)
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert_eq!(event.verified_by, SERIAL, "named as configured");
    }
    let headers = common::replace_header(signed, "Wechatpay-Serial", OTHER);
    assert!(matches!(
        client.notification_at(&common::header_map(&headers), body.as_bytes(), now),
        Err(Error::Verify {
            kind: VerifyError::UnknownSerial(_),
            ..
        })
    ));
}

#[tokio::test]
async fn an_answer_naming_the_certificate_in_another_spelling_verifies() {
    let server = httpmock::MockServer::start_async().await;
    let body = r#"{"code_url":"weixin://wxpay/bizpayurl?pr=1"}"#;
    let signed = common::signed_headers(
        body.as_bytes(),
        common::SignWith::Certificate,
        common::unix_now(),
    );
    let mut spellings = same_serial_spellings();
    spellings.push(OTHER.to_owned());
    for (i, spelling) in spellings.iter().enumerate() {
        let headers = common::replace_header(signed.clone(), "Wechatpay-Serial", spelling);
        server
            .mock_async(|when, then| {
                when.method(POST).path(format!("/v3/s/{i}"));
                common::with_headers(then.status(200).body(body), headers);
            })
            .await;
    }
    let client = builder()
        .platform_certificate(leading_zero_certificate())
        .base_url(server.base_url())
        .build()
        .unwrap();
    for (i, spelling) in spellings.iter().enumerate() {
        let result = client
            .chain(&format!("v3/s/{i}"))
            .post(json!({"json": {}}))
            .await;
        if spelling == OTHER {
            assert!(
                matches!(
                    result,
                    Err(Error::Verify {
                        kind: VerifyError::UnknownSerial(_),
                        ..
                    })
                ),
                "{result:?}"
            );
        } else {
            let res = result.unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(res.verified_by(), Some(SERIAL));
        }
    }

    // the test platform certificate too, with zeros added or in lowercase
    let client = common::client(&server.base_url());
    for (i, spelling) in [
        format!("00{}", common::PLATFORM_SERIAL),
        common::PLATFORM_SERIAL.to_ascii_lowercase(),
    ]
    .iter()
    .enumerate()
    {
        let headers = common::replace_header(signed.clone(), "Wechatpay-Serial", spelling);
        server
            .mock_async(|when, then| {
                when.method(POST).path(format!("/v3/p/{i}"));
                common::with_headers(then.status(200).body(body), headers);
            })
            .await;
        let res = client
            .chain(&format!("v3/p/{i}"))
            .post(json!({"json": {}}))
            .await
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert_eq!(res.verified_by(), Some(common::PLATFORM_SERIAL));
    }
}

#[tokio::test]
async fn a_certificate_listed_without_its_leading_zero_is_downloaded() {
    let server = httpmock::MockServer::start_async().await;
    let pem = leading_zero_certificate();
    let key: [u8; 32] = Credentials::get().apiv3_key.as_bytes().try_into().unwrap();
    let ciphertext = aes_256_gcm_encrypt(&key, b"c3rtN0nce123", b"certificate", &pem).unwrap();
    // as the Go and Java SDKs write it: no leading 0
    let listed = SERIAL.trim_start_matches('0');
    let body = json!({"data": [{"serial_no": listed, "effective_time": "2026-01-01T00:00:00+08:00",
        "expire_time": "2031-01-01T00:00:00+08:00",
        "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": "c3rtN0nce123",
                                "associated_data": "certificate", "ciphertext": ciphertext}}]})
    .to_string();
    let headers = common::replace_header(
        common::signed_headers(
            body.as_bytes(),
            common::SignWith::Certificate,
            common::unix_now(),
        ),
        "Wechatpay-Serial",
        listed,
    );
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v3/certificates");
            common::with_headers(then.status(200).body(&body), headers);
        })
        .await;
    let client = builder()
        .base_url(server.base_url())
        .build_with_certificates()
        .await
        .unwrap();
    assert_eq!(client.preferred_serial().as_deref(), Some(SERIAL));
}

#[tokio::test]
async fn the_mock_knows_the_merchant_serial_in_any_spelling() {
    let server = MockServer::start().await.unwrap();
    server.check_schemas(false); // a generic operation, any body (the check: tests/mock_schema.rs)
    let serial = Credentials::get().merchant_serial;
    for spelling in [format!("00{serial}"), serial.to_ascii_lowercase()] {
        let client = server
            .client_builder()
            .merchant_serial(&spelling)
            .build()
            .unwrap();
        client["v3/marketing/favor/coupon-stocks"]
            .post(json!({"json": {}}))
            .await
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
    }
    let other = server
        .client_builder()
        .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D9")
        .build()
        .unwrap();
    let err = other["v3/marketing/favor/coupon-stocks"]
        .post(json!({"json": {}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.status == 401),
        "{err}"
    );
}
