//! Streaming JSON records out of an export file, one object at a time, whatever the container:
//! NDJSON (what Auth0's export job writes) or a JSON array of the same objects (what
//! Auth0's import expects, and what people produce with `jq -s`) through
//! [`read_json_records`]; or the elements of a named array inside one or more top-level
//! documents (Firebase's `{"users": [...]}`, Clerk's `{"data": [...]}`, Cognito's appended
//! `{"Users": [...]}` pages) through [`read_json_records_in`]. [`fields`] reads a record's
//! entries by meaning, whatever the spelling of their keys.
//!
//! This module owns the container, not the record: it opens the file (gzip or not), tolerates a
//! UTF-8 BOM, CRLF and blank lines, finds where each record starts (file, line, index) and hands
//! each record over as its ordered key/value entries. What the keys mean is the provider
//! reader's business. It never holds more than one record in memory.
//!
//! Errors are split the way the source contract wants them: a record that is not valid JSON or
//! not an object is a per-record problem ([`JsonRecord::entries`] is `Err`), and reading goes
//! on with the next line; only problems that leave the rest of the file unreadable (cannot
//! open, broken gzip, I/O, a syntax error inside a JSON array) end the read with
//! [`SourceError`]. Messages never quote record values: JSON syntax errors say what was
//! expected and where, and non-object records say what kind of value was found.
//!
//! Readers that parse records themselves (the Auth0 reader's typed fast path, on several
//! threads) open the file with [`open_json_records`] instead: it detects the container the same
//! way and hands over NDJSON as [`NdjsonBlocks`] of whole, numbered lines, with
//! [`parse_record_line`] as the general path for any line, and a JSON array as
//! [`ArrayRecords`], streamed like [`read_json_records`] streams it.

mod array;
mod blocks;
mod csv_rows;
mod documents;
pub mod fields;
mod ndjson;
mod object;

use std::io::{self, BufRead, Cursor, Read};
use std::path::Path;

use serde_json::Value;

pub use blocks::{BLOCK_BYTES, LineBlock, NdjsonBlocks, NdjsonLine, ReadFailure, count_byte};
pub use csv_rows::{CsvRow, CsvRows, MAX_ROW_BYTES};
pub use ndjson::{Entries, parse_record_line, trim_line};

use super::{ExportReader, Location, SourceError, open_export};

/// Decides whether a raw key holds the record's id. The id is captured as soon as its value has
/// been parsed, so a record that breaks later (a truncated last line) can still be reported
/// with its external id.
pub type IdKey = fn(&str) -> bool;

/// An id predicate for files whose records have no simple string id.
pub fn no_id_key(_: &str) -> bool {
    false
}

/// The container a file turned out to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonFormat {
    /// One JSON value per line.
    Ndjson,
    /// A single JSON array of records.
    Array,
    /// One or more top-level objects, each holding the records in a named array
    /// ([`read_json_records_in`]).
    Documents,
}

/// One record of a JSON export. Its `Debug` shows keys but no values: a record of a
/// password export holds a hash.
pub struct JsonRecord {
    /// Where the record starts.
    pub location: Location,
    /// The object's entries in file order, duplicates kept (key normalisation may make two
    /// different keys the same field, and the reader decides what that means); or why the
    /// record is not a JSON object, as a message that quotes no values.
    pub entries: Result<Vec<(String, Value)>, String>,
    /// The id captured while parsing (see [`IdKey`]), also when the record then failed.
    pub id_hint: Option<String>,
}

impl std::fmt::Debug for JsonRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries: Result<Vec<&str>, &str> = match &self.entries {
            Ok(entries) => Ok(entries.iter().map(|(k, _)| k.as_str()).collect()),
            Err(message) => Err(message),
        };
        f.debug_struct("JsonRecord")
            .field("location", &self.location)
            .field("keys", &entries)
            .field("id_hint", &self.id_hint)
            .finish()
    }
}

/// What a whole read saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonSummary {
    /// The container; `None` for a file with nothing but whitespace.
    pub format: Option<JsonFormat>,
    /// Records handed to the sink.
    pub records: u64,
}

