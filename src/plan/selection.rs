//! `--only ADDRESS`: planning a slice of the manifest (a pilot cohort, one source first).
//!
//! An address names one object by its kind and key — `identity:<external_id>`,
//! `oauth_client:<key>`, `service_account:<key>` — or every object of one source,
//! `source:<name>`. A partial plan holds only the creates, updates and state changes of the
//! selected objects (and the organization, when it does not exist yet), and it never deletes:
//! prune is off for it and `--destroy` cannot be combined with it. Objects outside the
//! selection are neither read from the tenant nor touched, so the next full plan shows them.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::ObjectKind;
use crate::model::ExternalId;

/// One `--only` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An object of one kind by its key (external_id).
    Object(ObjectKind, ExternalId),
    /// Every object of one source.
    Source(String),
}

/// The kinds an address may name, as typed.
pub const ADDRESS_KINDS: &str = "identity, oauth_client, service_account or source";

impl FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((kind, key)) = s.split_once(':') else {
            return Err(format!(
                "`{s}` is not an address: write KIND:KEY, where KIND is {ADDRESS_KINDS} (e.g. identity:auth0|123, source:auth0-prod)"
            ));
        };
        if key.is_empty() {
            return Err(format!("`{s}` names no key after `{kind}:`"));
        }
        match kind {
            "identity" => Ok(Self::Object(ObjectKind::Identity, key.into())),
            "oauth_client" => Ok(Self::Object(ObjectKind::OAuthClient, key.into())),
            "service_account" => Ok(Self::Object(ObjectKind::ServiceAccount, key.into())),
            "source" => Ok(Self::Source(key.to_string())),
            other => Err(format!(
                "`{s}`: unknown kind `{other}` (use {ADDRESS_KINDS})"
            )),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object(kind, key) => write!(f, "{}:{key}", kind.noun()),
            Self::Source(name) => write!(f, "source:{name}"),
        }
    }
}

/// The objects a partial plan acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    addresses: Vec<Address>,
    objects: HashSet<(ObjectKind, ExternalId)>,
    sources: HashSet<String>,
}

impl Selection {
    /// The selection of `addresses` (duplicates are dropped); `None` when there are none.
    pub fn of(addresses: &[Address]) -> Option<Selection> {
        if addresses.is_empty() {
            return None;
        }
        let mut s = Selection::default();
        for a in addresses {
            let new = match a {
                Address::Object(kind, key) => s.objects.insert((*kind, key.clone())),
                Address::Source(name) => s.sources.insert(name.clone()),
            };
            if new {
                s.addresses.push(a.clone());
            }
        }
        Some(s)
    }

    /// The addresses, in the order given.
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// The addresses as the plan header records them.
    pub fn to_strings(&self) -> Vec<String> {
        self.addresses.iter().map(ToString::to_string).collect()
    }

    /// Whether the object of `kind` and `key` from `source` is selected.
    pub fn selects(&self, kind: ObjectKind, key: &str, source: Option<&str>) -> bool {
        source.is_some_and(|s| self.sources.contains(s))
            || self.objects.contains(&(kind, ExternalId::from(key)))
    }

    /// Whether a skipped or invalid record of `source` with `external_id` is in the
    /// selection (its kind may not be known: any kind's key matches).
    pub fn covers_record(&self, source: &str, external_id: Option<&str>) -> bool {
        self.sources.contains(source) || external_id.is_some_and(|id| self.names_key(id).is_some())
    }

    /// The kind of the object address naming `key`, if one does.
    pub fn names_key(&self, key: &str) -> Option<ObjectKind> {
        [
            ObjectKind::Identity,
            ObjectKind::OAuthClient,
            ObjectKind::ServiceAccount,
        ]
        .into_iter()
        .find(|k| self.objects.contains(&(*k, ExternalId::from(key))))
    }

    /// Whether `address` names an object of `kind`.
    pub fn names(&self, kind: ObjectKind, key: &str) -> bool {
        self.objects.contains(&(kind, ExternalId::from(key)))
    }

    /// The source names the selection addresses.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        for s in [
            "identity:auth0|5e0c",
            "identity:a:b",
            "oauth_client:web",
            "service_account:m2m",
            "source:auth0-prod",
        ] {
            assert_eq!(s.parse::<Address>().unwrap().to_string(), s);
        }
        assert!(
            "user:x"
                .parse::<Address>()
                .unwrap_err()
                .contains("unknown kind `user`")
        );
        assert!(
            "identity:"
                .parse::<Address>()
                .unwrap_err()
                .contains("names no key")
        );
        assert!(
            "x".parse::<Address>()
                .unwrap_err()
                .contains("not an address")
        );
    }

    #[test]
    fn a_selection_selects_by_key_and_by_source() {
        let s = Selection::of(&[
            "identity:a".parse().unwrap(),
            "source:s2".parse().unwrap(),
            "identity:a".parse().unwrap(),
        ])
        .unwrap();
        assert_eq!(s.to_strings(), ["identity:a", "source:s2"]);
        assert!(s.selects(ObjectKind::Identity, "a", Some("s1")));
        assert!(!s.selects(ObjectKind::OAuthClient, "a", Some("s1")));
        assert!(s.selects(ObjectKind::Identity, "b", Some("s2")));
        assert!(!s.selects(ObjectKind::Identity, "b", Some("s1")));
        assert!(s.covers_record("s1", Some("a")) && !s.covers_record("s1", None));
        assert!(Selection::of(&[]).is_none());
    }
}
