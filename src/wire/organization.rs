//! Organizations (`/v1/organizations`): the tenant's top-level object the manifest names.

use serde::{Deserialize, Serialize};

use super::de::{object, present};

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
