//! The error envelope every failed call answers with, and the error codes the tool and the
//! emulator use.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The error envelope (assumed shape; SDKs expose `code`, `message`, `request_id`,
/// `details`). The client also accepts the flat form without the `error` wrapper.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The body of an API error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `AVNOLOGY_AUTH_<nnn>`.
    pub code: String,
    /// Human message.
    pub message: String,
    /// `req_<id>`, for support.
    #[serde(default)]
    pub request_id: String,
    /// Structured details, e.g. `{"field": "email"}`.
    #[serde(default)]
    pub details: Value,
}

/// Error codes the tool and the emulator use.
pub mod codes {
    /// Wrong identifier or password (login flow).
    pub const INVALID_CREDENTIALS: &str = "AVNOLOGY_AUTH_001";
    /// Missing or invalid credentials.
    pub const UNAUTHENTICATED: &str = "AVNOLOGY_AUTH_005";
    /// The key lacks the scope.
    pub const PERMISSION_DENIED: &str = "AVNOLOGY_AUTH_100";
    /// Organization not found.
    pub const ORG_NOT_FOUND: &str = "AVNOLOGY_AUTH_300";
    /// Not found.
    pub const NOT_FOUND: &str = "AVNOLOGY_AUTH_901";
    /// Validation failed.
    pub const VALIDATION: &str = "AVNOLOGY_AUTH_902";
    /// Conflict: ETag mismatch or duplicate.
    pub const CONFLICT: &str = "AVNOLOGY_AUTH_903";
    /// Rate limited (assumed; no code is documented for 429).
    pub const RATE_LIMITED: &str = "AVNOLOGY_AUTH_429";
    /// Internal error (emulator faults).
    pub const INTERNAL: &str = "AVNOLOGY_AUTH_500";
}
