//! The emulator's storage: a SQLite database (a WAL-mode file or `:memory:`) and its
//! schema, created with `CREATE … IF NOT EXISTS` on every start so a restart on the same
//! file keeps its data.
//!
//! Every request runs its SQL inside [`Store::read`] or [`Store::write`]. Writes go to one
//! thread that owns the only read-write connection and runs them one at a time, in arrival
//! order, each committed only when its closure succeeds; one writer is what makes the
//! check-then-insert uniqueness and idempotency logic race-free, and the [`writer`] thread
//! lets concurrent writes share a commit. Reads of a file database run on tokio's blocking
//! pool (SQLite calls block) on their own connections, which WAL lets read the last commit
//! while the writer works; an in-memory database has one connection, so its reads queue on
//! the writer thread too.
//!
//! The submodules own one table each: [`identities`] (with [`credentials`] for password
//! material, kept out of the identity JSON), [`organizations`], [`api_keys`] (SHA-256
//! digests, never keys), [`idempotency`], [`flows`] (login flows and sessions),
//! [`oauth_clients`] (secrets as SHA-256 digests) and [`service_accounts`] (with their
//! minted API keys, also digests only). [`table`] holds what the tables share: lookups,
//! list filters and keyset pages, and uniqueness probes.

pub mod api_keys;
pub mod create_log;
pub mod credentials;
pub mod flows;
pub mod idempotency;
pub mod identities;
pub mod oauth_clients;
pub mod organizations;
pub mod service_accounts;
pub mod table;
mod writer;

#[cfg(test)]
pub(crate) mod plan_check;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

pub use table::Where;

use super::config::DbLocation;
use super::error::ApiError;
use writer::Job;

/// The schema. `seq` columns are rowid aliases: `AUTOINCREMENT` keeps them increasing even
/// after deletes, which keyset paging relies on.
///
/// Every list page and every uniqueness check must be an index search, whatever the table
/// size (a rehearsal holds millions of identities):
///
/// - A plain index on `organization_id` is, in SQLite, an index on `(organization_id,
///   rowid)`, so `organization_id = ? AND seq > ? ORDER BY seq LIMIT n` reads exactly the
///   page. `identities_live_org` is that for live identities only (the listing the tool
///   makes). `identities_org_state`, `(organization_id, state, rowid)`, serves filters
///   that name `state` and covers counting an organization's live members (the first
///   page's `total_size`, `member_count`) without reading table rows. Both grow at their
///   right edge while an organization fills up, so they cost a create little.
/// - The `external_id` unique indexes lead with `external_id`, so a filter on it alone is a
///   search too; [`table::filter_where`] adds a redundant `ifnull(organization_id, '')` term that
///   lets a lookup by `external_id` and organization use the whole unique key, which the
///   query planner then prefers to paging through the organization. (They replace the
///   earlier organization-first indexes, dropped below.)
///
/// The plans are checked by the `query_plans` tests beside each table.
const SCHEMA: &str = r"
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
    update_time     TEXT NOT NULL,
    has_password    INTEGER NOT NULL DEFAULT 0,
    last_login_at   TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS identities_live_email
    ON identities (email_lower) WHERE state != 'scheduled_deletion';
CREATE UNIQUE INDEX IF NOT EXISTS identities_live_username
    ON identities (username_lower)
    WHERE username_lower IS NOT NULL AND state != 'scheduled_deletion';
CREATE UNIQUE INDEX IF NOT EXISTS identities_live_by_external_id
    ON identities (external_id, ifnull(organization_id, ''))
    WHERE external_id IS NOT NULL AND state != 'scheduled_deletion';
DROP INDEX IF EXISTS identities_live_external_id;
CREATE INDEX IF NOT EXISTS identities_org_state ON identities (organization_id, state);
DROP INDEX IF EXISTS identities_org;
CREATE INDEX IF NOT EXISTS identities_live_org ON identities (organization_id)
    WHERE state != 'scheduled_deletion';
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
CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (route, create_time);
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
CREATE UNIQUE INDEX IF NOT EXISTS oauth_clients_by_external_id
    ON oauth_clients (external_id, ifnull(organization_id, ''))
    WHERE external_id IS NOT NULL;
DROP INDEX IF EXISTS oauth_clients_external_id;
CREATE INDEX IF NOT EXISTS oauth_clients_org ON oauth_clients (organization_id);
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
CREATE UNIQUE INDEX IF NOT EXISTS service_accounts_by_external_id
    ON service_accounts (external_id, ifnull(organization_id, ''))
    WHERE external_id IS NOT NULL;
DROP INDEX IF EXISTS service_accounts_external_id;
CREATE INDEX IF NOT EXISTS service_accounts_org ON service_accounts (organization_id);
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
CREATE TABLE IF NOT EXISTS create_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    external_id     TEXT,
    idempotency_key TEXT,
    create_time     TEXT NOT NULL
);
";

/// The indexes that make `external_id` unique per organization. Under
/// `--no-unique-external-id` they are kept, minus `UNIQUE` (lookups stay searches).
const EXTERNAL_ID_INDEXES: [&str; 3] = [
    "identities_live_by_external_id",
    "oauth_clients_by_external_id",
    "service_accounts_by_external_id",
];

