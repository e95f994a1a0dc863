//! The harness of the provider-example checks (`providers_*.rs`): a copy of one example
//! (examples/auth0, clerk, firebase, cognito) targeting its own emulator process, with every
//! command's output recorded for the secret scans; the identities an export should produce,
//! checked against the tenant; and the shared flow: apply, check, re-plan empty, log in.
//!
//! Every expectation is derived from the example's own export files, parsed by the provider's
//! file, following the mapping table of DESIGN.md section 4: each user with an email becomes
//! exactly one identity with its fields mapped, phone-only and anonymous users are skipped and
//! listed, and migrated users log in with their original passwords.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use serde_json::{Map, Value, json};

use super::common::{Emulator, Workdir, assert_no_secrets, output_text};
use super::providers_clients::{Clients, check_clients, check_secrets_file};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A copy of one example targeting its own emulator, with every command's output recorded
/// for the secret scans.
pub(crate) struct Example {
    pub(crate) w: Workdir,
    pub(crate) emu: Emulator,
    env: Vec<(String, String)>,
    pub(crate) transcript: String,
}

impl Example {
    /// A copy of `examples/{name}` whose manifest's `url = "sandbox"` line is removed, so
    /// AVNOLOGY_API_URL (the emulator) is the target.
    pub(crate) fn start(name: &str, emulator_flags: &[&str]) -> Example {
        let emu = Emulator::start(emulator_flags);
        let w = Workdir::new();
        w.copy_from_repo(&format!("examples/{name}"));
        let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
        let mut kept = String::new();
        for line in manifest.lines() {
            if !line.trim_start().starts_with("url") {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        let manifest = kept;
        w.write("migration.toml", &manifest);
        Example {
            w,
            emu,
            env: Vec::new(),
            transcript: String::new(),
        }
    }

    pub(crate) fn with_env(mut self, key: &str, value: &str) -> Example {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Runs the binary in the copy, recording its output.
    pub(crate) fn run(&mut self, args: &[&str]) -> Output {
        let mut c = self.w.cmd(Some(&self.emu));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        self.transcript.push_str(&output_text(&out));
        out
    }

    /// Runs the binary and requires exit 0; returns stdout and stderr.
    pub(crate) fn ok(&mut self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        text
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.w.path(rel)).unwrap()
    }

    pub(crate) fn manifest(&self) -> Value {
        toml::from_str(&self.read("migration.toml")).unwrap()
    }

    /// The emulator's stderr so far.
    pub(crate) fn emulator_log(&self) -> String {
        self.emu.stderr.lock().unwrap().clone()
    }

    /// No secret in any command output of this test nor in the emulator's stderr.
    pub(crate) fn assert_clean(&self, secrets: &[String]) {
        if secrets.is_empty() {
            return;
        }
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_no_secrets(&self.transcript, &refs, "a command's stdout/stderr");
        assert_no_secrets(&self.emulator_log(), &refs, "the emulator's stderr");
    }
}

pub(crate) const APPLY: [&str; 6] = [
    "apply",
    "-m",
    "migration.toml",
    "--auto-approve",
    "--secrets-out",
    "secrets.ndjson",
];
pub(crate) const REPLAN: [&str; 4] = ["plan", "-m", "migration.toml", "--detailed-exitcode"];

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every object of a paged admin list.
fn list_all(emu: &Emulator, base: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sep = if base.contains('?') { '&' } else { '?' };
        let path = match &token {
            Some(t) => format!("{base}{sep}page_size=100&page_token={}", urlencode(t)),
            None => format!("{base}{sep}page_size=100"),
        };
        let (status, body) = emu.call("GET", &path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        let items = body[key]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: no `{key}` list in {body}"));
        out.extend(items.iter().cloned());
        match body["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    out
}

fn by_external_id(items: Vec<Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for item in items {
        let id = item["external_id"].as_str().unwrap_or_default().to_string();
        assert!(
            out.insert(id.clone(), item).is_none(),
            "two live objects with external_id `{id}`"
        );
    }
    out
}

pub(crate) fn live_identities(emu: &Emulator) -> BTreeMap<String, Value> {
    // Linked providers come in a listing only when asked for.
    by_external_id(list_all(
        emu,
        "/v1/identities?include_linked_providers=true",
        "identities",
    ))
}

pub(crate) fn live_clients(emu: &Emulator) -> BTreeMap<String, Value> {
    by_external_id(list_all(emu, "/v1/oauth-clients", "oauth_clients"))
}

pub(crate) fn live_service_accounts(emu: &Emulator) -> BTreeMap<String, Value> {
    by_external_id(list_all(emu, "/v1/service-accounts", "service_accounts"))
}

/// Rows of organizations, identities, OAuth clients and service accounts in the emulator.
pub(crate) fn db_counts(emu: &Emulator) -> [i64; 4] {
    let db = emu.db();
    [
        "organizations",
        "identities",
        "oauth_clients",
        "service_accounts",
    ]
    .map(|t| {
        db.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    })
}

pub(crate) fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The rows of a `identifier,password` CSV.
pub(crate) fn logins(path: &Path) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["identifier", "password"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[1].to_string())
        })
        .collect()
}

/// Lines of a text plan that announce an in-place change (`~ …`).
pub(crate) fn tilde_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("~ "))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Expected identities
// ---------------------------------------------------------------------------------------

