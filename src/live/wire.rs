//! The JSON shapes of Avnology's admin API, shared by the client ([`super::Client`]) and the
//! [`crate::emulator`] so the two cannot drift. `schemas/avnology-admin.openapi.yaml` marks
//! each field as documented or assumed; a correction from the real API lands here and there.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The admin key the tool uses: `ak_live_…`, `ak_test_…` or `sk_live_…`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key read from the environment or generated for the sandbox.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey((sensitive))")
    }
}

/// Lifecycle state of an identity (documented: `active`, `inactive`, `scheduled_deletion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdentityState {
    /// Can log in.
    #[default]
    Active,
    /// Deactivated: cannot log in, data kept.
    Inactive,
    /// Soft-deleted, purged after a grace period.
    ScheduledDeletion,
}

impl IdentityState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::ScheduledDeletion => "scheduled_deletion",
        }
    }
}

/// Deserializes an optional request field that may be absent but not `null`: the contract
/// types these fields as plain strings, objects or arrays, so the emulator refuses a `null`
/// (400) instead of reading it as absent. Only request types use it; responses stay
/// tolerant.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A nested request object that must be a JSON object: serde would also read a struct from a
/// JSON array of its fields in order, which the contract does not allow.
fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let map = Map::<String, Value>::deserialize(deserializer)?;
    T::deserialize(Value::Object(map)).map_err(serde::de::Error::custom)
}

/// [`object`] for an optional field (absent, never `null`).
fn present_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    object(deserializer).map(Some)
}

/// A list of request objects (absent, never `null`), each a JSON object.
fn present_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
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
fn present_whole<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
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

/// `POST /v1/identities/{id}:deactivate` and `:reactivate` body (documented, optional):
/// a reason for the audit log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateChangeRequest {
    /// Why; accepted for the audit log.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub reason: Option<String>,
}

/// A linked social or federated login (assumed shape: `linked_providers[]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LinkedProvider {
    /// Provider name as the source spelled it.
    pub provider: String,
    /// The user's id at the provider.
    pub subject: String,
}

/// An identity as the API returns it (flat, documented fields plus the assumed
/// `external_id`, `has_password` and `etag`). Linked providers are documented on get and
/// behind `include_linked_providers=true` on list; a list without it leaves them out, so
/// `None` means "not returned", not "none".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// `usr_<uuid>`.
    pub id: String,
    /// The source's id (assumed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Primary email.
    pub email: String,
    /// Email verified.
    #[serde(default)]
    pub email_verified: bool,
    /// E.164 phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Phone verified.
    #[serde(default)]
    pub phone_verified: bool,
    /// Unique username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// BCP 47 locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA time zone (documented field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Organization the identity belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Lifecycle state.
    #[serde(default)]
    pub state: IdentityState,
    /// Custom profile attributes.
    #[serde(default)]
    pub traits: Map<String, Value>,
    /// Admin-only metadata.
    #[serde(default)]
    pub admin_metadata: Map<String, Value>,
    /// Linked logins, when the response carries them (see the type's documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_providers: Option<Vec<LinkedProvider>>,
    /// Whether a password or imported hash is set (assumed; the hash is never returned).
    #[serde(default)]
    pub has_password: bool,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub create_time: String,
    /// Last update time, RFC 3339.
    #[serde(default)]
    pub update_time: String,
    /// Time of the last successful login, RFC 3339; absent before the first (assumed: the
    /// name comes from the documented `order_by` value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<String>,
    /// The ETag, also sent as the `ETag` header (assumed field).
    #[serde(default)]
    pub etag: String,
}

/// A password hash to import (assumed: a `password_hash` object beside `initial_password`).
/// `Debug` hides every value but the algorithm and cost parameters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHashInput {
    /// `bcrypt` or `firebase-scrypt`.
    pub algorithm: String,
    /// The hash: a bcrypt string, or Firebase's base64 `passwordHash`.
    pub hash: String,
    /// Firebase: the per-user salt, standard base64.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub salt: Option<String>,
    /// Firebase: the project's salt separator, base64.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub salt_separator: Option<String>,
    /// Firebase: the project's signer key, base64.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub signer_key: Option<String>,
    /// Firebase: scrypt `r`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_whole"
    )]
    pub rounds: Option<u32>,
    /// Firebase: scrypt `log2(N)`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_whole"
    )]
    pub mem_cost: Option<u32>,
}

impl fmt::Debug for PasswordHashInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHashInput")
            .field("algorithm", &self.algorithm)
            .field("hash", &"(sensitive)")
            .field("rounds", &self.rounds)
            .field("mem_cost", &self.mem_cost)
            .finish_non_exhaustive()
    }
}

