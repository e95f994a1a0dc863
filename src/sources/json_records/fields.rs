//! Reading the fields of one JSON record by meaning rather than by spelling, for the readers
//! whose exports are JSON (or are turned into JSON entries, like Firebase's header-less CSV).
//!
//! Real files spell keys several ways (`localId` and `LocalId`, `email_verified` and
//! `emailVerified`), so keys are matched after [`normalise_key`]. A value of the wrong JSON type
//! is kept as a [`Field::Wrong`] rather than failing the record, so a converter can report every
//! problem of a record together with its id; and a `Field::Wrong` never holds the value, only
//! its kind, because some fields (hashes, salts, TOTP secrets) are secret.
//!
//! The Auth0 reader keeps its own copy of these types (`auth0/export.rs`); this module is the
//! shared version the Clerk, Firebase and Cognito readers use.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::{Map, Value};

use super::kind_of;

/// Reduces a key to a spelling-independent form: lowercase, with spaces, underscores and
/// hyphens removed, so `local_id`, `Local Id`, `localId` and `LOCAL-ID` are one key.
pub fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Calls `f` with what [`normalise_key`] makes of `key`, without allocating for the short
/// ASCII keys real exports use. Readers classify every key of every record, so this is on the
/// hot path of a million-user file; other keys take [`normalise_key`] itself, so the result is
/// the same for every key.
pub fn with_normalised_key<R>(key: &str, f: impl FnOnce(&str) -> R) -> R {
    /// Longer than any key a reader knows; longer keys simply take the allocating path.
    const STACK: usize = 32;
    let mut buf = [0u8; STACK];
    let mut len = 0;
    for &b in key.as_bytes() {
        match b {
            b' ' | b'_' | b'-' => {}
            // `char::to_lowercase` can turn a non-ASCII character into ASCII (the Kelvin sign
            // into `k`), so only the general path is right for keys with any.
            0x80.. => return f(&normalise_key(key)),
            _ if len == STACK => return f(&normalise_key(key)),
            _ => {
                // For ASCII, `to_ascii_lowercase` is `char::to_lowercase`.
                buf[len] = b.to_ascii_lowercase();
                len += 1;
            }
        }
    }
    // ASCII in, ASCII out: this cannot fail, but the general path is right if it did.
    match std::str::from_utf8(&buf[..len]) {
        Ok(normalised) => f(normalised),
        Err(_) => f(&normalise_key(key)),
    }
}

/// A value as the file holds it: absent (missing or `null`), present with the expected JSON
/// type, or present with another type.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    /// Missing, or `null`.
    Absent,
    /// Present with the expected type.
    Present(T),
    /// Present with another type. Holds the key as the file spells it and the kind of value
    /// found, never the value itself.
    Wrong {
        /// The key as written in the file.
        key: String,
        /// What the field should hold (`"a string"`).
        expected: &'static str,
        /// What it held instead.
        found: &'static str,
    },
}

impl<T> Field<T> {
    /// The same field with its present value mapped; absence and wrong types stay as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Present(value) => Field::Present(f(value)),
            Field::Wrong {
                key,
                expected,
                found,
            } => Field::Wrong {
                key,
                expected,
                found,
            },
        }
    }

    /// The problem with a wrongly typed field, phrased for a message.
    pub fn wrong_type(&self) -> Option<String> {
        match self {
            Field::Wrong {
                key,
                expected,
                found,
            } => Some(format!("`{key}` must be {expected}, not {found}")),
            _ => None,
        }
    }

    /// The value when present; records a problem when it has the wrong type.
    pub fn get(self, problems: &mut Vec<String>) -> Option<T> {
        match self {
            Field::Present(value) => Some(value),
            Field::Absent => None,
            wrong @ Field::Wrong { .. } => {
                problems.extend(wrong.wrong_type());
                None
            }
        }
    }
}

impl Field<String> {
    /// Like [`Field::get`], treating a blank string as absent: exports write `""` for unset
    /// fields.
    pub fn non_empty(self, problems: &mut Vec<String>) -> Option<String> {
        self.get(problems).filter(|s| !s.trim().is_empty())
    }
}

/// A JSON type a raw field can be read as.
pub trait FromJson: Sized {
    /// The type's description for messages.
    const EXPECTED: &'static str;
    /// The value as `Self`, or `None` when it has another type.
    fn from_json(value: Value) -> Option<Self>;
}

impl FromJson for String {
    const EXPECTED: &'static str = "a string";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl FromJson for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            // CSV-born and hand-converted files carry booleans as strings.
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

impl FromJson for Map<String, Value> {
    const EXPECTED: &'static str = "a JSON object";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

impl FromJson for Value {
    const EXPECTED: &'static str = "a JSON value";
    fn from_json(value: Value) -> Option<Self> {
        Some(value)
    }
}

impl FromJson for Vec<Value> {
    const EXPECTED: &'static str = "a JSON array";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// A string that may also be written as a number: ids (GitHub's numeric user ids) and epoch
/// timestamps, which some tools write as strings and others as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl FromJson for Text {
    const EXPECTED: &'static str = "a string or a number";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Text(s)),
            Value::Number(n) => Some(Text(n.to_string())),
            _ => None,
        }
    }
}

