//! The `idempotency_keys` table: for each (route, `Idempotency-Key`) the digest of the first
//! request body and the exact response it got, so a retry replays that response instead of
//! creating a duplicate. Records are written in the same transaction as the create they
//! describe, so a record exists exactly when the create happened.

use rusqlite::{Connection, OptionalExtension, params};

use super::now_rfc3339;
use crate::emulator::error::ApiError;

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// SHA-256 of the canonical request body.
    pub request_sha256: String,
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: String,
    /// `ETag` header, if the response had one.
    pub etag: Option<String>,
}

/// The record for `key` on `route`, if any.
pub fn get(conn: &Connection, route: &str, key: &str) -> Result<Option<Recorded>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT request_sha256, status, body, etag FROM idempotency_keys
             WHERE route = ?1 AND key = ?2",
        )?
        .query_row(params![route, key], |r| {
            Ok(Recorded {
                request_sha256: r.get(0)?,
                status: r.get(1)?,
                body: r.get(2)?,
                etag: r.get(3)?,
            })
        })
        .optional()?)
}

/// Stores the response to the first request with `key` on `route`.
pub fn put(conn: &Connection, route: &str, key: &str, rec: &Recorded) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (route, key, request_sha256, status, body, etag, create_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        route,
        key,
        rec.request_sha256,
        rec.status,
        rec.body,
        rec.etag,
        now_rfc3339()
    ])?;
    Ok(())
}

/// Forgets the records of `route` created before `cutoff` (RFC 3339 in the form of
/// [`now_rfc3339`], which compares as a string): records are kept only for as long as a
/// retry is plausible. A search of `idempotency_keys_age`, however many records the route
/// holds.
pub fn purge_before(conn: &Connection, route: &str, cutoff: &str) -> Result<(), ApiError> {
    conn.prepare_cached("DELETE FROM idempotency_keys WHERE route = ?1 AND create_time < ?2")?
        .execute(params![route, cutoff])?;
    Ok(())
}

/// Forgets every record of `route` (e.g. the key creates of a deleted service account).
pub fn delete_route(conn: &Connection, route: &str) -> Result<(), ApiError> {
    conn.execute("DELETE FROM idempotency_keys WHERE route = ?1", [route])?;
    Ok(())
}

/// Forgets every record (`--expire-idempotency-keys`: as if they had all expired).
pub fn forget_all(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.execute("DELETE FROM idempotency_keys", []).map(drop)
}
