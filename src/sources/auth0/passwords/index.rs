//! The index over the password-hash export: the [`IndexBuilder`] that takes the rows in file
//! order, spools the ones it accepts and reports the others, and the finished
//! [`PasswordIndex`] that the user-reading threads look rows up in.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::spool::{Kind, SpoolCache, SpoolEntry, SpoolRecord};
use super::table::{Fingerprint, Table};
use super::{BCRYPT_LEN, Claim, RowResult, parse_row, prefixed, spool_error};
use crate::model::Secret;
use crate::sources::json_records::{ArrayRecords, JsonRecord, no_id_key};
use crate::sources::{Location, SourceError};

/// The password-hash export, indexed by the `user_id` each row belongs to (see the module
/// docs). Shared by the threads that read users: lookups take `&self`.
pub(crate) struct PasswordIndex {
    /// The export, for the locations of rejected rows.
    path: PathBuf,
    pub(super) spool: File,
    pub(super) table: Table,
    /// One bit per loaded row (by its ordinal), set once a user record with its id was read
    /// (whether or not that record became an identity).
    pub(super) claimed: Vec<AtomicU64>,
    /// Rows loaded.
    pub(crate) loaded: u64,
    /// Rows reported invalid.
    pub(crate) invalid: u64,
}

impl PasswordIndex {
    /// Looks up the row of `user_id` and marks it as matched to a user record. `cache` is the
    /// calling thread's read window on the spool.
    ///
    /// # Errors
    ///
    /// When the spool cannot be read back.
    pub(crate) fn claim(&self, user_id: &str, cache: &mut SpoolCache) -> io::Result<Claim> {
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
    pub(crate) fn unclaimed(&self) -> u64 {
        let claimed: u64 = self
            .claimed
            .iter()
            .map(|word| u64::from(word.load(Ordering::Relaxed).count_ones()))
            .sum();
        self.loaded - claimed
    }
}

/// Builds the index from the export's rows, fed in file order, so that a second row for one
/// user is reported where it is, as it is met.
pub(crate) struct IndexBuilder {
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
    pub(crate) fn new(path: &Path) -> Result<Self, SourceError> {
        Self::with_fingerprint(path, Fingerprint::keyed())
    }

    pub(super) fn with_fingerprint(
        path: &Path,
        fingerprint: Fingerprint,
    ) -> Result<Self, SourceError> {
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
    pub(crate) fn add(
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
    pub(crate) fn add_array(
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
        let entry = SpoolEntry {
            kind: Kind::Valid,
            user_id,
            line,
            index,
            ordinal: self.loaded,
            hash,
        };
        self.append(key, &entry)?;
        self.loaded += 1;
        Ok(Added::New)
    }

    /// Remembers where the first invalid row of `user_id` is, for that user's report.
    fn add_rejected(&mut self, user_id: &str, line: Option<u64>, index: u64) -> io::Result<()> {
        let key = self.table.key(user_id);
        if self.find(key, user_id, Kind::Rejected)?.is_none() {
            let entry = SpoolEntry {
                kind: Kind::Rejected,
                user_id,
                line,
                index,
                ordinal: 0,
                hash: &[],
            };
            self.append(key, &entry)?;
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

    fn append(&mut self, key: u64, entry: &SpoolEntry<'_>) -> io::Result<()> {
        self.scratch.clear();
        entry.encode(&mut self.scratch)?;
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
    pub(crate) fn finish(self) -> Result<PasswordIndex, SourceError> {
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
