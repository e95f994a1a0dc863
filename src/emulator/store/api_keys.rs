//! The `api_keys` table: the SHA-256 digest of each accepted key and its scopes. The key
//! itself is never stored, so a copied database file does not hand out working keys.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::now_rfc3339;
use crate::emulator::config::KeyGrant;
use crate::emulator::error::ApiError;

/// Hex SHA-256 of a key. An unsalted fast hash is enough here: keys are 64 random
/// alphanumerics (≈380 bits), not guessable passwords.
pub fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()).as_slice())
}

/// Replaces the stored key set with exactly `grants`, so the keys a run was started with
/// are the only ones that work.
pub fn replace_all(conn: &mut Connection, grants: &[KeyGrant]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM api_keys", [])?;
    let now = now_rfc3339();
    for grant in grants {
        tx.execute(
            "INSERT INTO api_keys (key_sha256, scopes, create_time) VALUES (?1, ?2, ?3)
             ON CONFLICT (key_sha256) DO UPDATE SET scopes = excluded.scopes",
            params![digest(&grant.key), grant.scopes.join(" "), now],
        )?;
    }
    tx.commit()
}

/// The scopes of a presented key, or `None` when the key is unknown.
pub fn scopes_of(conn: &Connection, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    let scopes: Option<String> = conn
        .query_row(
            "SELECT scopes FROM api_keys WHERE key_sha256 = ?1",
            [digest(key)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(scopes.map(|s| s.split_whitespace().map(str::to_string).collect()))
}