/// What a read of records inside documents saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentsSummary {
    /// [`JsonFormat::Documents`], or [`JsonFormat::Array`] for a file that is a bare array of
    /// records (what `jq '.users'` leaves); `None` for a file with nothing but whitespace.
    pub format: Option<JsonFormat>,
    /// Top-level documents read (0 for a bare array).
    pub documents: u64,
    /// Records handed to the sink.
    pub records: u64,
}

/// Streams the elements of the array named `array_key` (matched after
/// [`fields::normalise_key`], so `users` also finds `Users`) in every top-level object of
/// `path` to `sink`. The file may hold several such objects one after the other (pages
/// appended to one file), with or without whitespace between them; a file that is a bare JSON
/// array is read as the records themselves.
///
/// # Errors
///
/// As for [`read_json_records`], plus: a top-level object without the named array, or with
/// something other than an array (or `null`) under it, or a top-level value that is not an
/// object. All of these mean the file is not what the caller expected, so nothing after them
/// is read.
pub fn read_json_records_in(
    path: &Path,
    array_key: &str,
    id_key: IdKey,
    sink: &mut dyn FnMut(JsonRecord),
) -> Result<DocumentsSummary, SourceError> {
    let (reader, first, offset) = open_and_sniff(path)?;
    Ok(match first {
        None => DocumentsSummary {
            format: None,
            documents: 0,
            records: 0,
        },
        Some(b'[') => DocumentsSummary {
            format: Some(JsonFormat::Array),
            documents: 0,
            records: array::read(path, reader, offset, id_key, sink)?,
        },
        Some(_) => {
            let (documents, records) =
                documents::read(path, reader, offset, array_key, id_key, sink)?;
            DocumentsSummary {
                format: Some(JsonFormat::Documents),
                documents,
                records,
            }
        }
    })
}

/// The first byte of `path`'s content after a UTF-8 BOM and whitespace (decompressed when the
/// file is gzip), or `None` for an empty file. Readers that accept JSON or CSV use it to tell
/// them apart by content rather than by file name: `{` or `[` is JSON.
///
/// # Errors
///
/// When the file cannot be opened or read.
pub fn first_content_byte(path: &Path) -> Result<Option<u8>, SourceError> {
    open_and_sniff(path).map(|(_, first, _)| first)
}

/// Opens `path` like [`open_export`] and drops a leading UTF-8 BOM, for readers of other
/// line formats (CSV) that want the file's bytes otherwise untouched, so their line numbers
/// stay right.
///
/// # Errors
///
/// When the file cannot be opened or its first bytes cannot be read.
pub fn open_without_bom(path: &Path) -> Result<ExportReader, SourceError> {
    open_then(path, strip_bom)
}

fn open_and_sniff(path: &Path) -> Result<(ExportReader, Option<u8>, Offset), SourceError> {
    open_then(path, sniff)
}

/// Opens `path` and runs `first` on it (reading its first bytes), with the errors of both
/// placed at the start of the file.
fn open_then<T>(
    path: &Path,
    first: impl FnOnce(ExportReader) -> io::Result<T>,
) -> Result<T, SourceError> {
    let at_start = || Location {
        file: path.to_path_buf(),
        line: None,
        index: 0,
    };
    let reader = open_export(path)
        .map_err(|e| SourceError::new(at_start(), None, format!("cannot open export: {e}")))?;
    first(reader)
        .map_err(|e| SourceError::new(at_start(), None, format!("cannot read export: {e}")))
}

/// Streams every record of `path` to `sink`. See the module docs for what is an `Err`.
pub fn read_json_records(
    path: &Path,
    id_key: IdKey,
    sink: &mut dyn FnMut(JsonRecord),
) -> Result<JsonSummary, SourceError> {
    let (reader, first, offset) = open_and_sniff(path)?;
    let (format, records) = match first {
        None => (None, 0),
        Some(b'[') => (
            Some(JsonFormat::Array),
            array::read(path, reader, offset, id_key, sink)?,
        ),
        Some(_) => (
            Some(JsonFormat::Ndjson),
            ndjson::read(path, reader, offset, id_key, sink)?,
        ),
    };
    Ok(JsonSummary { format, records })
}

