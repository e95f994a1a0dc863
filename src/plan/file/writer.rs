//! Writing a plan file: the header, each change as it is found, the footer and the seal,
//! into a temporary file that becomes the plan only when persisted.

use std::io::{BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::super::{Change, PlanFooter, PlanHeader, PlanLine, Seal};
use super::{PlanFileError, io_error};

/// Writes a plan file as a stream: the header first, each change as it is found, then the
/// footer and the seal. It writes to a temporary file that becomes the plan only through
/// [`WrittenPlan::persist`], so a crash or an error never leaves half a plan that could be
/// applied.
pub struct PlanWriter {
    out: BufWriter<NamedTempFile>,
    hasher: Sha256,
    path: String,
    line: Vec<u8>,
}

impl std::fmt::Debug for PlanWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A sealed plan file, still temporary until persisted.
#[derive(Debug)]
pub struct WrittenPlan {
    file: NamedTempFile,
    /// The seal.
    pub plan_id: String,
}

impl WrittenPlan {
    /// Where the temporary file is (it is removed when this is dropped).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Moves the plan to `path` atomically.
    pub fn persist(self, path: &Path) -> Result<(), PlanFileError> {
        self.file
            .persist(path)
            .map_err(|e| io_error("write", path, e.error))?;
        Ok(())
    }
}

impl PlanWriter {
    /// Starts a plan file that will be persisted in `dir` (a temporary file there, so the
    /// final rename stays on one filesystem), or in the system's temporary folder.
    pub fn create(dir: Option<&Path>, header: &PlanHeader) -> Result<Self, PlanFileError> {
        let dir = dir
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(std::env::temp_dir, Path::to_path_buf);
        let file = tempfile::Builder::new()
            .prefix(".avnology-plan-")
            .tempfile_in(&dir)
            .map_err(|e| io_error("write", &dir, e))?;
        let mut writer = Self {
            path: file.path().display().to_string(),
            out: BufWriter::with_capacity(1 << 16, file),
            hasher: Sha256::new(),
            line: Vec::with_capacity(512),
        };
        writer.write_line(&PlanLineRef::Header(header))?;
        Ok(writer)
    }

    /// Appends one change.
    pub fn change(&mut self, change: &Change) -> Result<(), PlanFileError> {
        self.write_line(&PlanLineRef::Change(change))
    }

    /// Writes the footer and the seal, and flushes the file to disk.
    pub fn finish(mut self, footer: &PlanFooter) -> Result<WrittenPlan, PlanFileError> {
        self.write_line(&PlanLineRef::Footer(footer))?;
        let plan_id = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let seal = PlanLine::Seal(Seal {
            plan_id: plan_id.clone(),
        });
        let err = |e: std::io::Error| PlanFileError::Io {
            action: "write",
            path: self.path.clone(),
            source: e,
        };
        serde_json::to_writer(&mut self.out, &seal).map_err(|e| err(e.into()))?;
        self.out.write_all(b"\n").map_err(err)?;
        let file = self.out.into_inner().map_err(|e| err(e.into_error()))?;
        file.as_file().sync_all().map_err(err)?;
        Ok(WrittenPlan { file, plan_id })
    }

    fn write_line(&mut self, line: &PlanLineRef<'_>) -> Result<(), PlanFileError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, line).map_err(|e| PlanFileError::Io {
            action: "write",
            path: self.path.clone(),
            source: e.into(),
        })?;
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out
            .write_all(&self.line)
            .map_err(|source| PlanFileError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })
    }
}

/// [`PlanLine`] by reference, so writing a change does not copy it.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum PlanLineRef<'a> {
    Header(&'a PlanHeader),
    Change(&'a Change),
    Footer(&'a PlanFooter),
}
