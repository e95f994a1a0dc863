//! The embedded login flow end users go through (no API key): `POST /v1/flows/login`
//! opens a flow, `POST /v1/flows/login/{flow_id}:submit` checks an identifier and password.
//!
//! An unknown identifier and a wrong password get the same 401 `AVNOLOGY_AUTH_001` and cost
//! the same work (a decoy Argon2id verification), so the answer does not reveal which
//! accounts exist. Only after the password is proven right does a deactivated identity get
//! the distinct `AVNOLOGY_AUTH_003`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::body;
use crate::emulator::AppState;
use crate::emulator::error::ApiError;
use crate::emulator::password;
use crate::emulator::store::{credentials, flows, identities};
use crate::wire::{IdentityState, LoginFlow, LoginSubmission, LoginSuccess};

/// `POST /v1/flows/login`. The body is optional; when present it must be a JSON object
/// (none of its members is read).
pub async fn create(State(state): State<AppState>, raw: Bytes) -> Result<Response, ApiError> {
    body::optional_object(&raw)?;
    let (id, expire_time) = state.store().write(flows::create).await?;
    Ok(body::json(
        StatusCode::CREATED,
        &LoginFlow { id, expire_time },
        None,
    ))
}

/// `POST /v1/flows/login/{flow_id}:submit`.
pub async fn submit(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let Some((flow_id, "submit")) = segment.rsplit_once(':') else {
        return Err(ApiError::NotFound { what: "route" });
    };
    let flow_id = flow_id.to_string();
    let submission: LoginSubmission = body::parse_json(&raw)?;
    if submission.method != "password" {
        return Err(ApiError::field("method", "method must be `password`"));
    }
    let identifier = submission.identifier.clone();
    let lookup_flow = flow_id.clone();
    let found = state
        .store()
        .read(move |c| {
            if !flows::is_open(c, &lookup_flow)? {
                return Err(ApiError::NotFound { what: "login flow" });
            }
            let Some(rec) = identities::find_for_login(c, &identifier)? else {
                return Ok(None);
            };
            let credential = credentials::get(c, &rec.identity.id)?;
            Ok(Some((rec, credential)))
        })
        .await?;
    let password = submission.password;
    let (identity, verified) = tokio::task::spawn_blocking(move || match found {
        Some((rec, Some(credential))) => {
            let ok = credential.verify(&password);
            (Some(rec), ok)
        }
        // No account, or one without a password: burn the same time, then fail alike.
        other => {
            password::decoy().verify(&password);
            (other.map(|(rec, _)| rec), false)
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("verification task failed: {e}")))?;
    let Some(rec) = identity.filter(|_| verified) else {
        return Err(ApiError::InvalidCredentials);
    };
    if rec.identity.state == IdentityState::Inactive {
        return Err(ApiError::AccountDisabled);
    }
    let identity_id = rec.identity.id;
    let session_id = state
        .store()
        .write({
            let identity_id = identity_id.clone();
            move |tx| {
                // The flow may have been used or expired while the hash was checked.
                if !flows::is_open(tx, &flow_id)? {
                    return Err(ApiError::NotFound { what: "login flow" });
                }
                flows::complete(tx, &flow_id, &identity_id)
            }
        })
        .await?;
    Ok(body::json(
        StatusCode::OK,
        &LoginSuccess {
            session_id,
            identity_id,
        },
        None,
    ))
}
