//! The `create_log` table: one row per identity, OAuth client and service account create
//! that committed, written in the create's own transaction, with the `Idempotency-Key` it
//! carried. Rows are never updated or deleted (a deleted object keeps its row), so the log
//! counts every create that ever happened, which is what an exactly-once test needs: the
//! surviving rows alone cannot show a duplicate that was created and later removed, and
//! under `--no-unique-external-id` nothing else stops one. An idempotent replay writes no
//! row.

use rusqlite::{Connection, params};

use super::now_rfc3339;
use crate::emulator::error::ApiError;

/// What was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /v1/identities`.
    Identity,
    /// `POST /v1/oauth-clients`.
    OAuthClient,
    /// `POST /v1/service-accounts`.
    ServiceAccount,
}

impl Kind {
    /// The `kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::OAuthClient => "oauth_client",
            Self::ServiceAccount => "service_account",
        }
    }
}

/// Records one committed create. Call it in the create's transaction, after the insert.
pub fn record(
    conn: &Connection,
    kind: Kind,
    id: &str,
    external_id: Option<&str>,
    idempotency_key: Option<&str>,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO create_log (kind, object_id, external_id, idempotency_key, create_time)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        kind.as_str(),
        id,
        external_id,
        idempotency_key,
        now_rfc3339()
    ])?;
    Ok(())
}
