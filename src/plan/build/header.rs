//! A plan's header: what it is bound to (the target, the manifest's digest, every source
//! file's digest, checked against the manifest's pins) and the paths it records.

use std::path::{Path, PathBuf};

use super::super::selection::Selection;
use super::super::{FORMAT_VERSION, FileDigest, PlanHeader, PlanTarget, SourceDigest};
use super::{BuildOptions, LiveState, PlanError};
use crate::manifest::{Manifest, TargetUrl};

/// The header of a plan of `manifest` against `live`: the digests of the user sources'
/// files (refused unless they are the pinned ones), then `client_sources`' (already read).
pub(super) fn header(
    manifest: &Manifest,
    live: &LiveState,
    options: &BuildOptions,
    client_sources: &[SourceDigest],
) -> Result<PlanHeader, PlanError> {
    let mut source_digests = Vec::new();
    for source in &manifest.users {
        let mut files = vec![pinned_digest(
            manifest,
            &source.name,
            &source.path,
            source.sha256.as_deref(),
        )?];
        if let Some(p) = &source.passwords {
            files.push(pinned_digest(
                manifest,
                &source.name,
                p,
                source.passwords_sha256.as_deref(),
            )?);
        }
        source_digests.push(SourceDigest {
            name: source.name.clone(),
            provider: source.provider.as_str().to_string(),
            files,
        });
    }
    source_digests.extend(client_sources.iter().cloned());
    Ok(PlanHeader {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        destroy: options.destroy,
        target: PlanTarget {
            url: target_url(manifest),
            organization: manifest.target.organization.clone(),
            organization_id: live.organization.as_ref().map(|o| o.id.clone()),
        },
        manifest: FileDigest {
            path: manifest_path_for(&manifest.path, options.dir.as_deref()),
            sha256: manifest.sha256.clone(),
        },
        sources: source_digests,
        only: options
            .only
            .as_ref()
            .map(Selection::to_strings)
            .unwrap_or_default(),
    })
}

/// The manifest's target as a plan records it: the resolved API URL (the manifest's, else
/// `AVNOLOGY_API_URL`), or `sandbox:DIR`; empty when there is none (only `validate`, which
/// saves no plan, gets that far without one).
pub fn target_url(manifest: &Manifest) -> String {
    match &manifest.target.url {
        TargetUrl::Sandbox { dir } => format!("sandbox:{}", display_rel(manifest, dir)),
        TargetUrl::Remote(u) => u.clone(),
        TargetUrl::Unset(_) => String::new(),
    }
}

/// The manifest's path as a plan saved in `plan_dir` records it: relative to that folder, so
/// `apply PLAN` finds the manifest from any working directory and in any checkout of the
/// repository. Absolute when the two share no root; as given when the plan is not saved.
fn manifest_path_for(manifest: &Path, plan_dir: Option<&Path>) -> String {
    let given = manifest.display().to_string();
    let Some(plan_dir) = plan_dir else {
        return given;
    };
    let (Ok(manifest), Ok(plan_dir)) = (
        std::fs::canonicalize(manifest),
        std::fs::canonicalize(plan_dir),
    ) else {
        return given;
    };
    relative_to(&plan_dir, &manifest)
        .unwrap_or(manifest)
        .display()
        .to_string()
}

/// `path` relative to the folder `from` (both absolute): `..` for each of `from`'s components
/// past their common prefix, then the rest of `path`. `None` when they share no root.
fn relative_to(from: &Path, path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = path.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    // Nothing in common beyond nothing (Windows drives): no relative path exists.
    if common == 0 {
        return None;
    }
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c.as_os_str());
    }
    Some(rel)
}

fn display_rel(manifest: &Manifest, path: &Path) -> String {
    path.strip_prefix(&manifest.dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The digest of a source file, refused unless it is the one the manifest pins (when it
/// pins one). Called before any record of the file is read.
fn pinned_digest(
    manifest: &Manifest,
    source: &str,
    path: &Path,
    pinned: Option<&str>,
) -> Result<FileDigest, PlanError> {
    let digest = file_digest(manifest, path)?;
    match pinned {
        Some(pin) if pin != digest.sha256 => Err(PlanError::PinMismatch {
            path: path.display().to_string(),
            source_name: source.to_string(),
            manifest: manifest.path.display().to_string(),
            pinned: pin.to_string(),
            actual: digest.sha256,
        }),
        _ => Ok(digest),
    }
}

pub(super) fn file_digest(manifest: &Manifest, path: &Path) -> Result<FileDigest, PlanError> {
    let sha256 = super::super::file::sha256_path(path).map_err(|source| PlanError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(FileDigest {
        path: display_rel(manifest, path),
        sha256,
    })
}
