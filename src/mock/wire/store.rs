//! The mock's state on disk (`wxpay mock --dir DIR`,
//! [`crate::mock::MockServer::bind_in`]): one SQLite file, `DIR/mock.sqlite`,
//! under the books the flows keep in memory. A flow's code does not know it
//! is there: each book's [`super::kept::Kept`] notes the entries that
//! changed or were forgotten, and after every answer the server hands them
//! here as JSON rows and waits, before the answer is sent, until they are
//! committed (WAL, `synchronous=NORMAL`: a `kill -9` of the mock loses
//! nothing it answered; a power cut may lose the last moments). On start
//! the rows are read back, oldest first, and the books rebuilt.
//!
//! **Group commit.** One thread of the store's own writes: it takes every
//! batch queued since its last commit and writes them in one transaction,
//! then lets their answers go. The answers' tasks wait without holding a
//! runtime thread, so while one commit (or a checkpoint's `fsync`) is under
//! way the runtime goes on signing and verifying the next requests, and
//! concurrent answers share a commit instead of queueing for one each
//! (docs/performance.md, "The mock with its state on disk": payments went
//! from about 70% of the in-memory throughput to 82–94%).
//!
//! One mock per directory: the database is opened in SQLite's exclusive
//! locking mode and written at once, so a second mock on the same DIR is
//! refused until the first stops.
//!
//! **How a flow hooks in**: keep the book's objects in a `Kept` and derive
//! `Serialize`/`Deserialize` on them; give the book a `track()` (calls
//! `Kept::track`), a `save(&mut Batch)` (calls `Kept::save_changes` under
//! the book's own kind) and a `load(&Store)` that rebuilds the book and its
//! indexes from `store.load::<(Key, Object)>(KIND)`; call the three from
//! `wire/server/persist.rs` (`open_store` and `persist`), next to payments'.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;

/// The most entries the retention setting lets a store keep: about 5 KiB
/// each in memory (about 500 MiB per store at most), 1 KB each on disk
/// (docs/performance.md). [`crate::mock::MockServer::set_retention`].
pub const MAX_RETENTION: usize = 100_000;

/// The database file inside the directory.
pub(crate) const FILE: &str = "mock.sqlite";

/// Rows to write in one transaction: `(kind, key, body)`, no body for a
/// row to delete.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) rows: Vec<(&'static str, String, Option<String>)>,
    /// `meta` rows: (name, value).
    pub(crate) meta: Vec<(&'static str, String)>,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.meta.is_empty()
    }

    /// Queues `value` as the row `key` of `kind` (or its deletion).
    pub(crate) fn put<T: serde::Serialize>(
        &mut self,
        kind: &'static str,
        key: &impl serde::Serialize,
        value: Option<&T>,
    ) {
        let Ok(key) = serde_json::to_string(key) else {
            return;
        };
        let body = value.and_then(|v| serde_json::to_string(v).ok());
        if value.is_some() && body.is_none() {
            return;
        }
        self.rows.push((kind, key, body));
    }
}

/// A write-ahead log past this many bytes (SQLite's own default, 1,000
/// pages) is checkpointed into the database and emptied (so that its size
/// is what the checkpoint owes), by the writer between two commits rather
/// than inside one: no answer waits for a checkpoint's `fsync`.
const CHECKPOINT_AT: u64 = 1000 * 4096;

