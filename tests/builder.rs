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

/// Every line of `pem` (the armour and each base64 line), so that no test
/// misses a fragment of key material in an output.
fn pem_lines(pem: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(pem)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn assert_no_key_material(text: &str, pem: &[u8]) {
    assert!(!text.contains("BEGIN"), "PEM armour echoed: {text}");
    for line in pem_lines(pem) {
        assert!(!text.contains(&line), "key line `{line}` echoed: {text}");
    }
}

#[test]
fn pem_given_where_a_path_belongs_is_named_never_echoed() {
    let key = common::read("merchant_key.pem");
    let key_text = String::from_utf8(key.clone()).unwrap();
    let with_cert = || {
        Client::builder()
            .mchid(MCHID)
            .merchant_serial(MERCHANT_SERIAL)
            .platform_certificate_file(data("platform_cert.pem"))
    };

    // the private key itself passed to private_key_file
    let builder = with_cert().private_key_file(&key_text);
    let printed = format!("{builder:?}");
    assert_no_key_material(&printed, &key);
    let msg = message(builder.build());
    assert_no_key_material(&msg, &key);
    assert!(
        msg.contains("merchant private key")
            && msg.contains("looks like PEM content")
            && msg.contains("private_key_pem"),
        "{msg}"
    );

    // the same through PrivateKey::from_pem_file
    let err = wechatpay_chain::keys::PrivateKey::from_pem_file(&key_text).unwrap_err();
    assert_no_key_material(&err.to_string(), &key);
    assert_no_key_material(&format!("{err:?}"), &key);

    // a certificate and a public key passed as paths
    let cert = common::read("platform_cert.pem");
    let msg = message(
        base()
            .platform_certificate_file(String::from_utf8(cert.clone()).unwrap())
            .build(),
    );
    assert_no_key_material(&msg, &cert);
    assert!(
        msg.contains("looks like PEM content") && msg.contains("platform_certificate("),
        "{msg}"
    );
    let public = common::read("wechatpay_pub_key.pem");
    let msg = message(
        base()
            .platform_public_key_file(PUBLIC_KEY_ID, String::from_utf8(public.clone()).unwrap())
            .build(),
    );
    assert_no_key_material(&msg, &public);
    assert!(
        msg.contains("looks like PEM content") && msg.contains("platform_public_key("),
        "{msg}"
    );

    // base64 without its armour on one line is too long to be a path
    let bare: String = key_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let msg = message(with_cert().private_key_file(&bare).build());
    assert!(!msg.contains(&bare[..64]), "{msg}");
    assert!(msg.contains("looks like PEM content"), "{msg}");

    // a real path that does not exist is still named
    let msg = message(with_cert().private_key_file("/nonexistent/key.pem").build());
    assert!(msg.contains("/nonexistent/key.pem"), "{msg}");
}

#[test]
fn a_profile_holding_pem_instead_of_a_path_is_refused_without_echo() {
    let key = common::read("merchant_key.pem");
    let dir = std::env::temp_dir().join(format!("wxpay-profile-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("platform_cert.pem"), dir.join("platform.pem")).unwrap();
    let profile = serde_json::json!({
        "mchid": MCHID,
        "merchant_serial": MERCHANT_SERIAL,
        "merchant_private_key": String::from_utf8(key.clone()).unwrap(),
        "platform_certificate": "platform.pem",
        "apiv3_key": "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
    });
    let path = dir.join("profile.json");
    std::fs::write(&path, profile.to_string()).unwrap();
    let err = wechatpay_chain::profile::Profile::read(&path).unwrap_err();
    let msg = format!("{err} {err:?}");
    assert_no_key_material(&msg, &key);
    assert!(
        msg.contains("merchant_private_key") && msg.contains("looks like PEM content"),
        "{msg}"
    );

    // a profile built in code goes through the builder's check
    let mut profile = wechatpay_chain::profile::Profile::default();
    profile.mchid = Some(MCHID.to_owned());
    profile.merchant_serial = Some(MERCHANT_SERIAL.to_owned());
    profile.merchant_private_key = Some(dir.join(String::from_utf8(key.clone()).unwrap()));
    profile.platform_certificate = Some(dir.join("platform.pem"));
    assert_no_key_material(&format!("{profile:?}"), &key);
    let builder = profile.builder();
    assert_no_key_material(&format!("{builder:?}"), &key);
    let msg = message(builder.build());
    assert_no_key_material(&msg, &key);
    assert!(msg.contains("looks like PEM content"), "{msg}");

    // the profile's JSON itself given as its path: its APIv3 key is not echoed
    let json = std::fs::read_to_string(&path).unwrap();
    let err = wechatpay_chain::profile::Profile::read(&json).unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"), "{msg}");
    assert_no_key_material(&msg, &key);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_shows_that_a_proxy_is_set_but_not_its_password() {
    let builder = base()
        .platform_certificate_file(data("platform_cert.pem"))
        .base_url("https://user:s3cret@api.mch.weixin.qq.com/")
        .proxy(reqwest::Proxy::all("http://user:s3cret@127.0.0.1:1").unwrap())
        .http_client(
            reqwest::Client::builder()
                .proxy(reqwest::Proxy::all("http://user:s3cret@127.0.0.1:2").unwrap())
                .build()
                .unwrap(),
        );
    let printed = format!("{builder:?} {builder:#?}");
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(printed.contains("proxies"), "{printed}");
    assert!(printed.contains(MCHID), "{printed}");
}

// ---- issue 23.4: credentials in a base URL ----------------------------------

#[test]
fn credentials_in_a_base_url_are_refused_and_never_shown() {
    let with_cert = || base().platform_certificate_file(data("platform_cert.pem"));
    let secret = "hunter2-secret";
    for url in [
        "https://merchant:hunter2-secret@api.mch.weixin.qq.com/",
        // does not parse (port out of range): shown without user info all the same
        "https://merchant:hunter2-secret@api.mch.weixin.qq.com:99999/",
        "merchant:hunter2-secret@api.mch.weixin.qq.com/",
    ] {
        for builder in [with_cert().base_url(url), with_cert().backup_base_url(url)] {
            let debug = format!("{builder:?}");
            assert!(!debug.contains(secret), "{url}: {debug}");
            let err = builder.build().unwrap_err();
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(secret), "{url}: {text}");
                assert!(!text.contains("merchant:"), "{url}: {text}");
            }
        }
    }
    // what is not secret still says which URL is wrong
    let err = with_cert()
        .base_url("https://merchant:hunter2-secret@api.mch.weixin.qq.com/")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("api.mch.weixin.qq.com")
            && err.to_string().contains("credentials"),
        "{err}"
    );
}
