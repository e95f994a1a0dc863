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
    /// OAuth clients declared by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<RawClient>,
    /// OAuth clients read from provider exports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_sources: Vec<RawClientSource>,
    /// Safety and scoping rules.
    #[serde(default)]
    pub policy: RawPolicy,
}

/// `[target]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// `https://…` (a tenant's admin API), `sandbox` or `sandbox:DIR` (a local emulator
    /// started by the tool). Omitted: `AVNOLOGY_API_URL`; with neither, `plan` and `apply`
    /// refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Organization the users are placed in (its URL-safe `name`); created if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Email of the identity that owns the service accounts made for machine-to-machine
    /// clients (Avnology requires an owner); needed only when a source has such clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_owner: Option<String>,
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
    /// Source name, shown in plans and stored in each identity's owner marker. Unique
    /// across `[[users]]` and `[[client_sources]]`.
    pub name: String,
    /// Export format.
    pub provider: Provider,
    /// The export file (.json, .ndjson, .csv, optionally .gz), relative to the manifest.
    pub path: String,
    /// Auth0 only: the support-ticket password-hash export (NDJSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords: Option<String>,
    /// The SHA-256 (hex) `path` must have: `validate` and `plan` refuse another file before
    /// reading it. `avnology-migrate pin` fills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The SHA-256 (hex) `passwords` must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords_sha256: Option<String>,
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

/// `[[clients]]`: a client declared in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// Its external_id; unique among clients.
    pub key: String,
    /// Display name.
    pub name: String,
    /// `confidential` (has a secret) or `public` (PKCE only).
    #[serde(rename = "type")]
    pub client_type: crate::model::ClientType,
    /// Exact-match redirect URIs; order is kept and diffed.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// CORS origins.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Grant types; default `authorization_code`, `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Scopes; default `openid`, `profile`, `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// `[[client_sources]]`: clients read from a provider export.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClientSource {
    /// Source name (default: the provider), stored in each client's owner marker. Unique
    /// across `[[users]]` and `[[client_sources]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `auth0` (Management API JSON, or deploy-cli YAML / directory), `cognito`
    /// (`describe-user-pool-client` output) or `clerk` (`/oauth_applications` output).
    pub provider: Provider,
    /// The export file or directory, relative to the manifest.
    pub path: String,
    /// The SHA-256 (hex) `path` must have (a directory: of its files' paths and digests).
    /// `avnology-migrate pin` fills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Values for auth0-deploy-cli `##KEY##` / `@@KEY@@` placeholders.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vars: std::collections::BTreeMap<String, String>,
    /// Redirect URL rewrites, applied in order to redirect URIs, post-logout URIs and origins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<RawRewrite>,
}

/// `[[client_sources.rewrite]]`: replace a URL prefix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRewrite {
    /// The prefix to replace, e.g. `https://acme.us.auth0.com`.
    pub from: String,
    /// Its replacement, e.g. `https://auth.acme.com`.
    pub to: String,
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

/// Whether a plan takes over live identities this tool did not create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdoptPolicy {
    /// A live identity that holds a record's email (a sign-up made in Avnology during the
    /// dual-write window) is listed as a conflict and the record is skipped.
    #[default]
    Never,
    /// Such an identity, without an owner marker or another `external_id`, whose email is
    /// verified on both sides, is adopted: it takes the record's `external_id`, owner marker
    /// and fields.
    VerifiedEmail,
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
    /// `never` (default) or `verified_email`: adopt live identities that match a record by
    /// verified email (dual-write sign-ups) instead of listing them as conflicts.
    #[serde(default)]
    pub adopt: AdoptPolicy,
    /// Source names whose objects this manifest takes over (a renamed source): their
    /// identities and clients are updated to this manifest's source names, and pruned like its
    /// own. Without this, objects of sources the manifest does not name are never touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopt_sources: Vec<String>,
}

/// The JSON Schema of the manifest, as checked in at `schemas/migration.schema.json` (a test
/// fails when the two differ). Editors (taplo, Even Better TOML) validate manifests with it.
pub fn json_schema() -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(RawManifest)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "title".into(),
            "avnology-migrate manifest (migration.toml)".into(),
        );
    }
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