/// The open database of one mock.
pub(crate) struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// Batches for the writer, numbered in the order their changes were
    /// taken.
    queue: Mutex<Queue>,
    /// The number of the last batch committed.
    written: tokio::sync::watch::Receiver<u64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The number of the last batch queued, and the way to the writer (`None`
/// once the store closes).
type Queue = (u64, Option<Sender<(u64, Batch)>>);

/// A batch handed to the store: [`Saved::wait`] returns once it, and
/// everything queued before it, is committed.
#[must_use = "an answer waits for its changes to be committed before it is sent"]
pub(crate) struct Saved(Option<(u64, tokio::sync::watch::Receiver<u64>)>);

impl Saved {
    /// Nothing to wait for (no store).
    pub(crate) fn nothing() -> Saved {
        Saved(None)
    }

    /// Waits until the batch is committed (at once when the writer has
    /// stopped: a failed write is logged by the writer, as before).
    pub(crate) async fn wait(self) {
        if let Some((seq, mut written)) = self.0 {
            let _ = written.wait_for(|done| *done >= seq).await;
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) `DIR/mock.sqlite` and takes it for this mock
    /// alone; refuses, saying so, while another mock holds it.
    pub(crate) fn open(dir: &Path) -> Result<Store, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(FILE);
        let fail = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = Connection::open(&path).map_err(fail)?;
        // Exclusive: the lock is taken by the first write and held until
        // the connection closes (the mock stops).
        conn.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA busy_timeout = 0;",
        )
        .map_err(fail)?;
        let taken = conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS objects (
                 kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                 UNIQUE (kind, key));
             CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
             COMMIT;",
        );
        if let Err(e) = taken {
            let busy = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            return Err(if busy {
                format!(
                    "another mock is running on {} (its database {} is locked): stop it first, \
                     or give this one another --dir",
                    dir.display(),
                    path.display()
                )
            } else {
                fail(e)
            });
        }
        // Checkpoints are the writer's (CHECKPOINT_AT), not the commits'.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .map_err(fail)?;
        let conn = Arc::new(Mutex::new(conn));
        let (queue, batches) = std::sync::mpsc::channel();
        let (done, written) = tokio::sync::watch::channel(0);
        let (theirs, their_path) = (conn.clone(), path.clone());
        let writer = std::thread::Builder::new()
            .name("mock-store".to_owned())
            .spawn(move || write_in_groups(&theirs, &their_path, &batches, &done))
            .map_err(|e| format!("{}: cannot start its writer: {e}", path.display()))?;
        Ok(Store {
            conn,
            path,
            queue: Mutex::new((0, Some(queue))),
            written,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues `batch` for the writer. Callers queue batches in the order
    /// they took the changes (the server does so under one lock); an empty
    /// batch is not written, but still waits for what was queued before
    /// it, which its answer may show.
    pub(crate) fn queue(&self, batch: Batch) -> Saved {
        let Ok(mut queue) = self.queue.lock() else {
            return Saved::nothing();
        };
        let (last, sender) = &mut *queue;
        if !batch.is_empty() {
            let Some(sender) = sender else {
                return Saved::nothing();
            };
            *last += 1;
            if sender.send((*last, batch)).is_err() {
                tracing::error!("the mock's store has stopped writing");
                return Saved::nothing();
            }
        }
        Saved(Some((*last, self.written.clone())))
    }

    /// The rows of `kind`, oldest first, parsed.
    pub(crate) fn load<T: for<'de> Deserialize<'de>>(&self, kind: &str) -> Result<Vec<T>, String> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| "the store's lock is poisoned")?;
        let fail = |e: rusqlite::Error| format!("reading {}: {e}", self.path.display());
        let mut statement = conn
            .prepare("SELECT body FROM objects WHERE kind = ?1 ORDER BY rowid")
            .map_err(fail)?;
        let bodies = statement
            .query_map(params![kind], |row| row.get::<_, String>(0))
            .map_err(fail)?;
        let mut out = Vec::new();
        for body in bodies {
            let body = body.map_err(fail)?;
            out.push(
                serde_json::from_str(&body)
                    .map_err(|e| self.refusal(&format!("a stored {kind}"), &e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// Why the mock will not start on this database: `what` holds
    /// something this version never writes (`why`).
    pub(crate) fn refusal(&self, what: &str, why: &str) -> String {
        format!(
            "{}: {what} is not what this version keeps ({why}); \
             move the directory aside to start afresh",
            self.path.display()
        )
    }

    /// The `meta` value `name`.
    pub(crate) fn meta(&self, name: &str) -> Result<Option<String>, String> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| "the store's lock is poisoned")?;
        conn.query_row(
            "SELECT value FROM meta WHERE name = ?1",
            params![name],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| format!("reading {}: {e}", self.path.display()))
    }
}

impl Drop for Store {
    /// Lets the writer commit what is queued, then closes the database
    /// (and its lock: a mock restarted on the directory may open it).
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.1 = None;
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }
}

/// The writer: each commit takes every batch queued until then, then
/// lets their answers go ([`Saved::wait`]); ends when the store closes.
fn write_in_groups(
    conn: &Mutex<Connection>,
    path: &Path,
    batches: &Receiver<(u64, Batch)>,
    done: &tokio::sync::watch::Sender<u64>,
) {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    while let Ok((mut last, first)) = batches.recv() {
        let mut group = vec![first];
        while let Ok((seq, batch)) = batches.try_recv() {
            last = seq;
            group.push(batch);
        }
        let Ok(mut conn) = conn.lock() else {
            return;
        };
        if let Err(why) = write(&mut conn, path, &group) {
            tracing::error!("the mock could not save its state: {why}");
        }
        done.send_replace(last);
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() >= CHECKPOINT_AT) {
            if let Err(why) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
                tracing::error!("{}: checkpoint: {why}", path.display());
            }
        }
    }
}

/// Writes `group`'s batches, in order, in one transaction.
fn write(conn: &mut Connection, path: &Path, group: &[Batch]) -> Result<(), String> {
    let fail = |e: rusqlite::Error| format!("writing {}: {e}", path.display());
    let tx = conn.transaction().map_err(fail)?;
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO objects (kind, key, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
            )
            .map_err(fail)?;
        let mut delete = tx
            .prepare_cached("DELETE FROM objects WHERE kind = ?1 AND key = ?2")
            .map_err(fail)?;
        let mut meta = tx
            .prepare_cached(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .map_err(fail)?;
        for batch in group {
            for (kind, key, body) in &batch.rows {
                match body {
                    Some(body) => upsert.execute(params![kind, key, body]),
                    None => delete.execute(params![kind, key]),
                }
                .map_err(fail)?;
            }
            for (name, value) in &batch.meta {
                meta.execute(params![name, value]).map_err(fail)?;
            }
        }
    }
    tx.commit().map_err(fail)
}