/// The writable fields of an identity, for create and for PATCH (where only the fields named
/// in `update_mask` matter). `None` fields are not serialized.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityInput {
    /// The source's id (assumed writable on create).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub external_id: Option<String>,
    /// Required on create.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub email: Option<String>,
    /// Assumed settable on create.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub email_verified: Option<bool>,
    /// E.164.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub phone: Option<String>,
    /// Assumed settable on create.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub phone_verified: Option<bool>,
    /// 3–64 of `[A-Za-z0-9_-]`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub username: Option<String>,
    /// Given name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub last_name: Option<String>,
    /// Display name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub display_name: Option<String>,
    /// Picture URL.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub avatar_url: Option<String>,
    /// BCP 47 locale.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub locale: Option<String>,
    /// IANA time zone.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub timezone: Option<String>,
    /// Organization.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub organization_id: Option<String>,
    /// Custom profile attributes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub traits: Option<Map<String, Value>>,
    /// Admin-only metadata.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub admin_metadata: Option<Map<String, Value>>,
    /// Linked logins (assumed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_objects"
    )]
    pub linked_providers: Option<Vec<LinkedProvider>>,
}

/// `POST /v1/identities` body. `Debug` hides `initial_password` (a plaintext password).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct CreateIdentityRequest {
    /// The identity.
    #[serde(deserialize_with = "object")]
    pub identity: IdentityInput,
    /// Plaintext password, hashed by the server with Argon2id (documented). Never sent by
    /// the migration tool; accepted by the emulator for completeness.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub initial_password: Option<String>,
    /// Imported hash (assumed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_object"
    )]
    pub password_hash: Option<PasswordHashInput>,
    /// Validate without creating (documented).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validate_only: bool,
}

impl fmt::Debug for CreateIdentityRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateIdentityRequest")
            .field("identity", &self.identity)
            .field(
                "initial_password",
                &self.initial_password.as_ref().map(|_| "(sensitive)"),
            )
            .field("password_hash", &self.password_hash)
            .field("validate_only", &self.validate_only)
            .finish()
    }
}

/// `PATCH /v1/identities/{id}` body. `update_mask` is a comma-separated list of field paths;
/// `traits.<key>` and `admin_metadata.<key>` replace one top-level key; `password_hash`
/// replaces the imported hash (assumed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateIdentityRequest {
    /// New values of the masked fields.
    #[serde(deserialize_with = "object")]
    pub identity: IdentityInput,
    /// Comma-separated field paths.
    pub update_mask: String,
    /// Replacement hash, when `password_hash` is in the mask (assumed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_object"
    )]
    pub password_hash: Option<PasswordHashInput>,
}

/// `GET /v1/identities` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListIdentitiesResponse {
    /// This page.
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// Cursor of the next page; absent or empty on the last page (assumed name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Total matching the filter (assumed name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_size: Option<u64>,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// `org_<uuid>`.
    pub id: String,
    /// URL-safe name, 2–64 of lowercase letters, digits and `-`.
    pub name: String,
    /// Human name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Login slug; cannot change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// `open`, `invite_only`, `sso_only` or `disabled`.
    #[serde(default)]
    pub registration_mode: String,
    /// Members.
    #[serde(default)]
    pub member_count: u64,
    /// Creation time.
    #[serde(default)]
    pub create_time: String,
}

/// `POST /v1/organizations` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateOrganizationRequest {
    /// Required name.
    pub name: String,
    /// Human name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub display_name: Option<String>,
    /// Login slug.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub slug: Option<String>,
    /// Default `open`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub registration_mode: Option<String>,
}

/// `GET /v1/organizations` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListOrganizationsResponse {
    /// This page.
    #[serde(default)]
    pub organizations: Vec<Organization>,
    /// Cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The writable fields of an organization for `PATCH /v1/organizations/{id}`, where only the
/// fields named in `update_mask` matter (added for the emulator: the documented update page
/// shows no body, so this shape is assumed, mirroring [`UpdateIdentityRequest`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganizationInput {
    /// URL-safe name, 2–64 of lowercase letters, digits and `-`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub name: Option<String>,
    /// Human name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub display_name: Option<String>,
    /// Login slug; documented as fixed after creation, so a PATCH naming it is refused.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub slug: Option<String>,
    /// `open`, `invite_only`, `sso_only` or `disabled`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub registration_mode: Option<String>,
}

/// `PATCH /v1/organizations/{id}` body (assumed shape, added for the emulator).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateOrganizationRequest {
    /// New values of the masked fields.
    #[serde(deserialize_with = "object")]
    pub organization: OrganizationInput,
    /// Comma-separated field paths: `name`, `display_name`, `registration_mode`.
    pub update_mask: String,
}

