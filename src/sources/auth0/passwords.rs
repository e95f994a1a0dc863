//! The Auth0 password-hash export (delivered through a support ticket): one MongoDB
//! extended-JSON document per line, `{"_id":{"$oid":…},"passwordHash":"$2b$10$…","alt_id":…}`,
//! or the same documents as a JSON array, plain or gzip.
//!
//! This module owns the join rule and the index that serves it. A row belongs to `auth0|` +
//! `alt_id` when the row has one (users created with a custom id or through a custom
//! database), else `auth0|` + `_id.$oid`.
//!
//! # The index does not hold the hashes
//!
//! A tenant can have millions of password users, and the users file is streamed, so every row
//! must stay findable until the last user is read. Holding every hash (and its id) in memory
//! made memory grow by some 150 bytes per password user. Instead the [`IndexBuilder`] takes
//! the rows in file order and writes each one it accepts, compactly, to a *spool*: an
//! anonymous temporary file (`tempfile::tempfile`, in `TMPDIR`, unlinked from the start, so
//! it is gone when closed, even after a crash) holding the row's id, its hash, and where it is
//! in the export. In memory stays only a table from a 64-bit fingerprint of the id to the
//! record's offset in the spool (16 bytes a row, about 35 MiB at a million rows with the hash
//! table's slack), plus one bit a row for "a user claimed it".
//!
//! A lookup ([`PasswordIndex::claim`]) reads the candidate records back with positioned reads
//! and compares the full id, so ids that share a fingerprint are told apart exactly (their
//! offsets share a list in the table); the fingerprint is keyed with a per-run random key, so
//! such collisions stay rare even for hostile ids. A second row for a known fingerprint is
//! read back the same way while building, which is how a repeated or conflicting row is found
//! and reported at its own line, as it is met.
//!
//! Why a spool rather than offsets into the export itself: one format serves NDJSON, JSON
//! arrays and gzip alike (a gzip stream has no offsets to seek to), a lookup reads about 100
//! bytes and parses no JSON, and the spool is about a third of the export's size (about 120
//! bytes a row for Auth0's ids). Records are appended in export order, and a users file
//! usually lists users in the same order, so lookups go mostly forward through the spool:
//! each thread keeps a small read window ([`SpoolCache`]), reads the file once per few dozen
//! lookups, and first compares the record after its previous match, which spares the table
//! probe (a random memory access) for in-order users. The spool lives where `TMPDIR` points;
//! on a system whose `/tmp` is a RAM disk, point `TMPDIR` at a disk for very large exports.
//!
//! Every message about a row names the file and line and never the hash; the index and its
//! records have no `Debug` that could print one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::export::{Field, Slots};
use super::fast;
use crate::model::Secret;
use crate::sources::json_records::{
    ArrayRecords, JsonRecord, ReadFailure, no_id_key, parse_record_line,
};
#[cfg(test)]
use crate::sources::json_records::{OpenJson, open_json_records};
use crate::sources::{Location, SourceError};

/// The password-export fields this tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum RowField {
    /// `_id` (also spelled `_ID`): `{"$oid": …}`, or the bare id in pre-converted files.
    Id,
    AltId,
    PasswordHash,
}

impl RowField {
    pub(super) fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "id" => Self::Id,
            "altid" => Self::AltId,
            "passwordhash" => Self::PasswordHash,
            _ => return None,
        })
    }
}

/// What the join needs of a row, read by the general path ([`parse_row`]) or the fast one
/// (`fast::row`).
pub(super) struct RowFields<'a> {
    /// The non-empty `_id.$oid` (or bare `_id`), if the row has one.
    pub oid: Option<Cow<'a, str>>,
    pub alt_id: Field<Cow<'a, str>>,
    pub hash: Field<Cow<'a, str>>,
}

/// A row's `user_id` and bcrypt bytes, or its `user_id` (when known) and what is wrong.
pub(super) type RowResult = Result<(String, [u8; BCRYPT_LEN]), (Option<String>, String)>;

/// The length of every bcrypt string.
const BCRYPT_LEN: usize = 60;

/// What a user's lookup found.
pub(super) enum Claim {
    /// No row for this user.
    None,
    /// The user's bcrypt hash.
    Hash(Secret),
    /// The user's row was invalid; the location says where, for the password-hash report.
    Rejected(Location),
}

/// The password-hash export, indexed by the `user_id` each row belongs to (see the module
/// docs). Shared by the threads that read users: lookups take `&self`.
pub(super) struct PasswordIndex {
    /// The export, for the locations of rejected rows.
    path: PathBuf,
    spool: File,
    table: Table,
    /// One bit per loaded row (by its ordinal), set once a user record with its id was read
    /// (whether or not that record became an identity).
    claimed: Vec<AtomicU64>,
    /// Rows loaded.
    pub(super) loaded: u64,
    /// Rows reported invalid.
    pub(super) invalid: u64,
}

