//! `/v1/identities`: create (with `validate_only`, `Idempotency-Key` and password import),
//! list (paging and filter), get, PATCH with `update_mask` and `If-Match`, soft and forced
//! delete, and the `:deactivate` / `:reactivate` custom methods.
//!
//! Each handler does its cheap checks and any password hashing first, then all database
//! work (existence, `If-Match`, uniqueness, the write, the idempotency record) in one
//! transaction, so concurrent requests cannot interleave between a check and its write.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::{self, QueryParams};
use super::change;
use super::idempotent::{Created, Idempotency};
use super::list::{Collection, ListRequest};
use super::mask;
use crate::emulator::AppState;
use crate::emulator::error::ApiError;
use crate::emulator::password::Credential;
use crate::emulator::store::identities::{self, IdentityRecord};
use crate::emulator::store::table::Versioned;
use crate::emulator::store::{Store, create_log, credentials, now_rfc3339, organizations};
use crate::emulator::validate;
use crate::model::IDENTITY_FIELDS;
use crate::wire::{
    CreateIdentityRequest, Identity, IdentityInput, IdentityState, ListIdentitiesResponse,
    StateChangeRequest, UpdateIdentityRequest,
};

/// The idempotency scope of creates.
const CREATE_ROUTE: &str = "POST /v1/identities";

/// [`IdentityInput`] fields that are not among the fields the tool manages
/// ([`IDENTITY_FIELDS`]).
const OTHER_FIELDS: &[&str] = &["external_id", "organization_id", "traits", "admin_metadata"];

/// Fields the tool manages that are not [`IdentityInput`] fields: `state` changes through
/// the custom methods, a password through `initial_password` and `password_hash`.
const NOT_INPUT_FIELDS: &[&str] = &["state", "password"];

/// The `update_mask` paths that name a whole [`IdentityInput`] field.
fn fields() -> impl Iterator<Item = &'static str> {
    OTHER_FIELDS.iter().copied().chain(
        IDENTITY_FIELDS
            .iter()
            .copied()
            .filter(|f| !NOT_INPUT_FIELDS.contains(f)),
    )
}

/// `POST /v1/identities`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let idem = Idempotency::from_request(CREATE_ROUTE, &headers, &raw)?;
    let mut new = NewIdentity::parse(idem, &raw)?;
    if let Some(password) = new.plaintext.take() {
        // Argon2id is deliberately slow: hashed on the blocking pool, outside the writer.
        new.credential = Some(hash_plaintext(password).await?);
    }
    let unique_external_id = state.unique_external_id();
    let outcome = state
        .store()
        .write(move |tx| new.commit(tx, unique_external_id))
        .await?;
    Ok(outcome.into_response())
}

/// Creates identities in one transaction exactly as `POST /v1/identities` would (same
/// checks, same rows, same idempotency records), without HTTP. Each request is an
/// `Idempotency-Key` (or none) and a JSON body. For seeding benchmark databases; a plaintext
/// `initial_password` is hashed here, synchronously. Stops at the first refused request.
pub fn create_many(store: &Store, requests: Vec<(Option<String>, Bytes)>) -> Result<u64, ApiError> {
    store.write_blocking(move |tx| {
        let mut created = 0;
        for (idem_key, raw) in requests {
            let mut new = NewIdentity::parse(Idempotency::new(CREATE_ROUTE, idem_key, &raw), &raw)?;
            if let Some(password) = new.plaintext.take() {
                new.credential = Some(
                    Credential::from_plaintext(&password)
                        .map_err(|e| ApiError::field(e.field, e.message))?,
                );
            }
            if let Created::Fresh(StatusCode::CREATED, _) = new.commit(tx, true)? {
                created += 1;
            }
        }
        Ok(created)
    })
}

/// A create request, checked and turned into what will be stored; nothing is written yet.
struct NewIdentity {
    identity: Identity,
    /// Imported (or, once hashed, computed) password material.
    credential: Option<Credential>,
    /// An `initial_password` still to be hashed before [`NewIdentity::commit`].
    plaintext: Option<String>,
    /// The request's `Idempotency-Key` (none with `validate_only`, which records nothing).
    idem: Idempotency,
    validate_only: bool,
}

