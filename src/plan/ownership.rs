//! Which live objects belong to a manifest. Ownership is by source: an object is this
//! manifest's only when its owner marker names one of the manifest's sources (or a source it
//! explicitly adopts, `[policy] adopt_sources`). Objects of other sources and objects without
//! a marker are "not owned by this manifest": a plan never updates, deactivates or deletes
//! them, so several manifests can share one organization. `apply` asks the same question of
//! the live object it fetched before every delete or deactivation, so an edited plan cannot
//! point a change at someone else's object.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::manifest::{MANIFEST_CLIENTS, Manifest};
use crate::model::OWNER_KEY;

/// Who owns a live object, as seen from one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner<'a> {
    /// Its marker names one of this manifest's sources.
    Ours(&'a str),
    /// Its marker names a source this manifest adopts (a renamed source).
    Adopted(&'a str),
    /// Its marker names a source this manifest does not name.
    Foreign(&'a str),
    /// It carries no owner marker (or one without a source name): not created by
    /// avnology-migrate, or not attributable.
    Unmarked,
}

impl Owner<'_> {
    /// Whether this manifest may change or delete the object.
    pub fn is_ours(&self) -> bool {
        matches!(self, Self::Ours(_) | Self::Adopted(_))
    }
}

/// The source names a manifest owns and adopts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    own: BTreeSet<String>,
    adopted: BTreeSet<String>,
}

impl Ownership {
    /// The ownership of `manifest`: its `[[users]]` and `[[client_sources]]` names, the
    /// `manifest` source of `[[clients]]`, and `[policy] adopt_sources`.
    pub fn of(manifest: &Manifest) -> Self {
        let mut own: BTreeSet<String> = manifest.users.iter().map(|u| u.name.clone()).collect();
        own.extend(manifest.client_sources.iter().map(|c| c.name.clone()));
        if !manifest.clients.is_empty() {
            own.insert(MANIFEST_CLIENTS.to_string());
        }
        Self {
            own,
            adopted: manifest.policy.adopt_sources.iter().cloned().collect(),
        }
    }

    /// Ownership from explicit lists (tests, tools).
    pub fn new(
        own: impl IntoIterator<Item = String>,
        adopted: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            own: own.into_iter().collect(),
            adopted: adopted.into_iter().collect(),
        }
    }

    /// Whether objects marked with source `name` are this manifest's (its own or adopted).
    pub fn is_ours(&self, name: &str) -> bool {
        self.own.contains(name) || self.adopted.contains(name)
    }

    /// Who owns an object whose metadata (`admin_metadata` of an identity, `metadata` of a
    /// client) is `metadata`.
    pub fn owner<'m>(&self, metadata: &'m serde_json::Map<String, Value>) -> Owner<'m> {
        match marker_source(metadata) {
            Some(s) if self.own.contains(s) => Owner::Ours(s),
            Some(s) if self.adopted.contains(s) => Owner::Adopted(s),
            Some(s) => Owner::Foreign(s),
            None => Owner::Unmarked,
        }
    }
}

/// The source named by the owner marker in `metadata`, if any.
pub fn marker_source(metadata: &serde_json::Map<String, Value>) -> Option<&str> {
    metadata
        .get(OWNER_KEY)?
        .get("source")?
        .as_str()
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata(v: Value) -> serde_json::Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_the_manifests_own_and_adopted_sources_are_its_objects() {
        let o = Ownership::new(["team-b".to_string()], ["old-b".to_string()]);
        let ours = metadata(json!({OWNER_KEY: {"source": "team-b"}}));
        let adopted = metadata(json!({OWNER_KEY: {"source": "old-b"}}));
        let foreign = metadata(json!({OWNER_KEY: {"source": "team-a"}}));
        let no_source = metadata(json!({OWNER_KEY: {"password_fp": "x"}}));
        let empty = metadata(json!({OWNER_KEY: {"source": ""}}));
        let none = metadata(json!({"other": 1}));
        assert_eq!(o.owner(&ours), Owner::Ours("team-b"));
        assert_eq!(o.owner(&adopted), Owner::Adopted("old-b"));
        assert_eq!(o.owner(&foreign), Owner::Foreign("team-a"));
        assert_eq!(o.owner(&no_source), Owner::Unmarked);
        assert_eq!(o.owner(&empty), Owner::Unmarked);
        assert_eq!(o.owner(&none), Owner::Unmarked);
        assert!(o.owner(&ours).is_ours() && o.owner(&adopted).is_ours());
        assert!(!o.owner(&foreign).is_ours() && !o.owner(&none).is_ours());
    }
}
