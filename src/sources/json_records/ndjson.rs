//! NDJSON: one record per line, read line by line into a reused buffer.
//!
//! A line that is not a JSON object is that record's problem only; the next line is a fresh
//! start, which is why NDJSON can report a truncated last line and keep everything before it.

use std::path::Path;

use serde::de::DeserializeSeed;
use serde_json::{Deserializer, Value};

use super::object::{Capture, RecordSeed, not_an_object};
use super::{BOM, IdKey, JsonRecord, Offset, describe};
use crate::sources::{ExportReader, Location, SourceError};

/// Reads every non-blank line of `reader` as one record. `offset` says how many lines (and
/// columns of the first content line) were consumed before `reader`'s first byte.
pub(super) fn read(
    path: &Path,
    mut reader: ExportReader,
    offset: Offset,
    id_key: IdKey,
    sink: &mut dyn FnMut(JsonRecord),
) -> Result<u64, SourceError> {
    let mut buf = Vec::new();
    let mut line_no = offset.lines;
    let mut column_shift = offset.column;
    let mut index = 0u64;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(|e| {
            let location = Location {
                file: path.to_path_buf(),
                line: Some(line_no + 1),
                index,
            };
            SourceError::new(location, None, format!("cannot read export: {e}"))
        })?;
        if read == 0 {
            return Ok(index);
        }
        line_no += 1;
        let shift = std::mem::take(&mut column_shift);
        let line = trim_line(&buf);
        if line.is_empty() {
            continue;
        }
        let location = Location {
            file: path.to_path_buf(),
            line: Some(line_no),
            index,
        };
        index += 1;

        let (entries, id_hint) = parse_record_line(line, shift, id_key);
        sink(JsonRecord {
            location,
            entries,
            id_hint,
        });
    }
}

/// A record's entries in file order, or why the record is not a JSON object (a message that
/// quotes no values), as in [`JsonRecord::entries`](super::JsonRecord::entries).
pub type Entries = Result<Vec<(String, Value)>, String>;

/// Parses one NDJSON line (already without its BOM and line terminator, see [`trim_line`])
/// into a record's entries, or the message for a line that is not a JSON object, together
/// with the id captured on the way. `column_shift` is what format detection consumed of the
/// first line, so that columns in messages count from the start of the line in the file.
///
/// This is the general path every NDJSON record can take; readers with a faster typed parse
/// for the common shape fall back to it for everything else, so messages are the same.
pub fn parse_record_line(
    line: &[u8],
    column_shift: u64,
    id_key: IdKey,
) -> (Entries, Option<String>) {
    let mut capture = Capture::new(id_key);
    let entries = parse_line(line, &mut capture).map_err(|e| {
        // The parser numbers columns within the line; the first line may have lost
        // leading whitespace to format detection.
        format!(
            "{} at column {}",
            describe(&e),
            e.column() as u64 + column_shift
        )
    });
    let entries = match entries {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(found)) => Err(not_an_object(found)),
        Err(message) => Err(message),
    };
    (entries, capture.id)
}

fn parse_line(line: &[u8], capture: &mut Capture) -> serde_json::Result<super::object::Parsed> {
    let mut de = Deserializer::from_slice(line);
    let parsed = RecordSeed {
        capture,
        newlines: None,
    }
    .deserialize(&mut de)?;
    // Two objects on one line, or anything after the object, is not one record.
    de.end()?;
    Ok(parsed)
}

/// The record text of a raw line: without a leading BOM (which can start any line of files
/// that were concatenated, `cat a.ndjson b.ndjson`), its terminator (LF or CRLF) and trailing
/// whitespace; empty for a blank line, which is not a record.
pub fn trim_line(raw: &[u8]) -> &[u8] {
    trim_end(raw.strip_prefix(BOM).unwrap_or(raw))
}

/// The line without its terminator (LF or CRLF) and trailing whitespace; empty for a blank
/// line.
fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    &line[..end]
}
