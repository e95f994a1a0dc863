//! Turning desired records and planned changes into API requests.

use serde_json::{Map, Value};

use crate::model::OWNER_KEY;
use crate::model::PasswordHash;
use crate::plan::{Change, DesiredIdentity};
use crate::wire;

/// The `Idempotency-Key` of a change: stable for a plan and a key, so every retry and every
/// resumed run of the same plan sends the same one.
pub fn idempotency_key(plan_id: &str, change: &Change) -> String {
    let digest = crate::plan::file::sha256_hex(
        format!(
            "{plan_id}\0{:?}\0{:?}\0{}",
            change.kind, change.action, change.key
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
            input.linked_providers = Some(
                d.identity
                    .linked_providers
                    .iter()
                    .map(|l| wire::LinkedProvider {
                        provider: l.provider.clone(),
                        subject: l.subject.clone(),
                    })
                    .collect(),
            );
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
