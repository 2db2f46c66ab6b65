//! Fires the clock's timers into the flows: when the clock is moved
//! (`POST /_mock/clock/advance`, `…/set`), every timer that falls due in
//! between, in time order, the clock standing at each one's time; and as
//! real time passes, the ticker fires what fell due.

use std::time::Duration;

use futures_util::FutureExt;
use serde_json::{json, Value};

use super::clock_controls::{too_far, MOST_SECONDS};
use super::Shared;
use crate::clock::rfc3339;
use crate::mock::flows::refunds::RefundOutcome;
use crate::mock::wire::clock::{Due, Timer};

/// How long a move of the clock waits for notifications already on their
/// way (each answers within 5 s) before it walks the queue.
const SETTLE: Duration = Duration::from_secs(12);

impl Shared {
    /// Moves the clock to `target_ms` (forward only), firing every timer due
    /// on the way, in order; returns what happened, oldest first.
    pub(crate) async fn advance_to(&self, target_ms: i64) -> Result<Vec<Value>, String> {
        let _walk = self.clock.walking.lock().await;
        // From when the ticker stopped: what falls due while the move waits
        // for notifications on their way is walked too, at its time.
        let start = self.clock.now_ms();
        // However it is asked (control, MockServer, CLI): a bounded walk.
        if target_ms.saturating_sub(start) > MOST_SECONDS * 1000 {
            return Err(too_far());
        }
        self.notifier.settle(SETTLE).await;
        if target_ms < start {
            // Refused with the clock's own words.
            self.clock.move_to(target_ms)?;
        }
        self.schedule_deadlines(start, target_ms);
        let mut happened = Vec::new();
        while let Some(due) = self.clock.pop_due(target_ms) {
            // A timer already late stays at the present: never backwards.
            let _ = self.clock.move_to(due.at_ms);
            if let Some(what) = self.fire(&due).await {
                happened.push(what);
            }
        }
        // Real time went on meanwhile: the clock may be past the target.
        let _ = self.clock.move_to(target_ms);
        Ok(happened)
    }

    /// The deadlines flows keep themselves (evaluated when read) that fall
    /// in `(from_ms, to_ms]`, queued so that the walk reports them in order.
    fn schedule_deadlines(&self, from_ms: i64, to_ms: i64) {
        // Payments and profit sharing keep whole seconds.
        let (from, to) = (from_ms.div_euclid(1000), to_ms.div_euclid(1000));
        let deadlines = self
            .payments
            .lock()
            .map(|book| book.deadlines(from, to))
            .unwrap_or_default();
        for (at, timer) in deadlines {
            self.clock.schedule(at * 1000, timer);
        }
        let delay = self.refund_delay.lock().ok().and_then(|d| *d);
        let transfers = self
            .transfers
            .lock()
            .map(|book| book.deadlines(from_ms, to_ms, delay))
            .unwrap_or_default();
        // payments before profit sharing, always
        let unfreezes = match (self.payments.lock(), self.profitsharing.lock()) {
            (Ok(payments), Ok(sharing)) => sharing.deadlines(&payments, from, to),
            _ => Vec::new(),
        };
        for (at_ms, timer) in transfers.into_iter().chain(unfreezes) {
            self.clock.schedule(at_ms, timer);
        }
        if let Some(delay) = delay {
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            let processing = self
                .refunds
                .lock()
                .map(|refunds| refunds.processing_since())
                .unwrap_or_default();
            for (sub_mchid, out_refund_no, created) in processing {
                let at_ms = (created * 1000).saturating_add(delay_ms);
                if at_ms <= to_ms {
                    self.clock.schedule(
                        at_ms,
                        Timer::RefundResolves {
                            sub_mchid,
                            out_refund_no,
                        },
                    );
                }
            }
        }
    }

