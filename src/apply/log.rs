//! The `--log` file: one NDJSON line per finished change (time, kind, key, action, outcome,
//! attempts, Avnology id, error), written line by line so a killed apply's log holds every
//! outcome it reported. Lines are appended: the log of a resumed apply continues the file.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;

use super::outcome::{ChangeOutcome, OutcomeKind};

/// An open `--log` file.
#[derive(Debug)]
pub struct OutcomeLog {
    file: Mutex<LineWriter<File>>,
}

impl OutcomeLog {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> anyhow::Result<OutcomeLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open log file `{}`", path.display()))?;
        Ok(OutcomeLog {
            file: Mutex::new(LineWriter::new(file)),
        })
    }

    /// Appends the line of one finished change. A log that cannot be written does not stop
    /// the apply: the journal, not the log, is what a resume reads.
    pub fn write(&self, outcome: &ChangeOutcome) {
        let line = line(outcome);
        let mut f = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(f, "{line}");
    }

    /// Writes out what is buffered.
    pub fn flush(&self) {
        let _ = self
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush();
    }
}

/// One NDJSON log line for a finished change.
pub fn line(o: &ChangeOutcome) -> String {
    let (outcome, id, error) = match &o.outcome {
        OutcomeKind::Applied { id } => ("applied", Some(id.as_str()), None),
        OutcomeKind::AlreadyApplied { id } => ("already_applied", Some(id.as_str()), None),
        OutcomeKind::Stale => ("stale", None, None),
        OutcomeKind::Failed { error } => ("failed", None, Some(error.as_str())),
    };
    serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "kind": o.kind,
        "key": o.key,
        "action": o.action,
        "outcome": outcome,
        "attempts": o.attempts,
        "avnology_id": id,
        "error": error,
    })
    .to_string()
}
