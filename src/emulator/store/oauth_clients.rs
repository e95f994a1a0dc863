//! The `oauth_clients` table. Columns hold what is queried or unique (`client_id`,
//! `external_id`, name, type, organization, version, times); `data` holds the JSON of the
//! ordered URI lists, grant types, scopes, auth method and metadata.
//!
//! A confidential client's secret is stored only as its SHA-256 digest in
//! `client_secret_sha256`, a column no query that builds a response reads: the secret is
//! shown once, by create, and can never be read back from the database or the API.
//!
//! Uniqueness: `external_id` is unique within its `organization_id` (no organization counts
//! as one scope of its own), checked here with a precise 409 and backed by a partial unique
//! index. Deletes are hard deletes, so a deleted client frees its `external_id` at once.

use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::table::{self, Stored, Table, Versioned};
use crate::emulator::error::ApiError;
use crate::wire::OAuthClient;

/// Fields a list filter may name.
pub const FILTER_FIELDS: &[&str] = &[
    "external_id",
    "client_name",
    "client_type",
    "organization_id",
];

const SELECT: &str = "SELECT seq, client_id, external_id, client_name, client_type, \
    organization_id, version, data, create_time, update_time FROM oauth_clients";

/// A stored client: the wire shape (without a meaningful `etag`) plus its rowid and
/// version. Never holds the secret.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClientRecord {
    /// Rowid, the keyset paging key.
    pub seq: i64,
    /// Bumped on every change; the ETag is derived from it.
    pub version: i64,
    /// The client.
    pub client: OAuthClient,
}

impl Versioned for OAuthClientRecord {
    const NOUN: &'static str = "OAuth client";
    type Wire = OAuthClient;

    fn id_and_version(&self) -> (&str, i64) {
        (&self.client.client_id, self.version)
    }

    fn into_wire(self) -> OAuthClient {
        let etag = self.etag();
        OAuthClient {
            etag,
            ..self.client
        }
    }
}

/// The fields kept as JSON in `data`. Lists keep their order: redirect URIs are matched
/// exactly and a migration must read back what it wrote.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: String,
    #[serde(default)]
    metadata: Map<String, Value>,
}

impl Stored for OAuthClientRecord {
    const TABLE: Table = Table::new(
        "oauth_clients",
        "an OAuth client",
        "client_id",
        SELECT,
        FILTER_FIELDS,
    );

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let data: Data = table::json_column(row, 7)?;
        Ok(OAuthClientRecord {
            seq: row.get(0)?,
            version: row.get(6)?,
            client: OAuthClient {
                client_id: row.get(1)?,
                external_id: row.get(2)?,
                client_name: row.get(3)?,
                client_type: row.get(4)?,
                redirect_uris: data.redirect_uris,
                post_logout_redirect_uris: data.post_logout_redirect_uris,
                allowed_origins: data.allowed_origins,
                grant_types: data.grant_types,
                scopes: data.scopes,
                token_endpoint_auth_method: data.token_endpoint_auth_method,
                metadata: data.metadata,
                organization_id: row.get(5)?,
                create_time: row.get(8)?,
                update_time: row.get(9)?,
                etag: String::new(),
            },
        })
    }

    fn seq(&self) -> i64 {
        self.seq
    }
}

fn data_json(c: &OAuthClient) -> Result<String, ApiError> {
    let data = Data {
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        allowed_origins: c.allowed_origins.clone(),
        grant_types: c.grant_types.clone(),
        scopes: c.scopes.clone(),
        token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
        metadata: c.metadata.clone(),
    };
    serde_json::to_string(&data)
        .map_err(|e| ApiError::internal(format!("encoding an OAuth client: {e}")))
}

/// The client with this `client_id`.
pub fn get(conn: &Connection, client_id: &str) -> Result<Option<OAuthClientRecord>, ApiError> {
    table::get(conn, client_id)
}

/// Inserts a new client with the digest of its secret (confidential clients) and returns
/// its rowid.
pub fn insert(
    conn: &Connection,
    rec: &OAuthClientRecord,
    secret_sha256: Option<&str>,
) -> Result<i64, ApiError> {
    let c = &rec.client;
    conn.execute(
        "INSERT INTO oauth_clients (client_id, external_id, client_name, client_type,
             organization_id, client_secret_sha256, version, data, create_time, update_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            c.client_id,
            c.external_id,
            c.client_name,
            c.client_type,
            c.organization_id,
            secret_sha256,
            rec.version,
            data_json(c)?,
            c.create_time,
            c.update_time,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes the mutable fields of an existing client (matched by `client_id`). The type,
/// organization, `external_id` and secret never change after create.
pub fn update(conn: &Connection, rec: &OAuthClientRecord) -> Result<(), ApiError> {
    let c = &rec.client;
    conn.execute(
        "UPDATE oauth_clients SET client_name = ?2, version = ?3, data = ?4, update_time = ?5
         WHERE client_id = ?1",
        params![
            c.client_id,
            c.client_name,
            rec.version,
            data_json(c)?,
            c.update_time
        ],
    )?;
    Ok(())
}

/// Removes a client and its secret digest.
pub fn delete(conn: &Connection, client_id: &str) -> Result<(), ApiError> {
    conn.execute(
        "DELETE FROM oauth_clients WHERE client_id = ?1",
        [client_id],
    )?;
    Ok(())
}

/// Fails with 409 when another client has the same `external_id` in the same organization.
pub fn check_unique(conn: &Connection, candidate: &OAuthClient) -> Result<(), ApiError> {
    OAuthClientRecord::TABLE.check_external_id(
        conn,
        &candidate.client_id,
        candidate.external_id.as_deref(),
        candidate.organization_id.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Listing an organization and looking one up by `external_id` are index searches.
    #[test]
    fn query_plans() {
        crate::emulator::store::plan_check::assert_listings_search(
            "oauth_clients",
            FILTER_FIELDS,
            |f, k| table::page_query(&OAuthClientRecord::TABLE, f, k),
        );
    }
}
