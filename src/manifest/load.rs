//! Reading a manifest: parse (with positions), interpolate, validate, resolve paths.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::{find_position, line_col};
use super::interpolate::interpolate_value;
use super::raw::{Provider, RawManifest};
use super::{
    ClientSource, MANIFEST_CLIENTS, Manifest, ManifestError, Policy, Rewrite, Target, TargetUrl,
    UserSource,
};
use crate::env_vars;
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
    let text = text.to_string();
    // A manifest built from command-line flags has no lines to point at.
    let virtual_manifest = path == Path::new(COMMAND_LINE);
    let invalid =
        |line: Option<usize>, column: Option<usize>, message: String| ManifestError::Invalid {
            path: path.to_path_buf(),
            line: line.filter(|_| !virtual_manifest),
            column: column.filter(|_| !virtual_manifest),
            message,
        };
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    // First pass: the typed shape straight from the text, so unknown keys and wrong types are
    // reported at their line and column.
    let raw: RawManifest = if is_yaml {
        yaml_serde::from_str(&text).map_err(|e| {
            let loc = e.location();
            invalid(
                loc.as_ref().map(|l| l.line()),
                loc.as_ref().map(|l| l.column()),
                yaml_message(&e),
            )
        })?
    } else {
        toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(&text, s.start)).unzip();
            invalid(line, col, e.message().trim().to_string())
        })?
    };
    // Second pass: interpolate every string, then read the typed shape again.
    let mut value = serde_json::to_value(&raw).map_err(|e| invalid(None, None, e.to_string()))?;
    interpolate_value(&mut value, env).map_err(|(message, original)| {
        let (line, col) = find_position(&text, &original);
        invalid(line, col, message)
    })?;
    let raw: RawManifest =
        serde_json::from_value(value.clone()).map_err(|e| invalid(None, None, e.to_string()))?;
    let sha256 = hex::encode(Sha256::digest(value.to_string().as_bytes()));

    // An empty directory (manifest in the working directory) keeps joined paths short:
    // `auth0_users.ndjson`, not `./auth0_users.ndjson`, in every message.
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |needle: &str| find_position(&text, needle);

    // The manifest's url wins; then AVNOLOGY_API_URL; then the public API. Either may say
    // `sandbox` or `sandbox:DIR`.
    let url_text = raw
        .target
        .url
        .clone()
        .or_else(|| env(env_vars::AVNOLOGY_API_URL).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| env_vars::DEFAULT_API_URL.to_string());
    let url = match url_text.as_str() {
        "sandbox" => TargetUrl::Sandbox {
            dir: dir.join(".avnology-sandbox"),
        },
        s if s.starts_with("sandbox:") => TargetUrl::Sandbox {
            dir: dir.join(&s["sandbox:".len()..]),
        },
        s => TargetUrl::Remote(s.trim_end_matches('/').to_string()),
    };
    if let Some(org) = &raw.target.organization {
        let ok = (2..=64).contains(&org.len())
            && org
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            let (l, c) = at("organization");
            return Err(invalid(
                l,
                c,
                format!(
                    "organization `{org}` must be 2–64 characters of lowercase letters, digits and `-`"
                ),
            ));
        }
    }

    let mut users = Vec::new();
    for source in &raw.users {
        let (l, c) = at(&format!("\"{}\"", source.name));
        if source.name.trim().is_empty() {
            return Err(invalid(
                l,
                c,
                "a [[users]] source has an empty `name`".into(),
            ));
        }
        if users.iter().any(|u: &UserSource| u.name == source.name) {
            return Err(invalid(
                l,
                c,
                format!("two [[users]] sources are named `{}`", source.name),
            ));
        }
        if source.passwords.is_some() && source.provider != Provider::Auth0 {
            return Err(invalid(
                l,
                c,
                format!(
                    "source `{}`: `passwords` is only for provider `auth0`",
                    source.name
                ),
            ));
        }
        if source.firebase_hash.is_some() && source.provider != Provider::Firebase {
            return Err(invalid(
                l,
                c,
                format!(
                    "source `{}`: `firebase_hash` is only for provider `firebase`",
                    source.name
                ),
            ));
        }
        let firebase_hash = match &source.firebase_hash {
            None => None,
            Some(h) => {
                if !(1..=8).contains(&h.rounds) || !(1..=14).contains(&h.mem_cost) {
                    return Err(invalid(
                        l,
                        c,
                        format!(
                            "source `{}`: firebase_hash needs rounds 1–8 and mem_cost 1–14",
                            source.name
                        ),
                    ));
                }
                for (field, value) in [
                    ("signer_key", &h.signer_key),
                    ("salt_separator", &h.salt_separator),
                ] {
                    if !is_base64(value) {
                        return Err(invalid(
                            l,
                            c,
                            format!(
                                "source `{}`: firebase_hash.{field} is not base64 (copy it from the console's \"Password hash parameters\" dialog)",
                                source.name
                            ),
                        ));
                    }
                }
                Some(FirebaseHashParams {
                    signer_key: Secret::new(h.signer_key.clone()),
                    salt_separator: h.salt_separator.clone(),
                    rounds: h.rounds,
                    mem_cost: h.mem_cost,
                })
            }
        };
        users.push(UserSource {
            name: source.name.clone(),
            provider: source.provider,
            path: dir.join(&source.path),
            passwords: source.passwords.as_ref().map(|p| dir.join(p)),
            firebase_hash,
        });
    }

    for field in &raw.policy.ignore_changes {
        if !crate::diff::is_known_field(field) {
            let (l, c) = at(&format!("\"{field}\""));
            return Err(invalid(
                l,
                c,
                format!("ignore_changes: `{field}` is not a field avnology-migrate manages"),
            ));
        }
    }

    for adopted in &raw.policy.adopt_sources {
        let (l, c) = at(&format!("\"{adopted}\""));
        if adopted.trim().is_empty() {
            return Err(invalid(
                l,
                c,
                "adopt_sources: a source name is empty".into(),
            ));
        }
        let own = raw.users.iter().any(|u| u.name == *adopted)
            || raw
                .client_sources
                .iter()
                .any(|s| s.name.as_deref().unwrap_or(s.provider.as_str()) == adopted.as_str())
            || adopted == MANIFEST_CLIENTS;
        if own {
            return Err(invalid(
                l,
                c,
                format!(
                    "adopt_sources: `{adopted}` is one of this manifest's own sources; list only the old names of renamed sources"
                ),
            ));
        }
    }

    let mut clients: Vec<OAuthClient> = Vec::new();
    for c in &raw.clients {
        let (l, col) = at(&format!("\"{}\"", c.key));
        if c.key.trim().is_empty() {
            return Err(invalid(
                l,
                col,
                "a [[clients]] entry has an empty `key`".into(),
            ));
        }
        if clients.iter().any(|o| o.external_id.as_str() == c.key) {
            return Err(invalid(
                l,
                col,
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
    let mut client_sources: Vec<ClientSource> = Vec::new();
    for c in &raw.client_sources {
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| c.provider.as_str().to_string());
        let (l, col) = at(&format!("\"{}\"", c.path));
        if client_sources.iter().any(|o| o.name == name) || name == MANIFEST_CLIENTS {
            return Err(invalid(
                l,
                col,
                format!("two client sources are named `{name}`; give each a distinct `name`"),
            ));
        }
        if c.provider == Provider::Firebase {
            return Err(invalid(
                l,
                col,
                "Firebase has no OAuth client registry to read clients from; declare them in [[clients]]".into(),
            ));
        }
        client_sources.push(ClientSource {
            name,
            provider: c.provider,
            path: dir.join(&c.path),
            vars: c.vars.clone(),
            rewrite: c
                .rewrite
                .iter()
                .map(|r| Rewrite {
                    from: r.from.clone(),
                    to: r.to.clone(),
                })
                .collect(),
        });
    }

    Ok(Manifest {
        path: path.to_path_buf(),
        dir,
        target: Target {
            url,
            organization: raw.target.organization.clone(),
            service_account_owner: raw.target.service_account_owner.clone(),
        },
        users,
        clients,
        client_sources,
        policy: Policy {
            prune: raw.policy.prune,
            max_deletes: raw.policy.max_deletes,
            ignore_changes: raw.policy.ignore_changes.clone(),
            on_invalid: raw.policy.on_invalid,
            adopt_sources: raw.policy.adopt_sources.clone(),
        },
        sha256,
    })
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
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn env(name: &str) -> Option<String> {
        (name == "SIGNER").then(|| "c2lnbmVy".to_string())
    }

    #[test]
    fn loads_a_full_manifest() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "migration.toml",
            r#"
[target]
url = "sandbox"
organization = "acme"

[[users]]
name = "auth0-prod"
provider = "auth0"
path = "exports/users.ndjson"
passwords = "exports/passwords.ndjson"

[[users]]
name = "fb"
provider = "firebase"
path = "fb.json"
[users.firebase_hash]
signer_key = "${env:SIGNER}"
salt_separator = "Bw=="
rounds = 8
mem_cost = 14

[policy]
prune = true
max_deletes = 5
ignore_changes = ["display_name", "traits.plan"]
"#,
        );
        let m = load_with_env(&p, &env).unwrap();
        assert_eq!(
            m.target.url,
            TargetUrl::Sandbox {
                dir: d.path().join(".avnology-sandbox")
            }
        );
        assert_eq!(m.users.len(), 2);
        assert_eq!(m.users[0].path, d.path().join("exports/users.ndjson"));
        assert_eq!(
            m.users[1]
                .firebase_hash
                .as_ref()
                .unwrap()
                .signer_key
                .expose(),
            "c2lnbmVy"
        );
        assert!(m.policy.prune);
        assert_eq!(m.sha256.len(), 64);
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\norganisation = \"acme\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(e.contains("m.toml:3:1"), "{e}");
        assert!(e.contains("organisation"), "{e}");
    }

    #[test]
    fn undefined_variable_is_an_error_at_its_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n\n[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"${env:MISSING_DIR}/u.ndjson\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(e.contains("m.toml:7:"), "{e}");
        assert!(e.contains("`MISSING_DIR` is not set"), "{e}");
    }

    #[test]
    fn yaml_is_accepted_with_the_same_shape() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "migration.yaml",
            "target:\n  url: https://tenant.example.com/\nusers:\n  - name: a\n    provider: auth0\n    path: u.ndjson\n",
        );
        let m = load_with_env(&p, &env).unwrap();
        assert_eq!(
            m.target.url,
            TargetUrl::Remote("https://tenant.example.com".into())
        );
        let p = write(d.path(), "bad.yaml", "target:\n  url: x\n  nope: 1\n");
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(e.contains("bad.yaml:3"), "{e}");
    }

    #[test]
    fn checks_provider_specific_keys_and_duplicates() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "m.toml",
            "[[users]]\nname = \"a\"\nprovider = \"clerk\"\npath = \"u.csv\"\npasswords = \"p\"\n",
        );
        assert!(
            load_with_env(&p, &env)
                .unwrap_err()
                .to_string()
                .contains("only for provider `auth0`")
        );
        let p = write(
            d.path(),
            "m.toml",
            "[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"u\"\n[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"v\"\n",
        );
        assert!(
            load_with_env(&p, &env)
                .unwrap_err()
                .to_string()
                .contains("two [[users]] sources")
        );
    }

    #[test]
    fn url_defaults_to_the_environment_then_the_public_api() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "m.toml", "");
        let m = load_with_env(&p, &|n| {
            (n == "AVNOLOGY_API_URL").then(|| "http://127.0.0.1:9".into())
        })
        .unwrap();
        assert_eq!(m.target.url, TargetUrl::Remote("http://127.0.0.1:9".into()));
        let m = load_with_env(&p, &|_| None).unwrap();
        assert_eq!(
            m.target.url,
            TargetUrl::Remote("https://api-id.avnology.net".into())
        );
    }
}