impl PasswordIndex {
    /// Looks up the row of `user_id` and marks it as matched to a user record. `cache` is the
    /// calling thread's read window on the spool.
    ///
    /// # Errors
    ///
    /// When the spool cannot be read back.
    pub(super) fn claim(&self, user_id: &str, cache: &mut SpoolCache) -> io::Result<Claim> {
        // Users usually come in the order of the password export, so the row after the last
        // one found is the likely next match: compare it first when the read window already
        // holds it. Only a valid row can be taken this way (an invalid one defers to a valid
        // row elsewhere), and a valid row is the only one with its id, so this is exact.
        if let Some(record) = cache.cached(cache.next)
            && record.kind == Kind::Valid
            && record.id == user_id.as_bytes()
        {
            let (hash, next) = self.take(&record, cache.next);
            cache.next = next;
            return Ok(hash);
        }

        let mut rejected = None;
        for offset in self.table.candidates(self.table.key(user_id)) {
            let record = cache.record(&self.spool, offset)?;
            if record.id != user_id.as_bytes() {
                continue; // another id with the same fingerprint
            }
            match record.kind {
                Kind::Valid => {
                    let (hash, next) = self.take(&record, offset);
                    cache.next = next;
                    return Ok(hash);
                }
                // A valid row for the same id wins over an invalid one, wherever it is.
                Kind::Rejected => {
                    rejected.get_or_insert_with(|| Location {
                        file: self.path.clone(),
                        line: record.line,
                        index: record.index,
                    });
                }
            }
        }
        Ok(rejected.map_or(Claim::None, Claim::Rejected))
    }

    /// Marks the valid `record` at `offset` claimed; its hash, and the offset after it.
    fn take(&self, record: &SpoolRecord<'_>, offset: u64) -> (Claim, u64) {
        let (word, bit) = (record.ordinal / 64, record.ordinal % 64);
        if let Some(word) = self.claimed.get(word as usize) {
            word.fetch_or(1 << bit, Ordering::Relaxed);
        }
        // The bytes passed `bcrypt_bytes`, so they are ASCII and the conversion is exact.
        let hash = match std::str::from_utf8(record.hash) {
            Ok(hash) => hash.to_owned(),
            Err(_) => String::from_utf8_lossy(record.hash).into_owned(),
        };
        (Claim::Hash(Secret::new(hash)), offset + record.len as u64)
    }

    /// Rows no user record claimed.
    pub(super) fn unclaimed(&self) -> u64 {
        let claimed: u64 = self
            .claimed
            .iter()
            .map(|word| u64::from(word.load(Ordering::Relaxed).count_ones()))
            .sum();
        self.loaded - claimed
    }
}

/// Loads `path` on the calling thread, reporting each invalid row to `invalid`. An `Err`
/// means the file could not be read at all (or the spool could not be written).
///
/// `read_users` does the same work spread over threads (workers parse the lines with
/// [`parse_line`], the calling thread feeds an [`IndexBuilder`]); this is the reference for
/// it and what the tests exercise directly.
#[cfg(test)]
pub(super) fn load(
    path: &Path,
    invalid: &mut dyn FnMut(SourceError),
) -> Result<PasswordIndex, SourceError> {
    load_with(path, Fingerprint::keyed(), invalid)
}

#[cfg(test)]
fn load_with(
    path: &Path,
    fingerprint: Fingerprint,
    invalid: &mut dyn FnMut(SourceError),
) -> Result<PasswordIndex, SourceError> {
    let opened = open_json_records(path).map_err(prefixed)?;
    let mut builder = IndexBuilder::with_fingerprint(path, fingerprint)?;
    match opened {
        OpenJson::Empty => {}
        OpenJson::Ndjson(mut blocks) => {
            let mut index = 0u64;
            while let Some(block) = blocks.next_block(crate::sources::json_records::BLOCK_BYTES) {
                let block = block.map_err(|failure| read_failure(path, &failure, index))?;
                for line in block.lines() {
                    let row = parse_line(line.text, line.column_shift);
                    builder.add(Some(line.line), index, row, invalid)?;
                    index += 1;
                }
            }
        }
        OpenJson::Array(array) => builder.add_array(array, invalid)?,
    }
    builder.finish()
}

/// Puts this module's prefix on a message about the password export.
pub(super) fn prefixed(mut err: SourceError) -> SourceError {
    err.message = format!("password-hash export: {}", err.message);
    err
}

/// The export at `path` cannot be read past `failure.line`; `index` records were read.
pub(super) fn read_failure(path: &Path, failure: &ReadFailure, index: u64) -> SourceError {
    let location = Location {
        file: path.to_path_buf(),
        line: Some(failure.line),
        index,
    };
    let message = format!("cannot read export: {}", failure.error);
    prefixed(SourceError::new(location, None, message))
}

/// The spool (the temporary file behind the index) could not be written or read back.
pub(super) fn spool_error(location: Location, err: &io::Error) -> SourceError {
    SourceError::new(
        location,
        None,
        format!("password-hash export: cannot use the temporary password index: {err}"),
    )
}

/// Reads one NDJSON line of the export (see [`trim_line`](crate::sources::json_records::trim_line)):
/// the typed fast path, or the general path for anything unusual.
pub(super) fn parse_line(text: &[u8], column_shift: u64) -> RowResult {
    if let Some(fields) = fast::row(text) {
        return resolve(fields);
    }
    match parse_record_line(text, column_shift, no_id_key).0 {
        Ok(entries) => parse_row(entries),
        Err(message) => Err((None, message)),
    }
}

