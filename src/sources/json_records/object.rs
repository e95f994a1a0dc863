//! Parsing one record: a JSON object into its ordered entries, capturing the record's id on the
//! way so that a record which breaks after its id still names it.
//!
//! A value that parses but is not an object (a string, a number, a nested array) is a per-record
//! problem, not a parse error: it is consumed completely, so an array reader can go on with the
//! next element. Its value is never quoted, because in a password export that value could be a
//! hash.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::IdKey;

/// An object's entries, or the kind of value found instead (`"a string"`).
pub(super) type Parsed = Result<Vec<(String, Value)>, &'static str>;

/// What was learned about a record while parsing it, kept even when parsing fails.
pub(super) struct Capture {
    id_key: IdKey,
    /// The first non-empty string value under a key `id_key` accepts.
    pub(super) id: Option<String>,
    /// The 1-based line the record starts on (array elements only; NDJSON knows its line).
    pub(super) start_line: Option<u64>,
}

impl Capture {
    pub(super) fn new(id_key: IdKey) -> Self {
        Self {
            id_key,
            id: None,
            start_line: None,
        }
    }
}

/// Deserializes one record. `newlines`, when given, counts the newlines the parser has read so
/// far; serde_json has already read the element's first byte when the seed starts, so that
/// count + 1 is the line the element starts on.
pub(super) struct RecordSeed<'a> {
    pub(super) capture: &'a mut Capture,
    pub(super) newlines: Option<&'a Cell<u64>>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parsed, D::Error> {
        if let Some(newlines) = self.newlines {
            self.capture.start_line = Some(newlines.get() + 1);
        }
        deserializer.deserialize_any(RecordVisitor {
            capture: self.capture,
        })
    }
}

struct RecordVisitor<'a> {
    capture: &'a mut Capture,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if self.capture.id.is_none()
                && (self.capture.id_key)(&key)
                && let Value::String(id) = &value
                && !id.is_empty()
            {
                self.capture.id = Some(id.clone());
            }
            entries.push((key, value));
        }
        Ok(Ok(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        // Consume the whole array so the parser stays in step with the input.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("an array"))
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Parsed, E> {
        Ok(Err("a string"))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Parsed, E> {
        Ok(Err("a boolean"))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Parsed, E> {
        Ok(Err("a number"))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Parsed, E> {
        Ok(Err("a number"))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Parsed, E> {
        Ok(Err("a number"))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Parsed, E> {
        Ok(Err("null"))
    }
}

/// The message for a record that parsed but is not an object.
pub(super) fn not_an_object(found: &str) -> String {
    format!("record is not a JSON object (found {found})")
}
