//! The manifest (`migration.toml`, or `migration.yaml`): what should exist in Avnology.
//!
//! [`raw`] holds the serde shapes that mirror the file (unknown keys rejected, JSON Schema
//! derived from them); [`load`] reads a file, interpolates `${env:NAME}`, validates, and
//! produces the semantic [`Manifest`] with paths resolved against the manifest's directory
//! and the SHA-256 of the interpolated content that plans bind themselves to, checking one
//! section at a time and pointing each error at its line ([`positions`]).

mod error;
mod interpolate;
mod load;
mod positions;
pub mod raw;

use std::path::PathBuf;

pub use error::ManifestError;
pub use load::{COMMAND_LINE, load, load_with_env, parse};
pub use raw::{AdoptPolicy, OnInvalid, Provider};

use crate::model::FirebaseHashParams;

/// Where the plan is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// A local emulator started inside the process, backed by `dir/sandbox.db`.
    Sandbox {
        /// The sandbox directory (default `.avnology-sandbox/` beside the manifest).
        dir: PathBuf,
    },
    /// A real (or separately running) Avnology admin API.
    Remote(String),
    /// Neither the manifest nor `AVNOLOGY_API_URL` names one. Offline checks (`validate`)
    /// need no target; every command that reaches the tenant refuses with this message,
    /// which names the manifest and says what to add.
    Unset(String),
}

/// `[target]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The API.
    pub url: TargetUrl,
    /// The organization users are placed in; created if missing.
    pub organization: Option<String>,
    /// Email of the identity that owns migrated service accounts.
    pub service_account_owner: Option<String>,
}

/// One `[[users]]` source.
#[derive(Debug, Clone)]
pub struct UserSource {
    /// Source name: shown in plans and stored in the owner marker.
    pub name: String,
    /// Which provider's export format.
    pub provider: Provider,
    /// The export file, resolved against the manifest directory.
    pub path: PathBuf,
    /// Auth0's support-ticket password-hash export.
    pub passwords: Option<PathBuf>,
    /// Firebase's project hash parameters.
    pub firebase_hash: Option<FirebaseHashParams>,
    /// The pinned SHA-256 of `path`, if any.
    pub sha256: Option<String>,
    /// The pinned SHA-256 of `passwords`, if any.
    pub passwords_sha256: Option<String>,
}

/// The source name of clients declared in `[[clients]]`.
pub const MANIFEST_CLIENTS: &str = "manifest";

/// A URL prefix rewrite of a client source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// Prefix to replace.
    pub from: String,
    /// Replacement.
    pub to: String,
}

/// One `[[client_sources]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSource {
    /// Source name (default: the provider), stored in the owner marker.
    pub name: String,
    /// Which provider's export format.
    pub provider: Provider,
    /// The export file or directory, resolved against the manifest directory.
    pub path: PathBuf,
    /// deploy-cli placeholder values.
    pub vars: std::collections::BTreeMap<String, String>,
    /// Redirect rewrites, applied in order.
    pub rewrite: Vec<Rewrite>,
    /// The pinned SHA-256 of `path`, if any.
    pub sha256: Option<String>,
}

/// `[policy]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Delete owned objects that no source declares any more.
    pub prune: bool,
    /// A plan with more deletes than this fails.
    pub max_deletes: u64,
    /// Field paths never updated after create.
    pub ignore_changes: Vec<String>,
    /// What an invalid source record does.
    pub on_invalid: OnInvalid,
    /// Source names (not this manifest's) whose objects it takes over: a renamed source.
    pub adopt_sources: Vec<String>,
    /// Whether live identities matching a record by verified email are adopted.
    pub adopt: AdoptPolicy,
}

/// A loaded, interpolated, validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Its directory (empty for the working directory); relative paths in it are resolved
    /// against this.
    pub dir: PathBuf,
    /// `[target]`.
    pub target: Target,
    /// `[[users]]`.
    pub users: Vec<UserSource>,
    /// `[[clients]]`, as model values (source name `manifest`).
    pub clients: Vec<crate::model::OAuthClient>,
    /// `[[client_sources]]`.
    pub client_sources: Vec<ClientSource>,
    /// `[policy]`.
    pub policy: Policy,
    /// SHA-256 (hex) of the interpolated manifest in canonical JSON form.
    pub sha256: String,
}
