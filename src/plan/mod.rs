//! The plan: what `apply` will do, as a reviewable, versioned JSON document.
//!
//! A plan binds itself to the world it was computed from — the SHA-256 of the interpolated
//! manifest and of every source file, a digest of every desired record it acts on, and the
//! ETag of every live object it changes — so `apply plan.json` executes exactly what was
//! reviewed or refuses. It never holds a password hash, secret or API key: apply re-reads
//! the sources for those.
//!
//! [`build`] computes a plan from a manifest and a snapshot of live state; [`file`] saves and
//! loads plan files.

mod build;
mod clients;
pub mod file;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use build::{
    BuildOptions, DesiredIdentity, DesiredSet, LiveState, PlanError, build, collect_desired,
};

pub use clients::DesiredClient;

use crate::diff::FieldChange;

/// Version of the plan file format; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// Kinds of objects a plan changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// The target organization.
    Organization,
    /// An OAuth client application.
    #[serde(rename = "oauth_client")]
    OAuthClient,
    /// A user.
    Identity,
    /// A service account with an API key (machine-to-machine clients).
    ServiceAccount,
}

impl ObjectKind {
    /// Singular noun for output.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::OAuthClient => "oauth_client",
            Self::Identity => "identity",
            Self::ServiceAccount => "service_account",
        }
    }

    /// Plural noun for output.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Organization => "organizations",
            Self::OAuthClient => "oauth_clients",
            Self::Identity => "identities",
            Self::ServiceAccount => "service_accounts",
        }
    }
}

/// What a change does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create the object.
    Create,
    /// Update fields in place.
    Update,
    /// Deactivate (plus any field updates).
    Deactivate,
    /// Reactivate (plus any field updates).
    Reactivate,
    /// Delete an owned object.
    Delete,
}

impl Action {
    /// The Terraform-like symbol; always printed, so colour never carries meaning alone.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Create => "+",
            Self::Update => "~",
            Self::Deactivate | Self::Reactivate => "±",
            Self::Delete => "-",
        }
    }

    /// Past participle for "will be …".
    pub fn verb(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Update => "updated in place",
            Self::Deactivate => "deactivated",
            Self::Reactivate => "reactivated",
            Self::Delete => "deleted",
        }
    }

    /// Infinitive for summaries ("3 to create").
    pub fn infinitive(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::Delete => "delete",
        }
    }

    /// All actions in the order plans list them.
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Update,
        Action::Deactivate,
        Action::Reactivate,
        Action::Delete,
    ];
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// What kind of object.
    pub kind: ObjectKind,
    /// What happens to it.
    pub action: Action,
    /// Its key: the external_id (identities) or name (organization).
    pub key: String,
    /// The `[[users]]` source that declares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The live object's id, for updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_id: Option<String>,
    /// The live object's ETag when planned; sent as `If-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// SHA-256 of the desired record this change was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_digest: Option<String>,
    /// Field-level changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// A file the plan was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileDigest {
    /// Path as given (relative to the manifest where it was relative).
    pub path: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// One `[[users]]` source and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceDigest {
    /// Source name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// Export and password files.
    pub files: Vec<FileDigest>,
}

/// A record the plan leaves out, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedRecord {
    /// Source name.
    pub source: String,
    /// `file:line (record N)`.
    pub location: String,
    /// Provider id, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Why.
    pub reason: String,
}

/// Per-source password outcome: what carries over and what needs a reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PasswordReport {
    /// Source name.
    pub source: String,
    /// Users whose hash Avnology verifies natively (bcrypt).
    pub bcrypt: u64,
    /// Users whose hash Avnology verifies natively (firebase-scrypt with parameters).
    pub firebase_scrypt: u64,
    /// Password users without an exported hash: they must reset.
    pub reset_no_hash: u64,
    /// Users whose hash uses an algorithm Avnology cannot verify: they must reset.
    pub reset_unsupported: u64,
    /// Users without a password at all (social or federated logins only).
    pub passwordless: u64,
    /// Users with MFA enrolled at the provider; enrolments do not carry over.
    pub mfa_not_carried: u64,
    /// The users with an unsupported hasher, as `external_id (hasher)`: the first
    /// [`MAX_LISTED_RESETS`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported_users: Vec<String>,
}

/// How many users with an unsupported hasher a password report names.
pub const MAX_LISTED_RESETS: usize = 100;

/// The client part of the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientCounts {
    /// OAuth clients and service accounts to create (each mints a secret or key).
    pub create: u64,
    /// To update.
    pub update: u64,
    /// To delete.
    pub delete: u64,
    /// Already as declared.
    pub no_op: u64,
    /// Client records read (`[[clients]]` entries and client source records).
    #[serde(default)]
    pub records: u64,
}

/// Counts for the summary line (all kinds together; `clients` breaks out the client part).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Creates.
    pub create: u64,
    /// Updates.
    pub update: u64,
    /// Deactivations.
    pub deactivate: u64,
    /// Reactivations.
    pub reactivate: u64,
    /// Deletes.
    pub delete: u64,
    /// Records already as declared.
    pub no_op: u64,
    /// OAuth clients and service accounts among the counts above.
    #[serde(default)]
    pub clients: ClientCounts,
    /// Records skipped on purpose (no email, anonymous).
    pub skipped: u64,
    /// Invalid records left out (`on_invalid = "skip"`).
    pub invalid: u64,
    /// Live identities, clients and service accounts in the organization this manifest does
    /// not own; never touched.
    pub unowned: u64,
    /// User source records read.
    pub source_records: u64,
}

impl Summary {
    /// Count of changes with `action`.
    pub fn count(&self, action: Action) -> u64 {
        match action {
            Action::Create => self.create,
            Action::Update => self.update,
            Action::Deactivate => self.deactivate,
            Action::Reactivate => self.reactivate,
            Action::Delete => self.delete,
        }
    }

    /// Total changes.
    pub fn changes(&self) -> u64 {
        Action::ALL.iter().map(|a| self.count(*a)).sum()
    }
}

/// Where the plan applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanTarget {
    /// The API URL, or `sandbox:DIR`.
    pub url: String,
    /// The organization name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// SHA-256 of the plan itself (computed with this field empty).
    pub plan_id: String,
    /// The tool version that wrote it.
    pub tool_version: String,
    /// When it was computed, RFC 3339.
    pub created_at: String,
    /// Whether this is a `--destroy` plan.
    #[serde(default)]
    pub destroy: bool,
    /// Where it applies.
    pub target: PlanTarget,
    /// The manifest it was computed from.
    pub manifest: FileDigest,
    /// The source files it was computed from.
    pub sources: Vec<SourceDigest>,
    /// The changes, in apply order.
    pub changes: Vec<Change>,
    /// Records left out on purpose.
    #[serde(default)]
    pub skipped: Vec<SkippedRecord>,
    /// Invalid records left out (`on_invalid = "skip"`).
    #[serde(default)]
    pub invalid: Vec<SkippedRecord>,
    /// Password outcome per source.
    #[serde(default)]
    pub passwords: Vec<PasswordReport>,
    /// Warnings for the reviewer.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Counts.
    pub summary: Summary,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Computes and sets `plan_id`.
    pub fn seal(&mut self) {
        self.plan_id = String::new();
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        self.plan_id = crate::plan::file::sha256_hex(&bytes);
    }
}

/// The JSON Schema of plan files, as checked in at `schemas/plan.schema.json` (a test fails
/// when the two differ).
pub fn json_schema() -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "avnology-migrate plan file".into());
    }
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