/// `POST /v1/flows/login` response (assumed): a login flow to submit credentials to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginFlow {
    /// `flow_<uuid>`.
    pub id: String,
    /// When the flow stops accepting submissions, RFC 3339.
    pub expire_time: String,
}

/// `POST /v1/flows/login/{flow_id}:submit` body (assumed).
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginSubmission {
    /// `password`.
    pub method: String,
    /// Email or username.
    pub identifier: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for LoginSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSubmission")
            .field("method", &self.method)
            .field("identifier", &self.identifier)
            .field("password", &"(sensitive)")
            .finish()
    }
}

/// Successful login (assumed): the session and the identity it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginSuccess {
    /// `ses_<uuid>`.
    pub session_id: String,
    /// The identity that logged in.
    pub identity_id: String,
}

/// The error envelope (assumed shape; SDKs expose `code`, `message`, `request_id`,
/// `details`). The client also accepts the flat form without the `error` wrapper.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The body of an API error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `AVNOLOGY_AUTH_<nnn>`.
    pub code: String,
    /// Human message.
    pub message: String,
    /// `req_<id>`, for support.
    #[serde(default)]
    pub request_id: String,
    /// Structured details, e.g. `{"field": "email"}`.
    #[serde(default)]
    pub details: Value,
}

/// Error codes the tool and the emulator use.
pub mod codes {
    /// Wrong identifier or password (login flow).
    pub const INVALID_CREDENTIALS: &str = "AVNOLOGY_AUTH_001";
    /// Missing or invalid credentials.
    pub const UNAUTHENTICATED: &str = "AVNOLOGY_AUTH_005";
    /// The key lacks the scope.
    pub const PERMISSION_DENIED: &str = "AVNOLOGY_AUTH_100";
    /// Organization not found.
    pub const ORG_NOT_FOUND: &str = "AVNOLOGY_AUTH_300";
    /// Not found.
    pub const NOT_FOUND: &str = "AVNOLOGY_AUTH_901";
    /// Validation failed.
    pub const VALIDATION: &str = "AVNOLOGY_AUTH_902";
    /// Conflict: ETag mismatch or duplicate.
    pub const CONFLICT: &str = "AVNOLOGY_AUTH_903";
    /// Rate limited (assumed; no code is documented for 429).
    pub const RATE_LIMITED: &str = "AVNOLOGY_AUTH_429";
    /// Internal error (emulator faults).
    pub const INTERNAL: &str = "AVNOLOGY_AUTH_500";
}

/// Admin scopes (documented names).
pub mod scopes {
    /// List and get identities.
    pub const USERS_READ: &str = "admin:users:read";
    /// Create, update, delete, deactivate, reactivate identities.
    pub const USERS_WRITE: &str = "admin:users:write";
    /// List and get organizations.
    pub const ORGS_READ: &str = "admin:orgs:read";
    /// Create and update organizations.
    pub const ORGS_WRITE: &str = "admin:orgs:write";
    /// Every scope the emulator knows: these four, plus the OAuth-client and
    /// service-account scopes of [`super::client_scopes`] (added so the admin key and the
    /// sandbox key can manage clients too).
    pub const ALL: &[&str] = &[
        USERS_READ,
        USERS_WRITE,
        ORGS_READ,
        ORGS_WRITE,
        super::client_scopes::CLIENTS_READ,
        super::client_scopes::CLIENTS_WRITE,
        super::client_scopes::SERVICE_ACCOUNTS_READ,
        super::client_scopes::SERVICE_ACCOUNTS_WRITE,
    ];
}

/// An OAuth client (assumed resource: `/v1/oauth-clients`, RFC 7591-style fields). Its
/// secret is returned only once, by create (see [`CreatedOAuthClient`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthClient {
    /// `cli_<id>`: the public client identifier and the resource's id in paths.
    pub client_id: String,
    /// The source's id of the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Display name.
    pub client_name: String,
    /// `confidential` or `public`.
    pub client_type: String,
    /// Exact-match redirect URIs, ordered.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs, ordered.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// CORS origins, ordered.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Grant types.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `client_secret_post` or `none`.
    #[serde(default)]
    pub token_endpoint_auth_method: String,
    /// Free-form metadata; holds the owner marker.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub create_time: String,
    /// Last update.
    #[serde(default)]
    pub update_time: String,
    /// ETag.
    #[serde(default)]
    pub etag: String,
}

