//! The `identities` table. Columns hold what is queried (ids, email, username, organization,
//! state, version, times); `data` holds the JSON of the remaining profile fields. Password
//! material is in [`super::credentials`], never read here; the `has_password` column says
//! whether there is any ([`super::credentials::set`] raises it).
//!
//! Uniqueness rules (checked here with precise error details, and backed by partial unique
//! indexes): among identities that are not soft-deleted, email and username are unique
//! case-insensitively across the tenant, and `external_id` is unique within its
//! `organization_id` (no organization counts as one scope of its own).

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::table::{self, Stored, Table, Versioned, Where, keyset_page, keyset_query};
use crate::emulator::error::ApiError;
use crate::emulator::filter::Filter;
use crate::emulator::paging::{CREATE_TIME, Cursor, Keyset, SortField};
use crate::wire::{Identity, IdentityState, LinkedProvider};

/// Fields a list filter may name.
pub const FILTER_FIELDS: &[&str] = &[
    "email",
    "external_id",
    "state",
    "organization_id",
    "username",
];

const SELECT: &str = "SELECT seq, id, external_id, email, username, organization_id, state, \
    version, data, create_time, update_time, has_password, last_login_at FROM identities";

/// Orders a listing accepts (documented values): creation, last update, email
/// (case-insensitively) and last login (identities that never logged in first).
pub const SORT_FIELDS: &[SortField] = &[
    CREATE_TIME,
    SortField {
        name: "update_time",
        column: Some("update_time"),
    },
    SortField {
        name: "email",
        column: Some("email_lower"),
    },
    SortField {
        name: "last_login_at",
        column: Some("ifnull(last_login_at, '')"),
    },
];

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

impl Versioned for IdentityRecord {
    const NOUN: &'static str = "identity";
    type Wire = Identity;

    fn id_and_version(&self) -> (&str, i64) {
        (&self.identity.id, self.version)
    }

    fn into_wire(self) -> Identity {
        let etag = self.etag();
        Identity {
            etag,
            ..self.identity
        }
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
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

/// The identities that are not soft-deleted.
const LIVE: &str = "state != 'scheduled_deletion'";

impl Stored for IdentityRecord {
    const TABLE: Table = Table {
        folded: &[("email", "email_lower"), ("username", "username_lower")],
        unique_among: Some(LIVE),
        ..Table::new("identities", "an identity", "id", SELECT, FILTER_FIELDS)
    };

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let data: Data = table::json_column(row, 8)?;
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
                timezone: data.timezone,
                organization_id: row.get(5)?,
                state,
                traits: data.traits,
                admin_metadata: data.admin_metadata,
                linked_providers: Some(data.linked_providers),
                has_password: row.get(11)?,
                create_time: row.get(9)?,
                update_time: row.get(10)?,
                last_login_at: row.get(12)?,
                etag: String::new(),
            },
        })
    }

    fn seq(&self) -> i64 {
        self.seq
    }
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
        timezone: i.timezone.clone(),
        traits: i.traits.clone(),
        admin_metadata: i.admin_metadata.clone(),
        linked_providers: i.linked_providers.clone().unwrap_or_default(),
    };
    serde_json::to_string(&data)
        .map_err(|e| ApiError::internal(format!("encoding an identity: {e}")))
}

/// The identity with this id, soft-deleted or not.
pub fn get(conn: &Connection, id: &str) -> Result<Option<IdentityRecord>, ApiError> {
    table::get(conn, id)
}

/// The values of the columns both [`insert`] and [`update`] write, `?1` to `?10`: the id,
/// then what a change can touch.
fn written_columns(rec: &IdentityRecord) -> Result<[SqlValue; 10], ApiError> {
    let i = &rec.identity;
    Ok([
        SqlValue::from(i.id.clone()),
        SqlValue::from(i.external_id.clone()),
        SqlValue::from(i.email.clone()),
        SqlValue::from(i.email.to_lowercase()),
        SqlValue::from(i.username.clone()),
        SqlValue::from(i.username.as_ref().map(|u| u.to_lowercase())),
        SqlValue::from(i.organization_id.clone()),
        SqlValue::from(i.state.as_str().to_owned()),
        SqlValue::from(rec.version),
        SqlValue::from(data_json(i)?),
    ])
}

