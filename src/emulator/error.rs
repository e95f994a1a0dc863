//! How the emulator fails: [`ApiError`] names every error the API can answer with its HTTP
//! status and `AVNOLOGY_AUTH_*` code, and [`request_context`] (the outermost middleware)
//! gives every response an `X-Request-Id` and renders errors as the envelope
//! `{"error": {"code", "message", "request_id", "details"}}` with that same id.
//!
//! Handlers cannot know the request id, so an [`ApiError`] turns into a response that carries
//! a [`PendingError`] extension and no body; the middleware fills in the id and writes the
//! body. Internal failures are logged on stderr by their context only (never request data)
//! and answered with a generic message.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::AppState;
use crate::wire::{ErrorBody, ErrorEnvelope, codes};

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401 `AVNOLOGY_AUTH_005`: no bearer key, or one the emulator does not know.
    #[error("missing or invalid API key")]
    Unauthenticated,
    /// 403 `AVNOLOGY_AUTH_100`: a known key without the scope the operation needs.
    #[error("the API key lacks the `{scope}` scope")]
    PermissionDenied {
        /// The scope that was needed.
        scope: &'static str,
    },
    /// 400 `AVNOLOGY_AUTH_902`: the request is malformed or a field is invalid.
    #[error("{message}")]
    Validation {
        /// The offending field or parameter, when there is one.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 409 `AVNOLOGY_AUTH_903`: a duplicate, a stale ETag or a reused idempotency key.
    #[error("{message}")]
    Conflict {
        /// What conflicted.
        message: String,
        /// `field` and/or `reason`.
        details: Map<String, Value>,
    },
    /// 404 `AVNOLOGY_AUTH_901`: no such identity, login flow or route.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// 404 `AVNOLOGY_AUTH_300`: no such organization.
    #[error("organization not found")]
    OrgNotFound,
    /// 404: a request field names an object that does not exist (`AVNOLOGY_AUTH_300` for an
    /// organization, `AVNOLOGY_AUTH_901` otherwise), with `details.field`. A schema cannot
    /// state that a reference must exist, so this is a 404 like any other missing object,
    /// not a validation error.
    #[error("{field} names no existing {what}")]
    MissingReference {
        /// The request field.
        field: &'static str,
        /// What it should name: `organization` or `identity`.
        what: &'static str,
    },
    /// 401 `AVNOLOGY_AUTH_001`: unknown identifier or wrong password (one message for both,
    /// so a login cannot tell which).
    #[error("invalid identifier or password")]
    InvalidCredentials,
    /// 401 `AVNOLOGY_AUTH_003` (assumed code): the password was right but the identity is
    /// deactivated.
    #[error("the account is disabled")]
    AccountDisabled,
    /// 405 `AVNOLOGY_AUTH_902`: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 429 `AVNOLOGY_AUTH_429` (assumed code): over the rate limit.
    #[error("rate limit exceeded, retry after {retry_after} s")]
    RateLimited {
        /// Seconds until a request will be accepted again.
        retry_after: u64,
    },
    /// 503 `AVNOLOGY_AUTH_500`: an injected fault, answered before anything happened.
    #[error("service unavailable")]
    Unavailable,
    /// 500 `AVNOLOGY_AUTH_500`: an injected fault after a committed write.
    #[error("internal error")]
    CommitFailed,
    /// 500 `AVNOLOGY_AUTH_500`: a real internal failure; `context` is logged, not sent.
    #[error("internal error")]
    Internal {
        /// What failed, for the emulator's log. Never holds request data.
        context: String,
    },
}

/// Error code for "account disabled". Not documented by Avnology; the SDKs have an
/// `AccountDisabledError`, and 003 is the free slot between 002 (locked) and 004.
pub const ACCOUNT_DISABLED: &str = "AVNOLOGY_AUTH_003";