/// Writable fields of an OAuth client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuthClientInput {
    /// The source's id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub external_id: Option<String>,
    /// Display name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub client_name: Option<String>,
    /// `confidential` or `public`; fixed after create.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub client_type: Option<String>,
    /// Redirect URIs.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// CORS origins.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub allowed_origins: Option<Vec<String>>,
    /// Grant types.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub grant_types: Option<Vec<String>>,
    /// Scopes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub scopes: Option<Vec<String>>,
    /// `client_secret_post` or `none`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub token_endpoint_auth_method: Option<String>,
    /// Metadata (top-level keys replaced individually through `metadata.<key>` masks).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub metadata: Option<Map<String, Value>>,
    /// Organization.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub organization_id: Option<String>,
}

/// `POST /v1/oauth-clients` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateOAuthClientRequest {
    /// The client.
    #[serde(deserialize_with = "object")]
    pub client: OAuthClientInput,
}

/// `POST /v1/oauth-clients` response: the client and, for confidential clients, its secret
/// (`cs_…`), shown only this once. `Debug` hides the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedOAuthClient {
    /// The client.
    pub client: OAuthClient,
    /// The secret, for confidential clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl fmt::Debug for CreatedOAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedOAuthClient")
            .field("client", &self.client)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "(sensitive)"),
            )
            .finish()
    }
}

/// `PATCH /v1/oauth-clients/{client_id}` body (`If-Match` honoured).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateOAuthClientRequest {
    /// New values of the masked fields.
    #[serde(deserialize_with = "object")]
    pub client: OAuthClientInput,
    /// Comma-separated field paths.
    pub update_mask: String,
}

/// `GET /v1/oauth-clients` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListOAuthClientsResponse {
    /// This page.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// Cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A service account (documented: `sa_…`, name, description, owner_id, organization_id,
/// active, create_time; assumed: external_id, metadata, etag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// `sa_<uuid>`.
    pub id: String,
    /// 1–256 characters.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The human identity responsible for it (documented as required).
    pub owner_id: String,
    /// Organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Active.
    #[serde(default)]
    pub active: bool,
    /// The source's id (assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Metadata with the owner marker (assumed).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Creation time.
    #[serde(default)]
    pub create_time: String,
    /// ETag (assumed).
    #[serde(default)]
    pub etag: String,
}

/// `POST /v1/service-accounts` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateServiceAccountRequest {
    /// Required, 1–256.
    pub name: String,
    /// Description.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub description: Option<String>,
    /// Required: an identity id.
    pub owner_id: String,
    /// Organization.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub organization_id: Option<String>,
    /// The source's id (assumed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub external_id: Option<String>,
    /// Metadata (assumed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/service-accounts/{id}` body (assumed; `If-Match` honoured): `name`,
/// `description` and `metadata.<key>` paths.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateServiceAccountRequest {
    /// New name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub name: Option<String>,
    /// New description.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub description: Option<String>,
    /// Metadata.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub metadata: Option<Map<String, Value>>,
    /// Comma-separated field paths.
    pub update_mask: String,
}

/// `GET /v1/service-accounts` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListServiceAccountsResponse {
    /// This page.
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    /// Cursor of the next page (assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// `POST /v1/service-accounts/{id}/keys` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateApiKeyRequest {
    /// Required name.
    pub name: String,
    /// Scopes; empty means all.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// ISO 8601 expiry; absent means never.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub expire_time: Option<String>,
}

/// An API key record (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// `key_<id>`.
    pub id: String,
    /// First characters, e.g. `ak_live_a1b2...`.
    pub prefix: String,
    /// Name.
    pub name: String,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Active.
    #[serde(default)]
    pub active: bool,
    /// Creation time.
    #[serde(default)]
    pub create_time: String,
}

/// `POST /v1/service-accounts/{id}/keys` response: the record plus the full key, shown only
/// this once. `Debug` hides the key.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedApiKey {
    /// The record fields.
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    /// The full key.
    pub key: String,
}

impl fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("record", &self.record)
            .field("key", &"(sensitive)")
            .finish()
    }
}

/// `GET /v1/service-accounts/{id}/keys` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListApiKeysResponse {
    /// The keys (never the secrets).
    #[serde(default)]
    pub keys: Vec<ApiKeyRecord>,
}

/// Scopes for the client resources.
pub mod client_scopes {
    /// OAuth clients, read (assumed name).
    pub const CLIENTS_READ: &str = "admin:oauth-clients:read";
    /// OAuth clients, write (assumed name).
    pub const CLIENTS_WRITE: &str = "admin:oauth-clients:write";
    /// Service accounts and keys, read (documented).
    pub const SERVICE_ACCOUNTS_READ: &str = "admin:service-accounts:read";
    /// Service accounts and keys, write (documented).
    pub const SERVICE_ACCOUNTS_WRITE: &str = "admin:service-accounts:write";
}
