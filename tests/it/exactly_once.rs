//! Issue 15: exactly-once, proven rather than assumed. The emulator runs with
//! `--no-unique-external-id`, so nothing on the server stops a second identity, OAuth client
//! or service account with the same `external_id`: only the tool's idempotency keys, its
//! journal and its lookups do. Its `create_log` table counts every create that committed
//! (an idempotent replay writes none, a later delete removes none), and each test asserts
//! one create per object over the whole run, not just the rows that survived.
//!
//! Kills are triggered by progress (the number of changes in the `--log` file), several per
//! run, each checked to have landed mid-apply; faults include a connection dropped after
//! the write committed. Both runs include confidential and public clients, service accounts
//! and `--secrets-out`, whose file is checked against the secrets the emulator stored.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{Emulator, Workdir, assert_no_secrets, bin, output_text, wait_until};

/// The objects a workload declares.
struct Workload {
    w: Workdir,
    users: usize,
    confidential: usize,
    public: usize,
    service_accounts: usize,
}

impl Workload {
    /// Every change of the plan: the organization, then users, clients and accounts.
    fn changes(&self) -> usize {
        1 + self.users + self.confidential + self.public + self.service_accounts
    }
}

/// `users` Auth0 users, and an Auth0 Management API client export with `confidential`
/// regular web apps, `public` single-page apps and `service_accounts` machine-to-machine
/// apps (which become service accounts owned by the first user).
fn workload(users: usize, confidential: usize, public: usize, service_accounts: usize) -> Workload {
    let w = Workdir::new();
    let mut export = String::new();
    for i in 0..users {
        export.push_str(&format!(
            "{{\"user_id\":\"auth0|once-{i:05}\",\"email\":\"once{i:05}@example.com\",\"email_verified\":true}}\n"
        ));
    }
    w.write("users.ndjson", &export);
    let mut apps = Vec::new();
    for i in 0..confidential {
        apps.push(serde_json::json!({
            "name": format!("Web {i}"), "client_id": format!("webOnceExampleClientId{i:010}"),
            "app_type": "regular_web", "callbacks": [format!("https://web{i}.example.com/callback")],
        }));
    }
    for i in 0..public {
        apps.push(serde_json::json!({
            "name": format!("Spa {i}"), "client_id": format!("spaOnceExampleClientId{i:010}"),
            "app_type": "spa", "callbacks": [format!("https://spa{i}.example.com/callback")],
        }));
    }
    for i in 0..service_accounts {
        apps.push(serde_json::json!({
            "name": format!("Job {i}"), "client_id": format!("jobOnceExampleClientId{i:010}"),
            "app_type": "non_interactive", "grant_types": ["client_credentials"],
        }));
    }
    w.write("clients.json", &serde_json::to_string(&apps).unwrap());
    w.write(
        "migration.toml",
        "[target]\norganization = \"once\"\nservice_account_owner = \"once00000@example.com\"\n\n\
         [[users]]\nname = \"app\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n\n\
         [[client_sources]]\nname = \"apps\"\nprovider = \"auth0\"\npath = \"clients.json\"\n",
    );
    Workload {
        w,
        users,
        confidential,
        public,
        service_accounts,
    }
}

/// The emulator for these tests: no `external_id` uniqueness, plus `extra` flags.
fn emulator(extra: &[&str]) -> Emulator {
    let mut flags = vec!["--no-unique-external-id"];
    flags.extend_from_slice(extra);
    Emulator::start(&flags)
}

fn plan(wl: &Workload, emu: &Emulator) {
    let out =
        wl.w.cmd(Some(emu))
            .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
}

const APPLY: [&str; 8] = [
    "apply",
    "plan.json",
    "--log",
    "apply.ndjson",
    "--secrets-out",
    "secrets.ndjson",
    "--concurrency",
    "2",
];

