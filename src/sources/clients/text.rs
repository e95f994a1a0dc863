//! Reading a client export whole. Client exports are small (a tenant has tens or hundreds of
//! applications, not millions of users), and two of their formats need the whole text:
//! deploy-cli files are filled with keywords before they are parsed, and Cognito's
//! `describe-user-pool-client` documents are parsed as a stream of pretty-printed values. A
//! size cap keeps a wrong path (a users export) from being read into memory whole.

use std::io::Read;
use std::path::Path;

use crate::sources::json_records::open_without_bom;
use crate::sources::{Location, SourceError};

/// Largest client export read whole: far above any real tenant's clients, far below a users
/// export.
pub(crate) const MAX_TEXT_BYTES: u64 = 64 * 1024 * 1024;

/// The text of `path` (gzip or not, BOM dropped).
///
/// # Errors
///
/// When it cannot be opened or read, is larger than [`MAX_TEXT_BYTES`], or is not UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String, SourceError> {
    let at_start = || Location {
        file: path.to_path_buf(),
        line: None,
        index: 0,
    };
    let reader = open_without_bom(path)?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::new(at_start(), None, format!("cannot read export: {e}")))?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        return Err(SourceError::new(
            at_start(),
            None,
            format!(
                "the file is larger than {} MiB, which no client export is; is `path` a users \
                 export?",
                MAX_TEXT_BYTES / (1024 * 1024)
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let line = line_at(e.as_bytes(), e.utf8_error().valid_up_to());
        SourceError::new(
            Location {
                line: Some(line),
                ..at_start()
            },
            None,
            "the file is not UTF-8 text",
        )
    })
}

/// The 1-based line of byte `offset` in `bytes`.
pub(crate) fn line_at(bytes: &[u8], offset: usize) -> u64 {
    let end = offset.min(bytes.len());
    crate::sources::json_records::count_byte(&bytes[..end], b'\n') + 1
}

/// The 1-based line of the first character that is not whitespace (line 1 for blank text).
pub(crate) fn first_content_line(text: &str) -> u64 {
    let offset = text.len() - text.trim_start().len();
    line_at(text.as_bytes(), offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_at(b"a\nb\nc", 0), 1);
        assert_eq!(line_at(b"a\nb\nc", 2), 2);
        assert_eq!(line_at(b"a\nb\nc", 99), 3);
        assert_eq!(first_content_line("\n\n  {\"a\": 1}"), 3);
        assert_eq!(first_content_line(""), 1);
    }

    #[test]
    fn oversized_and_non_utf8_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.json");
        std::fs::write(&path, b"{\n\"a\": \"\xff\"}").expect("write");
        let err = read_text(&path).unwrap_err();
        assert_eq!(err.message, "the file is not UTF-8 text");
        assert_eq!(err.location.line, Some(2));
        std::fs::write(&path, "\u{feff}{}").expect("write");
        assert_eq!(read_text(&path).expect("text"), "{}");
    }
}