/// A JSON records file, opened and sorted by container ([`open_json_records`]).
pub enum OpenJson {
    /// Nothing but whitespace.
    Empty,
    /// NDJSON, to be read in blocks of lines.
    Ndjson(NdjsonBlocks),
    /// A JSON array of records.
    Array(ArrayRecords),
}

/// A JSON array of records, not yet read.
pub struct ArrayRecords {
    path: std::path::PathBuf,
    reader: ExportReader,
    offset: Offset,
}

impl ArrayRecords {
    /// Streams the array's elements to `sink`, exactly as [`read_json_records`] does, and
    /// returns how many there were.
    ///
    /// # Errors
    ///
    /// As for [`read_json_records`].
    pub fn read(self, id_key: IdKey, sink: &mut dyn FnMut(JsonRecord)) -> Result<u64, SourceError> {
        array::read(&self.path, self.reader, self.offset, id_key, sink)
    }
}

/// Opens `path` and detects its container the way [`read_json_records`] does (after a BOM and
/// whitespace, `[` is a JSON array and anything else NDJSON), for readers that drive the
/// reading themselves.
///
/// # Errors
///
/// When the file cannot be opened or its first bytes cannot be read; the messages are those of
/// [`read_json_records`].
pub fn open_json_records(path: &Path) -> Result<OpenJson, SourceError> {
    let (reader, first, offset) = open_and_sniff(path)?;
    Ok(match first {
        None => OpenJson::Empty,
        Some(b'[') => OpenJson::Array(ArrayRecords {
            path: path.to_path_buf(),
            reader,
            offset,
        }),
        Some(_) => OpenJson::Ndjson(NdjsonBlocks::new(reader, offset)),
    })
}

/// How much leading whitespace [`sniff`] consumed, so that line and column numbers reported
/// later still count from the real start of the file.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Offset {
    /// Newlines consumed.
    lines: u64,
    /// Bytes consumed after the last of them (the column shift of the first content line).
    column: u64,
}

impl Offset {
    /// The place in the file of a serde_json error, whose positions count from the first
    /// content byte (the `[` of an array).
    fn position(self, err: &serde_json::Error) -> (u64, u64) {
        let line = err.line() as u64 + self.lines;
        let column = err.column() as u64 + if err.line() == 1 { self.column } else { 0 };
        (line, column)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Drops a UTF-8 BOM, consumes leading whitespace and peeks at the first content byte, which
/// decides the container: `[` is a JSON array, anything else is read as NDJSON.
fn sniff(reader: ExportReader) -> io::Result<(ExportReader, Option<u8>, Offset)> {
    let mut reader = strip_bom(reader)?;

    let mut offset = Offset::default();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((reader, None, offset));
        }
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .count();
        for &b in &buf[..blank] {
            if b == b'\n' {
                offset.lines += 1;
                offset.column = 0;
            } else {
                offset.column += 1;
            }
        }
        let first = buf.get(blank).copied();
        reader.consume(blank);
        if let Some(first) = first {
            return Ok((reader, Some(first), offset));
        }
    }
}

/// Drops a UTF-8 BOM at the start of `reader`.
fn strip_bom(mut reader: ExportReader) -> io::Result<ExportReader> {
    // Read the first three bytes by hand: a gzip decoder may hand them over one at a time, so
    // `fill_buf` alone cannot be trusted to show a whole BOM.
    let mut head = Vec::with_capacity(BOM.len());
    while head.len() < BOM.len() {
        let mut byte = [0u8];
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if head == BOM {
        head.clear();
    }
    Ok(Box::new(Cursor::new(head).chain(reader)))
}

/// A serde_json error's message without its " at line L column C" suffix, so callers can
/// place it themselves (the parser only knows positions relative to what it was given).
fn bare_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// Describes a parse failure without quoting input: serde_json's syntax and EOF messages name
/// only what was expected, but a data error could carry a value, so those get a fixed text.
fn describe(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Eof => format!("record is truncated ({})", bare_message(err)),
        Category::Syntax => format!("malformed JSON ({})", bare_message(err)),
        Category::Io => format!("cannot read export ({})", bare_message(err)),
        Category::Data => "record does not have the expected shape".to_owned(),
    }
}

/// Names the kind of a JSON value for messages that must not quote the value itself.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
