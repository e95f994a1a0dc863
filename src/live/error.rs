//! What can go wrong talking to Avnology, and how an error response becomes a [`Error`].
//!
//! This module owns the client's error type and the decoding of error responses. Avnology's
//! error envelope is not documented, so [`decode_api_error`] accepts the assumed envelope
//! `{"error": {code, message, request_id, details}}`, the flat `{code, message}` form the SDKs
//! suggest, OAuth-style `{error, error_description}`, and anything else (an HTML page from a
//! proxy, an empty body) as the status plus a short snippet. Nothing here ever holds the API
//! key, a password, a hash or a request body: errors name the method and the path (never the
//! query, which can carry emails in filters) and what the server said.

use reqwest::StatusCode;

use super::retry;
use crate::wire;

/// The longest snippet of a non-JSON error body kept in an error message.
const SNIPPET_MAX_CHARS: usize = 200;

/// A failed call to the Avnology admin API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a non-success status.
    #[error(
        "Avnology API answered {} to {method} {path}: {}{}",
        status_and_code(*.status, .code),
        api_message(*.status, .message),
        request_suffix(.request_id)
    )]
    Api {
        /// HTTP method, e.g. `PATCH`.
        method: String,
        /// Request path without the query, e.g. `/v1/identities/usr_1`.
        path: String,
        /// HTTP status.
        status: u16,
        /// `AVNOLOGY_AUTH_<nnn>`, or empty when the body carried no code.
        code: String,
        /// The server's message, or the status reason plus a body snippet.
        message: String,
        /// `req_…` from the body or the `X-Request-Id` header; empty if neither had one.
        /// (A `Box<str>`, not a `String`, to keep [`Error`] within clippy's size limit for
        /// error types now that `details` is here too.)
        request_id: Box<str>,
        /// `details.field` and `details.reason`, when the server sent either; read them
        /// through [`Error::field`] and [`Error::reason`]. Boxed: most errors have none.
        details: Option<Box<ApiErrorDetails>>,
    },
    /// The request could not be completed (timeout, refused, reset, TLS, DNS), after any
    /// retries were exhausted.
    #[error(
        "could not complete {method} {path} with the Avnology API ({})",
        retry::transport_cause(.source)
    )]
    Transport {
        /// HTTP method.
        method: String,
        /// Request path without the query.
        path: String,
        /// The underlying failure; its message may name the URL, which never holds secrets.
        #[source]
        source: reqwest::Error,
    },
    /// The API has not answered for the give-up time, or cannot be reached at all: the
    /// client stopped trying, and refuses every later request at once.
    #[error("{0}; gave up")]
    Unreachable(Outage),
    /// The response (or, rarely, the request) could not be encoded or decoded.
    #[error(
        "unexpected response from the Avnology API to {method} {path}: {}",
        crate::render::escape::terminal(.message)
    )]
    Decode {
        /// HTTP method.
        method: String,
        /// Request path without the query.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A plain `http://` URL to a host that is not loopback: the API key would travel in clear.
    #[error(
        "refusing to send the Avnology API key over plain HTTP to `{url}`: use https:// \
         (plain http is allowed only for loopback addresses)"
    )]
    InsecureUrl {
        /// The URL as given (credentials, if any, removed).
        url: String,
    },
    /// The API URL could not be used.
    #[error("invalid Avnology API URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given (credentials, if any, removed).
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The API key cannot be sent in an HTTP header (a stray newline from a `.env` file, say).
    #[error("the Avnology API key contains characters that cannot be sent in an HTTP header")]
    InvalidApiKey,
    /// A caller-supplied value cannot be sent: an `Idempotency-Key` or `If-Match` that is not
    /// a valid header value, or an empty or dot-segment object id.
    #[error("invalid {name} for the Avnology API: {reason}")]
    InvalidArgument {
        /// What was invalid, e.g. `If-Match value`.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The HTTP client could not be initialised (e.g. the TLS backend failed to load).
    #[error("could not initialise the HTTP client")]
    Setup(#[source] reqwest::Error),
}

/// Why a client gave up on the API: where, for how long nothing answered, and what the last
/// attempt met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The API root.
    pub url: String,
    /// The last failure, e.g. `connection refused`, `no response within 30 s`.
    pub cause: String,
    /// How long nothing answered when the client gave up (zero for a failure that waiting
    /// cannot fix, such as a TLS certificate error).
    pub silent: std::time::Duration,
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.silent.is_zero() {
            write!(
                f,
                "cannot reach the Avnology API at {} ({})",
                self.url, self.cause
            )
        } else {
            write!(
                f,
                "the Avnology API at {} has not answered for {} s ({})",
                self.url,
                self.silent.as_secs_f64().round(),
                self.cause
            )
        }
    }
}

