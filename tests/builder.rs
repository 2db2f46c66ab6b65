//! `Client::builder()`: what it accepts, what it rejects and how it says so.

mod common;

use common::{data, MCHID, MERCHANT_SERIAL, PUBLIC_KEY_ID};
use wechatpay_chain::{Client, ClientBuilder, Error};

fn base() -> ClientBuilder {
    Client::builder()
        .mchid(MCHID)
        .merchant_serial(MERCHANT_SERIAL)
        .private_key_file(data("merchant_key.pem"))
}

fn message(result: Result<Client, Error>) -> String {
    match result {
        Ok(_) => panic!("the builder accepted a broken configuration"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn accepts_either_key_kind_and_both_private_key_encodings() {
    let cert_only = base()
        .platform_certificate_file(data("platform_cert.pem"))
        .build()
        .unwrap();
    assert_eq!(
        cert_only.preferred_serial().as_deref(),
        Some(common::PLATFORM_SERIAL)
    );
    let key_only = base()
        .platform_public_key_file(PUBLIC_KEY_ID, data("wechatpay_pub_key.pem"))
        .build()
        .unwrap();
    assert_eq!(key_only.preferred_serial().as_deref(), Some(PUBLIC_KEY_ID));
    Client::builder()
        .mchid(MCHID)
        .merchant_serial(MERCHANT_SERIAL.to_ascii_lowercase())
        .private_key_pem(common::read("merchant_key_pkcs1.pem"))
        .platform_certificate(common::read("platform_cert.pem"))
        .build()
        .unwrap();
}

#[test]
fn rejects_missing_and_unreadable_keys_naming_which() {
    let msg = message(
        Client::builder()
            .mchid(MCHID)
            .merchant_serial(MERCHANT_SERIAL)
            .platform_certificate_file(data("platform_cert.pem"))
            .build(),
    );
    assert!(msg.contains("no merchant private key"), "{msg}");

    let msg = message(
        Client::builder()
            .mchid(MCHID)
            .merchant_serial(MERCHANT_SERIAL)
            .private_key_file("/nonexistent/apiclient_key.pem")
            .platform_certificate_file(data("platform_cert.pem"))
            .build(),
    );
    assert!(
        msg.contains("/nonexistent/apiclient_key.pem") && msg.contains("cannot read"),
        "{msg}"
    );

    let msg = message(
        Client::builder()
            .mchid(MCHID)
            .merchant_serial(MERCHANT_SERIAL)
            .private_key_file(data("platform_cert.pem"))
            .platform_certificate_file(data("platform_cert.pem"))
            .build(),
    );
    assert!(
        msg.contains("merchant private key") && msg.contains("found `BEGIN CERTIFICATE`"),
        "{msg}"
    );

    let msg = message(base().platform_certificate(b"garbage".to_vec()).build());
    assert!(
        msg.contains("platform certificate #1") && msg.contains("BEGIN CERTIFICATE"),
        "{msg}"
    );

    let msg = message(
        base()
            .platform_public_key("KEY1", common::read("wechatpay_pub_key.pem"))
            .build(),
    );
    assert!(msg.contains("PUB_KEY_ID_"), "{msg}");

    let msg = message(
        base()
            .platform_public_key(PUBLIC_KEY_ID, common::read("platform_cert.pem"))
            .build(),
    );
    assert!(msg.contains("BEGIN PUBLIC KEY"), "{msg}");
}

#[test]
fn rejects_an_empty_key_store_and_the_merchant_certificate_as_a_wechatpay_key() {
    let msg = message(base().build());
    assert!(msg.contains("no WeChat Pay verification key"), "{msg}");
    let msg = message(
        base()
            .platform_certificate_file(data("merchant_cert.pem"))
            .build(),
    );
    assert!(msg.contains("merchant certificate serial"), "{msg}");
    let msg = message(
        base()
            .platform_certificate_file(data("platform_cert.pem"))
            .platform_certificate_file(data("platform_cert.pem"))
            .build(),
    );
    assert!(msg.contains("configured twice"), "{msg}");
}

#[test]
fn rejects_bad_ids_and_base_urls() {
    let with_cert = || base().platform_certificate_file(data("platform_cert.pem"));
    assert!(message(with_cert().mchid("19000x").build()).contains("digits"));
    assert!(message(with_cert().mchid("").build()).contains("mchid is not set"));
    assert!(message(with_cert().merchant_serial("XYZ").build()).contains("hex"));
    assert!(message(with_cert().base_url("ftp://example.com/").build()).contains("http"));
    assert!(message(with_cert().base_url("https://example.com/?a=1").build()).contains("query"));
    let client = with_cert()
        .base_url("https://api.mch.weixin.qq.com/hk")
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "https://api.mch.weixin.qq.com/hk/");
}

#[test]
fn client_is_cheap_to_share_and_prints_no_secret() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Client>();
    let client = base()
        .platform_certificate_file(data("platform_cert.pem"))
        .build()
        .unwrap();
    let printed = format!(
        "{client:?} {:?}",
        base().private_key_pem(common::read("merchant_key.pem"))
    );
    assert!(printed.contains(MCHID));
    assert!(
        !printed.contains("PRIVATE KEY") && !printed.contains("MII"),
        "{printed}"
    );
    let key = wechatpay_chain::keys::PrivateKey::from_pem_file(data("merchant_key.pem")).unwrap();
    assert_eq!(format!("{key:?}"), "PrivateKey(RSA-2048, redacted)");
}

#[test]
fn nonces_are_alphanumeric_and_unbiased() {
    let mut counts = [0u32; 128];
    let rounds = 4000;
    for _ in 0..rounds {
        let nonce = wechatpay_chain::crypto::random_alphanumeric(32).unwrap();
        assert_eq!(nonce.len(), 32);
        for b in nonce.bytes() {
            assert!(b.is_ascii_alphanumeric());
            counts[usize::from(b)] += 1;
        }
    }
    // 128000 draws over 62 symbols: expected 2064.5 each. A modulo bias from
    // 256 % 62 = 8 would put the first 8 symbols ~24% high; chi-square with
    // 61 degrees of freedom stays under 120 with overwhelming probability.
    let expected = f64::from(rounds * 32) / 62.0;
    let chi2: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| (f64::from(c) - expected).powi(2) / expected)
        .sum();
    assert_eq!(counts.iter().filter(|&&c| c > 0).count(), 62);
    assert!(chi2 < 120.0, "chi-square {chi2}");
}

