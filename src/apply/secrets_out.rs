//! Where `--secrets-out` may point: a file of its own, never one this apply reads or writes
//! (the plan file, its journal, the log, the manifest, a source file or a file inside a
//! source directory). Paths are compared by their folder's canonical path and their file
//! name, so `./plan.json`, `sub/../plan.json` and a path through a linked folder all match.

use std::path::{Path, PathBuf};

use super::journal;
use crate::manifest::Manifest;

/// The files an apply reads or writes besides the secrets file.
#[derive(Debug, Clone, Copy)]
pub struct ApplyFiles<'a> {
    /// The manifest, with its sources.
    pub manifest: &'a Manifest,
    /// The saved plan, when there is one (its journal lies beside it).
    pub plan_file: Option<&'a Path>,
    /// The `--log` file.
    pub log: Option<&'a Path>,
}

/// A `--secrets-out` path that names one of the apply's other files.
#[derive(Debug, thiserror::Error)]
#[error("--secrets-out `{}` is {what}; nothing was applied", path.display())]
pub struct TakenPath {
    /// The path given.
    pub path: PathBuf,
    /// Which file it is, e.g. "the plan file".
    pub what: String,
}

impl TakenPath {
    /// What to do about it.
    pub const HINT: &'static str = "pass --secrets-out a new file of its own, e.g. secrets.ndjson";
}

/// Refuses `path` if it is one of `files`.
pub fn check_destination(path: &Path, files: &ApplyFiles<'_>) -> Result<(), TakenPath> {
    let Some(secrets) = canonical_location(path) else {
        // The folder does not exist: creating the file will say so.
        return Ok(());
    };
    for (what, other) in taken(files) {
        let same = [
            canonical_location(&other),
            std::fs::canonicalize(&other).ok(),
        ]
        .into_iter()
        .flatten()
        .any(|o| secrets == o || (other.is_dir() && secrets.starts_with(&o)));
        if same {
            return Err(TakenPath {
                path: path.to_path_buf(),
                what,
            });
        }
    }
    Ok(())
}

/// Every file of the apply, with what it is.
fn taken(files: &ApplyFiles<'_>) -> Vec<(String, PathBuf)> {
    let mut taken: Vec<(String, PathBuf)> = Vec::new();
    if let Some(plan) = files.plan_file {
        taken.push(("the plan file".into(), plan.to_path_buf()));
        let journal = journal::path_for(plan);
        for suffix in ["", "-wal", "-shm"] {
            let mut name = journal.as_os_str().to_os_string();
            name.push(suffix);
            taken.push(("the plan's journal".into(), PathBuf::from(name)));
        }
    }
    if let Some(log) = files.log {
        taken.push(("the --log file".into(), log.to_path_buf()));
    }
    let manifest = files.manifest;
    taken.push(("the manifest".into(), manifest.path.clone()));
    for source in &manifest.users {
        let what = format!("a file of source `{}`", source.name);
        taken.push((what.clone(), source.path.clone()));
        if let Some(p) = &source.passwords {
            taken.push((what, p.clone()));
        }
    }
    for source in &manifest.client_sources {
        taken.push((
            format!("a file of client source `{}`", source.name),
            source.path.clone(),
        ));
    }
    taken
}

/// A path as its folder's canonical path joined with its file name (the file itself need not
/// exist, and a link in its last component is not followed).
fn canonical_location(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(folder).ok()?.join(name))
}
