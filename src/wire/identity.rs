//! Identities: the user records of `/v1/identities`, their lifecycle state, password
//! hashes and linked providers, and the request and list bodies.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de::{object, present, present_object, present_objects, present_whole};

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
