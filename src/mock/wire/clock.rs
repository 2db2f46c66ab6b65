//! The mock's one clock: the time every WeChat Pay rule of the simulator
//! reads (`time_expire`, the 2-hour `prepay_id`, refund delays, the
//! notification ladder, bill availability, every `*_time` the mock writes),
//! and the queue of what falls due.
//!
//! It follows real time, shifted by however far it was moved
//! (`POST /_mock/clock/advance`, `…/set`, [`crate::mock::MockServer::advance_clock`]);
//! it never goes back. Signatures are another matter: the timestamps the
//! merchant signs and the mock signs with stay real time, since both sides
//! check them against their own clocks.
//!
//! **How a flow hooks in** (transfers, profit sharing, combine …):
//! - read the time from the call (`call.now`, which the server takes from
//!   this clock), never from the system;
//! - for something that happens by itself at a time (a transfer unconfirmed
//!   for 24 h ends FAIL, frozen funds unfreeze after 30 days), either
//!   evaluate it lazily from `now` when the object is read (as payments
//!   close at `time_expire`) and list its deadlines in a window for the
//!   walk (`Payments::deadlines`), or [`MockClock::schedule`] a [`Timer`]
//!   when the obligation is made; add the variant here and one arm in
//!   `wire/timers.rs` (`Shared::fire`), which applies it and says what
//!   happened. Moving the clock fires every due timer in time order, the
//!   clock standing at each one's time while it fires; the real-time ticker
//!   fires them as they fall due when nobody moves the clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Something that happens by itself at a time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Timer {
    /// An unpaid payment order reaches its `time_expire` (7 days by default).
    OrderExpires {
        sub_mchid: String,
        out_trade_no: String,
    },
    /// A `prepay_id` reaches the end of its 2 hours.
    PrepayExpires {
        sub_mchid: String,
        out_trade_no: String,
        prepay_id: String,
    },
    /// A PROCESSING refund resolves by itself (`refund_auto_resolve_ms`).
    RefundResolves {
        sub_mchid: String,
        out_refund_no: String,
    },
    /// A transfer bill ends by itself: unconfirmed for 24 h (FAIL), or its
    /// cancel went through (CANCELLED).
    TransferEnds {
        sub_mchid: String,
        out_bill_no: String,
    },
    /// 30 days after payment, what profit sharing left frozen of paid order
    /// `transaction_id` goes back to the merchant by itself.
    FundsUnfreeze { transaction_id: String },
    /// The next attempt of notification `seq` on its ladder; `round` tells
    /// a resend's ladder from the one it replaced.
    NotificationAttempt { seq: u64, round: u32 },
}

/// A timer and when it falls due (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Due {
    pub(crate) at_ms: i64,
    /// Order of scheduling, so that timers due together fire in that order.
    pub(crate) order: u64,
    pub(crate) timer: Timer,
}

/// The clock stops at the last instant RFC 3339 writes,
/// 9999-12-31T23:59:59.999Z (Unix ms): every time the mock writes fits its
/// format, and a stored time past it is refused (`wire/store.rs`).
pub(crate) const LATEST_MS: i64 = 253_402_300_799_999;

/// Timers waiting at once; past it the latest are refused (a flood of
/// notifications must not grow the mock without bound). A move of the
/// clock queues at most five deadlines per entry the stores may keep (a
/// payment's prepay and expiry, a refund, a transfer bill, an unfreeze:
/// `MAX_RETENTION` each) beside the notifications' attempts, so none is
/// ever refused for room (checked where both are known, `wire/server.rs`).
pub(crate) const MAX_TIMERS: usize = 1_000_000;

/// The clock and its queue.
pub(crate) struct MockClock {
    /// Simulated minus real time, in milliseconds.
    offset_ms: AtomicI64,
    queue: Mutex<BinaryHeap<Reverse<Due>>>,
    order: AtomicU64,
    /// Held while the clock is moved: the ticker leaves the queue alone,
    /// and a notification sent meanwhile waits in the queue for the walk.
    pub(crate) walking: tokio::sync::Mutex<()>,
}

impl Default for MockClock {
    fn default() -> Self {
        MockClock {
            offset_ms: AtomicI64::new(0),
            queue: Mutex::default(),
            order: AtomicU64::new(0),
            walking: tokio::sync::Mutex::new(()),
        }
    }
}

