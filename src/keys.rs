//! Loading the merchant private key and the WeChat Pay verification keys.
//!
//! Keys are parsed once, when the client is built, and kept parsed: no PEM
//! is read per request. None of these types prints key material in `Debug`.

use std::fmt;
use std::path::Path;

use openssl::pkey::{Id, PKey, Private, Public};
use openssl::x509::X509;

use crate::crypto;
use crate::error::{Error, Result};

/// Prefix of every WeChat Pay public key id.
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// Whether two key ids name the same key: the one rule for comparing a
/// serial from a header, a certificate or a configuration.
///
/// A certificate serial is a number, written in hex in different ways: we
/// write whole bytes (`0A57…`), the Go and Java SDKs drop leading zeros
/// (`A57…`), a configuration may be lowercase. Two hex serials are the same
/// when their values are (case ignored, leading zeros ignored). Any other id,
/// such as a WeChat Pay public key id `PUB_KEY_ID_…`, must match exactly.
///
/// ```
/// use wechatpay_chain::keys::same_serial;
///
/// assert!(same_serial("0A57C3", "a57c3"));
/// assert!(!same_serial("0A57C3", "0A57C4"));
/// assert!(same_serial("PUB_KEY_ID_0119", "PUB_KEY_ID_0119"));
/// assert!(!same_serial("PUB_KEY_ID_0119", "pub_key_id_0119"));
/// ```
pub fn same_serial(a: &str, b: &str) -> bool {
    /// The significant digits of a hex serial; `None` for any other id.
    fn digits(id: &str) -> Option<&str> {
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| id.trim_start_matches('0'))
    }
    match (digits(a), digits(b)) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// The merchant API private key (`apiclient_key.pem`), RSA, at least 2048 bits.
///
/// ```
/// use wechatpay_chain::keys::PrivateKey;
///
/// let key = PrivateKey::from_pem_file("src/mock/data/merchant_key.pem")?;
/// assert_eq!(format!("{key:?}"), "PrivateKey(RSA-2048, redacted)");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    key: PKey<Private>,
}

impl PrivateKey {
    /// Parses a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        Self::parse(pem, "merchant private key")
    }

    /// Parses an encrypted PKCS#8 PEM key (`BEGIN ENCRYPTED PRIVATE KEY`).
    pub fn from_pem_with_passphrase(pem: &[u8], passphrase: &[u8]) -> Result<Self> {
        Self::parse_with(pem, Some(passphrase), "merchant private key")
    }

    /// Reads and parses a PEM private key file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let what = format!("merchant private key {}", path_label(path));
        let hint = "use PrivateKey::from_pem(…) for the key itself, or give its file's path";
        Self::parse(&read_file(path, &what, hint)?, &what)
    }

    fn parse(pem: &[u8], what: &str) -> Result<Self> {
        Self::parse_with(pem, None, what)
    }

    pub(crate) fn parse_with(pem: &[u8], passphrase: Option<&[u8]>, what: &str) -> Result<Self> {
        let found = pem_label(pem);
        let bad = |reason: String| Error::Key {
            what: what.to_owned(),
            reason,
        };
        if found == Some("ENCRYPTED PRIVATE KEY") && passphrase.is_none() {
            return Err(bad(
                "the key is encrypted (`BEGIN ENCRYPTED PRIVATE KEY`): give its passphrase with .private_key_passphrase(…)"
                    .to_owned(),
            ));
        }
        let parsed = match passphrase {
            Some(pass) => PKey::private_key_from_pem_passphrase(pem, pass),
            None => PKey::private_key_from_pem(pem),
        };
        let key = parsed.map_err(|e| {
            bad(match (found, passphrase) {
                (Some("ENCRYPTED PRIVATE KEY"), Some(_)) => {
                    format!("cannot decrypt the key: wrong passphrase? ({})", first_reason(&e))
                }
                _ => format!(
                    "expected a PEM private key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`, as in apiclient_key.pem), found {}",
                    describe(found)
                ),
            })
        })?;
        check_rsa(key.id(), key.bits(), what)?;
        Ok(PrivateKey { key })
    }

    /// RSA-SHA256 signature of `message`, base64.
    pub fn sign(&self, message: &[u8]) -> Result<String> {
        crypto::sign_sha256_rsa(&self.key, message)
    }

    /// The OpenSSL key, for primitives this crate does not wrap.
    pub fn as_pkey(&self) -> &PKey<Private> {
        &self.key
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(RSA-{}, redacted)", self.key.bits())
    }
}

