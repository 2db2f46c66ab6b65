//! Keeps the mock's state in its store (`wire/store.rs`) when it has one:
//! after every answer, before it is sent, what the books changed; on
//! start, the books rebuilt and the clock, the settings and the pending
//! notification retries picked up where they stopped.

use std::path::Path;
use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::Shared;
use crate::mock::wire::store::{Batch, Saved, Store};

/// The `meta` row of the clock and the settings.
const STATE: &str = "state";

impl Shared {
    /// Opens `dir`'s store (refused while another mock holds it), reads
    /// the state back and saves every change from now on.
    pub(crate) fn open_store(&self, dir: &Path) -> Result<(), String> {
        let store = Store::open(dir)?;
        {
            let mut payments = self.payments.lock().map_err(|_| "busy")?;
            payments.load(&store)?;
            payments.track();
            let mut refunds = self.refunds.lock().map_err(|_| "busy")?;
            refunds.load(&store)?;
            refunds.track();
            let mut orders = self.orders.lock().map_err(|_| "busy")?;
            orders.load(&store)?;
            orders.track();
        }
        if let Some(text) = store.meta(STATE)? {
            let state: Value = serde_json::from_str(&text).unwrap_or_default();
            self.clock
                .set_offset_ms(state["clock_offset_ms"].as_i64().unwrap_or(0));
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
        }
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
        json!({
            "clock_offset_ms": self.clock.offset_ms(),
            "notification_speedup": self.notifier.speedup.load(Ordering::Relaxed),
            "refund_auto_resolve_ms": delay.map(|d| d.as_millis() as u64),
            "sign_with_public_key": self.notifier.use_public_key.load(Ordering::Relaxed),
        })
        .to_string()
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
        if let Ok(mut payments) = self.payments.lock() {
            payments.save(&mut batch);
        }
        if let Ok(mut refunds) = self.refunds.lock() {
            refunds.save(&mut batch);
        }
        if let Ok(mut orders) = self.orders.lock() {
            orders.save(&mut batch);
        }
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
