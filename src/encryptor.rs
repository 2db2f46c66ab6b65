//! Encrypting a sensitive field for one WeChat Pay key: RSAES-OAEP with
//! SHA-1, the key's id kept so that the request can name it. Pure: no
//! client, no network ([`crate::sensitive`] hands one out).

use crate::crypto::{oaep_max_plaintext, rsa_oaep_encrypt};
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
    /// An encryptor for `key`.
    pub(crate) fn new(key: WechatpayKey) -> Self {
        Encryptor { key }
    }

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
