//! Verification of WeChat Pay's signatures on responses (and, with the same
//! rules, on notifications).
//!
//! Checks, in order: the four `Wechatpay-*` headers are present; the
//! timestamp is an integer within 300 s of now; the serial names a configured
//! key; the RSA signature matches `TIMESTAMP\nNONCE\nBODY\n` over the raw body.

use reqwest::header::{HeaderMap, HeaderValue};

use crate::error::VerifyError;
use crate::keys::{same_serial, KeySource, WechatpayKey};
use crate::sign::{response_message, unix_now, SCHEME};

/// How far a signed timestamp may be from local time, in seconds.
pub const MAX_CLOCK_SKEW: i64 = 300;

/// Prefix of WeChat Pay's deliberately wrong probe signatures.
pub const PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Header names WeChat Pay signs with.
pub mod headers {
    /// Unix seconds of the signature.
    pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
    /// Random string of the signature.
    pub const NONCE: &str = "Wechatpay-Nonce";
    /// Base64 signature.
    pub const SIGNATURE: &str = "Wechatpay-Signature";
    /// Certificate serial or public key id that signed.
    pub const SERIAL: &str = "Wechatpay-Serial";
    /// Always `WECHATPAY2-SHA256-RSA2048` today.
    pub const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
    /// WeChat Pay's id of the request, for support tickets.
    pub const REQUEST_ID: &str = "Request-ID";
}

/// The WeChat Pay keys a client trusts, by id. Ids are looked up with
/// [`same_serial`]: a certificate serial in any hex spelling (`0A57…`,
/// `a57…`) finds its certificate; a `PUB_KEY_ID_…` must match exactly.
///
/// ```
/// use wechatpay_chain::keys::WechatpayKey;
/// use wechatpay_chain::verify::Verifier;
///
/// let pem = std::fs::read("src/mock/data/platform_cert.pem")?;
/// let verifier = Verifier::new(vec![WechatpayKey::from_certificate_pem(&pem)?])?;
/// assert_eq!(verifier.preferred_id(), Some("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    /// A handful of keys: a linear search by [`same_serial`] is the lookup.
    keys: Vec<WechatpayKey>,
    prefer_certificate: bool,
    preferred: Option<String>,
    preferred_header: Option<HeaderValue>,
}