impl NewIdentity {
    /// Every check that needs no database, in the order the errors are reported.
    fn parse(idem: Idempotency, raw: &Bytes) -> Result<Self, ApiError> {
        let req: CreateIdentityRequest = body::parse_json(raw)?;
        let validate_only = req.validate_only;
        let now = now_rfc3339();
        let mut identity = Identity {
            id: format!("usr_{}", uuid::Uuid::new_v4()),
            external_id: None,
            email: String::new(),
            email_verified: false,
            phone: None,
            phone_verified: false,
            username: None,
            first_name: None,
            last_name: None,
            display_name: None,
            avatar_url: None,
            locale: None,
            timezone: None,
            organization_id: None,
            state: IdentityState::Active,
            traits: serde_json::Map::default(),
            admin_metadata: serde_json::Map::default(),
            linked_providers: Some(Vec::new()),
            has_password: false,
            create_time: now.clone(),
            update_time: now,
            last_login_at: None,
            etag: String::new(),
        };
        if req.identity.email.as_deref().unwrap_or("").is_empty() {
            return Err(ApiError::field("email", "email is required"));
        }
        for path in fields() {
            apply_field(&mut identity, &req.identity, path)?;
        }
        validate::identity(&identity)?;

        let (credential, plaintext) = match (req.initial_password, req.password_hash) {
            (Some(_), Some(_)) => {
                return Err(ApiError::field(
                    "password_hash",
                    "set either initial_password or password_hash, not both",
                ));
            }
            (Some(password), None) => {
                if password.chars().count() < crate::emulator::password::MIN_PASSWORD_CHARS {
                    return Err(ApiError::field(
                        "initial_password",
                        "initial_password must be at least 8 characters",
                    ));
                }
                identity.has_password = true;
                // With validate_only nothing is stored, so the (deliberately slow) hash is
                // not computed.
                (None, (!validate_only).then_some(password))
            }
            // Imported hashes are only checked for shape: the emulator never runs bcrypt or
            // scrypt on create, only at login.
            (None, Some(import)) => (
                Some(
                    Credential::from_import(&import)
                        .map_err(|e| ApiError::field(e.field, e.message))?,
                ),
                None,
            ),
            (None, None) => (None, None),
        };
        identity.has_password |= credential.is_some();
        Ok(Self {
            identity,
            credential,
            plaintext,
            idem: if validate_only {
                idem.without_key()
            } else {
                idem
            },
            validate_only,
        })
    }

    /// All database work of a create, in the caller's transaction: replay or refuse a
    /// repeated `Idempotency-Key`, check the organization and uniqueness, insert the
    /// identity, its password material, the idempotency record and the create log entry.
    /// `unique_external_id` is false under `--no-unique-external-id`.
    fn commit(
        self,
        tx: &rusqlite::Connection,
        unique_external_id: bool,
    ) -> Result<Created<Identity>, ApiError> {
        let Self {
            identity,
            credential,
            idem,
            validate_only,
            ..
        } = self;
        let check = |identity: &Identity| {
            check_org(tx, identity.organization_id.as_deref())?;
            identities::check_unique(tx, identity, unique_external_id)
        };
        let rec = IdentityRecord {
            seq: 0,
            version: 1,
            identity,
        };
        if validate_only {
            check(&rec.identity)?;
            return Ok(Created::Fresh(StatusCode::OK, Box::new(rec.into_wire())));
        }
        idem.create(tx, || {
            check(&rec.identity)?;
            let mut rec = rec;
            rec.seq = identities::insert(tx, &rec)?;
            if let Some(c) = &credential {
                credentials::set(tx, &rec.identity.id, c)?;
            }
            create_log::record(
                tx,
                create_log::Kind::Identity,
                &rec.identity.id,
                rec.identity.external_id.as_deref(),
                idem.key(),
            )?;
            Ok(rec.into_wire())
        })
    }
}

async fn hash_plaintext(password: String) -> Result<Credential, ApiError> {
    tokio::task::spawn_blocking(move || Credential::from_plaintext(&password))
        .await
        .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))?
        .map_err(|e| ApiError::field(e.field, e.message))
}

/// 404 `AVNOLOGY_AUTH_300` with `details.field = "organization_id"` unless `org` is absent
/// or names an existing organization (shared by every resource that can belong to one).
pub fn check_org(conn: &rusqlite::Connection, org: Option<&str>) -> Result<(), ApiError> {
    match org {
        Some(id) if !organizations::exists(conn, id)? => Err(ApiError::MissingReference {
            field: "organization_id",
            what: "organization",
        }),
        _ => Ok(()),
    }
}

