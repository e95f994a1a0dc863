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
                loc.as_ref().map(yaml_serde::Location::line),
                loc.as_ref().map(yaml_serde::Location::column),
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

    let positions = Positions::read(&text, is_yaml);

    // An empty directory (manifest in the working directory) keeps joined paths short:
    // `auth0_users.ndjson`, not `./auth0_users.ndjson`, in every message.
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = |needle: &str| find_position(&text, needle);
    // A pinned digest: 64 hex digits, compared in lowercase.
    let pin = |value: &Option<String>| -> Result<Option<String>, ManifestError> {
        match value {
            None => Ok(None),
            Some(v) if v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()) => {
                Ok(Some(v.to_ascii_lowercase()))
            }
            Some(v) => {
                let (l, c) = at(&format!("\"{v}\""));
                Err(invalid(
                    l,
                    c,
                    format!(
                        "`{v}` is not a SHA-256 (64 hex digits); `avnology-migrate pin` fills pins"
                    ),
                ))
            }
        }
    };

    // The manifest's url wins; then AVNOLOGY_API_URL. Either may say `sandbox` or
    // `sandbox:DIR`. There is no silent default: a manifest that names no tenant would
    // otherwise be planned against whatever a default points at, and fail far from the cause.
    let url_text = raw
        .target
        .url
        .clone()
        .or_else(|| env(env_vars::AVNOLOGY_API_URL).filter(|s| !s.trim().is_empty()));
    let url = match url_text.as_deref().unwrap_or_default() {
        "" => {
            let (l, c) = positions.target;
            let message = if l.is_some() {
                "[target] has no `url`: add url = \"sandbox\" or the tenant's URL (or set AVNOLOGY_API_URL)"
            } else {
                "no [target] table: add [target] url = \"sandbox\" or the tenant's URL (or set AVNOLOGY_API_URL)"
            };
            TargetUrl::Unset(invalid(l, c, message.into()).to_string())
        }
        "sandbox" => TargetUrl::Sandbox {
            dir: dir.join(".avnology-sandbox"),
        },
        s if s.starts_with("sandbox:") => TargetUrl::Sandbox {
            dir: dir.join(&s["sandbox:".len()..]),
        },
        s => TargetUrl::Remote(s.trim_end_matches('/').to_string()),
    };
    if let Some(org) = &raw.target.organization {
        let ok = ORG_NAME_LEN.contains(&org.len())
            && org
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            let (l, c) = at("organization");
            return Err(invalid(
                l,
                c,
                format!(
                    "organization `{org}` must be {}–{} characters of lowercase letters, digits and `-`",
                    ORG_NAME_LEN.start(),
                    ORG_NAME_LEN.end()
                ),
            ));
        }
    }

    let mut users = Vec::new();
    for (i, source) in raw.users.iter().enumerate() {
        let spans = positions.users.get(i);
        let (l, c) = spans
            .and_then(|s| s.name)
            .unwrap_or_else(|| at(&format!("\"{}\"", source.name)));
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
        if source.name == MANIFEST_CLIENTS {
            return Err(invalid(
                l,
                c,
                format!(
                    "a [[users]] source is named `{MANIFEST_CLIENTS}`, the source name of [[clients]]: source names are unique across [[users]] and [[clients]]; rename it"
                ),
            ));
        }
        let path = dir.join(&source.path);
        let (pl, pc) = spans
            .and_then(|s| s.path)
            .unwrap_or_else(|| at(&source.path));
        must_exist(&path, &format!("source `{}`", source.name)).map_err(|m| invalid(pl, pc, m))?;
        let passwords = source.passwords.as_ref().map(|p| dir.join(p));
        if let (Some(p), Some(raw_path)) = (&passwords, &source.passwords) {
            let (pl, pc) = spans
                .and_then(|s| s.passwords)
                .unwrap_or_else(|| at(raw_path));
            must_exist(p, &format!("source `{}`: passwords", source.name))
                .map_err(|m| invalid(pl, pc, m))?;
        }
        users.push(UserSource {
            name: source.name.clone(),
            provider: source.provider,
            path,
            passwords,
            firebase_hash,
            sha256: pin(&source.sha256)?,
            passwords_sha256: pin(&source.passwords_sha256)?,
        });
    }

    for field in &raw.policy.ignore_changes {
        if !crate::model::is_known_field(field) {
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
    for (i, c) in raw.client_sources.iter().enumerate() {
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| c.provider.as_str().to_string());
        let spans = positions.client_sources.get(i);
        let (pl, pc) = spans
            .and_then(|s| s.path)
            .unwrap_or_else(|| at(&format!("\"{}\"", c.path)));
        // A named source points at its name; one named after its provider, at its path.
        let (l, col) = match (spans.and_then(|s| s.name), &c.name) {
            (Some(pos), _) => pos,
            (None, Some(n)) => at(&format!("\"{n}\"")),
            (None, None) => (pl, pc),
        };
        // Each source owns the objects marked with its name, and its counts are tallied by
        // name: a users source and a client source of one name would share both.
        if let Some((j, _)) = raw.users.iter().enumerate().find(|(_, u)| u.name == name) {
            let (ul, _) = positions
                .users
                .get(j)
                .and_then(|s| s.name)
                .unwrap_or_else(|| at(&format!("\"{name}\"")));
            let users_at = ul.map(|n| format!(" (line {n})")).unwrap_or_default();
            let named = if c.name.is_some() {
                "is named"
            } else {
                "takes its provider's name"
            };
            return Err(invalid(
                l,
                col,
                format!(
                    "this [[client_sources]] entry {named} `{name}`, like the [[users]] source{users_at}: source names are unique across [[users]] and [[clients]]; give one a distinct `name`"
                ),
            ));
        }
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
        let path = dir.join(&c.path);
        must_exist(&path, &format!("client source `{name}`")).map_err(|m| invalid(pl, pc, m))?;
        client_sources.push(ClientSource {
            sha256: pin(&c.sha256)?,
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
            adopt: raw.policy.adopt,
        },
        sha256,
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

/// Where the values that checks point at are written: 1-based line and column.
type Position = (Option<usize>, Option<usize>);

/// The positions of the manifest's parts, for messages. TOML is read again with spans; YAML's
/// serde API has none, so there only the `[target]` table's presence is known and the checks
/// fall back to searching the text.
#[derive(Debug, Default)]
struct Positions {
    /// The `[target]` table (line only), or `(None, None)` when there is none.
    target: Position,
    /// Per `[[users]]` entry.
    users: Vec<SourcePositions>,
    /// Per `[[client_sources]]` entry.
    client_sources: Vec<SourcePositions>,
}

/// Where one source's values are.
#[derive(Debug, Default, Clone, Copy)]
struct SourcePositions {
    name: Option<Position>,
    path: Option<Position>,
    passwords: Option<Position>,
}

impl Positions {
    fn read(text: &str, is_yaml: bool) -> Positions {
        #[derive(serde::Deserialize)]
        struct Spans {
            target: Option<toml::Spanned<serde::de::IgnoredAny>>,
            #[serde(default)]
            users: Vec<SourceSpans>,
            #[serde(default)]
            client_sources: Vec<SourceSpans>,
        }
        #[derive(serde::Deserialize)]
        struct SourceSpans {
            name: Option<toml::Spanned<serde::de::IgnoredAny>>,
            path: Option<toml::Spanned<serde::de::IgnoredAny>>,
            passwords: Option<toml::Spanned<serde::de::IgnoredAny>>,
        }
        if is_yaml {
            let has_target = yaml_serde::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.get("target").is_some());
            return Positions {
                target: if has_target {
                    find_position(text, "target")
                } else {
                    (None, None)
                },
                ..Positions::default()
            };
        }
        let Ok(spans) = toml::from_str::<Spans>(text) else {
            return Positions::default();
        };
        let at = |s: &Option<toml::Spanned<serde::de::IgnoredAny>>| {
            s.as_ref().map(|s| {
                let (l, c) = line_col(text, s.span().start);
                (Some(l), Some(c))
            })
        };
        let sources = |list: &[SourceSpans]| {
            list.iter()
                .map(|s| SourcePositions {
                    name: at(&s.name),
                    path: at(&s.path),
                    passwords: at(&s.passwords),
                })
                .collect()
        };
        Positions {
            // A table's span covers its keys; its header is the line it is named on.
            target: match &spans.target {
                Some(_) => match find_position(text, "[target]") {
                    (Some(l), c) => (Some(l), c),
                    _ => at(&spans.target).unwrap_or_default(),
                },
                None => (None, None),
            },
            users: sources(&spans.users),
            client_sources: sources(&spans.client_sources),
        }
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
        for f in [
            "exports/users.ndjson",
            "exports/passwords.ndjson",
            "fb.json",
        ] {
            std::fs::create_dir_all(d.path().join(f).parent().unwrap()).unwrap();
            write(d.path(), f, "");
        }
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
        write(d.path(), "u.ndjson", "");
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
            "[target]\nurl = \"sandbox\"\n[[users]]\nname = \"a\"\nprovider = \"clerk\"\npath = \"u.csv\"\npasswords = \"p\"\n",
        );
        assert!(
            load_with_env(&p, &env)
                .unwrap_err()
                .to_string()
                .contains("only for provider `auth0`")
        );
        write(d.path(), "u", "");
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"u\"\n[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"v\"\n",
        );
        assert!(
            load_with_env(&p, &env)
                .unwrap_err()
                .to_string()
                .contains("two [[users]] sources")
        );
    }

    #[test]
    fn url_comes_from_the_manifest_or_the_environment_and_nowhere_else() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "m.toml", "[policy]\nprune = false\n");
        let m = load_with_env(&p, &|n| {
            (n == "AVNOLOGY_API_URL").then(|| "http://127.0.0.1:9".into())
        })
        .unwrap();
        assert_eq!(m.target.url, TargetUrl::Remote("http://127.0.0.1:9".into()));
        // No silent default: what reaches the tenant is told what is missing and how to
        // give it.
        let unset = |p: &Path| match load_with_env(p, &|_| None).unwrap().target.url {
            TargetUrl::Unset(message) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            unset(&p),
            format!(
                "{}: no [target] table: add [target] url = \"sandbox\" or the tenant's URL (or set AVNOLOGY_API_URL)",
                p.display()
            )
        );
        let p = write(d.path(), "m.toml", "\n[target]\norganization = \"acme\"\n");
        let e = unset(&p);
        assert!(e.contains("m.toml:2:1: [target] has no `url`"), "{e}");
        let p = write(d.path(), "m.yaml", "target:\n  organization: acme\n");
        let e = unset(&p);
        assert!(e.contains("m.yaml:1:1: [target] has no `url`"), "{e}");
    }

    #[test]
    fn a_missing_source_file_names_its_manifest_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "users.ndjson", "");
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n\n[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n\n[[users]]\nname = \"b\"\nprovider = \"auth0\"\npath = \"missing.json\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}:12:8: source `b`: `{}` does not exist",
                p.display(),
                d.path().join("missing.json").display()
            )
        );
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n[[users]]\nname = \"a\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\npasswords = \"nope.ndjson\"\n[[client_sources]]\nprovider = \"auth0\"\npath = \"clients.json\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(e.contains("m.toml:7:13: source `a`: passwords: `"), "{e}");
        write(d.path(), "nope.ndjson", "");
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(
            e.contains("m.toml:10:8: client source `auth0`: `") && e.contains("clients.json"),
            "{e}"
        );
    }

    #[test]
    fn users_and_client_sources_do_not_share_a_name() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "users.ndjson", "");
        write(d.path(), "clients.json", "[]");
        // A client source without a name takes its provider's.
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n\n[[users]]\nname = \"auth0\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n\n[[client_sources]]\nprovider = \"auth0\"\npath = \"clients.json\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(
            e.contains("m.toml:11:8: this [[client_sources]] entry takes its provider's name `auth0`, like the [[users]] source (line 5): source names are unique across [[users]] and [[clients]]"),
            "{e}"
        );
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n[[users]]\nname = \"prod\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n[[client_sources]]\nname = \"prod\"\nprovider = \"auth0\"\npath = \"clients.json\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(
            e.contains("m.toml:8:8: this [[client_sources]] entry is named `prod`, like the [[users]] source (line 4)"),
            "{e}"
        );
        let p = write(
            d.path(),
            "m.toml",
            "[target]\nurl = \"sandbox\"\n[[users]]\nname = \"manifest\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n",
        );
        let e = load_with_env(&p, &env).unwrap_err().to_string();
        assert!(
            e.contains("m.toml:4:8: a [[users]] source is named `manifest`"),
            "{e}"
        );
    }
}
