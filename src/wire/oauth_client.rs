//! OAuth clients (`/v1/oauth-clients`): the resource, its inputs, and the create result that
//! carries the secret once.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de::{object, present};

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
