//! A user as a source declares it.

use serde_json::{Map, Value};

use super::{ExternalId, PasswordHash};

/// The `admin_metadata` key that marks an identity as created and owned by this tool:
/// `{"source": <source name>, "password_fp": <fingerprint or absent>}`.
pub const OWNER_KEY: &str = "avnology_migrate";

/// Fields of an identity the tool manages, excluding `traits.<key>` and
/// `admin_metadata.<key>`, which are open-ended.
pub const IDENTITY_FIELDS: &[&str] = &[
    "email",
    "email_verified",
    "phone",
    "phone_verified",
    "username",
    "first_name",
    "last_name",
    "display_name",
    "avatar_url",
    "locale",
    "timezone",
    "state",
    "linked_providers",
    "password",
];

/// Whether `path` names a field the tool manages (for `ignore_changes`).
pub fn is_known_field(path: &str) -> bool {
    if IDENTITY_FIELDS.contains(&path) {
        return true;
    }
    match path.split_once('.') {
        Some(("traits" | "admin_metadata", key)) => !key.is_empty() && key != OWNER_KEY,
        _ => false,
    }
}

/// A social or federated login linked to a user (Auth0 `identities[]` with `isSocial`,
/// Firebase `providerUserInfo[]`, Clerk external accounts, Cognito `identities`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LinkedProvider {
    /// The provider, as the source names it (`google-oauth2`, `google.com`, `Google`, …).
    pub provider: String,
    /// The user's id at that provider.
    pub subject: String,
}

/// One user as a source declares it. Every `Option` field is one the source may not carry:
/// `None` means "the source says nothing", and the diff leaves such a field alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    /// The provider's id; becomes `external_id`.
    pub external_id: ExternalId,
    /// Primary email. Avnology's create call requires one, so records without an email are
    /// skipped (and reported) by the sources.
    pub email: Option<String>,
    /// Whether the email was verified at the provider.
    pub email_verified: Option<bool>,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// Whether the phone number was verified at the provider.
    pub phone_verified: Option<bool>,
    /// Username, where the provider has one.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Full display name.
    pub display_name: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// BCP 47 locale.
    pub locale: Option<String>,
    /// IANA time zone (Cognito's `zoneinfo`).
    pub timezone: Option<String>,
    /// `false` for users the provider blocked, banned or disabled.
    pub active: bool,
    /// Custom profile attributes, compared by the top-level keys set here.
    pub traits: Map<String, Value>,
    /// Admin-only metadata, compared by the top-level keys set here. The owner marker is
    /// added by the plan, not by sources.
    pub admin_metadata: Map<String, Value>,
    /// Linked social or federated logins, sorted.
    pub linked_providers: Vec<LinkedProvider>,
    /// The imported password hash, if the export carried one Avnology can verify.
    pub password: Option<PasswordHash>,
    /// Why no usable hash was imported, when the user had a password at the provider that
    /// cannot carry over (e.g. an unsupported hasher). Feeds the password-hash report.
    pub password_unsupported: Option<String>,
    /// The user had MFA enrolled at the provider; enrolments do not carry over.
    pub mfa_enrolled: bool,
}

impl Default for ExternalId {
    fn default() -> Self {
        ExternalId::new(String::new())
    }
}
