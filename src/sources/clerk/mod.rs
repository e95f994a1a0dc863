//! Clerk users: the dashboard CSV export (the only one with password digests and TOTP
//! secrets), the `{"data": [...]}` JSON of Avnology's guide and the Backend API, and the older
//! support-ticket JSON array — plain or gzip, told apart by content (`{` or `[` first is JSON).
//!
//! This module owns the order of work and the counts. The pieces are `csv_file` and `json`
//! (each shape into a `Draft`), `draft` (choosing the primary email and phone the same
//! way for every shape) and `convert` (draft → identity, DESIGN.md section 4, including the
//! password hashers); the JSON container is [`json_records`](super::json_records)' business.

pub mod clients;
mod convert;
mod csv_file;
mod draft;
mod json;

#[cfg(test)]
mod tests;

use std::path::Path;

use super::json_records::{first_content_byte, read_json_records_in};
use super::record::{Outcome, convert_or_invalid};
use super::{Location, SourceError, UserItem};
use crate::model::PasswordHash;

/// What a read found, beyond the items themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// User records read (identities, skipped and invalid together).
    pub records: u64,
    /// Records that became identities.
    pub identities: u64,
    /// Users without an email skipped.
    pub skipped: u64,
    /// Records reported invalid.
    pub invalid: u64,
    /// Identities with a bcrypt hash.
    pub bcrypt: u64,
    /// Identities with a Firebase scrypt hash (`scrypt_firebase`).
    pub firebase_scrypt: u64,
    /// Identities whose hasher Avnology cannot verify (named in `password_unsupported`).
    pub unsupported_hashers: u64,
}

/// Reads the Clerk users export at `path` and hands every user to `sink`.
///
/// # Errors
///
/// Only for problems that make the file unreadable: it cannot be opened, its gzip stream is
/// broken, an I/O error, a CSV header without one of the 13 dashboard columns (the error
/// names it), or a JSON document that is malformed, cut off, or has no `data` array. Problems
/// with single users are [`UserItem::Invalid`] items, and reading goes on.
pub fn read_users(path: &Path, sink: &mut dyn FnMut(UserItem)) -> Result<ReadStats, SourceError> {
    let mut stats = ReadStats::default();
    match first_content_byte(path)? {
        None => {}
        Some(b'{' | b'[') => {
            read_json_records_in(path, "data", json::is_id_key, &mut |record| {
                let draft = record.entries.map(json::draft);
                emit(record.location, record.id_hint, draft, &mut stats, sink);
            })?;
        }
        Some(_) => {
            csv_file::read(path, &mut |row| {
                emit(row.location, row.id_hint, row.draft, &mut stats, sink);
            })?;
        }
    }
    Ok(stats)
}

fn emit(
    location: Location,
    id_hint: Option<String>,
    draft: Result<draft::Draft, String>,
    stats: &mut ReadStats,
    sink: &mut dyn FnMut(UserItem),
) {
    stats.records += 1;
    let outcome = convert_or_invalid(draft, id_hint, convert::convert);
    match &outcome {
        Outcome::Converted(identity) => {
            stats.identities += 1;
            match &identity.password {
                Some(PasswordHash::Bcrypt(_)) => stats.bcrypt += 1,
                Some(PasswordHash::FirebaseScrypt { .. }) => stats.firebase_scrypt += 1,
                None if identity.password_unsupported.is_some() => stats.unsupported_hashers += 1,
                None => {}
            }
        }
        Outcome::Skipped { .. } => stats.skipped += 1,
        Outcome::Invalid { .. } => stats.invalid += 1,
    }
    sink(outcome.into_item(location));
}
