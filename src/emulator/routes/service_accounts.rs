//! `/v1/service-accounts` and their API keys (documented, reference §7): create (owner must
//! be a live identity), list (paging, filter), get, PATCH (assumed: `update_mask` over
//! `name`, `description`, `metadata`, `metadata.<key>`, with `If-Match`), delete (revokes
//! every key), and `/keys`: mint (the key is shown once), list (records only), revoke.
//!
//! A minted key is `ak_test_` + 64 alphanumerics, stored as its SHA-256 digest, and works
//! against this emulator's admin API with the scopes it was minted with (none means all) as
//! soon as the create commits; revoking it, or deleting its service account, stops it at
//! once. As with OAuth client secrets, a key create with an `Idempotency-Key` records its
//! 201, key included, so that a retry recovers the key instead of minting a second one; the
//! record is purged after [`super::idempotent::REPLAY_HOURS`] and when the service account
//! is deleted.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::{self, QueryParams};
use super::change;
use super::idempotent::Idempotency;
use super::identities::check_org;
use super::list::{self, Collection};
use super::mask;
use crate::emulator::AppState;
use crate::emulator::config::{generate_api_key, random_alphanumeric};
use crate::emulator::error::ApiError;
use crate::emulator::paging::CREATE_TIME;
use crate::emulator::store::idempotency;
use crate::emulator::store::service_accounts::{self, ServiceAccountRecord};
use crate::emulator::store::table::Versioned;
use crate::emulator::store::{create_log, identities, now_rfc3339};
use crate::emulator::validate;
use crate::wire::{
    ApiKeyRecord, CreateApiKeyRequest, CreateServiceAccountRequest, CreatedApiKey, IdentityState,
    ListApiKeysResponse, ListServiceAccountsResponse, ServiceAccount, UpdateServiceAccountRequest,
    scopes,
};

/// The idempotency scope of service-account creates.
const CREATE_ROUTE: &str = "POST /v1/service-accounts";

/// The idempotency scope of key creates: per service account, so the same key and body
/// sent for another account is a new request, not a replay of this account's key.
fn key_route(service_account_id: &str) -> String {
    format!("POST /v1/service-accounts/{service_account_id}/keys")
}

/// How many characters of a key its `prefix` shows: `ak_test_` and four more.
const PREFIX_CHARS: usize = 12;

fn not_found() -> ApiError {
    list::not_found::<ServiceAccountRecord>()
}

fn key_not_found() -> ApiError {
    ApiError::NotFound { what: "API key" }
}

/// 404 `AVNOLOGY_AUTH_901` with `details.field = "owner_id"` unless it names an identity
/// that is not soft-deleted (documented: the owner is the human identity responsible for
/// the account).
fn check_owner(conn: &rusqlite::Connection, owner_id: &str) -> Result<(), ApiError> {
    match identities::get(conn, owner_id)? {
        Some(rec) if rec.identity.state != IdentityState::ScheduledDeletion => Ok(()),
        _ => Err(ApiError::MissingReference {
            field: "owner_id",
            what: "identity",
        }),
    }
}

/// `POST /v1/service-accounts`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let idem = Idempotency::from_request(CREATE_ROUTE, &headers, &raw)?;
    let req: CreateServiceAccountRequest = body::parse_json(&raw)?;
    validate::name("name", &req.name)?;
    if req.owner_id.is_empty() {
        return Err(ApiError::field("owner_id", "owner_id is required"));
    }
    validate::external_id(req.external_id.as_deref())?;
    validate::organization_id(req.organization_id.as_deref())?;
    let now = now_rfc3339();
    let account = ServiceAccount {
        id: format!("sa_{}", uuid::Uuid::new_v4()),
        name: req.name,
        description: req.description,
        owner_id: req.owner_id,
        organization_id: req.organization_id,
        active: true,
        external_id: req.external_id,
        metadata: req.metadata.unwrap_or_default(),
        create_time: now.clone(),
        etag: String::new(),
    };
    let unique_external_id = state.unique_external_id();
    let outcome = state
        .store()
        .write(move |tx| {
            idem.create(tx, || {
                check_owner(tx, &account.owner_id)?;
                check_org(tx, account.organization_id.as_deref())?;
                if unique_external_id {
                    service_accounts::check_unique(tx, &account)?;
                }
                let mut rec = ServiceAccountRecord {
                    seq: 0,
                    version: 1,
                    update_time: now,
                    account,
                };
                rec.seq = service_accounts::insert(tx, &rec)?;
                create_log::record(
                    tx,
                    create_log::Kind::ServiceAccount,
                    &rec.account.id,
                    rec.account.external_id.as_deref(),
                    idem.key(),
                )?;
                Ok(rec.into_wire())
            })
        })
        .await?;
    Ok(outcome.into_response())
}

