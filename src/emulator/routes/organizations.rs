//! `/v1/organizations`: create (name rules, unique name and slug, optional
//! `Idempotency-Key`), list (paging, `name`/`slug` filter), get and PATCH with
//! `update_mask`. Unknown organizations are 404 `AVNOLOGY_AUTH_300`, as documented.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::body::{self, QueryParams};
use super::idempotent::Idempotency;
use super::list::{self, Collection};
use super::mask;
use crate::emulator::AppState;
use crate::emulator::error::ApiError;
use crate::emulator::paging::CREATE_TIME;
use crate::emulator::store::now_rfc3339;
use crate::emulator::store::organizations::{self, OrganizationRecord};
use crate::emulator::validate;
use crate::wire::{
    CreateOrganizationRequest, ListOrganizationsResponse, Organization, UpdateOrganizationRequest,
};

/// The idempotency scope of creates.
const CREATE_ROUTE: &str = "POST /v1/organizations";

/// `POST /v1/organizations`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let idem = Idempotency::from_request(CREATE_ROUTE, &headers, &raw)?;
    let req: CreateOrganizationRequest = body::parse_json(&raw)?;
    validate::org_name("name", &req.name)?;
    if let Some(slug) = &req.slug {
        validate::org_name("slug", slug)?;
    }
    let registration_mode = req.registration_mode.unwrap_or_else(|| "open".to_string());
    validate::registration_mode(&registration_mode)?;
    let org = Organization {
        id: format!("org_{}", uuid::Uuid::new_v4()),
        name: req.name,
        display_name: req.display_name,
        slug: req.slug,
        registration_mode,
        member_count: 0,
        create_time: now_rfc3339(),
    };
    let outcome = state
        .store()
        .write(move |tx| {
            idem.create(tx, || {
                organizations::check_unique(tx, &org)?;
                organizations::insert(tx, &org)?;
                Ok(org)
            })
        })
        .await?;
    Ok(outcome.into_response())
}

/// What the organization listing accepts: creation order only.
pub const COLLECTION: Collection = Collection {
    name: "organizations",
    filter_fields: organizations::FILTER_FIELDS,
    sort_fields: &[CREATE_TIME],
};

/// `GET /v1/organizations`.
pub async fn list(State(state): State<AppState>, query: QueryParams) -> Result<Response, ApiError> {
    let (items, next_page_token) =
        list::page::<OrganizationRecord>(&state, query, &COLLECTION).await?;
    let resp = ListOrganizationsResponse {
        organizations: items.into_iter().map(|r| r.organization).collect(),
        next_page_token,
    };
    Ok(body::json(StatusCode::OK, &resp, None))
}

/// `GET /v1/organizations/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = list::fetch::<OrganizationRecord>(&state, id, || ApiError::OrgNotFound).await?;
    Ok(body::json(StatusCode::OK, &rec.organization, None))
}

/// `PATCH /v1/organizations/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req: UpdateOrganizationRequest = body::parse_json(&raw)?;
    let paths: Vec<String> = mask::paths(&req.update_mask)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let input = req.organization;
    // Every field sent is checked, named in the mask or not.
    if let Some(name) = &input.name {
        validate::org_name("name", name)?;
    }
    if let Some(mode) = &input.registration_mode {
        validate::registration_mode(mode)?;
    }
    let org = state
        .store()
        .write(move |tx| {
            let OrganizationRecord {
                organization: mut org,
                ..
            } = organizations::get(tx, &id)?.ok_or(ApiError::OrgNotFound)?;
            for path in &paths {
                match path.as_str() {
                    "name" => {
                        let name = input.name.clone().unwrap_or_default();
                        validate::org_name("name", &name)?;
                        org.name = name;
                    }
                    "display_name" => org.display_name.clone_from(&input.display_name),
                    "registration_mode" => {
                        let mode = input
                            .registration_mode
                            .clone()
                            .unwrap_or_else(|| "open".to_string());
                        validate::registration_mode(&mode)?;
                        org.registration_mode = mode;
                    }
                    "slug" => {
                        return Err(ApiError::field("slug", "slug cannot change after creation"));
                    }
                    other => return Err(mask::unknown(other)),
                }
            }
            organizations::check_unique(tx, &org)?;
            organizations::update(tx, &org)?;
            Ok(org)
        })
        .await?;
    Ok(body::json(StatusCode::OK, &org, None))
}
