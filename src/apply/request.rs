//! Turning desired records and planned changes into API requests: identities, OAuth
//! clients and service accounts, creates and the masked updates of a change's fields.

use serde_json::{Map, Value};

use crate::diff::client::mask_path;
use crate::model::{self, ClientDecl, OWNER_KEY, PasswordHash};
use crate::plan::{Change, DesiredClient, DesiredIdentity};
use crate::wire;

/// The `Idempotency-Key` of a change: stable for a plan and a key, so every retry and every
/// resumed run of the same plan sends the same one. The kind and action are named as in
/// journal keys, written out so that renaming a variant cannot change a resumed run's keys.
pub fn idempotency_key(plan_id: &str, change: &Change) -> String {
    let digest = crate::plan::file::sha256_hex(
        format!(
            "{plan_id}\0{}\0{}\0{}",
            change.kind.journal_name(),
            change.action.journal_name(),
            change.key
        )
        .as_bytes(),
    );
    format!("avm-{}", &digest[..40])
}

/// The wire form of an imported hash. This is the one place hash material leaves the model.
pub fn password_input(hash: &PasswordHash) -> wire::PasswordHashInput {
    match hash {
        PasswordHash::Bcrypt(h) => wire::PasswordHashInput {
            algorithm: "bcrypt".into(),
            hash: h.expose().to_string(),
            salt: None,
            salt_separator: None,
            signer_key: None,
            rounds: None,
            mem_cost: None,
        },
        PasswordHash::FirebaseScrypt { hash, salt, params } => wire::PasswordHashInput {
            algorithm: "firebase-scrypt".into(),
            hash: hash.expose().to_string(),
            salt: Some(salt.expose().to_string()),
            salt_separator: Some(params.salt_separator.clone()),
            signer_key: Some(params.signer_key.expose().to_string()),
            rounds: Some(params.rounds),
            mem_cost: Some(params.mem_cost),
        },
    }
}

fn string_field(fields: &std::collections::BTreeMap<String, Value>, key: &str) -> Option<String> {
    fields.get(key).and_then(Value::as_str).map(str::to_string)
}

fn bool_field(fields: &std::collections::BTreeMap<String, Value>, key: &str) -> Option<bool> {
    fields.get(key).and_then(Value::as_bool)
}

/// Sets the field at `path` of `input` from the desired projection.
fn set_path(input: &mut wire::IdentityInput, d: &DesiredIdentity, path: &str) {
    let f = &d.fields;
    match path {
        "email" => input.email = string_field(f, path),
        "email_verified" => input.email_verified = bool_field(f, path),
        "phone" => input.phone = string_field(f, path),
        "phone_verified" => input.phone_verified = bool_field(f, path),
        "username" => input.username = string_field(f, path),
        "first_name" => input.first_name = string_field(f, path),
        "last_name" => input.last_name = string_field(f, path),
        "display_name" => input.display_name = string_field(f, path),
        "avatar_url" => input.avatar_url = string_field(f, path),
        "locale" => input.locale = string_field(f, path),
        "timezone" => input.timezone = string_field(f, path),
        "linked_providers" => {
            input.linked_providers = Some(crate::diff::linked_providers(&d.identity));
        }
        _ => {
            let Some(v) = f.get(path) else { return };
            if let Some(key) = path.strip_prefix("traits.") {
                input
                    .traits
                    .get_or_insert_with(Map::new)
                    .insert(key.to_string(), v.clone());
            } else if let Some(key) = path.strip_prefix("admin_metadata.") {
                input
                    .admin_metadata
                    .get_or_insert_with(Map::new)
                    .insert(key.to_string(), v.clone());
            }
        }
    }
}

/// The create request for a desired identity in organization `org_id`.
pub fn create_request(d: &DesiredIdentity, org_id: Option<&str>) -> wire::CreateIdentityRequest {
    let mut identity = wire::IdentityInput {
        external_id: Some(d.identity.external_id.to_string()),
        organization_id: org_id.map(str::to_string),
        ..Default::default()
    };
    for path in d.fields.keys() {
        if path != "state" && path != "password" {
            set_path(&mut identity, d, path);
        }
    }
    // The owner marker always travels with a create.
    identity
        .admin_metadata
        .get_or_insert_with(Map::new)
        .entry(OWNER_KEY.to_string())
        .or_insert_with(|| crate::diff::owner_marker(&d.identity, &d.source));
    wire::CreateIdentityRequest {
        identity,
        initial_password: None,
        password_hash: d.identity.password.as_ref().map(password_input),
        validate_only: false,
    }
}

