//! What the tables have in common, written once and driven by a [`Table`] description: the
//! lookup by id, the list filter (`WHERE` clauses from AIP-160 terms), keyset pages, and the
//! uniqueness probes behind each 409.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, ToSql};

use crate::emulator::error::ApiError;
use crate::emulator::etag;
use crate::emulator::filter::{Filter, Op, Term};
use crate::emulator::paging::{self, Cursor, Keyset};

/// What the shared queries need to know about a table.
#[derive(Debug)]
pub struct Table {
    /// The SQL table.
    pub name: &'static str,
    /// What a row is, with its article, for messages (`an OAuth client`).
    pub what: &'static str,
    /// The column that identifies a row in the API (`id`, `client_id`).
    pub id: &'static str,
    /// `SELECT … FROM <name>`: the columns [`Stored::from_row`] reads.
    pub select: &'static str,
    /// Fields a list filter may name. Each is compared with the column of the same name,
    /// unless [`Table::folded`] names it.
    pub filter_fields: &'static [&'static str],
    /// Fields compared case-insensitively: the field and the column holding its lower-cased
    /// value.
    pub folded: &'static [(&'static str, &'static str)],
    /// The rows uniqueness applies to (`None`: all of them), e.g. live identities only.
    pub unique_among: Option<&'static str>,
}

impl Table {
    /// A table whose filter compares each field with the column of the same name and whose
    /// uniqueness rules apply to every row.
    pub const fn new(
        name: &'static str,
        what: &'static str,
        id: &'static str,
        select: &'static str,
        filter_fields: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            what,
            id,
            select,
            filter_fields,
            folded: &[],
            unique_among: None,
        }
    }
}

/// Reads the JSON column `index` of a row (the `data` column of a table).
pub fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A row type of a [`Table`].
pub trait Stored: Sized {
    /// Its table.
    const TABLE: Table;

    /// Reads a row of [`Table::select`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;

    /// The rowid, the keyset paging key.
    fn seq(&self) -> i64;
}

/// A row type whose changes are guarded by `If-Match`: its `ETag` follows its version, and
/// the API returns it with that `ETag` filled in.
pub trait Versioned: Stored {
    /// What the API calls it in a 404 or an `If-Match` 409 (`OAuth client`).
    const NOUN: &'static str;

    /// What the API returns for it.
    type Wire: serde::Serialize;

    /// Its API id and version, which its `ETag` is derived from.
    fn id_and_version(&self) -> (&str, i64);

    /// The current `ETag`.
    fn etag(&self) -> String {
        let (id, version) = self.id_and_version();
        etag::compute(id, version)
    }

    /// The object as the API returns it, `etag` filled in.
    fn into_wire(self) -> Self::Wire;
}

/// The row whose id column is `id`.
pub fn get<R: Stored>(conn: &Connection, id: &str) -> Result<Option<R>, ApiError> {
    let table = R::TABLE;
    Ok(conn
        .prepare_cached(&format!("{} WHERE {} = ?1", table.select, table.id))?
        .query_row([id], R::from_row)
        .optional()?)
}

/// One page of the rows matching `filter`, and the cursor of its last row when more follow.
pub fn list<R: Stored>(
    conn: &Connection,
    filter: &Filter,
    keyset: &Keyset,
) -> Result<(Vec<R>, Option<Cursor>), ApiError> {
    keyset_page(
        conn,
        page_query(&R::TABLE, filter, keyset)?,
        keyset,
        R::from_row,
        R::seq,
    )
}

/// The page query of `table`: up to one row more than the page (the extra one tells whether
/// another page follows) matching `filter`, after the keyset's cursor in its order.
pub fn page_query(
    table: &Table,
    filter: &Filter,
    keyset: &Keyset,
) -> Result<(String, Where), ApiError> {
    Ok(keyset_query(
        table.select,
        table.filter_clauses(filter)?,
        keyset,
    ))
}

impl Table {
    /// One clause per filter term, each comparing the field's column (see
    /// [`Table::folded`]).
    pub fn filter_clauses(&self, filter: &Filter) -> Result<Where, ApiError> {
        filter_where(filter, |term| {
            if let Some((_, column)) = self.folded.iter().find(|(f, _)| *f == term.field) {
                return Ok((*column, term.value.to_lowercase()));
            }
            match self.filter_fields.iter().find(|f| **f == term.field) {
                Some(column) => Ok((*column, term.value.clone())),
                None => Err(ApiError::field(
                    "filter",
                    format!("invalid filter: `{}` cannot be filtered on", term.field),
                )),
            }
        })
    }

    /// The probe for another row than `?1` (among [`Table::unique_among`]) matching
    /// `condition`, whose parameters are `?2`, `?3` …: a search of the unique index that
    /// backs the rule.
    pub fn taken_sql(&self, condition: &str) -> String {
        let among = self
            .unique_among
            .map(|c| format!("{c} AND "))
            .unwrap_or_default();
        format!(
            "SELECT 1 FROM {} WHERE {among}{} != ?1 AND {condition} LIMIT 1",
            self.name, self.id
        )
    }

