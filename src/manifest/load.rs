//! Reading a manifest: parse (with positions), interpolate, validate, resolve paths. The
//! text is read into a [`Sections`], and each section is checked and resolved by its own
//! method, in the order a reader meets them: `[target]`, `[[users]]`, `[policy]`,
//! `[[clients]]`, `[[client_sources]]`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::{find_position, line_col};
use super::interpolate::interpolate_value;
use super::positions::{Position, Positions, SourcePositions};
use super::raw::{Provider, RawClientSource, RawFirebaseHash, RawManifest, RawUserSource};
use super::{
    ClientSource, MANIFEST_CLIENTS, Manifest, ManifestError, Policy, Rewrite, Target, TargetUrl,
    UserSource,
};
use crate::env_vars;
use crate::model::limits::ORG_NAME_LEN;
use crate::model::{ExternalId, FirebaseHashParams, OAuthClient, Secret};

/// Loads `path` with the process environment.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// Loads `path`, resolving `${env:NAME}` and `AVNOLOGY_API_URL` through `env`.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, env)
}

/// The path of a manifest built from the provider commands' flags.
pub const COMMAND_LINE: &str = "(command line)";

/// Builds a manifest from TOML (or YAML, by `path`'s extension) text; relative paths in it
/// resolve against `path`'s directory. The provider commands use this to turn their flags
/// into a one-source manifest.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, ManifestError> {
    let sections = Sections::read(path, text, env)?;
    let target = sections.target()?;
    let users = sections.users()?;
    let policy = sections.policy()?;
    let clients = sections.clients()?;
    let client_sources = sections.client_sources()?;
    Ok(Manifest {
        path: path.to_path_buf(),
        dir: sections.dir,
        target,
        users,
        clients,
        client_sources,
        policy,
        sha256: sections.sha256,
    })
}

/// A manifest's text read into its typed shape (interpolated), with what its checks need to
/// point at a line: the text, the positions of its parts, and the folder paths resolve in.
struct Sections<'a> {
    path: &'a Path,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    raw: RawManifest,
    positions: Positions,
    /// The manifest's folder. An empty one (manifest in the working directory) keeps joined
    /// paths short: `auth0_users.ndjson`, not `./auth0_users.ndjson`, in every message.
    dir: PathBuf,
    /// SHA-256 of the interpolated content.
    sha256: String,
}

impl<'a> Sections<'a> {
    /// Reads the text twice: first the typed shape straight from the text, so unknown keys
    /// and wrong types are reported at their line and column; then, with every string
    /// interpolated, the typed shape again.
    fn read(
        path: &'a Path,
        text: &'a str,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ManifestError> {
        let mut sections = Self {
            path,
            text,
            env,
            raw: RawManifest::default(),
            positions: Positions::default(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            sha256: String::new(),
        };
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let raw: RawManifest = if is_yaml {
            yaml_serde::from_str(text).map_err(|e| {
                let loc = e.location();
                sections.invalid(
                    loc.as_ref().map(yaml_serde::Location::line),
                    loc.as_ref().map(yaml_serde::Location::column),
                    yaml_message(&e),
                )
            })?
        } else {
            toml::from_str(text).map_err(|e| {
                let (line, col) = e.span().map(|s| line_col(text, s.start)).unzip();
                sections.invalid(line, col, e.message().trim().to_string())
            })?
        };
        let mut value =
            serde_json::to_value(&raw).map_err(|e| sections.invalid(None, None, e.to_string()))?;
        interpolate_value(&mut value, env).map_err(|(message, original)| {
            let (line, col) = find_position(text, &original);
            sections.invalid(line, col, message)
        })?;
        sections.raw = serde_json::from_value(value.clone())
            .map_err(|e| sections.invalid(None, None, e.to_string()))?;
        sections.sha256 = hex::encode(Sha256::digest(value.to_string().as_bytes()));
        sections.positions = Positions::read(text, is_yaml);
        Ok(sections)
    }

    /// A failed check at `line` and `column` (none for a manifest built from command-line
    /// flags, which has no lines to point at).
    fn invalid(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    ) -> ManifestError {
        let virtual_manifest = self.path == Path::new(COMMAND_LINE);
        ManifestError::Invalid {
            path: self.path.to_path_buf(),
            line: line.filter(|_| !virtual_manifest),
            column: column.filter(|_| !virtual_manifest),
            message,
        }
    }

    /// A failed check at `position`.
    fn invalid_at(&self, (line, column): Position, message: String) -> ManifestError {
        self.invalid(line, column, message)
    }

    /// Where `needle` is first written.
    fn at(&self, needle: &str) -> Position {
        find_position(self.text, needle)
    }

    /// A pinned digest: 64 hex digits, compared in lowercase.
    fn pin(&self, value: Option<&String>) -> Result<Option<String>, ManifestError> {
        match value {
            None => Ok(None),
            Some(v) if v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()) => {
                Ok(Some(v.to_ascii_lowercase()))
            }
            Some(v) => Err(self.invalid_at(
                self.at(&format!("\"{v}\"")),
                format!(
                    "`{v}` is not a SHA-256 (64 hex digits); `avnology-migrate pin` fills pins"
                ),
            )),
        }
    }

