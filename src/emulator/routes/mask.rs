//! `update_mask` (AIP-134) as every PATCH route reads it: comma-separated paths, at least
//! one; a path naming a whole field replaces it (absent in the request means cleared), and
//! `<map>.<key>` sets or removes one key of a map field.

use serde_json::{Map, Value};

use crate::emulator::error::ApiError;

/// The paths of `mask`, trimmed, empty ones dropped; 400 when none is left.
pub fn paths(mask: &str) -> Result<Vec<&str>, ApiError> {
    let paths: Vec<&str> = mask
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if paths.is_empty() {
        return Err(ApiError::field("update_mask", "update_mask is required"));
    }
    Ok(paths)
}

/// The 400 for a path the resource does not have.
pub fn unknown(path: &str) -> ApiError {
    ApiError::field("update_mask", format!("unknown update_mask path `{path}`"))
}

/// The key of `<prefix><key>` (e.g. `metadata.owner`), when `path` is one.
pub fn map_key<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|k| !k.is_empty())
}

/// Sets `key` of `target` to its value in `src`, or removes it when `src` lacks it.
pub fn set_key(target: &mut Map<String, Value>, src: Option<&Map<String, Value>>, key: &str) {
    match src.and_then(|m| m.get(key)) {
        Some(v) => {
            target.insert(key.to_string(), v.clone());
        }
        None => {
            target.remove(key);
        }
    }
}