/// Copies one whole field from the request into the identity (absent means cleared, as
/// AIP-134 field masks define).
fn apply_field(target: &mut Identity, src: &IdentityInput, path: &str) -> Result<(), ApiError> {
    match path {
        "external_id" => target.external_id.clone_from(&src.external_id),
        "email" => {
            target.email = src
                .email
                .clone()
                .ok_or_else(|| ApiError::field("email", "email cannot be cleared"))?;
        }
        "email_verified" => target.email_verified = src.email_verified.unwrap_or(false),
        "phone" => target.phone.clone_from(&src.phone),
        "phone_verified" => target.phone_verified = src.phone_verified.unwrap_or(false),
        "username" => target.username.clone_from(&src.username),
        "first_name" => target.first_name.clone_from(&src.first_name),
        "last_name" => target.last_name.clone_from(&src.last_name),
        "display_name" => target.display_name.clone_from(&src.display_name),
        "avatar_url" => target.avatar_url.clone_from(&src.avatar_url),
        "locale" => target.locale.clone_from(&src.locale),
        "timezone" => target.timezone.clone_from(&src.timezone),
        "organization_id" => target.organization_id.clone_from(&src.organization_id),
        "traits" => target.traits = src.traits.clone().unwrap_or_default(),
        "admin_metadata" => target.admin_metadata = src.admin_metadata.clone().unwrap_or_default(),
        "linked_providers" => {
            target.linked_providers = Some(src.linked_providers.clone().unwrap_or_default());
        }
        other => return Err(mask::unknown(other)),
    }
    Ok(())
}

/// One parsed `update_mask` path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MaskPath {
    /// A whole field of [`IdentityInput`].
    Field(String),
    /// `traits.<key>`.
    Trait(String),
    /// `admin_metadata.<key>`.
    AdminKey(String),
    /// `password_hash`.
    PasswordHash,
}

fn parse_mask(update_mask: &str) -> Result<Vec<MaskPath>, ApiError> {
    mask::paths(update_mask)?
        .into_iter()
        .map(|p| {
            if fields().any(|f| f == p) {
                Ok(MaskPath::Field(p.to_string()))
            } else if p == "password_hash" {
                Ok(MaskPath::PasswordHash)
            } else if let Some(key) = mask::map_key(p, "traits.") {
                Ok(MaskPath::Trait(key.to_string()))
            } else if let Some(key) = mask::map_key(p, "admin_metadata.") {
                Ok(MaskPath::AdminKey(key.to_string()))
            } else {
                Err(mask::unknown(p))
            }
        })
        .collect()
}

/// What the identity listing accepts.
pub const COLLECTION: Collection = Collection {
    name: "identities",
    filter_fields: identities::FILTER_FIELDS,
    sort_fields: identities::SORT_FIELDS,
};

/// `GET /v1/identities`. Linked providers are in the page only with
/// `include_linked_providers=true` (documented parameter).
pub async fn list(State(state): State<AppState>, query: QueryParams) -> Result<Response, ApiError> {
    let req = ListRequest::parse(query, &COLLECTION)?;
    let include_linked = body::query_bool(&req.query, "include_linked_providers")?;
    let (filter, keyset) = (req.filter.clone(), req.keyset.clone());
    let page = state
        .store()
        .read(move |c| identities::list(c, &filter, &keyset))
        .await?;
    let resp = ListIdentitiesResponse {
        identities: page
            .items
            .into_iter()
            .map(|rec| {
                let mut wire = rec.into_wire();
                if !include_linked {
                    wire.linked_providers = None;
                }
                wire
            })
            .collect(),
        next_page_token: req.next_token(page.more),
        total_size: page.total,
    };
    Ok(body::json(StatusCode::OK, &resp, None))
}

/// `PATCH /v1/identities/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let req: UpdateIdentityRequest = body::parse_json(&raw)?;
    let paths = parse_mask(&req.update_mask)?;
    validate::identity_input(&req.identity)?;
    let new_credential = if paths.contains(&MaskPath::PasswordHash) {
        let import = req.password_hash.as_ref().ok_or_else(|| {
            ApiError::field(
                "password_hash",
                "update_mask names password_hash but the request has none",
            )
        })?;
        Some(Credential::from_import(import).map_err(|e| ApiError::field(e.field, e.message))?)
    } else {
        None
    };
    let unique_external_id = state.unique_external_id();
    change::patch(&state, id, &headers, move |tx, rec: &mut IdentityRecord| {
        let before = rec.identity.clone();
        for path in &paths {
            match path {
                MaskPath::Field(f) => apply_field(&mut rec.identity, &req.identity, f)?,
                MaskPath::Trait(k) => {
                    mask::set_key(&mut rec.identity.traits, req.identity.traits.as_ref(), k);
                }
                MaskPath::AdminKey(k) => mask::set_key(
                    &mut rec.identity.admin_metadata,
                    req.identity.admin_metadata.as_ref(),
                    k,
                ),
                MaskPath::PasswordHash => {}
            }
        }
        validate::identity(&rec.identity)?;
        if rec.identity.organization_id != before.organization_id {
            check_org(tx, rec.identity.organization_id.as_deref())?;
        }
        identities::check_unique(tx, &rec.identity, unique_external_id)?;
        if rec.identity != before || new_credential.is_some() {
            rec.version += 1;
            rec.identity.update_time = now_rfc3339();
            identities::update(tx, rec)?;
            if let Some(c) = &new_credential {
                credentials::set(tx, &rec.identity.id, c)?;
                rec.identity.has_password = true;
            }
        }
        Ok(())
    })
    .await
}

