//! Service accounts (`/v1/service-accounts`) and their API keys, whose secret the create
//! result carries once.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de::present;

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
