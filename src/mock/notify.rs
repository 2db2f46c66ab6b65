//! Notifications the mock sends to a merchant's `notify_url`: signed like a
//! response, resource encrypted with the APIv3 key, retried until answered
//! with a 2xx (a bounded number of times, much faster than WeChat Pay).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::identity::ServerKeys;
use super::payscore::Event;
use crate::clock;
use crate::crypto::{aes_256_gcm_encrypt, random_alphanumeric};
use crate::sign::unix_now;

/// How many times a notification is offered before the mock gives up.
pub const MAX_ATTEMPTS: u32 = 5;

/// One notification and what became of it.
///
/// ```no_run
/// # async fn demo(server: wechatpay_chain::mock::MockServer) {
/// let log = server.wait_for_deliveries(1, std::time::Duration::from_secs(5)).await;
/// for delivery in log {
///     println!("{} → {} after {} attempts", delivery.event_type, delivery.url, delivery.attempts);
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// Where it was sent.
    pub url: String,
    /// `PAYSCORE.USER_CONFIRM`, `PAYSCORE.USER_PAID`, …
    pub event_type: String,
    /// The exact body sent (signed and encrypted).
    pub body: String,
    /// The decrypted resource, for assertions.
    pub resource: Value,
    /// Attempts made so far.
    pub attempts: u32,
    /// Whether the merchant answered 2xx.
    pub delivered: bool,
    /// The merchant's last answer: status and the start of its body (200
    /// characters at most), or why none came; `None` before the first try.
    pub answer: Option<String>,
}

/// Sends notifications in the background and keeps a log of them.
pub(crate) struct Notifier {
    keys: Arc<ServerKeys>,
    http: reqwest::Client,
    pub(crate) log: Arc<Mutex<Vec<Delivery>>>,
    retry_delay: Duration,
    /// Sign with the WeChat Pay public key instead of the platform certificate.
    pub(crate) use_public_key: Arc<AtomicBool>,
    runtime: tokio::runtime::Handle,
}

impl Notifier {
    pub(crate) fn new(keys: Arc<ServerKeys>, runtime: tokio::runtime::Handle) -> Self {
        Notifier {
            keys,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            log: Arc::default(),
            retry_delay: Duration::from_millis(200),
            use_public_key: Arc::default(),
            runtime,
        }
    }

    /// The notification body for `event`: envelope plus encrypted resource.
    fn envelope(&self, event: &Event) -> crate::Result<String> {
        let nonce = random_alphanumeric(12)?;
        let plaintext = event.resource.to_string();
        let ciphertext = aes_256_gcm_encrypt(
            &self.keys.apiv3_key,
            nonce.as_bytes(),
            b"payscore",
            plaintext.as_bytes(),
        )?;
        let now = unix_now();
        Ok(json!({
            "id": format!("EV-{}{}", clock::compact_now(), random_alphanumeric(8)?),
            "create_time": clock::rfc3339(now),
            "event_type": event.event_type,
            "resource_type": "encrypt-resource",
            "summary": event.summary,
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "nonce": nonce,
                "associated_data": "payscore",
                "original_type": "payscore",
            },
        })
        .to_string())
    }

    /// Queues `event` for delivery; returns at once.
    pub(crate) fn send(&self, event: Event) {
        let Ok(body) = self.envelope(&event) else {
            return;
        };
        let index = match self.log.lock() {
            Ok(mut log) => {
                log.push(Delivery {
                    url: event.notify_url.clone(),
                    event_type: event.event_type.to_owned(),
                    body: body.clone(),
                    resource: event.resource.clone(),
                    attempts: 0,
                    delivered: false,
                    answer: None,
                });
                log.len() - 1
            }
            Err(_) => return,
        };
        let (keys, http, log, delay) = (
            self.keys.clone(),
            self.http.clone(),
            self.log.clone(),
            self.retry_delay,
        );
        let public_key = self.use_public_key.load(Ordering::Relaxed);
        self.runtime.spawn(async move {
            for attempt in 1..=MAX_ATTEMPTS {
                let (delivered, answer) =
                    post(&keys, &http, &event.notify_url, &body, public_key).await;
                if let Ok(mut log) = log.lock() {
                    if let Some(entry) = log.get_mut(index) {
                        entry.attempts = attempt;
                        entry.delivered = delivered;
                        entry.answer = Some(answer);
                    }
                }
                if delivered {
                    return;
                }
                tokio::time::sleep(delay * 2u32.pow(attempt - 1)).await;
            }
        });
    }
}

/// One signed POST: true on a 2xx answer, and what the merchant said.
async fn post(
    keys: &ServerKeys,
    http: &reqwest::Client,
    url: &str,
    body: &str,
    public_key: bool,
) -> (bool, String) {
    let requested = public_key.then_some(keys.credentials.platform_public_key_id);
    let signed = keys.signature_headers(requested, unix_now(), body.as_bytes(), |_, _| {});
    let mut request = http
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "wechatpay-chain-mock");
    for (name, value) in signed {
        request = request.header(name, value);
    }
    match request.body(body.to_owned()).send().await {
        Ok(mut answer) => {
            let status = answer.status();
            // Only the first chunk: a merchant's answer may be any size.
            let first = answer.chunk().await.ok().flatten().unwrap_or_default();
            let cut: String = String::from_utf8_lossy(&first).chars().take(200).collect();
            (status.is_success(), format!("{} {cut}", status.as_u16()))
        }
        Err(e) => (false, format!("no answer: {e}")),
    }
}