/// Where a WeChat Pay verification key came from.
///
/// ```
/// use wechatpay_chain::keys::{KeySource, WechatpayKey};
/// let cert = WechatpayKey::from_certificate_pem(&std::fs::read("src/mock/data/platform_cert.pem")?)?;
/// assert!(matches!(cert.source(), KeySource::Certificate { not_before, not_after } if not_before < not_after));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// A WeChat Pay platform certificate; validity in Unix seconds.
    Certificate {
        /// `notBefore` of the certificate.
        not_before: i64,
        /// `notAfter` of the certificate.
        not_after: i64,
    },
    /// A WeChat Pay public key (`PUB_KEY_ID_…`).
    PublicKey,
}

/// A key WeChat Pay signs with, named as `Wechatpay-Serial` names it: a
/// platform certificate serial (uppercase hex) or a `PUB_KEY_ID_…`.
///
/// ```
/// use wechatpay_chain::keys::WechatpayKey;
///
/// let pem = std::fs::read("src/mock/data/platform_cert.pem")?;
/// let key = WechatpayKey::from_certificate_pem(&pem)?;
/// assert_eq!(key.id(), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
///
/// let pem = std::fs::read("src/mock/data/wechatpay_pub_key.pem")?;
/// let key = WechatpayKey::from_public_key_pem("PUB_KEY_ID_0119000001092026010100000000000001", &pem)?;
/// assert!(key.id().starts_with("PUB_KEY_ID_"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WechatpayKey {
    id: String,
    key: PKey<Public>,
    source: KeySource,
    /// Kept for certificates, to write them out again.
    certificate: Option<X509>,
}

impl WechatpayKey {
    /// Reads a platform certificate; its serial number becomes the id.
    pub fn from_certificate_pem(pem: &[u8]) -> Result<Self> {
        Self::certificate(pem, "platform certificate")
    }

    pub(crate) fn certificate(pem: &[u8], what: &str) -> Result<Self> {
        let bad = |reason: String| Error::Key {
            what: what.to_owned(),
            reason,
        };
        let cert = X509::from_pem(pem).map_err(|_| {
            bad(format!(
                "expected a PEM certificate (`BEGIN CERTIFICATE`, as in wechatpay_*.pem), found {}",
                describe(pem_label(pem))
            ))
        })?;
        let id = cert
            .serial_number()
            .to_bn()?
            .to_hex_str()?
            .to_ascii_uppercase();
        let key = cert.public_key()?;
        check_rsa(key.id(), key.bits(), what)?;
        let epoch = openssl::asn1::Asn1Time::from_unix(0)?;
        let seconds = |t: &openssl::asn1::Asn1TimeRef| -> Result<i64> {
            let d = epoch.diff(t)?;
            Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
        };
        let source = KeySource::Certificate {
            not_before: seconds(cert.not_before())?,
            not_after: seconds(cert.not_after())?,
        };
        Ok(WechatpayKey {
            id,
            key,
            source,
            certificate: Some(cert),
        })
    }

    /// Reads a WeChat Pay public key (`BEGIN PUBLIC KEY`) with its id,
    /// which must start with `PUB_KEY_ID_`.
    pub fn from_public_key_pem(id: &str, pem: &[u8]) -> Result<Self> {
        Self::public_key(id, pem, &format!("WeChat Pay public key {id}"))
    }

    pub(crate) fn public_key(id: &str, pem: &[u8], what: &str) -> Result<Self> {
        if !id.starts_with(PUBLIC_KEY_ID_PREFIX) || id.len() == PUBLIC_KEY_ID_PREFIX.len() {
            return Err(Error::Key {
                what: what.to_owned(),
                reason: format!(
                    "the id `{id}` does not look like a WeChat Pay public key id (PUB_KEY_ID_…, shown in the merchant platform next to the key)"
                ),
            });
        }
        let found = pem_label(pem);
        let parsed = match found {
            Some("RSA PUBLIC KEY") => {
                openssl::rsa::Rsa::public_key_from_pem_pkcs1(pem).and_then(PKey::from_rsa)
            }
            _ => PKey::public_key_from_pem(pem),
        };
        let key = parsed.map_err(|_| Error::Key {
            what: what.to_owned(),
            reason: format!(
                "expected a PEM public key (`BEGIN PUBLIC KEY`, as in pub_key.pem, or `BEGIN RSA PUBLIC KEY`), found {}",
                describe(found)
            ),
        })?;
        check_rsa(key.id(), key.bits(), what)?;
        Ok(WechatpayKey {
            id: id.to_owned(),
            key,
            source: KeySource::PublicKey,
            certificate: None,
        })
    }