/// What the service account listing accepts: creation order only.
pub const COLLECTION: Collection = Collection {
    name: "service_accounts",
    filter_fields: service_accounts::FILTER_FIELDS,
    sort_fields: &[CREATE_TIME],
};

/// `GET /v1/service-accounts`.
pub async fn list(State(state): State<AppState>, query: QueryParams) -> Result<Response, ApiError> {
    let (items, next_page_token) =
        list::page::<ServiceAccountRecord>(&state, query, &COLLECTION).await?;
    let resp = ListServiceAccountsResponse {
        service_accounts: items.into_iter().map(Versioned::into_wire).collect(),
        next_page_token,
    };
    Ok(body::json(StatusCode::OK, &resp, None))
}

/// One parsed `update_mask` path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MaskPath {
    Name,
    Description,
    Metadata,
    MetadataKey(String),
}

fn parse_mask(update_mask: &str) -> Result<Vec<MaskPath>, ApiError> {
    mask::paths(update_mask)?
        .into_iter()
        .map(|p| match p {
            "name" => Ok(MaskPath::Name),
            "description" => Ok(MaskPath::Description),
            "metadata" => Ok(MaskPath::Metadata),
            _ => match mask::map_key(p, "metadata.") {
                Some(key) => Ok(MaskPath::MetadataKey(key.to_string())),
                None => Err(mask::unknown(p)),
            },
        })
        .collect()
}

/// `PATCH /v1/service-accounts/{id}` (assumed: the documented API shows no update).
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req: UpdateServiceAccountRequest = body::parse_json(&raw)?;
    let paths = parse_mask(&req.update_mask)?;
    // Every field sent is checked, named in the mask or not.
    if let Some(name) = &req.name {
        validate::name("name", name)?;
    }
    change::patch(
        &state,
        id,
        &headers,
        move |tx, rec: &mut ServiceAccountRecord| {
            let before = rec.account.clone();
            let a = &mut rec.account;
            for path in &paths {
                match path {
                    // Absent means cleared (AIP-134); a cleared name fails validation below.
                    MaskPath::Name => a.name = req.name.clone().unwrap_or_default(),
                    MaskPath::Description => a.description.clone_from(&req.description),
                    MaskPath::Metadata => a.metadata = req.metadata.clone().unwrap_or_default(),
                    MaskPath::MetadataKey(k) => {
                        mask::set_key(&mut a.metadata, req.metadata.as_ref(), k);
                    }
                }
            }
            validate::name("name", &rec.account.name)?;
            if rec.account != before {
                rec.version += 1;
                rec.update_time = now_rfc3339();
                service_accounts::update(tx, rec)?;
            }
            Ok(())
        },
    )
    .await
}

/// `DELETE /v1/service-accounts/{id}`: removes the account and revokes all its keys.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change::delete(&state, id, &headers, |tx, rec: ServiceAccountRecord| {
        let id = &rec.account.id;
        service_accounts::delete(tx, id)?;
        // The recorded key creates hold keys that no longer work; drop them with the
        // account rather than keep dead secrets around.
        idempotency::delete_route(tx, &key_route(id))
    })
    .await
}