    /// `[target]`. The manifest's url wins; then AVNOLOGY_API_URL. Either may say `sandbox`
    /// or `sandbox:DIR`. There is no silent default: a manifest that names no tenant would
    /// otherwise be planned against whatever a default points at, and fail far from the
    /// cause.
    fn target(&self) -> Result<Target, ManifestError> {
        let target = &self.raw.target;
        let url_text = target
            .url
            .clone()
            .or_else(|| (self.env)(env_vars::AVNOLOGY_API_URL).filter(|s| !s.trim().is_empty()));
        let url = match url_text.as_deref().unwrap_or_default() {
            "" => {
                let message = if self.positions.target.0.is_some() {
                    "[target] has no `url`: add url = \"sandbox\" or the tenant's URL (or set AVNOLOGY_API_URL)"
                } else {
                    "no [target] table: add [target] url = \"sandbox\" or the tenant's URL (or set AVNOLOGY_API_URL)"
                };
                TargetUrl::Unset(
                    self.invalid_at(self.positions.target, message.into())
                        .to_string(),
                )
            }
            "sandbox" => TargetUrl::Sandbox {
                dir: self.dir.join(".avnology-sandbox"),
            },
            s if s.starts_with("sandbox:") => TargetUrl::Sandbox {
                dir: self.dir.join(&s["sandbox:".len()..]),
            },
            s => TargetUrl::Remote(s.trim_end_matches('/').to_string()),
        };
        if let Some(org) = &target.organization {
            let ok = ORG_NAME_LEN.contains(&org.len())
                && org
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(self.invalid_at(
                    self.at("organization"),
                    format!(
                        "organization `{org}` must be {}–{} characters of lowercase letters, digits and `-`",
                        ORG_NAME_LEN.start(),
                        ORG_NAME_LEN.end()
                    ),
                ));
            }
        }
        Ok(Target {
            url,
            organization: target.organization.clone(),
            service_account_owner: target.service_account_owner.clone(),
        })
    }

    /// Every `[[users]]` source, in order.
    fn users(&self) -> Result<Vec<UserSource>, ManifestError> {
        let mut users = Vec::new();
        for (i, source) in self.raw.users.iter().enumerate() {
            let user = self.user_source(source, self.positions.users.get(i), &users)?;
            users.push(user);
        }
        Ok(users)
    }

    /// One `[[users]]` source, after the ones `before` it.
    fn user_source(
        &self,
        source: &RawUserSource,
        spans: Option<&SourcePositions>,
        before: &[UserSource],
    ) -> Result<UserSource, ManifestError> {
        let name_at = spans
            .and_then(|s| s.name)
            .unwrap_or_else(|| self.at(&format!("\"{}\"", source.name)));
        let refuse = |message: String| Err(self.invalid_at(name_at, message));
        if source.name.trim().is_empty() {
            return refuse("a [[users]] source has an empty `name`".into());
        }
        if before.iter().any(|u| u.name == source.name) {
            return refuse(format!("two [[users]] sources are named `{}`", source.name));
        }
        if source.passwords.is_some() && source.provider != Provider::Auth0 {
            return refuse(format!(
                "source `{}`: `passwords` is only for provider `auth0`",
                source.name
            ));
        }
        if source.firebase_hash.is_some() && source.provider != Provider::Firebase {
            return refuse(format!(
                "source `{}`: `firebase_hash` is only for provider `firebase`",
                source.name
            ));
        }
        let firebase_hash = match &source.firebase_hash {
            None => None,
            Some(h) => {
                Some(firebase_hash(h, &source.name).map_err(|m| self.invalid_at(name_at, m))?)
            }
        };
        if source.name == MANIFEST_CLIENTS {
            return refuse(format!(
                "a [[users]] source is named `{MANIFEST_CLIENTS}`, the source name of [[clients]]: source names are unique across [[users]] and [[clients]]; rename it"
            ));
        }
        let path = self.dir.join(&source.path);
        let path_at = spans
            .and_then(|s| s.path)
            .unwrap_or_else(|| self.at(&source.path));
        must_exist(&path, &format!("source `{}`", source.name))
            .map_err(|m| self.invalid_at(path_at, m))?;
        let passwords = source.passwords.as_ref().map(|p| self.dir.join(p));
        if let (Some(p), Some(raw_path)) = (&passwords, &source.passwords) {
            let passwords_at = spans
                .and_then(|s| s.passwords)
                .unwrap_or_else(|| self.at(raw_path));
            must_exist(p, &format!("source `{}`: passwords", source.name))
                .map_err(|m| self.invalid_at(passwords_at, m))?;
        }
        Ok(UserSource {
            name: source.name.clone(),
            provider: source.provider,
            path,
            passwords,
            firebase_hash,
            sha256: self.pin(source.sha256.as_ref())?,
            passwords_sha256: self.pin(source.passwords_sha256.as_ref())?,
        })
    }

    /// `[policy]`: the fields `ignore_changes` names must be managed ones, and
    /// `adopt_sources` lists only names this manifest does not use.
    fn policy(&self) -> Result<Policy, ManifestError> {
        let raw = &self.raw;
        for field in &raw.policy.ignore_changes {
            if !crate::model::is_known_field(field) {
                return Err(self.invalid_at(
                    self.at(&format!("\"{field}\"")),
                    format!("ignore_changes: `{field}` is not a field avnology-migrate manages"),
                ));
            }
        }
        for adopted in &raw.policy.adopt_sources {
            let adopted_at = self.at(&format!("\"{adopted}\""));
            if adopted.trim().is_empty() {
                return Err(
                    self.invalid_at(adopted_at, "adopt_sources: a source name is empty".into())
                );
            }
            let own = raw.users.iter().any(|u| u.name == *adopted)
                || raw
                    .client_sources
                    .iter()
                    .any(|s| s.name.as_deref().unwrap_or(s.provider.as_str()) == adopted.as_str())
                || adopted == MANIFEST_CLIENTS;
            if own {
                return Err(self.invalid_at(
                    adopted_at,
                    format!(
                        "adopt_sources: `{adopted}` is one of this manifest's own sources; list only the old names of renamed sources"
                    ),
                ));
            }
        }
        Ok(Policy {
            prune: raw.policy.prune,
            max_deletes: raw.policy.max_deletes,
            ignore_changes: raw.policy.ignore_changes.clone(),
            on_invalid: raw.policy.on_invalid,
            adopt_sources: raw.policy.adopt_sources.clone(),
            adopt: raw.policy.adopt,
        })
    }

    /// `[[clients]]`: OAuth clients declared by hand, with the default grants and scopes.
    fn clients(&self) -> Result<Vec<OAuthClient>, ManifestError> {
        let mut clients: Vec<OAuthClient> = Vec::new();
        for c in &self.raw.clients {
            let key_at = self.at(&format!("\"{}\"", c.key));
            if c.key.trim().is_empty() {
                return Err(
                    self.invalid_at(key_at, "a [[clients]] entry has an empty `key`".into())
                );
            }
            if clients.iter().any(|o| o.external_id.as_str() == c.key) {
                return Err(self.invalid_at(
                    key_at,
                    format!("two [[clients]] entries have the key `{}`", c.key),
                ));
            }
            clients.push(OAuthClient {
                external_id: ExternalId::new(c.key.clone()),
                name: c.name.clone(),
                client_type: c.client_type,
                redirect_uris: c.redirect_uris.clone(),
                post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                allowed_origins: c.allowed_origins.clone(),
                grant_types: c
                    .grant_types
                    .clone()
                    .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]),
                scopes: c
                    .scopes
                    .clone()
                    .unwrap_or_else(|| vec!["openid".into(), "profile".into(), "email".into()]),
            });
        }
        Ok(clients)
    }

    /// Every `[[client_sources]]` entry, in order.
    fn client_sources(&self) -> Result<Vec<ClientSource>, ManifestError> {
        let mut client_sources = Vec::new();
        for (i, c) in self.raw.client_sources.iter().enumerate() {
            let source =
                self.client_source(c, self.positions.client_sources.get(i), &client_sources)?;
            client_sources.push(source);
        }
        Ok(client_sources)
    }

    /// One `[[client_sources]]` entry, after the ones `before` it. Each source owns the
    /// objects marked with its name, and its counts are tallied by name: a users source and a
    /// client source of one name would share both.
    fn client_source(
        &self,
        c: &RawClientSource,
        spans: Option<&SourcePositions>,
        before: &[ClientSource],
    ) -> Result<ClientSource, ManifestError> {
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| c.provider.as_str().to_string());
        let path_at = spans
            .and_then(|s| s.path)
            .unwrap_or_else(|| self.at(&format!("\"{}\"", c.path)));
        // A named source points at its name; one named after its provider, at its path.
        let name_at = match (spans.and_then(|s| s.name), &c.name) {
            (Some(pos), _) => pos,
            (None, Some(n)) => self.at(&format!("\"{n}\"")),
            (None, None) => path_at,
        };
        if let Some((j, _)) = self
            .raw
            .users
            .iter()
            .enumerate()
            .find(|(_, u)| u.name == name)
        {
            let (users_line, _) = self
                .positions
                .users
                .get(j)
                .and_then(|s| s.name)
                .unwrap_or_else(|| self.at(&format!("\"{name}\"")));
            let users_at = users_line
                .map(|n| format!(" (line {n})"))
                .unwrap_or_default();
            let named = if c.name.is_some() {
                "is named"
            } else {
                "takes its provider's name"
            };
            return Err(self.invalid_at(
                name_at,
                format!(
                    "this [[client_sources]] entry {named} `{name}`, like the [[users]] source{users_at}: source names are unique across [[users]] and [[clients]]; give one a distinct `name`"
                ),
            ));
        }
        if before.iter().any(|o| o.name == name) || name == MANIFEST_CLIENTS {
            return Err(self.invalid_at(
                name_at,
                format!("two client sources are named `{name}`; give each a distinct `name`"),
            ));
        }
        if c.provider == Provider::Firebase {
            return Err(self.invalid_at(
                name_at,
                "Firebase has no OAuth client registry to read clients from; declare them in [[clients]]".into(),
            ));
        }
        let path = self.dir.join(&c.path);
        must_exist(&path, &format!("client source `{name}`"))
            .map_err(|m| self.invalid_at(path_at, m))?;
        Ok(ClientSource {
            sha256: self.pin(c.sha256.as_ref())?,
            name,
            provider: c.provider,
            path,
            vars: c.vars.clone(),
            rewrite: c
                .rewrite
                .iter()
                .map(|r| Rewrite {
                    from: r.from.clone(),
                    to: r.to.clone(),
                })
                .collect(),
        })
    }
}

