//! What the users readers' unit tests share: fixture paths, a collector for everything a read
//! hands its sink, the manifest entry that reads a fixture through [`read_user_source`], and
//! the checks for leaked secrets and panics on garbage input, and Firebase's scrypt test vector.
//!
//! [`read_user_source`]: super::read_user_source

use std::path::{Path, PathBuf};

use super::{Location, Skipped, SourceError, UserItem};
use crate::manifest::{Provider, UserSource};
use crate::model::Identity;

/// The fixture `name` under `tests/fixtures/<provider>/`.
pub(crate) fn fixture(provider: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider)
        .join(name)
}

/// Everything one read produced, by kind.
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub identities: Vec<(Identity, Location)>,
    pub skipped: Vec<Skipped>,
    pub invalid: Vec<SourceError>,
    pub warnings: Vec<SourceError>,
}

impl Read {
    /// Runs `read` with a sink that files every item here.
    pub(crate) fn collect<T>(
        read: impl FnOnce(&mut dyn FnMut(UserItem)) -> Result<T, SourceError>,
    ) -> (Result<T, SourceError>, Self) {
        let mut out = Self::default();
        let result = read(&mut |item| match item {
            UserItem::Identity(identity, location) => out.identities.push((*identity, location)),
            UserItem::Skipped(skipped) => out.skipped.push(skipped),
            UserItem::Invalid(err) => out.invalid.push(err),
            UserItem::Warning(err) => out.warnings.push(err),
        });
        (result, out)
    }

    /// Itself, after checking that the read raised no warnings (only the Firebase reader,
    /// which drops repeated records, ever does).
    pub(crate) fn without_warnings(self) -> Self {
        assert!(
            self.warnings.is_empty(),
            "unexpected warnings {:?}",
            self.warnings
        );
        self
    }

    /// The identity with external id `id`.
    pub(crate) fn identity(&self, id: &str) -> &Identity {
        self.identity_at(id).0
    }

    /// The identity with external id `id`, and where it was read.
    pub(crate) fn identity_at(&self, id: &str) -> (&Identity, &Location) {
        self.identities
            .iter()
            .find(|(i, _)| i.external_id.as_str() == id)
            .map_or_else(
                || panic!("no identity `{id}` in {:?}", self.identities),
                |(i, l)| (i, l),
            )
    }

    /// The invalid record with external id `id`.
    pub(crate) fn invalid(&self, id: &str) -> &SourceError {
        self.invalid
            .iter()
            .find(|e| e.external_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no invalid record `{id}` in {:?}", self.invalid))
    }

    /// The skipped record with external id `id`.
    pub(crate) fn skipped(&self, id: &str) -> &Skipped {
        self.skipped
            .iter()
            .find(|s| s.external_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no skipped record `{id}` in {:?}", self.skipped))
    }

    /// Every invalid record's message as it is displayed.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.invalid.iter().map(ToString::to_string).collect()
    }

    /// Everything's `Debug` and every message's `Display`, for secret checks.
    pub(crate) fn all_text(&self) -> String {
        let mut text = format!("{self:?}");
        for e in self.invalid.iter().chain(&self.warnings) {
            text.push_str(&e.to_string());
        }
        text
    }
}

/// A users reader that needs only the export's path (Clerk, Cognito), with the provider
/// whose fixtures it reads.
pub(crate) struct PathReader<S> {
    /// The folder under `tests/fixtures/`.
    pub provider: &'static str,
    /// The reader.
    pub read_users: ReadUsers<S>,
}

/// The users reader of a provider whose export is one path.
pub(crate) type ReadUsers<S> = fn(&Path, &mut dyn FnMut(UserItem)) -> Result<S, SourceError>;

impl<S> PathReader<S> {
    /// The fixture `name` of this provider.
    pub(crate) fn fixture(&self, name: &str) -> PathBuf {
        fixture(self.provider, name)
    }

    /// Reads `path`, checking the read raised no warnings.
    pub(crate) fn try_read(&self, path: &Path) -> (Result<S, SourceError>, Read) {
        let (result, out) = Read::collect(|sink| (self.read_users)(path, sink));
        (result, out.without_warnings())
    }

    /// Reads `bytes` written to a file named `name`, for the garbage tests: whatever the
    /// read makes of it, it must not panic.
    pub(crate) fn read_garbage(&self, name: &str, bytes: impl AsRef<[u8]>) {
        let (_dir, path) = temp_file(name, bytes);
        let _ = (self.read_users)(&path, &mut |_| {});
    }

    /// Like [`PathReader::try_read`], for a readable export.
    pub(crate) fn read(&self, path: &Path) -> (S, Read) {
        let (result, out) = self.try_read(path);
        (result.expect("readable export"), out)
    }
}

/// An identity's linked providers as `(provider, subject)` pairs.
pub(crate) fn linked(identity: &Identity) -> Vec<(&str, &str)> {
    identity
        .linked_providers
        .iter()
        .map(|l| (l.provider.as_str(), l.subject.as_str()))
        .collect()
}

/// A `[[users]]` entry reading `path` with `provider`.
pub(crate) fn user_source(provider: Provider, path: PathBuf) -> UserSource {
    UserSource {
        name: provider.as_str().to_owned(),
        provider,
        path,
        passwords: None,
        firebase_hash: None,
        sha256: None,
        passwords_sha256: None,
    }
}

/// Panics naming the first of `secrets` that `shown` contains.
pub(crate) fn assert_no_secret(shown: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
}

/// Writes `bytes` to a file named `name` in a fresh temporary directory, for the readers'
/// garbage tests: the directory goes when the returned guard is dropped.
pub(crate) fn temp_file(name: &str, bytes: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    (dir, path)
}

/// What [`read_user_source`](super::read_user_source) counts for `source`: records, passwords
/// matched, passwords unmatched.
pub(crate) fn dispatched(source: &UserSource) -> (u64, u64, u64) {
    let stats = super::read_user_source(source, &mut |_| {}).expect("readable");
    (
        stats.records,
        stats.passwords_matched,
        stats.passwords_unmatched,
    )
}

/// `bytes`, gzip-compressed.
pub(crate) fn gzip(bytes: impl AsRef<[u8]>) -> Vec<u8> {
    use std::io::Write;

    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes.as_ref()).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Firebase's published scrypt test vector (firebase/scrypt README): the hash of
/// `user1password` with this salt, separator and project signer key, at 8 rounds and a memory
/// cost of 14. The readers' tests and the emulator's login check both use it.
pub(crate) mod firebase_vector {
    /// The project's base64 signer key.
    pub(crate) const SIGNER_KEY: &str =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    /// The project's base64 salt separator.
    pub(crate) const SEPARATOR: &str = "Bw==";
    /// The user's base64 salt.
    pub(crate) const SALT: &str = "42xEC+ixf3L2lw==";
    /// The user's base64 password hash.
    pub(crate) const HASH: &str =
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";

    /// Asserts that a firebase-scrypt hash read from an export is this vector: its salt and
    /// the project parameters it carries (the hash itself is checked by the caller, which
    /// knows how its format spells it).
    pub(crate) fn assert_salt_and_params(
        salt: &crate::model::Secret,
        params: &crate::model::FirebaseHashParams,
    ) {
        assert_eq!(salt.expose(), SALT);
        assert_eq!(
            (
                params.salt_separator.as_str(),
                params.rounds,
                params.mem_cost
            ),
            (SEPARATOR, 8, 14)
        );
    }
}
