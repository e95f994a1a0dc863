//! The plan: what `apply` will do, as a reviewable, versioned JSON document.
//!
//! A plan binds itself to the world it was computed from — the SHA-256 of the interpolated
//! manifest and of every source file, a digest of every desired record it acts on, and the
//! ETag of every live object it changes — so `apply plan.json` executes exactly what was
//! reviewed or refuses. It never holds a password hash, secret or API key: apply re-reads
//! the sources for those.
//!
//! A plan of a million changes never sits in memory. The plan file is NDJSON written and read
//! as a stream ([`PlanLine`]): a header (what the plan is bound to), one line per change in
//! apply order, a footer (counts, the review sample, skipped and invalid records, password
//! report, warnings) and the seal (`plan_id`, the SHA-256 of every byte before it). A create
//! carries no field values, only its key, source, record position and desired digest; updates,
//! deactivations and deletes carry their field-level before/after and ETag. What renderers
//! show is a [`Plan`]: the header, the footer and the sample, never the whole change list.
//!
//! [`build`] computes a plan from a manifest and the live tenant's [`LiveState`], writing
//! changes as they are found; [`file`] writes, seals, verifies and streams plan files;
//! [`live_index`] holds the live identities compactly while a plan is built.

pub mod build;
mod clients;
pub mod file;
pub mod freshness;
pub mod live_index;
pub mod ownership;
pub mod selection;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use build::{
    BuildOptions, DesiredIdentity, DesiredSet, LiveState, PlanError, build,
    collect_desired_clients, desired_identity,
};
pub use live_index::LiveIdentities;

pub use clients::DesiredClient;

use crate::diff::FieldChange;
use crate::model::ExternalId;

/// Version of the plan file format; bumped on incompatible changes. Version 1 was one
/// pretty-printed JSON document holding every change with its fields.
pub const FORMAT_VERSION: u32 = 2;

/// How many changes of each kind and action a plan lists with their fields for review (the
/// text and Markdown renderers show at most this many; the plan file holds them all).
pub const LISTED_PER_GROUP: usize = 100;

/// How many skipped records, invalid records and warnings a plan keeps for review; the
/// summary counts them all.
pub const MAX_LISTED_RECORDS: usize = 1000;

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
    /// All kinds in the order plans list them (apply order).
    pub const ALL: [ObjectKind; 4] = [
        ObjectKind::Organization,
        ObjectKind::OAuthClient,
        ObjectKind::Identity,
        ObjectKind::ServiceAccount,
    ];

    /// The kind's name in journal keys. Written out, not derived from the variant's name,
    /// so that renaming a variant cannot silently break the resume of a journal written by
    /// an earlier version (pinned by `apply::journal`'s tests).
    pub fn journal_name(self) -> &'static str {
        match self {
            Self::Organization => "Organization",
            Self::OAuthClient => "OAuthClient",
            Self::Identity => "Identity",
            Self::ServiceAccount => "ServiceAccount",
        }
    }

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
    /// Take over a live identity this tool did not create (a sign-up made in Avnology during
    /// the dual-write window, matched by verified email): set its `external_id` and owner
    /// marker and the fields the source provides.
    Adopt,
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
    /// The action's name in journal keys; see [`ObjectKind::journal_name`].
    pub fn journal_name(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Adopt => "Adopt",
            Self::Update => "Update",
            Self::Deactivate => "Deactivate",
            Self::Reactivate => "Reactivate",
            Self::Delete => "Delete",
        }
    }

    /// The Terraform-like symbol; always printed, so colour never carries meaning alone.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Create => "+",
            Self::Adopt => "<=",
            Self::Update => "~",
            Self::Deactivate | Self::Reactivate => "±",
            Self::Delete => "-",
        }
    }

    /// Past participle for "will be …".
    pub fn verb(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Adopt => "adopted",
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
            Self::Adopt => "adopt",
            Self::Update => "update",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::Delete => "delete",
        }
    }

    /// All actions in the order plans list them.
    pub const ALL: [Action; 6] = [
        Action::Create,
        Action::Adopt,
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
    #[schemars(with = "String")]
    pub key: ExternalId,
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
    /// Field-level changes. Empty on identity creates in the plan file (the sample in the
    /// footer carries the fields of the first creates, for review).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// The record's position among its source's identity records (0-based): apply reads the
    /// plan and the sources together in one pass and pairs each change with this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
}

/// How many changes of one kind and action a plan holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupCount {
    /// The kind of object.
    pub kind: ObjectKind,
    /// The action.
    pub action: Action,
    /// How many.
    pub count: u64,
}

/// Per-source record counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceTally {
    /// Source name.
    pub source: String,
    /// Records accepted (identities, or clients and service accounts).
    pub accepted: u64,
    /// Records skipped on purpose.
    pub skipped: u64,
    /// Invalid records.
    pub invalid: u64,
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
    #[schemars(with = "Option<String>")]
    pub external_id: Option<ExternalId>,
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
    /// Creates that mint a secret Avnology shows only once (confidential OAuth clients,
    /// service account keys): apply needs `--secrets-out` for them.
    #[serde(default)]
    pub mint_secrets: u64,
}

/// Counts for the summary line (all kinds together; `clients` breaks out the client part).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Creates.
    pub create: u64,
    /// Adoptions of live identities matched by verified email.
    #[serde(default)]
    pub adopt: u64,
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
    /// Records left out because a live object this plan may not take over holds their
    /// email, name or key ([`Conflict`]).
    #[serde(default)]
    pub conflicts: u64,
    /// User source records read.
    pub source_records: u64,
}

