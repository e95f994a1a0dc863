//! What apply re-checks on the live object it fetched before it changes, deactivates or
//! deletes it: that the object still carries the change's key and that its owner marker
//! names a source of this manifest. A plan file is only sealed by an unkeyed digest, so an
//! edited and re-sealed plan could otherwise point a delete at an identity nobody migrated,
//! or at another manifest's; the live object, not the plan, decides.

use serde_json::{Map, Value};

use super::outcome::{Attempt, already_applied, failed, request_failed};
use crate::live;
use crate::plan::ownership::{Owner, Ownership};
use crate::plan::{Action, Change, ObjectKind};
use crate::wire;

/// A live object that carries the key and the owner marker a change is checked against.
pub(crate) trait Marked {
    /// Its `external_id`.
    fn external_id(&self) -> Option<&str>;
    /// The metadata map that holds its owner marker.
    fn metadata(&self) -> &Map<String, Value>;
}

impl Marked for wire::Identity {
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    fn metadata(&self) -> &Map<String, Value> {
        &self.admin_metadata
    }
}

impl Marked for wire::OAuthClient {
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }
}

impl Marked for wire::ServiceAccount {
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }
}

/// The live object `id` a change names, as `fetched` before the change touches it: `Ok`
/// lets the change go on with it; `Err` ends the change, refused by [`refusal`], already
/// deleted (a delete that finds nothing), or unreadable.
pub(crate) fn checked<T: Marked>(
    change: &Change,
    id: &str,
    fetched: live::Result<T>,
    ownership: &Ownership,
) -> Result<T, Attempt> {
    match fetched {
        Ok(live) => match refusal(change, id, live.external_id(), live.metadata(), ownership) {
            Some(refused) => Err(failed(&refused)),
            None => Ok(live),
        },
        Err(e) if e.is_not_found() && change.action == Action::Delete => Err(already_applied(id)),
        Err(e) => Err(request_failed(&e)),
    }
}

/// Why a change may not touch the live object it names.
pub(crate) fn refusal(
    change: &Change,
    live_id: &str,
    live_external_id: Option<&str>,
    metadata: &Map<String, Value>,
    ownership: &Ownership,
) -> Option<String> {
    let noun = match change.kind {
        ObjectKind::Identity => "identity",
        ObjectKind::OAuthClient => "OAuth client",
        ObjectKind::ServiceAccount => "service account",
        ObjectKind::Organization => "organization",
    };
    if live_external_id != Some(change.key.as_str()) {
        return Some(format!(
            "refused: the live {noun} {live_id} has external_id {}, not the plan's key (was the plan edited?)",
            live_external_id.map_or("(none)".to_string(), |k| format!("`{k}`"))
        ));
    }
    match ownership.owner(metadata) {
        Owner::Ours(_) | Owner::Adopted(_) => None,
        Owner::Foreign(other) => Some(format!(
            "refused: the live {noun} {live_id} belongs to source `{other}`, which this manifest does not name"
        )),
        Owner::Unmarked => Some(format!(
            "refused: the live {noun} {live_id} was not created by avnology-migrate (it has no owner marker)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(key: &str) -> Change {
        Change {
            kind: ObjectKind::Identity,
            action: Action::Delete,
            key: key.into(),
            source: Some("a".into()),
            live_id: Some("idn_1".into()),
            etag: None,
            desired_digest: None,
            fields: vec![],
            record: None,
        }
    }

    #[test]
    fn only_a_live_object_of_this_manifest_with_the_plans_key_may_be_touched() {
        let o = Ownership::new(["a".to_string()], []);
        let ours = json!({"avnology_migrate": {"source": "a"}});
        let theirs = json!({"avnology_migrate": {"source": "b"}});
        let ours = ours.as_object().unwrap();
        assert_eq!(refusal(&change("k"), "idn_1", Some("k"), ours, &o), None);
        let other_key = refusal(&change("k"), "idn_1", Some("x"), ours, &o).unwrap();
        assert!(other_key.contains("external_id `x`"), "{other_key}");
        let foreign = refusal(
            &change("k"),
            "idn_1",
            Some("k"),
            theirs.as_object().unwrap(),
            &o,
        );
        assert!(foreign.unwrap().contains("source `b`"));
        let unmarked = refusal(&change("k"), "idn_1", Some("k"), &Map::new(), &o);
        assert!(unmarked.unwrap().contains("no owner marker"));
    }
}