impl ApiError {
    /// A validation error about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A validation error not tied to a field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Validation {
            field: None,
            message: message.into(),
        }
    }

    /// A conflict with `details.field` and `details.reason`.
    pub fn duplicate(field: &str, message: impl Into<String>) -> Self {
        let mut details = Map::new();
        details.insert("field".into(), json!(field));
        details.insert("reason".into(), json!("already_exists"));
        Self::Conflict {
            message: message.into(),
            details,
        }
    }

    /// A conflict with the resource's current state, about one request field: 409 with
    /// `details.field` and `details.reason` (e.g. a fixed field sent with another value).
    pub fn conflict_field(field: &str, reason: &str, message: impl Into<String>) -> Self {
        let mut details = Map::new();
        details.insert("field".into(), json!(field));
        details.insert("reason".into(), json!(reason));
        Self::Conflict {
            message: message.into(),
            details,
        }
    }

    /// A conflict with only `details.reason`.
    pub fn conflict_reason(reason: &str, message: impl Into<String>) -> Self {
        let mut details = Map::new();
        details.insert("reason".into(), json!(reason));
        Self::Conflict {
            message: message.into(),
            details,
        }
    }

    /// An internal failure with a context for the log.
    pub fn internal(context: impl Into<String>) -> Self {
        Self::Internal {
            context: context.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials | Self::AccountDisabled => {
                StatusCode::UNAUTHORIZED
            }
            Self::PermissionDenied { .. } => StatusCode::FORBIDDEN,
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::NotFound { .. } | Self::OrgNotFound | Self::MissingReference { .. } => {
                StatusCode::NOT_FOUND
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::CommitFailed | Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `AVNOLOGY_AUTH_*` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => codes::UNAUTHENTICATED,
            Self::PermissionDenied { .. } => codes::PERMISSION_DENIED,
            Self::Validation { .. } | Self::MethodNotAllowed => codes::VALIDATION,
            Self::Conflict { .. } => codes::CONFLICT,
            Self::OrgNotFound
            | Self::MissingReference {
                what: "organization",
                ..
            } => codes::ORG_NOT_FOUND,
            Self::NotFound { .. } | Self::MissingReference { .. } => codes::NOT_FOUND,
            Self::InvalidCredentials => codes::INVALID_CREDENTIALS,
            Self::AccountDisabled => ACCOUNT_DISABLED,
            Self::RateLimited { .. } => codes::RATE_LIMITED,
            Self::Unavailable | Self::CommitFailed | Self::Internal { .. } => codes::INTERNAL,
        }
    }

    /// The `details` object.
    pub fn details(&self) -> Value {
        match self {
            Self::PermissionDenied { scope } => json!({ "required_scope": scope }),
            Self::Validation { field: Some(f), .. } => json!({ "field": f }),
            Self::MissingReference { field, .. } => json!({ "field": field }),
            Self::Conflict { details, .. } => Value::Object(details.clone()),
            Self::RateLimited { retry_after } => json!({ "retry_after_seconds": retry_after }),
            Self::Unavailable => json!({ "injected_fault": "5xx" }),
            Self::CommitFailed => json!({ "injected_fault": "commit_fail" }),
            _ => json!({}),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        // A unique index is the safety net behind the explicit uniqueness checks; if it ever
        // fires, the honest answer is still a conflict.
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return Self::conflict_reason("already_exists", "the resource already exists");
        }
        // SQLite's messages name tables and columns, never bound values, so they are safe to
        // log.
        Self::internal(format!("storage: {e}"))
    }
}

/// An error waiting for [`request_context`] to add the request id and write the body.
#[derive(Debug, Clone)]
pub struct PendingError(pub ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status().into_response();
        if let Self::RateLimited { retry_after } = &self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        resp.extensions_mut().insert(PendingError(self));
        resp
    }
}

/// A fresh `req_<hex>` id.
pub fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

/// The outermost middleware: request id, error envelope, optional request log.
pub async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The path only: queries can hold emails in filters and are not worth logging.
    let path = req.uri().path().to_string();
    let request_id = new_request_id();
    let mut resp = next.run(req).await;
    let pending = resp
        .extensions_mut()
        .remove::<PendingError>()
        .map(|PendingError(err)| err)
        .or_else(|| framework_rejection(&resp));
    if let Some(err) = pending {
        if let ApiError::Internal { context } = &err {
            crate::printer::status(&format!(
                "emulator: internal error in {request_id}: {context}"
            ));
        }
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: err.code().to_string(),
                message: err.to_string(),
                request_id: request_id.clone(),
                details: err.details(),
            },
        };
        // The status and headers (Retry-After, rate-limit headers) stay; the body is
        // replaced by the envelope.
        let (mut parts, _) = resp.into_parts();
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        resp = Response::from_parts(parts, Body::from(body));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if state.log_requests() {
        crate::printer::status(&format!(
            "{method} {} {} {}ms {request_id}",
            crate::render::escape::terminal(path.as_str()),
            resp.status().as_u16(),
            started.elapsed().as_millis()
        ));
    }
    resp
}

/// An error response axum produced itself (an extractor rejection such as a body over the
/// size limit, or a path that does not decode), which would otherwise leave as plain text.
/// Its text is not passed on: some rejections quote the request.
fn framework_rejection(resp: &Response) -> Option<ApiError> {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let reason = status.canonical_reason().unwrap_or("error");
    Some(if status.is_server_error() {
        ApiError::internal(format!("framework answered {status}"))
    } else {
        ApiError::invalid(format!("the request was rejected: {reason}"))
    })
}

/// Router fallback: an unknown route is a 404 in the envelope.
pub async fn no_route() -> ApiError {
    ApiError::NotFound { what: "route" }
}

/// Router fallback for a known path with the wrong method.
pub async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_match_the_reference() {
        let cases = [
            (ApiError::Unauthenticated, 401, "AVNOLOGY_AUTH_005"),
            (
                ApiError::PermissionDenied {
                    scope: "admin:users:write",
                },
                403,
                "AVNOLOGY_AUTH_100",
            ),
            (ApiError::field("email", "bad"), 400, "AVNOLOGY_AUTH_902"),
            (
                ApiError::duplicate("email", "taken"),
                409,
                "AVNOLOGY_AUTH_903",
            ),
            (
                ApiError::NotFound { what: "identity" },
                404,
                "AVNOLOGY_AUTH_901",
            ),
            (ApiError::OrgNotFound, 404, "AVNOLOGY_AUTH_300"),
            (ApiError::InvalidCredentials, 401, "AVNOLOGY_AUTH_001"),
            (ApiError::AccountDisabled, 401, "AVNOLOGY_AUTH_003"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.code(), code, "{err:?}");
        }
        assert_eq!(
            ApiError::duplicate("external_id", "x").details(),
            json!({"field": "external_id", "reason": "already_exists"})
        );
    }
}
