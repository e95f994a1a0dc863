//! OAuth clients and service accounts of the provider examples, and the secrets minted for
//! them: the expected clients (after the manifest's rewrite rules), checked against the
//! tenant; redirect URIs kept in order, one edited or reordered URI one in-place update; minted
//! secrets in the `--secrets-out` file once and nowhere else.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use super::common::{Emulator, assert_no_secrets, output_text, wait_until};
use super::providers::{
    APPLY, Example, REPLAN, db_counts, live_clients, live_identities, live_service_accounts,
    ndjson, strings, tilde_lines,
};
use super::providers_auth0::{auth0_client, auth0_clients};
use super::providers_clerk::clerk_clients;

// ---------------------------------------------------------------------------------------
// Expected clients and service accounts
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
pub(crate) struct ExpClient {
    pub(crate) external_id: String,
    /// The client source's name (None: declared in the manifest).
    pub(crate) source: Option<String>,
    pub(crate) name: String,
    pub(crate) confidential: bool,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) post_logout_redirect_uris: Vec<String>,
    /// Compared as a set: the merge order of Auth0's two origin lists is not specified.
    pub(crate) allowed_origins: Option<BTreeSet<String>>,
}

#[derive(Debug)]
pub(crate) struct ExpSa {
    pub(crate) external_id: String,
    pub(crate) source: String,
    pub(crate) name: String,
}

#[derive(Debug, Default)]
pub(crate) struct Clients {
    pub(crate) clients: Vec<ExpClient>,
    pub(crate) service_accounts: Vec<ExpSa>,
}

