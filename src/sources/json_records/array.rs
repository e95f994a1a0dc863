//! A JSON array of records, streamed element by element through serde_json's `SeqAccess`, so
//! that a file of millions of users is never one value in memory.
//!
//! serde_json reads from an [`io::Read`] one byte at a time; a thin counter between it and the
//! file counts newlines, which gives each element the line it starts on. A syntax error inside
//! the array leaves no reliable place to resume, so it ends the read with an error naming the
//! element: the caller must not go on as if the rest of the array had been empty.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Deserializer;

use super::object::{Capture, RecordSeed, not_an_object};
use super::{IdKey, JsonRecord, Offset, bare_message, describe};
use crate::sources::{ExportReader, Location, SourceError};

/// Reads the array that starts at `reader`'s first byte, element by element.
pub(super) fn read(
    path: &Path,
    reader: ExportReader,
    offset: Offset,
    id_key: IdKey,
    sink: &mut dyn FnMut(JsonRecord),
) -> Result<u64, SourceError> {
    let (counting, newlines) = NewlineCounter::start(reader, offset);
    let mut de = Deserializer::from_reader(counting);
    let mut state = State::default();
    let visitor = ArrayVisitor {
        path,
        id_key,
        newlines: &newlines,
        sink,
        state: &mut state,
    };

    if let Err(err) = de.deserialize_seq(visitor) {
        let (line, column) = offset.position(&err);
        let failing = state.failing.take().unwrap_or_default();
        let location = Location {
            file: path.to_path_buf(),
            line: Some(failing.start_line.unwrap_or(line)),
            index: state.index,
        };
        let message = if err.is_io() {
            format!("cannot read export: {}", bare_message(&err))
        } else {
            format!(
                "{} at line {line} column {column}; the records after this point in the JSON \
                 array cannot be read",
                describe(&err)
            )
        };
        return Err(SourceError::new(location, failing.id, message));
    }
    if let Err(err) = de.end() {
        let (line, column) = offset.position(&err);
        let location = Location {
            file: path.to_path_buf(),
            line: Some(line),
            index: state.index,
        };
        let message =
            format!("unexpected content after the JSON array at line {line} column {column}");
        return Err(SourceError::new(location, None, message));
    }
    Ok(state.index)
}

/// Passes bytes through and counts the newlines among them.
pub(super) struct NewlineCounter<R> {
    pub(super) inner: R,
    pub(super) newlines: Rc<Cell<u64>>,
}

impl<R> NewlineCounter<R> {
    /// Counts the newlines of `inner`, which starts after `offset`: the counter, and the
    /// count it keeps.
    pub(super) fn start(inner: R, offset: Offset) -> (Self, Rc<Cell<u64>>) {
        let newlines = Rc::new(Cell::new(offset.lines));
        let counter = Self {
            inner,
            newlines: Rc::clone(&newlines),
        };
        (counter, newlines)
    }
}

impl<R: Read> Read for NewlineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let seen = super::count_byte(&buf[..n], b'\n');
        self.newlines.set(self.newlines.get() + seen);
        Ok(n)
    }
}

/// What the visitor leaves behind for error reporting once serde_json has given up.
#[derive(Default)]
pub(super) struct State {
    /// The index of the next (or failing) element.
    pub(super) index: u64,
    /// What was captured of the element being parsed when parsing failed.
    pub(super) failing: Option<Failing>,
}

/// The element being parsed when parsing failed.
#[derive(Default)]
pub(super) struct Failing {
    pub(super) id: Option<String>,
    pub(super) start_line: Option<u64>,
}

/// Streams the elements of one JSON array of records to the sink. Also used for the arrays
/// nested in documents (`{"users": [...]}`), with one [`State`] across all of them so indexes
/// keep counting.
pub(super) struct ArrayVisitor<'a> {
    pub(super) path: &'a Path,
    pub(super) id_key: IdKey,
    pub(super) newlines: &'a Cell<u64>,
    pub(super) sink: &'a mut dyn FnMut(JsonRecord),
    pub(super) state: &'a mut State,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let mut capture = Capture::new(self.id_key);
            let seed = RecordSeed {
                capture: &mut capture,
                newlines: Some(self.newlines),
            };
            let parsed = match seq.next_element_seed(seed) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return Ok(()),
                Err(err) => {
                    self.state.failing = Some(Failing {
                        id: capture.id,
                        start_line: capture.start_line,
                    });
                    return Err(err);
                }
            };
            let location = Location {
                file: self.path.to_path_buf(),
                line: capture.start_line,
                index: self.state.index,
            };
            self.state.index += 1;
            (self.sink)(JsonRecord {
                location,
                entries: parsed.map_err(not_an_object),
                id_hint: capture.id,
            });
        }
    }
}
