//! Provider-neutral types with no I/O: what a source declares should exist in Avnology.
//!
//! Sources turn raw export records into these values; `diff` compares them with live records.
//! Anything secret (password hashes, client secrets) lives in [`Secret`] or [`PasswordHash`],
//! whose `Debug` and `Display` never show the value.

mod client;
mod identity;
mod ids;
pub mod limits;
mod password_hash;
mod secret;
pub mod validate;

pub use client::{ClientDecl, ClientType, OAuthClient, ServiceAccount};
pub use identity::{IDENTITY_FIELDS, Identity, LinkedProvider, OWNER_KEY, is_known_field};
pub use ids::ExternalId;
pub use password_hash::{FirebaseHashParams, PasswordHash};
pub use secret::Secret;
