//! The live identities of the target organization, held compactly while a plan is built.
//!
//! A tenant of a million identities is read page by page; each identity is written, as
//! compact JSON, to an unnamed temporary file, and only its position is kept in memory: a map
//! from a 64-bit hash of its `external_id` to its slot (16 bytes per identity, whatever its
//! size). A lookup reads the record back and checks its `external_id`, so a hash collision
//! costs a second lookup, never a wrong answer. Besides the lookup, the index counts what a
//! plan reports without holding it (identities without an `external_id`, unowned ones,
//! owned ones per source) and marks which identities the sources declared, so deletes
//! (prune, destroy) come from one pass over the undeclared slots after the sources.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::diff;
use crate::model::ExternalId;
use crate::wire;

/// Where one identity's record sits in the spill file.
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    len: u32,
}

/// The live identities of the target organization, by `external_id`.
pub struct LiveIdentities {
    /// The spill file, created with the first identity.
    file: Option<std::fs::File>,
    /// Records not yet written to the file.
    pending: Vec<u8>,
    /// Bytes already in the file.
    flushed: u64,
    hasher: std::hash::RandomState,
    /// Hash of `external_id` → slot number, for the first identity with that hash.
    by_hash: HashMap<u64, u32>,
    /// `external_id` → slot number for identities whose hash was already taken.
    collisions: HashMap<ExternalId, u32>,
    /// Hash of a lowercased email → slot number, for identities not scheduled for deletion
    /// (those whose email Avnology keeps unique), with or without an `external_id`: how a
    /// plan finds the live identity a record's email would collide with.
    by_email: HashMap<u64, u32>,
    /// Lowercased email → slot number for emails whose hash was already taken.
    email_collisions: HashMap<String, u32>,
    slots: Vec<Slot>,
    /// One bit per slot: declared by a source in this plan.
    declared: Vec<u64>,
    /// Live identities without an `external_id` (never this tool's).
    pub without_external_id: u64,
    /// Live identities with an `external_id` but without the owner marker.
    pub unowned: u64,
    /// Owned identities per owner-marker source name (the empty name for a marker without
    /// one).
    pub owned_by_source: HashMap<String, u64>,
    /// Identities scheduled for deletion (soft-deleted): held so a plan restores its own
    /// instead of creating them again, never counted or deleted again.
    pub scheduled_deletion: u64,
}

impl std::fmt::Debug for LiveIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveIdentities")
            .field("len", &self.slots.len())
            .field("without_external_id", &self.without_external_id)
            .finish_non_exhaustive()
    }
}

impl Default for LiveIdentities {
    fn default() -> Self {
        Self {
            file: None,
            pending: Vec::new(),
            flushed: 0,
            hasher: std::hash::RandomState::new(),
            by_hash: HashMap::new(),
            collisions: HashMap::new(),
            by_email: HashMap::new(),
            email_collisions: HashMap::new(),
            slots: Vec::new(),
            declared: Vec::new(),
            without_external_id: 0,
            unowned: 0,
            owned_by_source: HashMap::new(),
            scheduled_deletion: 0,
        }
    }
}

/// The owner-marker source of a live identity, if it carries the marker.
pub fn owner_source(live: &wire::Identity) -> Option<&str> {
    super::ownership::marker_source(&live.admin_metadata)
}

impl LiveIdentities {
    /// An empty index (an organization that does not exist yet, or `validate`).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many identities it holds (those without an `external_id` are held for the email
    /// lookup only).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds one live identity. An identity whose `external_id` is already held keeps the
    /// first: the API keeps `external_id` unique among identities that are not scheduled
    /// for deletion, and those are listed before the soft-deleted ones, so a live identity
    /// wins over a soft-deleted one of the same key.
    pub fn insert(&mut self, identity: &wire::Identity) -> std::io::Result<()> {
        let soft_deleted = identity.state == wire::IdentityState::ScheduledDeletion;
        let Some(key) = identity.external_id.as_deref().filter(|k| !k.is_empty()) else {
            if !soft_deleted {
                self.without_external_id += 1;
                let slot = self.append(identity)?;
                // Never a delete candidate: only found by its email.
                self.declared[slot as usize / 64] |= 1 << (slot % 64);
                self.index_email(identity, slot)?;
            }
            return Ok(());
        };
        let hash = self.hasher.hash_one(key);
        let collides = self.by_hash.contains_key(&hash);
        if collides && self.slot_of(key)?.is_some() {
            return Ok(());
        }
        match owner_source(identity) {
            _ if identity.state == wire::IdentityState::ScheduledDeletion => {
                self.scheduled_deletion += 1;
            }
            Some(source) => *self.owned_by_source.entry(source.to_string()).or_default() += 1,
            None if diff::is_owned(identity) => {
                *self.owned_by_source.entry(String::new()).or_default() += 1;
            }
            None => self.unowned += 1,
        }
        let slot = self.append(identity)?;
        if collides {
            self.collisions.insert(ExternalId::from(key), slot);
        } else {
            self.by_hash.insert(hash, slot);
        }
        if !soft_deleted {
            self.index_email(identity, slot)?;
        }
        Ok(())
    }