/// Makes the `external_id` indexes unique or not, rebuilding only those that differ, so a
/// database keeps whichever rule the emulator was last started with. Making them unique
/// again fails while duplicates exist.
fn set_external_id_uniqueness(conn: &Connection, unique: bool) -> Result<(), rusqlite::Error> {
    for name in EXTERNAL_ID_INDEXES {
        let sql: String = conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get(0),
        )?;
        let is_unique = sql
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("CREATE UNIQUE");
        if is_unique == unique {
            continue;
        }
        let Some(at) = sql.find(" ON ") else {
            continue;
        };
        let rest = sql[at..].trim_start();
        let create = if unique {
            "CREATE UNIQUE INDEX"
        } else {
            "CREATE INDEX"
        };
        conn.execute_batch(&format!("DROP INDEX {name}; {create} {name} {rest};"))?;
    }
    Ok(())
}

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
    /// The writer thread could not be started.
    #[error("cannot start the emulator's database thread: {0}")]
    Thread(String),
}

/// The database handle, cheap to clone. Dropping the last clone stops the writer thread,
/// which closes the write connection.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// The writer thread's queue.
    jobs: mpsc::Sender<Job>,
    /// Read connections of a file database; `None` for `:memory:`, whose only connection
    /// is the writer's.
    readers: Option<Readers>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Read connections to a file database, opened on demand and kept for reuse. In WAL mode
/// they read the last committed state without waiting for the writer.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle read connections kept open (more are opened while more reads run at once).
const MAX_IDLE_READERS: usize = 4;

/// Statements each connection keeps prepared: the hot paths (create, list page, key
/// lookup) use a few dozen distinct ones, and parsing them again was a visible part of a
/// create.
const STATEMENT_CACHE: usize = 64;

/// The writer's page cache (SQLite's default is 2 MiB). A create updates a few indexes at
/// random places (id, email, credentials, idempotency keys); with a million identities
/// those indexes are tens of MiB, and each page not in the cache is a read from the file.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

impl Readers {
    fn open(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Reads only: a bug that wrote here would bypass the writer's ordering.
        conn.pragma_update(None, "query_only", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = f(&conn);
        // A read leaves no transaction open (rusqlite resets statements), so the connection
        // is fit for the next read.
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS && conn.is_autocommit() {
            idle.push(conn);
        }
        out
    }
}

impl Store {
    /// Opens (creating if needed) the database and its schema, and starts the writer
    /// thread.
    pub fn open(location: &DbLocation) -> Result<Self, StoreError> {
        Self::open_with(location, true)
    }

    /// [`Store::open`], with `external_id` unique per organization or not
    /// (`--no-unique-external-id`).
    pub fn open_with(location: &DbLocation, unique_external_id: bool) -> Result<Self, StoreError> {
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
            // WAL lets the read connections (and test code) read while the writer writes.
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(open_err)?;
            // An emulator may lose the last commits in a power cut, not in a crash.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(open_err)?;
            // The checkpointer thread keeps the WAL short; the writer checkpoints only if
            // it falls far behind (about 80 MiB of WAL).
            conn.pragma_update(None, "wal_autocheckpoint", 20_000)
                .map_err(open_err)?;
            // A burst of writes can leave a long WAL file behind; cut it back when it
            // starts over.
            conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
                .map_err(open_err)?;
        }
        // Savepoints (one per write in a group) journal shared pages; keep that journal
        // in memory instead of spilling it to a temporary file.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(StoreError::Schema)?;
        set_external_id_uniqueness(&conn, unique_external_id).map_err(StoreError::Schema)?;
        add_has_password(&conn).map_err(StoreError::Schema)?;
        add_last_login_at(&conn).map_err(StoreError::Schema)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let readers = match location {
            DbLocation::File(path) => Some(Readers {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
            }),
            DbLocation::Memory => None,
        };
        let checkpoints = match location {
            DbLocation::File(path) => {
                let ckpt = Connection::open(path).map_err(open_err)?;
                ckpt.busy_timeout(Duration::from_secs(5))
                    .map_err(open_err)?;
                let (nudge, nudges) = mpsc::sync_channel(1);
                std::thread::Builder::new()
                    .name("emulator-sqlite-checkpoint".into())
                    .spawn(move || writer::checkpointer(&ckpt, &nudges))
                    .map_err(|e| StoreError::Thread(e.to_string()))?;
                Some(nudge)
            }
            DbLocation::Memory => None,
        };
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("emulator-sqlite-writer".into())
            .spawn(move || writer::run(conn, &queue, checkpoints.as_ref()))
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            shared: Arc::new(Shared { jobs, readers }),
        })
    }

    fn send(&self, job: Job) -> Result<(), ApiError> {
        self.shared
            .jobs
            .send(job)
            .map_err(|_| ApiError::internal("storage: the writer thread stopped"))
    }

    /// Runs `f` on the write connection, outside any transaction, after every write queued
    /// before it, and waits for it on the calling thread (start-up work, outside any
    /// request).
    pub fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Job::Direct(Box::new(move |conn| {
            let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .map_err(|_| ApiError::internal("storage task failed: it panicked"))
                .and_then(|r| r.map_err(ApiError::from));
            let _ = tx.send(out);
        })))?;
        rx.recv()
            .map_err(|_| ApiError::internal("storage: the writer thread stopped"))?
    }

    /// Runs read-only work: on a read connection in tokio's blocking pool (SQLite calls
    /// block), or, for `:memory:`, on the writer thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        if self.shared.readers.is_some() {
            let store = self.clone();
            return tokio::task::spawn_blocking(move || match &store.shared.readers {
                Some(readers) => readers.with(f),
                None => unreachable!("checked above"),
            })
            .await
            .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?;
        }
        let (tx, rx) = oneshot::channel();
        self.send(Job::Direct(Box::new(move |conn| {
            let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(ApiError::internal("storage task failed: it panicked")));
            let _ = tx.send(out);
        })))?;
        rx.await
            .map_err(|_| ApiError::internal("storage: the writer thread stopped"))?
    }

    /// Runs `f` in a transaction on the writer thread: its effects are committed if it
    /// returns `Ok` and rolled back otherwise, and the answer comes once they are
    /// committed. One writer at a time, in arrival order, is what makes the
    /// check-then-insert uniqueness and idempotency logic race-free. See [`writer`] for how
    /// concurrent writes share a commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Write(writer::write_job(f, move |out| {
            let _ = tx.send(out);
        })))?;
        rx.await
            .map_err(|_| ApiError::internal("storage: the writer thread stopped"))?
    }

    /// [`Store::write`], waited for on the calling thread (seeding, outside any request).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Job::Write(writer::write_job(f, move |out| {
            let _ = tx.send(out);
        })))?;
        rx.recv()
            .map_err(|_| ApiError::internal("storage: the writer thread stopped"))?
    }
}