/// Reads one row from its entries (the general path).
fn parse_row(entries: Vec<(String, Value)>) -> RowResult {
    let mut s = Slots::new(entries, RowField::of);
    let id: Field<Value> = s.take(RowField::Id);
    let alt_id: Field<String> = s.take(RowField::AltId);
    let hash: Field<String> = s.take(RowField::PasswordHash);
    if let Some(conflict) = s.conflicts.first() {
        return Err((None, conflict.clone()));
    }
    let oid = match id {
        Field::Present(value) => object_id(value),
        _ => None,
    };
    resolve(RowFields {
        oid: oid.map(Cow::Owned),
        alt_id: alt_id.map(Cow::Owned),
        hash: hash.map(Cow::Owned),
    })
}

#[cfg(test)]
pub(super) fn parse_row_for_tests(entries: Vec<(String, Value)>) -> RowResult {
    parse_row(entries)
}

#[cfg(test)]
pub(super) fn resolve_for_tests(row: RowFields<'_>) -> RowResult {
    resolve(row)
}

/// The join rule and the hash check, whichever path read the row.
fn resolve(row: RowFields<'_>) -> RowResult {
    let user_id = match (row.alt_id, row.oid) {
        (Field::Present(alt), _) if !alt.is_empty() => format!("auth0|{alt}"),
        (wrong @ Field::Wrong { .. }, _) => {
            return Err((None, wrong.wrong_type().unwrap_or_default()));
        }
        (_, Some(oid)) => format!("auth0|{oid}"),
        (_, None) => {
            return Err((
                None,
                "row has neither `_id.$oid` nor `alt_id`, so it cannot be matched to a user"
                    .to_owned(),
            ));
        }
    };

    match row.hash {
        Field::Present(hash) => match bcrypt_bytes(&hash) {
            Some(bytes) => Ok((user_id, bytes)),
            None => Err((
                Some(user_id),
                "`passwordHash` is not a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, a two-digit \
                 cost, then 53 characters)"
                    .to_owned(),
            )),
        },
        wrong @ Field::Wrong { .. } => Err((Some(user_id), wrong.wrong_type().unwrap_or_default())),
        Field::Absent => Err((Some(user_id), "row has no `passwordHash`".to_owned())),
    }
}

/// Builds the index from the export's rows, fed in file order, so that a second row for one
/// user is reported where it is, as it is met.
pub(super) struct IndexBuilder {
    path: PathBuf,
    spool: BufWriter<File>,
    /// Bytes appended to the spool so far: the offset of the next record.
    written: u64,
    table: Table,
    /// For reading earlier records back (a second row for a known fingerprint).
    cache: SpoolCache,
    scratch: Vec<u8>,
    loaded: u64,
    invalid: u64,
}

/// What adding a valid row did.
enum Added {
    /// The first row for its user.
    New,
    /// A repeat of the user's first row, hash and all: harmless, ignored.
    Repeat,
    /// A second row for the user with another hash; the first one stays.
    Conflict { first_line: Option<u64> },
}

impl IndexBuilder {
    /// An empty index for the export at `path`, with its spool.
    ///
    /// # Errors
    ///
    /// When the temporary file cannot be created.
    pub(super) fn new(path: &Path) -> Result<Self, SourceError> {
        Self::with_fingerprint(path, Fingerprint::keyed())
    }

    fn with_fingerprint(path: &Path, fingerprint: Fingerprint) -> Result<Self, SourceError> {
        let spool = tempfile::tempfile().map_err(|e| {
            let location = Location {
                file: path.to_path_buf(),
                line: None,
                index: 0,
            };
            spool_error(location, &e)
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            spool: BufWriter::with_capacity(256 * 1024, spool),
            written: 0,
            table: Table::new(fingerprint),
            cache: SpoolCache::default(),
            scratch: Vec::new(),
            loaded: 0,
            invalid: 0,
        })
    }

    /// Adds one row (already read), found on `line` as record `index` of the export,
    /// reporting it to `invalid` when it is invalid or a second, different hash for its user.
    ///
    /// # Errors
    ///
    /// When the spool cannot be written or read back.
    pub(super) fn add(
        &mut self,
        line: Option<u64>,
        index: u64,
        row: RowResult,
        invalid: &mut dyn FnMut(SourceError),
    ) -> Result<(), SourceError> {
        self.add_row(line, index, row, invalid)
            .map_err(|e| spool_error(self.location(line, index), &e))
    }

    /// Where record `index` of the export is; built only for messages.
    fn location(&self, line: Option<u64>, index: u64) -> Location {
        Location {
            file: self.path.clone(),
            line,
            index,
        }
    }

    /// Adds every row of an export that is a JSON array, streamed on the calling thread.
    ///
    /// # Errors
    ///
    /// When the array cannot be read on (see [`ArrayRecords::read`]) or the spool cannot be
    /// written.
    pub(super) fn add_array(
        &mut self,
        array: ArrayRecords,
        invalid: &mut dyn FnMut(SourceError),
    ) -> Result<(), SourceError> {
        let mut failed = None;
        array
            .read(no_id_key, &mut |record: JsonRecord| {
                if failed.is_some() {
                    return;
                }
                let row = match record.entries {
                    Ok(entries) => parse_row(entries),
                    Err(message) => Err((None, message)),
                };
                let at = record.location;
                if let Err(err) = self.add(at.line, at.index, row, invalid) {
                    failed = Some(err);
                }
            })
            .map_err(prefixed)?;
        failed.map_or(Ok(()), Err)
    }