    /// Writes `identity` to the spill file; returns its slot.
    fn append(&mut self, identity: &wire::Identity) -> std::io::Result<u32> {
        let offset = self.flushed + self.pending.len() as u64;
        serde_json::to_writer(&mut self.pending, identity)?;
        let len = self.flushed + self.pending.len() as u64 - offset;
        let slot = u32::try_from(self.slots.len())
            .map_err(|_| std::io::Error::other("more than 4 billion live identities"))?;
        self.slots.push(Slot {
            offset,
            len: u32::try_from(len)
                .map_err(|_| std::io::Error::other("a live identity larger than 4 GiB"))?,
        });
        if slot as usize / 64 >= self.declared.len() {
            self.declared.push(0);
        }
        if self.pending.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(slot)
    }

    /// Files `slot` under its identity's lowercased email; the first identity with an
    /// email keeps it (Avnology keeps emails unique).
    fn index_email(&mut self, identity: &wire::Identity, slot: u32) -> std::io::Result<()> {
        let email = identity.email.to_lowercase();
        let hash = self.hasher.hash_one(&email);
        match self.by_email.get(&hash).copied() {
            None => {
                self.by_email.insert(hash, slot);
            }
            Some(first) => {
                if self.read(first)?.email.to_lowercase() != email {
                    self.email_collisions.entry(email).or_insert(slot);
                }
            }
        }
        Ok(())
    }

