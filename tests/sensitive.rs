//! Sensitive fields: RSA-OAEP (SHA-1) with the right key, the right
//! `Wechatpay-Serial`, and the 214-byte limit.

mod common;

use openssl::pkey::PKey;
use wechatpay_chain::crypto::{rsa_oaep_decrypt, rsa_oaep_encrypt};
use wechatpay_chain::{json, Client, Error, Method, Options};

fn both_keys() -> Client {
    common::client("http://127.0.0.1:9/")
}

fn cert_only() -> Client {
    Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .platform_certificate_file(common::data("platform_cert.pem"))
        .build()
        .unwrap()
}

fn private(name: &str) -> PKey<openssl::pkey::Private> {
    PKey::private_key_from_pem(&common::read(name)).unwrap()
}

#[test]
fn the_oaep_vector_decrypts() {
    let v = &common::vectors()["rsa_oaep"];
    let plain = rsa_oaep_decrypt(
        &private("platform_key.pem"),
        v["ciphertext"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        v["plaintext"].as_str().unwrap()
    );
}

#[test]
fn encrypts_for_the_preferred_key_and_round_trips() {
    let sealed = cert_only().encrypt("张三").unwrap();
    let plain = rsa_oaep_decrypt(&private("platform_key.pem"), &sealed).unwrap();
    assert_eq!(plain, "张三".as_bytes());
    // with a public key configured, it is the one used
    let sealed = both_keys().encrypt("13800138000").unwrap();
    assert!(rsa_oaep_decrypt(&private("platform_key.pem"), &sealed).is_none());
    let plain = rsa_oaep_decrypt(&private("wechatpay_pub_key_private.pem"), &sealed).unwrap();
    assert_eq!(plain, b"13800138000");
    // randomized: the same plaintext never gives the same ciphertext
    assert_ne!(
        both_keys().encrypt("x").unwrap(),
        both_keys().encrypt("x").unwrap()
    );
}

#[test]
fn plaintext_over_214_bytes_is_refused_not_truncated() {
    let client = both_keys();
    let sealed = client.encrypt(&"a".repeat(214)).unwrap();
    let plain = rsa_oaep_decrypt(&private("wechatpay_pub_key_private.pem"), &sealed).unwrap();
    assert_eq!(plain.len(), 214);
    assert!(matches!(
        client.encrypt(&"a".repeat(215)),
        Err(Error::PlaintextTooLong { len: 215, max: 214 })
    ));
    // 72 three-byte characters are 216 bytes
    assert!(matches!(
        client.encrypt(&"张".repeat(72)),
        Err(Error::PlaintextTooLong { len: 216, .. })
    ));
}

#[test]
fn decrypts_response_fields_with_the_merchant_key() {
    let merchant_public = openssl::x509::X509::from_pem(&common::read("merchant_cert.pem"))
        .unwrap()
        .public_key()
        .unwrap();
    let sealed = rsa_oaep_encrypt(&merchant_public, "李四".as_bytes()).unwrap();
    assert_eq!(both_keys().decrypt(&sealed).unwrap(), "李四");
    assert!(matches!(
        both_keys().decrypt("not base64!"),
        Err(Error::FieldDecrypt)
    ));
    let for_someone_else = both_keys().encrypt("x").unwrap();
    assert!(matches!(
        both_keys().decrypt(&for_someone_else),
        Err(Error::FieldDecrypt)
    ));
}

#[test]
fn a_request_that_used_the_encryptor_names_its_key() {
    let client = both_keys();
    let node = client.chain("v3/applyment4sub/applyment/");
    let encryptor = cert_only().encryptor().unwrap(); // the certificate, not the preferred public key
    let body = json!({"contact_name": encryptor.encrypt("张三").unwrap()});
    let request = node
        .prepare(
            Method::POST,
            Options::new().json(&body).encrypted_with(&encryptor),
        )
        .unwrap();
    assert_eq!(
        request.headers()["wechatpay-serial"],
        common::PLATFORM_SERIAL
    );
    // without it, the preferred key is named
    let request = node
        .prepare(Method::POST, Options::new().json(&body))
        .unwrap();
    assert_eq!(request.headers()["wechatpay-serial"], common::PUBLIC_KEY_ID);
    // a contradicting header is refused before anything is sent
    let err = node
        .prepare(
            Method::POST,
            Options::new()
                .json(&body)
                .header("Wechatpay-Serial", common::PUBLIC_KEY_ID)
                .encrypted_with(&encryptor),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption { key, .. } if key.eq_ignore_ascii_case("headers.wechatpay-serial")),
        "{err}"
    );
}