    fn add_row(
        &mut self,
        line: Option<u64>,
        index: u64,
        row: RowResult,
        invalid: &mut dyn FnMut(SourceError),
    ) -> io::Result<()> {
        match row {
            Ok((user_id, hash)) => match self.add_valid(&user_id, &hash, line, index)? {
                Added::New | Added::Repeat => {}
                Added::Conflict { first_line } => {
                    // Two different hashes for one user cannot both be right.
                    let first =
                        first_line.map_or_else(String::new, |l| format!(" (first at line {l})"));
                    self.invalid += 1;
                    invalid(SourceError::new(
                        self.location(line, index),
                        Some(user_id),
                        format!(
                            "password-hash export: a second, different hash for this \
                             user{first}; the first is used"
                        ),
                    ));
                }
            },
            Err((user_id, message)) => {
                self.invalid += 1;
                if let Some(id) = &user_id {
                    self.add_rejected(id, line, index)?;
                }
                invalid(SourceError::new(
                    self.location(line, index),
                    user_id,
                    format!("password-hash export: {message}"),
                ));
            }
        }
        Ok(())
    }

    fn add_valid(
        &mut self,
        user_id: &str,
        hash: &[u8; BCRYPT_LEN],
        line: Option<u64>,
        index: u64,
    ) -> io::Result<Added> {
        let key = self.table.key(user_id);
        if let Some(first) = self.find(key, user_id, Kind::Valid)? {
            return Ok(match first {
                (_, first_hash) if first_hash == *hash => Added::Repeat,
                (first_line, _) => Added::Conflict { first_line },
            });
        }
        let ordinal = self.loaded;
        self.append(key, Kind::Valid, user_id, line, index, ordinal, hash)?;
        self.loaded += 1;
        Ok(Added::New)
    }

    /// Remembers where the first invalid row of `user_id` is, for that user's report.
    fn add_rejected(&mut self, user_id: &str, line: Option<u64>, index: u64) -> io::Result<()> {
        let key = self.table.key(user_id);
        if self.find(key, user_id, Kind::Rejected)?.is_none() {
            self.append(key, Kind::Rejected, user_id, line, index, 0, &[])?;
        }
        Ok(())
    }

    /// The line and hash of the record of `kind` already spooled for `user_id` (whose
    /// fingerprint is `key`), if any.
    fn find(
        &mut self,
        key: u64,
        user_id: &str,
        kind: Kind,
    ) -> io::Result<Option<(Option<u64>, [u8; BCRYPT_LEN])>> {
        let mut candidates = self.table.candidates(key).peekable();
        if candidates.peek().is_none() {
            return Ok(None); // the common case: a fingerprint not seen before
        }
        // Reading back what is still in the write buffer needs it on disk first.
        self.spool.flush()?;
        let file = self.spool.get_ref();
        let mut found = None;
        for offset in candidates {
            let record = self.cache.record(file, offset)?;
            if record.kind == kind && record.id == user_id.as_bytes() {
                let mut hash = [0u8; BCRYPT_LEN];
                if kind == Kind::Valid {
                    hash.copy_from_slice(record.hash);
                }
                found = Some((record.line, hash));
                break;
            }
        }
        // Positioned reads leave the file position alone on Unix but not on Windows; make
        // sure the next record is appended at the end either way.
        self.spool.seek(SeekFrom::Start(self.written))?;
        Ok(found)
    }

    #[allow(clippy::too_many_arguments)] // one record's fields, written in one place
    fn append(
        &mut self,
        key: u64,
        kind: Kind,
        user_id: &str,
        line: Option<u64>,
        index: u64,
        ordinal: u64,
        hash: &[u8],
    ) -> io::Result<()> {
        self.scratch.clear();
        encode(&mut self.scratch, kind, user_id, line, index, ordinal, hash)?;
        self.spool.write_all(&self.scratch)?;
        self.table.add(key, self.written);
        self.written += self.scratch.len() as u64;
        Ok(())
    }

    /// The finished index.
    ///
    /// # Errors
    ///
    /// When the last rows cannot be written to the spool.
    pub(super) fn finish(self) -> Result<PasswordIndex, SourceError> {
        let location = Location {
            file: self.path.clone(),
            line: None,
            index: 0,
        };
        let spool = self
            .spool
            .into_inner()
            .map_err(|e| spool_error(location, e.error()))?;
        let words = self.loaded.div_ceil(64);
        Ok(PasswordIndex {
            path: self.path,
            spool,
            table: self.table,
            claimed: (0..words).map(|_| AtomicU64::new(0)).collect(),
            loaded: self.loaded,
            invalid: self.invalid,
        })
    }
}

/// A 64-bit fingerprint of a `user_id`. Only ever a hint: every match is confirmed on the full
/// id read back from the spool.
#[derive(Clone)]
enum Fingerprint {
    /// SipHash with a random key per run, so ids cannot be chosen to collide.
    Keyed(RandomState),
    /// A chosen function, for tests that force collisions.
    #[cfg(test)]
    Fixed(fn(&str) -> u64),
}

