//! APIv2 notifications: payment results (signed like answers) and refund
//! results (`req_info` encrypted with AES-256-ECB), and the XML answers.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::hash::{hash, MessageDigest};
use openssl::symm::{decrypt, Cipher};
use serde_json::{Map, Value};

use super::{sign, xml, ApiV2Error};
use crate::client::Client;
use crate::error::{Error, Result, VerifyError};

/// Decrypts a refund notification's `req_info`: AES-256-ECB, PKCS#7, the key
/// being the lowercase MD5 hex of the APIv2 key.
///
/// ```
/// let plain = wechatpay_chain::v2::notify::decrypt_req_info(
///     "WBzGpzQuNpcFxIlFjUUD9CdH4BF3YHmtiHaWV8j0mqDLQs/FUrjFmK+mli7+Iybd",
///     "192006250b4c09247ec02edce69f6a2d",
/// )?;
/// assert_eq!(plain, b"<root><out_refund_no>R1</out_refund_no></root>");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn decrypt_req_info(req_info: &str, apiv2_key: &str) -> Result<Vec<u8>> {
    let sealed = BASE64
        .decode(req_info.trim())
        .map_err(|_| Error::Decrypt(crate::crypto::AeadError::Base64))?;
    let key: String = hash(MessageDigest::md5(), apiv2_key.as_bytes())?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    decrypt(Cipher::aes_256_ecb(), key.as_bytes(), None, &sealed)
        .map_err(|_| Error::Decrypt(crate::crypto::AeadError::Authentication))
}

impl Client {
    /// Verifies an APIv2 notification (payment results) and returns its fields.
    pub fn v2_notification(&self, body: &[u8]) -> Result<Map<String, Value>> {
        let key = self.apiv2_key()?;
        let fields = xml::parse(body)?;
        if fields.get("return_code").and_then(Value::as_str) != Some("SUCCESS") {
            return Err(ApiV2Error::from_fields(fields).into());
        }
        if !sign::verify(&fields, key) {
            return Err(Error::Verify {
                kind: VerifyError::V2SignatureMismatch,
                request_id: None,
            });
        }
        Ok(fields)
    }

    /// Reads an APIv2 refund notification: the outer fields, with the
    /// decrypted `req_info` fields merged in (they are not signed; the
    /// encryption with the APIv2 key is what authenticates them).
    pub fn v2_refund_notification(&self, body: &[u8]) -> Result<Map<String, Value>> {
        let key = self.apiv2_key()?;
        let mut fields = xml::parse(body)?;
        if fields.get("return_code").and_then(Value::as_str) != Some("SUCCESS") {
            return Err(ApiV2Error::from_fields(fields).into());
        }
        let req_info =
            fields
                .get("req_info")
                .and_then(Value::as_str)
                .ok_or(Error::Notification(
                    crate::notify::NotificationError::MissingField("req_info"),
                ))?;
        let inner = xml::parse(&decrypt_req_info(req_info, key)?)?;
        fields.remove("req_info");
        fields.extend(inner);
        Ok(fields)
    }

    fn apiv2_key(&self) -> Result<&str> {
        self.inner()
            .apiv2
            .as_ref()
            .map(|s| s.key.as_str())
            .ok_or_else(|| Error::Config("APIv2 needs the APIv2 key: add .apiv2_key(…)".to_owned()))
    }
}

/// The XML answer telling WeChat Pay a notification was handled.
///
/// ```
/// assert!(wechatpay_chain::v2::notify::success().contains("SUCCESS"));
/// ```
pub fn success() -> String {
    "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>".to_owned()
}

/// The XML answer asking WeChat Pay to notify again later.
pub fn failure(message: &str) -> String {
    let mut fields = Map::new();
    fields.insert("return_code".to_owned(), Value::String("FAIL".to_owned()));
    fields.insert("return_msg".to_owned(), Value::String(message.to_owned()));
    xml::write(&fields).unwrap_or_else(|_| "<xml><return_code>FAIL</return_code></xml>".to_owned())
}
