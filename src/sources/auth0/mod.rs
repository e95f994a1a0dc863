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
//! single-threaded reader would show it, in the same order:
//!
//! - one thread indexes the password export ([`passwords::load`]) while the users file is
//!   already being read;
//! - NDJSON users files are cut into blocks of lines by a producer thread (which also
//!   decompresses gzip) and parsed and converted by worker threads (see
//!   [`pipeline`](super::pipeline)); once the password index is complete, the workers also
//!   join each user to its row;
//! - the calling thread first reports the invalid password rows, then hands every user record
//!   to the sink in file order, so the sink never needs to be `Send`.
//!
//! A JSON-array users file (small by nature: Auth0's import takes arrays of at most 500 KB) is
//! streamed on the calling thread through the general path.

pub mod clients;
mod convert;
mod export;
mod fast;
mod passwords;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::Scope;

use convert::Outcome;
use export::{RawUser, is_user_id_key};
use passwords::{Claim, PasswordIndex, SpoolCache};

use super::json_records::{
    BLOCK_BYTES, JsonRecord, LineBlock, OpenJson, ReadFailure, open_json_records, parse_record_line,
};
use super::pipeline::{self, Ordered};
use super::{Location, SkipReason, Skipped, SourceError, UserItem};
use crate::model::{Identity, PasswordHash};

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
    // Set exactly once: the loaded index, or `None` when there is no password export or it
    // could not be read. Workers wait for it before joining users to rows.
    let index_cell: OnceLock<Option<PasswordIndex>> = OnceLock::new();
    let index_cell = &index_cell;
    std::thread::scope(|scope| {
        let password_events = match passwords {
            Some(path) => Some(spawn_password_index(scope, path, index_cell)),
            None => {
                let _ = index_cell.set(None);
                None
            }
        };
        // Start on the users right away; what goes wrong with them is reported after the
        // password export, as when the two were read one after the other.
        let users_file = match open_json_records(users) {
            Err(err) => UsersFile::Unreadable(err),
            Ok(OpenJson::Empty) => UsersFile::Empty,
            Ok(OpenJson::Array(array)) => UsersFile::Array(array),
            Ok(OpenJson::Ndjson(blocks)) => {
                UsersFile::Ndjson(spawn_user_workers(scope, blocks, index_cell))
            }
        };

        let mut stats = ReadStats::default();
        if let Some(events) = password_events {
            loop {
                match events.recv() {
                    Ok(PasswordEvent::Invalid(err)) => sink(UserItem::Invalid(err)),
                    Ok(PasswordEvent::Done(result)) => {
                        result?;
                        break;
                    }
                    Err(_) => panic!("the password-index thread stopped without a result"),
                }
            }
        }
        let index = index_cell.get().and_then(Option::as_ref);
        if let Some(index) = index {
            stats.password_rows = index.loaded;
            stats.password_rows_invalid = index.invalid;
        }

        match users_file {
            UsersFile::Unreadable(err) => return Err(err),
            UsersFile::Empty => {}
            UsersFile::Ndjson(blocks) => {
                for block in blocks {
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
                        let joined = joined.map_err(|e| spool_read_error(&location, e))?;
                        emit(joined, location, &mut stats, sink);
                    }
                }
            }
            UsersFile::Array(array) => {
                let mut cache = SpoolCache::default();
                let mut failed = None;
                array.read(is_user_id_key, &mut |record: JsonRecord| {
                    if failed.is_some() {
                        return;
                    }
                    let parsed = match record.entries {
                        Ok(entries) => {
                            Parsed::Converted(convert::convert(RawUser::from_entries(entries)))
                        }
                        Err(message) => Parsed::Unreadable {
                            message,
                            id_hint: record.id_hint,
                        },
                    };
                    match join(parsed, index, &mut cache) {
                        Ok(joined) => emit(joined, record.location, &mut stats, sink),
                        Err(e) => failed = Some(spool_read_error(&record.location, e)),
                    }
                })?;
                if let Some(err) = failed {
                    return Err(err);
                }
            }
        }

        stats.passwords_unmatched = index.map_or(0, PasswordIndex::unclaimed);
        Ok(stats)
    })
}

/// The users file, opened, while the password export is being indexed.
enum UsersFile {
    Unreadable(SourceError),
    Empty,
    Array(super::json_records::ArrayRecords),
    Ndjson(Ordered<Result<Vec<(u64, std::io::Result<Joined>)>, ReadFailure>>),
}

/// What the password-index thread tells the calling thread.
enum PasswordEvent {
    /// An invalid row, for the sink.
    Invalid(SourceError),
    /// The index is built (and published) or the export is unreadable.
    Done(Result<(), SourceError>),
}

