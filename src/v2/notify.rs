//! APIv2 notifications: payment results (signed like answers) and refund
//! results (`req_info` encrypted with AES-256-ECB, which does not
//! authenticate), and the XML answers.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::hash::{hash, MessageDigest};
use openssl::symm::{decrypt, Cipher};
use serde_json::{Map, Value};

use super::{sign, xml, ApiV2Error};
use crate::client::Client;
use crate::error::{Error, Result, VerifyError};

/// Decrypts a refund notification's `req_info`: AES-256-ECB, PKCS#7, the key
/// being the lowercase MD5 hex of the APIv2 key. ECB does not authenticate:
/// a successful decryption does not prove WeChat Pay wrote these bytes (see
/// [`RefundNotification`]).
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
    let key = crate::hex::encode(&hash(MessageDigest::md5(), apiv2_key.as_bytes())?);
    decrypt(Cipher::aes_256_ecb(), key.as_bytes(), None, &sealed)
        .map_err(|_| Error::Decrypt(crate::crypto::AeadError::Authentication))
}

/// An APIv2 refund notification, read by [`Client::v2_refund_notification`]:
/// the decrypted `req_info` fields, and the envelope kept apart.
///
/// Only `decrypted` came from the holder of the APIv2 key, and even that
/// only weakly: `req_info` is AES-256-ECB, which encrypts each 16-byte block
/// alone and carries no MAC, so blocks of two genuine notifications can be
/// cut and spliced into a third that decrypts cleanly. The envelope
/// (`return_code`, `appid`, `mch_id`, `nonce_str`, …) is not signed at all.
/// Treat a refund notification as a hint: confirm the refund by querying it
/// (`v2/pay/refundquery`) before acting on it.
///
/// ```
/// use wechatpay_chain::Client;
///
/// let client = Client::builder()
///     .mchid("1900000109")
///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
///     .private_key_file("src/mock/data/merchant_key.pem")
///     .platform_certificate_file("src/mock/data/platform_cert.pem")
///     .apiv2_key("192006250b4c09247ec02edce69f6a2d")
///     .build()?;
/// let body = "<xml><return_code>SUCCESS</return_code><appid>wx1</appid>\
///     <req_info>WBzGpzQuNpcFxIlFjUUD9CdH4BF3YHmtiHaWV8j0mqDLQs/FUrjFmK+mli7+Iybd</req_info></xml>";
/// let refund = client.v2_refund_notification(body.as_bytes())?;
/// assert_eq!(refund.decrypted["out_refund_no"], "R1");
/// // the envelope is anyone's to write: never mixed into `decrypted`
/// assert_eq!(refund.unauthenticated["appid"], "wx1");
/// assert!(!refund.decrypted.contains_key("appid"));
/// // next: confirm with v2/pay/refundquery before acting on it
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RefundNotification {
    /// The fields of the decrypted `req_info` (`out_refund_no`,
    /// `refund_status`, `settlement_refund_fee`, …). AES-ECB: confidential,
    /// not authenticated.
    pub decrypted: Map<String, Value>,
    /// The envelope's fields other than `req_info`. Unsigned: whoever sent
    /// the request chose them.
    pub unauthenticated: Map<String, Value>,
}

impl Client {
    /// Verifies an APIv2 notification (payment results) and returns its fields.
    pub fn v2_notification(&self, body: &[u8]) -> Result<Map<String, Value>> {
        let key = self.inner().apiv2_key()?;
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

    /// Reads an APIv2 refund notification: decrypts `req_info` and returns
    /// its fields apart from the envelope's, which are unsigned.
    ///
    /// Neither part proves the refund happened: the envelope has no
    /// signature, and `req_info` is AES-ECB, which does not authenticate
    /// (see [`RefundNotification`]). Confirm the refund by querying it
    /// (`v2/pay/refundquery`) before acting on it.
    pub fn v2_refund_notification(&self, body: &[u8]) -> Result<RefundNotification> {
        let key = self.inner().apiv2_key()?;
        let mut envelope = xml::parse(body)?;
        if envelope.get("return_code").and_then(Value::as_str) != Some("SUCCESS") {
            return Err(ApiV2Error::from_fields(envelope).into());
        }
        let req_info = match envelope.remove("req_info") {
            Some(Value::String(text)) => text,
            _ => {
                return Err(Error::Notification(
                    crate::notify::NotificationError::MissingField("req_info"),
                ))
            }
        };
        let decrypted = xml::parse_req_info(&decrypt_req_info(&req_info, key)?)?;
        Ok(RefundNotification {
            decrypted,
            unauthenticated: envelope,
        })
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
