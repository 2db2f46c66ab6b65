//! Key loading: any bytes as a private key, a certificate, a public key:
//! errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay_chain::keys::{PrivateKey, WechatpayKey};

fuzz_target!(|data: &[u8]| {
    let _ = PrivateKey::from_pem(data);
    let _ = PrivateKey::from_pem_with_passphrase(data, b"x");
    let _ = WechatpayKey::from_certificate_pem(data);
    let _ =
        WechatpayKey::from_public_key_pem("PUB_KEY_ID_0119000001092026010100000000000001", data);
});