/// A source's `[[client_sources.rewrite]]` rules, in order.
pub(crate) fn rewrite_rules(source: &Value) -> Vec<(String, String)> {
    source["rewrite"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    (
                        r["from"].as_str().unwrap().to_string(),
                        r["to"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Applies the rewrite rules, in order, to one URI (each replaces a prefix).
fn rewrite(uri: &str, rules: &[(String, String)]) -> String {
    let mut u = uri.to_string();
    for (from, to) in rules {
        if let Some(rest) = u.strip_prefix(from.as_str()) {
            u = format!("{to}{rest}");
        }
    }
    u
}

pub(crate) fn rewrite_all(uris: &[String], rules: &[(String, String)]) -> Vec<String> {
    uris.iter().map(|u| rewrite(u, rules)).collect()
}

/// An origin as Avnology stores it: no trailing `/`.
pub(crate) fn origin(o: &str, rules: &[(String, String)]) -> String {
    rewrite(o, rules).trim_end_matches('/').to_string()
}

/// The `[[clients]]` declared in the manifest.
pub(crate) fn declared_clients(manifest: &Value, out: &mut Clients) {
    for c in manifest["clients"].as_array().into_iter().flatten() {
        out.clients.push(ExpClient {
            external_id: c["key"].as_str().unwrap().to_string(),
            source: None,
            name: c["name"].as_str().unwrap().to_string(),
            confidential: c["type"] == "confidential",
            redirect_uris: strings(&c["redirect_uris"]),
            post_logout_redirect_uris: strings(&c["post_logout_redirect_uris"]),
            allowed_origins: Some(strings(&c["allowed_origins"]).into_iter().collect()),
        });
    }
}

/// Checks that the tenant holds exactly the expected clients and service accounts, and that
/// service accounts are owned by the manifest's `service_account_owner`.
pub(crate) fn check_clients(emu: &Emulator, want: &Clients, owner_email: Option<&str>) {
    let live = live_clients(emu);
    let expected: BTreeSet<&str> = want
        .clients
        .iter()
        .map(|c| c.external_id.as_str())
        .collect();
    assert_eq!(
        live.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "the tenant holds exactly the expected OAuth clients"
    );
    for c in &want.clients {
        let id = &c.external_id;
        let l = &live[id];
        assert_eq!(l["client_name"], json!(c.name), "{id}: {l}");
        let (kind, method) = if c.confidential {
            ("confidential", None)
        } else {
            ("public", Some("none"))
        };
        assert_eq!(l["client_type"], kind, "{id}: {l}");
        if let Some(m) = method {
            assert_eq!(l["token_endpoint_auth_method"], m, "{id}: {l}");
        } else {
            assert_ne!(l["token_endpoint_auth_method"], "none", "{id}: {l}");
        }
        assert_eq!(
            strings(&l["redirect_uris"]),
            c.redirect_uris,
            "{id}: redirect_uris in the export's order, rewritten: {l}"
        );
        assert_eq!(
            strings(&l["post_logout_redirect_uris"]),
            c.post_logout_redirect_uris,
            "{id}: post_logout_redirect_uris: {l}"
        );
        if let Some(origins) = &c.allowed_origins {
            let live_origins = strings(&l["allowed_origins"]);
            assert_eq!(
                live_origins.iter().cloned().collect::<BTreeSet<_>>(),
                *origins,
                "{id}: allowed_origins: {l}"
            );
            assert_eq!(
                live_origins.len(),
                origins.len(),
                "{id}: repeated origins: {l}"
            );
        }
        // Only OAuth 2.1 grants; never client_credentials on a public client.
        for g in strings(&l["grant_types"]) {
            assert!(
                ["authorization_code", "refresh_token", "client_credentials"].contains(&g.as_str()),
                "{id}: grant `{g}` migrated: {l}"
            );
            assert!(
                c.confidential || g != "client_credentials",
                "{id}: public client with client_credentials: {l}"
            );
        }
        match &c.source {
            Some(s) => assert_eq!(
                l["metadata"]["avnology_migrate"]["source"],
                json!(s),
                "{id}: {l}"
            ),
            None => assert!(
                l["metadata"]["avnology_migrate"].is_object(),
                "{id}: no owner marker: {l}"
            ),
        }
    }

    let live = live_service_accounts(emu);
    let expected: BTreeSet<&str> = want
        .service_accounts
        .iter()
        .map(|s| s.external_id.as_str())
        .collect();
    assert_eq!(
        live.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "the tenant holds exactly the expected service accounts"
    );
    if want.service_accounts.is_empty() {
        return;
    }
    let owner_email = owner_email.expect("service accounts need service_account_owner");
    let owner = live_identities(emu)
        .into_values()
        .find(|i| i["email"] == owner_email)
        .unwrap_or_else(|| panic!("the owner {owner_email} is not in the tenant"));
    for s in &want.service_accounts {
        let id = &s.external_id;
        let l = &live[id];
        assert_eq!(l["name"], json!(s.name), "{id}: {l}");
        assert_eq!(
            l["owner_id"], owner["id"],
            "{id}: owned by {owner_email}: {l}"
        );
        assert_eq!(
            l["metadata"]["avnology_migrate"]["source"],
            json!(s.source),
            "{id}: {l}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()).as_slice())
}

/// Checks the `--secrets-out` file against the tenant: mode 0600, the line naming the plan,
/// then exactly one line per confidential client and service account (and nothing else),
/// each value unique, present
/// once, and the very secret the emulator stored the digest of. Returns the secret values.
pub(crate) fn check_secrets_file(ex: &Example, rel: &str) -> Vec<String> {
    let emu = &ex.emu;
    let clients = live_clients(emu);
    let sas = live_service_accounts(emu);
    let mut want: BTreeSet<(String, String)> = clients
        .iter()
        .filter(|(_, c)| c["client_type"] == "confidential")
        .map(|(k, _)| ("oauth_client".to_string(), k.clone()))
        .collect();
    want.extend(
        sas.keys()
            .map(|k| ("service_account".to_string(), k.clone())),
    );

    let path = ex.w.path(rel);
    if want.is_empty() {
        // Nothing minted: no file, or an empty private one.
        if path.exists() {
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "{rel}");
        }
        return Vec::new();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{rel} has mode {mode:o}");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = ndjson(&path);
    // The first line names the plan whose apply created the file.
    let header = lines.remove(0);
    assert_eq!(header["kind"], "plan", "{rel} starts with {header}");
    assert_eq!(
        header["plan_id"].as_str().map(str::len),
        Some(64),
        "{header}"
    );
    let mut got = BTreeSet::new();
    let mut secrets = Vec::new();
    let db = emu.db();
    for line in &lines {
        let kind = line["kind"].as_str().unwrap().to_string();
        let key = line["key"].as_str().unwrap().to_string();
        let secret = match kind.as_str() {
            "oauth_client" => {
                let secret = line["client_secret"].as_str().unwrap().to_string();
                let client_id = line["client_id"].as_str().unwrap();
                assert_eq!(clients[&key]["client_id"], client_id, "{line}");
                let stored: String = db
                    .query_row(
                        "SELECT client_secret_sha256 FROM oauth_clients WHERE client_id = ?1",
                        [client_id],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(
                    stored,
                    sha256_hex(&secret),
                    "{key}: the file's secret is not the client's"
                );
                secret
            }
            "service_account" => {
                let api_key = line["api_key"].as_str().unwrap().to_string();
                let sa_id = line["service_account_id"].as_str().unwrap();
                assert_eq!(sas[&key]["id"], sa_id, "{line}");
                let n: i64 = db
                    .query_row(
                        "SELECT COUNT(*) FROM service_account_keys WHERE service_account_id = ?1 AND key_sha256 = ?2",
                        rusqlite::params![sa_id, sha256_hex(&api_key)],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1, "{key}: the file's API key is not the account's");
                api_key
            }
            other => panic!("unknown kind `{other}` in {rel}"),
        };
        assert!(secret.len() >= 16, "{key}: a short secret");
        assert_eq!(
            text.matches(&secret).count(),
            1,
            "{key}: secret written more than once"
        );
        assert!(
            got.insert((kind.clone(), key.clone())),
            "{kind} `{key}` has two lines in {rel}"
        );
        secrets.push(secret);
    }
    assert_eq!(
        got, want,
        "one line per confidential client and service account"
    );
    assert_eq!(lines.len(), want.len());
    let unique: BTreeSet<&String> = secrets.iter().collect();
    assert_eq!(unique.len(), secrets.len(), "minted values are unique");
    secrets
}

// ---------------------------------------------------------------------------------------
// 4: OAuth clients — redirect URI edits and reorders are in-place list updates
// ---------------------------------------------------------------------------------------

#[test]
fn auth0_client_redirect_uri_edit_and_reorder_are_in_place_updates() {
    let mut ex = Example::start("auth0", &[]);
    let owner = ex.manifest()["target"]["service_account_owner"]
        .as_str()
        .map(str::to_string);
    ex.ok(&APPLY);
    check_clients(&ex.emu, &auth0_clients(&ex.w), owner.as_deref());

    // 1. One redirect URI of the hand-declared client changes.
    let manifest = ex.manifest();
    let decl = &manifest["clients"][0];
    let key = decl["key"].as_str().unwrap().to_string();
    let uris = strings(&decl["redirect_uris"]);
    let n = uris.len() - 1;
    let old = uris[n].clone();
    let new = old.replacen("/callback", "/auth/callback", 1);
    assert_ne!(old, new);
    let text = ex.read("migration.toml");
    assert_eq!(text.matches(&format!("\"{old}\"")).count(), 1, "{text}");
    ex.w.write(
        "migration.toml",
        &text.replace(&format!("\"{old}\""), &format!("\"{new}\"")),
    );

    let out = ex.run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("~ oauth_client \"{key}\"")),
        "{text}"
    );
    assert!(
        text.contains(&format!("~ redirect_uris[{n}] = \"{old}\" -> \"{new}\"")),
        "{text}"
    );
    assert_eq!(
        tilde_lines(&text).len(),
        2,
        "exactly the client and its one list entry change: {text}"
    );
    assert!(
        text.contains("0 to create, 1 to update, 0 to deactivate, 0 to reactivate, 0 to delete"),
        "{text}"
    );
    // An update mints nothing, so it needs no --secrets-out.
    ex.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    let mut want = uris.clone();
    want[n] = new.clone();
    assert_eq!(strings(&live_clients(&ex.emu)[&key]["redirect_uris"]), want);
    let out = ex.run(&REPLAN);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

    // 2. Only the order of a source client's redirect URIs changes.
    let source = &manifest["client_sources"][0];
    let path = source["path"].as_str().unwrap();
    let rules = rewrite_rules(source);
    let mut records: Vec<Value> = serde_json::from_str(&ex.read(path)).unwrap();
    let mut probe = Clients::default();
    let idx = records
        .iter()
        .position(|r| {
            let before = probe.clients.len();
            auth0_client(r, "probe", &rules, &mut probe);
            probe.clients.len() > before && strings(&r["callbacks"]).len() >= 2
        })
        .expect("a client with two or more callbacks");
    let id = records[idx]["client_id"].as_str().unwrap().to_string();
    let before = rewrite_all(&strings(&records[idx]["callbacks"]), &rules);
    records[idx]["callbacks"].as_array_mut().unwrap().reverse();
    let after = rewrite_all(&strings(&records[idx]["callbacks"]), &rules);
    assert_ne!(before, after);
    ex.w.write(path, &serde_json::to_string_pretty(&records).unwrap());

    let out = ex.run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "a reorder is a change: {text}");
    assert!(text.contains(&format!("~ oauth_client \"{id}\"")), "{text}");
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if b != a {
            assert!(
                text.contains(&format!("~ redirect_uris[{i}] = \"{b}\" -> \"{a}\"")),
                "{text}"
            );
        }
    }
    assert!(text.contains("0 to create, 1 to update"), "{text}");
    ex.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    assert_eq!(strings(&live_clients(&ex.emu)[&id]["redirect_uris"]), after);
    let out = ex.run(&REPLAN);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

// ---------------------------------------------------------------------------------------
// 5: secrets — the file, once, and nowhere else
// ---------------------------------------------------------------------------------------

#[test]
fn minted_secrets_go_to_the_secrets_file_once_and_nowhere_else() {
    let mut ex = Example::start("auth0", &["--log-requests"]);
    ex.ok(&["plan", "-m", "migration.toml", "--out", "plan.json"]);
    ex.ok(&[
        "apply",
        "plan.json",
        "--secrets-out",
        "secrets.ndjson",
        "--log",
        "apply.ndjson",
        "--verbose",
    ]);
    let secrets = check_secrets_file(&ex, "secrets.ndjson");
    let file = ex.read("secrets.ndjson");
    assert!(file.contains("\"kind\":\"oauth_client\""), "{file}");
    assert!(file.contains("\"kind\":\"service_account\""), "{file}");
    let counts = db_counts(&ex.emu);

    // A second apply mints nothing: the file, the clients and the keys stay as they are.
    ex.ok(&[
        "apply",
        "-m",
        "migration.toml",
        "--auto-approve",
        "--secrets-out",
        "secrets.ndjson",
        "--log",
        "apply2.ndjson",
        "--verbose",
    ]);
    assert_eq!(
        ex.read("secrets.ndjson"),
        file,
        "a second apply changed the secrets file"
    );
    assert_eq!(db_counts(&ex.emu), counts);
    let keys: i64 = ex
        .emu
        .db()
        .query_row("SELECT COUNT(*) FROM service_account_keys", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        keys as usize,
        live_service_accounts(&ex.emu).len(),
        "one key per account"
    );

    let out = ex.run(&[
        "plan",
        "-m",
        "migration.toml",
        "--out",
        "plan2.json",
        "--detailed-exitcode",
        "--verbose",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for format in ["text", "json", "markdown"] {
        ex.ok(&["show", "plan.json", "--format", format]);
    }
    ex.ok(&[
        "verify",
        "-m",
        "migration.toml",
        "--logins",
        "logins.csv",
        "--verbose",
    ]);

    assert!(
        wait_until(Duration::from_secs(5), || ex
            .emulator_log()
            .contains("POST /v1/oauth-clients")),
        "the emulator logged no requests: {}",
        ex.emulator_log()
    );
    ex.assert_clean(&secrets);
    // Every file the commands wrote (plan files, logs, journal), except the secrets file.
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut scanned = Vec::new();
    let mut stack = vec![ex.w.dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != "secrets.ndjson" {
                let bytes = std::fs::read(&path).unwrap();
                assert_no_secrets(
                    &String::from_utf8_lossy(&bytes),
                    &refs,
                    &path.display().to_string(),
                );
                scanned.push(path.file_name().unwrap().to_string_lossy().to_string());
            }
        }
    }
    // (apply2.ndjson, of an apply with nothing to do, is scanned if it was written at all.)
    for f in ["plan.json", "plan2.json", "apply.ndjson"] {
        assert!(
            scanned.iter().any(|s| s == f),
            "{f} was not written: {scanned:?}"
        );
    }
}

#[test]
fn apply_creating_a_confidential_client_without_secrets_out_changes_nothing() {
    let mut ex = Example::start("clerk", &["--log-requests"]);
    let clients = clerk_clients(&ex.w);
    assert!(clients.clients.iter().any(|c| c.confidential));
    let text = ex.ok(&["plan", "-m", "migration.toml", "--out", "plan.json"]);
    assert!(
        text.contains("+ oauth_client") && text.contains("\"confidential\""),
        "{text}"
    );

    for args in [
        &["apply", "plan.json"][..],
        &["apply", "-m", "migration.toml", "--auto-approve"][..],
    ] {
        let out = ex.run(args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("--secrets-out"), "{args:?}: {text}");
        assert!(text.contains("hint:"), "{args:?}: {text}");
        assert_eq!(
            db_counts(&ex.emu),
            [0, 0, 0, 0],
            "{args:?} changed something: {text}"
        );
    }
    let log = ex.emulator_log();
    assert!(!log.contains("POST /v1/"), "a write reached the API: {log}");
    assert!(!ex.w.path("secrets.ndjson").exists());

    // The same saved plan applies once the secrets have somewhere to go.
    ex.ok(&["apply", "plan.json", "--secrets-out", "secrets.ndjson"]);
    check_clients(&ex.emu, &clients, None);
    let secrets = check_secrets_file(&ex, "secrets.ndjson");
    assert_eq!(
        secrets.len(),
        clients.clients.iter().filter(|c| c.confidential).count()
    );
    ex.assert_clean(&secrets);
}
