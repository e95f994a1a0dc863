//! Records inside documents: one or more top-level JSON objects, each holding the records in a
//! named array — Firebase's `{"users": [...]}` (one pretty-printed document, possibly
//! gigabytes), Clerk's `{"data": [...]}`, and Cognito's `{"Users": [...], "NextToken": ...}`
//! pages, which people append to one file (`>>`), so several documents follow each other,
//! separated by nothing or by blank lines.
//!
//! Each document is walked with serde_json's `MapAccess`: the named array is streamed element
//! by element with the same visitor as a top-level array ([`ArrayVisitor`]), every other key's
//! value is skipped without being kept. A syntax error or a truncated document ends the read
//! with an error naming the record reached, as for a top-level array. A document without the
//! named array is not a users file at all and is an error too, rather than zero users.

use std::cell::Cell;
use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Deserializer;

use super::array::{ArrayVisitor, NewlineCounter, State};
use super::fields::normalise_key;
use super::{IdKey, JsonRecord, Offset, bare_message, describe};
use crate::sources::{ExportReader, Location, SourceError};

/// Reads every document starting at `reader`'s first byte. Returns (documents, records).
pub(super) fn read(
    path: &Path,
    reader: ExportReader,
    offset: Offset,
    array_key: &str,
    id_key: IdKey,
    sink: &mut dyn FnMut(JsonRecord),
) -> Result<(u64, u64), SourceError> {
    let (counting, newlines) = NewlineCounter::start(reader, offset);
    let mut de = Deserializer::from_reader(counting);
    let mut state = State::default();
    let wanted = normalise_key(array_key);
    let mut documents = 0u64;

    let location = |line: u64, index: u64| Location {
        file: path.to_path_buf(),
        line: Some(line),
        index,
    };

    loop {
        // The document's first byte has been read (sniffed or peeked) but is not a newline,
        // so the newlines seen so far place it.
        let start_line = newlines.get() + 1;
        let mut doc = Document::default();
        let visitor = DocumentVisitor {
            wanted: &wanted,
            path,
            id_key,
            newlines: &newlines,
            sink: &mut *sink,
            state: &mut state,
            doc: &mut doc,
        };
        if let Err(err) = (&mut de).deserialize_map(visitor) {
            let (line, column) = offset.position(&err);
            if err.is_io() {
                let message = format!("cannot read export: {}", bare_message(&err));
                return Err(SourceError::new(location(line, state.index), None, message));
            }
            if let Some(failing) = state.failing.take() {
                let message = format!(
                    "{} at line {line} column {column}; the records after this point cannot be \
                     read",
                    describe(&err)
                );
                let line = failing.start_line.unwrap_or(line);
                return Err(SourceError::new(
                    location(line, state.index),
                    failing.id,
                    message,
                ));
            }
            let message = match (doc.shape.take(), err.classify()) {
                (Some(shape), _) => format!("{shape} (line {line} column {column})"),
                (None, serde_json::error::Category::Data) => format!(
                    "expected a JSON object holding a `{array_key}` array at line {line} column \
                     {column}"
                ),
                (None, serde_json::error::Category::Eof) => format!(
                    "the document starting at line {start_line} is truncated ({}) at line {line} \
                     column {column}",
                    bare_message(&err)
                ),
                (None, _) => format!("{} at line {line} column {column}", describe(&err)),
            };
            return Err(SourceError::new(location(line, state.index), None, message));
        }
        documents += 1;
        if !doc.found {
            let message = format!(
                "the JSON object starting at line {start_line} has no `{array_key}` array, so it \
                 is not a users export of this provider"
            );
            return Err(SourceError::new(
                location(start_line, state.index),
                None,
                message,
            ));
        }
        match de.end() {
            Ok(()) => return Ok((documents, state.index)),
            Err(err) if err.is_io() => {
                let (line, _) = offset.position(&err);
                let message = format!("cannot read export: {}", bare_message(&err));
                return Err(SourceError::new(location(line, state.index), None, message));
            }
            // Anything but whitespace after a document: the next document (or garbage, which
            // the next round reports).
            Err(_) => {}
        }
    }
}

/// What was seen of the current document.
#[derive(Default)]
struct Document {
    /// The named array was present.
    found: bool,
    /// Why the named key's value is not an array, when it is not.
    shape: Option<String>,
}

struct DocumentVisitor<'a> {
    wanted: &'a str,
    path: &'a Path,
    id_key: IdKey,
    newlines: &'a Cell<u64>,
    sink: &'a mut dyn FnMut(JsonRecord),
    state: &'a mut State,
    doc: &'a mut Document,
}

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object holding an array of records")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if normalise_key(&key) != self.wanted {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.doc.found = true;
            map.next_value_seed(ArraySeed {
                key: &key,
                array: ArrayVisitor {
                    path: self.path,
                    id_key: self.id_key,
                    newlines: self.newlines,
                    sink: &mut *self.sink,
                    state: &mut *self.state,
                },
                shape: &mut self.doc.shape,
            })?;
        }
        Ok(())
    }
}

/// The named key's value: an array of records, or `null` (no records).
struct ArraySeed<'a, 'k> {
    key: &'k str,
    array: ArrayVisitor<'a>,
    shape: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ArraySeed<'_, '_> {
    /// Records why the value is not an array; never quotes the value.
    fn not_an_array<E: serde::de::Error>(self, found: &str) -> Result<(), E> {
        *self.shape = Some(format!(
            "`{}` must be an array of records, not {found}",
            self.key
        ));
        Err(E::custom("not an array"))
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.array.visit_seq(seq)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_array("an object")
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_array("a string")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_array("a boolean")
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_array("a number")
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_array("a number")
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_array("a number")
    }
}
