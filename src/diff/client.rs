//! OAuth client and service account comparison. Lists are ordered: a list of the same
//! length compares entry by entry (`redirect_uris[1]`), so rewriting one redirect URI shows
//! as an in-place update of that one entry and reordering shows as changed entries; a list
//! whose length changed shows as a whole.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::FieldChange;
use crate::model::OWNER_KEY;
use crate::model::{OAuthClient, ServiceAccount};
use crate::wire;

/// What reconciling one client takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientDiff {
    /// Not in the tenant.
    Create(Vec<FieldChange>),
    /// Fields differ.
    Update(Vec<FieldChange>),
    /// Already as declared.
    NoOp,
    /// Exists but was not created by this tool: never touched.
    Unowned,
    /// The client type differs, which Avnology cannot change in place.
    TypeChanged {
        /// Live type.
        live: String,
        /// Declared type.
        desired: String,
    },
}

fn marker(source: &str) -> Value {
    json!({ "source": source })
}

/// The desired OAuth client as field paths → values.
pub fn desired_client_fields(c: &OAuthClient, source: &str) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    f.insert("client_name".into(), json!(c.name));
    f.insert("client_type".into(), json!(c.client_type.as_str()));
    f.insert("redirect_uris".into(), json!(c.redirect_uris));
    f.insert(
        "post_logout_redirect_uris".into(),
        json!(c.post_logout_redirect_uris),
    );
    f.insert("allowed_origins".into(), json!(c.allowed_origins));
    f.insert("grant_types".into(), json!(c.grant_types));
    f.insert("scopes".into(), json!(c.scopes));
    f.insert(format!("metadata.{OWNER_KEY}"), marker(source));
    f
}

/// The desired service account as field paths → values.
pub fn desired_service_account_fields(s: &ServiceAccount, source: &str) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    f.insert("name".into(), json!(s.name));
    if let Some(d) = &s.description {
        f.insert("description".into(), json!(d));
    }
    f.insert("key_scopes".into(), json!(s.scopes));
    f.insert(format!("metadata.{OWNER_KEY}"), marker(source));
    f
}

fn live_client_value(l: &wire::OAuthClient, path: &str) -> Option<Value> {
    Some(match path {
        "client_name" => json!(l.client_name),
        "client_type" => json!(l.client_type),
        "redirect_uris" => json!(l.redirect_uris),
        "post_logout_redirect_uris" => json!(l.post_logout_redirect_uris),
        "allowed_origins" => json!(l.allowed_origins),
        "grant_types" => json!(l.grant_types),
        "scopes" => json!(l.scopes),
        _ => {
            return path
                .strip_prefix("metadata.")
                .and_then(|k| l.metadata.get(k).cloned());
        }
    })
}

fn live_service_account_value(l: &wire::ServiceAccount, path: &str) -> Option<Value> {
    match path {
        "name" => Some(json!(l.name)),
        "description" => l.description.as_ref().map(|d| json!(d)),
        // Key scopes are set when the key is minted and not read back.
        "key_scopes" => None,
        _ => path
            .strip_prefix("metadata.")
            .and_then(|k| l.metadata.get(k).cloned()),
    }
}

/// Field changes between a desired projection and a live lookup, lists entry by entry.
fn compare(
    desired: &BTreeMap<String, Value>,
    live: impl Fn(&str) -> Option<Value>,
    skip: &[&str],
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    for (path, want) in desired {
        if skip.contains(&path.as_str()) {
            continue;
        }
        let have = live(path);
        if have.as_ref() == Some(want) {
            continue;
        }
        match (have.as_ref().and_then(Value::as_array), want.as_array()) {
            (Some(h), Some(w)) if h.len() == w.len() => {
                for (i, (a, b)) in h.iter().zip(w).enumerate() {
                    if a != b {
                        changes.push(FieldChange {
                            path: format!("{path}[{i}]"),
                            before: Some(a.clone()),
                            after: Some(b.clone()),
                            sensitive: false,
                        });
                    }
                }
            }
            _ => changes.push(FieldChange {
                path: path.clone(),
                before: have,
                after: Some(want.clone()),
                sensitive: false,
            }),
        }
    }
    changes
}

fn creates(desired: &BTreeMap<String, Value>) -> Vec<FieldChange> {
    desired
        .iter()
        .map(|(p, v)| FieldChange {
            path: p.clone(),
            before: None,
            after: Some(v.clone()),
            sensitive: false,
        })
        .collect()
}

