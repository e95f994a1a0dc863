//! Amazon Cognito users: the output of `aws cognito-idp list-users` — one document
//! `{"Users": [...], "PaginationToken": ...}`, or several such pages appended to one file
//! (Cognito has no bulk export, so people page and append) — plain or gzip, streamed record by
//! record. A bare array of users (`jq '.Users'`) is read too.
//!
//! This module owns the order of work and the counts; `convert` maps a record (DESIGN.md
//! section 4) and the documents are [`json_records`](super::json_records)' business. Cognito
//! never exports password hashes: every identity comes without a password, so the plan's
//! password-hash report counts the users that must reset (everyone without a linked provider).

pub mod clients;
mod convert;

#[cfg(test)]
mod tests;

use std::path::Path;

use convert::is_username_key;

use super::json_records::read_json_records_in;
use super::record::{Outcome, convert_or_invalid};
use super::{SourceError, UserItem};

/// What a read found, beyond the items themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// `list-users` pages (documents) read; 0 for a bare array.
    pub pages: u64,
    /// User records read (identities, skipped and invalid together).
    pub records: u64,
    /// Records that became identities.
    pub identities: u64,
    /// Users without an email skipped.
    pub skipped: u64,
    /// Records reported invalid.
    pub invalid: u64,
    /// Identities with linked (federated) providers, which need no password reset.
    pub federated: u64,
}

/// Reads the Cognito `list-users` output at `path` and hands every user to `sink`.
///
/// # Errors
///
/// Only for problems that make the file unreadable: it cannot be opened, its gzip stream is
/// broken, an I/O error, or a page that is malformed, cut off, or has no `Users` array (the
/// error names the line and the record reached). Problems with single users are
/// [`UserItem::Invalid`] items, and reading goes on.
pub fn read_users(path: &Path, sink: &mut dyn FnMut(UserItem)) -> Result<ReadStats, SourceError> {
    let mut stats = ReadStats::default();
    let summary = read_json_records_in(path, "Users", is_username_key, &mut |record| {
        stats.records += 1;
        // A record that broke before its `sub` could be read is named by its `Username`,
        // the only name it has.
        let outcome = convert_or_invalid(record.entries, record.id_hint, convert::convert);
        match &outcome {
            Outcome::Converted(identity) => {
                stats.identities += 1;
                if !identity.linked_providers.is_empty() {
                    stats.federated += 1;
                }
            }
            Outcome::Skipped { .. } => stats.skipped += 1,
            Outcome::Invalid { .. } => stats.invalid += 1,
        }
        sink(outcome.into_item(record.location));
    })?;
    stats.pages = summary.documents;
    Ok(stats)
}