/// The PATCH for a change's field updates (state changes go through `:deactivate` /
/// `:reactivate`), or `None` when only the state changes.
pub fn update_request(change: &Change, d: &DesiredIdentity) -> Option<wire::UpdateIdentityRequest> {
    let mut mask = Vec::new();
    let mut req = wire::UpdateIdentityRequest::default();
    for f in &change.fields {
        match f.path.as_str() {
            "state" => {}
            // Adoption: the live identity takes the record's key.
            "external_id" => {
                req.identity.external_id = Some(d.identity.external_id.to_string());
                mask.push("external_id".to_string());
            }
            "password" => {
                if let Some(h) = &d.identity.password {
                    req.password_hash = Some(password_input(h));
                    mask.push("password_hash".to_string());
                }
            }
            path => {
                set_path(&mut req.identity, d, path);
                mask.push(path.to_string());
            }
        }
    }
    if mask.is_empty() {
        return None;
    }
    req.update_mask = mask.join(",");
    Some(req)
}

/// The owner marker of a desired client or service account, as its `metadata`.
fn client_metadata(d: &DesiredClient) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(v) = d.fields.get(&format!("metadata.{OWNER_KEY}")) {
        m.insert(OWNER_KEY.into(), v.clone());
    }
    m
}

/// The top-level mask paths of a change's fields.
pub(crate) fn update_mask(change: &Change) -> Vec<&str> {
    let mut m: Vec<&str> = change.fields.iter().map(|f| mask_path(&f.path)).collect();
    m.dedup();
    m
}

/// The OAuth client fields of a desired client: every field for a create (`paths` `None`,
/// in organization `org_id`), only those under `paths` for an update.
pub(crate) fn client_input(
    d: &DesiredClient,
    org_id: Option<&str>,
    paths: Option<&[&str]>,
) -> wire::OAuthClientInput {
    let ClientDecl::OAuth(c) = &d.decl else {
        return wire::OAuthClientInput::default();
    };
    let want = |p: &str| paths.is_none_or(|ps| ps.contains(&p));
    wire::OAuthClientInput {
        external_id: paths.is_none().then(|| c.external_id.to_string()),
        client_name: want("client_name").then(|| c.name.clone()),
        client_type: paths.is_none().then(|| c.client_type.as_str().to_string()),
        redirect_uris: want("redirect_uris").then(|| c.redirect_uris.clone()),
        post_logout_redirect_uris: want("post_logout_redirect_uris")
            .then(|| c.post_logout_redirect_uris.clone()),
        allowed_origins: want("allowed_origins").then(|| c.allowed_origins.clone()),
        grant_types: want("grant_types").then(|| c.grant_types.clone()),
        scopes: want("scopes").then(|| c.scopes.clone()),
        token_endpoint_auth_method: paths
            .is_none()
            .then(|| c.client_type.token_endpoint_auth_method().to_string()),
        metadata: paths
            .is_none_or(|ps| ps.iter().any(|p| p.starts_with("metadata")))
            .then(|| client_metadata(d)),
        organization_id: if paths.is_none() {
            org_id.map(str::to_string)
        } else {
            None
        },
    }
}

/// The create request of desired service account `sa` (`d`), owned by identity `owner_id`
/// in organization `org_id`.
pub(crate) fn create_service_account_request(
    d: &DesiredClient,
    sa: &model::ServiceAccount,
    owner_id: &str,
    org_id: Option<&str>,
) -> wire::CreateServiceAccountRequest {
    wire::CreateServiceAccountRequest {
        name: sa.name.clone(),
        description: sa.description.clone(),
        owner_id: owner_id.to_string(),
        organization_id: org_id.map(str::to_string),
        external_id: Some(sa.external_id.to_string()),
        metadata: Some(client_metadata(d)),
    }
}

/// The PATCH of the fields under `paths` of desired service account `sa` (`d`).
pub(crate) fn update_service_account_request(
    d: &DesiredClient,
    sa: &model::ServiceAccount,
    paths: &[&str],
) -> wire::UpdateServiceAccountRequest {
    wire::UpdateServiceAccountRequest {
        name: paths.contains(&"name").then(|| sa.name.clone()),
        description: paths
            .contains(&"description")
            .then(|| sa.description.clone())
            .flatten(),
        metadata: paths
            .iter()
            .any(|p| p.starts_with("metadata"))
            .then(|| client_metadata(d)),
        update_mask: paths.join(","),
    }
}
