//! Manifest errors, each naming the file and, where known, the line and column.

use std::path::PathBuf;

/// A problem with the manifest. `Display` reads ``path:LINE:COL: message``.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest `{}`", path.display())]
    Read {
        /// The manifest.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Syntax, unknown key, wrong type, bad interpolation or a failed check.
    #[error("{}{}: {message}", path.display(), position(*line, *column))]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// 1-based line.
        line: Option<usize>,
        /// 1-based column.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// 1-based line and column of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

/// Finds where `needle` first occurs in `text`, as 1-based line and column.
pub(crate) fn find_position(text: &str, needle: &str) -> (Option<usize>, Option<usize>) {
    match text.find(needle) {
        Some(offset) => {
            let (l, c) = line_col(text, offset);
            (Some(l), Some(c))
        }
        None => (None, None),
    }
}
