//! `/v1/organizations`: create (name rules, unique name and slug, optional
//! `Idempotency-Key`), list (paging, `name`/`slug` filter), get and PATCH with
//! `update_mask`. Unknown organizations are 404 `AVNOLOGY_AUTH_300`, as documented.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::body;
use super::list::{Collection, ListRequest};
use crate::emulator::AppState;
use crate::emulator::error::ApiError;
use crate::emulator::paging::CREATE_TIME;
use crate::emulator::store::idempotency::{self, Recorded};
use crate::emulator::store::now_rfc3339;
use crate::emulator::store::organizations::{self, OrganizationRecord};
use crate::emulator::validate;
use crate::wire::{
    CreateOrganizationRequest, ListOrganizationsResponse, Organization, UpdateOrganizationRequest,
};

/// The idempotency scope of creates.
const CREATE_ROUTE: &str = "POST /v1/organizations";

enum Created {
    Fresh(Organization),
    Replay(Recorded),
}

/// `POST /v1/organizations`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let idem_key = body::idempotency_key(&headers)?;
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
    let fingerprint = body::canonical_sha256(&raw);
    let outcome = state
        .store()
        .write(move |tx| {
            if let Some(key) = &idem_key
                && let Some(rec) = idempotency::get(tx, CREATE_ROUTE, key)?
            {
                return if rec.request_sha256 == fingerprint {
                    Ok(Created::Replay(rec))
                } else {
                    Err(ApiError::conflict_reason(
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used with a different request body",
                    ))
                };
            }
            organizations::check_unique(tx, &org)?;
            organizations::insert(tx, &org)?;
            if let Some(key) = &idem_key {
                let body = serde_json::to_string(&org)
                    .map_err(|e| ApiError::internal(format!("encoding an organization: {e}")))?;
                idempotency::put(
                    tx,
                    CREATE_ROUTE,
                    key,
                    &Recorded {
                        request_sha256: fingerprint,
                        status: StatusCode::CREATED.as_u16(),
                        body,
                        etag: None,
                    },
                )?;
            }
            Ok(Created::Fresh(org))
        })
        .await?;
    Ok(match outcome {
        Created::Fresh(org) => body::json(StatusCode::CREATED, &org, None),
        Created::Replay(rec) => body::raw_json(
            StatusCode::from_u16(rec.status).unwrap_or(StatusCode::CREATED),
            rec.body,
            None,
        ),
    })
}

/// What the organization listing accepts: creation order only.
pub const COLLECTION: Collection = Collection {
    name: "organizations",
    filter_fields: organizations::FILTER_FIELDS,
    sort_fields: &[CREATE_TIME],
};

/// `GET /v1/organizations`.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let req = ListRequest::parse(query, &COLLECTION)?;
    let (filter, keyset) = (req.filter.clone(), req.keyset.clone());
    let (items, more) = state
        .store()
        .read(move |c| organizations::list(c, &filter, &keyset))
        .await?;
    let resp = ListOrganizationsResponse {
        organizations: items.into_iter().map(|r| r.organization).collect(),
        next_page_token: req.next_token(more),
    };
    Ok(body::json(StatusCode::OK, &resp, None))
}

/// `GET /v1/organizations/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = state
        .store()
        .read(move |c| organizations::get(c, &id))
        .await?
        .ok_or(ApiError::OrgNotFound)?;
    Ok(body::json(StatusCode::OK, &rec.organization, None))
}

/// `PATCH /v1/organizations/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req: UpdateOrganizationRequest = body::parse_json(&raw)?;
    let paths: Vec<String> = req
        .update_mask
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if paths.is_empty() {
        return Err(ApiError::field("update_mask", "update_mask is required"));
    }
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
                    "display_name" => org.display_name = input.display_name.clone(),
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
                    other => {
                        return Err(ApiError::field(
                            "update_mask",
                            format!("unknown update_mask path `{other}`"),
                        ));
                    }
                }
            }
            organizations::check_unique(tx, &org)?;
            organizations::update(tx, &org)?;
            Ok(org)
        })
        .await?;
    Ok(body::json(StatusCode::OK, &org, None))
}