/// `&'static str` under a name serde's derive does not read as borrowed
/// (a stored value comes back through a function naming the known ones,
/// [`known_str`]).
pub(crate) type StaticStr = &'static str;

/// Reads a `&'static str` field back: one of `known`, else an error.
pub(crate) fn known_str<'de, D: serde::Deserializer<'de>>(
    value: D,
    known: &[&'static str],
) -> Result<&'static str, D::Error> {
    let text = String::deserialize(value)?;
    known
        .iter()
        .find(|k| **k == text)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown value {text:?}")))
}

/// Reads a stored number back when it lies in `range`, else an error
/// naming `what` it should be: a value the mock never writes (a hand
/// edit) would overflow the flows' arithmetic.
fn ranged<'de, D: serde::Deserializer<'de>>(
    value: D,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
) -> Result<i64, D::Error> {
    let n = i64::deserialize(value)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom(format!(
            "{n} is out of range for {what}: {} to {}",
            range.start(),
            range.end()
        )))
    }
}

/// The latest Unix second the mock's clock shows.
const LATEST_S: i64 = super::clock::LATEST_MS.div_euclid(1000);

/// A stored time, Unix seconds, as the mock's clock can show it.
pub(crate) fn unix<'de, D: serde::Deserializer<'de>>(value: D) -> Result<i64, D::Error> {
    ranged(value, 0..=LATEST_S, "a time in Unix seconds")
}

/// [`unix`], or none.
pub(crate) fn unix_opt<'de, D: serde::Deserializer<'de>>(
    value: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Time(#[serde(deserialize_with = "unix")] i64);
    Ok(Option::<Time>::deserialize(value)?.map(|Time(t)| t))
}

/// A stored time in Unix milliseconds, or none.
pub(crate) fn unix_ms_opt<'de, D: serde::Deserializer<'de>>(
    value: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Time(#[serde(deserialize_with = "unix_ms")] i64);
    fn unix_ms<'de, D: serde::Deserializer<'de>>(value: D) -> Result<i64, D::Error> {
        ranged(value, 0..=super::clock::LATEST_MS, "a time in Unix ms")
    }
    Ok(Option::<Time>::deserialize(value)?.map(|Time(t)| t))
}

/// A stored amount in fen, as a request may ask it (0 to 2147483647).
pub(crate) fn fen<'de, D: serde::Deserializer<'de>>(value: D) -> Result<i64, D::Error> {
    let most = super::body::MAX_FEN;
    ranged(value, 0..=most, "an amount in fen")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    // The connection is held across a sleep on purpose: the writer waits.
    #[allow(clippy::await_holding_lock)]
    async fn rows_come_back_oldest_first_and_a_second_opener_is_refused() {
        let dir = std::env::temp_dir().join(format!("wxpay-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir).unwrap();
            let mut batch = Batch::default();
            batch.put("t", &"b", Some(&1));
            batch.put("t", &"a", Some(&2));
            batch.put("t", &"c", Some(&3));
            batch.meta.push(("clock", "5".into()));
            // queued at once, committed together or in turn: in order
            let first = store.queue(batch);
            let mut batch = Batch::default();
            batch.put("t", &"b", Some(&10));
            batch.put::<i32>("t", &"c", None);
            let second = store.queue(batch);
            second.wait().await;
            assert_eq!(store.load::<i32>("t").unwrap(), [10, 2]);
            // an earlier batch is done once a later one is
            tokio::time::timeout(std::time::Duration::from_secs(1), first.wait())
                .await
                .unwrap();
            // nothing to write: ready at once
            store.queue(Batch::default()).wait().await;
            // an answer waits while its batch is not committed: the writer
            // held back (the connection taken), it waits; released, it is done
            let held = store.conn.lock().unwrap();
            let mut batch = Batch::default();
            batch.put("t", &"e", Some(&5));
            let waiting = tokio::spawn(store.queue(batch).wait());
            let empty = tokio::spawn(store.queue(Batch::default()).wait());
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            assert!(!waiting.is_finished(), "answered before its commit");
            assert!(!empty.is_finished(), "shows what is not committed yet");
            drop(held);
            waiting.await.unwrap();
            empty.await.unwrap();
            let refused = Store::open(&dir).unwrap_err();
            assert!(refused.contains("another mock is running"), "{refused}");
            // closing commits what is still queued
            let mut batch = Batch::default();
            batch.put("t", &"d", Some(&4));
            let _not_awaited = store.queue(batch);
        }
        let again = Store::open(&dir).unwrap();
        assert_eq!(again.load::<i32>("t").unwrap(), [10, 2, 5, 4]);
        assert_eq!(again.meta("clock").unwrap().as_deref(), Some("5"));
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
