//! Plan files: versioned JSON on disk, and the SHA-256 helpers plans bind themselves with.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{FORMAT_VERSION, Plan};

/// Errors reading or writing a plan file.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// I/O.
    #[error("cannot {action} plan file `{path}`")]
    Io {
        /// read / write.
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a plan file.
    #[error("`{path}` is not a valid plan file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of a file's bytes, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// SHA-256 of a file, or of a directory's files (an auth0-deploy-cli export): each file's
/// relative path and digest, in path order.
pub fn sha256_path(path: &Path) -> std::io::Result<String> {
    if !path.is_dir() {
        return sha256_file(path);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(path).unwrap_or(&f);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(sha256_file(&f)?.as_bytes());
        hasher.update([0]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes `plan` to `path` atomically (temp file + rename), so a crash never leaves half a
/// plan that could be applied.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let err = |source| PlanFileError::Io {
        action: "write",
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    serde_json::to_writer_pretty(&mut tmp, plan).map_err(|e| err(e.into()))?;
    tmp.write_all(b"\n").map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Reads a plan file, checking its version and its `plan_id`.
pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Io {
        action: "read",
        path: path.display().to_string(),
        source,
    })?;
    let invalid = |message: String| PlanFileError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(invalid(format!(
            "format_version {} is not supported (this avnology-migrate reads {FORMAT_VERSION})",
            version.map_or("missing".to_string(), |v| v.to_string())
        )));
    }
    let plan: Plan = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let mut check = plan.clone();
    check.seal();
    if check.plan_id != plan.plan_id {
        return Err(invalid(
            "its contents do not match its plan_id (was it edited?)".into(),
        ));
    }
    Ok(plan)
}
