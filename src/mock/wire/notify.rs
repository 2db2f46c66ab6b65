//! Notifications the mock sends to a merchant's `notify_url`, for every
//! flow (payments, refunds, payscore): signed like a response, resource
//! encrypted with the APIv3 key, and offered again on WeChat Pay's schedule
//! until the merchant answers 2xx — the schedule divided by a speed-up
//! factor, so that 24 hours pass in about a minute and a half by default.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::identity::ServerKeys;
use crate::clock;
use crate::crypto::{aes_256_gcm_encrypt, random_alphanumeric};
use crate::sign::unix_now;

/// WeChat Pay's waits between attempts, in seconds: 15s/15s/30s/3m/10m/20m/
/// 30m/30m/30m/60m/3h/3h/3h/6h/6h, 24 h 4 min in all (wechatpay-skills,
/// 回调通知处理.md).
pub const RETRY_SCHEDULE: [u64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600,
];

/// How many times a notification is offered: the first try and one after
/// each wait of [`RETRY_SCHEDULE`].
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;

/// The schedule runs this many times faster unless
/// [`crate::mock::MockServer::set_notification_speedup`] says otherwise: 15 s
/// become 15 ms and the whole day 87 s.
pub const DEFAULT_SPEEDUP: u32 = 1000;

/// Deliveries kept for `GET /_mock/notifications`; older ones are dropped
/// (a long load test must not grow the mock without bound).
pub const KEPT_NOTIFICATIONS: usize = 1000;

/// Attempts kept per delivery (a resent one may try many times).
const KEPT_ANSWERS: usize = 64;

/// Longest merchant answer kept per attempt (bytes).
const ANSWER_LIMIT: usize = 1024;

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
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Delivery {
    /// Its number in this server's life (1, 2, …): what
    /// `POST /_mock/notifications/{seq}/resend` names.
    pub seq: u64,
    /// The notification `id` (`EV-…`).
    pub id: String,
    /// Where it was sent.
    pub url: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, `PAYSCORE.USER_PAID`, …
    pub event_type: String,
    /// The exact body sent (signed and encrypted).
    pub body: String,
    /// The decrypted resource, for assertions.
    pub resource: Value,
    /// Attempts made so far.
    pub attempts: u32,
    /// Whether the merchant answered 2xx.
    pub delivered: bool,
    /// Every attempt and the merchant's answer, oldest first.
    pub answers: Vec<DeliveryAttempt>,
}

/// One attempt at delivering a notification.
///
/// ```no_run
/// # fn demo(delivery: &wechatpay_chain::mock::Delivery) {
/// for attempt in &delivery.answers {
///     println!("{} → {:?} {}", attempt.time, attempt.status, attempt.answer);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// When it was sent (RFC 3339, Beijing time).
    pub time: String,
    /// The merchant's HTTP status; `None` when no answer came.
    pub status: Option<u16>,
    /// The merchant's answer body (first KiB), or why none came.
    pub answer: String,
}

/// Something the mock must tell the merchant after a state change.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) notify_url: String,
    pub(crate) event_type: &'static str,
    pub(crate) summary: &'static str,
    /// `resource.original_type`: `transaction`, `refund`, `payscore`.
    pub(crate) original_type: &'static str,
    /// `resource.associated_data`, the AEAD's additional data.
    pub(crate) associated_data: &'static str,
    pub(crate) resource: Value,
}

/// Sends notifications in the background and keeps a log of them.
pub(crate) struct Notifier {
    keys: Arc<ServerKeys>,
    http: reqwest::Client,
    log: Arc<Mutex<VecDeque<Delivery>>>,
    /// Deliveries whose schedule runs now: a resend of one of them does not
    /// start a second.
    active: Arc<Mutex<HashSet<u64>>>,
    next_seq: AtomicU64,
    /// The schedule is divided by this.
    pub(crate) speedup: Arc<AtomicU32>,
    /// Sign with the WeChat Pay public key instead of the platform certificate.
    pub(crate) use_public_key: Arc<AtomicBool>,
    runtime: tokio::runtime::Handle,
}

impl Notifier {
    pub(crate) fn new(keys: Arc<ServerKeys>, runtime: tokio::runtime::Handle) -> Self {
        Notifier {
            keys,
            // WeChat Pay waits 5 s for an answer and follows no redirect.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            log: Arc::default(),
            active: Arc::default(),
            next_seq: AtomicU64::new(1),
            speedup: Arc::new(AtomicU32::new(DEFAULT_SPEEDUP)),
            use_public_key: Arc::default(),
            runtime,
        }
    }

    /// The log as it stands, oldest first.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.log
            .lock()
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The notification body for `event`: envelope plus encrypted resource.
    fn envelope(&self, event: &Event) -> crate::Result<(String, String)> {
        let nonce = random_alphanumeric(12)?;
        let plaintext = event.resource.to_string();
        let ciphertext = aes_256_gcm_encrypt(
            &self.keys.apiv3_key,
            nonce.as_bytes(),
            event.associated_data.as_bytes(),
            plaintext.as_bytes(),
        )?;
        let id = format!("EV-{}{}", clock::compact_now(), random_alphanumeric(8)?);
        let body = json!({
            "id": id,
            "create_time": clock::rfc3339(unix_now()),
            "event_type": event.event_type,
            "resource_type": "encrypt-resource",
            "summary": event.summary,
            "resource": {
                "original_type": event.original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": event.associated_data,
                "nonce": nonce,
            },
        })
        .to_string();
        Ok((id, body))
    }

