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

//! The pieces: `index` (the builder and the finished index), `table` (fingerprint → spool
//! offset, in memory) and `spool` (the records on disk and each thread's read window); this
//! file reads the rows and holds the join rule.

mod index;
mod spool;
mod table;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::io;
use std::path::Path;

use serde_json::Value;

pub(super) use index::{IndexBuilder, PasswordIndex};
pub(super) use spool::SpoolCache;

use super::export::{Field, Slots};
use super::fast;
use crate::model::Secret;
#[cfg(test)]
use crate::sources::json_records::{OpenJson, open_json_records};
use crate::sources::json_records::{ReadFailure, no_id_key, parse_record_line};
use crate::sources::{Location, SourceError};
#[cfg(test)]
use table::Fingerprint;

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
pub(super) const BCRYPT_LEN: usize = 60;

/// What a user's lookup found.
pub(super) enum Claim {
    /// No row for this user.
    None,
    /// The user's bcrypt hash.
    Hash(Secret),
    /// The user's row was invalid; the location says where, for the password-hash report.
    Rejected(Location),
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
pub(super) fn parse_row(entries: Vec<(String, Value)>) -> RowResult {
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