impl Fingerprint {
    fn keyed() -> Self {
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
struct Table {
    fingerprint: Fingerprint,
    first: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    shared: HashMap<u64, Vec<u64>, BuildHasherDefault<Prehashed>>,
}

/// Marks a `first` entry whose records are listed in `shared`; spool offsets stay far below.
const SHARED: u64 = 1 << 63;

impl Table {
    fn new(fingerprint: Fingerprint) -> Self {
        Self {
            fingerprint,
            first: HashMap::default(),
            shared: HashMap::default(),
        }
    }

    /// The fingerprint of `user_id`, the key for [`Table::add`] and [`Table::candidates`].
    fn key(&self, user_id: &str) -> u64 {
        self.fingerprint.of(user_id)
    }

    fn add(&mut self, key: u64, offset: u64) {
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
    fn candidates(&self, key: u64) -> Candidates<'_> {
        match self.first.get(&key) {
            None => Candidates::One(None),
            Some(&offset) if offset & SHARED == 0 => Candidates::One(Some(offset)),
            Some(_) => {
                Candidates::Many(self.shared.get(&key).map_or(&[][..], Vec::as_slice).iter())
            }
        }
    }
}

enum Candidates<'a> {
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
struct Prehashed(u64);

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

/// The two kinds of spool record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A valid row: the user's hash.
    Valid,
    /// The first invalid row that named this user, for the report.
    Rejected,
}

/// A spool record: `kind` (1 byte), id length (u32), line (u64, 0 when unknown), record index
/// (u64), ordinal among valid rows (u64), the id, then for a valid row the 60 hash bytes. All
/// integers little-endian.
const HEADER: usize = 1 + 4 + 8 + 8 + 8;

fn encode(
    out: &mut Vec<u8>,
    kind: Kind,
    user_id: &str,
    line: Option<u64>,
    index: u64,
    ordinal: u64,
    hash: &[u8],
) -> io::Result<()> {
    let id_len = u32::try_from(user_id.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user id longer than 4 GiB"))?;
    out.push(match kind {
        Kind::Valid => b'V',
        Kind::Rejected => b'R',
    });
    out.extend_from_slice(&id_len.to_le_bytes());
    out.extend_from_slice(&line.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&ordinal.to_le_bytes());
    out.extend_from_slice(user_id.as_bytes());
    out.extend_from_slice(hash);
    Ok(())
}

/// A record read back from the spool, borrowed from a [`SpoolCache`].
struct SpoolRecord<'a> {
    kind: Kind,
    line: Option<u64>,
    index: u64,
    ordinal: u64,
    id: &'a [u8],
    /// The bcrypt bytes of a valid row; empty for a rejected one.
    hash: &'a [u8],
    /// The record's length in the spool.
    len: usize,
}

/// Reads the record at the start of `bytes`: `Ok(None)` when `bytes` ends before it does.
fn parse_record(bytes: &[u8]) -> io::Result<Option<SpoolRecord<'_>>> {
    let Some(header) = bytes.get(..HEADER) else {
        return Ok(None);
    };
    let kind = match header[0] {
        b'V' => Kind::Valid,
        b'R' => Kind::Rejected,
        _ => return Err(corrupt()),
    };
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let id_len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let hash_len = if kind == Kind::Valid { BCRYPT_LEN } else { 0 };
    let len = HEADER + id_len + hash_len;
    let Some(body) = bytes.get(HEADER..len) else {
        return Ok(None);
    };
    let (id, hash) = body.split_at(id_len);
    let line = word(5);
    Ok(Some(SpoolRecord {
        kind,
        line: (line != 0).then_some(line),
        index: word(13),
        ordinal: word(21),
        id,
        hash,
        len,
    }))
}

/// The length of the record that starts with `header` (at least [`HEADER`] bytes).
fn record_len(header: &[u8]) -> usize {
    let id_len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    HEADER + id_len + if header[0] == b'V' { BCRYPT_LEN } else { 0 }
}

/// One thread's read window on the spool: the bytes of the last positioned read, so that
/// looking up rows in about the order they were written costs one read per window, not one
/// per row.
#[derive(Default)]
pub(super) struct SpoolCache {
    buf: Vec<u8>,
    /// The spool offset of `buf[0]`.
    start: u64,
    /// The offset after the last valid record a lookup found: the likely next match.
    next: u64,
}

/// Bytes read at a time while lookups go forward through the spool: a few dozen records.
const WINDOW: usize = 8 * 1024;

/// Bytes read at a time for a lookup that jumps elsewhere (users in another order than the
/// export): a record or a few, so that random lookups do not copy a whole window each.
const SMALL_READ: usize = 512;

