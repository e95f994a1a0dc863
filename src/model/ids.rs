//! Identifier newtypes.

use std::fmt;

/// The provider's own id of a record (Auth0 `user_id`, Clerk `id`, Firebase `localId`,
/// Cognito `sub`; a client's provider id or manifest key). It becomes the Avnology object's
/// `external_id`, and it is the only key records are ever matched by.
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