    /// Queues `event` for delivery; returns at once.
    pub(crate) fn send(&self, event: Event) {
        let Ok((id, body)) = self.envelope(&event) else {
            return;
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let delivery = Delivery {
            seq,
            id,
            url: event.notify_url,
            event_type: event.event_type.to_owned(),
            body,
            resource: event.resource,
            attempts: 0,
            delivered: false,
            answers: Vec::new(),
        };
        self.deliver(delivery);
    }

    /// Offers delivery `seq` again from the start of the schedule (its
    /// attempts are kept); false when it is no longer in the log.
    pub(crate) fn resend(&self, seq: u64) -> bool {
        let Ok(log) = self.log.lock() else {
            return false;
        };
        let Some(found) = log.iter().find(|d| d.seq == seq).cloned() else {
            return false;
        };
        drop(log);
        self.spawn(found.seq, found.url, found.body);
        true
    }

    fn deliver(&self, delivery: Delivery) {
        let (seq, url, body) = (delivery.seq, delivery.url.clone(), delivery.body.clone());
        if let Ok(mut log) = self.log.lock() {
            if log.len() >= KEPT_NOTIFICATIONS {
                log.pop_front();
            }
            log.push_back(delivery);
        }
        self.spawn(seq, url, body);
    }

    fn spawn(&self, seq: u64, url: String, body: String) {
        if let Some(why) = refused_target(&url) {
            if let Ok(mut log) = self.log.lock() {
                if let Some(entry) = log.iter_mut().rev().find(|d| d.seq == seq) {
                    entry.answers.push(DeliveryAttempt {
                        time: clock::rfc3339(unix_now()),
                        status: None,
                        answer: why,
                    });
                }
            }
            return;
        }
        // Already being offered: its schedule goes on.
        let started = self
            .active
            .lock()
            .is_ok_and(|mut active| active.insert(seq));
        if !started {
            return;
        }
        let active = self.active.clone();
        let (keys, http, log) = (self.keys.clone(), self.http.clone(), self.log.clone());
        let speedup = self.speedup.clone();
        let public_key = self.use_public_key.load(Ordering::Relaxed);
        self.runtime.spawn(async move {
            offer(&keys, &http, &log, seq, &url, &body, &speedup, public_key).await;
            if let Ok(mut active) = active.lock() {
                active.remove(&seq);
            }
        });
    }
}

/// The notification's schedule: the first try, then one after each wait,
/// until the merchant answers 2xx or the schedule ends.
#[allow(clippy::too_many_arguments)]
async fn offer(
    keys: &ServerKeys,
    http: &reqwest::Client,
    log: &Mutex<VecDeque<Delivery>>,
    seq: u64,
    url: &str,
    body: &str,
    speedup: &AtomicU32,
    public_key: bool,
) {
    for wait in std::iter::once(0).chain(RETRY_SCHEDULE) {
        let factor = u64::from(speedup.load(Ordering::Relaxed).max(1));
        tokio::time::sleep(Duration::from_millis(wait * 1000 / factor)).await;
        let attempt = post(keys, http, url, body, public_key).await;
        let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
        let Ok(mut log) = log.lock() else { return };
        // Gone from the log (evicted): nobody is watching any more.
        let Some(entry) = log.iter_mut().rev().find(|d| d.seq == seq) else {
            return;
        };
        entry.attempts += 1;
        entry.delivered |= delivered;
        if entry.answers.len() >= KEPT_ANSWERS {
            entry.answers.remove(0);
        }
        entry.answers.push(attempt);
        if delivered {
            return;
        }
    }
}

/// Why the mock will not post to `url`: its own `/_mock/` controls (a
/// notification must not drive them) or a URL that is not http(s).
fn refused_target(url: &str) -> Option<String> {
    match url::Url::parse(url) {
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
            Some(format!("not sent: notify_url {url:?} is not http(s)"))
        }
        Ok(parsed) if parsed.path().starts_with("/_mock/") => Some(format!(
            "not sent: notify_url {url:?} names a /_mock/ control, which a notification must not drive"
        )),
        Ok(_) => None,
        Err(e) => Some(format!("not sent: notify_url {url:?} is not a URL ({e})")),
    }
}

/// One signed POST and what came back.
async fn post(
    keys: &ServerKeys,
    http: &reqwest::Client,
    url: &str,
    body: &str,
    public_key: bool,
) -> DeliveryAttempt {
    let time = clock::rfc3339(unix_now());
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
        Ok(answer) => {
            let status = answer.status().as_u16();
            let text = read_capped(answer).await;
            DeliveryAttempt {
                time,
                status: Some(status),
                answer: text,
            }
        }
        Err(error) => DeliveryAttempt {
            time,
            status: None,
            answer: if error.is_timeout() {
                "no answer within 5 s".to_owned()
            } else {
                format!("not delivered: {error}")
            },
        },
    }
}

/// The first [`ANSWER_LIMIT`] bytes of an answer, as text.
async fn read_capped(mut answer: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while let Ok(Some(chunk)) = answer.chunk().await {
        let room = ANSWER_LIMIT - kept.len();
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if kept.len() >= ANSWER_LIMIT {
            break;
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_log_keeps_the_last_deliveries_only() {
        let keys = ServerKeys::load().unwrap();
        let notifier = Notifier::new(keys, tokio::runtime::Handle::current());
        for i in 0..KEPT_NOTIFICATIONS + 5 {
            notifier.send(Event {
                // nothing listens on port 9: every attempt fails fast
                notify_url: "http://127.0.0.1:9/notify".to_owned(),
                event_type: "TRANSACTION.SUCCESS",
                summary: "支付成功",
                original_type: "transaction",
                associated_data: "transaction",
                resource: json!({"i": i}),
            });
        }
        let log = notifier.deliveries();
        assert_eq!(log.len(), KEPT_NOTIFICATIONS);
        assert_eq!(log[0].seq, 6, "the five oldest went first");
        assert!(!notifier.resend(1), "an evicted delivery cannot be resent");
    }
}
