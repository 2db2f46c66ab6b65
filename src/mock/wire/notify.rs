//! Notifications the mock sends to a merchant's `notify_url`, for every
//! flow (payments, refunds, payscore): signed like a response, resource
//! encrypted with the APIv3 key, and offered again on WeChat Pay's schedule
//! until the merchant answers 2xx — the schedule divided by a speed-up
//! factor, so that 24 hours pass in about a minute and a half by default.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::identity::ServerKeys;
use crate::clock;
use crate::crypto::{aes_256_gcm_encrypt, random_alphanumeric};
use crate::mock::wire::clock::{MockClock, Timer};
use crate::mock::wire::store::{Batch, Store};
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

/// The store's name for the notification log.
const KIND: &str = "notification";

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
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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

/// A delivery and where it stands on its ladder.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Entry {
    delivery: Delivery,
    /// Which ladder runs: a resend starts a new one, and the old one's
    /// pending attempt then does nothing.
    round: u32,
    /// Waits of [`RETRY_SCHEDULE`] used in this round.
    step: usize,
    /// Whether an attempt is still owed.
    owed: bool,
    /// One more delivery after the first success (trigger `TWICE`).
    twice: bool,
    /// When the owed attempt falls due (Unix ms on the mock's clock): a
    /// restarted mock picks the ladder up there.
    next_due: Option<i64>,
}

/// The shared state of the deliveries, handed to each attempt.
#[derive(Clone)]
struct Ladder {
    keys: Arc<ServerKeys>,
    http: reqwest::Client,
    log: Arc<Mutex<VecDeque<Entry>>>,
    /// Deliveries with an attempt on its way, and that attempt's token: a
    /// move of the clock waits for them, a resend does not start a second.
    active: Arc<Mutex<HashMap<u64, u64>>>,
    tokens: Arc<AtomicU64>,
    clock: Arc<MockClock>,
    speedup: Arc<AtomicU32>,
    use_public_key: Arc<AtomicBool>,
    /// Deliveries changed since the last save, when a store saves them.
    dirty: Arc<Mutex<Option<HashSet<u64>>>>,
}

/// Sends notifications and keeps a log of them. Each attempt falls due on
/// the mock's clock ([`MockClock`]): the first at once, each retry after a
/// wait of [`RETRY_SCHEDULE`] divided by the speed-up; the ticker sends
/// what falls due as time passes, a move of the clock sends what falls due
/// on the way, at the time it falls due.
pub(crate) struct Notifier {
    ladder: Ladder,
    next_seq: AtomicU64,
    /// The schedule is divided by this.
    pub(crate) speedup: Arc<AtomicU32>,
    /// Sign with the WeChat Pay public key instead of the platform certificate.
    pub(crate) use_public_key: Arc<AtomicBool>,
    runtime: tokio::runtime::Handle,
}

impl Notifier {
    pub(crate) fn new(
        keys: Arc<ServerKeys>,
        runtime: tokio::runtime::Handle,
        clock: Arc<MockClock>,
    ) -> Self {
        let speedup = Arc::new(AtomicU32::new(DEFAULT_SPEEDUP));
        let use_public_key = Arc::new(AtomicBool::new(false));
        Notifier {
            ladder: Ladder {
                keys,
                // WeChat Pay waits 5 s for an answer and follows no redirect.
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap_or_default(),
                log: Arc::default(),
                active: Arc::default(),
                tokens: Arc::default(),
                clock,
                speedup: speedup.clone(),
                use_public_key: use_public_key.clone(),
                dirty: Arc::default(),
            },
            next_seq: AtomicU64::new(1),
            speedup,
            use_public_key,
            runtime,
        }
    }

