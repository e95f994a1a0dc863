//! Query-plan checks shared by the tables' tests: a page or a lookup must be an index
//! search, never a scan of the table nor a sort of everything that matched.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

/// An empty in-memory database with the schema.
pub fn schema() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(super::SCHEMA).unwrap();
    conn
}

/// The `EXPLAIN QUERY PLAN` details of `sql`, joined with `; `.
pub fn plan(conn: &Connection, sql: &str, params: &[Value]) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .join("; ")
}

/// Asserts that `sql` searches `table` with `index` and neither scans it nor (unless
/// `may_sort`, for lookups whose matches are few by construction) sorts.
pub fn assert_searches(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    table: &str,
    index: &str,
    may_sort: bool,
) {
    let plan = plan(conn, sql, params);
    assert!(
        plan.contains(&format!("SEARCH {table} USING INDEX {index} "))
            || plan.contains(&format!("SEARCH {table} USING COVERING INDEX {index} ")),
        "expected a search of {table} with {index}:\n{sql}\n{plan}"
    );
    assert!(!plan.contains("SCAN"), "scan in:\n{sql}\n{plan}");
    assert!(
        may_sort || !plan.contains("TEMP B-TREE"),
        "sort in:\n{sql}\n{plan}"
    );
}

/// The page query of a table's listing.
pub type PageQuery = fn(
    &crate::emulator::filter::Filter,
    &crate::emulator::paging::Keyset,
) -> Result<(String, super::Where), crate::emulator::error::ApiError>;

/// Keysets in both creation orders, on the first page and deep into a listing.
pub fn creation_keysets() -> Vec<crate::emulator::paging::Keyset> {
    use crate::emulator::paging::{CREATE_TIME, Cursor, Keyset, Order};
    let mut out = Vec::new();
    for desc in [false, true] {
        for after in [None, Some(500_000)] {
            out.push(Keyset {
                order: Order {
                    field: CREATE_TIME,
                    desc,
                },
                after: after.map(|seq| Cursor { seq, key: None }),
                limit: 100,
            });
        }
    }
    out
}

/// Asserts that listing an organization and looking one up by `external_id` in it are
/// searches of `table` with its `{table}_org` and `{table}_by_external_id` indexes, on the
/// first page and deep into a listing.
pub fn assert_listings_search(table: &str, fields: &[&str], page_query: PageQuery) {
    let conn = schema();
    for (text_filter, index) in [
        (r#"organization_id = "org_1""#, format!("{table}_org")),
        (
            r#"external_id = "e" AND organization_id = "org_1""#,
            format!("{table}_by_external_id"),
        ),
    ] {
        let f = crate::emulator::filter::parse(text_filter, fields).unwrap();
        for keyset in creation_keysets() {
            let (sql, w) = page_query(&f, &keyset).unwrap();
            assert_searches(&conn, &sql, w.params(), table, &index, false);
        }
    }
}
