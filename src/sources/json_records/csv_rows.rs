//! CSV rows with the line each one starts on, for the CSV exports (Clerk's dashboard CSV,
//! Firebase's header-less CSV). The `csv` crate's record positions lag behind after blank lines
//! and CRLF terminators, and a diagnostic that points at the wrong line is worse than none, so
//! this module finds the rows itself: it reads the file line by line, joins lines while a
//! quoted field is open (an odd number of `"` so far; escaped quotes come in pairs), skips
//! blank lines, and hands each row's bytes to the `csv` crate to split into fields.
//!
//! A row is capped at [`MAX_ROW_BYTES`]: a stray quote must not pull the rest of a
//! multi-gigabyte file into memory. An over-long row comes back marked, and reading goes on
//! with the next line.

use std::io::BufRead;
use std::path::Path;

use super::open_without_bom;
use crate::sources::{ExportReader, Location, SourceError};

/// The longest row kept whole. Real rows are well under a kilobyte.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// One row of a CSV file. Its `Debug` shows the line and the number of fields, never their
/// values: a row of a Clerk export holds a password digest and a TOTP secret.
pub struct CsvRow {
    /// The 1-based line the row starts on.
    pub line: u64,
    /// The row's fields, unquoted. Values may be secret; `ByteRecord`'s own `Debug` shows
    /// them, so print the row, not its fields.
    pub fields: csv::ByteRecord,
    /// The row had an unbalanced quote and was cut at [`MAX_ROW_BYTES`]; its fields are not
    /// trustworthy.
    pub too_long: bool,
}

impl std::fmt::Debug for CsvRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRow")
            .field("line", &self.line)
            .field("fields", &self.fields.len())
            .field("too_long", &self.too_long)
            .finish()
    }
}

/// Streams the rows of a CSV file (plain or gzip, BOM dropped).
pub struct CsvRows {
    path: std::path::PathBuf,
    reader: ExportReader,
    /// Lines read so far.
    line: u64,
    /// Rows handed out so far.
    rows: u64,
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl CsvRows {
    /// Opens `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or read.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Ok(Self {
            path: path.to_path_buf(),
            reader: open_without_bom(path)?,
            line: 0,
            rows: 0,
            buf: Vec::new(),
            chunk: Vec::new(),
        })
    }

    /// The next non-blank row, or `None` at the end of the file.
    ///
    /// # Errors
    ///
    /// An I/O error or a broken gzip stream, naming the line reached.
    pub fn next_row(&mut self) -> Result<Option<CsvRow>, SourceError> {
        self.buf.clear();
        let mut start = 0;
        let mut quotes = 0usize;
        let mut too_long = false;
        loop {
            self.chunk.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.chunk)
                .map_err(|e| {
                    let location = Location {
                        file: self.path.clone(),
                        line: Some(self.line + 1),
                        index: self.rows,
                    };
                    SourceError::new(location, None, format!("cannot read export: {e}"))
                })?;
            if read == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                // End of file inside an open quote: the csv parser makes what it can of it.
                break;
            }
            self.line += 1;
            if self.buf.is_empty() {
                if self.chunk.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                start = self.line;
            }
            quotes += super::count_byte(&self.chunk, b'"') as usize;
            if self.buf.len() + self.chunk.len() > MAX_ROW_BYTES {
                too_long = true;
                break;
            }
            self.buf.extend_from_slice(&self.chunk);
            if quotes.is_multiple_of(2) {
                break;
            }
        }
        self.rows += 1;
        Ok(Some(CsvRow {
            line: start,
            fields: split(&self.buf),
            too_long,
        }))
    }
}

/// Splits one row's bytes into fields. Only the final line terminator ends the row: a CR or
/// LF inside a quoted field is data.
fn split(row: &[u8]) -> csv::ByteRecord {
    let row = row.strip_suffix(b"\n").unwrap_or(row);
    let row = row.strip_suffix(b"\r").unwrap_or(row);
    // The input is one row already in memory: a buffer the size of the row is enough.
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(row.len() + 1)
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(row);
    let mut record = csv::ByteRecord::new();
    let mut fields = csv::ByteRecord::new();
    // Reading from a slice cannot fail with I/O errors, and a flexible reader of bytes has
    // no other errors; a bare `\n` cannot be left in `row` outside quotes, so this is one
    // record, but stay correct if it is not: keep every field in order.
    while let Ok(true) = reader.read_byte_record(&mut record) {
        for field in &record {
            fields.push_field(field);
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(bytes: &[u8]) -> Vec<(u64, Vec<String>, bool)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.csv");
        std::fs::write(&path, bytes).expect("write");
        let mut rows = CsvRows::open(&path).expect("open");
        let mut out = Vec::new();
        while let Some(row) = rows.next_row().expect("readable") {
            let fields = row
                .fields
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((row.line, fields, row.too_long));
        }
        out
    }

    #[test]
    fn lines_are_exact_across_blank_lines_crlf_and_quoted_newlines() {
        let text = b"\xEF\xBB\xBFa,b\r\n\r\n  \r\n\"x\r\ny\",\"q\"\"\"\r\nc,d\n\nlast,\"\"";
        assert_eq!(
            rows(text),
            [
                (1, vec!["a".into(), "b".into()], false),
                (4, vec!["x\r\ny".into(), "q\"".into()], false),
                (6, vec!["c".into(), "d".into()], false),
                (8, vec!["last".into(), String::new()], false),
            ]
        );
    }

    #[test]
    fn debug_shows_no_values() {
        let row = CsvRow {
            line: 3,
            fields: csv::ByteRecord::from(vec!["user_1", "$2b$10$secret"]),
            too_long: false,
        };
        let shown = format!("{row:?}");
        assert!(
            !shown.contains("secret") && shown.contains("fields: 2"),
            "{shown}"
        );
    }

    #[test]
    fn an_unbalanced_quote_is_cut_off_not_slurped() {
        let mut text = b"\"open,1\n".to_vec();
        for _ in 0..(MAX_ROW_BYTES / 16 + 2) {
            text.extend_from_slice(b"0123456789abcde\n");
        }
        let rows = rows(&text);
        assert!(rows[0].2, "first row cut");
        assert!(rows.len() > 1, "reading goes on after the cut");
    }
}
