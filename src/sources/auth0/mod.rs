//! Auth0 users: the export job's file (NDJSON, plain or gzip, or the same records as a JSON
//! array) joined with the optional password-hash export from a support ticket.
//!
//! This module owns the order of work and the counts. The pieces are `export` (the file's
//! raw records, general path), `fast` (the typed fast path for NDJSON lines), `convert` (raw
//! record → identity, per DESIGN.md section 4) and `passwords` (the hash export, its join rule
//! and its on-disk index); the container (NDJSON or JSON array, gzip, BOM, line numbers) is
//! [`json_records`](super::json_records)' business.
//!
//! # Threads
//!
//! A million-user export is read on every core, and the caller's sink sees exactly what a
//! single-threaded reader would show it, in the same order. One producer thread cuts the
//! NDJSON files into blocks of lines (decompressing gzip): first the password export's, then
//! the users'. Worker threads parse the blocks (see `sources/pipeline.rs`). The
//! calling thread takes the results in file order: it feeds the password rows into the index
//! and reports the invalid ones, publishes the finished index, then hands every user record to
//! the sink. Workers convert user records as soon as they have them and join them to their
//! password rows once the index is published. So both cores work on the password export first
//! and on the users after, and the sink, which need not be `Send`, stays on the calling
//! thread.
//!
//! JSON-array files (small by nature: Auth0's import takes arrays of at most 500 KB) are
//! streamed on the calling thread through the general path.

pub mod clients;
mod convert;
mod export;
mod fast;
mod passwords;

#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::thread::Scope;

use export::{RawUser, is_user_id_key};
use passwords::{Claim, IndexBuilder, PasswordIndex, RowResult, SpoolCache};

use super::json_records::{
    ArrayRecords, BLOCK_BYTES, JsonRecord, LineBlock, NdjsonBlocks, OpenJson, ReadFailure,
    open_json_records, parse_record_line,
};
use super::pipeline::{self, Ordered};
use super::record::{Outcome, UserOutcome};
use super::{Location, SourceError, UserItem};
use crate::model::PasswordHash;

/// What a read found, beyond the items themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// User records read (identities, skipped and invalid together; blank lines excluded).
    pub records: u64,
    /// Records that became identities.
    pub identities: u64,
    /// Records skipped on purpose (users without an email).
    pub skipped: u64,
    /// User records reported invalid.
    pub invalid: u64,
    /// Identities that received a password hash.
    pub passwords_matched: u64,
    /// Valid password-hash rows whose `user_id` matched no user record at all (users deleted
    /// after the hash export, or a hash export from another tenant).
    pub passwords_unmatched: u64,
    /// Valid password-hash rows loaded.
    pub password_rows: u64,
    /// Password-hash rows reported invalid.
    pub password_rows_invalid: u64,
}