    /// Applies one timer; what happened, if anything (a timer whose object
    /// moved on meanwhile does nothing).
    async fn fire(&self, due: &Due) -> Option<Value> {
        let time = rfc3339(due.at_ms.div_euclid(1000));
        let now = due.at_ms.div_euclid(1000);
        let mchid = self.keys.credentials.mchid;
        match &due.timer {
            Timer::OrderExpires {
                sub_mchid,
                out_trade_no,
            } => {
                let mut book = self.payments.lock().ok()?;
                let was_open = book.find(sub_mchid, out_trade_no)?.state.as_str() == "NOTPAY";
                let order = book.get_mut(sub_mchid, out_trade_no, now)?;
                (was_open && order.state.as_str() == "CLOSED").then(|| {
                    json!({"time": time, "event": "transaction.closed", "out_trade_no": out_trade_no,
                           "sub_mchid": sub_mchid, "trade_state": "CLOSED",
                           "why": "unpaid at its time_expire (7 days when the order set none)"})
                })
            }
            Timer::PrepayExpires {
                sub_mchid,
                out_trade_no,
                prepay_id,
            } => {
                let book = self.payments.lock().ok()?;
                let order = book.find(sub_mchid, out_trade_no)?;
                (order.prepay_id == *prepay_id).then(|| {
                    json!({"time": time, "event": "prepay_id.expired", "out_trade_no": out_trade_no,
                           "sub_mchid": sub_mchid, "prepay_id": prepay_id,
                           "why": "a prepay_id lives 2 hours: the front end can no longer invoke with it"})
                })
            }
            Timer::RefundResolves {
                sub_mchid,
                out_refund_no,
            } => {
                let (refund, event) = {
                    let mut payments = self.payments.lock().ok()?;
                    let mut refunds = self.refunds.lock().ok()?;
                    refunds
                        .resolve(
                            &mut payments,
                            sub_mchid,
                            out_refund_no,
                            RefundOutcome::Success,
                            mchid,
                            now,
                        )
                        .ok()?
                };
                if let Some(event) = event {
                    self.notifier.send(event);
                }
                Some(
                    json!({"time": time, "event": "refund.resolved", "out_refund_no": out_refund_no,
                            "sub_mchid": sub_mchid, "status": refund["status"]}),
                )
            }
            Timer::TransferEnds {
                sub_mchid,
                out_bill_no,
            } => {
                let delay = self.refund_delay.lock().ok().and_then(|d| *d);
                let key = (sub_mchid.clone(), out_bill_no.clone());
                let (state, reason, event) = self
                    .transfers
                    .lock()
                    .ok()?
                    .settle(&key, due.at_ms, delay, mchid)?;
                if let Some(event) = event {
                    self.notifier.send(event);
                }
                let why = match reason {
                    Some(_) => "unconfirmed by its payee for 24 h: the amount went back to the operating account",
                    None => "its cancel went through: the amount went back to the operating account",
                };
                Some(
                    json!({"time": time, "event": "transfer_bill.finished", "out_bill_no": out_bill_no,
                            "sub_mchid": sub_mchid, "state": state.as_str(), "fail_reason": reason,
                            "why": why}),
                )
            }
            Timer::FundsUnfreeze { transaction_id } => {
                // payments before profit sharing, always
                let payments = self.payments.lock().ok()?;
                let fen = self.profitsharing.lock().ok()?.unfreeze_by_time(
                    &payments,
                    transaction_id,
                    now,
                )?;
                Some(json!({"time": time, "event": "profitsharing.unfrozen",
                            "transaction_id": transaction_id, "unfrozen_amount": fen,
                            "why": "30 days after payment the funds profit sharing left frozen go back to the merchant"}))
            }
            Timer::NotificationAttempt { seq, round } => {
                self.notifier.attempt(*seq, *round, due.at_ms).await
            }
        }
    }

    /// What fell due as real time passed: the ticker calls it a few times a
    /// second. Leaves the queue alone while the clock is being moved.
    pub(crate) fn run_due(&self) {
        let Ok(_walk) = self.clock.walking.try_lock() else {
            return;
        };
        let now = self.clock.now_ms();
        while let Some(due) = self.clock.pop_due(now) {
            match due.timer {
                Timer::NotificationAttempt { seq, round } => {
                    self.notifier.spawn_attempt(seq, round, due.at_ms);
                }
                // Every other timer is applied without waiting on anything.
                _ => {
                    let _ = self.fire(&due).now_or_never();
                }
            }
        }
    }
}
