//! Who the mock is and who it serves: one merchant and one WeChat Pay, with
//! the throwaway test keys of this repository (never use them for money).

use std::sync::Arc;

use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;

use crate::error::Result;
use crate::keys::WechatpayKey;

/// The credentials a client needs to talk to the mock, and that `wxpay mock
/// --dir` writes out. All keys are throwaway test keys.
///
/// ```
/// let c = wechatpay_chain::mock::Credentials::get();
/// assert_eq!(c.mchid, "1900000109");
/// assert!(c.platform_public_key_id.starts_with("PUB_KEY_ID_"));
/// ```
#[derive(Debug, Clone, Copy)]
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
}

impl Credentials {
    /// The mock's fixed credentials.
    pub fn get() -> Self {
        Credentials {
            mchid: "1900000109",
            merchant_serial: "3775B6A45ACD588826D15E583A95F5DD2A00B0D8",
            merchant_private_key: include_str!("data/merchant_key.pem"),
            merchant_certificate: include_str!("data/merchant_cert.pem"),
            platform_certificate: include_str!("data/platform_cert.pem"),
            platform_certificate_serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            platform_public_key: include_str!("data/wechatpay_pub_key.pem"),
            platform_public_key_id: "PUB_KEY_ID_0119000001092026010100000000000001",
            apiv3_key: "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
        }
    }
}

/// The server side of the keys, parsed once.
pub(crate) struct ServerKeys {
    pub(crate) credentials: Credentials,
    pub(crate) merchant_public: PKey<Public>,
    pub(crate) platform_private: PKey<Private>,
    pub(crate) public_key_private: PKey<Private>,
    pub(crate) platform_certificate: WechatpayKey,
    pub(crate) apiv3_key: [u8; 32],
}

impl ServerKeys {
    pub(crate) fn load() -> Result<Arc<Self>> {
        let credentials = Credentials::get();
        let merchant_public =
            X509::from_pem(credentials.merchant_certificate.as_bytes())?.public_key()?;
        let platform_private = PKey::private_key_from_pem(include_bytes!("data/platform_key.pem"))?;
        let public_key_private =
            PKey::private_key_from_pem(include_bytes!("data/wechatpay_pub_key_private.pem"))?;
        let platform_certificate =
            WechatpayKey::from_certificate_pem(credentials.platform_certificate.as_bytes())?;
        let mut apiv3_key = [0u8; 32];
        apiv3_key.copy_from_slice(credentials.apiv3_key.as_bytes());
        Ok(Arc::new(ServerKeys {
            credentials,
            merchant_public,
            platform_private,
            public_key_private,
            platform_certificate,
            apiv3_key,
        }))
    }

    /// The key WeChat Pay signs with when the request named `serial`: the
    /// public key when asked for it, else the platform certificate.
    pub(crate) fn signer_for(
        &self,
        requested_serial: Option<&str>,
    ) -> (&PKey<Private>, &'static str) {
        if requested_serial == Some(self.credentials.platform_public_key_id) {
            (
                &self.public_key_private,
                self.credentials.platform_public_key_id,
            )
        } else {
            (
                &self.platform_private,
                self.credentials.platform_certificate_serial,
            )
        }
    }
}