impl SpoolCache {
    fn record<'a>(&'a mut self, file: &File, offset: u64) -> io::Result<SpoolRecord<'a>> {
        let len = record_len(self.bytes(file, offset, HEADER)?);
        parse_record(self.bytes(file, offset, len)?)?.ok_or_else(corrupt)
    }

    /// The record at `offset` if the window holds all of it (no I/O).
    fn cached(&self, offset: u64) -> Option<SpoolRecord<'_>> {
        let at = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        parse_record(self.buf.get(at..)?).ok().flatten()
    }

    /// `len` bytes of the spool from `offset`, read from the file unless the window has them.
    fn bytes(&mut self, file: &File, offset: u64, len: usize) -> io::Result<&[u8]> {
        let end = offset + len as u64;
        let cached = offset >= self.start && end <= self.start + self.buf.len() as u64;
        if !cached {
            // Reading on from the current window: a whole window; a jump: a small read.
            let window_end = self.start + self.buf.len() as u64;
            let forward = offset >= self.start && offset <= window_end + WINDOW as u64;
            let want = if forward { WINDOW } else { SMALL_READ };
            self.buf.resize(len.max(want), 0);
            let mut got = 0;
            while got < self.buf.len() {
                match read_at(file, &mut self.buf[got..], offset + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.clear();
                        return Err(e);
                    }
                }
            }
            self.buf.truncate(got);
            self.start = offset;
            if got < len {
                return Err(corrupt());
            }
        }
        let at = (offset - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }
}

fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the temporary password index does not hold the expected record",
    )
}

/// A positioned read that leaves other readers of the same file alone.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// A positioned read that leaves other readers of the same file alone.
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// `_id` as the export writes it (`{"$oid": "5dea…"}`) or as pre-converted files do (a string).
fn object_id(value: Value) -> Option<String> {
    let oid = match value {
        Value::String(s) => s,
        Value::Object(map) => map.into_iter().find_map(|(k, v)| match v {
            Value::String(s) if k.eq_ignore_ascii_case("$oid") => Some(s),
            _ => None,
        })?,
        _ => return None,
    };
    (!oid.is_empty()).then_some(oid)
}

/// The bytes of a bcrypt string, or `None` when `hash` is not one (see [`is_bcrypt`]).
fn bcrypt_bytes(hash: &str) -> Option<[u8; BCRYPT_LEN]> {
    if is_bcrypt(hash) {
        hash.as_bytes().try_into().ok()
    } else {
        None
    }
}

