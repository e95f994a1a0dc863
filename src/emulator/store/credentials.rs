//! The `credentials` table: one row of password material per identity, in its own table so
//! that no query that builds an identity response can ever read it (responses see only the
//! `identities.has_password` flag that [`set`] raises). The material is the JSON
//! of a [`Credential`]; only the login flow reads it back.

use rusqlite::{Connection, OptionalExtension, params};

use super::now_rfc3339;
use crate::emulator::error::ApiError;
use crate::emulator::password::Credential;

/// Sets (or replaces) the identity's password material.
pub fn set(conn: &Connection, identity_id: &str, credential: &Credential) -> Result<(), ApiError> {
    let material = serde_json::to_string(credential)
        .map_err(|e| ApiError::internal(format!("encoding a credential: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO credentials (identity_id, algorithm, material, update_time)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (identity_id) DO UPDATE SET
             algorithm = excluded.algorithm,
             material = excluded.material,
             update_time = excluded.update_time",
    )?
    .execute(params![
        identity_id,
        credential.algorithm(),
        material,
        now_rfc3339()
    ])?;
    conn.prepare_cached(
        "UPDATE identities SET has_password = 1 WHERE id = ?1 AND has_password = 0",
    )?
    .execute([identity_id])?;
    Ok(())
}

/// The identity's password material, if it has any.
pub fn get(conn: &Connection, identity_id: &str) -> Result<Option<Credential>, ApiError> {
    let material: Option<String> = conn
        .query_row(
            "SELECT material FROM credentials WHERE identity_id = ?1",
            [identity_id],
            |r| r.get(0),
        )
        .optional()?;
    match material {
        None => Ok(None),
        // The error names the problem, never the material.
        Some(m) => serde_json::from_str(&m)
            .map(Some)
            .map_err(|_| ApiError::internal("stored credential is not readable")),
    }
}