/// A record's entries grouped by field after key normalisation. Two keys that normalise to the
/// same field (`localId` and `local_id`) are fine when they agree and a conflict when they do
/// not.
pub struct Slots<K> {
    slots: HashMap<K, (String, Value)>,
    /// Messages for keys that name the same field with different values.
    pub conflicts: Vec<String>,
}

impl<K: Copy + Eq + std::hash::Hash> Slots<K> {
    /// Sorts `entries` into fields with `field_of` (which receives normalised keys), dropping
    /// keys it does not know and `null`s.
    pub fn new(entries: Vec<(String, Value)>, field_of: impl Fn(&str) -> Option<K>) -> Self {
        let mut slots: HashMap<K, (String, Value)> = HashMap::new();
        let mut conflicts = Vec::new();
        for (key, value) in entries {
            let Some(field) = with_normalised_key(&key, &field_of) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match slots.entry(field) {
                Entry::Vacant(slot) => {
                    slot.insert((key, value));
                }
                Entry::Occupied(slot) => {
                    let (first_key, first_value) = slot.get();
                    if *first_value != value {
                        conflicts.push(format!(
                            "`{first_key}` and `{key}` are the same field but hold different values"
                        ));
                    }
                }
            }
        }
        Self { slots, conflicts }
    }

    /// Reads the fields of a JSON object nested in a record (an entry of `providerUserInfo[]`,
    /// an email address object), or names the kind of value found where an object should be.
    pub fn of_object(
        value: Value,
        field_of: impl Fn(&str) -> Option<K>,
    ) -> Result<Self, &'static str> {
        match value {
            Value::Object(map) => Ok(Self::new(map.into_iter().collect(), field_of)),
            other => Err(kind_of(&other)),
        }
    }

    /// Takes a field out as `T`.
    pub fn take<T: FromJson>(&mut self, field: K) -> Field<T> {
        match self.slots.remove(&field) {
            None => Field::Absent,
            Some((key, value)) => {
                let found = kind_of(&value);
                match T::from_json(value) {
                    Some(v) => Field::Present(v),
                    None => Field::Wrong {
                        key,
                        expected: T::EXPECTED,
                        found,
                    },
                }
            }
        }
    }

    /// Takes a field that may be a string or a number, as text.
    pub fn take_text(&mut self, field: K) -> Field<String> {
        self.take::<Text>(field).map(|Text(s)| s)
    }

    /// Whether the record has a (non-null) value for `field`.
    pub fn has(&self, field: K) -> bool {
        self.slots.contains_key(&field)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum F {
        Id,
        Flag,
    }

    fn field_of(key: &str) -> Option<F> {
        match key {
            "localid" | "id" => Some(F::Id),
            "flag" => Some(F::Flag),
            _ => None,
        }
    }

    fn slots(value: Value) -> Slots<F> {
        Slots::of_object(value, field_of).expect("an object")
    }

    #[test]
    fn keys_normalise_and_wrong_types_hide_values() {
        let mut s = slots(json!({"Local-ID": 42, "FLAG": "secret-value"}));
        assert_eq!(s.take_text(F::Id), Field::Present("42".into()));
        let wrong = s.take::<bool>(F::Flag);
        let message = wrong.wrong_type().expect("wrong type");
        assert_eq!(message, "`FLAG` must be a boolean, not a string");
        assert!(!message.contains("secret"));
    }

    #[test]
    fn agreeing_keys_pass_and_disagreeing_keys_conflict() {
        assert!(
            slots(json!({"localId": "a", "local_id": "a"}))
                .conflicts
                .is_empty()
        );
        let s = slots(json!({"localId": "a", "id": "b"}));
        assert_eq!(s.conflicts.len(), 1);
        assert!(Slots::of_object(json!([1]), field_of).is_err());
    }

    #[test]
    fn the_stack_normalisation_matches_normalise_key() {
        for key in [
            "user_id",
            "User Id",
            "USER-ID",
            "_ID",
            "Email Verified",
            "",
            "___",
            "a_very_long_key_name_that_does_not_fit_the_stack_buffer_at_all",
            "K\u{212a}elvin",
            "ÜSER_ÍD",
            "İd",
        ] {
            with_normalised_key(key, |n| assert_eq!(n, normalise_key(key), "{key}"));
        }
    }

    #[test]
    fn blank_strings_are_absent() {
        let mut problems = Vec::new();
        assert_eq!(
            Field::Present(" ".to_owned()).non_empty(&mut problems),
            None
        );
        assert!(problems.is_empty());
        let wrong: Field<String> = Field::Wrong {
            key: "k".into(),
            expected: "a string",
            found: "a number",
        };
        assert_eq!(wrong.non_empty(&mut problems), None);
        assert_eq!(problems, ["`k` must be a string, not a number"]);
    }
}
