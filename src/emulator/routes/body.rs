//! Request and response plumbing shared by the route handlers: JSON bodies parsed into the
//! shared wire types with errors that never echo request values, the `Idempotency-Key`,
//! `If-Match` and `ETag` headers, and query parameters.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::emulator::error::ApiError;

/// Parses a JSON object body. serde's messages can quote the offending value (which might be a
/// password typed into the wrong field), so only "missing field" messages, which name a
/// field and nothing else, are passed on; other errors report a position.
pub fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("a JSON request body is required"));
    }
    // Every request body is a JSON object; serde would also read a struct from an array.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        if let Some(rest) = text.strip_prefix("missing field `")
            && let Some((field, _)) = rest.split_once('`')
        {
            return ApiError::field(field, format!("`{field}` is required"));
        }
        let what = if e.is_syntax() || e.is_eof() {
            "the request body is not valid JSON"
        } else {
            "the request body does not match the expected shape"
        };
        ApiError::invalid(format!("{what} (line {}, column {})", e.line(), e.column()))
    })
}

/// Parses an optional JSON object body (custom methods such as `:deactivate` take an
/// optional `{"reason": …}`); an empty body is fine.
pub fn optional_object(bytes: &Bytes) -> Result<(), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    parse_json::<Map<String, Value>>(bytes).map(|_| ())
}

/// SHA-256 (hex) of the body's canonical JSON form (object keys sorted, no whitespace), so
/// that an idempotent retry matches even if a client re-serialises with another key order.
/// A body that is not JSON is hashed as raw bytes.
pub fn canonical_sha256(bytes: &Bytes) -> String {
    fn canonical(v: Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k, canonical(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
            other => other,
        }
    }
    let normalised = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| serde_json::to_vec(&canonical(v)).ok())
        .unwrap_or_else(|| bytes.to_vec());
    hex::encode(Sha256::digest(&normalised).as_slice())
}

/// The `Idempotency-Key` header: 1–255 visible ASCII characters, or absent.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::field(
            "Idempotency-Key",
            "Idempotency-Key must be 1–255 visible ASCII characters",
        )
    };
    let value = raw.to_str().map_err(|_| bad())?.trim();
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(value.to_string()))
}

/// The `If-Match` header, if present and readable.
pub fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// 409 `AVNOLOGY_AUTH_903` (`details.reason = "etag_mismatch"`) when an `If-Match` header
/// was sent and does not match `current`, the ETag of the `what` being changed.
pub fn check_if_match(if_match: Option<&str>, current: &str, what: &str) -> Result<(), ApiError> {
    match if_match {
        Some(h) if !crate::emulator::etag::if_match_allows(h, current) => {
            Err(ApiError::conflict_reason(
                "etag_mismatch",
                format!("the {what} changed since the ETag was read (If-Match does not match)"),
            ))
        }
        _ => Ok(()),
    }
}

/// Query parameters by name (the last of a repeated one wins).
pub type Params = HashMap<String, String>;

/// A route's query string as axum extracts it: parsed, or why not.
pub type QueryParams = Result<Query<Params>, QueryRejection>;

/// Query parameters as a map; a malformed query string is a 400.
pub fn query_map(query: QueryParams) -> Result<Params, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|_| ApiError::invalid("the query string is malformed"))
}

/// A boolean query parameter (`true`/`false`/`1`/`0`); absent is false.
pub fn query_bool(q: &Params, name: &str) -> Result<bool, ApiError> {
    match q
        .get(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(ApiError::field(
            name,
            format!("{name} must be true or false"),
        )),
    }
}

/// A JSON response with an optional `ETag` header.
pub fn json(status: StatusCode, body: &impl Serialize, etag: Option<&str>) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => raw_json(status, text, etag),
        Err(e) => ApiError::internal(format!("encoding a response: {e}")).into_response(),
    }
}

/// A response from an already-encoded JSON body (used to replay stored responses byte for
/// byte).
pub fn raw_json(status: StatusCode, body: String, etag: Option<&str>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_never_echo_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            password: String,
            n: u32,
        }
        let err = parse_json::<Body>(&Bytes::from_static(br#"{"password": 12345678901, "n": 1}"#))
            .unwrap_err();
        assert!(!err.to_string().contains("12345678901"), "{err}");
        let err = parse_json::<Body>(&Bytes::from_static(br#"{"n": 1}"#)).unwrap_err();
        assert_eq!(err, ApiError::field("password", "`password` is required"));
        assert!(parse_json::<Body>(&Bytes::from_static(b"  ")).is_err());
    }

    #[test]
    fn canonical_digest_ignores_key_order_and_spacing() {
        let a = canonical_sha256(&Bytes::from_static(br#"{"a":1,"b":{"c":2,"d":3}}"#));
        let b = canonical_sha256(&Bytes::from_static(br#"{ "b": {"d":3, "c":2}, "a": 1 }"#));
        let c = canonical_sha256(&Bytes::from_static(br#"{"a":2,"b":{"c":2,"d":3}}"#));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
