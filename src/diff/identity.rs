//! Identity comparison: projection of desired and live records onto field paths, and the
//! action that reconciles them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::FieldChange;
use crate::model::{Identity, OWNER_KEY};
use crate::wire;

/// What reconciling one identity takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAction {
    /// Not in the tenant: create it (and deactivate it when the source says inactive).
    Create,
    /// Fields differ; state does not.
    Update,
    /// Must become inactive (plus any field updates).
    Deactivate,
    /// Must become active again (plus any field updates).
    Reactivate,
    /// Already as declared.
    NoOp,
    /// An identity with this external_id exists but was not created by this tool: it is
    /// never touched.
    Unowned,
}

/// The comparison of one identity.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityDiff {
    /// What to do.
    pub action: IdentityAction,
    /// Field-level changes (every desired field on create).
    pub changes: Vec<FieldChange>,
}

/// The owner marker for an identity from `source`.
pub fn owner_marker(identity: &Identity, source: &str) -> Value {
    let mut marker = Map::new();
    marker.insert("source".into(), Value::String(source.to_string()));
    if let Some(hash) = &identity.password {
        marker.insert("password_fp".into(), Value::String(hash.fingerprint()));
    }
    Value::Object(marker)
}

/// Whether a live identity carries the owner marker.
pub fn is_owned(live: &wire::Identity) -> bool {
    live.admin_metadata
        .get(OWNER_KEY)
        .is_some_and(Value::is_object)
}

/// The desired record as field paths → values, in a stable order. Only fields the source
/// provides appear.
pub fn desired_fields(identity: &Identity, source: &str) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            f.insert(k.to_string(), v);
        }
    };
    let s = |o: &Option<String>| o.as_ref().map(|v| Value::String(v.clone()));
    put("email", s(&identity.email));
    put("email_verified", identity.email_verified.map(Value::Bool));
    put("phone", s(&identity.phone));
    put("phone_verified", identity.phone_verified.map(Value::Bool));
    put("username", s(&identity.username));
    put("first_name", s(&identity.first_name));
    put("last_name", s(&identity.last_name));
    put("display_name", s(&identity.display_name));
    put("avatar_url", s(&identity.avatar_url));
    put("locale", s(&identity.locale));
    put("timezone", s(&identity.timezone));
    put(
        "state",
        Some(Value::String(
            if identity.active {
                "active"
            } else {
                "inactive"
            }
            .into(),
        )),
    );
    put(
        "linked_providers",
        Some(linked_value(
            identity
                .linked_providers
                .iter()
                .map(|l| (&l.provider, &l.subject)),
        )),
    );
    if let Some(hash) = &identity.password {
        put(
            "password",
            Some(Value::String(hash.algorithm().to_string())),
        );
    }
    for (k, v) in &identity.traits {
        f.insert(format!("traits.{k}"), v.clone());
    }
    for (k, v) in &identity.admin_metadata {
        f.insert(format!("admin_metadata.{k}"), v.clone());
    }
    f.insert(
        format!("admin_metadata.{OWNER_KEY}"),
        owner_marker(identity, source),
    );
    f
}

/// Linked providers as the field `linked_providers` compares them: `{provider, subject}`
/// objects in a fixed order, so the source's order and the tenant's never make a change.
fn linked_value<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> Value {
    let mut linked: Vec<_> = pairs
        .map(|(provider, subject)| json!({"provider": provider, "subject": subject}))
        .collect();
    linked.sort_by_key(std::string::ToString::to_string);
    Value::Array(linked)
}

/// The linked providers of `identity` as the API takes them (a create or an update sets
/// them all).
pub fn linked_providers(identity: &Identity) -> Vec<wire::LinkedProvider> {
    identity
        .linked_providers
        .iter()
        .map(|l| wire::LinkedProvider {
            provider: l.provider.clone(),
            subject: l.subject.clone(),
        })
        .collect()
}

