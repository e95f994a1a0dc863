//! The JSON shapes of Avnology's admin API: the contract's types, one file per resource.
//!
//! A leaf module: it depends on nothing else in the crate, and the pure core (`diff`, `plan`),
//! the HTTP client ([`crate::live`]) and the [`crate::emulator`] all speak it, so the client
//! and the emulator cannot drift. `schemas/avnology-admin.openapi.yaml` marks each field as
//! documented or assumed; a correction from the real API lands here and there.

mod access;
mod de;
mod error;
mod identity;
mod login;
mod oauth_client;
mod organization;
mod service_account;

use std::fmt;

use serde::{Deserialize, Serialize};

use de::present;

pub use access::{client_scopes, scopes};
pub use error::{ErrorBody, ErrorEnvelope, codes};
pub use identity::*;
pub use login::*;
pub use oauth_client::*;
pub use organization::*;
pub use service_account::*;

/// The admin key the tool uses: `ak_live_…`, `ak_test_…` or `sk_live_…`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key read from the environment or generated for the sandbox.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey((sensitive))")
    }
}

/// `POST /v1/identities/{id}:deactivate` and `:reactivate` body (documented, optional):
/// a reason for the audit log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateChangeRequest {
    /// Why; accepted for the audit log.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub reason: Option<String>,
}
