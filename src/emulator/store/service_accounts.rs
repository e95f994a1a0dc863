//! The `service_accounts` and `service_account_keys` tables.
//!
//! A service account row keeps what is queried or unique (id, `external_id`, name, owner,
//! organization, version, times); `data` holds the description and metadata. Its API keys
//! are stored like the emulator's own keys ([`super::api_keys`]): only the SHA-256 digest of
//! the key, next to the record fields the API lists (prefix, name, scopes, expiry). A copied
//! database file therefore hands out no working key, and [`key_scopes`] is how a minted key
//! authenticates.
//!
//! Deleting a service account deletes its keys in the same transaction (documented: "revokes
//! all keys immediately"); deleting a key removes its row, so it stops working at once.
//! `external_id` is unique within its `organization_id`, like identities and clients.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::table::{self, Stored, Table, Versioned};
use super::{api_keys, now_rfc3339};
use crate::emulator::error::ApiError;
use crate::wire::{ApiKeyRecord, ServiceAccount, scopes};

/// Fields a list filter may name.
pub const FILTER_FIELDS: &[&str] = &["external_id", "name", "owner_id", "organization_id"];

const SELECT: &str = "SELECT seq, id, external_id, name, owner_id, organization_id, version, \
    data, create_time, update_time FROM service_accounts";

const SELECT_KEY: &str = "SELECT id, prefix, name, scopes, expire_time, create_time \
    FROM service_account_keys";

/// A stored service account: the wire shape (without a meaningful `etag`), its rowid,
/// version and last update time (kept for the record; the wire type has no field for it).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAccountRecord {
    /// Rowid, the keyset paging key.
    pub seq: i64,
    /// Bumped on every change; the ETag is derived from it.
    pub version: i64,
    /// Last update, RFC 3339.
    pub update_time: String,
    /// The service account.
    pub account: ServiceAccount,
}

impl Versioned for ServiceAccountRecord {
    const NOUN: &'static str = "service account";
    type Wire = ServiceAccount;

    fn id_and_version(&self) -> (&str, i64) {
        (&self.account.id, self.version)
    }

    fn into_wire(self) -> ServiceAccount {
        let etag = self.etag();
        ServiceAccount {
            etag,
            ..self.account
        }
    }
}

/// The fields kept as JSON in `data`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

impl Stored for ServiceAccountRecord {
    const TABLE: Table = Table::new(
        "service_accounts",
        "a service account",
        "id",
        SELECT,
        FILTER_FIELDS,
    );

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let data: Data = table::json_column(row, 7)?;
        Ok(ServiceAccountRecord {
            seq: row.get(0)?,
            version: row.get(6)?,
            update_time: row.get(9)?,
            account: ServiceAccount {
                id: row.get(1)?,
                name: row.get(3)?,
                description: data.description,
                owner_id: row.get(4)?,
                organization_id: row.get(5)?,
                // There is no deactivate call: a service account exists and is active, or is
                // deleted.
                active: true,
                external_id: row.get(2)?,
                metadata: data.metadata,
                create_time: row.get(8)?,
                etag: String::new(),
            },
        })
    }

    fn seq(&self) -> i64 {
        self.seq
    }
}

fn data_json(a: &ServiceAccount) -> Result<String, ApiError> {
    let data = Data {
        description: a.description.clone(),
        metadata: a.metadata.clone(),
    };
    serde_json::to_string(&data)
        .map_err(|e| ApiError::internal(format!("encoding a service account: {e}")))
}

/// The service account with this id.
pub fn get(conn: &Connection, id: &str) -> Result<Option<ServiceAccountRecord>, ApiError> {
    table::get(conn, id)
}