impl Verifier {
    /// A verifier over `keys`. The preferred key (sent as `Wechatpay-Serial`)
    /// is the first public key, else the newest certificate valid now.
    /// Fails on two keys with the same id (by [`same_serial`]).
    pub fn new(keys: Vec<WechatpayKey>) -> crate::Result<Self> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| same_serial(k.id(), key.id())) {
                return Err(crate::Error::Config(format!(
                    "WeChat Pay key `{}` is configured twice; give each certificate or public key once",
                    key.id()
                )));
            }
        }
        let mut verifier = Verifier {
            keys,
            prefer_certificate: false,
            preferred: None,
            preferred_header: None,
        };
        verifier.choose_preferred();
        Ok(verifier)
    }

    /// The same keys, preferring the newest valid platform certificate over
    /// a public key as `Wechatpay-Serial` (or not). For a merchant in the
    /// middle of the move to the WeChat Pay public key (微信支付公钥灰度):
    /// keep the certificate preferred until WeChat Pay answers with the
    /// public key, then flip.
    ///
    /// ```
    /// use wechatpay_chain::keys::WechatpayKey;
    /// use wechatpay_chain::verify::Verifier;
    ///
    /// let cert = WechatpayKey::from_certificate_pem(&std::fs::read("src/mock/data/platform_cert.pem")?)?;
    /// let public = WechatpayKey::from_public_key_pem(
    ///     "PUB_KEY_ID_0119000001092026010100000000000001",
    ///     &std::fs::read("src/mock/data/wechatpay_pub_key.pem")?,
    /// )?;
    /// let verifier = Verifier::new(vec![cert, public])?;
    /// assert!(verifier.preferred_id().unwrap().starts_with("PUB_KEY_ID_"));
    /// let verifier = verifier.preferring_certificate(true);
    /// assert_eq!(verifier.preferred_id(), Some("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn preferring_certificate(mut self, yes: bool) -> Self {
        self.prefer_certificate = yes;
        self.choose_preferred();
        self
    }

    /// Whether a valid certificate is preferred over a public key.
    pub fn prefers_certificate(&self) -> bool {
        self.prefer_certificate
    }

    /// The public key first (unless certificates are preferred), else the
    /// newest valid certificate.
    fn choose_preferred(&mut self) {
        let now = unix_now();
        let public_key = || {
            self.keys
                .iter()
                .find(|k| *k.source() == KeySource::PublicKey)
        };
        let certificate = || {
            self.keys
                .iter()
                .filter(|k| k.is_valid_at(now))
                .max_by_key(|k| match k.source() {
                    KeySource::Certificate { not_before, .. } => *not_before,
                    _ => i64::MIN,
                })
        };
        let chosen = if self.prefer_certificate {
            certificate().or_else(public_key)
        } else {
            public_key().or_else(certificate)
        };
        self.preferred = chosen.map(|k| k.id().to_owned());
        self.preferred_header = self
            .preferred
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok());
    }

    /// The key id sent as `Wechatpay-Serial`, if any key is configured.
    pub fn preferred_id(&self) -> Option<&str> {
        self.preferred.as_deref()
    }

    pub(crate) fn preferred_header(&self) -> Option<&HeaderValue> {
        self.preferred_header.as_ref()
    }

    /// Looks a key up by id ([`same_serial`]: any hex spelling of a
    /// certificate serial).
    pub fn key(&self, id: &str) -> Option<&WechatpayKey> {
        self.keys.iter().find(|k| same_serial(k.id(), id))
    }

    /// All keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &WechatpayKey> {
        self.keys.iter()
    }

    /// Whether `id` names a configured key ([`same_serial`]).
    pub fn contains(&self, id: &str) -> bool {
        self.key(id).is_some()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies signed headers and the raw body at time `now` (Unix seconds);
    /// returns the id of the key that verified, as configured (which may be
    /// spelt differently from the `Wechatpay-Serial` header).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<&str, VerifyError> {
        if let Some(kind) = headers.get(headers::SIGNATURE_TYPE) {
            if kind.to_str().is_err() {
                let kind = String::from_utf8_lossy(kind.as_bytes()).into_owned();
                return Err(VerifyError::UnsupportedSignatureType(kind));
            }
        }
        self.verify_with(
            |name| headers.get(name).and_then(|v| v.to_str().ok()),
            body,
            now,
        )
    }

    /// [`Verifier::verify`] for any framework: `header(name)` returns the
    /// text of the header `name` (`Wechatpay-Timestamp`, …; look it up
    /// case-insensitively), or `None`.
    ///
    /// ```
    /// # let verifier = wechatpay_chain::verify::Verifier::new(vec![])?;
    /// let err = verifier
    ///     .verify_with(|name| (name == "Wechatpay-Nonce").then_some("N"), b"{}", 0)
    ///     .unwrap_err();
    /// assert_eq!(err, wechatpay_chain::VerifyError::MissingHeader("Wechatpay-Timestamp"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn verify_with<'h>(
        &self,
        header: impl Fn(&'static str) -> Option<&'h str>,
        body: &[u8],
        now: i64,
    ) -> Result<&str, VerifyError> {
        let text = |name: &'static str| header(name).ok_or(VerifyError::MissingHeader(name));
        let timestamp = text(headers::TIMESTAMP)?;
        let nonce = text(headers::NONCE)?;
        let signature = text(headers::SIGNATURE)?;
        let serial = text(headers::SERIAL)?;
        if let Some(kind) = header(headers::SIGNATURE_TYPE) {
            if kind != SCHEME {
                return Err(VerifyError::UnsupportedSignatureType(kind.to_owned()));
            }
        }
        let seconds = parse_timestamp(timestamp)?;
        if now.abs_diff(seconds) > MAX_CLOCK_SKEW.unsigned_abs() {
            return Err(VerifyError::StaleTimestamp {
                timestamp: seconds,
                now,
            });
        }
        let key = self
            .key(serial)
            .ok_or_else(|| VerifyError::UnknownSerial(serial.to_owned()))?;
        if !key.is_valid_at(now) {
            return Err(VerifyError::KeyNotValid(serial.to_owned()));
        }
        if signature.starts_with(PROBE_PREFIX) {
            return Err(VerifyError::ProbeSignature);
        }
        if key.verify(&response_message(timestamp, nonce, body), signature) {
            Ok(key.id())
        } else {
            Err(VerifyError::SignatureMismatch {
                serial: serial.to_owned(),
            })
        }
    }
}

/// Accepts only plain ASCII digits: no sign, no blanks, no fraction.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp(text.to_owned()));
    }
    text.parse()
        .map_err(|_| VerifyError::InvalidTimestamp(text.to_owned()))
}
