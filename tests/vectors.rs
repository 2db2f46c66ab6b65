//! Known-answer vectors from ../shared/vectors (copied into tests/data).

mod common;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wechatpay_chain::keys::{PrivateKey, WechatpayKey};
use wechatpay_chain::sign::{request_message, RequestSigner};
use wechatpay_chain::verify::Verifier;
use wechatpay_chain::VerifyError;

fn signer(key_file: &str) -> RequestSigner {
    let key = PrivateKey::from_pem_file(common::data(key_file)).unwrap();
    RequestSigner::new(common::MCHID, common::MERCHANT_SERIAL, key)
}

#[test]
fn request_signature_vector_is_reproduced_exactly() {
    let v = &common::vectors()["request_signature"];
    let s = |k: &str| v[k].as_str().unwrap();
    let timestamp: i64 = s("timestamp").parse().unwrap();
    assert_eq!(
        request_message(
            s("method"),
            s("canonical_url"),
            timestamp,
            s("nonce"),
            s("body").as_bytes()
        ),
        s("message").as_bytes()
    );
    // PKCS#8 and PKCS#1 encodings of the same key sign identically
    for key in ["merchant_key.pem", "merchant_key_pkcs1.pem"] {
        let auth = signer(key)
            .sign_at(
                s("method"),
                s("canonical_url"),
                s("body").as_bytes(),
                timestamp,
                s("nonce"),
            )
            .unwrap();
        assert_eq!(auth.signature, s("signature"), "{key}");
        assert_eq!(auth.to_string(), s("authorization"), "{key}");
        assert!(!format!("{auth:?}").contains(&auth.signature));
    }
}

#[test]
fn get_signature_vector_has_an_empty_body_line() {
    let v = &common::vectors()["request_signature_get"];
    let auth = signer("merchant_key.pem")
        .sign_at(
            "GET",
            "/v3/certificates?algorithm_type=RSA",
            b"",
            1795305600,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
        )
        .unwrap();
    assert_eq!(
        request_message(
            "GET",
            "/v3/certificates?algorithm_type=RSA",
            1795305600,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            b""
        ),
        v["message"].as_str().unwrap().as_bytes()
    );
    assert_eq!(auth.signature, v["signature"].as_str().unwrap());
}

fn verifier() -> Verifier {
    Verifier::new(vec![
        WechatpayKey::from_certificate_pem(&common::read("platform_cert.pem")).unwrap(),
        WechatpayKey::from_public_key_pem(
            common::PUBLIC_KEY_ID,
            &common::read("wechatpay_pub_key.pem"),
        )
        .unwrap(),
    ])
    .unwrap()
}

fn headers(v: &serde_json::Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, key) in [
        ("wechatpay-timestamp", "timestamp"),
        ("wechatpay-nonce", "nonce"),
        ("wechatpay-serial", "serial"),
        ("wechatpay-signature", "signature"),
    ] {
        map.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(v[key].as_str().unwrap()).unwrap(),
        );
    }
    map
}

#[test]
fn response_vectors_verify_with_a_pinned_clock() {
    let vectors = common::vectors();
    let verifier = verifier();
    for (name, serial) in [
        ("response_signature_cert", common::PLATFORM_SERIAL),
        ("response_signature_204_public_key", common::PUBLIC_KEY_ID),
    ] {
        let v = &vectors[name];
        let body = v["body"].as_str().unwrap().as_bytes();
        let now = 1795305600;
        assert_eq!(
            verifier.verify(&headers(v), body, now),
            Ok(serial),
            "{name}"
        );
        assert_eq!(
            verifier.verify(&headers(v), body, now + 300),
            Ok(serial),
            "{name}: 300 s is allowed"
        );
        assert!(
            matches!(
                verifier.verify(&headers(v), body, now + 301),
                Err(VerifyError::StaleTimestamp { .. })
            ),
            "{name}"
        );
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert_eq!(
            verifier.verify(&headers(v), &tampered, now),
            Err(VerifyError::SignatureMismatch {
                serial: serial.to_owned()
            })
        );
    }
}

#[test]
fn notification_vector_signature_verifies_like_a_response() {
    let v = &common::vectors()["notification"];
    let mut map = HeaderMap::new();
    for (name, value) in v["headers"].as_object().unwrap() {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    let body = v["body"].as_str().unwrap().as_bytes();
    assert_eq!(
        verifier().verify(&map, body, 1795305600),
        Ok(common::PLATFORM_SERIAL)
    );
}

#[test]
fn aes_256_gcm_vectors_round_trip() {
    use wechatpay_chain::crypto::{aes_256_gcm_decrypt, aes_256_gcm_encrypt, AeadError};
    for v in common::vectors()["aes_256_gcm"].as_array().unwrap() {
        let s = |k: &str| v[k].as_str().unwrap();
        let key: [u8; 32] = s("key").as_bytes().try_into().unwrap();
        let sealed = aes_256_gcm_encrypt(
            &key,
            s("nonce").as_bytes(),
            s("associated_data").as_bytes(),
            s("plaintext").as_bytes(),
        )
        .unwrap();
        assert_eq!(sealed, s("ciphertext"));
        let opened = aes_256_gcm_decrypt(
            &key,
            s("nonce").as_bytes(),
            s("associated_data").as_bytes(),
            s("ciphertext"),
        )
        .unwrap();
        assert_eq!(opened, s("plaintext").as_bytes());
        let wrong = aes_256_gcm_decrypt(&key, s("nonce").as_bytes(), b"other", s("ciphertext"));
        assert_eq!(wrong, Err(AeadError::Authentication));
    }
    let key = [0u8; 32];
    assert_eq!(
        aes_256_gcm_decrypt(&key, b"0123456789ab", b"", "!!"),
        Err(AeadError::Base64)
    );
    assert_eq!(
        aes_256_gcm_decrypt(&key, b"0123456789ab", b"", "AAAA"),
        Err(AeadError::Truncated(3))
    );
}