/// Checks a key request; returns the expiry in the stored, normalised form.
fn check_key_request(req: &CreateApiKeyRequest) -> Result<Option<String>, ApiError> {
    validate::name("name", &req.name)?;
    for (i, s) in req.scopes.iter().enumerate() {
        if !scopes::ALL.contains(&s.as_str()) {
            return Err(ApiError::field(
                "scopes",
                format!(
                    "scopes[{i}] is not a known scope (known: {})",
                    scopes::ALL.join(", ")
                ),
            ));
        }
    }
    let Some(raw) = &req.expire_time else {
        return Ok(None);
    };
    // A time already past is accepted: the key is minted expired (`active: false`) and
    // never authenticates, as any key whose expiry has passed.
    let at = chrono::DateTime::parse_from_rfc3339(raw)
        .map_err(|_| ApiError::field("expire_time", "expire_time must be an RFC 3339 time"))?
        .with_timezone(&chrono::Utc);
    // Normalised to the form of `now_rfc3339`, so expiry checks compare strings.
    Ok(Some(
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ))
}

/// `POST /v1/service-accounts/{id}/keys`.
pub async fn create_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let idem = Idempotency::from_request(key_route(&id), &headers, &raw)?;
    let req: CreateApiKeyRequest = body::parse_json(&raw)?;
    let expire_time = check_key_request(&req)?;
    let key = generate_api_key();
    let now = now_rfc3339();
    let record = ApiKeyRecord {
        id: format!("key_{}", random_alphanumeric(16)),
        prefix: format!("{}...", key.get(..PREFIX_CHARS).unwrap_or_default()),
        name: req.name,
        scopes: req.scopes,
        active: expire_time.as_deref().is_none_or(|t| t > now.as_str()),
        expire_time,
        create_time: now,
    };
    let outcome = state
        .store()
        .write(move |tx| {
            // An unknown account is a 404 even for a key that was used before.
            service_accounts::get(tx, &id)?.ok_or_else(not_found)?;
            idem.create(tx, || {
                service_accounts::insert_key(tx, &id, &record, &key)?;
                // Recorded with the key, so a retried create can still deliver it.
                Ok(CreatedApiKey { record, key })
            })
        })
        .await?;
    Ok(outcome.into_response())
}

/// `GET /v1/service-accounts/{id}/keys`: the records, never the keys.
pub async fn list_keys(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let keys = state
        .store()
        .read(move |c| {
            service_accounts::get(c, &id)?.ok_or_else(not_found)?;
            service_accounts::list_keys(c, &id)
        })
        .await?;
    Ok(body::json(
        StatusCode::OK,
        &ListApiKeysResponse { keys },
        None,
    ))
}

/// `DELETE /v1/service-accounts/{id}/keys/{key_id}`: immediate revocation.
pub async fn delete_key(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .store()
        .write(move |tx| {
            service_accounts::get(tx, &id)?.ok_or_else(not_found)?;
            if service_accounts::delete_key(tx, &id, &key_id)? {
                Ok(())
            } else {
                Err(key_not_found())
            }
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_parse_known_paths_only() {
        assert_eq!(
            parse_mask("name, description,metadata.k").unwrap(),
            vec![
                MaskPath::Name,
                MaskPath::Description,
                MaskPath::MetadataKey("k".into())
            ]
        );
        for bad in ["", "owner_id", "metadata.", "external_id"] {
            assert!(parse_mask(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_requests_are_checked() {
        let ok = CreateApiKeyRequest {
            name: "ci".into(),
            scopes: vec!["admin:users:read".into()],
            expire_time: Some("2999-01-01T00:00:00+02:00".into()),
        };
        assert_eq!(
            check_key_request(&ok).unwrap().as_deref(),
            Some("2998-12-31T22:00:00.000Z")
        );
        let mut bad = ok.clone();
        bad.scopes = vec!["admin:everything".into()];
        assert!(check_key_request(&bad).is_err());
        // A past expiry mints an expired key; it is not an error.
        let mut past = ok.clone();
        past.expire_time = Some("2000-01-01T00:00:00Z".into());
        assert_eq!(
            check_key_request(&past).unwrap().as_deref(),
            Some("2000-01-01T00:00:00.000Z")
        );
        let mut bad = ok.clone();
        bad.expire_time = Some("tomorrow".into());
        assert!(check_key_request(&bad).is_err());
        let mut bad = ok;
        bad.name = String::new();
        assert!(check_key_request(&bad).is_err());
    }
}
