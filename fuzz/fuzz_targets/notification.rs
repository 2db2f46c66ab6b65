//! Any body, signed so that it passes verification, through the
//! notification parser and decryptor: errors, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderValue};
use wechatpay_chain::crypto::sign_sha256_rsa;
use wechatpay_chain::sign::response_message;
use wechatpay_chain::Client;

const PLATFORM_KEY: &[u8] = include_bytes!("../../src/mock/data/platform_key.pem");

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder()
            .mchid("1900000109")
            .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
            .private_key_pem(include_bytes!("../../src/mock/data/merchant_key.pem").to_vec())
            .platform_certificate(include_bytes!("../../src/mock/data/platform_cert.pem").to_vec())
            .apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")
            .build()
            .expect("the test keys load")
    })
}

fuzz_target!(|body: &[u8]| {
    let key = openssl::pkey::PKey::private_key_from_pem(PLATFORM_KEY).expect("key");
    let (timestamp, nonce) = ("1795305600", "fuzz");
    let signature = sign_sha256_rsa(&key, &response_message(timestamp, nonce, body)).expect("sign");
    let mut headers = HeaderMap::new();
    headers.insert(
        "wechatpay-timestamp",
        HeaderValue::from_static("1795305600"),
    );
    headers.insert("wechatpay-nonce", HeaderValue::from_static("fuzz"));
    headers.insert(
        "wechatpay-serial",
        HeaderValue::from_static("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
    );
    headers.insert(
        "wechatpay-signature",
        HeaderValue::from_str(&signature).expect("base64"),
    );
    if let Ok(event) = client().notification_at(&headers, body, 1795305600) {
        let _ = event.resource::<wechatpay_chain::Value>();
    }
});
