//! The duplicate checks of a plan: the first record of every external_id and every email,
//! remembered by hash so a plan of millions of records finds duplicates in little memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;

use crate::sources::Location;

/// Where a record was first seen, kept in 12 bytes: a file number and the line and index
/// of the record.
#[derive(Debug, Clone, Copy)]
struct SeenAt {
    file: u32,
    line: u32,
    index: u32,
}

/// What a record shares with an earlier one: where that one is.
pub(super) enum Duplicate {
    /// Its external_id.
    ExternalId(String),
    /// Its email (compared case-insensitively).
    Email(String),
}

/// The first record of every external_id and every email, by two 64-bit hashes (a false
/// match among a billion records is less likely than a disk error), so duplicates are found
/// without holding the strings: about 60 bytes per record in all.
pub(super) struct Seen {
    hashers: [RandomState; 2],
    /// Hash of an external_id → its record in `records`.
    ids: HashMap<(u64, u64), u32>,
    /// Hash of a lowercased email → its record in `records`.
    emails: HashMap<(u64, u64), u32>,
    records: Vec<SeenAt>,
    files: Vec<PathBuf>,
    scratch: String,
}

impl Seen {
    pub(super) fn new() -> Self {
        Self {
            hashers: [RandomState::default(), RandomState::default()],
            ids: HashMap::new(),
            emails: HashMap::new(),
            records: Vec::new(),
            files: Vec::new(),
            scratch: String::new(),
        }
    }

    /// Remembers a record as the first of its external_id and email, or says which earlier
    /// record already has one of them (the record is then not remembered).
    pub(super) fn first(
        &mut self,
        external_id: &str,
        email: Option<&str>,
        location: &Location,
    ) -> Result<(), Duplicate> {
        let id_hash = self.hash(external_id);
        if let Some(first) = self.ids.get(&id_hash).copied() {
            return Err(Duplicate::ExternalId(self.describe(first)));
        }
        if let Some(email) = email {
            let email_hash = self.hash_folded(email);
            if let Some(first) = self.emails.get(&email_hash).copied() {
                return Err(Duplicate::Email(self.describe(first)));
            }
            let at = self.at(location);
            self.emails.insert(email_hash, at);
            self.ids.insert(id_hash, at);
        } else {
            let at = self.at(location);
            self.ids.insert(id_hash, at);
        }
        Ok(())
    }

    fn hash(&self, s: &str) -> (u64, u64) {
        (self.hashers[0].hash_one(s), self.hashers[1].hash_one(s))
    }

    /// The hash of `s` lowercased (emails compare case-insensitively), through a buffer
    /// reused from record to record.
    fn hash_folded(&mut self, s: &str) -> (u64, u64) {
        let mut folded = std::mem::take(&mut self.scratch);
        folded.clear();
        folded.extend(s.chars().flat_map(char::to_lowercase));
        let hash = self.hash(&folded);
        self.scratch = folded;
        hash
    }

    /// Keeps where a record is; returns its number.
    fn at(&mut self, location: &Location) -> u32 {
        let file = if let Some(i) = self.files.iter().rposition(|f| *f == location.file) {
            i
        } else {
            self.files.push(location.file.clone());
            self.files.len() - 1
        };
        self.records.push(SeenAt {
            file: file as u32,
            line: location
                .line
                .and_then(|l| u32::try_from(l).ok())
                .unwrap_or(0),
            index: u32::try_from(location.index).unwrap_or(u32::MAX),
        });
        (self.records.len() - 1) as u32
    }

    fn describe(&self, record: u32) -> String {
        let at = self.records[record as usize];
        Location {
            file: self.files[at.file as usize].clone(),
            line: (at.line > 0).then_some(u64::from(at.line)),
            index: u64::from(at.index),
        }
        .to_string()
    }
}