    /// Fails with 409 (`details.field = field`) when another row than `id` matches
    /// `condition` (see [`Table::taken_sql`]) with `values`.
    pub fn check_unique(
        &self,
        conn: &Connection,
        id: &str,
        field: &str,
        condition: &str,
        values: &[&dyn ToSql],
    ) -> Result<(), ApiError> {
        let mut params: Vec<&dyn ToSql> = vec![&id];
        params.extend_from_slice(values);
        let taken = conn
            .prepare_cached(&self.taken_sql(condition))?
            .query_row(params.as_slice(), |_| Ok(()))
            .optional()?
            .is_some();
        if taken {
            let scope = if field == "external_id" {
                " in this organization"
            } else {
                ""
            };
            return Err(ApiError::duplicate(
                field,
                format!("{} with this {field} already exists{scope}", self.what),
            ));
        }
        Ok(())
    }

    /// The rule of every table that has an `external_id`: unique within its
    /// `organization_id` (no organization counts as one scope of its own).
    pub fn check_external_id(
        &self,
        conn: &Connection,
        id: &str,
        external_id: Option<&str>,
        organization_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(external_id) = external_id else {
            return Ok(());
        };
        self.check_unique(
            conn,
            id,
            "external_id",
            EXTERNAL_ID_KEY,
            &[&external_id, &organization_id.unwrap_or_default()],
        )
    }
}

/// The condition of the `external_id` rule: the full key of the `*_by_external_id` unique
/// indexes.
pub const EXTERNAL_ID_KEY: &str = "external_id = ?2 AND ifnull(organization_id, '') = ?3";

/// A SQL `WHERE` fragment and its parameters.
#[derive(Debug, Default)]
pub struct Where {
    clauses: Vec<String>,
    params: Vec<Value>,
}

impl Where {
    /// Adds `clause` with its parameters (`?` placeholders).
    pub fn push(&mut self, clause: impl Into<String>, params: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause.into());
        self.params.extend(params);
    }

    /// `WHERE a AND b …`, or nothing.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Value] {
        &self.params
    }
}

/// Adds one clause per filter term. `column` maps a term to its SQL column and the value to
/// compare (e.g. lower-cased), or refuses it. `!=` uses `IS NOT` so rows where the column is
/// NULL count as different.
///
/// Two details keep the tool's queries index searches that stay prepared (see [`super::SCHEMA`]
/// and the `query_plans` and `pages_reuse_their_prepared_statement` tests):
///
/// - A lookup by `external_id = v` and `organization_id = o` also gets
///   `ifnull(organization_id, '') = o`, which the organization term implies (so no result
///   changes): it is the second column of the `external_id` unique indexes, and with it the
///   lookup is a search on the full unique key, which the planner prefers over walking the
///   organization.
/// - `organization_id` values are bound as `CAST(? AS TEXT)` (they are text already, so
///   nothing changes). Deciding whether a partial index applies, SQLite looks at the value
///   bound to a bare `?` in some terms, and a statement whose parameter it looked at is
///   prepared again whenever a value is bound: for every page of a listing.
pub fn filter_where(
    filter: &Filter,
    column: impl Fn(&Term) -> Result<(&'static str, String), ApiError>,
) -> Result<Where, ApiError> {
    let by_external_id = filter
        .terms
        .iter()
        .any(|t| t.field == "external_id" && t.op == Op::Eq);
    let mut w = Where::default();
    for term in &filter.terms {
        let (col, value) = column(term)?;
        let op = match term.op {
            Op::Eq => "=",
            Op::Ne => "IS NOT",
        };
        if col == "organization_id" {
            if by_external_id && term.op == Op::Eq {
                w.push(
                    "ifnull(organization_id, '') = ?",
                    [Value::Text(value.clone())],
                );
            }
            w.push(format!("{col} {op} CAST(? AS TEXT)"), [Value::Text(value)]);
        } else {
            w.push(format!("{col} {op} ?"), [Value::Text(value)]);
        }
    }
    Ok(w)
}

/// The query of one keyset page: `select` (a table's `SELECT … FROM table`, with the sort
/// key column added before its last `FROM` when the order has one), `w` with the cursor
/// condition added, and the order and limit.
pub fn keyset_query(select: &str, mut w: Where, keyset: &Keyset) -> (String, Where) {
    let (tail, column) = keyset.apply(&mut w);
    let select = match column {
        Some(col) => {
            let at = select.rfind(" FROM ").unwrap_or(select.len());
            format!("{}, {col}{}", &select[..at], &select[at..])
        }
        None => select.to_string(),
    };
    (format!("{select} {} {tail}", w.sql()), w)
}

/// Runs a keyset page query (see [`keyset_query`]): the page's rows and, when another page
/// follows, the cursor of its last row. `seq` reads a row's rowid.
pub fn keyset_page<T>(
    conn: &Connection,
    (sql, w): (String, Where),
    keyset: &Keyset,
    from_row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    seq: impl Fn(&T) -> i64,
) -> Result<(Vec<T>, Option<Cursor>), ApiError> {
    let keyed = keyset.order.field.column.is_some();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(w.params()), |row| {
            let item = from_row(row)?;
            let key = if keyed {
                let last = row.as_ref().column_count() - 1;
                Some(row.get::<_, String>(last)?)
            } else {
                None
            };
            Ok((item, key))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let rows = rows
        .into_iter()
        .map(|(item, key)| {
            let seq = seq(&item);
            (item, Cursor { seq, key })
        })
        .collect();
    Ok(paging::split(rows, keyset.limit))
}
