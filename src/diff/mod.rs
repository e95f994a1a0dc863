//! Pure comparison of what a source declares with what the tenant holds. No I/O.
//!
//! A record is compared as a flat set of field paths (`email`, `traits.metadata`,
//! `admin_metadata.avnology_migrate`, …) holding JSON values. Only the paths the source
//! provides are compared — a field the source does not carry is left alone — and `traits`
//! and `admin_metadata` compare by the top-level keys the source sets.

pub mod client;
mod identity;

pub use identity::{
    IdentityAction, IdentityDiff, adopt_identity, desired_digest, desired_fields, diff_identity,
    is_owned, linked_providers, owner_marker,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One field that differs. `sensitive` values are never printed (they hold only an
/// algorithm name anyway; the hash itself never enters a diff).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldChange {
    /// Field path, e.g. `first_name` or `traits.metadata`.
    pub path: String,
    /// The live value; absent on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The desired value; absent when the field is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// Rendered as `(sensitive)`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}