/// Adds `identities.has_password` to a database created before it existed, filled in from
/// `credentials`. The flag saves every identity read an `EXISTS` probe of `credentials`: a
/// random search per row, which was most of the cost of a list page on a large database.
fn add_has_password(conn: &Connection) -> Result<(), rusqlite::Error> {
    let present: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('identities') \
         WHERE name = 'has_password')",
        [],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE identities ADD COLUMN has_password INTEGER NOT NULL DEFAULT 0;
             UPDATE identities SET has_password = 1
                 WHERE id IN (SELECT identity_id FROM credentials);
             COMMIT;",
        )?;
    }
    Ok(())
}

/// Adds `identities.last_login_at` to a database created before it existed (no identity
/// of such a database has logged in since).
fn add_last_login_at(conn: &Connection) -> Result<(), rusqlite::Error> {
    let present: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('identities') \
         WHERE name = 'last_login_at')",
        [],
        |r| r.get(0),
    )?;
    if !present {
        conn.execute_batch("ALTER TABLE identities ADD COLUMN last_login_at TEXT;")?;
    }
    Ok(())
}

/// Now, RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before the index changes and `has_password` opens with the new
    /// indexes in place of the old ones and the flag filled in, and keeps its rows.
    #[test]
    fn old_indexes_are_replaced_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE identities (
                     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                     external_id TEXT, email TEXT NOT NULL, email_lower TEXT NOT NULL,
                     username TEXT, username_lower TEXT, organization_id TEXT,
                     state TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
                     create_time TEXT NOT NULL, update_time TEXT NOT NULL);
                 CREATE UNIQUE INDEX identities_live_external_id
                     ON identities (ifnull(organization_id, ''), external_id)
                     WHERE external_id IS NOT NULL AND state != 'scheduled_deletion';
                 CREATE INDEX identities_org ON identities (organization_id);
                 CREATE TABLE credentials (
                     identity_id TEXT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
                     algorithm TEXT NOT NULL, material TEXT NOT NULL, update_time TEXT NOT NULL);
                 INSERT INTO identities (id, external_id, email, email_lower, state, version,
                     data, create_time, update_time)
                 VALUES ('usr_1', 'e1', 'a@x', 'a@x', 'active', 1, '{}', 't', 't'),
                        ('usr_2', 'e2', 'b@x', 'b@x', 'active', 1, '{}', 't', 't');
                 INSERT INTO credentials VALUES ('usr_2', 'bcrypt', '{}', 't');",
            )
            .unwrap();
        }
        let store = Store::open(&DbLocation::File(path)).unwrap();
        let (indexes, rows) = store
            .blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' \
                     AND tbl_name = 'identities' AND sql IS NOT NULL ORDER BY name",
                )?;
                let names = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut stmt = c.prepare("SELECT id, has_password FROM identities ORDER BY id")?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((names, rows))
            })
            .unwrap();
        assert_eq!(
            indexes,
            [
                "identities_live_by_external_id",
                "identities_live_email",
                "identities_live_org",
                "identities_live_username",
                "identities_org_state",
            ]
        );
        // The rows are kept, and the new `has_password` flag says which have a credential.
        assert_eq!(rows, [("usr_1".into(), false), ("usr_2".into(), true)]);
    }
}
