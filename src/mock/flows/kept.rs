//! The store every flow's book is built on: a map that keeps at most its
//! limit of entries and forgets the oldest first, so that a long load test
//! cannot exhaust the mock's memory, listed in the order entries arrived;
//! and the book over it, which also finds an entry by the ids it was given.
//! When the mock keeps its state on disk ([`crate::mock::wire::store`]), it also notes
//! what changed and what was forgotten since the last save.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::ops::Deref;

/// Orders each store keeps (payment orders, direct and partner together;
/// refunds; payscore service orders); past it, the oldest is forgotten, so
/// a long load test cannot exhaust memory (an order takes about 5 KiB with
/// its notification and indexes: about 100 MiB at most; see the guide
/// performance.md).
pub const KEPT_ORDERS: usize = 20_000;

/// How a flow keys its book: `(sub_mchid or "", the merchant's number)`.
pub(crate) type Key = (String, String);

/// The sequence number a flow ended one of its ids with (its last `digits`
/// digits), so that a book read back from the store numbers on from there.
pub(crate) fn trailing_sequence(id: &str, digits: usize) -> u64 {
    id.get(id.len().saturating_sub(digits)..)
        .and_then(|tail| tail.parse().ok())
        .unwrap_or(0)
}

/// At most `limit` entries; the oldest goes first.
pub(crate) struct Kept<K, V> {
    map: HashMap<K, V>,
    /// Keys in the order they arrived.
    arrival: VecDeque<K>,
    limit: usize,
    /// Whether changes are noted (only when a store saves them).
    tracking: bool,
    /// Keys inserted or handed out mutably since the last save, in that
    /// order: new entries get their rows in the order they arrived.
    changed: Vec<K>,
    /// The same keys, so that each is noted once.
    noted: HashSet<K>,
    /// Keys forgotten since the last save.
    gone: Vec<K>,
}

impl<K: Hash + Eq + Clone, V> Kept<K, V> {
    pub(crate) fn new(limit: usize) -> Self {
        Kept {
            map: HashMap::new(),
            arrival: VecDeque::new(),
            limit: limit.max(1),
            tracking: false,
            changed: Vec::new(),
            noted: HashSet::new(),
            gone: Vec::new(),
        }
    }

    /// Notes changes from now on, for [`Kept::take_changes`].
    pub(crate) fn track(&mut self) {
        self.tracking = true;
    }

    /// The keys changed (still held) and forgotten since the last call.
    pub(crate) fn take_changes(&mut self) -> (Vec<K>, Vec<K>) {
        self.noted.clear();
        (
            std::mem::take(&mut self.changed),
            std::mem::take(&mut self.gone),
        )
    }

    /// Notes `key` as changed, when tracking.
    fn note(&mut self, key: &K) {
        if self.tracking && self.noted.insert(key.clone()) {
            self.changed.push(key.clone());
        }
    }

    /// Queues what changed since the last save as rows of `kind`: each
    /// entry as `[key, value]`, each forgotten key as a deletion.
    pub(crate) fn save_changes(
        &mut self,
        kind: &'static str,
        batch: &mut crate::mock::wire::store::Batch,
    ) where
        K: serde::Serialize,
        V: serde::Serialize,
    {
        let (changed, gone) = self.take_changes();
        // Deletions first: a key forgotten and added again since is held.
        for key in gone {
            batch.put::<()>(kind, &key, None);
        }
        for key in changed {
            let entry = self.map.get(&key).map(|value| (&key, value));
            batch.put(kind, &key, entry.as_ref());
        }
    }

