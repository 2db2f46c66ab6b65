//! Sensitive fields (names, phone numbers, ID numbers…): encrypted with the
//! WeChat Pay key before sending, decrypted with the merchant key when they
//! come back. RSAES-OAEP with SHA-1 only; PKCS#1 v1.5 is not offered.

use crate::client::Client;
use crate::crypto::rsa_oaep_decrypt;
use crate::error::{Error, Result};

pub use crate::encryptor::Encryptor;

impl Client {
    /// An encryptor with the preferred WeChat Pay key (the public key when
    /// one is configured, else the newest valid certificate).
    pub fn encryptor(&self) -> Result<Encryptor> {
        let verifier = self.verifier();
        let key = verifier
            .preferred_id()
            .and_then(|id| verifier.key(id))
            .ok_or_else(|| Error::Config("no WeChat Pay key to encrypt with".to_owned()))?;
        Ok(Encryptor::new(key.clone()))
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
        let plain = rsa_oaep_decrypt(self.inner().signer().key().as_pkey(), ciphertext)
            .ok_or(Error::FieldDecrypt)?;
        String::from_utf8(plain).map_err(|_| Error::FieldDecrypt)
    }
}
