//! Identifier newtypes.

use std::fmt;

/// The provider's own id of a record (Auth0 `user_id`, Clerk `id`, Firebase `localId`,
/// Cognito `sub`; a client's provider id or manifest key). It becomes the Avnology object's
/// `external_id`, and it is the only key records are ever matched by.
///
/// From the plan on, it is also the key of every change, index and journal entry (for the
/// organization's change, the organization's name). It reads as a `str` (`Deref`, `Borrow`),
/// so maps keyed by it are looked up with a plain `&str`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Wraps a provider id. Callers reject empty ids before calling this.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The id as sent to Avnology.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for ExternalId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ExternalId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ExternalId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for ExternalId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for ExternalId {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl PartialEq<str> for ExternalId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ExternalId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
