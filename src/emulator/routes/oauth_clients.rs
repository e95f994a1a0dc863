//! `/v1/oauth-clients` (an assumed resource: Avnology documents no admin API for OAuth
//! clients): create with a server-minted `client_id` and, for confidential clients, a secret
//! shown once; list (paging, filter); get; PATCH with `update_mask` and `If-Match`; and hard
//! delete with `If-Match`.
//!
//! The secret (`cs_` + 48 alphanumerics) is returned only in the 201 of create. The table
//! keeps its SHA-256 digest; no response, log line or error ever carries it again. The one
//! exception is deliberate: with an `Idempotency-Key`, the 201 is recorded verbatim, secret
//! included, so that a retried create (after a timeout or a dropped connection) replays it.
//! Without that, the retry would either mint a second client or return the client without
//! its secret, and a secret that is never delivered is a client nobody can use. The record
//! lives in the emulator's own database, is replayed only to the same key with the same
//! body, and is purged after [`super::idempotent::REPLAY_HOURS`].
//!
//! As with identities, cheap checks come first and every database step of a request runs in
//! one transaction.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::body::{self, QueryParams};
use super::change;
use super::idempotent::Idempotency;
use super::identities::check_org;
use super::list::{self, Collection};
use super::mask;
use crate::emulator::AppState;
use crate::emulator::config::random_alphanumeric;
use crate::emulator::error::ApiError;
use crate::emulator::paging::CREATE_TIME;
use crate::emulator::store::oauth_clients::{self, OAuthClientRecord};
use crate::emulator::store::table::Versioned;
use crate::emulator::store::{api_keys, create_log, now_rfc3339};
use crate::emulator::validate;
use crate::wire::{
    CreateOAuthClientRequest, CreatedOAuthClient, ListOAuthClientsResponse, OAuthClient,
    OAuthClientInput, UpdateOAuthClientRequest,
};

/// The idempotency scope of creates.
const CREATE_ROUTE: &str = "POST /v1/oauth-clients";

/// Grant types of a client created (or patched) without any: RFC 7591's default.
const DEFAULT_GRANT_TYPES: &[&str] = &["authorization_code"];

/// `update_mask` paths that replace a whole field.
const FIELDS: &[&str] = &[
    "client_name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "allowed_origins",
    "grant_types",
    "scopes",
    "metadata",
];

/// `update_mask` paths of fields fixed at creation: naming one is accepted only when the
/// value would not change (so a caller may send a full mask), otherwise it is a 400.
const FIXED: &[&str] = &[
    "client_type",
    "token_endpoint_auth_method",
    "external_id",
    "organization_id",
];

fn grants_or_default(grants: Option<&Vec<String>>) -> Vec<String> {
    match grants {
        Some(g) if !g.is_empty() => g.clone(),
        _ => DEFAULT_GRANT_TYPES
            .iter()
            .map(|g| (*g).to_string())
            .collect(),
    }
}

/// `POST /v1/oauth-clients`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let idem = Idempotency::from_request(CREATE_ROUTE, &headers, &raw)?;
    let req: CreateOAuthClientRequest = body::parse_json(&raw)?;
    let input = req.client;
    let client_type = input.client_type.clone().ok_or_else(|| {
        ApiError::field(
            "client_type",
            "client_type is required (`confidential` or `public`)",
        )
    })?;
    validate::client_type(&client_type)?;
    let auth_method = validate::auth_method_for(&client_type);
    check_auth_method(&input, auth_method)?;
    let now = now_rfc3339();
    let client = OAuthClient {
        client_id: format!("cli_{}", random_alphanumeric(24)),
        external_id: input.external_id.clone(),
        client_name: input.client_name.clone().unwrap_or_default(),
        redirect_uris: input.redirect_uris.clone().unwrap_or_default(),
        post_logout_redirect_uris: input.post_logout_redirect_uris.clone().unwrap_or_default(),
        allowed_origins: input.allowed_origins.clone().unwrap_or_default(),
        grant_types: grants_or_default(input.grant_types.as_ref()),
        scopes: input.scopes.clone().unwrap_or_default(),
        token_endpoint_auth_method: auth_method.to_string(),
        metadata: input.metadata.clone().unwrap_or_default(),
        organization_id: input.organization_id.clone(),
        client_type,
        create_time: now.clone(),
        update_time: now,
        etag: String::new(),
    };
    validate::oauth_client(&client)?;
    // Public clients authenticate with PKCE alone and get no secret.
    let secret =
        (client.client_type == "confidential").then(|| format!("cs_{}", random_alphanumeric(48)));
    let secret_digest = secret.as_deref().map(api_keys::digest);
    let unique_external_id = state.unique_external_id();
    let outcome = state
        .store()
        .write(move |tx| {
            idem.create(tx, || {
                check_org(tx, client.organization_id.as_deref())?;
                if unique_external_id {
                    oauth_clients::check_unique(tx, &client)?;
                }
                let mut rec = OAuthClientRecord {
                    seq: 0,
                    version: 1,
                    client,
                };
                rec.seq = oauth_clients::insert(tx, &rec, secret_digest.as_deref())?;
                create_log::record(
                    tx,
                    create_log::Kind::OAuthClient,
                    &rec.client.client_id,
                    rec.client.external_id.as_deref(),
                    idem.key(),
                )?;
                // Recorded with the secret: see the module comment for why.
                Ok(CreatedOAuthClient {
                    client: rec.into_wire(),
                    client_secret: secret,
                })
            })
        })
        .await?;
    Ok(outcome.into_response())
}

