//! Firebase Auth users: the file `firebase auth:export` writes, as JSON (one document
//! `{"users": [...]}`, pretty-printed, streamed element by element) or as header-less CSV
//! (28 or 52 values per line plus a trailing comma), plain or gzip.
//!
//! This module owns the order of work, the duplicate check and the counts. Older CLIs
//! repeated pages while exporting, so the same `localId` can appear twice: an identical
//! repeat is dropped with a warning, a repeat with different content is an invalid record that
//! names both places. Only a short digest per id is remembered, never the records. The pieces
//! are `export` (a record's raw fields), `csv_file` (CSV lines into the same raw fields),
//! `convert` (raw user → identity, DESIGN.md section 4) and `hash` (base64 in both alphabets,
//! normalised for the model); the JSON container is [`json_records`](super::json_records)'
//! business. Passwords need the project's hash parameters from the manifest
//! (`[users.firebase_hash]`); without them a user with a hash is migrated without it and
//! reported in the password-hash report.

mod convert;
mod csv_file;
mod export;
pub(crate) mod hash;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use export::{RawUser, is_local_id_key};

use super::json_records::fields::Field;
use super::json_records::{JsonRecord, first_content_byte, read_json_records_in};
use super::record::Outcome;
use super::{Location, SkipReason, SourceError, UserItem};
use crate::model::FirebaseHashParams;

/// What a read found, beyond the items themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// User records read (every record, including dropped duplicates; blank lines and a CSV
    /// header row excluded).
    pub records: u64,
    /// Records that became identities.
    pub identities: u64,
    /// Anonymous users skipped.
    pub anonymous: u64,
    /// Users without an email skipped (phone-only and social users without an email).
    pub no_email: u64,
    /// Records reported invalid (including duplicates with different content).
    pub invalid: u64,
    /// Identical repeats of an earlier record, dropped with a warning.
    pub duplicates_dropped: u64,
    /// Identities that carry a Firebase scrypt hash.
    pub password_hashes: u64,
    /// Identities whose hash could not be carried because the manifest has no
    /// `[users.firebase_hash]` parameters.
    pub hashes_without_params: u64,
}

/// Reads the Firebase users export at `path` and hands every record to `sink`. `hash` holds
/// the project's password-hash parameters from the manifest, which the export does not
/// contain.
///
/// JSON or CSV is decided by content: a file whose first character (after a BOM and
/// whitespace) is `{` or `[` is JSON, anything else is the header-less CSV.
///
/// # Errors
///
/// Only for problems that make the file unreadable: it cannot be opened, its gzip stream is
/// broken, an I/O error, or a JSON document that is malformed or cut off (the error names the
/// line and the record reached). Problems with single records are [`UserItem::Invalid`] items,
/// and reading goes on.
pub fn read_users(
    path: &Path,
    hash: Option<&FirebaseHashParams>,
    sink: &mut dyn FnMut(UserItem),
) -> Result<ReadStats, SourceError> {
    let mut stats = ReadStats::default();
    let mut seen = Seen::default();
    let mut handle = |record: JsonRecord| {
        stats.records += 1;
        handle_record(path, record, hash, &mut seen, &mut stats, sink);
    };
    match first_content_byte(path)? {
        None => {}
        Some(b'{' | b'[') => {
            read_json_records_in(path, "users", is_local_id_key, &mut handle)?;
        }
        Some(_) => {
            csv_file::read(path, &mut handle)?;
        }
    }
    Ok(stats)
}

/// Where a `localId` was first seen, and a digest of that record's content.
struct FirstSeen {
    digest: [u8; 16],
    line: Option<u64>,
    index: u64,
}

/// Every `localId` read so far. Memory grows with the number of users (an id and 32 bytes
/// each), never with their records.
#[derive(Default)]
struct Seen {
    ids: HashMap<String, FirstSeen>,
}

fn handle_record(
    path: &Path,
    record: JsonRecord,
    hash: Option<&FirebaseHashParams>,
    seen: &mut Seen,
    stats: &mut ReadStats,
    sink: &mut dyn FnMut(UserItem),
) {
    let location = record.location;
    let entries = match record.entries {
        Ok(entries) => entries,
        Err(message) => {
            stats.invalid += 1;
            sink(UserItem::Invalid(SourceError::new(
                location,
                record.id_hint,
                message,
            )));
            return;
        }
    };
    let digest = digest(&entries);
    let raw = RawUser::from_entries(entries);

    if let Field::Present(id) = &raw.local_id
        && !id.trim().is_empty()
    {
        match seen.ids.entry(id.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(FirstSeen {
                    digest,
                    line: location.line,
                    index: location.index,
                });
            }
            Entry::Occupied(first) => {
                let first = first.get();
                let first_at = Location {
                    file: path.to_path_buf(),
                    line: first.line,
                    index: first.index,
                };
                if first.digest == digest {
                    stats.duplicates_dropped += 1;
                    sink(UserItem::Warning(SourceError::new(
                        location,
                        Some(id.clone()),
                        format!(
                            "identical repeat of the record at {first_at}, dropped (older \
                             `firebase auth:export` versions repeated pages)"
                        ),
                    )));
                } else {
                    stats.invalid += 1;
                    sink(UserItem::Invalid(SourceError::new(
                        location,
                        Some(id.clone()),
                        format!(
                            "`localId` is also the id of the record at {first_at}, with \
                             different content; keep one of the two records"
                        ),
                    )));
                }
                return;
            }
        }
    }

    let outcome = convert::convert(raw, hash);
    match &outcome {
        Outcome::Converted(identity) => {
            stats.identities += 1;
            if identity.password.is_some() {
                stats.password_hashes += 1;
            } else if identity.password_unsupported.is_some() {
                stats.hashes_without_params += 1;
            }
        }
        Outcome::Skipped { reason, .. } => match reason {
            SkipReason::Anonymous => stats.anonymous += 1,
            SkipReason::NoEmail => stats.no_email += 1,
            // Client reasons: the Firebase users reader never produces them.
            SkipReason::GlobalClient | SkipReason::ClientAppType(_) => {}
        },
        Outcome::Invalid { .. } => stats.invalid += 1,
    }
    sink(outcome.into_item(location));
}

/// A digest of a record's entries in file order: equal for byte-identical repeats.
fn digest(entries: &[(String, Value)]) -> [u8; 16] {
    let mut h = Sha256::new();
    for (key, value) in entries {
        h.update(key.as_bytes());
        h.update([0]);
        h.update(value.to_string().as_bytes());
        h.update([0]);
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}
