//! Sensitive fields (names, phone numbers, ID numbers…): encrypted with the
//! WeChat Pay key before sending, decrypted with the merchant key when they
//! come back. RSAES-OAEP with SHA-1 only; PKCS#1 v1.5 is not offered.

use crate::client::Client;
use crate::crypto::{oaep_max_plaintext, rsa_oaep_decrypt, rsa_oaep_encrypt};
use crate::error::{Error, Result};
use crate::keys::WechatpayKey;

/// Encrypts with one WeChat Pay key and knows its id, so that the request
/// can name that key in `Wechatpay-Serial` ([`crate::Options::encrypted_with`]).
///
/// ```
/// use wechatpay_chain::{json, Options};
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
///
/// let encryptor = client.encryptor()?;
/// let name = encryptor.encrypt("张三")?;
/// let options = Options::new()
///     .json(&json!({"name": name}))
///     .encrypted_with(&encryptor);
/// assert_eq!(encryptor.serial(), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Encryptor {
    key: WechatpayKey,
}

impl Encryptor {
    /// The id of the key: what `Wechatpay-Serial` must say.
    pub fn serial(&self) -> &str {
        self.key.id()
    }

    /// RSAES-OAEP (SHA-1, MGF1-SHA-1) of `plaintext`, base64. Longer than
    /// 214 bytes (for RSA-2048) is an error, never truncated.
    pub fn encrypt(&self, plaintext: &str) -> Result<String> {
        let max = oaep_max_plaintext(self.key.as_pkey().bits());
        if plaintext.len() > max {
            return Err(Error::PlaintextTooLong {
                len: plaintext.len(),
                max,
            });
        }
        rsa_oaep_encrypt(self.key.as_pkey(), plaintext.as_bytes())
    }
}

impl Client {
    /// An encryptor with the preferred WeChat Pay key (the public key when
    /// one is configured, else the newest valid certificate).
    pub fn encryptor(&self) -> Result<Encryptor> {
        let verifier = self.verifier();
        let key = verifier
            .preferred_id()
            .and_then(|id| verifier.key(id))
            .ok_or_else(|| Error::Config("no WeChat Pay key to encrypt with".to_owned()))?;
        Ok(Encryptor { key: key.clone() })
    }

    /// Encrypts one sensitive field with the preferred WeChat Pay key. The
    /// request then sends that key's id as `Wechatpay-Serial` by default;
    /// to make it certain across a certificate rotation, use
    /// [`Client::encryptor`] with [`crate::Options::encrypted_with`].
    pub fn encrypt(&self, plaintext: &str) -> Result<String> {
        self.encryptor()?.encrypt(plaintext)
    }

    /// Decrypts a sensitive field of a response with the merchant private key.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String> {
        let plain = rsa_oaep_decrypt(self.inner().signer.key().as_pkey(), ciphertext)
            .ok_or(Error::FieldDecrypt)?;
        String::from_utf8(plain).map_err(|_| Error::FieldDecrypt)
    }
}
