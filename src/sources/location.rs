//! Where a record is, and what is wrong with it. Both print through
//! [`terminal`](crate::render::escape::terminal): paths, ids and messages quote export data,
//! and these lines reach terminals, plans and error messages.

use std::fmt;
use std::path::PathBuf;

use crate::render::escape::terminal;

/// The position of a record in an export file: the file, the 1-based line where the record
/// starts (for line-oriented formats and pretty-printed JSON), and its 0-based index among
/// the file's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The export file.
    pub file: PathBuf,
    /// 1-based line, where known.
    pub line: Option<u64>,
    /// 0-based record index.
    pub index: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", terminal(&self.file.display().to_string()))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, " (record {})", self.index + 1)
    }
}

/// A problem with a source file or one of its records. `Display` reads
/// ``path:LINE (record N), external_id `ID`: message``; it never includes secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SourceError {
    /// Where.
    pub location: Location,
    /// The record's provider id, when it could be read.
    pub external_id: Option<String>,
    /// What is wrong, without secret values.
    pub message: String,
}

impl SourceError {
    /// A problem with the record at `location`.
    pub fn new(
        location: Location,
        external_id: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            location,
            external_id,
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location)?;
        if let Some(id) = &self.external_id {
            write!(f, ", external_id `{}`", terminal(id))?;
        }
        write!(f, ": {}", terminal(&self.message))
    }
}