impl Summary {
    /// Count of changes with `action`.
    pub fn count(&self, action: Action) -> u64 {
        match action {
            Action::Create => self.create,
            Action::Adopt => self.adopt,
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
    /// The organization's Avnology id when it existed at plan time: `apply` refuses a
    /// tenant whose organization of that name has another id (an alias URL, another
    /// tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
}

/// The plan file's first line: what the plan is and what it is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanHeader {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The tool version that wrote it.
    pub tool_version: String,
    /// When it was computed, RFC 3339.
    pub created_at: String,
    /// Whether this is a `--destroy` plan.
    #[serde(default)]
    pub destroy: bool,
    /// Where it applies.
    pub target: PlanTarget,
    /// The manifest it was computed from. Its path is relative to the plan file's folder
    /// (so `apply PLAN` finds it from any working directory), and the source files' paths
    /// are relative to the manifest's folder.
    pub manifest: FileDigest,
    /// The source files it was computed from.
    pub sources: Vec<SourceDigest>,
    /// A partial plan's selection (`plan --only`): the addresses it was limited to, as
    /// `identity:<external_id>`, `oauth_client:<key>`, `service_account:<key>` or
    /// `source:<name>`. Empty for a full plan. A partial plan deletes nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
}

/// The plan file's line after the last change: counts and what a reviewer reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanFooter {
    /// Counts.
    pub summary: Summary,
    /// Changes per kind and action, in apply order.
    pub groups: Vec<GroupCount>,
    /// The first [`LISTED_PER_GROUP`] changes of each group with their fields (creates
    /// included), for review. Emails and names of created identities appear only here.
    pub sample: Vec<Change>,
    /// Records left out on purpose (the first [`MAX_LISTED_RECORDS`]).
    #[serde(default)]
    pub skipped: Vec<SkippedRecord>,
    /// Invalid records left out, `on_invalid = "skip"` (the first [`MAX_LISTED_RECORDS`]).
    #[serde(default)]
    pub invalid: Vec<SkippedRecord>,
    /// Password outcome per source.
    #[serde(default)]
    pub passwords: Vec<PasswordReport>,
    /// Per-source record counts.
    #[serde(default)]
    pub tallies: Vec<SourceTally>,
    /// Warnings for the reviewer.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Records left out because a live object holds their email or name (the first
    /// [`MAX_LISTED_RECORDS`]), with both sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
    /// Live identities each owned source (by owner marker) will hold once the plan is
    /// applied: what `apply` reconciles against when it trusted its journal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owned_after: BTreeMap<String, u64>,
}

/// A record that would collide with a live object the plan may not take over: a live
/// identity that already uses its email (a dual-write sign-up, another source's identity),
/// or a live client with its name. Shown with both sides; the record is left out, and
/// `apply` exits non-zero until the conflict is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Conflict {
    /// The record's kind.
    pub kind: ObjectKind,
    /// The record's key (external_id).
    #[schemars(with = "String")]
    pub key: ExternalId,
    /// Its source.
    pub source: String,
    /// Where it is (file, line, record).
    pub location: String,
    /// The record's email (identities) or name (clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// The live object's Avnology id.
    pub live_id: String,
    /// The live object's external_id, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub live_external_id: Option<ExternalId>,
    /// The live object's email or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    /// The source named by the live object's owner marker, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_owner: Option<String>,
    /// Why the plan does not take it over, and what would.
    pub reason: String,
}

/// The plan file's last line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Seal {
    /// SHA-256 (hex) of every byte of the file before this line.
    pub plan_id: String,
}

/// One line of a plan file (NDJSON): a header, then the changes in apply order, then the
/// footer, then the seal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanLine {
    /// The first line.
    Header(PlanHeader),
    /// One change.
    Change(Change),
    /// After the last change.
    Footer(PlanFooter),
    /// The last line.
    Seal(Seal),
}

/// A plan as people review it: the header, the footer with its sample, and the `plan_id`.
/// The full change list stays in the plan file ([`file::PlanFile::changes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// SHA-256 of the plan file up to its seal.
    pub plan_id: String,
    /// What the plan is bound to.
    pub header: PlanHeader,
    /// Counts, sample and reports.
    pub footer: PlanFooter,
}

impl Plan {
    /// Whether the plan covers only part of the manifest (`plan --only`).
    pub fn is_partial(&self) -> bool {
        !self.header.only.is_empty()
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.total_changes() == 0
    }

    /// Every change the plan holds, the organization's included.
    pub fn total_changes(&self) -> u64 {
        self.footer.groups.iter().map(|g| g.count).sum()
    }

    /// How many changes of `kind` and `action` the plan holds.
    pub fn count(&self, kind: ObjectKind, action: Action) -> u64 {
        self.footer
            .groups
            .iter()
            .filter(|g| g.kind == kind && g.action == action)
            .map(|g| g.count)
            .sum()
    }

    /// The listed changes of `kind` and `action`.
    pub fn listed(&self, kind: ObjectKind, action: Action) -> impl Iterator<Item = &Change> {
        self.footer
            .sample
            .iter()
            .filter(move |c| c.kind == kind && c.action == action)
    }

    /// Shorthand for the summary.
    pub fn summary(&self) -> &Summary {
        &self.footer.summary
    }
}

/// The JSON Schema of plan files, as checked in at `schemas/plan.schema.json` (a test fails
/// when the two differ).
pub fn json_schema() -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(PlanLine)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "title".into(),
            "avnology-migrate plan file: one line (NDJSON)".into(),
        );
    }
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