/// Inserts a new identity (version as given) and returns its rowid.
pub fn insert(conn: &Connection, rec: &IdentityRecord) -> Result<i64, ApiError> {
    let i = &rec.identity;
    conn.prepare_cached(
        "INSERT INTO identities (id, external_id, email, email_lower, username, username_lower,
             organization_id, state, version, data, create_time, update_time, has_password)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params_from_iter(written_columns(rec)?.into_iter().chain([
        SqlValue::from(i.create_time.clone()),
        SqlValue::from(i.update_time.clone()),
        SqlValue::from(i.has_password),
    ])))?;
    Ok(conn.last_insert_rowid())
}

/// Writes every field of an existing identity (matched by id).
pub fn update(conn: &Connection, rec: &IdentityRecord) -> Result<(), ApiError> {
    let i = &rec.identity;
    conn.prepare_cached(
        "UPDATE identities SET external_id = ?2, email = ?3, email_lower = ?4, username = ?5,
             username_lower = ?6, organization_id = ?7, state = ?8, version = ?9, data = ?10,
             update_time = ?11
         WHERE id = ?1",
    )?
    .execute(params_from_iter(
        written_columns(rec)?
            .into_iter()
            .chain([SqlValue::from(i.update_time.clone())]),
    ))?;
    Ok(())
}

/// Removes an identity, its password material and its sessions.
pub fn delete(conn: &Connection, id: &str) -> Result<(), ApiError> {
    conn.execute("DELETE FROM credentials WHERE identity_id = ?1", [id])?;
    conn.execute("DELETE FROM sessions WHERE identity_id = ?1", [id])?;
    conn.execute("DELETE FROM identities WHERE id = ?1", [id])?;
    Ok(())
}

/// The conditions of the uniqueness rules on email and username (the `external_id` rule is
/// [`table::EXTERNAL_ID_KEY`]), each backed by a partial unique index.
const EMAIL_KEY: &str = "email_lower = ?2";
const USERNAME_KEY: &str = "username_lower = ?2";

/// Fails with 409 when `candidate` would collide with another live identity. A candidate
/// that is itself soft-deleted collides with nothing. Without `unique_external_id`
/// (`--no-unique-external-id`) a shared `external_id` is no collision.
pub fn check_unique(
    conn: &Connection,
    candidate: &Identity,
    unique_external_id: bool,
) -> Result<(), ApiError> {
    if candidate.state == IdentityState::ScheduledDeletion {
        return Ok(());
    }
    let table = IdentityRecord::TABLE;
    let id = &candidate.id;
    table.check_unique(
        conn,
        id,
        "email",
        EMAIL_KEY,
        &[&candidate.email.to_lowercase()],
    )?;
    if let Some(username) = &candidate.username {
        table.check_unique(
            conn,
            id,
            "username",
            USERNAME_KEY,
            &[&username.to_lowercase()],
        )?;
    }
    if unique_external_id {
        table.check_external_id(
            conn,
            id,
            candidate.external_id.as_deref(),
            candidate.organization_id.as_deref(),
        )?;
    }
    Ok(())
}

fn filter_clauses(filter: &Filter) -> Result<Where, ApiError> {
    if let Some(term) = filter
        .terms
        .iter()
        .find(|t| t.field == "state" && parse_state(&t.value).is_none())
    {
        return Err(ApiError::field(
            "filter",
            format!(
                "invalid filter: state must be `active`, `inactive` or `scheduled_deletion`, \
                 not `{}`",
                term.value
            ),
        ));
    }
    let mut w = IdentityRecord::TABLE.filter_clauses(filter)?;
    // Soft-deleted identities are out of sight unless the caller asks about state.
    if !filter.names("state") {
        w.push(LIVE, []);
    }
    Ok(w)
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    /// The rows, in the keyset's order.
    pub items: Vec<IdentityRecord>,
    /// The cursor of the last row when more rows follow.
    pub more: Option<Cursor>,
    /// How many rows match the filter in total: on the first page only (see [`list`]).
    pub total: Option<u64>,
}

/// The page query: up to one row more than the page (the extra one tells whether another
/// page follows) matching `filter`, after the keyset's cursor in its order.
fn page_query(filter: &Filter, keyset: &Keyset) -> Result<(String, Where), ApiError> {
    Ok(keyset_query(SELECT, filter_clauses(filter)?, keyset))
}

/// The count of every row matching `filter`.
fn count_query(filter: &Filter) -> Result<(String, Where), ApiError> {
    let w = filter_clauses(filter)?;
    Ok((format!("SELECT COUNT(*) FROM identities {}", w.sql()), w))
}

