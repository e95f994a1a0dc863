//! The tenant lock: at most one `apply` per tenant at a time on one machine.
//!
//! Avnology's documented API has no lock object, so the lock lives where the applies run: an
//! exclusive OS file lock (`flock` on Unix, `LockFileEx` on Windows) on a file named by the
//! SHA-256 of the tenant (its API URL, or the sandbox's folder, and the organization), in a
//! folder of the user's state directory. Two applies against one tenant from one workstation
//! or one CI runner never interleave: the second waits up to `--lock-timeout`, then fails
//! naming the holder (host, pid, plan id, since when), which the holder writes beside the
//! lock. The OS releases the lock when the holding process exits, however it exits, so a
//! killed apply never leaves a stale lock. The lock does not span machines: across CI runners
//! use the workflow's concurrency group (GitHub Actions `concurrency:`).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::env_vars;
use crate::printer::Trace;

/// Who holds a tenant lock, as written beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The plan being applied (empty while a fresh plan is being made).
    #[serde(default)]
    pub plan_id: String,
    /// When the lock was taken, RFC 3339.
    pub since: String,
    /// The tenant, as `URL (organization NAME)`.
    pub tenant: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plan = if self.plan_id.is_empty() {
            "a plan being made".to_string()
        } else {
            format!("plan {}", &self.plan_id[..self.plan_id.len().min(12)])
        };
        write!(
            f,
            "pid {} on host {}, {plan}, since {}",
            self.pid, self.host, self.since
        )
    }
}

/// A held tenant lock; released when dropped or when the process exits.
#[derive(Debug)]
pub struct TenantLock {
    _file: File,
    info: PathBuf,
    holder: Holder,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another apply against {tenant} is running: {} (lock {}); nothing was applied",
        holder.as_ref().map_or_else(|| "its holder has not written its name yet".to_string(), std::string::ToString::to_string),
        path.display()
    )]
    Held {
        /// The tenant.
        tenant: String,
        /// The holder, when it could be read.
        holder: Option<Holder>,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file could not be created or locked.
    #[error("cannot take the tenant lock `{}`", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The folder lock files go in: `--lock-dir`, else `AVNOLOGY_MIGRATE_LOCK_DIR`, else
/// `$XDG_STATE_HOME/avnology-migrate/locks`, `~/.local/state/avnology-migrate/locks`
/// (`%LOCALAPPDATA%\avnology-migrate\locks` on Windows), else the temporary folder's
/// `avnology-migrate-locks`.
pub fn lock_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(env_vars::AVNOLOGY_MIGRATE_LOCK_DIR) {
        return PathBuf::from(dir);
    }
    let state = var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".local").join("state")))
        .or_else(|| var("LOCALAPPDATA").map(PathBuf::from));
    match state {
        Some(dir) => dir.join("avnology-migrate").join("locks"),
        None => std::env::temp_dir().join("avnology-migrate-locks"),
    }
}

/// The tenant a lock is taken for: the API URL (or the sandbox's folder, absolute) and the
/// organization.
pub fn tenant_of(manifest: &crate::manifest::Manifest) -> String {
    let url = match &manifest.target.url {
        crate::manifest::TargetUrl::Sandbox { dir } => format!(
            "the sandbox `{}`",
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::canonicalize(dir))
                .unwrap_or_else(|_| dir.clone())
                .display()
        ),
        _ => crate::plan::build::target_url(manifest)
            .trim_end_matches('/')
            .to_string(),
    };
    match &manifest.target.organization {
        Some(org) => format!("{url} (organization {org})"),
        None => url,
    }
}

/// The lock file's name for a tenant: the SHA-256 of its identity.
pub fn lock_name(tenant: &str) -> String {
    format!(
        "{}.lock",
        &crate::plan::file::sha256_hex(tenant.as_bytes())[..32]
    )
}

/// Takes the lock of `tenant` (a stable description: URL or sandbox folder, and
/// organization) in `dir`, waiting up to `timeout` for another holder to finish.
pub async fn acquire(
    dir: &Path,
    tenant: &str,
    plan_id: &str,
    timeout: Duration,
    notices: &Trace,
) -> Result<TenantLock, LockError> {
    let path = dir.join(lock_name(tenant));
    let io = |source: std::io::Error| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let info = path.with_extension("holder.json");
    let start = Instant::now();
    let mut waiting_said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(&info);
                if start.elapsed() >= timeout {
                    return Err(LockError::Held {
                        tenant: tenant.to_string(),
                        holder,
                        path,
                    });
                }
                if !waiting_said {
                    waiting_said = true;
                    notices.line(&format!(
                        "Waiting up to {:?} for the tenant lock: {}",
                        timeout,
                        holder.map_or_else(
                            || "another apply holds it".to_string(),
                            |h| format!("held by {h}")
                        )
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    let holder = Holder {
        host: host_name(),
        pid: std::process::id(),
        plan_id: plan_id.to_string(),
        since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tenant: tenant.to_string(),
    };
    let lock = TenantLock {
        _file: file,
        info,
        holder,
    };
    lock.write_holder().map_err(io)?;
    Ok(lock)
}

impl TenantLock {
    /// Records the plan being applied once it is known (`apply -m` plans under the lock).
    pub fn set_plan(&mut self, plan_id: &str) {
        self.holder.plan_id = plan_id.to_string();
        let _ = self.write_holder();
    }

    /// Who holds it: this process.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    fn write_holder(&self) -> std::io::Result<()> {
        // Written whole through a temporary file, so a waiting process never reads half.
        let tmp = self.info.with_extension(format!("{}.tmp", self.holder.pid));
        let mut f = File::create(&tmp)?;
        f.write_all(serde_json::to_string(&self.holder)?.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &self.info)
    }
}

fn read_holder(info: &Path) -> Option<Holder> {
    serde_json::from_str(&std::fs::read_to_string(info).ok()?).ok()
}

/// This machine's name, for the holder record.
fn host_name() -> String {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.trim().is_empty()));
    from_env
        .or_else(|| {
            ["/proc/sys/kernel/hostname", "/etc/hostname"]
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes the lock of `tenant` in `dir` for `plan`, without waiting.
    async fn take(dir: &Path, tenant: &str, plan: &str) -> Result<TenantLock, LockError> {
        acquire(dir, tenant, plan, Duration::ZERO, &Trace::off()).await
    }

    #[tokio::test]
    async fn a_second_holder_is_refused_with_the_first_ones_name_until_it_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let acme = "https://t (organization acme)";
        let first = take(d.path(), acme, "abc123").await.unwrap();
        let e = take(d.path(), acme, "def").await.unwrap_err().to_string();
        assert!(
            e.contains(&format!("pid {}", std::process::id())) && e.contains("plan abc123"),
            "{e}"
        );
        // Another tenant is another lock.
        take(d.path(), "https://t (organization other)", "x")
            .await
            .unwrap();
        drop(first);
        take(d.path(), acme, "def").await.unwrap();
    }
}