/// A bcrypt modular-crypt string: `$2a$`/`$2b$`/`$2y$`, a cost of 04–31, `$`, then 22
/// characters of salt and 31 of hash in bcrypt's base64 alphabet.
pub(super) fn is_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
    else {
        return false;
    };
    let rest = rest.as_bytes();
    bytes.len() == BCRYPT_LEN
        && rest[..2].iter().all(u8::is_ascii_digit)
        && (4..=31).contains(&((rest[0] - b'0') * 10 + (rest[1] - b'0')))
        && rest[2] == b'$'
        && rest[3..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real bcrypt hash (of "password", cost 10); only its shape matters here.
    const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    fn claim(index: &PasswordIndex, user_id: &str) -> Claim {
        index
            .claim(user_id, &mut SpoolCache::default())
            .expect("spool readable")
    }

    fn load_str(text: &str) -> (PasswordIndex, Vec<SourceError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("passwords.ndjson");
        std::fs::write(&path, text).expect("write");
        let mut errors = Vec::new();
        let index = load(&path, &mut |e| errors.push(e)).expect("readable");
        (index, errors)
    }

    #[test]
    fn bcrypt_shapes() {
        assert!(is_bcrypt(HASH));
        assert!(is_bcrypt(&HASH.replacen("$2b$", "$2a$", 1)));
        assert!(is_bcrypt(&HASH.replacen("$2b$", "$2y$", 1)));
        for bad in [
            "",
            "$2b$",
            &HASH.replacen("$2b$", "$2x$", 1),
            &HASH.replacen("$10$", "$99$", 1),
            &HASH.replacen("$10$", "$03$", 1),
            &HASH[..59],
            &format!("{HASH}A"),
            &HASH.replacen('N', "!", 1),
            "$2b$1a$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            "$2b$10€N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lh",
        ] {
            assert!(!is_bcrypt(bad), "{bad}");
        }
    }

    #[test]
    fn joins_by_alt_id_before_oid_and_accepts_capital_id() {
        let text = format!(
            "{{\"_id\":{{\"$oid\":\"aaa\"}},\"passwordHash\":\"{HASH}\",\"alt_id\":\"euclid\"}}\n\
             {{\"_ID\":{{\"$oid\":\"bbb\"}},\"passwordHash\":\"{HASH}\"}}\n\
             {{\"_id\":\"ccc\",\"password_hash\":\"{HASH}\",\"alt_id\":\"\"}}\n"
        );
        let (index, errors) = load_str(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(index.loaded, 3);
        assert!(matches!(claim(&index, "auth0|euclid"), Claim::Hash(_)));
        assert!(matches!(claim(&index, "auth0|aaa"), Claim::None));
        assert!(matches!(claim(&index, "auth0|bbb"), Claim::Hash(_)));
        assert_eq!(index.unclaimed(), 1);
    }

    #[test]
    fn a_bad_hash_is_reported_without_the_hash() {
        let secretish = "$2b$10$tooShortButStillSecretValue";
        let text = format!("\n{{\"_id\":{{\"$oid\":\"abc\"}},\"passwordHash\":\"{secretish}\"}}\n");
        let (index, errors) = load_str(&text);
        assert_eq!(errors.len(), 1);
        let shown = errors[0].to_string();
        assert!(shown.contains("passwords.ndjson:2 (record 1)"), "{shown}");
        assert!(shown.contains("auth0|abc"), "{shown}");
        assert!(shown.contains("not a bcrypt hash"), "{shown}");
        assert!(!shown.contains("tooShort") && !format!("{:?}", errors[0]).contains("tooShort"));
        assert!(matches!(claim(&index, "auth0|abc"), Claim::Rejected(_)));
    }

    #[test]
    fn a_hash_that_is_not_a_string_or_a_line_that_is_not_an_object() {
        let text = format!(
            "{{\"_id\":{{\"$oid\":\"n\"}},\"passwordHash\":12}}\n\"{HASH}\"\n{{\"passwordHash\":\"{HASH}\"}}\n"
        );
        let (_, errors) = load_str(&text);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].contains("`passwordHash` must be a string, not a number"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].contains(":2 (record 2)")
                && shown[1].contains("not a JSON object (found a string)")
        );
        assert!(
            shown[2].contains("neither `_id.$oid` nor `alt_id`"),
            "{}",
            shown[2]
        );
        assert!(shown.iter().all(|s| !s.contains("N9qo8")), "{shown:?}");
    }

    #[test]
    fn conflicting_duplicate_rows_keep_the_first() {
        let other = HASH.replacen("N9qo", "M9qo", 1);
        let text = format!(
            "{{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{HASH}\"}}\n\
             {{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{HASH}\"}}\n\
             {{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{other}\"}}\n"
        );
        let (index, errors) = load_str(&text);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("first at line 1"),
            "{}",
            errors[0]
        );
        let Claim::Hash(hash) = claim(&index, "auth0|d") else {
            panic!("expected a hash")
        };
        assert_eq!(hash.expose(), HASH);
    }

    #[test]
    fn a_json_array_export_works_too() {
        let text = format!("[\n  {{\"_id\":{{\"$oid\":\"e\"}},\"passwordHash\":\"{HASH}\"}}\n]\n");
        let (index, errors) = load_str(&text);
        assert!(errors.is_empty());
        assert!(matches!(claim(&index, "auth0|e"), Claim::Hash(_)));
    }

    fn load_fixed(text: &str, fingerprint: fn(&str) -> u64) -> (PasswordIndex, Vec<SourceError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("passwords.ndjson");
        std::fs::write(&path, text).expect("write");
        let mut errors = Vec::new();
        let index = load_with(&path, Fingerprint::Fixed(fingerprint), &mut |e| {
            errors.push(e);
        })
        .expect("readable");
        (index, errors)
    }

    fn row(oid: &str, hash: &str) -> String {
        format!("{{\"_id\":{{\"$oid\":\"{oid}\"}},\"passwordHash\":\"{hash}\"}}\n")
    }

    /// A different valid hash for every `n`.
    fn hash_n(n: usize) -> String {
        let tail = format!("{n:0>53}");
        format!("$2b$10${tail}")
    }

    #[test]
    fn every_id_colliding_still_finds_exactly_its_own_row() {
        // Every id has the same fingerprint: each lookup must compare the real ids.
        let text: String = (0..50).map(|n| row(&format!("u{n}"), &hash_n(n))).collect();
        let (index, errors) = load_fixed(&text, |_| 42);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(index.loaded, 50);
        for n in (0..50).rev() {
            let Claim::Hash(hash) = claim(&index, &format!("auth0|u{n}")) else {
                panic!("no hash for u{n}")
            };
            assert_eq!(hash.expose(), hash_n(n));
        }
        assert!(matches!(claim(&index, "auth0|u50"), Claim::None));
        assert!(matches!(claim(&index, "auth0|u"), Claim::None));
        assert_eq!(index.unclaimed(), 0);
    }

    #[test]
    fn duplicates_are_found_among_colliding_ids_and_report_file_and_line() {
        let text = format!(
            "{}{}{}{}{}",
            row("a", HASH),
            row("b", &hash_n(1)),
            row("a", HASH),       // a harmless repeat
            row("b", &hash_n(2)), // a conflict: the first stays
            row("c", &hash_n(3)),
        );
        let (index, errors) = load_fixed(&text, |_| 7);
        assert_eq!(index.loaded, 3, "repeats are not loaded twice");
        assert_eq!(index.invalid, 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let shown = errors[0].to_string();
        assert!(
            shown.starts_with(&format!(
                "{}:4 (record 4), external_id `auth0|b`: password-hash export: a second, \
                 different hash for this user (first at line 2); the first is used",
                errors[0].location.file.display()
            )),
            "{shown}"
        );
        assert!(!shown.contains("$2b$") && !format!("{:?}", errors[0]).contains("$2b$"));
        let Claim::Hash(hash) = claim(&index, "auth0|b") else {
            panic!("b has its first hash")
        };
        assert_eq!(hash.expose(), hash_n(1));
    }

    #[test]
    fn unmatched_rows_are_the_ones_no_user_claimed() {
        let text: String = (0..200)
            .map(|n| row(&format!("u{n}"), &hash_n(n)))
            .collect();
        let (index, _) = load_str(&text);
        let mut cache = SpoolCache::default();
        for n in (0..200).filter(|n| n % 3 == 0) {
            let id = format!("auth0|u{n}");
            assert!(matches!(index.claim(&id, &mut cache), Ok(Claim::Hash(_))));
            // Claiming twice (a duplicate user record) counts the row once.
            assert!(matches!(index.claim(&id, &mut cache), Ok(Claim::Hash(_))));
        }
        assert!(matches!(
            index.claim("auth0|nobody", &mut cache),
            Ok(Claim::None)
        ));
        assert_eq!(index.unclaimed(), 200 - 67);
    }

    #[test]
    fn a_valid_row_wins_over_an_invalid_one_for_the_same_user() {
        let text = format!(
            "{}{}{}",
            row("w", HASH),
            row("x", "$2b$10$short"),
            row("x", HASH)
        );
        let (index, errors) = load_str(&text);
        assert_eq!(errors.len(), 1);
        // After `w`, the next spool record is `x`'s invalid row: the lookup must not stop
        // there, whether it starts from that hint or from scratch.
        let mut cache = SpoolCache::default();
        assert!(matches!(
            index.claim("auth0|w", &mut cache),
            Ok(Claim::Hash(_))
        ));
        assert!(matches!(
            index.claim("auth0|x", &mut cache),
            Ok(Claim::Hash(_))
        ));
        assert!(matches!(claim(&index, "auth0|x"), Claim::Hash(_)));
        // Two invalid rows for one user: the report points at the first.
        let text = format!("\n{}{}", row("y", "$2b$10$short"), row("y", "nope"));
        let (index, errors) = load_str(&text);
        assert_eq!(errors.len(), 2);
        let Claim::Rejected(at) = claim(&index, "auth0|y") else {
            panic!("expected the rejected row")
        };
        assert_eq!((at.line, at.index), (Some(2), 0));
        assert_eq!(
            index.unclaimed(),
            0,
            "invalid rows are not counted as unmatched"
        );
    }

    #[test]
    fn gzip_and_arrays_join_like_ndjson() {
        use std::io::Write as _;
        let ndjson: String = (0..30).map(|n| row(&format!("g{n}"), &hash_n(n))).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(ndjson.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let array = format!("[\n{}\n]", ndjson.trim_end().replace('\n', ",\n"));

        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in [
            ("passwords.ndjson.gz", gz),
            ("passwords.json", array.clone().into_bytes()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            let index = load(&path, &mut |e| panic!("{e}")).expect("readable");
            assert_eq!(index.loaded, 30, "{name}");
            for n in 0..30 {
                let Claim::Hash(hash) = claim(&index, &format!("auth0|g{n}")) else {
                    panic!("{name}: no hash for g{n}")
                };
                assert_eq!(hash.expose(), hash_n(n));
            }
        }
        // A rejected row in an array is located on its own line.
        let broken = array.replacen(&hash_n(4), "$2b$10$x", 1);
        let path = dir.path().join("broken.json");
        std::fs::write(&path, broken).expect("write");
        let mut errors = Vec::new();
        let index = load(&path, &mut |e| errors.push(e)).expect("readable");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].location.line, errors[0].location.index),
            (Some(6), 4)
        );
        let Claim::Rejected(at) = claim(&index, "auth0|g4") else {
            panic!("expected the rejected row")
        };
        assert_eq!(at.line, Some(6));
    }

    #[test]
    fn the_read_window_serves_lookups_in_any_order() {
        // Enough rows for many windows, looked up forwards, backwards and scattered.
        let text: String = (0..3000)
            .map(|n| row(&format!("w{n}"), &hash_n(n)))
            .collect();
        let (index, _) = load_str(&text);
        let mut cache = SpoolCache::default();
        let order = (0..3000)
            .chain((0..3000).rev())
            .chain((0..3000).map(|n| (n * 7919) % 3000));
        for n in order {
            let Ok(Claim::Hash(hash)) = index.claim(&format!("auth0|w{n}"), &mut cache) else {
                panic!("no hash for w{n}")
            };
            assert_eq!(hash.expose(), hash_n(n));
        }
        assert_eq!(index.unclaimed(), 0);
    }

    #[test]
    fn the_hashes_live_in_the_spool_and_memory_holds_offsets() {
        let text: String = (0..10).map(|n| row(&format!("m{n}"), &hash_n(n))).collect();
        let (index, _) = load_str(&text);
        // In memory: one fingerprint → offset entry per row, nothing else per row.
        assert_eq!(index.table.first.len(), 10);
        assert!(index.table.shared.is_empty());
        assert_eq!(index.claimed.len(), 1, "one bit per row");
        // On disk: each offset leads to the row's id and hash.
        let mut cache = SpoolCache::default();
        for n in 0..10 {
            let id = format!("auth0|m{n}");
            let offset = index
                .table
                .candidates(index.table.key(&id))
                .next()
                .expect("an entry");
            assert_eq!(offset & SHARED, 0);
            let record = cache.record(&index.spool, offset).expect("readable");
            assert_eq!((record.kind, record.id), (Kind::Valid, id.as_bytes()));
            assert_eq!(record.hash, hash_n(n).as_bytes());
            assert_eq!((record.line, record.index), (Some(n as u64 + 1), n as u64));
        }
    }
}
