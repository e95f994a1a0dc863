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