/// The auth method follows from the client type; a request may repeat it but not contradict
/// it.
fn check_auth_method(input: &OAuthClientInput, expected: &str) -> Result<(), ApiError> {
    match input.token_endpoint_auth_method.as_deref() {
        Some(m) if m != expected => Err(ApiError::field(
            "token_endpoint_auth_method",
            format!(
                "token_endpoint_auth_method follows from client_type; this client uses \
                 `{expected}`"
            ),
        )),
        _ => Ok(()),
    }
}

/// What the OAuth client listing accepts: creation order only.
pub const COLLECTION: Collection = Collection {
    name: "oauth_clients",
    filter_fields: oauth_clients::FILTER_FIELDS,
    sort_fields: &[CREATE_TIME],
};

/// `GET /v1/oauth-clients`.
pub async fn list(State(state): State<AppState>, query: QueryParams) -> Result<Response, ApiError> {
    let (items, next_page_token) =
        list::page::<OAuthClientRecord>(&state, query, &COLLECTION).await?;
    let resp = ListOAuthClientsResponse {
        oauth_clients: items.into_iter().map(Versioned::into_wire).collect(),
        next_page_token,
    };
    Ok(body::json(StatusCode::OK, &resp, None))
}

/// One parsed `update_mask` path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MaskPath {
    /// A whole field from [`FIELDS`].
    Field(&'static str),
    /// A field from [`FIXED`].
    Fixed(&'static str),
    /// `metadata.<key>`.
    MetadataKey(String),
}

fn parse_mask(update_mask: &str) -> Result<Vec<MaskPath>, ApiError> {
    mask::paths(update_mask)?
        .into_iter()
        .map(|p| {
            if let Some(f) = FIELDS.iter().find(|f| **f == p) {
                Ok(MaskPath::Field(f))
            } else if let Some(f) = FIXED.iter().find(|f| **f == p) {
                Ok(MaskPath::Fixed(f))
            } else if let Some(key) = mask::map_key(p, "metadata.") {
                Ok(MaskPath::MetadataKey(key.to_string()))
            } else {
                Err(mask::unknown(p))
            }
        })
        .collect()
}

/// Copies one whole field from the request (absent means cleared, per AIP-134).
fn apply_field(target: &mut OAuthClient, src: &OAuthClientInput, path: &str) {
    match path {
        "client_name" => target.client_name = src.client_name.clone().unwrap_or_default(),
        "redirect_uris" => target.redirect_uris = src.redirect_uris.clone().unwrap_or_default(),
        "post_logout_redirect_uris" => {
            target.post_logout_redirect_uris =
                src.post_logout_redirect_uris.clone().unwrap_or_default();
        }
        "allowed_origins" => {
            target.allowed_origins = src.allowed_origins.clone().unwrap_or_default();
        }
        "grant_types" => target.grant_types = grants_or_default(src.grant_types.as_ref()),
        "scopes" => target.scopes = src.scopes.clone().unwrap_or_default(),
        "metadata" => target.metadata = src.metadata.clone().unwrap_or_default(),
        // parse_mask admits only FIELDS here.
        _ => {}
    }
}

/// A fixed field named in the mask: fine when the request repeats the current value,
/// otherwise 409 (`details.reason = "fixed_after_create"`).
fn check_fixed(current: &OAuthClient, src: &OAuthClientInput, path: &str) -> Result<(), ApiError> {
    let unchanged = match path {
        "client_type" => src.client_type.as_deref() == Some(current.client_type.as_str()),
        "token_endpoint_auth_method" => {
            src.token_endpoint_auth_method.as_deref()
                == Some(current.token_endpoint_auth_method.as_str())
        }
        "external_id" => src.external_id == current.external_id,
        "organization_id" => src.organization_id == current.organization_id,
        _ => false,
    };
    // The request is well formed; it conflicts with the client as it is: 409, not 400.
    if unchanged {
        Ok(())
    } else {
        Err(ApiError::conflict_field(
            path,
            "fixed_after_create",
            format!("{path} cannot change after the client is created"),
        ))
    }
}

/// `PATCH /v1/oauth-clients/{client_id}`.
pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req: UpdateOAuthClientRequest = body::parse_json(&raw)?;
    let paths = parse_mask(&req.update_mask)?;
    validate::oauth_client_input(&req.client)?;
    change::patch(
        &state,
        client_id,
        &headers,
        move |tx, rec: &mut OAuthClientRecord| {
            let before = rec.client.clone();
            for path in &paths {
                match path {
                    MaskPath::Field(f) => apply_field(&mut rec.client, &req.client, f),
                    MaskPath::Fixed(f) => check_fixed(&before, &req.client, f)?,
                    MaskPath::MetadataKey(k) => {
                        mask::set_key(&mut rec.client.metadata, req.client.metadata.as_ref(), k);
                    }
                }
            }
            // Grants the client's (fixed) type rules out: the request conflicts with the
            // client, so 409 (a create asking for them is a plain 400).
            if rec.client.client_type == "public"
                && rec
                    .client
                    .grant_types
                    .iter()
                    .any(|g| g == "client_credentials")
            {
                return Err(ApiError::conflict_field(
                    "grant_types",
                    "conflicts_with_client_type",
                    "a public client cannot use client_credentials (it has no secret)",
                ));
            }
            validate::oauth_client(&rec.client)?;
            if rec.client != before {
                rec.version += 1;
                rec.client.update_time = now_rfc3339();
                oauth_clients::update(tx, rec)?;
            }
            Ok(())
        },
    )
    .await
}

