//! The store every flow's book is built on: a map that keeps at most its
//! limit of entries and forgets the oldest first, so that a long load test
//! cannot exhaust the mock's memory, listed in the order entries arrived.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// At most `limit` entries; the oldest goes first.
pub(crate) struct Kept<K, V> {
    map: HashMap<K, V>,
    /// Keys in the order they arrived.
    arrival: VecDeque<K>,
    limit: usize,
}

impl<K: Hash + Eq + Clone, V> Kept<K, V> {
    pub(crate) fn new(limit: usize) -> Self {
        Kept {
            map: HashMap::new(),
            arrival: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Adds (or replaces) `key`; returns what was forgotten to make room,
    /// so that the owner can drop its indexes of them.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Vec<V> {
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = value;
            return Vec::new();
        }
        let mut forgotten = Vec::new();
        while self.map.len() >= self.limit {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            forgotten.extend(self.map.remove(&oldest));
        }
        self.arrival.push_back(key.clone());
        self.map.insert(key, value);
        forgotten
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
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
}