/// Reads the Auth0 users export at `users`, attaching bcrypt hashes from the password-hash
/// export at `passwords` when given, and hands every record to `sink`.
///
/// Invalid password rows are reported first (as [`UserItem::Invalid`] located in the
/// password file), then every user record in file order. A user whose password row was
/// invalid is still migrated, without a password and with `password_unsupported` saying why.
///
/// # Errors
///
/// Only for problems that make a file unreadable: it cannot be opened, its gzip stream is
/// broken, an I/O error, or a syntax error inside a JSON array (after which no element can be
/// trusted). Problems with single records are [`UserItem::Invalid`] items, and reading goes
/// on. A problem with the password export is reported before anything about the users file.
pub fn read_users(
    users: &Path,
    passwords: Option<&Path>,
    sink: &mut dyn FnMut(UserItem),
) -> Result<ReadStats, SourceError> {
    // Set exactly once: the finished index, or `None` when there is no password export or it
    // could not be read. Workers wait for it before joining users to rows.
    let index_cell: OnceLock<Option<PasswordIndex>> = OnceLock::new();
    let index_cell = &index_cell;
    // Opened up front, so NDJSON can go to the workers; what went wrong opening either file
    // is reported in the order the files are read, password export first.
    let password_file =
        passwords.map(|path| (path, open_json_records(path).map_err(passwords::prefixed)));
    let users_file = open_json_records(users);

    std::thread::scope(|scope| {
        // However this closure ends, workers waiting for the index go on (and then stop).
        let _unblock = Unblock(index_cell);

        let (password_file, password_blocks) = match password_file {
            None => (PasswordFile::None, None),
            Some((_, Err(err))) => (PasswordFile::Unreadable(err), None),
            Some((path, Ok(OpenJson::Empty))) => (PasswordFile::Here(path, None), None),
            Some((path, Ok(OpenJson::Array(array)))) => {
                (PasswordFile::Here(path, Some(array)), None)
            }
            Some((path, Ok(OpenJson::Ndjson(blocks)))) => {
                (PasswordFile::Workers(path), Some(blocks))
            }
        };
        let (users_file, user_blocks) = match users_file {
            Err(err) => (Err(err), None),
            Ok(OpenJson::Empty) => (Ok(None), None),
            Ok(OpenJson::Array(array)) => (Ok(Some(array)), None),
            Ok(OpenJson::Ndjson(blocks)) => (Ok(None), Some(blocks)),
        };
        let mut results = spawn_workers(scope, password_blocks, user_blocks, index_cell);

        // The password export: every invalid row is reported before any user.
        let mut stats = ReadStats::default();
        let mut invalid_row = |err| sink(UserItem::Invalid(err));
        let index = match password_file {
            PasswordFile::None => None,
            PasswordFile::Unreadable(err) => return Err(err),
            PasswordFile::Here(path, array) => {
                let mut builder = IndexBuilder::new(path)?;
                if let Some(array) = array {
                    builder.add_array(array, &mut invalid_row)?;
                }
                Some(builder.finish()?)
            }
            PasswordFile::Workers(path) => {
                Some(index_from_workers(path, &mut results, &mut invalid_row)?)
            }
        };
        if let Some(index) = &index {
            stats.password_rows = index.loaded;
            stats.password_rows_invalid = index.invalid;
        }
        let _ = index_cell.set(index);
        let index = index_cell.get().and_then(Option::as_ref);

        // The users, in file order.
        match users_file {
            Err(err) => return Err(err),
            Ok(Some(array)) => read_user_array(array, index, &mut stats, sink)?,
            Ok(None) => {
                for done in results {
                    let Done::Users(block) = done else {
                        unreachable!("the password blocks were all taken")
                    };
                    emit_block(users, block, &mut stats, sink)?;
                }
            }
        }

        stats.passwords_unmatched = index.map_or(0, PasswordIndex::unclaimed);
        Ok(stats)
    })
}

