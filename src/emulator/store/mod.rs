//! The emulator's storage: one SQLite connection (a WAL-mode file or `:memory:`) behind a
//! std `Mutex`, and the schema, created with `CREATE … IF NOT EXISTS` on every start so a
//! restart on the same file keeps its data.
//!
//! Every request runs its SQL inside [`Store::read`] or [`Store::write`], which move the work
//! to tokio's blocking pool (SQLite calls block) and, for writes, wrap it in one `IMMEDIATE`
//! transaction that commits only when the closure succeeds. One writer at a time is what
//! makes the check-then-insert uniqueness and idempotency logic race-free.
//!
//! The submodules own one table each: [`identities`] (with [`credentials`] for password
//! material, kept out of the identity JSON), [`organizations`], [`api_keys`] (SHA-256
//! digests, never keys), [`idempotency`], [`flows`] (login flows and sessions),
//! [`oauth_clients`] (secrets as SHA-256 digests) and [`service_accounts`] (with their
//! minted API keys, also digests only).

pub mod api_keys;
pub mod credentials;
pub mod flows;
pub mod idempotency;
pub mod identities;
pub mod oauth_clients;
pub mod organizations;
pub mod service_accounts;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::config::DbLocation;
use super::error::ApiError;
use super::filter::{Filter, Op, Term};

/// The schema. `seq` columns are rowid aliases: `AUTOINCREMENT` keeps them increasing even
/// after deletes, which keyset paging relies on.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS organizations (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL UNIQUE,
    slug              TEXT UNIQUE,
    display_name      TEXT,
    registration_mode TEXT NOT NULL,
    create_time       TEXT NOT NULL,
    update_time       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    external_id     TEXT,
    email           TEXT NOT NULL,
    email_lower     TEXT NOT NULL,
    username        TEXT,
    username_lower  TEXT,
    organization_id TEXT,
    state           TEXT NOT NULL,
    version         INTEGER NOT NULL,
    data            TEXT NOT NULL,
    create_time     TEXT NOT NULL,
    update_time     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS identities_live_email
    ON identities (email_lower) WHERE state != 'scheduled_deletion';
CREATE UNIQUE INDEX IF NOT EXISTS identities_live_username
    ON identities (username_lower)
    WHERE username_lower IS NOT NULL AND state != 'scheduled_deletion';
CREATE UNIQUE INDEX IF NOT EXISTS identities_live_external_id
    ON identities (ifnull(organization_id, ''), external_id)
    WHERE external_id IS NOT NULL AND state != 'scheduled_deletion';
CREATE INDEX IF NOT EXISTS identities_org ON identities (organization_id);
CREATE TABLE IF NOT EXISTS credentials (
    identity_id TEXT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    algorithm   TEXT NOT NULL,
    material    TEXT NOT NULL,
    update_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_sha256  TEXT PRIMARY KEY,
    scopes      TEXT NOT NULL,
    create_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    route          TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status         INTEGER NOT NULL,
    body           TEXT NOT NULL,
    etag           TEXT,
    create_time    TEXT NOT NULL,
    PRIMARY KEY (route, key)
);
CREATE TABLE IF NOT EXISTS login_flows (
    id          TEXT PRIMARY KEY,
    expire_unix INTEGER NOT NULL,
    create_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL,
    create_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_clients (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id            TEXT NOT NULL UNIQUE,
    external_id          TEXT,
    client_name          TEXT NOT NULL,
    client_type          TEXT NOT NULL,
    organization_id      TEXT,
    client_secret_sha256 TEXT,
    version              INTEGER NOT NULL,
    data                 TEXT NOT NULL,
    create_time          TEXT NOT NULL,
    update_time          TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS oauth_clients_external_id
    ON oauth_clients (ifnull(organization_id, ''), external_id)
    WHERE external_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS service_accounts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    external_id     TEXT,
    name            TEXT NOT NULL,
    owner_id        TEXT NOT NULL,
    organization_id TEXT,
    version         INTEGER NOT NULL,
    data            TEXT NOT NULL,
    create_time     TEXT NOT NULL,
    update_time     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS service_accounts_external_id
    ON service_accounts (ifnull(organization_id, ''), external_id)
    WHERE external_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS service_account_keys (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    key_sha256         TEXT NOT NULL UNIQUE,
    prefix             TEXT NOT NULL,
    name               TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    expire_time        TEXT,
    create_time        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS service_account_keys_owner
    ON service_account_keys (service_account_id);
"#;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or configured.
    #[error("cannot open the emulator database `{path}`")]
    Open {
        /// The file (or `:memory:`).
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The schema could not be created.
    #[error("cannot create the emulator schema")]
    Schema(#[source] rusqlite::Error),
}

/// The database handle, cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if needed) the database and its schema.
    pub fn open(location: &DbLocation) -> Result<Self, StoreError> {
        let (conn, path) = match location {
            DbLocation::File(path) => (Connection::open(path), path.clone()),
            DbLocation::Memory => (Connection::open_in_memory(), PathBuf::from(":memory:")),
        };
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let conn = conn.map_err(open_err)?;
        if matches!(location, DbLocation::File(_)) {
            // WAL lets test code read the file (read-only) while the emulator writes.
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(open_err)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(open_err)?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(StoreError::Schema)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Locks the connection. A panic while it was held cannot have left a transaction open
    /// (a dropped `Transaction` rolls back), so a poisoned lock is safe to take over.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` synchronously on the connection (start-up work, outside any request).
    pub fn blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, rusqlite::Error> {
        f(&mut self.lock())
    }

    /// Runs read-only work on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store.lock()))
            .await
            .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
    }

    /// Runs `f` in one `IMMEDIATE` transaction on the blocking pool; commits if it returns
    /// `Ok`, rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = store.lock();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
    }
}

/// Now, RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

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
pub fn filter_where(
    filter: &Filter,
    column: impl Fn(&Term) -> Result<(&'static str, String), ApiError>,
) -> Result<Where, ApiError> {
    let mut w = Where::default();
    for term in &filter.terms {
        let (col, value) = column(term)?;
        let op = match term.op {
            Op::Eq => "=",
            Op::Ne => "IS NOT",
        };
        w.push(format!("{col} {op} ?"), [Value::Text(value)]);
    }
    Ok(w)
}

/// Splits a keyset query's rows (fetched with `LIMIT limit + 1`) into the page and, when
/// another page follows, the `seq` of the page's last row.
pub fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    seq: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<i64>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let last = rows.last().map(seq);
        (rows, last)
    } else {
        (rows, None)
    }
}
