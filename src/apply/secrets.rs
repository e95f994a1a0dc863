//! The `--secrets-out` file: where newly minted client secrets and API keys go, and the only
//! place they go. It is written one NDJSON line per secret and synced at once (a secret is
//! shown by Avnology only once), and a secret for a key already in the file is never written
//! twice (a resumed apply may receive an idempotent replay of it).
//!
//! The file is created new (`O_CREAT | O_EXCL`, mode 0600), which never follows a symbolic
//! link, dangling or not, so secrets cannot be steered into a file someone else chose. Its
//! first line names the plan that writes it (`{"kind":"plan","plan_id":…}`): the one file that
//! may already exist is the one an interrupted apply of the same plan wrote, which the resumed
//! apply continues (a private regular file, not a link). Any other existing file is refused,
//! so secrets are never appended to a file that holds something else.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::ExternalId;

/// A minted secret.
pub enum Minted<'a> {
    /// An OAuth client's secret.
    ClientSecret {
        /// The client's external id.
        key: &'a ExternalId,
        /// The Avnology client_id.
        client_id: &'a str,
        /// The secret.
        secret: &'a str,
    },
    /// A service account's API key.
    ApiKey {
        /// The service account's external id.
        key: &'a ExternalId,
        /// The Avnology service account id.
        service_account_id: &'a str,
        /// The key.
        api_key: &'a str,
    },
}

/// The `kind` of the file's first line, which names the plan that writes it.
pub const PLAN_KIND: &str = "plan";

/// The secrets file.
pub struct SecretsFile {
    path: PathBuf,
    inner: Mutex<(File, HashSet<String>)>,
}

impl std::fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SecretsFile {
    /// Creates `path` for the secrets of plan `plan_id`, or reopens the file an earlier,
    /// interrupted apply of the same plan created there. Anything else at `path` (another
    /// file, a symbolic link, a file others can read) is refused.
    pub fn open(path: &Path, plan_id: &str) -> std::io::Result<SecretsFile> {
        let mut options = OpenOptions::new();
        options.read(true).append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                let header = serde_json::json!({"kind": PLAN_KIND, "plan_id": plan_id});
                writeln!(file, "{header}")?;
                file.sync_all()?;
                Ok(SecretsFile {
                    path: path.to_path_buf(),
                    inner: Mutex::new((file, HashSet::new())),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::reopen(path, plan_id),
            Err(e) => Err(e),
        }
    }

    /// Reopens the existing `path` if an apply of plan `plan_id` created it.
    fn reopen(path: &Path, plan_id: &str) -> std::io::Result<SecretsFile> {
        let refuse = |why: String| {
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("`{}` {why}", path.display()),
            )
        };
        let link = std::fs::symlink_metadata(path)?;
        if link.file_type().is_symlink() {
            return Err(refuse(
                "is a symbolic link; secrets are written only to a new file".into(),
            ));
        }
        if !link.is_file() {
            return Err(refuse("is not a regular file".into()));
        }
        let file = OpenOptions::new().read(true).append(true).open(path)?;
        let meta = file.metadata()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // What was opened must be what was inspected: a link swapped in between would
            // otherwise be followed.
            if (meta.dev(), meta.ino()) != (link.dev(), link.ino()) {
                return Err(refuse("changed while it was being opened".into()));
            }
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(refuse(format!(
                    "is readable by others (mode {:o}); secrets are never added to it",
                    mode & 0o777
                )));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let mut lines = BufReader::new(&file).lines();
        let header = lines
            .next()
            .transpose()?
            .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .filter(|v| v["kind"] == PLAN_KIND);
        match header.as_ref().and_then(|h| h["plan_id"].as_str()) {
            Some(id) if id == plan_id => {}
            Some(other) => {
                return Err(refuse(format!(
                    "holds the secrets of another plan ({}); secrets are never added to it",
                    &other[..other.len().min(12)]
                )));
            }
            None => {
                return Err(refuse(
                    "already exists and was not written by an apply of this plan; secrets are never added to it".into(),
                ));
            }
        }
        let mut seen = HashSet::new();
        for line in lines {
            let line = line?;
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && let (Some(kind), Some(key)) = (v["kind"].as_str(), v["key"].as_str())
            {
                seen.insert(format!("{kind}\0{key}"));
            }
        }
        Ok(SecretsFile {
            path: path.to_path_buf(),
            inner: Mutex::new((file, seen)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file already holds the secret of object `key` of `kind`
    /// (`oauth_client` or `service_account`).
    pub fn holds(&self, kind: &str, key: &ExternalId) -> bool {
        let guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.1.contains(&format!("{kind}\0{key}"))
    }

    /// Appends a minted secret (once per object) and syncs it to disk.
    pub fn write(&self, minted: &Minted<'_>) -> std::io::Result<()> {
        let (kind, key, line) = match *minted {
            Minted::ClientSecret {
                key,
                client_id,
                secret,
            } => (
                "oauth_client",
                key,
                serde_json::json!({"kind": "oauth_client", "key": key, "client_id": client_id, "client_secret": secret}),
            ),
            Minted::ApiKey {
                key,
                service_account_id,
                api_key,
            } => (
                "service_account",
                key,
                serde_json::json!({"kind": "service_account", "key": key, "service_account_id": service_account_id, "api_key": api_key}),
            ),
        };
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !guard.1.insert(format!("{kind}\0{key}")) {
            return Ok(());
        }
        writeln!(guard.0, "{line}")?;
        guard.0.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(key: &ExternalId) -> Minted<'_> {
        Minted::ClientSecret {
            key,
            client_id: "cli_1",
            secret: "cs_x",
        }
    }

    #[test]
    fn private_file_and_one_line_per_object() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secrets.ndjson");
        let key = ExternalId::from("web");
        let f = SecretsFile::open(&p, "plan-a").unwrap();
        f.write(&web(&key)).unwrap();
        f.write(&web(&key)).unwrap();
        drop(f);
        // The resumed apply of the same plan continues the file, without repeating a secret.
        let f = SecretsFile::open(&p, "plan-a").unwrap();
        f.write(&web(&key)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.matches("cs_x").count(), 1);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"kind":"plan","plan_id":"plan-a"}"#
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(SecretsFile::open(&p, "plan-a").is_err());
        }
        assert!(!format!("{f:?}").contains("cs_x"));
    }

    #[test]
    fn refuses_other_files_and_links() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secrets.ndjson");
        drop(SecretsFile::open(&p, "plan-a").unwrap());
        let e = SecretsFile::open(&p, "plan-b").unwrap_err().to_string();
        assert!(
            e.contains("holds the secrets of another plan (plan-a)"),
            "{e}"
        );

        let other = d.path().join("notes.txt");
        std::fs::write(&other, "keep me\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = SecretsFile::open(&other, "plan-a").unwrap_err().to_string();
        assert!(
            e.contains("was not written by an apply of this plan"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me\n");

        #[cfg(unix)]
        {
            let link = d.path().join("link.ndjson");
            std::os::unix::fs::symlink(&p, &link).unwrap();
            let e = SecretsFile::open(&link, "plan-a").unwrap_err().to_string();
            assert!(e.contains("is a symbolic link"), "{e}");
            // A dangling link is not followed either: nothing is created where it points.
            let target = d.path().join("elsewhere.ndjson");
            let dangling = d.path().join("dangling.ndjson");
            std::os::unix::fs::symlink(&target, &dangling).unwrap();
            let e = SecretsFile::open(&dangling, "plan-a")
                .unwrap_err()
                .to_string();
            assert!(e.contains("is a symbolic link"), "{e}");
            assert!(!target.exists());
        }
    }
}
