//! The cryptographic primitives WeChat Pay uses, over OpenSSL.
//!
//! Nothing here knows about HTTP or the client: these are the pieces the
//! signer, the verifier and the mock server share.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPrivate, HasPublic, PKeyRef};
use openssl::sign::{Signer, Verifier};

use crate::error::Result;

/// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, standard base64.
///
/// ```
/// use openssl::pkey::PKey;
/// use wechatpay_chain::crypto::{sign_sha256_rsa, verify_sha256_rsa};
///
/// let pem = std::fs::read("tests/data/merchant_key.pem")?;
/// let key = PKey::private_key_from_pem(&pem)?;
/// let signature = sign_sha256_rsa(&key, b"hello\n")?;
/// assert!(verify_sha256_rsa(&key, b"hello\n", &signature));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign_sha256_rsa<T: HasPrivate>(key: &PKeyRef<T>, message: &[u8]) -> Result<String> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(message)?;
    Ok(BASE64.encode(signer.sign_to_vec()?))
}

/// Checks a base64 RSASSA-PKCS1-v1_5/SHA-256 signature. Anything that is
/// not a valid signature (bad base64, wrong length, wrong key) is `false`.
///
/// ```
/// use openssl::pkey::PKey;
/// use wechatpay_chain::crypto::verify_sha256_rsa;
///
/// let pem = std::fs::read("tests/data/wechatpay_pub_key.pem")?;
/// let key = PKey::public_key_from_pem(&pem)?;
/// assert!(!verify_sha256_rsa(&key, b"x", "WECHATPAY/SIGNTEST/abc"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_sha256_rsa<T: HasPublic>(key: &PKeyRef<T>, message: &[u8], signature: &str) -> bool {
    let Ok(raw) = BASE64.decode(signature) else {
        return false;
    };
    let Ok(mut verifier) = Verifier::new(MessageDigest::sha256(), key) else {
        return false;
    };
    verifier.update(message).is_ok() && verifier.verify(&raw).unwrap_or(false)
}

/// `count` characters of `[0-9A-Za-z]`, uniformly distributed, from
/// OpenSSL's CSPRNG.
///
/// ```
/// let nonce = wechatpay_chain::crypto::random_alphanumeric(32)?;
/// assert_eq!(nonce.len(), 32);
/// assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn random_alphanumeric(count: usize) -> Result<String> {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // 248 = 4 × 62: bytes at or above it are dropped so that `% 62` is unbiased.
    const LIMIT: u8 = 248;
    let mut out = String::with_capacity(count);
    let mut pool = [0u8; 48];
    while out.len() < count {
        openssl::rand::rand_bytes(&mut pool)?;
        for &byte in pool.iter().filter(|&&b| b < LIMIT) {
            if out.len() == count {
                break;
            }
            out.push(ALPHABET[usize::from(byte % 62)] as char);
        }
    }
    Ok(out)
}
