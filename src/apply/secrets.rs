//! The `--secrets-out` file: where newly minted client secrets and API keys go, and the only
//! place they go. It is created with mode 0600, written one NDJSON line per secret and synced
//! at once (a secret is shown by Avnology only once), and a secret for a key already in the
//! file is never written twice (a resumed apply may receive an idempotent replay of it).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A minted secret.
pub enum Minted<'a> {
    /// An OAuth client's secret.
    ClientSecret {
        /// The client's external id.
        key: &'a str,
        /// The Avnology client_id.
        client_id: &'a str,
        /// The secret.
        secret: &'a str,
    },
    /// A service account's API key.
    ApiKey {
        /// The service account's external id.
        key: &'a str,
        /// The Avnology service account id.
        service_account_id: &'a str,
        /// The key.
        api_key: &'a str,
    },
}

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
    /// Opens `path` for appending, creating it with mode 0600. An existing file must already
    /// be private (no group or other permissions): secrets are never added to a file others
    /// can read.
    pub fn open(path: &Path) -> std::io::Result<SecretsFile> {
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata()?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "`{}` is readable by others (mode {:o}); use a new file or chmod 600 it",
                        path.display(),
                        mode & 0o777
                    ),
                ));
            }
        }
        let mut seen = HashSet::new();
        for line in BufReader::new(File::open(path)?).lines() {
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

    /// Appends a minted secret (once per object) and syncs it to disk.
    pub fn write(&self, minted: Minted<'_>) -> std::io::Result<()> {
        let (kind, key, line) = match minted {
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
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
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

    #[test]
    fn private_file_and_one_line_per_object() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secrets.ndjson");
        let f = SecretsFile::open(&p).unwrap();
        f.write(Minted::ClientSecret {
            key: "web",
            client_id: "cli_1",
            secret: "cs_x",
        })
        .unwrap();
        f.write(Minted::ClientSecret {
            key: "web",
            client_id: "cli_1",
            secret: "cs_x",
        })
        .unwrap();
        drop(f);
        let f = SecretsFile::open(&p).unwrap();
        f.write(Minted::ClientSecret {
            key: "web",
            client_id: "cli_1",
            secret: "cs_x",
        })
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap().matches("cs_x").count(),
            1
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(SecretsFile::open(&p).is_err());
        }
        assert!(!format!("{f:?}").contains("cs_x"));
    }
}