    /// The live identity (not scheduled for deletion) whose email is `email`, compared
    /// case-insensitively, with its slot.
    pub fn find_by_email(&mut self, email: &str) -> std::io::Result<Option<(u32, wire::Identity)>> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        let email = email.to_lowercase();
        if let Some(&slot) = self.by_email.get(&self.hasher.hash_one(&email)) {
            let identity = self.read(slot)?;
            if identity.email.to_lowercase() == email {
                return Ok(Some((slot, identity)));
            }
        }
        match self.email_collisions.get(&email) {
            Some(&slot) => Ok(Some((slot, self.read(slot)?))),
            None => Ok(None),
        }
    }

    /// Marks `slot` as declared by a source (an adopted identity).
    pub fn claim_slot(&mut self, slot: u32) {
        self.declared[slot as usize / 64] |= 1 << (slot % 64);
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        write_at(file, self.flushed, &self.pending)?;
        self.flushed += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    fn read(&mut self, slot: u32) -> std::io::Result<wire::Identity> {
        let Slot { offset, len } = self.slots[slot as usize];
        if offset + u64::from(len) > self.flushed {
            self.flush()?;
        }
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("live index has no file"))?;
        let mut buf = vec![0; len as usize];
        read_at(file, offset, &mut buf)?;
        Ok(serde_json::from_slice(&buf)?)
    }

    fn slot_of(&mut self, key: &str) -> std::io::Result<Option<(u32, wire::Identity)>> {
        let hash = self.hasher.hash_one(key);
        if let Some(&slot) = self.by_hash.get(&hash) {
            let identity = self.read(slot)?;
            if identity.external_id.as_deref() == Some(key) {
                return Ok(Some((slot, identity)));
            }
        }
        match self.collisions.get(key) {
            Some(&slot) => Ok(Some((slot, self.read(slot)?))),
            None => Ok(None),
        }
    }

    /// The live identity with `external_id`.
    pub fn get(&mut self, external_id: &str) -> std::io::Result<Option<wire::Identity>> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        Ok(self.slot_of(external_id)?.map(|(_, i)| i))
    }

    /// The live identity with `external_id`, marked as declared by a source (so it is not a
    /// delete candidate).
    pub fn claim(&mut self, external_id: &str) -> std::io::Result<Option<wire::Identity>> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        let found = self.slot_of(external_id)?;
        Ok(found.map(|(slot, identity)| {
            self.declared[slot as usize / 64] |= 1 << (slot % 64);
            identity
        }))
    }

    /// Calls `f` with every identity no source declared, in the order they were listed.
    pub fn for_each_undeclared(
        &mut self,
        mut f: impl FnMut(wire::Identity),
    ) -> std::io::Result<()> {
        for slot in 0..self.slots.len() as u32 {
            if self.declared[slot as usize / 64] & (1 << (slot % 64)) == 0 {
                f(self.read(slot)?);
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn write_at(file: &std::fs::File, offset: u64, buf: &[u8]) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, mut offset: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn write_at(file: &std::fs::File, mut offset: u64, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(id: &str, external_id: Option<&str>, owner: Option<&str>) -> wire::Identity {
        let mut v = json!({
            "id": id,
            "email": format!("{id}@example.com"),
            "state": "active",
            "etag": "W/\"1\"",
        });
        if let Some(e) = external_id {
            v["external_id"] = json!(e);
        }
        if let Some(o) = owner {
            v["admin_metadata"] = json!({ crate::model::OWNER_KEY: { "source": o } });
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn finds_claims_and_counts_without_holding_records() {
        let mut index = LiveIdentities::new();
        for i in 0..1000 {
            let owner = (i % 2 == 0).then_some("a");
            index
                .insert(&identity(
                    &format!("usr_{i}"),
                    Some(&format!("ext|{i}")),
                    owner,
                ))
                .unwrap();
        }
        index.insert(&identity("usr_x", None, None)).unwrap();
        // A repeated external_id keeps the first.
        index
            .insert(&identity("usr_dup", Some("ext|5"), Some("a")))
            .unwrap();
        // usr_x is held for the email lookup only.
        assert_eq!(index.len(), 1001);
        assert_eq!(index.without_external_id, 1);
        assert_eq!(index.unowned, 500);
        assert_eq!(index.owned_by_source["a"], 500);
        assert_eq!(index.get("ext|5").unwrap().unwrap().id, "usr_5");
        assert!(index.get("ext|1000").unwrap().is_none());
        // Inserting after lookups still works.
        index
            .insert(&identity("usr_late", Some("ext|late"), None))
            .unwrap();
        assert_eq!(index.get("ext|late").unwrap().unwrap().id, "usr_late");
        for i in 0..1000 {
            if i != 7 {
                assert!(index.claim(&format!("ext|{i}")).unwrap().is_some());
            }
        }
        let mut undeclared = Vec::new();
        index
            .for_each_undeclared(|i| undeclared.push(i.id))
            .unwrap();
        assert_eq!(undeclared, ["usr_7", "usr_late"]);
    }

    #[test]
    fn finds_an_identity_by_email_whatever_its_case_or_key() {
        let mut index = LiveIdentities::new();
        index
            .insert(&identity("usr_1", Some("one"), Some("a")))
            .unwrap();
        // A sign-up made in Avnology: no external_id, no marker.
        let mut signup = identity("usr_2", None, None);
        signup.email = "Dual.Write@Example.com".into();
        index.insert(&signup).unwrap();
        // Scheduled for deletion: out of the uniqueness scope, never found by email.
        let mut gone = identity("usr_3", Some("three"), Some("a"));
        gone.state = wire::IdentityState::ScheduledDeletion;
        index.insert(&gone).unwrap();

        let (slot, found) = index
            .find_by_email("dual.write@example.COM")
            .unwrap()
            .unwrap();
        assert_eq!(found.id, "usr_2");
        assert_eq!(
            index
                .find_by_email("USR_1@example.com")
                .unwrap()
                .unwrap()
                .1
                .id,
            "usr_1"
        );
        assert!(index.find_by_email("usr_3@example.com").unwrap().is_none());
        assert!(index.find_by_email("nobody@example.com").unwrap().is_none());
        // Never a delete candidate, claimed or not.
        index.claim_slot(slot);
        let mut undeclared = Vec::new();
        index
            .for_each_undeclared(|i| undeclared.push(i.id))
            .unwrap();
        assert_eq!(undeclared, ["usr_1", "usr_3"]);
    }

    #[test]
    fn a_hash_collision_is_resolved_by_the_external_id() {
        let mut index = LiveIdentities::new();
        index.insert(&identity("usr_1", Some("one"), None)).unwrap();
        // Force a collision: file "two" under the hash of "one".
        let hash = index.hasher.hash_one("two");
        let slot_one = index.by_hash.remove(&index.hasher.hash_one("one")).unwrap();
        index.by_hash.insert(hash, slot_one);
        index.insert(&identity("usr_2", Some("two"), None)).unwrap();
        assert_eq!(index.get("two").unwrap().unwrap().id, "usr_2");
        assert_eq!(index.collisions.len(), 1);
    }
}
