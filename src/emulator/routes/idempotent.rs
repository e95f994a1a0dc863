//! The idempotent create, written once for every create route (identities, organizations,
//! OAuth clients, service accounts and their API keys).
//!
//! With an `Idempotency-Key`, a create first forgets the records of its route older than
//! [`REPLAY_HOURS`], then looks the key up: the same key with the same body (compared as
//! canonical JSON) replays the first 201 exactly, `ETag` included; the same key with another
//! body is 409 (`details.reason = "idempotency_key_reused"`). A new key runs the create and
//! records its 201 in the same transaction, so a record exists exactly when the create
//! happened. Without a key the create just runs.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::body;
use crate::emulator::error::ApiError;
use crate::emulator::store::idempotency::{self, Recorded};
use crate::wire::{CreatedApiKey, CreatedOAuthClient, Identity, Organization, ServiceAccount};

/// How long a recorded create can be replayed. Some recorded responses hold a secret shown
/// once (a client secret, a minted API key): replaying it is what lets a retried create
/// recover the secret, so it must be stored, but only for as long as a retry is plausible.
/// Every route keeps its records for the same time, as Avnology forgets its keys
/// (`--expire-idempotency-keys` forgets them all at start).
pub const REPLAY_HOURS: i64 = 24;

/// What a create returns: the body of its 201 and the `ETag` that goes with it, if any.
pub trait CreatedBody: Serialize {
    /// The `ETag` header of the response.
    fn etag(&self) -> Option<&str>;
}

impl CreatedBody for Identity {
    fn etag(&self) -> Option<&str> {
        Some(&self.etag)
    }
}

impl CreatedBody for Organization {
    fn etag(&self) -> Option<&str> {
        None
    }
}

impl CreatedBody for CreatedOAuthClient {
    fn etag(&self) -> Option<&str> {
        Some(&self.client.etag)
    }
}

impl CreatedBody for ServiceAccount {
    fn etag(&self) -> Option<&str> {
        Some(&self.etag)
    }
}

impl CreatedBody for CreatedApiKey {
    fn etag(&self) -> Option<&str> {
        None
    }
}

/// What a create transaction produced.
pub enum Created<T> {
    /// A new object (or, for `validate_only`, a would-be one), answered with this status.
    Fresh(StatusCode, Box<T>),
    /// A stored response replayed for a repeated `Idempotency-Key`.
    Replay(Recorded),
}

impl<T: CreatedBody> Created<T> {
    /// The HTTP response: the fresh body with its `ETag`, or the recorded one byte for byte.
    pub fn into_response(self) -> Response {
        match self {
            Self::Fresh(status, value) => body::json(status, &*value, value.etag()),
            Self::Replay(rec) => body::raw_json(
                StatusCode::from_u16(rec.status).unwrap_or(StatusCode::CREATED),
                rec.body,
                rec.etag.as_deref(),
            ),
        }
    }
}

/// The idempotency of one create request: its route (the scope of its keys), its
/// `Idempotency-Key` if it sent one, and the canonical digest of its body.
#[derive(Debug, Clone)]
pub struct Idempotency {
    route: String,
    key: Option<String>,
    fingerprint: String,
}

impl Idempotency {
    /// Reads the `Idempotency-Key` header (a malformed one is a 400) of a create on `route`.
    pub fn from_request(
        route: impl Into<String>,
        headers: &HeaderMap,
        raw: &Bytes,
    ) -> Result<Self, ApiError> {
        Ok(Self::new(route, body::idempotency_key(headers)?, raw))
    }

    /// A create on `route` with `key` (or none) and the body `raw`.
    pub fn new(route: impl Into<String>, key: Option<String>, raw: &Bytes) -> Self {
        Self {
            route: route.into(),
            key,
            fingerprint: body::canonical_sha256(raw),
        }
    }

    /// The same request without its key (a `validate_only` create records nothing).
    pub fn without_key(self) -> Self {
        Self { key: None, ..self }
    }

    /// The `Idempotency-Key`, if the request sent one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Runs `create` in the caller's transaction `tx`, unless the key was used before:
    /// then the recorded response is replayed (same body) or the request refused (another
    /// body). A fresh 201 is recorded under the key.
    pub fn create<T: CreatedBody>(
        &self,
        tx: &rusqlite::Connection,
        create: impl FnOnce() -> Result<T, ApiError>,
    ) -> Result<Created<T>, ApiError> {
        if let Some(rec) = self.replay(tx)? {
            return Ok(Created::Replay(rec));
        }
        let value = create()?;
        if let Some(key) = &self.key {
            let body = serde_json::to_string(&value)
                .map_err(|e| ApiError::internal(format!("encoding a created object: {e}")))?;
            idempotency::put(
                tx,
                &self.route,
                key,
                &Recorded {
                    request_sha256: self.fingerprint.clone(),
                    status: StatusCode::CREATED.as_u16(),
                    body,
                    etag: value.etag().map(str::to_string),
                },
            )?;
        }
        Ok(Created::Fresh(StatusCode::CREATED, Box::new(value)))
    }

    /// Forgets the route's expired records, then finds the one of this key: `Some` to
    /// replay, a 409 for a key used with another body, `None` for a new (or no) key.
    fn replay(&self, tx: &rusqlite::Connection) -> Result<Option<Recorded>, ApiError> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        let cutoff = (chrono::Utc::now() - chrono::Duration::hours(REPLAY_HOURS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        idempotency::purge_before(tx, &self.route, &cutoff)?;
        match idempotency::get(tx, &self.route, key)? {
            Some(rec) if rec.request_sha256 == self.fingerprint => Ok(Some(rec)),
            Some(_) => Err(ApiError::conflict_reason(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request body",
            )),
            None => Ok(None),
        }
    }
}
