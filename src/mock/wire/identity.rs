//! Who the mock is and who it serves: one merchant and one WeChat Pay, with
//! the throwaway test keys of this repository (never use them for money).

use std::sync::{Arc, RwLock};

use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;

use crate::crypto::{random_alphanumeric, sign_sha256_rsa};
use crate::error::Result;
use crate::keys::{same_serial, WechatpayKey};
use crate::sign::{response_message, SCHEME};

/// The credentials a client needs to talk to the mock, and that `wxpay mock
/// --dir` writes out. All keys are throwaway test keys.
///
/// ```
/// let c = wechatpay_chain::mock::Credentials::get();
/// assert_eq!(c.mchid, "1900000109");
/// assert!(c.platform_public_key_id.starts_with("PUB_KEY_ID_"));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Credentials {
    /// The merchant id the mock accepts.
    pub mchid: &'static str,
    /// Serial of the merchant API certificate.
    pub merchant_serial: &'static str,
    /// Merchant API private key (PKCS#8 PEM).
    pub merchant_private_key: &'static str,
    /// Merchant API certificate (PEM); the mock verifies requests with it.
    pub merchant_certificate: &'static str,
    /// WeChat Pay platform certificate (PEM).
    pub platform_certificate: &'static str,
    /// Its serial.
    pub platform_certificate_serial: &'static str,
    /// WeChat Pay public key (PEM).
    pub platform_public_key: &'static str,
    /// Its id.
    pub platform_public_key_id: &'static str,
    /// The APIv3 key (32 ASCII bytes) notifications and certificates are encrypted with.
    pub apiv3_key: &'static str,
    /// The APIv2 key (32 characters) APIv2 calls are signed with.
    pub apiv2_key: &'static str,
}

/// Names and public parts only: keys stay out of logs, even test keys.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("mchid", &self.mchid)
            .field("merchant_serial", &self.merchant_serial)
            .field("merchant_private_key", &"<redacted>")
            .field(
                "platform_certificate_serial",
                &self.platform_certificate_serial,
            )
            .field("platform_public_key_id", &self.platform_public_key_id)
            .field("apiv3_key", &"<redacted>")
            .field("apiv2_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The mock's fixed credentials.
    pub fn get() -> Self {
        Credentials {
            mchid: "1900000109",
            merchant_serial: "3775B6A45ACD588826D15E583A95F5DD2A00B0D8",
            merchant_private_key: include_str!("../data/merchant_key.pem"),
            merchant_certificate: include_str!("../data/merchant_cert.pem"),
            platform_certificate: include_str!("../data/platform_cert.pem"),
            platform_certificate_serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            platform_public_key: include_str!("../data/wechatpay_pub_key.pem"),
            platform_public_key_id: "PUB_KEY_ID_0119000001092026010100000000000001",
            apiv3_key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
            apiv2_key: "192006250b4c09247ec02edce69f6a2d",
        }
    }
}

/// One platform certificate the mock can sign with.
pub(crate) struct PlatformCertificate {
    pub(crate) certificate: WechatpayKey,
    pub(crate) pem: String,
    pub(crate) private: PKey<Private>,
}

/// The platform certificates: all are listed by `v3/certificates`, the
/// active one signs.
pub(crate) struct Platform {
    pub(crate) certificates: Vec<PlatformCertificate>,
    pub(crate) active: usize,
}

/// The server side of the keys, parsed once.
pub(crate) struct ServerKeys {
    pub(crate) credentials: Credentials,
    pub(crate) merchant_public: PKey<Public>,
    pub(crate) public_key_private: PKey<Private>,
    pub(crate) platform: RwLock<Platform>,
    pub(crate) apiv3_key: [u8; 32],
}

