//! OAuth client applications and service accounts as sources declare them.

use super::ExternalId;

/// How a client authenticates at the token endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    /// Has a secret (server-side web apps): `client_secret_post`.
    Confidential,
    /// No secret; PKCE only (SPAs, native and mobile apps).
    Public,
}

impl ClientType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    /// The token endpoint auth method Avnology uses for this type (`client_secret_post` for
    /// confidential clients, `none` for public ones with PKCE).
    pub fn token_endpoint_auth_method(self) -> &'static str {
        match self {
            Self::Confidential => "client_secret_post",
            Self::Public => "none",
        }
    }
}

/// An OAuth 2.1 client application. Lists are ordered: order is kept and diffed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// Provider client id (`client_id`, Cognito `ClientId`), deploy-cli `name`, or the
    /// manifest `key`.
    pub external_id: ExternalId,
    /// Display name.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Exact-match redirect URIs, in order.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs, in order.
    pub post_logout_redirect_uris: Vec<String>,
    /// CORS origins, in order.
    pub allowed_origins: Vec<String>,
    /// Grant types (`authorization_code`, `refresh_token`, `client_credentials`).
    pub grant_types: Vec<String>,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
}

/// A machine-to-machine client: an Avnology service account with an API key (Auth0
/// `non_interactive` apps, Cognito clients with only `client_credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Provider client id.
    pub external_id: ExternalId,
    /// Name, 1–256 characters.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Scopes of the API key minted for it (empty: all scopes).
    pub scopes: Vec<String>,
}

/// What a client source record becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientDecl {
    /// An OAuth client.
    OAuth(OAuthClient),
    /// A service account with an API key.
    ServiceAccount(ServiceAccount),
}

impl ClientDecl {
    /// The record's external id.
    pub fn external_id(&self) -> &ExternalId {
        match self {
            Self::OAuth(c) => &c.external_id,
            Self::ServiceAccount(s) => &s.external_id,
        }
    }
}