/// `DELETE /v1/oauth-clients/{client_id}`: a hard delete (the client and its secret digest
/// are gone; its `external_id` is free again).
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change::delete(&state, client_id, &headers, |tx, rec: OAuthClientRecord| {
        oauth_clients::delete(tx, &rec.client.client_id)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_parse_known_paths_only() {
        assert_eq!(
            parse_mask("client_name, redirect_uris ,metadata.owner,client_type").unwrap(),
            vec![
                MaskPath::Field("client_name"),
                MaskPath::Field("redirect_uris"),
                MaskPath::MetadataKey("owner".into()),
                MaskPath::Fixed("client_type"),
            ]
        );
        for bad in [
            "",
            " , ",
            "client_id",
            "metadata.",
            "secret",
            "client_name,nope",
        ] {
            assert!(parse_mask(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fixed_fields_may_repeat_but_not_change() {
        let current = OAuthClient {
            client_id: "cli_1".into(),
            external_id: Some("x".into()),
            client_name: "n".into(),
            client_type: "public".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            allowed_origins: vec![],
            grant_types: vec![],
            scopes: vec![],
            token_endpoint_auth_method: "none".into(),
            metadata: serde_json::Map::new(),
            organization_id: None,
            create_time: String::new(),
            update_time: String::new(),
            etag: String::new(),
        };
        let same = OAuthClientInput {
            client_type: Some("public".into()),
            external_id: Some("x".into()),
            ..Default::default()
        };
        assert!(check_fixed(&current, &same, "client_type").is_ok());
        assert!(check_fixed(&current, &same, "external_id").is_ok());
        let other = OAuthClientInput {
            client_type: Some("confidential".into()),
            ..Default::default()
        };
        let err = check_fixed(&current, &other, "client_type").unwrap_err();
        assert_eq!(
            err,
            ApiError::conflict_field(
                "client_type",
                "fixed_after_create",
                "client_type cannot change after the client is created"
            )
        );
        assert_eq!(err.status().as_u16(), 409);
        assert!(check_fixed(&current, &other, "external_id").is_err());
    }

    #[test]
    fn missing_grants_get_the_default() {
        assert_eq!(grants_or_default(None), vec!["authorization_code"]);
        assert_eq!(grants_or_default(Some(&vec![])), vec!["authorization_code"]);
        let g = vec!["client_credentials".to_string()];
        assert_eq!(grants_or_default(Some(&g)), g);
    }
}