/// The structured `details` of an API error that the tool acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiErrorDetails {
    /// `details.field`: the request field a validation error or a duplicate is about (e.g.
    /// `redirect_uris`, `external_id`).
    pub field: Option<String>,
    /// `details.reason`: why a conflict happened (`already_exists`, `etag_mismatch`,
    /// `idempotency_key_reused`).
    pub reason: Option<String>,
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `AVNOLOGY_AUTH_*` code of an API error, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// `details.field` of an API error: the request field it is about, e.g. the
    /// `redirect_uris` of a refused OAuth client or the `external_id` of a duplicate.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Api {
                details: Some(d), ..
            } => d.field.as_deref(),
            _ => None,
        }
    }

    /// `details.reason` of an API error, e.g. `etag_mismatch` or `already_exists` on a 409.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Api {
                details: Some(d), ..
            } => d.reason.as_deref(),
            _ => None,
        }
    }

    /// 409: an `If-Match` ETag mismatch or a duplicate (email, `external_id`, org name).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 404: no such object.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 401: the API key was missing, malformed or not accepted. Callers should point the user
    /// at `AVNOLOGY_SECRET_KEY` (see [`Error::hint`]).
    pub fn is_unauthenticated(&self) -> bool {
        self.status() == Some(401)
    }

    /// Whether the same request might succeed later: 408, 429, 500, 502, 503, 504, and the
    /// transport failures the client retries itself (timeouts, refused or reset connections).
    /// A 500 after a write without an `Idempotency-Key` may mean the write happened.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Self::Transport { source, .. } => retry::transport_reason(source).is_some(),
            _ => false,
        }
    }

    /// A one-line suggestion for the user, where the error has an obvious next step.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Api { status: 401, .. } => {
                Some("check that AVNOLOGY_SECRET_KEY holds a valid admin API key for this tenant")
            }
            Self::Api { status: 403, .. } => Some(
                "the API key lacks a scope this operation needs (admin:users:read/write, \
                 admin:orgs:read/write, admin:oauth-clients:read/write, \
                 admin:service-accounts:read/write)",
            ),
            Self::InsecureUrl { .. } => Some("use the tenant's https:// API URL"),
            Self::InvalidApiKey => Some("check AVNOLOGY_SECRET_KEY for stray quotes or newlines"),
            Self::Transport { .. } | Self::Unreachable(_) => {
                Some("check AVNOLOGY_API_URL (or the manifest's target.url) and the network")
            }
            _ => None,
        }
    }
}

/// `409 AVNOLOGY_AUTH_903`, or just `502` when the body carried no code.
fn status_and_code(status: u16, code: &str) -> String {
    if code.is_empty() {
        status.to_string()
    } else {
        format!("{status} {}", crate::render::escape::terminal(code))
    }
}

/// The server's message, escaped (a newline in it must not pass for a line of ours); a 401
/// also says plainly that the key was refused, so the caller's `hint:` about
/// `AVNOLOGY_SECRET_KEY` reads naturally after it.
fn api_message(status: u16, message: &str) -> String {
    let message = crate::render::escape::terminal(message);
    if status == 401 {
        format!("{message} (the API key was not accepted)")
    } else {
        message.into_owned()
    }
}

fn request_suffix(request_id: &str) -> String {
    if request_id.is_empty() {
        String::new()
    } else {
        format!(" (request {})", crate::render::escape::terminal(request_id))
    }
}

