//! Why no plan could be made: the errors of [`super::build`], with the messages that say what
//! to do about each.

use super::super::SkippedRecord;
use super::super::file::PlanFileError;
use crate::render::escape::terminal;
use crate::sources::SourceError;

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A source file could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Records failed validation and `on_invalid = "fail"`.
    #[error("{} invalid record(s); nothing was planned:\n{}{}", total, errors.join("\n"), more(*total, errors.len()))]
    InvalidRecords {
        /// The first messages.
        errors: Vec<String>,
        /// How many in all.
        total: u64,
    },
    /// More deletes than `max_deletes` allows.
    #[error(
        "the plan would delete {deletes} objects, more than max_deletes = {max} allows (raise [policy] max_deletes, or pass --max-deletes {deletes} after reviewing it)"
    )]
    TooManyDeletes {
        /// Planned deletes.
        deletes: u64,
        /// The limit.
        max: u64,
    },
    /// A file could not be fingerprinted.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The plan file could not be written.
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    /// A source file is not the one the manifest pins.
    #[error(
        "`{path}` (source `{source_name}`) has SHA-256 {actual}, but {manifest} pins {pinned}; nothing was read. If this export is the one to migrate, check it and run `avnology-migrate pin -m {manifest}`"
    )]
    PinMismatch {
        /// The file.
        path: String,
        /// Its source.
        source_name: String,
        /// The manifest.
        manifest: String,
        /// The pinned digest.
        pinned: String,
        /// The file's digest.
        actual: String,
    },
    /// The live index's temporary file failed.
    #[error("cannot hold the live identities in a temporary file")]
    LiveIndex(#[source] std::io::Error),
    /// `--only` names what the manifest does not declare.
    #[error("--only names what the manifest does not declare; nothing was planned:\n{}", .0.join("\n"))]
    UnknownAddresses(Vec<String>),
    /// `--only` with `--destroy`.
    #[error("--only cannot be combined with --destroy: a partial plan never deletes")]
    PartialDestroy,
}

fn more(total: u64, shown: usize) -> String {
    if total > shown as u64 {
        format!("\n… and {} more", total - shown as u64)
    } else {
        String::new()
    }
}

/// How many invalid-record messages an error lists before counting the rest.
pub(super) const MAX_LISTED_ERRORS: usize = 50;

/// One line of [`PlanError::InvalidRecords`]: the values are escaped here because the
/// message keeps its own line breaks, so a newline in an id or a reason would forge a line.
pub(super) fn describe_invalid(r: &SkippedRecord) -> String {
    let (location, reason) = (terminal(&r.location), terminal(&r.reason));
    match &r.external_id {
        Some(id) => format!("  {location}, external_id `{}`: {reason}", terminal(id)),
        None => format!("  {location}: {reason}"),
    }
}
