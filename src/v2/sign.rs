//! APIv2 signatures: sorted `k=v&…&key=APIv2KEY`, MD5 or HMAC-SHA256,
//! uppercase hex.

use openssl::hash::{hash, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde_json::{Map, Value};

use crate::error::Result;

/// The two APIv2 signature types.
///
/// ```
/// use wechatpay_chain::v2::sign::SignType;
/// assert_eq!(SignType::from_field(Some("HMAC-SHA256")), SignType::HmacSha256);
/// assert_eq!(SignType::from_field(None), SignType::Md5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignType {
    /// `MD5` (the default when `sign_type` is absent).
    Md5,
    /// `HMAC-SHA256`.
    HmacSha256,
}

impl SignType {
    /// From a payload's `sign_type` field.
    pub fn from_field(value: Option<&str>) -> Self {
        match value {
            Some(t) if t.eq_ignore_ascii_case("HMAC-SHA256") => SignType::HmacSha256,
            _ => SignType::Md5,
        }
    }

    /// From a received `sign`: 64 hex characters mean HMAC-SHA256.
    pub fn from_sign(sign: &str) -> Self {
        if sign.len() == 64 {
            SignType::HmacSha256
        } else {
            SignType::Md5
        }
    }
}

/// The string that is signed: parameters sorted by byte order, `sign` and
/// empty values left out, `&key=` and the key appended.
///
/// ```
/// use wechatpay_chain::json;
/// use wechatpay_chain::v2::sign::string_to_sign;
///
/// let fields = json!({"b": "2", "a": "1", "empty": "", "sign": "X"});
/// assert_eq!(string_to_sign(fields.as_object().unwrap(), "K"), "a=1&b=2&key=K");
/// ```
pub fn string_to_sign(fields: &Map<String, Value>, key: &str) -> String {
    let mut pairs: Vec<(&str, String)> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "sign")
        .filter_map(|(k, v)| scalar(v).filter(|s| !s.is_empty()).map(|s| (k.as_str(), s)))
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text: String = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    text.push_str("&key=");
    text.push_str(key);
    text
}

/// A value as it goes into the XML and the signature.
/// (`null` is an empty value, which the signature leaves out.)
pub(crate) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        other => crate::options::scalar(other),
    }
}

/// The `sign` of `fields` under `key`.
///
/// ```
/// use wechatpay_chain::json;
/// use wechatpay_chain::v2::sign::{sign, SignType};
///
/// let fields = json!({"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
///                     "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"});
/// let md5 = sign(fields.as_object().unwrap(), "192006250b4c09247ec02edce69f6a2d", SignType::Md5)?;
/// assert_eq!(md5, "9A0A8659F005D6984697E2CA0A9CF3B7");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn sign(fields: &Map<String, Value>, key: &str, sign_type: SignType) -> Result<String> {
    let text = string_to_sign(fields, key);
    let digest = match sign_type {
        SignType::Md5 => hash(MessageDigest::md5(), text.as_bytes())?.to_vec(),
        SignType::HmacSha256 => {
            let hmac = PKey::hmac(key.as_bytes())?;
            let mut signer = Signer::new(MessageDigest::sha256(), &hmac)?;
            signer.update(text.as_bytes())?;
            signer.sign_to_vec()?
        }
    };
    Ok(crate::hex::encode_upper(&digest))
}

/// Whether `fields` carries a valid `sign` under `key` (constant-time
/// comparison; 64 hex characters mean HMAC-SHA256).
pub fn verify(fields: &Map<String, Value>, key: &str) -> bool {
    let Some(received) = fields.get("sign").and_then(Value::as_str) else {
        return false;
    };
    let Ok(expected) = sign(fields, key, SignType::from_sign(received)) else {
        return false;
    };
    let received = received.to_ascii_uppercase();
    expected.len() == received.len()
        && openssl::memcmp::eq(expected.as_bytes(), received.as_bytes())
}
