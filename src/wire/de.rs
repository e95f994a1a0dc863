//! Deserializers for request fields: the contract's strict reading of absent, `null`,
//! objects and whole numbers, shared by every resource's request types.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Deserializes an optional request field that may be absent but not `null`: the contract
/// types these fields as plain strings, objects or arrays, so the emulator refuses a `null`
/// (400) instead of reading it as absent. Only request types use it; responses stay
/// tolerant.
pub(super) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A nested request object that must be a JSON object: serde would also read a struct from a
/// JSON array of its fields in order, which the contract does not allow.
pub(super) fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let map = Map::<String, Value>::deserialize(deserializer)?;
    T::deserialize(Value::Object(map)).map_err(serde::de::Error::custom)
}

/// [`object`] for an optional field (absent, never `null`).
pub(super) fn present_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    object(deserializer).map(Some)
}

/// A list of request objects (absent, never `null`), each a JSON object.
pub(super) fn present_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Vec::<Map<String, Value>>::deserialize(deserializer)?
        .into_iter()
        .map(|m| T::deserialize(Value::Object(m)).map_err(serde::de::Error::custom))
        .collect::<Result<Vec<T>, D::Error>>()
        .map(Some)
}

/// [`present`] for a whole number that fits a `u32`, written as an integer or as a number with
/// no fraction (`8.0`): JSON Schema's `integer` admits both.
pub(super) fn present_whole<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let n = serde_json::Number::deserialize(deserializer)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                .map(|f| f as u64)
        })
        .and_then(|v| u32::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("expected a whole number from 0 to 4294967295"))
}