fn spawn_apply(wl: &Workload, emu: &Emulator) -> Child {
    Command::new(bin())
        .current_dir(wl.w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AVNOLOGY_MIGRATE_FAST_RETRY", "1")
        .env("AVNOLOGY_API_URL", &emu.url)
        .env("AVNOLOGY_SECRET_KEY", &emu.api_key)
        .args(APPLY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The changes the `--log` file reports finished (applied or already applied), by kind and
/// key; a change logged again by a later run counts once.
fn logged(wl: &Workload) -> BTreeSet<(String, String)> {
    let Ok(text) = std::fs::read_to_string(wl.w.path("apply.ndjson")) else {
        return BTreeSet::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["outcome"] == "applied" || l["outcome"] == "already_applied")
        .map(|l| {
            (
                l["kind"].as_str().unwrap_or_default().to_string(),
                l["key"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Changes the journal holds as done.
fn journaled_done(wl: &Workload) -> i64 {
    let Ok(j) = rusqlite::Connection::open_with_flags(
        wl.w.path("plan.json.journal"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return 0;
    };
    j.query_row(
        "SELECT COUNT(*) FROM changes WHERE state = 'done'",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// Creates committed per (kind, external_id), over the emulator's whole life.
fn creates(emu: &Emulator) -> BTreeMap<(String, String), i64> {
    let db = emu.db();
    let mut stmt = db
        .prepare(
            "SELECT kind, external_id, COUNT(*) FROM create_log \
             WHERE external_id IS NOT NULL GROUP BY kind, external_id",
        )
        .unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every object of the workload was created exactly once, and the tenant holds exactly one
/// row per `external_id` of each kind.
fn assert_exactly_once(wl: &Workload, emu: &Emulator) {
    let creates = creates(emu);
    let twice: Vec<_> = creates.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "created more than once: {twice:?}");
    let per_kind = |kind: &str| creates.keys().filter(|(k, _)| k == kind).count();
    assert_eq!(per_kind("identity"), wl.users);
    assert_eq!(per_kind("oauth_client"), wl.confidential + wl.public);
    assert_eq!(per_kind("service_account"), wl.service_accounts);
    let db = emu.db();
    for (table, expected) in [
        ("identities", wl.users),
        ("oauth_clients", wl.confidential + wl.public),
        ("service_accounts", wl.service_accounts),
    ] {
        let (rows, distinct): (i64, i64) = db
            .query_row(
                &format!("SELECT COUNT(*), COUNT(DISTINCT external_id) FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (rows, distinct),
            (expected as i64, expected as i64),
            "{table}"
        );
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The secrets file holds one secret per confidential client and per service account, each
/// the one the emulator stored (by digest) for the object the line names, and every service
/// account has exactly that one key. Returns the secrets.
fn assert_secrets(wl: &Workload, emu: &Emulator) -> Vec<String> {
    let text = std::fs::read_to_string(wl.w.path("secrets.ndjson")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "plan", "{}", lines[0]);
    let db = emu.db();
    let mut seen = HashSet::new();
    let mut secrets = Vec::new();
    let (mut clients, mut accounts) = (0, 0);
    for l in &lines[1..] {
        let key = l["key"].as_str().unwrap();
        assert!(
            seen.insert((l["kind"].to_string(), key.to_string())),
            "written twice: {key}"
        );
        match l["kind"].as_str().unwrap() {
            "oauth_client" => {
                clients += 1;
                let secret = l["client_secret"].as_str().unwrap();
                let (external_id, digest): (String, String) = db
                    .query_row(
                        "SELECT external_id, client_secret_sha256 FROM oauth_clients WHERE client_id = ?1",
                        [l["client_id"].as_str().unwrap()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                assert_eq!(external_id, key);
                assert_eq!(digest, sha256_hex(secret), "{key}: not the live secret");
                secrets.push(secret.to_string());
            }
            "service_account" => {
                accounts += 1;
                let api_key = l["api_key"].as_str().unwrap();
                let id = l["service_account_id"].as_str().unwrap();
                let external_id: String = db
                    .query_row(
                        "SELECT external_id FROM service_accounts WHERE id = ?1",
                        [id],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(external_id, key);
                let keys: Vec<String> = db
                    .prepare(
                        "SELECT key_sha256 FROM service_account_keys WHERE service_account_id = ?1",
                    )
                    .unwrap()
                    .query_map([id], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                assert_eq!(
                    keys,
                    vec![sha256_hex(api_key)],
                    "{key}: one key, the one written"
                );
                secrets.push(api_key.to_string());
            }
            other => panic!("unexpected line kind {other}"),
        }
    }
    assert_eq!(
        clients, wl.confidential,
        "one secret per confidential client"
    );
    assert_eq!(accounts, wl.service_accounts, "one key per service account");
    secrets
}

fn assert_plan_empty(wl: &Workload, emu: &Emulator) {
    let out =
        wl.w.cmd(Some(emu))
            .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

/// `kill -9` four times, each after a given number of finished changes (in the users, then
/// among the clients, then among the service accounts), each landing mid-apply; a final
/// resume completes. Nothing is created twice, every secret is in the file.
#[test]
fn kills_triggered_by_progress_land_mid_apply_and_create_each_object_once() {
    let emu = emulator(&["--latency-ms", "8"]);
    let wl = workload(200, 40, 8, 60);
    plan(&wl, &emu);
    let total = wl.changes();
    let clients_start = 1 + wl.users;
    let accounts_start = clients_start + wl.confidential + wl.public;
    // The log is written through a buffer, so it shows progress a few dozen lines late:
    // the triggers sit early in each phase, and each phase is long enough for that.
    let triggers = [60, 150, clients_start + 5, accounts_start + 5];
    let mut done_before = 0;
    for at in triggers {
        let mut child = spawn_apply(&wl, &emu);
        let reached = wait_until(Duration::from_secs(120), || {
            logged(&wl).len() >= at || child.try_wait().unwrap().is_some()
        });
        assert!(reached, "no progress to {at}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply finished before the kill at {at}"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let done = journaled_done(&wl);
        assert!(
            done > done_before && done < total as i64,
            "kill at {at} landed mid-apply: {done_before} → {done} of {total}"
        );
        done_before = done;
    }
    let out = wl.w.cmd(Some(&emu)).args(APPLY).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Resuming plan"), "{text}");
    assert_exactly_once(&wl, &emu);
    let secrets = assert_secrets(&wl, &emu);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secrets(&text, &refs, "the resumed apply's output");
    assert_no_secrets(
        &std::fs::read_to_string(wl.w.path("apply.ndjson")).unwrap(),
        &refs,
        "the log",
    );
    assert_plan_empty(&wl, &emu);
}

/// Responses lost after the write committed (a dropped connection, a 500), before it (a
/// dropped connection, a 503): one apply creates every user, client and service account
/// once and writes every secret.
#[test]
fn responses_lost_after_commit_create_each_object_once_and_keep_every_secret() {
    let emu = emulator(&[
        "--fault-drop-after-commit",
        "0.25",
        "--fault-commit-fail",
        "0.05",
        "--fault-drop",
        "0.05",
        "--fault-5xx",
        "0.05",
        "--seed",
        "15",
        "--log-requests",
    ]);
    let wl = workload(200, 40, 8, 60);
    plan(&wl, &emu);
    let out = wl.w.cmd(Some(&emu)).args(APPLY).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
    assert_exactly_once(&wl, &emu);
    let secrets = assert_secrets(&wl, &emu);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secrets(&text, &refs, "the apply's output");
    assert_no_secrets(
        &std::fs::read_to_string(wl.w.path("apply.ndjson")).unwrap(),
        &refs,
        "the log",
    );
    // The faults really happened: responses to creates of each kind were lost after the
    // create committed.
    let log = emu.stderr.lock().unwrap().clone();
    for route in [
        "POST /v1/identities committed",
        "POST /v1/oauth-clients committed",
        "POST /v1/service-accounts committed",
    ] {
        assert!(log.contains(route), "no `{route}` in {log}");
    }
    assert!(
        log.lines()
            .any(|l| l.starts_with("POST /v1/service-accounts/") && l.contains("/keys committed")),
        "no dropped key create: {log}"
    );
    assert_no_secrets(&log, &refs, "the emulator's log");
    assert_plan_empty(&wl, &emu);
}

/// Lookups alone: every client create commits and its answer is lost (each retry's too), so
/// the apply stops; the emulator is restarted having forgotten its idempotency
/// records (as Avnology does once they expire). The resume must find each client by its
/// `external_id` before creating it: a retry that relied on the key would now create a
/// second one.
#[test]
fn a_resume_after_the_idempotency_records_expired_finds_each_object_instead_of_creating_it() {
    const CLIENTS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("emulator.db");
    let emu = Emulator::start_with_db(
        &db,
        &[
            "--no-unique-external-id",
            "--fault-drop-after-commit",
            "1",
            "--seed",
            "1",
        ],
    );
    let w = Workdir::new();
    let mut manifest = String::from("[target]\n");
    for i in 0..CLIENTS {
        manifest.push_str(&format!(
            "\n[[clients]]\nkey = \"spa-{i}\"\nname = \"Spa {i}\"\ntype = \"public\"\nredirect_uris = [\"https://spa{i}.example.com/cb\"]\n"
        ));
    }
    w.write("migration.toml", &manifest);
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let out = w
        .cmd(Some(&emu))
        .args([
            "apply",
            "plan.json",
            "--concurrency",
            "2",
            "--give-up-after",
            "3s",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", output_text(&out));
    // The first creates committed, their answers never came: the apply stopped there.
    assert!(!creates(&emu).is_empty(), "nothing committed");
    let listen = emu.url.trim_start_matches("http://").to_string();
    emu.stop();

    let emu = Emulator::start_on(
        &db,
        &listen,
        &["--no-unique-external-id", "--expire-idempotency-keys"],
    );
    let out = w
        .cmd(Some(&emu))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let creates = creates(&emu);
    let twice: Vec<_> = creates.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "created more than once: {twice:?}");
    let rows: i64 = emu
        .db()
        .query_row("SELECT COUNT(*) FROM oauth_clients", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, CLIENTS as i64);
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}