    /// The name `Wechatpay-Serial` uses for this key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Certificate or public key.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// PEM of the certificate, or of the public key (SPKI) for a public key.
    pub fn to_pem(&self) -> Result<Vec<u8>> {
        Ok(match &self.certificate {
            Some(cert) => cert.to_pem()?,
            None => self.key.public_key_to_pem()?,
        })
    }

    /// Whether the key may verify at `now`: a certificate inside its
    /// validity period, or a public key (which has none).
    pub fn is_valid_at(&self, now: i64) -> bool {
        match self.source {
            KeySource::Certificate {
                not_before,
                not_after,
            } => not_before <= now && now <= not_after,
            KeySource::PublicKey => true,
        }
    }

    /// Checks a base64 RSA-SHA256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        crypto::verify_sha256_rsa(&self.key, message, signature)
    }

    /// The OpenSSL key, for primitives this crate does not wrap.
    pub fn as_pkey(&self) -> &PKey<Public> {
        &self.key
    }
}

impl fmt::Debug for WechatpayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatpayKey")
            .field("id", &self.id)
            .field("source", &self.source)
            .finish()
    }
}

/// Longer than this, a "path" is taken for content: real paths are short,
/// a base64 private key without its armour is over 1600 characters.
const MAX_PATH_LEN: usize = 512;

/// Whether a value given where a file path belongs looks like content
/// instead: PEM armour (`-----BEGIN`), a line break, a JSON object, or more
/// than 512 bytes. Such a value is never repeated in an error, a log or
/// `Debug` output, as it may well be the key itself.
///
/// ```
/// use wechatpay_chain::keys::looks_like_content;
///
/// assert!(!looks_like_content("certs/apiclient_key.pem".as_ref()));
/// assert!(looks_like_content("-----BEGIN PRIVATE KEY-----\nMIIE…".as_ref()));
/// assert!(looks_like_content(r#"{"apiv3_key":"…"}"#.as_ref()));
/// ```
pub fn looks_like_content(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes.len() > MAX_PATH_LEN
        || bytes.iter().any(|&b| b == b'\n' || b == b'\r')
        || bytes.windows(10).any(|w| w == b"-----BEGIN")
        || bytes.first() == Some(&b'{')
}

/// `path` for a message: as given, or a placeholder when it looks like
/// content ([`looks_like_content`]).
pub(crate) fn path_label(path: &Path) -> String {
    if looks_like_content(path) || looks_like_secret(path) {
        "(value not shown)".to_owned()
    } else {
        path.display().to_string()
    }
}

/// A long bare token, no directory and no extension: more likely a key
/// (an APIv3 key given to the wrong flag) than a file name, so a message
/// does not repeat it.
fn looks_like_secret(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes.len() >= 16 && !bytes.iter().any(|b| matches!(b, b'/' | b'\\' | b'.'))
}

/// Reads key material from `path`. `hint` says what to do instead when the
/// "path" turns out to be the content itself.
pub(crate) fn read_file(path: &Path, what: &str, hint: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Key {
        what: what.to_owned(),
        reason: if looks_like_content(path) {
            // Never the value: it is most likely the key itself.
            format!("this looks like PEM content, not a file path: {hint}")
        } else {
            format!("cannot read the file: {e}")
        },
    })
}

fn check_rsa(id: Id, bits: u32, what: &str) -> Result<()> {
    if id != Id::RSA {
        return Err(Error::Key {
            what: what.to_owned(),
            reason: "not an RSA key; WeChat Pay APIv3 uses RSA-2048".to_owned(),
        });
    }
    if bits < 2048 {
        return Err(Error::Key {
            what: what.to_owned(),
            reason: format!("RSA-{bits} is too short; WeChat Pay keys are RSA-2048"),
        });
    }
    Ok(())
}

/// The label of the first PEM block (`PRIVATE KEY`, `CERTIFICATE`, …).
fn pem_label(pem: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// Says what was found without echoing key material.
fn describe(label: Option<&str>) -> String {
    match label {
        Some(label) => format!("`BEGIN {label}`"),
        None => "no PEM block (is it DER, PKCS#12, or the wrong file?)".to_owned(),
    }
}

fn first_reason(stack: &openssl::error::ErrorStack) -> String {
    stack
        .errors()
        .first()
        .and_then(|e| e.reason().map(str::to_owned))
        .unwrap_or_else(|| "unreadable".to_owned())
}