/// The password export, once opened.
enum PasswordFile<'a> {
    /// None was given.
    None,
    /// It cannot be opened.
    Unreadable(SourceError),
    /// Read on the calling thread: empty, or a JSON array.
    Here(&'a Path, Option<ArrayRecords>),
    /// NDJSON, parsed by the workers before the users.
    Workers(&'a Path),
}

/// Builds the index from the password rows the workers parsed, taken in file order up to the
/// end of the password export, reporting invalid rows to `invalid`.
fn index_from_workers(
    path: &Path,
    results: &mut Ordered<Done>,
    invalid: &mut dyn FnMut(SourceError),
) -> Result<PasswordIndex, SourceError> {
    let mut builder = IndexBuilder::new(path)?;
    let mut index = 0u64;
    loop {
        match results.next() {
            Some(Done::Passwords(Ok(rows))) => {
                for (line, row) in rows {
                    builder.add(Some(line), index, row, invalid)?;
                    index += 1;
                }
            }
            Some(Done::Passwords(Err(failure))) => {
                return Err(passwords::read_failure(path, &failure, index));
            }
            Some(Done::PasswordsEnd) => return builder.finish(),
            Some(Done::Users(_)) | None => {
                unreachable!("the producer ends the password blocks before any other")
            }
        }
    }
}

/// Hands one block of user records (or the error that ends the file) to the sink.
fn emit_block(
    users: &Path,
    block: Result<Vec<(u64, io::Result<Joined>)>, ReadFailure>,
    stats: &mut ReadStats,
    sink: &mut dyn FnMut(UserItem),
) -> Result<(), SourceError> {
    let records = block.map_err(|failure| {
        let location = Location {
            file: users.to_path_buf(),
            line: Some(failure.line),
            index: stats.records,
        };
        let message = format!("cannot read export: {}", failure.error);
        SourceError::new(location, None, message)
    })?;
    for (line, joined) in records {
        let location = Location {
            file: users.to_path_buf(),
            line: Some(line),
            index: stats.records,
        };
        match joined {
            Ok(joined) => emit(joined, location, stats, sink),
            Err(e) => return Err(passwords::spool_error(location, &e)),
        }
    }
    Ok(())
}

/// Streams a users file that is a JSON array on the calling thread, through the general path.
fn read_user_array(
    array: ArrayRecords,
    index: Option<&PasswordIndex>,
    stats: &mut ReadStats,
    sink: &mut dyn FnMut(UserItem),
) -> Result<(), SourceError> {
    let mut cache = SpoolCache::default();
    let mut failed = None;
    array.read(is_user_id_key, &mut |record: JsonRecord| {
        if failed.is_some() {
            return;
        }
        let parsed = match record.entries {
            Ok(entries) => Parsed::Converted(convert::convert(RawUser::from_entries(entries))),
            Err(message) => Parsed::Unreadable {
                message,
                id_hint: record.id_hint,
            },
        };
        match join(parsed, index, &mut cache) {
            Ok(joined) => emit(joined, record.location, stats, sink),
            Err(e) => failed = Some(passwords::spool_error(record.location, &e)),
        }
    })?;
    failed.map_or(Ok(()), Err)
}

/// Publishes "no index" when dropped, unless an index was published: workers waiting for
/// the index must always be able to go on, whatever ends the read.
struct Unblock<'a>(&'a OnceLock<Option<PasswordIndex>>);

impl Drop for Unblock<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

/// Work for the worker threads, in the order the producer cuts it.
enum Job {
    /// Lines of the password export.
    Passwords(Result<LineBlock, ReadFailure>),
    /// The end of the password export (so the calling thread knows, before any users).
    PasswordsEnd,
    /// Lines of the users file.
    Users(Result<LineBlock, ReadFailure>),
}

/// A worker's result for one [`Job`].
enum Done {
    Passwords(Result<Vec<(u64, RowResult)>, ReadFailure>),
    PasswordsEnd,
    /// Each record's line and the record, joined; an `Err` (the spool cannot be read) ends
    /// the block.
    Users(Result<Vec<(u64, io::Result<Joined>)>, ReadFailure>),
}