/// Real Unix time in milliseconds.
pub(crate) fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl MockClock {
    /// The simulated time, Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        real_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The simulated time, Unix seconds: what flows get as `now`.
    pub(crate) fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// How far ahead of real time the clock is, in milliseconds.
    pub(crate) fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Restores a stored offset (a restarted mock picks up its time); one
    /// that puts the clock past [`LATEST_MS`] is refused.
    pub(crate) fn set_offset_ms(&self, offset: i64) -> Result<(), String> {
        if real_ms().saturating_add(offset) > LATEST_MS {
            return Err(format!(
                "a clock offset of {offset} ms puts it past year 9999"
            ));
        }
        self.offset_ms.store(offset.max(0), Ordering::Relaxed);
        Ok(())
    }

    /// Moves the clock to `at_ms`, forward only; an earlier time is
    /// refused, saying what the time is.
    pub(crate) fn move_to(&self, at_ms: i64) -> Result<(), String> {
        let now = self.now_ms();
        if at_ms > LATEST_MS {
            return Err(format!(
                "the clock stops at {}: the last time RFC 3339 writes",
                crate::clock::rfc3339(LATEST_MS.div_euclid(1000)),
            ));
        }
        if at_ms < now {
            return Err(format!(
                "the clock only moves forward: it is {} and {} is earlier",
                crate::clock::rfc3339(now.div_euclid(1000)),
                crate::clock::rfc3339(at_ms.div_euclid(1000)),
            ));
        }
        self.offset_ms
            .fetch_add(at_ms - now, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Queues `timer` to fire at `at_ms`; false when the queue is full.
    pub(crate) fn schedule(&self, at_ms: i64, timer: Timer) -> bool {
        let order = self.order.fetch_add(1, Ordering::Relaxed);
        let Ok(mut queue) = self.queue.lock() else {
            return false;
        };
        if queue.len() >= MAX_TIMERS {
            return false;
        }
        queue.push(Reverse(Due {
            at_ms,
            order,
            timer,
        }));
        true
    }

    /// The earliest timer due at or before `until_ms`, taken off the queue.
    pub(crate) fn pop_due(&self, until_ms: i64) -> Option<Due> {
        let mut queue = self.queue.lock().ok()?;
        if queue
            .peek()
            .is_some_and(|Reverse(due)| due.at_ms <= until_ms)
        {
            return queue.pop().map(|Reverse(due)| due);
        }
        None
    }

    /// Every waiting timer, earliest first.
    pub(crate) fn pending(&self) -> Vec<Due> {
        let mut all: Vec<Due> = self
            .queue
            .lock()
            .map(|queue| queue.iter().map(|Reverse(due)| due.clone()).collect())
            .unwrap_or_default();
        all.sort();
        all
    }
}

/// Seconds in a duration as people write it: `90` (seconds), `90s`, `15m`,
/// `2h`, `7d`, `1d2h30m`, or ISO 8601 `PT2H`, `P1DT2H30M`, `PT15S`, `P7D`.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a duration: write seconds (90), units (90s, 15m, 2h, 7d, 1d2h30m) \
             or ISO 8601 (PT2H, P1DT2H30M)"
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return (seconds >= 0).then_some(seconds).ok_or_else(bad);
    }
    let upper = text.to_ascii_uppercase();
    let (iso, body) = match upper.strip_prefix('P') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, upper),
    };
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut in_time = !iso;
    let mut any = false;
    for c in body.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' if iso && !in_time && number.is_empty() => in_time = true,
            unit => {
                let value: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                let seconds = match (unit, in_time) {
                    ('D', _) => 86_400,
                    ('W', false) => 7 * 86_400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return Err(bad()),
                };
                total = value
                    .checked_mul(seconds)
                    .and_then(|s| total.checked_add(s))
                    .ok_or_else(bad)?;
                any = true;
            }
        }
    }
    if !number.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

/// Unix milliseconds for a time as people write it: RFC 3339 with an
/// offset (`2026-01-02T10:00:00+08:00`, `…Z`), or without one, read as
/// China time (`2026-01-02T10:00:00`, `2026-01-02 10:00:00`).
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let normal = text.replacen(' ', "T", 1);
    let with_offset = if normal.len() == 19 {
        format!("{normal}+08:00")
    } else {
        normal
    };
    crate::clock::parse_rfc3339(&with_offset)
        .map(|seconds| seconds * 1000)
        .ok_or_else(|| {
            format!(
                "{text:?} is not a time: write RFC 3339 (2026-01-02T10:00:00+08:00) \
                 or a China time (2026-01-02 10:00:00)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        for (text, seconds) in [
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("2h", 7200),
            ("7d", 604_800),
            ("1d2h30m", 95_400),
            ("PT2H", 7200),
            ("pt15s", 15),
            ("P1DT2H30M", 95_400),
            ("P7D", 604_800),
            ("P1W", 604_800),
        ] {
            assert_eq!(parse_duration(text), Ok(seconds), "{text}");
        }
        for text in [
            "",
            "-5",
            "2x",
            "h",
            "P2H",
            "PT",
            "2h5",
            "99999999999999999d",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("not a duration"), "{text}: {err}");
        }
    }

    #[test]
    fn times_with_and_without_an_offset() {
        let expected = 1_767_232_800_000; // 2026-01-01T02:00:00Z
        assert_eq!(parse_time("2026-01-01T10:00:00+08:00"), Ok(expected));
        assert_eq!(parse_time("2026-01-01T02:00:00Z"), Ok(expected));
        assert_eq!(parse_time("2026-01-01 10:00:00"), Ok(expected));
        assert!(parse_time("tomorrow").unwrap_err().contains("not a time"));
    }

    #[test]
    fn the_clock_moves_forward_only_and_fires_in_order() {
        let clock = MockClock::default();
        let now = clock.now_ms();
        clock.move_to(now + 3_600_000).unwrap();
        assert!(clock.now_ms() >= now + 3_600_000);
        let err = clock.move_to(now).unwrap_err();
        assert!(err.contains("only moves forward"), "{err}");
        let attempt = |seq| Timer::NotificationAttempt { seq, round: 0 };
        clock.schedule(30, attempt(3));
        clock.schedule(10, attempt(1));
        clock.schedule(10, attempt(2));
        assert_eq!(clock.pop_due(5), None);
        let fired: Vec<Timer> = std::iter::from_fn(|| clock.pop_due(20))
            .map(|d| d.timer)
            .collect();
        assert_eq!(fired, [attempt(1), attempt(2)], "due together: in order");
        assert_eq!(clock.pending().len(), 1);
    }
}
