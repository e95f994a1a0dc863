//! The `login_flows` and `sessions` tables. A flow is created by `POST /v1/flows/login`,
//! accepts submissions until it expires, and is consumed by a successful login (which
//! creates a session), as in Avnology's embedded flows.

use rusqlite::{Connection, OptionalExtension, params};

use super::now_rfc3339;
use crate::emulator::error::ApiError;

/// How long a login flow accepts submissions.
pub const FLOW_TTL_SECS: i64 = 600;

/// Creates a flow; returns its id and expiry (RFC 3339).
pub fn create(conn: &Connection) -> Result<(String, String), ApiError> {
    let id = format!("flow_{}", uuid::Uuid::new_v4());
    let expires = chrono::Utc::now() + chrono::Duration::seconds(FLOW_TTL_SECS);
    conn.execute(
        "INSERT INTO login_flows (id, expire_unix, create_time) VALUES (?1, ?2, ?3)",
        params![id, expires.timestamp(), now_rfc3339()],
    )?;
    // Old flows are useless; sweep them so the table stays small.
    conn.execute(
        "DELETE FROM login_flows WHERE expire_unix < ?1",
        [chrono::Utc::now().timestamp()],
    )?;
    Ok((
        id,
        expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ))
}

/// True when the flow exists and has not expired.
pub fn is_open(conn: &Connection, id: &str) -> Result<bool, ApiError> {
    let expire: Option<i64> = conn
        .query_row(
            "SELECT expire_unix FROM login_flows WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(expire.is_some_and(|e| e >= chrono::Utc::now().timestamp()))
}

/// Consumes the flow, opens a session for the identity and records the identity's
/// `last_login_at` (which changes neither its version nor its ETag: a login is not an edit);
/// returns the session id.
pub fn complete(conn: &Connection, flow_id: &str, identity_id: &str) -> Result<String, ApiError> {
    conn.execute("DELETE FROM login_flows WHERE id = ?1", [flow_id])?;
    let session = format!("ses_{}", uuid::Uuid::new_v4());
    let now = now_rfc3339();
    conn.execute(
        "INSERT INTO sessions (id, identity_id, create_time) VALUES (?1, ?2, ?3)",
        params![session, identity_id, now],
    )?;
    conn.execute(
        "UPDATE identities SET last_login_at = ?2 WHERE id = ?1",
        params![identity_id, now],
    )?;
    Ok(session)
}
