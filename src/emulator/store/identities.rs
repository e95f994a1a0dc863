//! The `identities` table. Columns hold what is queried (ids, email, username, organization,
//! state, version, times); `data` holds the JSON of the remaining profile fields. Password
//! material is in [`super::credentials`]; only an `EXISTS` of it is read here, to fill
//! `has_password`.
//!
//! Uniqueness rules (checked here with precise error details, and backed by partial unique
//! indexes): among identities that are not soft-deleted, email and username are unique
//! case-insensitively across the tenant, and `external_id` is unique within its
//! `organization_id` (no organization counts as one scope of its own).

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Where, filter_where};
use crate::emulator::error::ApiError;
use crate::emulator::etag;
use crate::emulator::filter::Filter;
use crate::live::wire::{Identity, IdentityState, LinkedProvider};

/// Fields a list filter may name.
pub const FILTER_FIELDS: &[&str] = &[
    "email",
    "external_id",
    "state",
    "organization_id",
    "username",
];

const SELECT: &str = "SELECT seq, id, external_id, email, username, organization_id, state, \
    version, data, create_time, update_time, \
    EXISTS (SELECT 1 FROM credentials c WHERE c.identity_id = identities.id) \
    FROM identities";

/// A stored identity: the wire shape (without a meaningful `etag`) plus its rowid and
/// version.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    /// Rowid, the keyset paging key.
    pub seq: i64,
    /// Bumped on every change; the ETag is derived from it.
    pub version: i64,
    /// The identity.
    pub identity: Identity,
}

impl IdentityRecord {
    /// The current ETag.
    pub fn etag(&self) -> String {
        etag::compute(&self.identity.id, self.version)
    }

    /// The identity as the API returns it, `etag` filled in.
    pub fn to_wire(&self) -> Identity {
        let mut out = self.identity.clone();
        out.etag = self.etag();
        out
    }
}

/// The profile fields kept as JSON in `data`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    #[serde(default)]
    email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    #[serde(default)]
    traits: Map<String, Value>,
    #[serde(default)]
    admin_metadata: Map<String, Value>,
    #[serde(default)]
    linked_providers: Vec<LinkedProvider>,
}

/// Parses a stored or filtered state name.
pub fn parse_state(s: &str) -> Option<IdentityState> {
    [
        IdentityState::Active,
        IdentityState::Inactive,
        IdentityState::ScheduledDeletion,
    ]
    .into_iter()
    .find(|st| st.as_str() == s)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<IdentityRecord> {
    let data_text: String = row.get(8)?;
    let data: Data = serde_json::from_str(&data_text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let state_text: String = row.get(6)?;
    let state = parse_state(&state_text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            6,
            rusqlite::types::Type::Text,
            format!("unknown state `{state_text}`").into(),
        )
    })?;
    Ok(IdentityRecord {
        seq: row.get(0)?,
        version: row.get(7)?,
        identity: Identity {
            id: row.get(1)?,
            external_id: row.get(2)?,
            email: row.get(3)?,
            email_verified: data.email_verified,
            phone: data.phone,
            phone_verified: data.phone_verified,
            username: row.get(4)?,
            first_name: data.first_name,
            last_name: data.last_name,
            display_name: data.display_name,
            avatar_url: data.avatar_url,
            locale: data.locale,
            organization_id: row.get(5)?,
            state,
            traits: data.traits,
            admin_metadata: data.admin_metadata,
            linked_providers: data.linked_providers,
            has_password: row.get(11)?,
            create_time: row.get(9)?,
            update_time: row.get(10)?,
            etag: String::new(),
        },
    })
}

fn data_json(i: &Identity) -> Result<String, ApiError> {
    let data = Data {
        email_verified: i.email_verified,
        phone: i.phone.clone(),
        phone_verified: i.phone_verified,
        first_name: i.first_name.clone(),
        last_name: i.last_name.clone(),
        display_name: i.display_name.clone(),
        avatar_url: i.avatar_url.clone(),
        locale: i.locale.clone(),
        traits: i.traits.clone(),
        admin_metadata: i.admin_metadata.clone(),
        linked_providers: i.linked_providers.clone(),
    };
    serde_json::to_string(&data)
        .map_err(|e| ApiError::internal(format!("encoding an identity: {e}")))
}

/// The identity with this id, soft-deleted or not.
pub fn get(conn: &Connection, id: &str) -> Result<Option<IdentityRecord>, ApiError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()?)
}

