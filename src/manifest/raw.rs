//! The serde shapes of `migration.toml`, mirroring the file. Unknown keys are rejected so a
//! typo (`pasword = …`) is an error, not a silently ignored setting. The JSON Schema in
//! `schemas/migration.schema.json` is generated from these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    /// Where to migrate to.
    #[serde(default)]
    pub target: RawTarget,
    /// User sources: provider exports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<RawUserSource>,
    /// Safety and scoping rules.
    #[serde(default)]
    pub policy: RawPolicy,
}

/// `[target]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// `https://…` (a tenant's admin API), `sandbox` or `sandbox:DIR` (a local emulator
    /// started by the tool). Omitted: `AVNOLOGY_API_URL`, then `https://api-id.avnology.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Organization the users are placed in (its URL-safe `name`); created if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// Export formats the tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Auth0: export-job NDJSON (or a JSON array), optionally gzipped.
    Auth0,
    /// Clerk: dashboard CSV or JSON.
    Clerk,
    /// Firebase Auth: `auth:export` JSON or CSV.
    Firebase,
    /// Amazon Cognito: `list-users` JSON.
    Cognito,
}

impl Provider {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth0 => "auth0",
            Self::Clerk => "clerk",
            Self::Firebase => "firebase",
            Self::Cognito => "cognito",
        }
    }
}

/// `[[users]]`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUserSource {
    /// Source name, shown in plans and stored in each identity's owner marker. Unique.
    pub name: String,
    /// Export format.
    pub provider: Provider,
    /// The export file (.json, .ndjson, .csv, optionally .gz), relative to the manifest.
    pub path: String,
    /// Auth0 only: the support-ticket password-hash export (NDJSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords: Option<String>,
    /// Firebase only: the project's password hash parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firebase_hash: Option<RawFirebaseHash>,
}

/// `[users.firebase_hash]`, from the console's "Password hash parameters" dialog.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFirebaseHash {
    /// `base64_signer_key`; use `${env:NAME}` rather than writing it in the file.
    pub signer_key: String,
    /// `base64_salt_separator`.
    pub salt_separator: String,
    /// `rounds`, 1–8.
    pub rounds: u32,
    /// `mem_cost`, 1–14.
    pub mem_cost: u32,
}

/// What an invalid source record does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    /// Any invalid record fails validate and plan; nothing is applied.
    #[default]
    Fail,
    /// Invalid records are reported and left out; the rest is planned.
    Skip,
}

/// `[policy]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Delete owned objects that no source declares any more.
    #[serde(default)]
    pub prune: bool,
    /// A plan with more deletes than this fails.
    #[serde(default)]
    pub max_deletes: u64,
    /// Fields (`display_name`, `traits.plan`) never updated after create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    /// `fail` (default) or `skip`.
    #[serde(default)]
    pub on_invalid: OnInvalid,
}

/// The JSON Schema of the manifest, as checked in at `schemas/migration.schema.json` (a test
/// fails when the two differ). Editors (taplo, Even Better TOML) validate manifests with it.
pub fn json_schema() -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(RawManifest)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "avnology-migrate manifest (migration.toml)".into());
    }
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