/// `[users.firebase_hash]` of source `source`: rounds and memory cost in Firebase's ranges,
/// the key and separator in base64.
fn firebase_hash(h: &RawFirebaseHash, source: &str) -> Result<FirebaseHashParams, String> {
    if !(1..=8).contains(&h.rounds) || !(1..=14).contains(&h.mem_cost) {
        return Err(format!(
            "source `{source}`: firebase_hash needs rounds 1–8 and mem_cost 1–14"
        ));
    }
    for (field, value) in [
        ("signer_key", &h.signer_key),
        ("salt_separator", &h.salt_separator),
    ] {
        if !is_base64(value) {
            return Err(format!(
                "source `{source}`: firebase_hash.{field} is not base64 (copy it from the console's \"Password hash parameters\" dialog)"
            ));
        }
    }
    Ok(FirebaseHashParams {
        signer_key: Secret::new(h.signer_key.clone()),
        salt_separator: h.salt_separator.clone(),
        rounds: h.rounds,
        mem_cost: h.mem_cost,
    })
}

/// Refuses a source path that cannot be read (checked here, where the manifest line that
/// names it is known, rather than when the source is first read).
fn must_exist(path: &Path, what: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{what}: `{}` does not exist", path.display()))
        }
        Err(e) => Err(format!("{what}: cannot read `{}`: {e}", path.display())),
    }
}

/// Whether `value` is base64 in the standard or URL-safe alphabet, padded or not.
fn is_base64(value: &str) -> bool {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let v = value.trim();
    !v.is_empty()
        && [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .any(|e| e.decode(v).is_ok())
}

/// yaml_serde's message without its trailing "at line X column Y" (we print our own).
fn yaml_message(e: &yaml_serde::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests;