/// One page of identities matching `filter`.
///
/// A page in creation order costs O(page size): the rows come from an index search (see
/// the schema). Other orders sort what the filter matches. Counting every match costs
/// O(matches), so `total` is computed for the first page only; a full listing then pays for
/// one count instead of one per page, which made listing a million identities quadratic.
pub fn list(conn: &Connection, filter: &Filter, keyset: &Keyset) -> Result<Page, ApiError> {
    let (items, more) = keyset_page(
        conn,
        page_query(filter, keyset)?,
        keyset,
        IdentityRecord::from_row,
        IdentityRecord::seq,
    )?;
    let total = if keyset.is_first_page() {
        let (sql, w) = count_query(filter)?;
        let n: i64 = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(w.params()), |r| r.get(0))?;
        Some(u64::try_from(n).unwrap_or(0))
    } else {
        None
    };
    Ok(Page { items, more, total })
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
            IdentityRecord::from_row,
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

#[cfg(test)]
mod tests {
    use rusqlite::types::Value;

    use super::*;
    use crate::emulator::filter;
    use crate::emulator::paging::{Cursor, Order};
    use crate::emulator::store::plan_check::{assert_searches, creation_keysets, schema};

    fn text(v: &str) -> Value {
        Value::Text(v.to_string())
    }

    /// The filters the tool sends, page by page and counted: each an index search.
    #[test]
    fn query_plans() {
        let conn = schema();
        // (filter, index of the page, whether a page may sort its rows (only when few can
        // match), index of the count)
        let cases = [
            (
                r#"organization_id = "org_1""#,
                "identities_live_org",
                false,
                // Covering: counting a million members reads no table row.
                "identities_org_state",
            ),
            (
                r#"external_id = "auth0|1" AND organization_id = "org_1""#,
                "identities_live_by_external_id",
                false,
                "identities_live_by_external_id",
            ),
            (
                r#"external_id = "auth0|1""#,
                "identities_live_by_external_id",
                true,
                "identities_live_by_external_id",
            ),
            (
                r#"email = "A@example.com""#,
                "identities_live_email",
                false,
                "identities_live_email",
            ),
            (
                r#"state = "active" AND organization_id = "org_1""#,
                "identities_org_state",
                false,
                "identities_org_state",
            ),
        ];
        for (text_filter, index, may_sort, count_index) in cases {
            let f = filter::parse(text_filter, FILTER_FIELDS).unwrap();
            for keyset in creation_keysets() {
                let (sql, w) = page_query(&f, &keyset).unwrap();
                assert_searches(&conn, &sql, w.params(), "identities", index, may_sort);
            }
            let (sql, w) = count_query(&f).unwrap();
            assert_searches(&conn, &sql, w.params(), "identities", count_index, false);
        }
        let taken = |condition| IdentityRecord::TABLE.taken_sql(condition);
        for (sql, params, index) in [
            (
                taken(EMAIL_KEY),
                vec![text("usr_1"), text("a@x")],
                "identities_live_email",
            ),
            (
                taken(USERNAME_KEY),
                vec![text("usr_1"), text("a")],
                "identities_live_username",
            ),
            (
                taken(table::EXTERNAL_ID_KEY),
                vec![text("usr_1"), text("e"), text("org_1")],
                "identities_live_by_external_id",
            ),
        ] {
            assert_searches(&conn, &sql, &params, "identities", index, false);
        }
    }

    /// Paging binds new values into the same prepared statement; nothing in the page
    /// query may make SQLite prepare it again for each page (see [`table::filter_where`]).
    #[test]
    fn pages_reuse_their_prepared_statement() {
        let conn = schema();
        let f = filter::parse(r#"organization_id = "org_1""#, FILTER_FIELDS).unwrap();
        let mut last = None;
        for after in [None, Some(300), Some(200), Some(100)] {
            let keyset = Keyset {
                order: Order::DEFAULT,
                after: after.map(|seq| Cursor { seq, key: None }),
                limit: 100,
            };
            let (sql, w) = page_query(&f, &keyset).unwrap();
            let mut stmt = conn.prepare_cached(&sql).unwrap();
            stmt.query_map(params_from_iter(w.params()), |_| Ok(()))
                .unwrap()
                .for_each(drop);
            last = Some(stmt.get_status(rusqlite::StatementStatus::RePrepare));
        }
        assert_eq!(last, Some(0));
    }
}
