//! Every environment variable the tool reads, named once. Other modules refer to these
//! constants instead of spelling the names, so the list here is the complete contract.

use std::path::{Path, PathBuf};

/// Base URL of the Avnology admin API, used where the manifest names no `url` and by the
/// provider commands (which default to [`DEFAULT_API_URL`]; a manifest has no default).
pub const AVNOLOGY_API_URL: &str = "AVNOLOGY_API_URL";

/// The tenant's admin API key (`ak_live_…`, `ak_test_…` or `sk_live_…`), as Avnology's
/// migration guides name it. Never accepted on the command line or in the manifest.
pub const AVNOLOGY_SECRET_KEY: &str = "AVNOLOGY_SECRET_KEY";

/// Disables colour when set to any non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// How long the API may go without answering before `plan` and `apply` give up, as
/// `--give-up-after` takes it (e.g. `90s`); the flag wins.
pub const AVNOLOGY_GIVE_UP_AFTER: &str = "AVNOLOGY_GIVE_UP_AFTER";

/// Test hook: when set to `1`, retry delays are cut to a few milliseconds so fault tests run
/// fast. Never set in production.
pub const AVNOLOGY_MIGRATE_FAST_RETRY: &str = "AVNOLOGY_MIGRATE_FAST_RETRY";

/// The folder of the tenant lock files `apply` takes (see `--lock-dir`); by default the
/// user's state folder (`$XDG_STATE_HOME` or `~/.local/state`)`/avnology-migrate/locks`.
pub const AVNOLOGY_MIGRATE_LOCK_DIR: &str = "AVNOLOGY_MIGRATE_LOCK_DIR";

/// The public Avnology ID API host: the provider commands' default target.
pub const DEFAULT_API_URL: &str = "https://api-id.avnology.net";

/// Reads `.env` from the working directory, then from the manifest's folder (when that is
/// another folder), and nowhere else: never from parent folders. A variable already set in
/// the real environment always wins, and one set by the working directory's `.env` wins over
/// the manifest folder's. A missing file is not an error; a file that cannot be parsed is
/// named in a warning (never its lines, which may hold a key). Returns how many files were
/// read.
pub fn load_dotenv(manifest: Option<&Path>) -> usize {
    let mut folders = vec![PathBuf::from(".")];
    if let Some(manifest) = manifest {
        let folder = match manifest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let same = match (std::fs::canonicalize(&folder), std::fs::canonicalize(".")) {
            (Ok(a), Ok(b)) => a == b,
            _ => folder == Path::new("."),
        };
        if !same {
            folders.push(folder);
        }
    }
    let mut read = 0;
    for folder in folders {
        let file = folder.join(DOTENV);
        if !file.is_file() {
            continue;
        }
        // dotenvy never overrides a variable that is already set.
        match dotenvy::from_path(&file) {
            Ok(()) => read += 1,
            Err(e) => {
                let why = match e {
                    dotenvy::Error::LineParse(_, _) => "a line is not NAME=value".to_string(),
                    dotenvy::Error::Io(e) => e.to_string(),
                    other => other.to_string(),
                };
                crate::printer::status(&format!(
                    "warning: cannot read `{}` ({why}); the variables after that point are not set",
                    crate::render::escape::terminal(&file.display().to_string())
                ));
                read += 1;
            }
        }
    }
    read
}

/// The name of the file [`load_dotenv`] reads.
pub const DOTENV: &str = ".env";