/// Inserts a new identity (version as given) and returns its rowid.
pub fn insert(conn: &Connection, rec: &IdentityRecord) -> Result<i64, ApiError> {
    let i = &rec.identity;
    conn.execute(
        "INSERT INTO identities (id, external_id, email, email_lower, username, username_lower,
             organization_id, state, version, data, create_time, update_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            i.id,
            i.external_id,
            i.email,
            i.email.to_lowercase(),
            i.username,
            i.username.as_ref().map(|u| u.to_lowercase()),
            i.organization_id,
            i.state.as_str(),
            rec.version,
            data_json(i)?,
            i.create_time,
            i.update_time,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes every field of an existing identity (matched by id).
pub fn update(conn: &Connection, rec: &IdentityRecord) -> Result<(), ApiError> {
    let i = &rec.identity;
    conn.execute(
        "UPDATE identities SET external_id = ?2, email = ?3, email_lower = ?4, username = ?5,
             username_lower = ?6, organization_id = ?7, state = ?8, version = ?9, data = ?10,
             update_time = ?11
         WHERE id = ?1",
        params![
            i.id,
            i.external_id,
            i.email,
            i.email.to_lowercase(),
            i.username,
            i.username.as_ref().map(|u| u.to_lowercase()),
            i.organization_id,
            i.state.as_str(),
            rec.version,
            data_json(i)?,
            i.update_time,
        ],
    )?;
    Ok(())
}

/// Removes an identity, its password material and its sessions.
pub fn delete(conn: &Connection, id: &str) -> Result<(), ApiError> {
    conn.execute("DELETE FROM credentials WHERE identity_id = ?1", [id])?;
    conn.execute("DELETE FROM sessions WHERE identity_id = ?1", [id])?;
    conn.execute("DELETE FROM identities WHERE id = ?1", [id])?;
    Ok(())
}

/// Fails with 409 when `candidate` would collide with another live identity. A candidate
/// that is itself soft-deleted collides with nothing.
pub fn check_unique(conn: &Connection, candidate: &Identity) -> Result<(), ApiError> {
    if candidate.state == IdentityState::ScheduledDeletion {
        return Ok(());
    }
    // Another live identity (`?1` is the candidate's own id) matching the condition.
    let taken = |condition: &str, params: &[&dyn rusqlite::ToSql]| -> Result<bool, ApiError> {
        let sql = format!(
            "SELECT 1 FROM identities \
             WHERE state != 'scheduled_deletion' AND id != ?1 AND {condition} LIMIT 1"
        );
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&candidate.id];
        all.extend_from_slice(params);
        Ok(conn
            .query_row(&sql, all.as_slice(), |_| Ok(()))
            .optional()?
            .is_some())
    };
    if taken("email_lower = ?2", &[&candidate.email.to_lowercase()])? {
        return Err(ApiError::duplicate(
            "email",
            "an identity with this email already exists",
        ));
    }
    if let Some(username) = &candidate.username
        && taken("username_lower = ?2", &[&username.to_lowercase()])?
    {
        return Err(ApiError::duplicate(
            "username",
            "an identity with this username already exists",
        ));
    }
    if let Some(external_id) = &candidate.external_id {
        let org = candidate.organization_id.clone().unwrap_or_default();
        if taken(
            "external_id = ?2 AND ifnull(organization_id, '') = ?3",
            &[external_id, &org],
        )? {
            return Err(ApiError::duplicate(
                "external_id",
                "an identity with this external_id already exists in this organization",
            ));
        }
    }
    Ok(())
}

fn filter_clauses(filter: &Filter) -> Result<Where, ApiError> {
    let mut w = filter_where(filter, |term| {
        Ok(match term.field.as_str() {
            "email" => ("email_lower", term.value.to_lowercase()),
            "username" => ("username_lower", term.value.to_lowercase()),
            "external_id" => ("external_id", term.value.clone()),
            "organization_id" => ("organization_id", term.value.clone()),
            "state" => {
                if parse_state(&term.value).is_none() {
                    return Err(ApiError::field(
                        "filter",
                        format!(
                            "invalid filter: state must be `active`, `inactive` or \
                             `scheduled_deletion`, not `{}`",
                            term.value
                        ),
                    ));
                }
                ("state", term.value.clone())
            }
            other => {
                return Err(ApiError::field(
                    "filter",
                    format!("invalid filter: `{other}` cannot be filtered on"),
                ));
            }
        })
    })?;
    // Soft-deleted identities are out of sight unless the caller asks about state.
    if !filter.names("state") {
        w.push("state != 'scheduled_deletion'", []);
    }
    Ok(w)
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    /// The rows, in rowid order.
    pub items: Vec<IdentityRecord>,
    /// The rowid of the last row when more rows follow.
    pub more_after: Option<i64>,
    /// How many rows match the filter in total.
    pub total: u64,
}

/// Up to `limit` identities matching `filter` with rowid above `after`.
pub fn list(conn: &Connection, filter: &Filter, after: i64, limit: u32) -> Result<Page, ApiError> {
    let w = filter_clauses(filter)?;
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM identities {}", w.sql()),
        params_from_iter(w.params()),
        |r| r.get(0),
    )?;
    let mut paged = filter_clauses(filter)?;
    paged.push("seq > ?", [rusqlite::types::Value::Integer(after)]);
    // Fetch one extra row to learn whether another page follows.
    let sql = format!(
        "{SELECT} {} ORDER BY seq LIMIT {}",
        paged.sql(),
        u64::from(limit) + 1
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut items = stmt
        .query_map(params_from_iter(paged.params()), from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more_after = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page {
        items,
        more_after,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// The live (not soft-deleted) identity an end user named at login: by email
/// (case-insensitive) or by username.
pub fn find_for_login(
    conn: &Connection,
    identifier: &str,
) -> Result<Option<IdentityRecord>, ApiError> {
    let needle = identifier.trim().to_lowercase();
    Ok(conn
        .query_row(
            &format!(
                "{SELECT} WHERE state != 'scheduled_deletion' \
                 AND (email_lower = ?1 OR username_lower = ?1) ORDER BY seq LIMIT 1"
            ),
            [needle],
            from_row,
        )
        .optional()?)
}

/// Live identities in an organization.
pub fn count_members(conn: &Connection, organization_id: &str) -> Result<u64, ApiError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM identities WHERE organization_id = ?1 \
         AND state != 'scheduled_deletion'",
        [organization_id],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}