/// Indexes the password export at `path` on its own thread; the index is published in
/// `cell`, invalid rows and the end come through the returned channel.
fn spawn_password_index<'scope>(
    scope: &'scope Scope<'scope, '_>,
    path: &'scope Path,
    cell: &'scope OnceLock<Option<PasswordIndex>>,
) -> Receiver<PasswordEvent> {
    // Bounded: a file of nothing but invalid rows must not pile up in memory.
    let (tx, rx) = sync_channel(1024);
    scope.spawn(move || {
        /// Publishes "no index" if the thread ends without publishing one, so that workers
        /// waiting for it always go on (and the calling thread reports why).
        struct Unblock<'a>(&'a OnceLock<Option<PasswordIndex>>);
        impl Drop for Unblock<'_> {
            fn drop(&mut self) {
                let _ = self.0.set(None);
            }
        }
        let unblock = Unblock(cell);
        // A send fails only when the caller stopped listening; nothing is left to tell then.
        let result = passwords::load(path, &mut |err| {
            let _ = tx.send(PasswordEvent::Invalid(err));
        });
        let done = result.map(|index| {
            let _ = cell.set(Some(index));
        });
        drop(unblock);
        let _ = tx.send(PasswordEvent::Done(done));
    });
    rx
}

/// Starts the threads that read, parse, convert and join the users of an NDJSON file; the
/// results come in file order, one block of lines at a time.
fn spawn_user_workers<'scope>(
    scope: &'scope Scope<'scope, '_>,
    mut blocks: super::json_records::NdjsonBlocks,
    cell: &'scope OnceLock<Option<PasswordIndex>>,
) -> Ordered<Result<Vec<(u64, std::io::Result<Joined>)>, ReadFailure>> {
    let produce = move || blocks.next_block(BLOCK_BYTES);
    let work = move |cache: &mut SpoolCache, block: Result<LineBlock, ReadFailure>| {
        let block = block?;
        // Parse and convert before waiting for the password index: that is the work that
        // overlaps with indexing.
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
                break; // the calling thread ends the read here
            }
        }
        Ok(joined)
    };
    pipeline::spawn(scope, pipeline::workers(), produce, work)
}

/// A user record, parsed and converted, before the password join.
enum Parsed {
    Converted(Outcome),
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
enum Joined {
    Identity {
        identity: Box<Identity>,
        /// It received a hash.
        matched: bool,
    },
    Skipped {
        external_id: String,
    },
    Invalid {
        external_id: Option<String>,
        message: String,
    },
}

/// Joins a record to its password row. Every record with a `user_id` claims its row, even
/// one that is skipped or invalid: the row found its user, so it is not "unmatched".
fn join(
    parsed: Parsed,
    index: Option<&PasswordIndex>,
    cache: &mut SpoolCache,
) -> std::io::Result<Joined> {
    let claim = |id: &str, cache: &mut SpoolCache| match index {
        Some(index) => index.claim(id, cache),
        None => Ok(Claim::None),
    };
    Ok(match parsed {
        Parsed::Unreadable { message, id_hint } => Joined::Invalid {
            external_id: id_hint,
            message,
        },
        Parsed::Converted(Outcome::Identity(mut identity)) => {
            let matched = match claim(identity.external_id.as_str(), cache)? {
                Claim::Hash(hash) => {
                    identity.password = Some(PasswordHash::Bcrypt(hash));
                    true
                }
                Claim::Rejected(row) => {
                    identity.password_unsupported = Some(format!(
                        "its row in the password-hash export is invalid ({row})"
                    ));
                    false
                }
                Claim::None => false,
            };
            Joined::Identity { identity, matched }
        }
        Parsed::Converted(Outcome::Skipped { external_id }) => {
            claim(&external_id, cache)?;
            Joined::Skipped { external_id }
        }
        Parsed::Converted(Outcome::Invalid {
            external_id,
            message,
        }) => {
            if let Some(id) = &external_id {
                claim(id, cache)?;
            }
            Joined::Invalid {
                external_id,
                message,
            }
        }
    })
}

/// Counts a record and hands it to the sink.
fn emit(joined: Joined, location: Location, stats: &mut ReadStats, sink: &mut dyn FnMut(UserItem)) {
    stats.records += 1;
    match joined {
        Joined::Identity { identity, matched } => {
            stats.passwords_matched += u64::from(matched);
            stats.identities += 1;
            sink(UserItem::Identity(identity, location));
        }
        Joined::Skipped { external_id } => {
            stats.skipped += 1;
            sink(UserItem::Skipped(Skipped {
                location,
                external_id: Some(external_id),
                reason: SkipReason::NoEmail,
            }));
        }
        Joined::Invalid {
            external_id,
            message,
        } => {
            stats.invalid += 1;
            sink(UserItem::Invalid(SourceError::new(
                location,
                external_id,
                message,
            )));
        }
    }
}

/// The password index could not be read back while joining the record at `location`.
fn spool_read_error(location: &Location, err: std::io::Error) -> SourceError {
    SourceError::new(
        location.clone(),
        None,
        format!("password-hash export: cannot read the temporary password index: {err}"),
    )
}