fn owned(metadata: &serde_json::Map<String, Value>) -> bool {
    metadata.get(OWNER_KEY).is_some_and(Value::is_object)
}

/// Compares a desired OAuth client with its live counterpart.
pub fn diff_client(
    desired: &BTreeMap<String, Value>,
    live: Option<&wire::OAuthClient>,
) -> ClientDiff {
    let Some(live) = live else {
        return ClientDiff::Create(creates(desired));
    };
    if !owned(&live.metadata) {
        return ClientDiff::Unowned;
    }
    let want_type = desired
        .get("client_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if want_type != live.client_type {
        return ClientDiff::TypeChanged {
            live: live.client_type.clone(),
            desired: want_type.to_string(),
        };
    }
    let changes = compare(desired, |p| live_client_value(live, p), &[]);
    if changes.is_empty() {
        ClientDiff::NoOp
    } else {
        ClientDiff::Update(changes)
    }
}

/// Compares a desired service account with its live counterpart.
pub fn diff_service_account(
    desired: &BTreeMap<String, Value>,
    live: Option<&wire::ServiceAccount>,
) -> ClientDiff {
    let Some(live) = live else {
        let mut c = creates(desired);
        c.push(FieldChange {
            path: "api_key".into(),
            before: None,
            after: Some(json!("minted")),
            sensitive: true,
        });
        return ClientDiff::Create(c);
    };
    if !owned(&live.metadata) {
        return ClientDiff::Unowned;
    }
    let changes = compare(
        desired,
        |p| live_service_account_value(live, p),
        &["key_scopes"],
    );
    if changes.is_empty() {
        ClientDiff::NoOp
    } else {
        ClientDiff::Update(changes)
    }
}

/// The top-level field a (possibly indexed) change path belongs to: `redirect_uris[1]` →
/// `redirect_uris`. PATCH masks name whole lists.
pub fn mask_path(path: &str) -> &str {
    path.split_once('[').map_or(path, |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientType, ExternalId};

    fn client() -> OAuthClient {
        OAuthClient {
            external_id: ExternalId::new("web"),
            name: "Web".into(),
            client_type: ClientType::Confidential,
            redirect_uris: vec![
                "https://a.example.com/cb".into(),
                "https://b.example.com/cb".into(),
            ],
            post_logout_redirect_uris: vec![],
            allowed_origins: vec![],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into()],
        }
    }

    fn live(c: &OAuthClient) -> wire::OAuthClient {
        let mut metadata = serde_json::Map::new();
        metadata.insert(OWNER_KEY.into(), marker("src"));
        wire::OAuthClient {
            client_id: "cli_1".into(),
            external_id: Some(c.external_id.to_string()),
            client_name: c.name.clone(),
            client_type: c.client_type.as_str().into(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            allowed_origins: c.allowed_origins.clone(),
            grant_types: c.grant_types.clone(),
            scopes: c.scopes.clone(),
            token_endpoint_auth_method: c.client_type.token_endpoint_auth_method().into(),
            metadata,
            organization_id: None,
            create_time: String::new(),
            update_time: String::new(),
            etag: "W/\"1\"".into(),
        }
    }

    #[test]
    fn one_rewritten_uri_is_one_entry_update_and_order_matters() {
        let c = client();
        let l = live(&c);
        assert_eq!(
            diff_client(&desired_client_fields(&c, "src"), Some(&l)),
            ClientDiff::NoOp
        );
        let mut rewritten = c.clone();
        rewritten.redirect_uris[1] = "https://auth.example.com/cb".into();
        let ClientDiff::Update(ch) =
            diff_client(&desired_client_fields(&rewritten, "src"), Some(&l))
        else {
            panic!()
        };
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].path, "redirect_uris[1]");
        let mut swapped = c.clone();
        swapped.redirect_uris.reverse();
        let ClientDiff::Update(ch) = diff_client(&desired_client_fields(&swapped, "src"), Some(&l))
        else {
            panic!()
        };
        assert_eq!(ch.len(), 2);
        assert_eq!(mask_path(&ch[0].path), "redirect_uris");
    }

    #[test]
    fn type_change_and_unowned_are_reported_not_patched() {
        let c = client();
        let mut l = live(&c);
        let mut public = c.clone();
        public.client_type = ClientType::Public;
        assert!(matches!(
            diff_client(&desired_client_fields(&public, "src"), Some(&l)),
            ClientDiff::TypeChanged { .. }
        ));
        l.metadata.clear();
        assert_eq!(
            diff_client(&desired_client_fields(&c, "src"), Some(&l)),
            ClientDiff::Unowned
        );
    }
}
