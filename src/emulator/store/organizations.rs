//! The `organizations` table. `member_count` is not stored: it is counted from live
//! identities on every read, so it can never drift from the identities themselves.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::now_rfc3339;
use super::table::{self, Stored, Table};
use crate::emulator::error::ApiError;
use crate::wire::Organization;

/// Fields a list filter may name.
pub const FILTER_FIELDS: &[&str] = &["name", "slug"];

const SELECT: &str = "SELECT seq, id, name, display_name, slug, registration_mode, create_time, \
    (SELECT COUNT(*) FROM identities i WHERE i.organization_id = organizations.id \
     AND i.state != 'scheduled_deletion') \
    FROM organizations";

/// A stored organization and its rowid.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationRecord {
    /// Rowid, the keyset paging key.
    pub seq: i64,
    /// The organization as the API returns it.
    pub organization: Organization,
}

impl Stored for OrganizationRecord {
    const TABLE: Table = Table::new(
        "organizations",
        "an organization",
        "id",
        SELECT,
        FILTER_FIELDS,
    );

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let members: i64 = row.get(7)?;
        Ok(OrganizationRecord {
            seq: row.get(0)?,
            organization: Organization {
                id: row.get(1)?,
                name: row.get(2)?,
                display_name: row.get(3)?,
                slug: row.get(4)?,
                registration_mode: row.get(5)?,
                member_count: u64::try_from(members).unwrap_or(0),
                create_time: row.get(6)?,
            },
        })
    }

    fn seq(&self) -> i64 {
        self.seq
    }
}

/// The organization with this id.
pub fn get(conn: &Connection, id: &str) -> Result<Option<OrganizationRecord>, ApiError> {
    table::get(conn, id)
}

/// True when an organization with this id exists.
pub fn exists(conn: &Connection, id: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM organizations WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Fails with 409 when another organization has the same name or slug.
pub fn check_unique(conn: &Connection, org: &Organization) -> Result<(), ApiError> {
    let table = OrganizationRecord::TABLE;
    table.check_unique(conn, &org.id, "name", "name = ?2", &[&org.name])?;
    if let Some(slug) = &org.slug {
        table.check_unique(conn, &org.id, "slug", "slug = ?2", &[slug])?;
    }
    Ok(())
}

/// Inserts a new organization; returns its rowid.
pub fn insert(conn: &Connection, org: &Organization) -> Result<i64, ApiError> {
    conn.execute(
        "INSERT INTO organizations (id, name, slug, display_name, registration_mode,
             create_time, update_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            org.id,
            org.name,
            org.slug,
            org.display_name,
            org.registration_mode,
            org.create_time
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes the mutable fields of an existing organization.
pub fn update(conn: &Connection, org: &Organization) -> Result<(), ApiError> {
    conn.execute(
        "UPDATE organizations SET name = ?2, display_name = ?3, registration_mode = ?4,
             update_time = ?5
         WHERE id = ?1",
        params![
            org.id,
            org.name,
            org.display_name,
            org.registration_mode,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::plan_check::{plan, schema};

    /// `member_count` counts from an index alone, however many members there are.
    #[test]
    fn member_count_reads_a_covering_index() {
        let conn = schema();
        let plan = plan(
            &conn,
            &format!("{SELECT} WHERE id = ?1"),
            &[rusqlite::types::Value::Text("org_1".into())],
        );
        assert!(
            plan.contains("SEARCH i USING COVERING INDEX identities_org_state (organization_id=?)"),
            "{plan}"
        );
    }
}
