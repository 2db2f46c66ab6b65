//! Keeps the mock's state in its store (`wire/store.rs`) when it has one:
//! after every answer, before it is sent, what the books changed; on
//! start, the books rebuilt and the clock, the settings and the pending
//! notification retries picked up where they stopped.
//!
//! Every book is saved the same way: `track()` once loaded, then
//! `save(&mut Batch)` after each answer; each is locked on its own, one
//! after the other, so saving never holds two books at once.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::Shared;
use crate::mock::flows::profitsharing;
use crate::mock::wire::store::{Batch, Saved, Store};

/// The `meta` row of the clock and the settings.
const STATE: &str = "state";

/// Runs `f` on the book behind `lock`; a poisoned lock is an error.
fn with<B, R>(lock: &Mutex<B>, f: impl FnOnce(&mut B) -> R) -> Result<R, String> {
    let mut book = lock.lock().map_err(|_| "a book's lock is poisoned")?;
    Ok(f(&mut book))
}

impl Shared {
    /// Opens `dir`'s store (refused while another mock holds it), reads
    /// the state back and saves every change from now on.
    pub(crate) fn open_store(&self, dir: &Path) -> Result<(), String> {
        let store = Store::open(dir)?;
        // The settings first: the retention bounds what is read back.
        if let Some(text) = store.meta(STATE)? {
            // Refused, not guessed: defaults would move the clock back.
            serde_json::from_str::<Value>(&text)
                .map_err(|e| e.to_string())
                .and_then(|state| self.restore_state(&state))
                .map_err(|why| store.refusal("the stored state (clock and settings)", &why))?;
        }
        with(&self.payments, |b| b.load(&store).map(|()| b.track()))??;
        with(&self.refunds, |b| b.load(&store).map(|()| b.track()))??;
        with(&self.orders, |b| b.load(&store).map(|()| b.track()))??;
        with(&self.combines, |b| b.load(&store).map(|()| b.track()))??;
        with(&self.transfers, |b| b.load(&store).map(|()| b.track()))??;
        with(&self.profitsharing, |b| b.load(&store).map(|()| b.track()))??;
        self.v2.load(&store)?;
        self.v2.track();
        // After the clock: pending retries are queued at their times.
        self.notifier.load(&store)?;
        self.notifier.track();
        if let Ok(mut last) = self.saved_state.lock() {
            *last = self.state_row();
        }
        self.store
            .set(store)
            .map_err(|_| "this mock already keeps a store".to_owned())
    }

    /// The clock and the settings, as stored.
    fn state_row(&self) -> String {
        let delay = self.refund_delay.lock().ok().and_then(|d| *d);
        let (balance, sharing) = (
            with(&self.transfers, |b| b.balance()).ok(),
            with(&self.profitsharing, |b| b.settings.clone()).ok(),
        );
        json!({
            "clock_offset_ms": self.clock.offset_ms(),
            "notification_speedup": self.notifier.speedup.load(Ordering::Relaxed),
            "refund_auto_resolve_ms": delay.map(|d| d.as_millis() as u64),
            "sign_with_public_key": self.notifier.use_public_key.load(Ordering::Relaxed),
            "retention": self.retention.load(Ordering::Relaxed),
            "transfer_balance_fen": balance,
            "profitsharing": sharing,
            // Ids given at payment: their holder may be forgotten first.
            "sequences": {
                "payment": with(&self.payments, |b| b.sequence()).ok(),
                "combine": with(&self.combines, |b| b.sequence()).ok(),
            },
        })
        .to_string()
    }

    /// Puts back what [`Shared::state_row`] stored; a value missing (a
    /// store from an older version) keeps its default, one the mock never
    /// writes is refused.
    fn restore_state(&self, state: &Value) -> Result<(), String> {
        if !state.is_object() {
            return Err("not a JSON object".to_owned());
        }
        self.clock
            .set_offset_ms(state["clock_offset_ms"].as_i64().unwrap_or(0))?;
        if let Some(speedup) = state["notification_speedup"].as_u64() {
            let speedup = u32::try_from(speedup.max(1)).unwrap_or(u32::MAX);
            self.notifier.speedup.store(speedup, Ordering::Relaxed);
        }
        if let Ok(mut delay) = self.refund_delay.lock() {
            *delay = state["refund_auto_resolve_ms"]
                .as_u64()
                .map(std::time::Duration::from_millis);
        }
        let public_key = state["sign_with_public_key"].as_bool().unwrap_or(false);
        self.notifier
            .use_public_key
            .store(public_key, Ordering::Relaxed);
        if let Some(limit) = state["retention"].as_u64() {
            self.set_retention(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        if let Some(fen) = state["transfer_balance_fen"].as_i64() {
            let _ = with(&self.transfers, |b| b.set_balance(fen));
        }
        if !state["profitsharing"].is_null() {
            let settings =
                serde_json::from_value::<profitsharing::Settings>(state["profitsharing"].clone())
                    .map_err(|e| e.to_string())?;
            // As PUT /_mock/settings takes it: more overflows its sums.
            let wait = settings.wait_after_payment;
            if !(0..=profitsharing::WAIT_AFTER_PAYMENT).contains(&wait) {
                return Err(format!("profit sharing's wait {wait} s is not 0 to 60"));
            }
            with(&self.profitsharing, |b| b.settings = settings)?;
        }
        // Before the books: each numbers on from the larger.
        if let Some(n) = state["sequences"]["payment"].as_u64() {
            let _ = with(&self.payments, |b| b.resume_from(n));
        }
        if let Some(n) = state["sequences"]["combine"].as_u64() {
            let _ = with(&self.combines, |b| b.resume_from(n));
        }
        Ok(())
    }

    /// Hands what changed since the last call to the store's writer; an
    /// answer awaits [`Saved::wait`] before it is sent. Nothing without a
    /// store.
    pub(crate) fn persist(&self) -> Saved {
        let Some(store) = self.store.get() else {
            return Saved::nothing();
        };
        // One at a time: changes are taken and queued in the same order
        // (the lock is held only for that; the writing is the writer's).
        let Ok(_one) = self.saving.lock() else {
            return Saved::nothing();
        };
        let mut batch = Batch::default();
        let _ = with(&self.payments, |b| b.save(&mut batch));
        let _ = with(&self.refunds, |b| b.save(&mut batch));
        let _ = with(&self.orders, |b| b.save(&mut batch));
        let _ = with(&self.combines, |b| b.save(&mut batch));
        let _ = with(&self.transfers, |b| b.save(&mut batch));
        let _ = with(&self.profitsharing, |b| b.save(&mut batch));
        self.v2.save(&mut batch);
        self.notifier.save(&mut batch);
        let state = self.state_row();
        if let Ok(mut last) = self.saved_state.lock() {
            if *last != state {
                batch.meta.push((STATE, state.clone()));
                *last = state;
            }
        }
        store.queue(batch)
    }
}
