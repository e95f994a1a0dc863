//! Auth0 users: the export job's file (NDJSON, plain or gzip, or the same records as a JSON
//! array) joined with the optional password-hash export from a support ticket.
//!
//! This module owns the order of work and the counts: the password export is indexed first
//! (it is small: database users only), then the users file is streamed one record at a time
//! and each record leaves as a [`UserItem`] before the next is read. The pieces are `export`
//! (the file's raw records), `convert` (raw record → identity, per DESIGN.md section 4) and
//! `passwords` (the hash export and its join rule); the container (NDJSON or JSON array, gzip,
//! BOM, line numbers) is [`json_records`](super::json_records)' business.

pub mod clients;
mod convert;
mod export;
mod passwords;

#[cfg(test)]
mod tests;

use std::path::Path;

use convert::Outcome;
use export::{RawUser, is_user_id_key};
use passwords::{Claim, PasswordIndex};

use super::json_records::read_json_records;
use super::{SkipReason, Skipped, SourceError, UserItem};
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
/// on.
pub fn read_users(
    users: &Path,
    passwords: Option<&Path>,
    sink: &mut dyn FnMut(UserItem),
) -> Result<ReadStats, SourceError> {
    let mut stats = ReadStats::default();
    let mut index = match passwords {
        Some(path) => passwords::load(path, &mut |err| sink(UserItem::Invalid(err)))?,
        None => PasswordIndex::default(),
    };
    stats.password_rows = index.loaded;
    stats.password_rows_invalid = index.invalid;

    read_json_records(users, is_user_id_key, &mut |record| {
        stats.records += 1;
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
        match convert::convert(RawUser::from_entries(entries)) {
            Outcome::Identity(mut identity) => {
                match index.claim(identity.external_id.as_str()) {
                    Claim::Hash(hash) => {
                        identity.password = Some(PasswordHash::Bcrypt(hash));
                        stats.passwords_matched += 1;
                    }
                    Claim::Rejected(row) => {
                        identity.password_unsupported = Some(format!(
                            "its row in the password-hash export is invalid ({row})"
                        ));
                    }
                    Claim::None => {}
                }
                stats.identities += 1;
                sink(UserItem::Identity(identity, location));
            }
            Outcome::Skipped { external_id } => {
                // The row (if any) found its user; it is just not usable.
                index.claim(&external_id);
                stats.skipped += 1;
                sink(UserItem::Skipped(Skipped {
                    location,
                    external_id: Some(external_id),
                    reason: SkipReason::NoEmail,
                }));
            }
            Outcome::Invalid {
                external_id,
                message,
            } => {
                if let Some(id) = &external_id {
                    index.claim(id);
                }
                stats.invalid += 1;
                sink(UserItem::Invalid(SourceError::new(
                    location,
                    external_id,
                    message,
                )));
            }
        }
    })?;

    stats.passwords_unmatched = index.unclaimed();
    Ok(stats)
}
