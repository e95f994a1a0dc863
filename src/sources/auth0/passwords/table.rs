//! The in-memory half of the index: a table from a 64-bit fingerprint of each `user_id` to
//! the offset of its record in the spool, 16 bytes a row.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A 64-bit fingerprint of a `user_id`. Only ever a hint: every match is confirmed on the full
/// id read back from the spool.
#[derive(Clone)]
pub(super) enum Fingerprint {
    /// SipHash with a random key per run, so ids cannot be chosen to collide.
    Keyed(RandomState),
    /// A chosen function, for tests that force collisions.
    #[cfg(test)]
    Fixed(fn(&str) -> u64),
}

impl Fingerprint {
    pub(super) fn keyed() -> Self {
        Self::Keyed(RandomState::new())
    }

    fn of(&self, user_id: &str) -> u64 {
        match self {
            Self::Keyed(state) => state.hash_one(user_id),
            #[cfg(test)]
            Self::Fixed(f) => f(user_id),
        }
    }
}

/// Fingerprint → spool offset. Most fingerprints belong to one record; the few shared by
/// several records (the same id once valid and once invalid, or two ids that collide) are
/// marked and listed apart, which keeps the common entry at 16 bytes.
pub(super) struct Table {
    fingerprint: Fingerprint,
    pub(super) first: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    pub(super) shared: HashMap<u64, Vec<u64>, BuildHasherDefault<Prehashed>>,
}

/// Marks a `first` entry whose records are listed in `shared`; spool offsets stay far below.
pub(super) const SHARED: u64 = 1 << 63;

impl Table {
    pub(super) fn new(fingerprint: Fingerprint) -> Self {
        Self {
            fingerprint,
            first: HashMap::default(),
            shared: HashMap::default(),
        }
    }

    /// The fingerprint of `user_id`, the key for [`Table::add`] and [`Table::candidates`].
    pub(super) fn key(&self, user_id: &str) -> u64 {
        self.fingerprint.of(user_id)
    }

    pub(super) fn add(&mut self, key: u64, offset: u64) {
        match self.first.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(offset);
            }
            Entry::Occupied(mut slot) if *slot.get() & SHARED == 0 => {
                let earlier = std::mem::replace(slot.get_mut(), SHARED);
                self.shared.insert(key, vec![earlier, offset]);
            }
            Entry::Occupied(_) => self.shared.entry(key).or_default().push(offset),
        }
    }

    /// The spool offsets of every record whose id has the fingerprint `key`, in the order
    /// they were added.
    pub(super) fn candidates(&self, key: u64) -> Candidates<'_> {
        match self.first.get(&key) {
            None => Candidates::One(None),
            Some(&offset) if offset & SHARED == 0 => Candidates::One(Some(offset)),
            Some(_) => {
                Candidates::Many(self.shared.get(&key).map_or(&[][..], Vec::as_slice).iter())
            }
        }
    }
}

/// The spool offsets [`Table::candidates`] found.
pub(super) enum Candidates<'a> {
    One(Option<u64>),
    Many(std::slice::Iter<'a, u64>),
}

impl Iterator for Candidates<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        match self {
            Self::One(offset) => offset.take(),
            Self::Many(offsets) => offsets.next().copied(),
        }
    }
}

/// A hasher for keys that already are uniformly distributed hashes: it passes them through.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with this; fold anything else in for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