/// Builds the [`Error::Api`] for a non-success response.
///
/// `request_id_header` is the `X-Request-Id` header, used when the body has no id. `secrets`
/// are the API key (and, for a login, the password): should a server ever echo one in a
/// message, it is masked before the message can reach a terminal or log.
pub(crate) fn decode_api_error(
    method: &str,
    path: &str,
    status: u16,
    body: &[u8],
    request_id_header: Option<&str>,
    secrets: &[&str],
) -> Error {
    let (code, message, request_id) = parse_error_body(status, body);
    let request_id = if request_id.is_empty() {
        request_id_header.unwrap_or_default().to_string()
    } else {
        request_id
    };
    let (field, reason) = parse_details(body);
    Error::Api {
        method: method.to_string(),
        // Our own path, but masked too: an id argument is caller data.
        path: mask(path, secrets),
        status,
        code: mask(&code, secrets),
        message: mask(&message, secrets),
        request_id: mask(&request_id, secrets).into(),
        details: (field.is_some() || reason.is_some()).then(|| {
            Box::new(ApiErrorDetails {
                field: field.map(|f| mask(&f, secrets)),
                reason: reason.map(|r| mask(&r, secrets)),
            })
        }),
    }
}

/// `details.field` and `details.reason` of an error body (enveloped or flat), when they are
/// strings.
fn parse_details(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice(body) else {
        return (None, None);
    };
    let details = match obj.get("error") {
        Some(serde_json::Value::Object(inner)) => inner.get("details"),
        _ => obj.get("details"),
    };
    let text = |key: &str| {
        details
            .and_then(|d| d.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (text("field"), text("reason"))
}

/// Returns (code, message, request_id) from an error body in any shape.
fn parse_error_body(status: u16, body: &[u8]) -> (String, String, String) {
    // The assumed envelope first, then the flat form, both through the shared wire types.
    if let Ok(env) = serde_json::from_slice::<wire::ErrorEnvelope>(body) {
        return (env.error.code, env.error.message, env.error.request_id);
    }
    if let Ok(flat) = serde_json::from_slice::<wire::ErrorBody>(body) {
        return (flat.code, flat.message, flat.request_id);
    }
    // Partial or foreign JSON shapes (a missing field, OAuth's `error_description`).
    if let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice(body) {
        let inner = match obj.get("error") {
            Some(serde_json::Value::Object(inner)) => inner.clone(),
            _ => obj.clone(),
        };
        let text = |key: &str| inner.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let code = text("code")
            .or_else(|| {
                obj.get("error")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let message = text("message")
            .or_else(|| text("error_description"))
            .or_else(|| {
                obj.get("error_description")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| reason(status));
        let request_id = text("request_id").unwrap_or_default();
        return (code, message, request_id);
    }
    let snippet = snippet(body);
    let message = if snippet.is_empty() {
        reason(status)
    } else {
        format!("{}: {snippet}", reason(status))
    };
    (String::new(), message, String::new())
}

/// The canonical reason phrase, e.g. `Bad Gateway`.
fn reason(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unexpected status")
        .to_string()
}

/// The start of a body as one printable line, at most [`SNIPPET_MAX_CHARS`] characters.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cleaned: String = flat.chars().filter(|c| !c.is_control()).collect();
    if cleaned.chars().count() <= SNIPPET_MAX_CHARS {
        cleaned
    } else {
        let mut cut: String = cleaned.chars().take(SNIPPET_MAX_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// Replaces every occurrence of each secret in `text`. Secrets shorter than four characters
/// are skipped: masking them would mangle ordinary words, and no real key is that short.
pub(crate) fn mask(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.chars().count() >= 4) {
        out = out.replace(secret, "(sensitive)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: &str) -> Error {
        decode_api_error(
            "PATCH",
            "/v1/identities/usr_1",
            status,
            body.as_bytes(),
            None,
            &["ak_x"],
        )
    }

    #[test]
    fn decodes_the_envelope() {
        let e = decode(
            409,
            r#"{"error":{"code":"AVNOLOGY_AUTH_903","message":"etag mismatch","request_id":"req_7","details":{}}}"#,
        );
        assert_eq!(e.status(), Some(409));
        assert_eq!(e.code(), Some("AVNOLOGY_AUTH_903"));
        assert!(e.is_conflict());
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "Avnology API answered 409 AVNOLOGY_AUTH_903 to PATCH /v1/identities/usr_1: \
             etag mismatch (request req_7)"
        );
    }

    #[test]
    fn decodes_details_field_and_reason() {
        let e = decode(
            400,
            r#"{"error":{"code":"AVNOLOGY_AUTH_902","message":"redirect_uris[0] has a fragment","request_id":"r","details":{"field":"redirect_uris"}}}"#,
        );
        assert_eq!(e.field(), Some("redirect_uris"));
        assert_eq!(e.reason(), None);
        let e = decode(
            409,
            r#"{"code":"AVNOLOGY_AUTH_903","message":"m","details":{"field":"external_id","reason":"already_exists"}}"#,
        );
        assert_eq!(
            (e.field(), e.reason()),
            (Some("external_id"), Some("already_exists"))
        );
        let e = decode(409, r#"{"error":{"details":{"reason":"ak_x"}}}"#);
        assert_eq!(e.reason(), Some("(sensitive)"), "details are masked too");
        assert_eq!(decode(502, "<html>").field(), None);
    }

    #[test]
    fn decodes_the_flat_form() {
        let e = decode(
            404,
            r#"{"code":"AVNOLOGY_AUTH_901","message":"identity not found"}"#,
        );
        assert!(e.is_not_found());
        assert_eq!(e.code(), Some("AVNOLOGY_AUTH_901"));
        assert_eq!(
            e.to_string(),
            "Avnology API answered 404 AVNOLOGY_AUTH_901 to PATCH /v1/identities/usr_1: \
             identity not found"
        );
    }

    #[test]
    fn decodes_partial_and_oauth_shapes() {
        let e = decode(400, r#"{"error":{"message":"bad filter"}}"#);
        assert_eq!(e.code(), None);
        assert!(e.to_string().ends_with(": bad filter"), "{e}");
        let e = decode(
            401,
            r#"{"error":"invalid_client","error_description":"nope"}"#,
        );
        assert_eq!(e.code(), Some("invalid_client"));
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn non_json_bodies_become_a_short_snippet() {
        let html = format!("<html>\n  <body>{}</body></html>", "x".repeat(500));
        let e = decode(502, &html);
        let Error::Api { code, message, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(code, "");
        assert!(
            message.starts_with("Bad Gateway: <html> <body>xxx"),
            "{message}"
        );
        assert!(message.chars().count() <= "Bad Gateway: ".len() + SNIPPET_MAX_CHARS);
        assert!(
            e.to_string()
                .starts_with("Avnology API answered 502 to PATCH"),
            "{e}"
        );
        assert!(e.is_retryable());

        let e = decode(503, "");
        assert!(e.to_string().ends_with(": Service Unavailable"), "{e}");
    }

    #[test]
    fn request_id_falls_back_to_the_header() {
        let e = decode_api_error("GET", "/v1/x", 500, b"oops", Some("req_h"), &[]);
        assert!(e.to_string().ends_with("(request req_h)"), "{e}");
    }

    #[test]
    fn unauthenticated_says_the_key_was_refused_and_hides_it() {
        let e = decode(
            401,
            r#"{"error":{"code":"AVNOLOGY_AUTH_005","message":"invalid key ak_x","request_id":"r"}}"#,
        );
        assert!(e.is_unauthenticated());
        let text = e.to_string();
        assert!(text.contains("the API key was not accepted"), "{text}");
        assert!(!text.contains("ak_x"), "{text}");
        assert!(!format!("{e:?}").contains("ak_x"));
        assert!(e.hint().unwrap().contains("AVNOLOGY_SECRET_KEY"));
    }

    #[test]
    fn a_server_message_cannot_add_lines_or_escape_sequences() {
        let e = decode(
            400,
            r#"{"error":{"code":"AVNOLOGY_X\u001b[2J","message":"bad\nerror: forged\u001b[31m\u202e","request_id":"req_1\r"}}"#,
        );
        let text = e.to_string();
        assert!(
            !text.chars().any(crate::render::escape::is_unsafe),
            "{text:?}"
        );
        assert!(
            text.contains(r"bad\nerror: forged\u{1b}[31m\u{202e}"),
            "{text}"
        );
    }

    #[test]
    fn retryable_statuses() {
        for (status, retryable) in [
            (429, true),
            (503, true),
            (500, true),
            (400, false),
            (409, false),
        ] {
            assert_eq!(decode(status, "{}").is_retryable(), retryable, "{status}");
        }
        let e = Error::Decode {
            method: "GET".into(),
            path: "/".into(),
            message: "x".into(),
        };
        assert!(!e.is_retryable());
        assert_eq!(e.status(), None);
    }
}
