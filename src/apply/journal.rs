//! The apply journal: a SQLite file beside the plan (`plan.json.journal`) recording each
//! change as it starts and finishes, so `apply plan.json` after a crash, `kill -9` or Ctrl-C
//! resumes where it stopped. Every record is its own committed transaction in WAL mode with
//! `synchronous = NORMAL`: a commit survives the process being killed at any point (the
//! WAL is written before the commit returns), without an fsync per change, which would cap
//! apply at a few hundred changes a second. (An OS crash may lose the last records; resume
//! then looks those changes up, which is safe.)
//!
//! A change that was started but not finished ("in flight" when the process died) is not
//! trusted either way: the executor looks the object up before retrying it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::ExternalId;
use crate::plan::{Action, Change, ObjectKind};

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed.
    #[error("apply journal `{}`", path.display())]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal belongs to another plan.
    #[error("apply journal `{}` belongs to plan {other}, not {this}", path.display())]
    OtherPlan {
        /// The journal file.
        path: PathBuf,
        /// Its plan.
        other: String,
        /// This plan.
        this: String,
    },
}

/// What the journal knows about a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalState {
    /// Started; the outcome was not recorded.
    InFlight,
    /// Finished successfully; the Avnology id.
    Done(String),
    /// Skipped as stale.
    Stale,
    /// Failed.
    Failed(String),
}

/// The journal of one plan's apply.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The journal file for a plan file.
pub fn path_for(plan: &Path) -> PathBuf {
    let mut name = plan
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".journal");
    plan.with_file_name(name)
}

/// The stable id of a change within its plan.
pub fn change_id(change: &Change) -> String {
    outcome_id(change.kind, change.action, &change.key)
}

/// The id of the change of `kind` and `action` on `key` (see [`change_id`]).
pub fn outcome_id(kind: ObjectKind, action: Action, key: &ExternalId) -> String {
    format!("{}:{}:{key}", kind.journal_name(), action.journal_name())
}

impl Journal {
    /// Opens (or creates) the journal at `path` for `plan_id`.
    pub fn open(path: &Path, plan_id: &str) -> Result<Journal, JournalError> {
        let err = |source| JournalError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS meta (plan_id TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS changes (
                 change_id TEXT PRIMARY KEY,
                 state TEXT NOT NULL,
                 avnology_id TEXT,
                 error TEXT,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 updated_at TEXT NOT NULL
             );",
        )
        .map_err(err)?;
        let existing: Option<String> = conn
            .query_row("SELECT plan_id FROM meta LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(err)?;
        match existing {
            Some(other) if other != plan_id => {
                return Err(JournalError::OtherPlan {
                    path: path.to_path_buf(),
                    other,
                    this: plan_id.to_string(),
                });
            }
            Some(_) => {}
            None => {
                conn.execute("INSERT INTO meta (plan_id) VALUES (?1)", params![plan_id])
                    .map_err(err)?;
            }
        }
        Ok(Journal {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every recorded change and its state.
    pub fn load(&self) -> Result<HashMap<String, JournalState>, JournalError> {
        let err = |source| self.error(source);
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT change_id, state, avnology_id, error FROM changes")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let state: String = r.get(1)?;
                let avnology_id: Option<String> = r.get(2)?;
                let error: Option<String> = r.get(3)?;
                Ok((id, state, avnology_id, error))
            })
            .map_err(err)?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, state, avnology_id, error) = row.map_err(err)?;
            out.insert(id, decode(&state, avnology_id, error));
        }
        Ok(out)
    }

    /// Whether no change was recorded yet (a first run, which needs no lookups).
    pub fn is_empty(&self) -> Result<bool, JournalError> {
        let conn = self.connection();
        let any: Option<i64> = conn
            .query_row("SELECT 1 FROM changes LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(|source| self.error(source))?;
        Ok(any.is_none())
    }

    /// How many changes finished successfully.
    pub fn count_done(&self) -> Result<u64, JournalError> {
        let conn = self.connection();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM changes WHERE state = 'done'",
                [],
                |r| r.get(0),
            )
            .map_err(|source| self.error(source))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// What the journal knows about one change.
    pub fn state(&self, change_id: &str) -> Result<Option<JournalState>, JournalError> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare_cached("SELECT state, avnology_id, error FROM changes WHERE change_id = ?1")
            .map_err(|source| self.error(source))?;
        stmt.query_row(params![change_id], |r| {
            let state: String = r.get(0)?;
            let avnology_id: Option<String> = r.get(1)?;
            let error: Option<String> = r.get(2)?;
            Ok(decode(&state, avnology_id, error))
        })
        .optional()
        .map_err(|source| self.error(source))
    }

