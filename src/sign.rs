//! APIv3 request signing: the signed message and the `Authorization` header.
//!
//! ```text
//! METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n
//! ```

use std::fmt;

use crate::crypto;
use crate::error::Result;
use crate::keys::PrivateKey;

/// Scheme of the `Authorization` header and of `Wechatpay-Signature-Type`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Length of the nonces this crate generates.
pub const NONCE_LEN: usize = 32;

/// Current Unix time in seconds (the same as [`crate::clock::unix_now`]).
pub use crate::clock::unix_now;

/// The message a request signature covers.
///
/// ```
/// let message = wechatpay_chain::sign::request_message("GET", "/v3/certificates", 1795305600, "N", b"");
/// assert_eq!(message, b"GET\n/v3/certificates\n1795305600\nN\n\n");
/// ```
pub fn request_message(
    method: &str,
    canonical_url: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(method.len() + canonical_url.len() + nonce.len() + body.len() + 20);
    for part in [
        method.as_bytes(),
        canonical_url.as_bytes(),
        timestamp.to_string().as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// The message a response or notification signature covers.
///
/// ```
/// let message = wechatpay_chain::sign::response_message("1795305600", "N", b"");
/// assert_eq!(message, b"1795305600\nN\n\n");
/// ```
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// The parameters of an `Authorization: WECHATPAY2-SHA256-RSA2048 …` header.
///
/// `Display` writes the header value; `Debug` hides the signature.
///
/// ```
/// use wechatpay_chain::sign::Authorization;
///
/// let auth = Authorization {
///     mchid: "1900000109".into(), serial_no: "ABC".into(), timestamp: 1795305600,
///     nonce_str: "N".into(), signature: "SECRET".into(),
/// };
/// assert!(auth.to_string().contains(r#"signature="SECRET""#));
/// assert!(!format!("{auth:?}").contains("SECRET"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id.
    pub mchid: String,
    /// Merchant API certificate serial, uppercase hex.
    pub serial_no: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// The request nonce.
    pub nonce_str: String,
    /// Base64 RSA-SHA256 signature.
    pub signature: String,
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }
}

impl Authorization {
    /// Parses an `Authorization` header value as WeChat Pay does: the scheme,
    /// one space, then `key="value"` pairs separated by commas, in any order.
    /// The error says which part is wrong.
    ///
    /// ```
    /// use wechatpay_chain::sign::Authorization;
    ///
    /// let auth = Authorization::parse(
    ///     r#"WECHATPAY2-SHA256-RSA2048 serial_no="ABC",timestamp="1795305600",mchid="1900000109",nonce_str="N",signature="S""#,
    /// )?;
    /// assert_eq!(auth.mchid, "1900000109");
    /// assert_eq!(auth.timestamp, 1795305600);
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse(header: &str) -> std::result::Result<Self, String> {
        let params = header
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| format!("the scheme must be `{SCHEME} ` followed by the parameters"))?;
        let mut fields: [Option<&str>; 5] = [None; 5];
        const NAMES: [&str; 5] = ["mchid", "serial_no", "timestamp", "nonce_str", "signature"];
        for pair in params.split(',') {
            let (name, value) = pair
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not name=\"value\""))?;
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| format!("the value of `{name}` must be double-quoted"))?;
            let slot = NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| format!("unknown parameter `{name}`"))?;
            if fields[slot].replace(value).is_some() {
                return Err(format!("parameter `{name}` appears twice"));
            }
        }
        let field =
            |i: usize| fields[i].ok_or_else(|| format!("parameter `{}` is missing", NAMES[i]));
        let timestamp_text = field(2)?;
        if timestamp_text.is_empty() || !timestamp_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("timestamp `{timestamp_text}` is not an integer"));
        }
        Ok(Authorization {
            mchid: field(0)?.to_owned(),
            serial_no: field(1)?.to_owned(),
            timestamp: timestamp_text
                .parse()
                .map_err(|_| format!("timestamp `{timestamp_text}` is out of range"))?,
            nonce_str: field(3)?.to_owned(),
            signature: field(4)?.to_owned(),
        })
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("mchid", &self.mchid)
            .field("serial_no", &self.serial_no)
            .field("timestamp", &self.timestamp)
            .field("nonce_str", &self.nonce_str)
            .field("signature", &"<redacted>")
            .finish()
    }
}

/// Signs requests as one merchant.
///
/// ```
/// use wechatpay_chain::keys::PrivateKey;
/// use wechatpay_chain::sign::RequestSigner;
///
/// let key = PrivateKey::from_pem_file("src/mock/data/merchant_key.pem")?;
/// let signer = RequestSigner::new("1900000109", "3775B6A45ACD588826D15E583A95F5DD2A00B0D8", key);
/// let auth = signer.sign_at("GET", "/v3/certificates", b"", 1795305600, "593BEC0C930BF1AFEB40B4A08C8FB242")?;
/// assert!(auth.to_string().starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\""));
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestSigner {
    mchid: String,
    serial: String,
    key: PrivateKey,
}

impl RequestSigner {
    /// A signer for merchant `mchid` whose API certificate has `serial`.
    pub fn new(mchid: impl Into<String>, serial: impl Into<String>, key: PrivateKey) -> Self {
        RequestSigner {
            mchid: mchid.into(),
            serial: serial.into(),
            key,
        }
    }

    /// Signs with the current time and a fresh nonce.
    pub fn sign(&self, method: &str, canonical_url: &str, body: &[u8]) -> Result<Authorization> {
        self.sign_with_message(method, canonical_url, body)
            .map(|(auth, _)| auth)
    }

    /// Signs with a given timestamp and nonce (for known-answer tests).
    pub fn sign_at(
        &self,
        method: &str,
        canonical_url: &str,
        body: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> Result<Authorization> {
        self.sign_message_at(method, canonical_url, body, timestamp, nonce)
            .map(|(auth, _)| auth)
    }

    /// Signs with the current time and a fresh nonce; also returns the
    /// exact message signed.
    pub fn sign_with_message(
        &self,
        method: &str,
        canonical_url: &str,
        body: &[u8],
    ) -> Result<(Authorization, Vec<u8>)> {
        let nonce = crypto::random_alphanumeric(NONCE_LEN)?;
        self.sign_message_at(method, canonical_url, body, unix_now(), &nonce)
    }

    fn sign_message_at(
        &self,
        method: &str,
        canonical_url: &str,
        body: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> Result<(Authorization, Vec<u8>)> {
        let message = request_message(method, canonical_url, timestamp, nonce, body);
        let authorization = Authorization {
            mchid: self.mchid.clone(),
            serial_no: self.serial.clone(),
            timestamp,
            nonce_str: nonce.to_owned(),
            signature: self.key.sign(&message)?,
        };
        Ok((authorization, message))
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The merchant certificate serial.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    pub(crate) fn key(&self) -> &PrivateKey {
        &self.key
    }
}
