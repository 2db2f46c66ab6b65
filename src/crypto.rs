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
/// let pem = std::fs::read("src/mock/data/merchant_key.pem")?;
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
/// let pem = std::fs::read("src/mock/data/wechatpay_pub_key.pem")?;
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

/// Length of the AES-256-GCM tag WeChat Pay appends to ciphertexts.
pub const GCM_TAG_LEN: usize = 16;

/// AES-256-GCM encryption as WeChat Pay does it for notifications and
/// certificates: returns base64 of ciphertext ‖ 16-byte tag.
///
/// ```
/// use wechatpay_chain::crypto::{aes_256_gcm_decrypt, aes_256_gcm_encrypt};
///
/// let key = b"0123456789abcdef0123456789abcdef";
/// let sealed = aes_256_gcm_encrypt(key, b"0123456789ab", b"certificate", b"hello")?;
/// assert_eq!(sealed, "8cyLViwuyN4D6+jaX5Ea+OGy5PP9");
/// assert_eq!(aes_256_gcm_decrypt(key, b"0123456789ab", b"certificate", &sealed)?, b"hello");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn aes_256_gcm_encrypt(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<String> {
    let mut tag = [0u8; GCM_TAG_LEN];
    let mut sealed = openssl::symm::encrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key,
        Some(nonce),
        aad,
        plaintext,
        &mut tag,
    )?;
    sealed.extend_from_slice(&tag);
    Ok(BASE64.encode(sealed))
}

/// Why an AES-256-GCM ciphertext could not be opened (it lives with the
/// error type that carries it).
pub use crate::error::AeadError;

/// Opens base64 ciphertext ‖ tag with AES-256-GCM.
pub fn aes_256_gcm_decrypt(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext_b64: &str,
) -> std::result::Result<Vec<u8>, AeadError> {
    let sealed = BASE64
        .decode(ciphertext_b64)
        .map_err(|_| AeadError::Base64)?;
    if sealed.len() < GCM_TAG_LEN {
        return Err(AeadError::Truncated(sealed.len()));
    }
    let (ciphertext, tag) = sealed.split_at(sealed.len() - GCM_TAG_LEN);
    openssl::symm::decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key,
        Some(nonce),
        aad,
        ciphertext,
        tag,
    )
    .map_err(|_| AeadError::Authentication)
}

/// Largest plaintext RSAES-OAEP (SHA-1) takes under a key of `bits` bits:
/// 214 bytes for RSA-2048.
///
/// ```
/// assert_eq!(wechatpay_chain::crypto::oaep_max_plaintext(2048), 214);
/// ```
pub fn oaep_max_plaintext(bits: u32) -> usize {
    (bits as usize / 8).saturating_sub(2 * 20 + 2)
}

/// RSAES-OAEP with SHA-1 and MGF1-SHA-1, empty label (what WeChat Pay uses
/// for sensitive fields), base64. The caller checks the length first.
pub fn rsa_oaep_encrypt<T: HasPublic>(key: &PKeyRef<T>, plaintext: &[u8]) -> Result<String> {
    let rsa = key.rsa()?;
    let mut sealed = vec![0u8; rsa.size() as usize];
    let len = rsa.public_encrypt(plaintext, &mut sealed, openssl::rsa::Padding::PKCS1_OAEP)?;
    sealed.truncate(len);
    Ok(BASE64.encode(sealed))
}

/// Opens a base64 RSAES-OAEP (SHA-1) ciphertext; `None` if it does not open.
pub fn rsa_oaep_decrypt<T: HasPrivate>(key: &PKeyRef<T>, ciphertext_b64: &str) -> Option<Vec<u8>> {
    let sealed = BASE64.decode(ciphertext_b64).ok()?;
    let rsa = key.rsa().ok()?;
    let mut plain = vec![0u8; rsa.size() as usize];
    let len = rsa
        .private_decrypt(&sealed, &mut plain, openssl::rsa::Padding::PKCS1_OAEP)
        .ok()?;
    plain.truncate(len);
    Some(plain)
}
