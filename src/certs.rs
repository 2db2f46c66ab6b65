//! Platform certificates: download from `v3/certificates`, decrypt with the
//! APIv3 key, verify (with a certificate the answer carries, for the first
//! download), and refresh in the background.

use std::sync::Arc;

use serde::Deserialize;

use crate::client::Client;
use crate::crypto::aes_256_gcm_decrypt;
use crate::error::{Error, Result};
use crate::keys::{KeySource, WechatpayKey};
use crate::options::Options;
use crate::sign::unix_now;
use crate::verify::Verifier;

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    serial_no: String,
    encrypt_certificate: Sealed,
}

#[derive(Deserialize)]
struct Sealed {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

impl Client {
    /// Downloads the platform certificates (`GET v3/certificates`), decrypts
    /// them with the APIv3 key and checks the answer's signature with the
    /// keys already trusted plus the certificates it carries. Does not change
    /// the client's keys: see [`Client::refresh_certificates`].
    ///
    /// ```no_run
    /// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
    /// for cert in client.download_certificates().await? {
    ///     println!("{} {:?}", cert.id(), cert.source());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn download_certificates(&self) -> Result<Vec<WechatpayKey>> {
        let key = self.inner().apiv3_key("downloading certificates needs")?;
        let res = match self
            .chain("v3/certificates")
            .get(Options::new().skip_verification())
            .await
        {
            Ok(res) => res,
            // A merchant that only has a WeChat Pay public key may get 404.
            Err(Error::Api(api)) if api.status == 404 => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let listing: Listing = res.json()?;
        let mut downloaded = Vec::with_capacity(listing.data.len());
        for item in listing.data {
            let sealed = item.encrypt_certificate;
            if sealed.algorithm != "AEAD_AES_256_GCM" {
                return Err(Error::Key {
                    what: format!("downloaded certificate {}", item.serial_no),
                    reason: format!("unsupported algorithm `{}`", sealed.algorithm),
                });
            }
            let pem = aes_256_gcm_decrypt(
                &key.0,
                sealed.nonce.as_bytes(),
                sealed.associated_data.as_bytes(),
                &sealed.ciphertext,
            )?;
            let what = format!("downloaded certificate {}", item.serial_no);
            let cert = WechatpayKey::certificate(&pem, &what)?;
            if !crate::keys::same_serial(cert.id(), &item.serial_no) {
                return Err(Error::Key {
                    what,
                    reason: format!("the certificate inside has serial {}", cert.id()),
                });
            }
            downloaded.push(cert);
        }
        let trusted = merge(self.verifier().keys().cloned(), downloaded.clone());
        let verifier = Verifier::new(trusted)?;
        verifier
            .verify(res.headers(), res.bytes(), unix_now())
            .map_err(|kind| Error::Verify {
                kind,
                request_id: res.request_id().map(str::to_owned),
            })?;
        Ok(downloaded)
    }

    /// Downloads the platform certificates and swaps them into the key store
    /// atomically (requests in flight keep the snapshot they started with).
    /// Expired certificates are dropped; public keys are kept. Returns the
    /// number of certificates now trusted.
    pub async fn refresh_certificates(&self) -> Result<usize> {
        let downloaded = self.download_certificates().await?;
        let now = unix_now();
        let current = self.verifier();
        let keys: Vec<WechatpayKey> = merge(current.keys().cloned(), downloaded)
            .into_iter()
            .filter(|k| match k.source() {
                KeySource::Certificate { not_after, .. } => *not_after >= now,
                _ => true,
            })
            .collect();
        let certificates = keys
            .iter()
            .filter(|k| *k.source() != KeySource::PublicKey)
            .count();
        if keys.is_empty() {
            return Err(Error::Config(
                "v3/certificates listed no certificate and no WeChat Pay public key is configured: \
                 add .platform_public_key(id, pem)"
                    .to_owned(),
            ));
        }
        let verifier = Verifier::new(keys)?.preferring_certificate(current.prefers_certificate());
        self.inner().set_verifier(verifier);
        Ok(certificates)
    }
}

/// `current` and `fresh` by id, `fresh` winning.
fn merge(
    current: impl Iterator<Item = WechatpayKey>,
    fresh: impl IntoIterator<Item = WechatpayKey>,
) -> Vec<WechatpayKey> {
    let mut merged: Vec<WechatpayKey> = fresh.into_iter().collect();
    let kept: Vec<WechatpayKey> = current
        .filter(|k| !merged.iter().any(|f| f.id() == k.id()))
        .collect();
    merged.extend(kept);
    merged
}

/// Starts the background refresh the builder asked for.
pub(crate) fn start_refresh(client: &Client) -> Result<()> {
    let inner = client.inner();
    let Some(interval) = inner.certificate_refresh() else {
        return Ok(());
    };
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        Error::Config(
            "certificate_refresh runs on tokio: build the client inside a tokio runtime".to_owned(),
        )
    })?;
    let weak = Arc::downgrade(inner);
    let task = runtime.spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            // A failed refresh keeps the keys we have; the next one tries again.
            match Client::from_inner(inner).refresh_certificates().await {
                Ok(count) => tracing::debug!(certificates = count, "platform certificates refreshed"),
                Err(error) => tracing::warn!(
                    %error,
                    "platform certificate refresh failed; keeping the current keys, next try in {}s",
                    interval.as_secs()
                ),
            }
        }
    });
    inner.set_refresher(task.abort_handle());
    Ok(())
}