    /// Adds (or replaces) `key`; returns what was forgotten to make room,
    /// so that the owner can drop its indexes of them.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Vec<V> {
        self.note(&key);
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = value;
            return Vec::new();
        }
        let forgotten = self.forget_down_to(self.limit - 1);
        self.arrival.push_back(key.clone());
        self.map.insert(key, value);
        forgotten
    }

    /// Forgets the oldest entries until at most `len` are held; returns
    /// them, oldest first (noted as gone when tracking).
    fn forget_down_to(&mut self, len: usize) -> Vec<V> {
        let mut forgotten = Vec::new();
        while self.map.len() > len {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            forgotten.extend(self.map.remove(&oldest));
            if self.tracking {
                if self.noted.remove(&oldest) {
                    self.changed.retain(|key| key != &oldest);
                }
                self.gone.push(oldest);
            }
        }
        forgotten
    }

    /// Adds the entries `store` keeps under `kind`, oldest first.
    pub(crate) fn load(
        &mut self,
        store: &crate::mock::wire::store::Store,
        kind: &str,
    ) -> Result<(), String>
    where
        K: for<'de> serde::Deserialize<'de>,
        V: for<'de> serde::Deserialize<'de>,
    {
        for (key, value) in store.load::<(K, V)>(kind)? {
            self.insert(key, value);
        }
        Ok(())
    }

    /// Keeps at most `limit` entries from now on (the retention setting);
    /// returns what was forgotten to fit, oldest first.
    pub(crate) fn set_limit(&mut self, limit: usize) -> Vec<V> {
        self.limit = limit.max(1);
        self.forget_down_to(self.limit)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.map.contains_key(key) {
            self.note(key);
        }
        self.map.get_mut(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.arrival
            .iter()
            .filter_map(|key| self.map.get(key).map(|value| (key, value)))
    }

    /// Keys, oldest first.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> Vec<K> {
        self.newest_keys(usize::MAX)
    }

    /// The `n` newest keys, oldest first.
    pub(crate) fn newest_keys(&self, n: usize) -> Vec<K> {
        let skip = self.arrival.len().saturating_sub(n);
        self.arrival.iter().skip(skip).cloned().collect()
    }

    /// The `n` newest entries, oldest first.
    pub(crate) fn newest(&self, n: usize) -> impl Iterator<Item = (&K, &V)> {
        let skip = self.arrival.len().saturating_sub(n);
        self.iter().skip(skip)
    }
}

impl<K: Hash + Eq + Clone, V> Default for Kept<K, V> {
    fn default() -> Self {
        Kept::new(KEPT_ORDERS)
    }
}

/// What a [`Book`] finds an entry by besides its key: its id in each of the
/// book's `N` indexes (`None` where it has none yet).
pub(crate) trait Ids<const N: usize> {
    fn ids(&self) -> [Option<&str>; N];
}

/// A flow's book: entries kept as [`Kept`] keeps them (read through
/// `Deref`), found too by the ids of `N` indexes (a `transaction_id`, a
/// `prepay_id` …), which forget the ids of what the store forgets.
pub(crate) struct Book<V, const N: usize> {
    entries: Kept<Key, V>,
    indexes: [HashMap<String, Key>; N],
}

impl<V: Ids<N>, const N: usize> Default for Book<V, N> {
    fn default() -> Self {
        Book::with_limit(KEPT_ORDERS)
    }
}

impl<V: Ids<N>, const N: usize> Book<V, N> {
    pub(crate) fn with_limit(limit: usize) -> Self {
        Book {
            entries: Kept::new(limit),
            indexes: std::array::from_fn(|_| HashMap::new()),
        }
    }

    /// Adds `value` under `key` and its ids; drops the ids of what was
    /// forgotten to make room.
    pub(crate) fn insert(&mut self, key: Key, value: V) {
        for (index, id) in self.indexes.iter_mut().zip(value.ids()) {
            if let Some(id) = id {
                index.insert(id.to_owned(), key.clone());
            }
        }
        for gone in self.entries.insert(key, value) {
            self.forget_ids(&gone);
        }
    }

    /// Keeps at most `limit` entries from now on ([`Kept::set_limit`]),
    /// dropping the ids of what it forgets.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        for gone in self.entries.set_limit(limit) {
            self.forget_ids(&gone);
        }
    }

    fn forget_ids(&mut self, gone: &V) {
        for (index, id) in self.indexes.iter_mut().zip(gone.ids()) {
            if let Some(id) = id {
                index.remove(id);
            }
        }
    }

    /// Files `key` under `id` in index `index` (an id given after the entry
    /// was added, or a fresh one: [`Book::forget_id`] drops the old).
    pub(crate) fn add_id(&mut self, index: usize, id: String, key: Key) {
        self.indexes[index].insert(id, key);
    }

    pub(crate) fn forget_id(&mut self, index: usize, id: &str) {
        self.indexes[index].remove(id);
    }

    /// The key filed under `id` in index `index`.
    pub(crate) fn key_of(&self, index: usize, id: &str) -> Option<&Key> {
        self.indexes[index].get(id)
    }

    /// The entry filed under `id` in index `index`.
    pub(crate) fn by_id(&self, index: usize, id: &str) -> Option<&V> {
        self.entries.get(self.key_of(index, id)?)
    }

    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    /// Notes changes from now on, for [`Book::save_changes`].
    pub(crate) fn track(&mut self) {
        self.entries.track();
    }

    /// Queues what changed since the last save ([`Kept::save_changes`]).
    pub(crate) fn save_changes(
        &mut self,
        kind: &'static str,
        batch: &mut crate::mock::wire::store::Batch,
    ) where
        V: serde::Serialize,
    {
        self.entries.save_changes(kind, batch);
    }

    /// Adds the entries `store` keeps under `kind`, oldest first, with
    /// their ids; hands each to `seen` (to restore a flow's counters).
    pub(crate) fn load(
        &mut self,
        store: &crate::mock::wire::store::Store,
        kind: &str,
        mut seen: impl FnMut(&V),
    ) -> Result<(), String>
    where
        V: for<'de> serde::Deserialize<'de>,
    {
        for (key, value) in store.load::<(Key, V)>(kind)? {
            seen(&value);
            self.insert(key, value);
        }
        Ok(())
    }

    /// How many ids index `index` holds.
    #[cfg(test)]
    pub(crate) fn ids_in(&self, index: usize) -> usize {
        self.indexes[index].len()
    }
}