/// Starts the producer and the workers for whichever files are NDJSON.
fn spawn_workers<'scope>(
    scope: &'scope Scope<'scope, '_>,
    mut passwords: Option<NdjsonBlocks>,
    mut users: Option<NdjsonBlocks>,
    cell: &'scope OnceLock<Option<PasswordIndex>>,
) -> Ordered<Done> {
    let produce = move || {
        if let Some(blocks) = &mut passwords {
            return Some(if let Some(block) = blocks.next_block(BLOCK_BYTES) {
                Job::Passwords(block)
            } else {
                passwords = None;
                Job::PasswordsEnd
            });
        }
        users.as_mut()?.next_block(BLOCK_BYTES).map(Job::Users)
    };
    let work = move |cache: &mut SpoolCache, job: Job| match job {
        Job::Passwords(block) => Done::Passwords(block.map(|block| {
            block
                .lines()
                .map(|line| {
                    (
                        line.line,
                        passwords::parse_line(line.text, line.column_shift),
                    )
                })
                .collect()
        })),
        Job::PasswordsEnd => Done::PasswordsEnd,
        Job::Users(block) => Done::Users(block.map(|block| {
            // Parse and convert first: that much can run before the index is complete.
            let parsed: Vec<(u64, Parsed)> = block
                .lines()
                .map(|line| (line.line, parse_line(line.text, line.column_shift)))
                .collect();
            let index = cell.wait().as_ref();
            let mut joined = Vec::with_capacity(parsed.len());
            for (line, parsed) in parsed {
                let result = join(parsed, index, cache);
                let failed = result.is_err();
                joined.push((line, result));
                if failed {
                    break; // the calling thread ends the read there
                }
            }
            joined
        })),
    };
    pipeline::spawn(scope, pipeline::workers(), produce, work)
}

/// A user record, parsed and converted, before the password join.
enum Parsed {
    Converted(UserOutcome),
    /// Not a JSON object (or not JSON): the message, and the id read before it broke.
    Unreadable {
        message: String,
        id_hint: Option<String>,
    },
}

/// One NDJSON line: the typed fast path, or the general path for anything unusual.
fn parse_line(text: &[u8], column_shift: u64) -> Parsed {
    if let Some(raw) = fast::user(text) {
        return Parsed::Converted(convert::convert(raw));
    }
    match parse_record_line(text, column_shift, is_user_id_key) {
        (Ok(entries), _) => Parsed::Converted(convert::convert(RawUser::from_entries(entries))),
        (Err(message), id_hint) => Parsed::Unreadable { message, id_hint },
    }
}

/// A user record after the password join, ready for the sink.
struct Joined {
    outcome: UserOutcome,
    /// It is an identity that received a hash.
    matched: bool,
}

/// Joins a record to its password row. Every record with a `user_id` claims its row, even
/// one that is skipped or invalid: the row found its user, so it is not "unmatched".
fn join(
    parsed: Parsed,
    index: Option<&PasswordIndex>,
    cache: &mut SpoolCache,
) -> io::Result<Joined> {
    let claim = |id: &str, cache: &mut SpoolCache| match index {
        Some(index) => index.claim(id, cache),
        None => Ok(Claim::None),
    };
    let mut matched = false;
    let outcome = match parsed {
        Parsed::Unreadable { message, id_hint } => Outcome::Invalid {
            external_id: id_hint,
            message,
        },
        Parsed::Converted(Outcome::Converted(mut identity)) => {
            match claim(identity.external_id.as_str(), cache)? {
                Claim::Hash(hash) => {
                    identity.password = Some(PasswordHash::Bcrypt(hash));
                    matched = true;
                }
                Claim::Rejected(row) => {
                    identity.password_unsupported = Some(format!(
                        "its row in the password-hash export is invalid ({row})"
                    ));
                }
                Claim::None => {}
            }
            Outcome::Converted(identity)
        }
        Parsed::Converted(other) => {
            if let Outcome::Skipped {
                external_id: Some(id),
                ..
            }
            | Outcome::Invalid {
                external_id: Some(id),
                ..
            } = &other
            {
                claim(id, cache)?;
            }
            other
        }
    };
    Ok(Joined { outcome, matched })
}

/// Counts a record and hands it to the sink.
fn emit(joined: Joined, location: Location, stats: &mut ReadStats, sink: &mut dyn FnMut(UserItem)) {
    stats.records += 1;
    match &joined.outcome {
        Outcome::Converted(_) => {
            stats.passwords_matched += u64::from(joined.matched);
            stats.identities += 1;
        }
        Outcome::Skipped { .. } => stats.skipped += 1,
        Outcome::Invalid { .. } => stats.invalid += 1,
    }
    sink(joined.outcome.into_item(location));
}