    /// The log as it stands, oldest first.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.ladder
            .log
            .lock()
            .map(|log| log.iter().map(|e| e.delivery.clone()).collect())
            .unwrap_or_default()
    }

    /// The notification body for `event`: envelope plus encrypted resource,
    /// stamped with the mock's clock.
    fn envelope(&self, event: &Event, now: i64) -> crate::Result<(String, String)> {
        let nonce = random_alphanumeric(12)?;
        let plaintext = event.resource.to_string();
        let ciphertext = aes_256_gcm_encrypt(
            &self.ladder.keys.apiv3_key,
            nonce.as_bytes(),
            event.associated_data.as_bytes(),
            plaintext.as_bytes(),
        )?;
        let id = format!("EV-{}{}", clock::compact(now), random_alphanumeric(8)?);
        let body = json!({
            "id": id,
            "create_time": clock::rfc3339(now),
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
        let now_ms = self.ladder.clock.now_ms();
        let Ok((id, body)) = self.envelope(&event, now_ms.div_euclid(1000)) else {
            return;
        };
        let twice = ["out_trade_no", "out_refund_no"].iter().any(|field| {
            event
                .resource
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|no| super::triggers::marked(no, "TWICE"))
        });
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            delivery: Delivery {
                seq,
                id,
                url: event.notify_url,
                event_type: event.event_type.to_owned(),
                body,
                resource: event.resource,
                attempts: 0,
                delivered: false,
                answers: Vec::new(),
            },
            round: 0,
            step: 0,
            owed: true,
            twice,
            next_due: Some(now_ms),
        };
        if let Ok(mut log) = self.ladder.log.lock() {
            if log.len() >= KEPT_NOTIFICATIONS {
                if let Some(gone) = log.pop_front() {
                    self.ladder.touched(gone.delivery.seq);
                }
            }
            log.push_back(entry);
        }
        self.ladder.touched(seq);
        self.start(seq, 0, now_ms);
    }

    /// Offers delivery `seq` again from the start of the schedule (its
    /// attempts are kept; a retry still pending of the old ladder is
    /// dropped); false when it is no longer in the log. Every attempt is
    /// signed afresh (timestamp, nonce); the body is the one first sent.
    pub(crate) fn resend(&self, seq: u64) -> bool {
        let round = {
            let Ok(mut log) = self.ladder.log.lock() else {
                return false;
            };
            let Some(entry) = log.iter_mut().find(|e| e.delivery.seq == seq) else {
                return false;
            };
            entry.round += 1;
            entry.step = 0;
            entry.owed = true;
            entry.next_due = Some(self.ladder.clock.now_ms());
            entry.round
        };
        self.ladder.touched(seq);
        self.start(seq, round, self.ladder.clock.now_ms());
        true
    }

    /// The first attempt of a ladder: at once, unless the clock is being
    /// moved, when it waits in the queue for the walk to reach it. While an
    /// attempt is on its way, that attempt starts the new ladder when it
    /// ends: one connection per notification at a time.
    fn start(&self, seq: u64, round: u32, now_ms: i64) {
        if self
            .ladder
            .active
            .lock()
            .is_ok_and(|a| a.contains_key(&seq))
        {
            return;
        }
        match self.ladder.clock.walking.try_lock() {
            Ok(_free) => self.spawn_attempt(seq, round, now_ms),
            Err(_) => {
                self.ladder
                    .clock
                    .schedule(now_ms, Timer::NotificationAttempt { seq, round });
            }
        }
    }

    /// Makes attempt `round` of `seq`, due at `at_ms`, in the background.
    pub(crate) fn spawn_attempt(&self, seq: u64, round: u32, at_ms: i64) {
        if !self.ladder.is_current(seq, round) {
            return;
        }
        let token = self.ladder.tokens.fetch_add(1, Ordering::Relaxed);
        match self.ladder.active.lock() {
            Ok(mut active) if !active.contains_key(&seq) => {
                active.insert(seq, token);
            }
            // One attempt per notification at a time.
            _ => return,
        }
        let ladder = self.ladder.clone();
        self.runtime.spawn(async move {
            ladder.attempt(seq, round, at_ms, Some(token)).await;
            ladder.release(seq, Some(token));
        });
    }

    /// Makes attempt `round` of `seq`, due at `at_ms`, and waits for it;
    /// what happened, for a move of the clock to report.
    pub(crate) async fn attempt(&self, seq: u64, round: u32, at_ms: i64) -> Option<Value> {
        self.ladder.attempt(seq, round, at_ms, None).await
    }

    /// Notes changes from now on, for [`Notifier::save`].
    pub(crate) fn track(&self) {
        if let Ok(mut dirty) = self.ladder.dirty.lock() {
            dirty.get_or_insert_with(HashSet::new);
        }
    }

    /// The deliveries changed or forgotten since the last save.
    pub(crate) fn save(&self, batch: &mut Batch) {
        let mut seqs: Vec<u64> = match self.ladder.dirty.lock() {
            Ok(mut dirty) => dirty
                .as_mut()
                .map(|d| d.drain().collect())
                .unwrap_or_default(),
            Err(_) => return,
        };
        // In the order they were made: a restart reads them back so.
        seqs.sort_unstable();
        if seqs.is_empty() {
            return;
        }
        let Ok(log) = self.ladder.log.lock() else {
            return;
        };
        for seq in seqs {
            let entry = log.iter().rev().find(|e| e.delivery.seq == seq);
            batch.put(KIND, &seq, entry);
        }
    }

    /// Rebuilds the log from the store and queues every attempt still
    /// owed at the time it falls due (at once when that has passed).
    pub(crate) fn load(&self, store: &Store) -> Result<(), String> {
        let entries: Vec<Entry> = store.load(KIND)?;
        let mut log = self.ladder.log.lock().map_err(|_| "busy")?;
        for entry in entries {
            let seq = entry.delivery.seq;
            self.next_seq.fetch_max(seq + 1, Ordering::Relaxed);
            if let (true, Some(due)) = (entry.owed, entry.next_due) {
                let round = entry.round;
                self.ladder
                    .clock
                    .schedule(due, Timer::NotificationAttempt { seq, round });
            }
            if log.len() >= KEPT_NOTIFICATIONS {
                log.pop_front();
            }
            log.push_back(entry);
        }
        Ok(())
    }

    /// Waits (at most `most`) until no attempt is on its way.
    pub(crate) async fn settle(&self, most: Duration) {
        let deadline = std::time::Instant::now() + most;
        while std::time::Instant::now() < deadline
            && self.ladder.active.lock().is_ok_and(|a| !a.is_empty())
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Ladder {
    /// Notes that delivery `seq` changed, when a store saves the log.
    fn touched(&self, seq: u64) {
        if let Ok(mut dirty) = self.dirty.lock() {
            if let Some(dirty) = dirty.as_mut() {
                dirty.insert(seq);
            }
        }
    }

    /// Whether attempt `round` of `seq` is still wanted.
    fn is_current(&self, seq: u64, round: u32) -> bool {
        self.log.lock().is_ok_and(|log| {
            log.iter()
                .rev()
                .find(|e| e.delivery.seq == seq)
                .is_some_and(|e| e.round == round && e.owed)
        })
    }

    /// The attempt with `token` is no longer on its way.
    fn release(&self, seq: u64, token: Option<u64>) {
        if let (Some(token), Ok(mut active)) = (token, self.active.lock()) {
            if active.get(&seq) == Some(&token) {
                active.remove(&seq);
            }
        }
    }

    /// One attempt, recorded, and the next one queued on the clock when
    /// the merchant did not answer 2xx (or owes a second delivery).
    async fn attempt(&self, seq: u64, round: u32, at_ms: i64, token: Option<u64>) -> Option<Value> {
        let (url, body) = {
            let log = self.log.lock().ok()?;
            // Gone from the log (evicted): nobody is watching any more.
            let entry = log.iter().rev().find(|e| e.delivery.seq == seq)?;
            if entry.round != round || !entry.owed {
                return None;
            }
            (entry.delivery.url.clone(), entry.delivery.body.clone())
        };
        let time = clock::rfc3339(at_ms.div_euclid(1000));
        let refused = refused_target(&url);
        let attempt = match &refused {
            Some(why) => DeliveryAttempt {
                time: time.clone(),
                status: None,
                answer: why.clone(),
            },
            None => {
                let public_key = self.use_public_key.load(Ordering::Relaxed);
                post(
                    &self.keys,
                    &self.http,
                    &url,
                    &body,
                    public_key,
                    time.clone(),
                )
                .await
            }
        };
        let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
        let report = json!({"time": time, "event": "notification.attempt", "seq": seq,
                            "url": url, "status": attempt.status, "delivered": delivered});
        // Released before the next attempt is queued, so that it may start.
        self.release(seq, token);
        let mut log = self.log.lock().ok()?;
        let entry = log.iter_mut().rev().find(|e| e.delivery.seq == seq)?;
        if entry.delivery.answers.len() >= KEPT_ANSWERS {
            entry.delivery.answers.remove(0);
        }
        entry.delivery.answers.push(attempt);
        self.touched(seq);
        if entry.round != round {
            // Resent while this attempt was on its way: the new ladder
            // starts now.
            entry.delivery.attempts += 1;
            entry.delivery.delivered |= delivered;
            let round = entry.round;
            let now = self.clock.now_ms();
            entry.next_due = Some(now);
            self.clock
                .schedule(now, Timer::NotificationAttempt { seq, round });
            return Some(report);
        }
        if refused.is_some() {
            // Nothing was sent and nothing will be.
            entry.owed = false;
            entry.next_due = None;
            return Some(report);
        }
        entry.delivery.attempts += 1;
        entry.delivery.delivered |= delivered;
        let factor = i64::from(self.speedup.load(Ordering::Relaxed).max(1));
        let wait = if delivered && entry.twice {
            entry.twice = false;
            Some(RETRY_SCHEDULE[0])
        } else if delivered {
            None
        } else {
            let wait = RETRY_SCHEDULE.get(entry.step).copied();
            entry.step += 1;
            wait
        };
        match wait {
            Some(seconds) => {
                let next = at_ms + (seconds as i64) * 1000 / factor;
                entry.next_due = Some(next);
                self.clock
                    .schedule(next, Timer::NotificationAttempt { seq, round });
            }
            None => {
                entry.owed = false;
                entry.next_due = None;
            }
        }
        Some(report)
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
    time: String,
) -> DeliveryAttempt {
    let requested = public_key.then_some(keys.credentials.platform_public_key_id);
    // Signed at real time: the endpoint checks the timestamp against its
    // own clock, not the mock's.
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

    /// Notification `i`; nothing listens on port 9: every attempt fails fast.
    fn event(i: usize) -> Event {
        Event {
            notify_url: "http://127.0.0.1:9/notify".to_owned(),
            event_type: "TRANSACTION.SUCCESS",
            summary: "支付成功",
            original_type: "transaction",
            associated_data: "transaction",
            resource: json!({ "i": i }),
        }
    }

    #[tokio::test]
    async fn the_log_keeps_the_last_deliveries_only() {
        let keys = ServerKeys::load().unwrap();
        let clock = Arc::new(MockClock::default());
        let notifier = Notifier::new(keys, tokio::runtime::Handle::current(), clock);
        for i in 0..KEPT_NOTIFICATIONS + 5 {
            notifier.send(event(i));
        }
        let log = notifier.deliveries();
        assert_eq!(log.len(), KEPT_NOTIFICATIONS);
        assert_eq!(log[0].seq, 6, "the five oldest went first");
        assert!(!notifier.resend(1), "an evicted delivery cannot be resent");
    }

    /// Notifications saved together (a move of the clock that ends many
    /// bills) come back after a restart in the order they were made.
    #[tokio::test]
    async fn deliveries_saved_together_come_back_in_their_order() {
        use crate::mock::wire::store::{Batch, Store};
        let dir = std::env::temp_dir().join(format!("wxpay-notify-order-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let clock = Arc::new(MockClock::default());
        let notifier = Notifier::new(
            ServerKeys::load().unwrap(),
            tokio::runtime::Handle::current(),
            clock,
        );
        notifier.track();
        for i in 0..40 {
            notifier.send(event(i));
        }
        let mut batch = Batch::default();
        notifier.save(&mut batch);
        store.queue(batch).wait().await;
        let clock = Arc::new(MockClock::default());
        let restarted = Notifier::new(
            ServerKeys::load().unwrap(),
            tokio::runtime::Handle::current(),
            clock,
        );
        restarted.load(&store).unwrap();
        let seqs: Vec<u64> = restarted.deliveries().iter().map(|d| d.seq).collect();
        assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