impl<V, const N: usize> Deref for Book<V, N> {
    type Target = Kept<Key, V>;

    fn deref(&self) -> &Kept<Key, V> {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    #[test]
    fn the_oldest_goes_first_and_replacing_keeps_the_place() {
        let mut kept = Kept::new(2);
        assert!(kept.insert("a", 1).is_empty());
        assert!(kept.insert("b", 2).is_empty());
        assert!(
            kept.insert("a", 10).is_empty(),
            "a replacement forgets nothing"
        );
        assert_eq!(kept.insert("c", 3), [10]);
        assert_eq!(kept.iter().collect::<Vec<_>>(), [(&"b", &2), (&"c", &3)]);
        assert_eq!((kept.len(), kept.arrival.len()), (2, 2));
        assert_eq!(kept.keys(), ["b", "c"]);
        assert_eq!(kept.newest_keys(1), ["c"]);
        assert_eq!(kept.newest(5).count(), 2);
    }

    #[test]
    fn a_lower_limit_forgets_the_oldest_and_notes_them_gone() {
        let mut kept = Kept::new(5);
        kept.track();
        for (key, value) in [("a", 1), ("b", 2), ("c", 3)] {
            kept.insert(key, value);
        }
        let _ = kept.take_changes();
        assert_eq!(kept.set_limit(1), [1, 2]);
        assert_eq!(kept.keys(), ["c"]);
        assert_eq!(kept.take_changes(), (vec![], vec!["a", "b"]));
        assert!(kept.set_limit(0).is_empty(), "a limit below 1 counts as 1");
        assert_eq!(kept.insert("d", 4), [3]);
    }

    #[test]
    fn changes_are_noted_only_when_tracked() {
        let mut kept = Kept::new(2);
        kept.insert("a", 1);
        assert_eq!(kept.take_changes(), (vec![], vec![]));
        kept.track();
        kept.insert("b", 2);
        *kept.get_mut(&"a").unwrap() = 3;
        let (mut changed, gone) = kept.take_changes();
        changed.sort();
        assert_eq!((changed, gone), (vec!["a", "b"], vec![]));
        kept.insert("c", 4);
        assert_eq!(kept.take_changes(), (vec!["c"], vec!["a"]));
    }

    /// Saved, then read back as a restarted mock does: `(key, value)`s in
    /// the order the store gives them (oldest first).
    async fn saved_and_read_back(kept: &mut Kept<String, u32>, name: &str) -> Vec<(String, u32)> {
        use crate::mock::wire::store::{Batch, Store};
        let dir = std::env::temp_dir().join(format!("wxpay-kept-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let mut batch = Batch::default();
        kept.save_changes("t", &mut batch);
        store.queue(batch).wait().await;
        let rows = store.load::<(String, u32)>("t").unwrap();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        rows
    }

    /// Entries added between two saves (a combine order's sub-orders, the
    /// answers a tick saves together) come back in the order they arrived:
    /// after a restart the oldest still goes first.
    #[tokio::test]
    async fn entries_saved_together_come_back_in_their_order() {
        let mut kept = Kept::new(100);
        kept.track();
        let keys: Vec<String> = (0..40).map(|i| format!("order-{i}")).collect();
        for (i, key) in keys.iter().enumerate() {
            kept.insert(key.clone(), i as u32);
        }
        let read: Vec<String> = saved_and_read_back(&mut kept, "order")
            .await
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(read, keys);
    }

    /// A key forgotten and added again before the save (a full store, an
    /// `out_trade_no` placed again) stays on disk: it is held.
    #[tokio::test]
    async fn a_key_forgotten_and_added_again_before_the_save_stays_on_disk() {
        let mut kept = Kept::new(1);
        kept.track();
        kept.insert("A".to_owned(), 1);
        kept.insert("B".to_owned(), 2);
        kept.insert("A".to_owned(), 3);
        assert_eq!(
            saved_and_read_back(&mut kept, "again").await,
            [("A".to_owned(), 3)]
        );
    }
}
