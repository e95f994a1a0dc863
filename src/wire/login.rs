//! The login flow (`/v1/auth/login`) that `verify` uses to prove a migrated password works.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `POST /v1/flows/login` response (assumed): a login flow to submit credentials to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginFlow {
    /// `flow_<uuid>`.
    pub id: String,
    /// When the flow stops accepting submissions, RFC 3339.
    pub expire_time: String,
}

/// `POST /v1/flows/login/{flow_id}:submit` body (assumed).
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginSubmission {
    /// `password`.
    pub method: String,
    /// Email or username.
    pub identifier: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for LoginSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSubmission")
            .field("method", &self.method)
            .field("identifier", &self.identifier)
            .field("password", &"(sensitive)")
            .finish()
    }
}

/// Successful login (assumed): the session and the identity it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginSuccess {
    /// `ses_<uuid>`.
    pub session_id: String,
    /// The identity that logged in.
    pub identity_id: String,
}