/// `DELETE /v1/identities/{id}[?force=true]`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let q = body::query_map(query)?;
    let force = body::query_bool(&q, "force")?;
    change::delete(&state, id, &headers, move |tx, mut rec: IdentityRecord| {
        if force {
            identities::delete(tx, &rec.identity.id)
        } else if rec.identity.state == IdentityState::ScheduledDeletion {
            Ok(())
        } else {
            rec.identity.state = IdentityState::ScheduledDeletion;
            rec.version += 1;
            rec.identity.update_time = now_rfc3339();
            identities::update(tx, &rec)
        }
    })
    .await
}

/// The custom methods of an identity, the suffixes of its path segment.
const CUSTOM_METHODS: &[&str] = &["deactivate", "reactivate"];

/// Middleware (around the router) for `/v1/identities/{id}`, which also carries the custom
/// methods (`{id}:deactivate`, `{id}:reactivate`: axum routes them to the same path): each of
/// the two resources answers only its own methods, and a 405 names exactly those in `Allow`
/// (GET, HEAD, PATCH, DELETE for the identity; POST for a custom method), not the union axum
/// would advertise. Other paths pass through.
pub async fn allowed_methods(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{HeaderValue, Method, header};
    let Some(segment) = req
        .uri()
        .path()
        .strip_prefix("/v1/identities/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
    else {
        return next.run(req).await;
    };
    let custom = segment
        .rsplit_once(':')
        .is_some_and(|(_, verb)| CUSTOM_METHODS.contains(&verb));
    let (allowed, allow): (&[Method], &str) = if custom {
        (&[Method::POST], "POST")
    } else {
        (
            &[Method::GET, Method::HEAD, Method::PATCH, Method::DELETE],
            "GET,HEAD,PATCH,DELETE",
        )
    };
    if allowed.contains(req.method()) {
        return next.run(req).await;
    }
    let mut resp = ApiError::MethodNotAllowed.into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// `POST /v1/identities/{id}:deactivate` and `:reactivate`. axum cannot match a literal
/// suffix inside a path segment, so the whole segment arrives here and is split on its last
/// `:`.
pub async fn custom_method(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    // Anything else was refused with 405 by [`allowed_methods`].
    let (id, target) = match segment.rsplit_once(':') {
        Some((id, "deactivate")) => (id.to_string(), IdentityState::Inactive),
        Some((id, "reactivate")) => (id.to_string(), IdentityState::Active),
        _ => return Err(ApiError::MethodNotAllowed),
    };
    // Optional; when sent, a JSON object whose `reason` is a string.
    if !raw.iter().all(u8::is_ascii_whitespace) {
        body::parse_json::<StateChangeRequest>(&raw)?;
    }
    let unique_external_id = state.unique_external_id();
    change::patch(&state, id, &headers, move |tx, rec: &mut IdentityRecord| {
        if rec.identity.state != target {
            rec.identity.state = target;
            // Leaving scheduled deletion brings the identity back into the uniqueness
            // scope, where someone may have taken its email meanwhile.
            identities::check_unique(tx, &rec.identity, unique_external_id)?;
            rec.version += 1;
            rec.identity.update_time = now_rfc3339();
            identities::update(tx, rec)?;
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_parse_known_paths_only() {
        assert_eq!(
            parse_mask(" first_name, traits.plan ,admin_metadata.x,password_hash").unwrap(),
            vec![
                MaskPath::Field("first_name".into()),
                MaskPath::Trait("plan".into()),
                MaskPath::AdminKey("x".into()),
                MaskPath::PasswordHash,
            ]
        );
        for bad in ["", " , ", "state", "traits.", "id", "first_name,nope"] {
            assert!(parse_mask(bad).is_err(), "{bad:?}");
        }
    }
}