/// SHA-256 (hex) of the desired record: the plan stores it, and `apply plan.json` checks
/// that the record it re-reads from the source is still the one that was reviewed. The
/// password enters only through its fingerprint.
pub fn desired_digest(fields: &BTreeMap<String, Value>) -> String {
    let mut h = Sha256::new();
    for (k, v) in fields {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.to_string().as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// The live value at a field path (`None` when absent).
fn live_value(live: &wire::Identity, path: &str) -> Option<Value> {
    let s = |o: &Option<String>| o.as_ref().map(|v| Value::String(v.clone()));
    match path {
        "email" => Some(Value::String(live.email.clone())),
        "email_verified" => Some(Value::Bool(live.email_verified)),
        "phone" => s(&live.phone),
        "phone_verified" => Some(Value::Bool(live.phone_verified)),
        "username" => s(&live.username),
        "first_name" => s(&live.first_name),
        "last_name" => s(&live.last_name),
        "display_name" => s(&live.display_name),
        "avatar_url" => s(&live.avatar_url),
        "locale" => s(&live.locale),
        "timezone" => s(&live.timezone),
        "state" => Some(Value::String(live.state.as_str().to_string())),
        "linked_providers" => Some(linked_value(
            live.linked_providers
                .as_deref()?
                .iter()
                .map(|l| (&l.provider, &l.subject)),
        )),
        // The hash is never read back; its fingerprint in the owner marker stands in.
        "password" => None,
        _ => {
            if let Some(key) = path.strip_prefix("traits.") {
                live.traits.get(key).cloned()
            } else if let Some(key) = path.strip_prefix("admin_metadata.") {
                live.admin_metadata.get(key).cloned()
            } else {
                None
            }
        }
    }
}

fn live_password_fp(live: &wire::Identity) -> Option<&str> {
    live.admin_metadata
        .get(OWNER_KEY)?
        .get("password_fp")?
        .as_str()
}

/// Compares a desired identity with its live counterpart (matched by external_id).
/// `ignore` lists field paths never updated after create.
pub fn diff_identity(
    desired: &BTreeMap<String, Value>,
    live: Option<&wire::Identity>,
    ignore: &[String],
) -> IdentityDiff {
    let Some(live) = live else {
        let changes = desired
            .iter()
            .map(|(path, v)| FieldChange {
                path: path.clone(),
                before: None,
                after: Some(v.clone()),
                sensitive: path == "password",
            })
            .collect();
        return IdentityDiff {
            action: IdentityAction::Create,
            changes,
        };
    };
    if !is_owned(live) {
        return IdentityDiff {
            action: IdentityAction::Unowned,
            changes: Vec::new(),
        };
    }
    let (changes, state_change) = compare(desired, live, ignore);
    let action = match state_change {
        Some(true) => IdentityAction::Deactivate,
        Some(false) => IdentityAction::Reactivate,
        None if changes.is_empty() => IdentityAction::NoOp,
        None => IdentityAction::Update,
    };
    IdentityDiff { action, changes }
}

/// The changes that adopt `live`, an identity this tool did not create (a sign-up made in
/// Avnology during a dual-write window), as the record `external_id` declares: its
/// `external_id` (when it has none), the owner marker, the password and every field the
/// source provides that differs. After them the identity is as if it had been created.
pub fn adopt_identity(
    desired: &BTreeMap<String, Value>,
    live: &wire::Identity,
    external_id: &str,
    ignore: &[String],
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if live.external_id.as_deref() != Some(external_id) {
        changes.push(FieldChange {
            path: "external_id".into(),
            before: live.external_id.clone().map(Value::String),
            after: Some(Value::String(external_id.to_string())),
            sensitive: false,
        });
    }
    changes.extend(compare(desired, live, ignore).0);
    changes
}

/// Field changes from `live` to `desired`, and whether the state changes (to inactive:
/// `Some(true)`).
fn compare(
    desired: &BTreeMap<String, Value>,
    live: &wire::Identity,
    ignore: &[String],
) -> (Vec<FieldChange>, Option<bool>) {
    let desired_fp = desired
        .get(&format!("admin_metadata.{OWNER_KEY}"))
        .and_then(|m| m.get("password_fp"))
        .and_then(Value::as_str);
    let mut changes = Vec::new();
    let mut state_change = None;
    for (path, want) in desired {
        if ignore.iter().any(|i| i == path) {
            continue;
        }
        if path == "password" {
            // A changed hash shows as a changed fingerprint; the value is never compared.
            if desired_fp.is_some() && desired_fp != live_password_fp(live) {
                changes.push(FieldChange {
                    path: path.clone(),
                    before: live.has_password.then(|| Value::String("(set)".into())),
                    after: Some(want.clone()),
                    sensitive: true,
                });
            }
            continue;
        }
        // Linked providers are compared only when the tenant returned them: a listing
        // leaves them out unless asked (`include_linked_providers`), and "not returned" is
        // not "none".
        if path == "linked_providers" && live.linked_providers.is_none() {
            continue;
        }
        let have = live_value(live, path);
        if have.as_ref() == Some(want) {
            continue;
        }
        // An absent optional string and an explicit null are the same thing.
        if have.is_none() && want.is_null() {
            continue;
        }
        let change = FieldChange {
            path: path.clone(),
            before: have,
            after: Some(want.clone()),
            sensitive: false,
        };
        if path == "state" {
            state_change = Some(want.as_str() == Some("inactive"));
        }
        changes.push(change);
    }
    (changes, state_change)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExternalId, PasswordHash, Secret};

    fn desired() -> Identity {
        let mut traits = Map::new();
        traits.insert("metadata".into(), json!({"theme": "dark"}));
        Identity {
            external_id: ExternalId::new("auth0|1"),
            email: Some("ada@example.com".into()),
            email_verified: Some(true),
            first_name: Some("Ada".into()),
            active: true,
            traits,
            password: Some(PasswordHash::Bcrypt(Secret::new("$2b$10$abc"))),
            ..Default::default()
        }
    }

    /// The live identity that applying `fields` would produce.
    fn live_from(identity: &Identity, source: &str) -> wire::Identity {
        let mut admin = identity.admin_metadata.clone();
        admin.insert(OWNER_KEY.into(), owner_marker(identity, source));
        wire::Identity {
            id: "usr_1".into(),
            external_id: Some(identity.external_id.to_string()),
            email: identity.email.clone().unwrap(),
            email_verified: identity.email_verified.unwrap_or(false),
            phone: identity.phone.clone(),
            phone_verified: identity.phone_verified.unwrap_or(false),
            username: identity.username.clone(),
            first_name: identity.first_name.clone(),
            last_name: identity.last_name.clone(),
            display_name: identity.display_name.clone(),
            avatar_url: identity.avatar_url.clone(),
            locale: identity.locale.clone(),
            timezone: identity.timezone.clone(),
            organization_id: None,
            state: if identity.active {
                wire::IdentityState::Active
            } else {
                wire::IdentityState::Inactive
            },
            traits: identity.traits.clone(),
            admin_metadata: admin,
            linked_providers: Some(linked_providers(identity)),
            has_password: identity.password.is_some(),
            create_time: String::new(),
            update_time: String::new(),
            last_login_at: None,
            etag: "W/\"1\"".into(),
        }
    }

    #[test]
    fn missing_live_record_is_a_create_with_every_field() {
        let d = desired_fields(&desired(), "src");
        let diff = diff_identity(&d, None, &[]);
        assert_eq!(diff.action, IdentityAction::Create);
        assert_eq!(diff.changes.len(), d.len());
        let pw = diff.changes.iter().find(|c| c.path == "password").unwrap();
        assert!(pw.sensitive);
        assert_eq!(pw.after, Some(json!("bcrypt")));
    }

    #[test]
    fn applied_record_is_a_no_op() {
        let i = desired();
        let diff = diff_identity(&desired_fields(&i, "src"), Some(&live_from(&i, "src")), &[]);
        assert_eq!(
            diff,
            IdentityDiff {
                action: IdentityAction::NoOp,
                changes: vec![]
            }
        );
    }

    #[test]
    fn linked_providers_are_compared_only_when_the_tenant_returned_them() {
        let mut i = desired();
        i.linked_providers = vec![crate::model::LinkedProvider {
            provider: "google-oauth2".into(),
            subject: "1".into(),
        }];
        let d = desired_fields(&i, "src");
        // Returned and equal: nothing to do.
        let live = live_from(&i, "src");
        assert_eq!(
            diff_identity(&d, Some(&live), &[]).action,
            IdentityAction::NoOp
        );
        // Not returned (a listing without include_linked_providers): not compared.
        let mut without = live.clone();
        without.linked_providers = None;
        assert_eq!(
            diff_identity(&d, Some(&without), &[]).action,
            IdentityAction::NoOp
        );
        // Returned and different (here: none): an update.
        let mut other = live;
        other.linked_providers = Some(vec![]);
        let diff = diff_identity(&d, Some(&other), &[]);
        assert_eq!(diff.action, IdentityAction::Update);
        assert_eq!(diff.changes[0].path, "linked_providers");
        assert_eq!(diff.changes[0].before, Some(json!([])));
    }

    #[test]
    fn timezone_is_compared_like_locale() {
        let mut i = desired();
        i.timezone = Some("Europe/Paris".into());
        let d = desired_fields(&i, "src");
        assert_eq!(d.get("timezone"), Some(&json!("Europe/Paris")));
        let mut live = live_from(&i, "src");
        assert_eq!(
            diff_identity(&d, Some(&live), &[]).action,
            IdentityAction::NoOp
        );
        live.timezone = Some("Europe/Berlin".into());
        let diff = diff_identity(&d, Some(&live), &[]);
        assert_eq!(diff.action, IdentityAction::Update);
        assert_eq!(diff.changes[0].path, "timezone");
    }

    #[test]
    fn one_changed_field_is_one_update() {
        let i = desired();
        let live = live_from(&i, "src");
        let mut changed = i.clone();
        changed.first_name = Some("Adah".into());
        let diff = diff_identity(&desired_fields(&changed, "src"), Some(&live), &[]);
        assert_eq!(diff.action, IdentityAction::Update);
        assert_eq!(
            diff.changes,
            vec![FieldChange {
                path: "first_name".into(),
                before: Some(json!("Ada")),
                after: Some(json!("Adah")),
                sensitive: false
            }]
        );
        // ignore_changes suppresses it.
        let diff = diff_identity(
            &desired_fields(&changed, "src"),
            Some(&live),
            &["first_name".into()],
        );
        assert_eq!(diff.action, IdentityAction::NoOp);
    }

    #[test]
    fn blocking_deactivates_and_unblocking_reactivates() {
        let i = desired();
        let live = live_from(&i, "src");
        let mut blocked = i.clone();
        blocked.active = false;
        assert_eq!(
            diff_identity(&desired_fields(&blocked, "src"), Some(&live), &[]).action,
            IdentityAction::Deactivate
        );
        let live_blocked = live_from(&blocked, "src");
        assert_eq!(
            diff_identity(&desired_fields(&i, "src"), Some(&live_blocked), &[]).action,
            IdentityAction::Reactivate
        );
    }

    #[test]
    fn a_changed_hash_shows_as_a_sensitive_password_change() {
        let i = desired();
        let live = live_from(&i, "src");
        let mut rehashed = i.clone();
        rehashed.password = Some(PasswordHash::Bcrypt(Secret::new("$2b$10$xyz")));
        let diff = diff_identity(&desired_fields(&rehashed, "src"), Some(&live), &[]);
        assert_eq!(diff.action, IdentityAction::Update);
        let paths: Vec<_> = diff.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["admin_metadata.avnology_migrate", "password"]);
        assert!(!format!("{diff:?}").contains("xyz"));
    }

    #[test]
    fn unowned_records_are_never_touched() {
        let i = desired();
        let mut live = live_from(&i, "src");
        live.admin_metadata.remove(OWNER_KEY);
        live.first_name = Some("Someone else".into());
        assert_eq!(
            diff_identity(&desired_fields(&i, "src"), Some(&live), &[]).action,
            IdentityAction::Unowned
        );
    }

    #[test]
    fn traits_compare_by_the_keys_the_source_sets() {
        let i = desired();
        let mut live = live_from(&i, "src");
        live.traits.insert("set_in_avnology".into(), json!(1));
        assert_eq!(
            diff_identity(&desired_fields(&i, "src"), Some(&live), &[]).action,
            IdentityAction::NoOp
        );
    }
}