#[test]
fn loads_encrypted_pkcs8_and_pkcs1_public_keys_and_never_echoes_key_material() {
    use openssl::pkey::PKey;
    use openssl::symm::Cipher;
    let key = PKey::private_key_from_pem(&common::read("merchant_key.pem")).unwrap();
    let encrypted = key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"s3cret")
        .unwrap();
    let with_cert = || {
        Client::builder()
            .mchid(MCHID)
            .merchant_serial(MERCHANT_SERIAL)
            .platform_certificate_file(data("platform_cert.pem"))
    };
    with_cert()
        .private_key_pem(encrypted.clone())
        .private_key_passphrase("s3cret")
        .build()
        .unwrap();
    let msg = message(with_cert().private_key_pem(encrypted.clone()).build());
    assert!(
        msg.contains("encrypted") && msg.contains("private_key_passphrase"),
        "{msg}"
    );
    let msg = message(
        with_cert()
            .private_key_pem(encrypted)
            .private_key_passphrase("wrong")
            .build(),
    );
    assert!(msg.contains("wrong passphrase"), "{msg}");

    let public = PKey::public_key_from_pem(&common::read("wechatpay_pub_key.pem")).unwrap();
    let pkcs1 = public.rsa().unwrap().public_key_to_pem_pkcs1().unwrap();
    assert!(String::from_utf8_lossy(&pkcs1).contains("BEGIN RSA PUBLIC KEY"));
    let client = base()
        .platform_public_key(PUBLIC_KEY_ID, pkcs1)
        .build()
        .unwrap();
    assert_eq!(client.preferred_serial().as_deref(), Some(PUBLIC_KEY_ID));

    // a private key given where a public key belongs: named, not echoed
    let msg = message(
        base()
            .platform_public_key(PUBLIC_KEY_ID, common::read("merchant_key.pem"))
            .build(),
    );
    assert!(
        msg.contains("found `BEGIN PRIVATE KEY`") && !msg.contains("MII"),
        "{msg}"
    );
    let msg = message(
        base()
            .platform_certificate(common::read("merchant_key.pem"))
            .build(),
    );
    assert!(
        msg.contains("found `BEGIN PRIVATE KEY`") && !msg.contains("MII"),
        "{msg}"
    );
    let msg = message(
        base()
            .platform_certificate(b"\x30\x82\x01".to_vec())
            .build(),
    );
    assert!(msg.contains("no PEM block"), "{msg}");
}

#[test]
fn apiv3_key_must_be_32_bytes_and_refresh_needs_it() {
    let with_cert = || base().platform_certificate_file(data("platform_cert.pem"));
    let msg = message(with_cert().apiv3_key("short").build());
    assert!(msg.contains("32 bytes") && !msg.contains("short"), "{msg}");
    let msg = message(
        with_cert()
            .certificate_refresh(std::time::Duration::from_secs(60))
            .build(),
    );
    assert!(msg.contains("APIv3 key"), "{msg}");
    let printed = format!(
        "{:?}",
        with_cert().apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")
    );
    assert!(!printed.contains("a7cde1"), "{printed}");
}