    /// The connection, for one statement or transaction. A panic while it was held leaves
    /// nothing half-written (every record is its own transaction), so a poisoned lock is
    /// taken over.
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn error(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Records that a change is about to be sent.
    pub fn start(&self, change_id: &str) -> Result<(), JournalError> {
        self.write(change_id, "in_flight", None, None)
    }

    /// Records how a change ended.
    pub fn finish(&self, change_id: &str, state: &JournalState) -> Result<(), JournalError> {
        match state {
            JournalState::InFlight => self.write(change_id, "in_flight", None, None),
            JournalState::Done(id) => self.write(change_id, "done", Some(id), None),
            JournalState::Stale => self.write(change_id, "stale", None, None),
            JournalState::Failed(e) => self.write(change_id, "failed", None, Some(e)),
        }
    }

    fn write(
        &self,
        change_id: &str,
        state: &str,
        id: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO changes (change_id, state, avnology_id, error, attempts, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)
             ON CONFLICT(change_id) DO UPDATE SET state = ?2, avnology_id = ?3, error = ?4,
                 attempts = attempts + (?2 = 'in_flight'), updated_at = ?5",
            params![change_id, state, id, error, chrono::Utc::now().to_rfc3339()],
        )
        .map_err(|source| self.error(source))?;
        Ok(())
    }
}

fn decode(state: &str, avnology_id: Option<String>, error: Option<String>) -> JournalState {
    match state {
        "done" => JournalState::Done(avnology_id.unwrap_or_default()),
        "stale" => JournalState::Stale,
        "failed" => JournalState::Failed(error.unwrap_or_default()),
        _ => JournalState::InFlight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_keys_are_the_spellings_earlier_versions_wrote() {
        // A journal outlives the binary that wrote it: a resume with a newer version must
        // find the same keys. These strings are the on-disk format.
        let keys: Vec<String> = [
            (ObjectKind::Organization, Action::Create, "acme"),
            (ObjectKind::OAuthClient, Action::Update, "c1"),
            (ObjectKind::Identity, Action::Deactivate, "u1"),
            (ObjectKind::Identity, Action::Reactivate, "u2"),
            (ObjectKind::ServiceAccount, Action::Delete, "s1"),
            (ObjectKind::Identity, Action::Adopt, "u3"),
        ]
        .into_iter()
        .map(|(kind, action, key)| outcome_id(kind, action, &ExternalId::from(key)))
        .collect();
        assert_eq!(
            keys,
            [
                "Organization:Create:acme",
                "OAuthClient:Update:c1",
                "Identity:Deactivate:u1",
                "Identity:Reactivate:u2",
                "ServiceAccount:Delete:s1",
                "Identity:Adopt:u3",
            ]
        );
    }

    #[test]
    fn records_survive_reopening_and_bind_to_one_plan() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plan.json.journal");
        {
            let j = Journal::open(&p, "plan-a").unwrap();
            j.start("Identity:Create:a").unwrap();
            j.finish("Identity:Create:a", &JournalState::Done("usr_1".into()))
                .unwrap();
            j.start("Identity:Create:b").unwrap();
        }
        let j = Journal::open(&p, "plan-a").unwrap();
        let s = j.load().unwrap();
        assert_eq!(s["Identity:Create:a"], JournalState::Done("usr_1".into()));
        assert_eq!(s["Identity:Create:b"], JournalState::InFlight);
        assert_eq!(
            j.state("Identity:Create:a").unwrap(),
            Some(JournalState::Done("usr_1".into()))
        );
        assert_eq!(j.state("Identity:Create:c").unwrap(), None);
        assert_eq!(j.count_done().unwrap(), 1);
        assert!(!j.is_empty().unwrap());
        assert!(matches!(
            Journal::open(&p, "plan-b"),
            Err(JournalError::OtherPlan { .. })
        ));
        assert_eq!(
            path_for(Path::new("x/plan.json")),
            Path::new("x/plan.json.journal")
        );
    }
}