impl ServerKeys {
    pub(crate) fn load() -> Result<Arc<Self>> {
        let credentials = Credentials::get();
        let merchant_public =
            X509::from_pem(credentials.merchant_certificate.as_bytes())?.public_key()?;
        let public_key_private =
            PKey::private_key_from_pem(include_bytes!("../data/wechatpay_pub_key_private.pem"))?;
        let first = PlatformCertificate {
            certificate: WechatpayKey::from_certificate_pem(
                credentials.platform_certificate.as_bytes(),
            )?,
            pem: credentials.platform_certificate.to_owned(),
            private: PKey::private_key_from_pem(include_bytes!("../data/platform_key.pem"))?,
        };
        let mut apiv3_key = [0u8; 32];
        apiv3_key.copy_from_slice(credentials.apiv3_key.as_bytes());
        Ok(Arc::new(ServerKeys {
            credentials,
            merchant_public,
            public_key_private,
            platform: RwLock::new(Platform {
                certificates: vec![first],
                active: 0,
            }),
            apiv3_key,
        }))
    }

    /// The key WeChat Pay signs with when the request named `serial`: the
    /// public key when asked for it, else the active platform certificate.
    pub(crate) fn signer_for(&self, requested_serial: Option<&str>) -> (PKey<Private>, String) {
        if requested_serial.is_some_and(|s| same_serial(s, self.credentials.platform_public_key_id))
        {
            return (
                self.public_key_private.clone(),
                self.credentials.platform_public_key_id.to_owned(),
            );
        }
        let platform = match self.platform.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let active = &platform.certificates[platform.active.min(platform.certificates.len() - 1)];
        (active.private.clone(), active.certificate.id().to_owned())
    }

    /// The five `Wechatpay-*` headers WeChat Pay sends with `body`, signed
    /// with the key for `requested_serial` at `timestamp`; `tamper` may
    /// change the serial and the signature (the mock's faults).
    pub(crate) fn signature_headers(
        &self,
        requested_serial: Option<&str>,
        timestamp: i64,
        body: &[u8],
        tamper: impl FnOnce(&mut String, &mut String),
    ) -> Vec<(&'static str, String)> {
        let (key, mut serial) = self.signer_for(requested_serial);
        let timestamp = timestamp.to_string();
        let nonce = random_alphanumeric(32).unwrap_or_default();
        let mut signature =
            sign_sha256_rsa(&key, &response_message(&timestamp, &nonce, body)).unwrap_or_default();
        tamper(&mut serial, &mut signature);
        vec![
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Signature", signature),
            ("Wechatpay-Serial", serial),
            ("Wechatpay-Signature-Type", SCHEME.to_owned()),
        ]
    }

    /// Issues a new platform certificate (listed at once, not yet signing),
    /// as WeChat Pay does 24 h before a rotation. Returns its serial.
    pub(crate) fn rotate(&self) -> Result<String> {
        let issued = new_certificate()?;
        let serial = issued.certificate.id().to_owned();
        if let Ok(mut platform) = self.platform.write() {
            platform.certificates.push(issued);
        }
        Ok(serial)
    }

    /// Signs with the newest certificate from now on.
    pub(crate) fn activate_newest(&self) {
        if let Ok(mut platform) = self.platform.write() {
            platform.active = platform.certificates.len() - 1;
        }
    }
}

/// A fresh RSA-2048 key and a self-signed certificate valid for five years.
fn new_certificate() -> Result<PlatformCertificate> {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let private = PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
    let mut serial = BigNum::new()?;
    serial.rand(159, MsbOption::ONE, false)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "Tenpay.com Root CA (wechatpay-chain mock)")?;
    let name = name.build();
    // Real time: the client checks the validity against its own clock.
    let now = crate::sign::unix_now();
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&private)?;
    let not_before = Asn1Time::from_unix(now - 3600)?;
    builder.set_not_before(&not_before)?;
    let not_after = Asn1Time::from_unix(now + 5 * 365 * 86_400)?;
    builder.set_not_after(&not_after)?;
    builder.sign(&private, MessageDigest::sha256())?;
    let pem = String::from_utf8_lossy(&builder.build().to_pem()?).into_owned();
    Ok(PlatformCertificate {
        certificate: WechatpayKey::from_certificate_pem(pem.as_bytes())?,
        pem,
        private,
    })
}