/// One identity an export should produce.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    pub(crate) external_id: String,
    /// Top-level identity fields and their exact values.
    pub(crate) fields: Map<String, Value>,
    /// `traits` keys and their exact values.
    pub(crate) traits: Map<String, Value>,
    /// `admin_metadata` keys and their exact values.
    pub(crate) admin_metadata: Map<String, Value>,
    pub(crate) inactive: bool,
    pub(crate) linked: usize,
    pub(crate) has_password: bool,
}

impl Expected {
    pub(crate) fn new(external_id: &str) -> Expected {
        Expected {
            external_id: external_id.to_string(),
            ..Expected::default()
        }
    }

    pub(crate) fn set(&mut self, field: &str, value: Option<&Value>) {
        if let Some(v) = value.filter(|v| !v.is_null() && v.as_str() != Some("")) {
            self.fields.insert(field.to_string(), v.clone());
        }
    }
}

/// The users of a source and the external ids of the records that must be skipped.
pub(crate) struct Users {
    pub(crate) expected: Vec<Expected>,
    pub(crate) skipped: Vec<String>,
}

/// Checks that the tenant holds exactly `users.expected`, each with its mapped fields and
/// the owner marker of `source`, and none of `users.skipped`.
pub(crate) fn check_identities(
    emu: &Emulator,
    users: &Users,
    source: &str,
) -> BTreeMap<String, Value> {
    let live = live_identities(emu);
    let want: BTreeSet<&str> = users
        .expected
        .iter()
        .map(|e| e.external_id.as_str())
        .collect();
    let have: BTreeSet<&str> = live.keys().map(String::as_str).collect();
    assert_eq!(
        have, want,
        "the tenant holds exactly the export's users with an email"
    );
    for s in &users.skipped {
        assert!(!live.contains_key(s), "skipped record `{s}` was created");
    }
    for e in &users.expected {
        let id = &e.external_id;
        let l = &live[id];
        assert_eq!(l["external_id"], json!(id));
        for (k, v) in &e.fields {
            assert_eq!(&l[k], v, "{id}: field `{k}` in {l}");
        }
        for (k, v) in &e.traits {
            assert_eq!(&l["traits"][k], v, "{id}: traits.{k} in {l}");
        }
        for (k, v) in &e.admin_metadata {
            assert_eq!(
                &l["admin_metadata"][k], v,
                "{id}: admin_metadata.{k} in {l}"
            );
        }
        assert_eq!(
            l["state"],
            if e.inactive { "inactive" } else { "active" },
            "{id}: state in {l}"
        );
        assert_eq!(
            l["linked_providers"].as_array().map_or(0, Vec::len),
            e.linked,
            "{id}: linked providers in {l}"
        );
        assert_eq!(
            l["has_password"],
            json!(e.has_password),
            "{id}: has_password in {l}"
        );
        assert_eq!(
            l["admin_metadata"]["avnology_migrate"]["source"], source,
            "{id}: owner marker in {l}"
        );
        assert!(
            l.get("password_hash").is_none(),
            "{id}: a hash is readable back: {l}"
        );
    }
    live
}

// ---------------------------------------------------------------------------------------
// The shared flow
// ---------------------------------------------------------------------------------------

/// `apply --auto-approve --secrets-out`, then: identities mapped, clients as expected,
/// secrets file sound, and an empty plan that still lists every skipped record.
pub(crate) fn apply_check_and_replan(
    ex: &mut Example,
    users: &Users,
    source: &str,
    clients: &Clients,
    owner: Option<&str>,
) -> (BTreeMap<String, Value>, Vec<String>) {
    assert!(
        !users.skipped.is_empty(),
        "every example has a record to skip"
    );
    ex.ok(&APPLY);
    let live = check_identities(&ex.emu, users, source);
    check_clients(&ex.emu, clients, owner);
    let secrets = check_secrets_file(ex, "secrets.ndjson");

    let out = ex.run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "second plan: {text}");
    assert!(text.contains("No changes."), "{text}");
    for s in &users.skipped {
        assert!(
            text.contains(&format!("`{s}`")),
            "skipped `{s}` is not listed: {text}"
        );
    }
    ex.assert_clean(&secrets);
    (live, secrets)
}

/// `verify --logins logins.csv` succeeds for every row, and echoes no password.
pub(crate) fn verify_logins(ex: &mut Example, live: &BTreeMap<String, Value>) {
    let rows = logins(&ex.w.path("logins.csv"));
    assert!(!rows.is_empty());
    for (identifier, _) in &rows {
        let user = live
            .values()
            .find(|i| i["email"] == identifier.as_str())
            .unwrap_or_else(|| panic!("logins.csv names `{identifier}`, who was not migrated"));
        assert_eq!(
            user["has_password"], true,
            "logins.csv names `{identifier}`, who has no password"
        );
        assert_eq!(
            user["state"], "active",
            "logins.csv names an inactive user `{identifier}`"
        );
    }
    let text = ex.ok(&["verify", "-m", "migration.toml", "--logins", "logins.csv"]);
    let n = rows.len();
    assert!(
        text.contains(&format!("logins: {n} of {n} succeeded")),
        "{text}"
    );
    for (_, password) in &rows {
        assert!(
            !text.contains(password.as_str()),
            "verify echoed a password: {text}"
        );
    }
}