/// Inserts a new service account; returns its rowid.
pub fn insert(conn: &Connection, rec: &ServiceAccountRecord) -> Result<i64, ApiError> {
    let a = &rec.account;
    conn.execute(
        "INSERT INTO service_accounts (id, external_id, name, owner_id, organization_id,
             version, data, create_time, update_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            a.id,
            a.external_id,
            a.name,
            a.owner_id,
            a.organization_id,
            rec.version,
            data_json(a)?,
            a.create_time,
            rec.update_time,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes the mutable fields (name, description, metadata) of an existing service account.
pub fn update(conn: &Connection, rec: &ServiceAccountRecord) -> Result<(), ApiError> {
    let a = &rec.account;
    conn.execute(
        "UPDATE service_accounts SET name = ?2, version = ?3, data = ?4, update_time = ?5
         WHERE id = ?1",
        params![a.id, a.name, rec.version, data_json(a)?, rec.update_time],
    )?;
    Ok(())
}

/// Removes a service account and every key it has.
pub fn delete(conn: &Connection, id: &str) -> Result<(), ApiError> {
    conn.execute(
        "DELETE FROM service_account_keys WHERE service_account_id = ?1",
        [id],
    )?;
    conn.execute("DELETE FROM service_accounts WHERE id = ?1", [id])?;
    Ok(())
}

/// Fails with 409 when another service account has the same `external_id` in the same
/// organization.
pub fn check_unique(conn: &Connection, candidate: &ServiceAccount) -> Result<(), ApiError> {
    ServiceAccountRecord::TABLE.check_external_id(
        conn,
        &candidate.id,
        candidate.external_id.as_deref(),
        candidate.organization_id.as_deref(),
    )
}

// ----- API keys ---------------------------------------------------------------------------

/// True while a key with this expiry works. Expiries are stored in the same normalised
/// RFC 3339 form as [`now_rfc3339`] (UTC, milliseconds, `Z`), so they compare as strings.
fn unexpired(expire_time: Option<&str>, now: &str) -> bool {
    expire_time.is_none_or(|t| t > now)
}

fn key_from_row(row: &Row<'_>, now: &str) -> rusqlite::Result<ApiKeyRecord> {
    let scopes: String = row.get(3)?;
    let expire_time: Option<String> = row.get(4)?;
    Ok(ApiKeyRecord {
        id: row.get(0)?,
        prefix: row.get(1)?,
        name: row.get(2)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        active: unexpired(expire_time.as_deref(), now),
        expire_time,
        create_time: row.get(5)?,
    })
}

/// Stores a minted key: its record and the digest of the key itself.
pub fn insert_key(
    conn: &Connection,
    service_account_id: &str,
    record: &ApiKeyRecord,
    key: &str,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO service_account_keys (id, service_account_id, key_sha256, prefix, name,
             scopes, expire_time, create_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            record.id,
            service_account_id,
            api_keys::digest(key),
            record.prefix,
            record.name,
            record.scopes.join(" "),
            record.expire_time,
            record.create_time,
        ],
    )?;
    Ok(())
}

/// The keys of a service account, oldest first (records only: the keys are not stored).
pub fn list_keys(
    conn: &Connection,
    service_account_id: &str,
) -> Result<Vec<ApiKeyRecord>, ApiError> {
    let now = now_rfc3339();
    let mut stmt = conn.prepare(&format!(
        "{SELECT_KEY} WHERE service_account_id = ?1 ORDER BY seq"
    ))?;
    let keys = stmt
        .query_map([service_account_id], |r| key_from_row(r, &now))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

/// Revokes (removes) one key of a service account; false when it has no such key.
pub fn delete_key(
    conn: &Connection,
    service_account_id: &str,
    key_id: &str,
) -> Result<bool, ApiError> {
    let n = conn.execute(
        "DELETE FROM service_account_keys WHERE service_account_id = ?1 AND id = ?2",
        [service_account_id, key_id],
    )?;
    Ok(n > 0)
}

/// The scopes a presented key grants when it is a live, unexpired service-account key, or
/// `None`. A key minted with no scopes grants every scope (documented: empty means all).
pub fn key_scopes(conn: &Connection, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    let row: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT k.scopes, k.expire_time FROM service_account_keys k \
             JOIN service_accounts s ON s.id = k.service_account_id \
             WHERE k.key_sha256 = ?1",
            [api_keys::digest(key)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((granted, expire_time)) = row else {
        return Ok(None);
    };
    if !unexpired(expire_time.as_deref(), &now_rfc3339()) {
        return Ok(None);
    }
    let granted: Vec<String> = granted.split_whitespace().map(str::to_string).collect();
    Ok(Some(if granted.is_empty() {
        scopes::ALL.iter().map(|s| (*s).to_string()).collect()
    } else {
        granted
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_compares_normalised_times() {
        let now = "2030-01-01T00:00:00.000Z";
        assert!(unexpired(None, now));
        assert!(unexpired(Some("2030-01-01T00:00:00.001Z"), now));
        assert!(!unexpired(Some(now), now));
        assert!(!unexpired(Some("2029-12-31T23:59:59.999Z"), now));
    }

    /// Listing an organization and looking one up by `external_id` are index searches.
    #[test]
    fn query_plans() {
        crate::emulator::store::plan_check::assert_listings_search(
            "service_accounts",
            FILTER_FIELDS,
            |f, k| table::page_query(&ServiceAccountRecord::TABLE, f, k),
        );
    }
}
