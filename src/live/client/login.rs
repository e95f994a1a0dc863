//! The embedded login flow (`/v1/flows/login`, documented), which the tool uses to try a
//! migrated password the way an end user would: without the API key, and with the
//! password masked in every error.

use reqwest::Method;

use super::Client;
use super::call::{Call, Disclosure};
use crate::live::{Error, Result};
use crate::wire;

/// The login flows collection.
const LOGIN_FLOWS: &[&str] = &["v1", "flows", "login"];

/// The result of a test login through the embedded login flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The credentials were accepted.
    Success {
        /// The identity that logged in.
        identity_id: String,
    },
    /// The server refused the credentials (401/403), e.g. `AVNOLOGY_AUTH_001`.
    Rejected {
        /// The error code.
        code: String,
        /// The server's message.
        message: String,
    },
}

impl Client {
    /// Tries `identifier` + `password` through the embedded login flow, as an end user would
    /// (no API key is sent): `POST /v1/flows/login`, then
    /// `POST /v1/flows/login/{flow_id}:submit`. A 401/403 answer is
    /// [`LoginOutcome::Rejected`]; anything else that fails is an error.
    pub async fn login(&self, identifier: &str, password: &str) -> Result<LoginOutcome> {
        let url = self.url(LOGIN_FLOWS);
        let mut call = Call::new(Method::POST, url).json(&serde_json::Map::new())?;
        call.auth = false;
        let (flow, _): (wire::LoginFlow, _) = self.fetch(call).await?;

        let url = self.object_url(LOGIN_FLOWS, &flow.id, ":submit")?;
        let submission = wire::LoginSubmission {
            method: "password".into(),
            identifier: identifier.into(),
            password: password.into(),
        };
        let mut call = Call::new(Method::POST, url).json(&submission)?;
        call.auth = false;
        call.secret = Some(password);
        let method = call.method.clone();
        let path = call.url.path().to_string();
        match self.send(call).await {
            Ok(reply) => {
                let ok: wire::LoginSuccess =
                    self.decode(&method, &path, &reply, Disclosure::Masked)?;
                Ok(LoginOutcome::Success {
                    identity_id: ok.identity_id,
                })
            }
            Err(Error::Api {
                status: 401 | 403,
                code,
                message,
                ..
            }) => Ok(LoginOutcome::Rejected { code, message }),
            Err(e) => Err(e),
        }
    }
}
