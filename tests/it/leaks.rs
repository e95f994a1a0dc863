//! Where secrets could leak after the first apply: a post-apply plan (updates, owned objects
//! read back from the tenant) rendered by `plan` and `show` in every format, with and
//! without `--show-pii`, and a verbose apply under injected faults, whose retries, replays
//! and traces print more than any clean run. The scan itself is the harness's, run when
//! each work dir is dropped ([`super::common::leaks`]); the last test proves it can fail.

use std::path::PathBuf;
use std::process::Output;

use super::common::leaks::{Invocation, Record};
use super::common::{Emulator, Workdir, output_text};

const FORMATS: [&str; 3] = ["text", "markdown", "json"];

/// A copy of `examples/{name}` pointed at the emulator (its `url = "sandbox"` line removed).
fn example(name: &str) -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo(&format!("examples/{name}"));
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    let manifest: String = manifest
        .lines()
        .filter(|l| l.trim() != "url = \"sandbox\"")
        .map(|l| format!("{l}\n"))
        .collect();
    w.write("migration.toml", &manifest);
    w
}

/// The signer key the Firebase example's README exports.
fn firebase_signer_key() -> String {
    let readme =
        std::fs::read_to_string(super::common::repo("examples/firebase/README.md")).unwrap();
    readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("export FIREBASE_SIGNER_KEY="))
        .expect("the Firebase README exports FIREBASE_SIGNER_KEY")
        .trim_matches(['"', '\''])
        .to_string()
}

/// Renames the first user of an export: Firebase's JSON (`users[0].displayName`) or an
/// NDJSON export (`name` on the first line).
fn rename_first_user(w: &Workdir, export: &str) {
    let text = std::fs::read_to_string(w.path(export)).unwrap();
    let edited = if let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&text) {
        doc["users"][0]["displayName"] = "Renamed After Apply".into();
        serde_json::to_string_pretty(&doc).unwrap()
    } else {
        let (first, rest) = text.split_once('\n').unwrap();
        let mut user: serde_json::Value = serde_json::from_str(first).unwrap();
        user["name"] = "Renamed After Apply".into();
        format!("{user}\n{rest}")
    };
    w.write(export, &edited);
}

fn run(w: &Workdir, emu: &Emulator, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = w.cmd(Some(emu));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

/// Applies the example, edits its first user's name in the export so the next plan updates
/// an identity the tool owns, then renders that plan every way there is.
fn post_apply_renderings(name: &str, export: &str, env: &[(&str, &str)]) {
    let emu = Emulator::start(&[]);
    let w = example(name);
    let out = run(
        &w,
        &emu,
        env,
        &[
            "apply",
            "-m",
            "migration.toml",
            "--auto-approve",
            "--secrets-out",
            "secrets.ndjson",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    rename_first_user(&w, export);
    let out = run(
        &w,
        &emu,
        env,
        &["plan", "-m", "migration.toml", "--out", "post.json"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("to update"),
        "{}",
        output_text(&out)
    );
    for format in FORMATS {
        for pii in [false, true] {
            let mut show = vec!["show", "post.json", "--format", format];
            let mut plan = vec!["plan", "-m", "migration.toml", "--format", format];
            if pii {
                show.push("--show-pii");
                plan.push("--show-pii");
            }
            let out = run(&w, &emu, env, &show);
            assert!(out.status.success(), "{show:?}: {}", output_text(&out));
            let out = run(&w, &emu, env, &plan);
            assert!(out.status.success(), "{plan:?}: {}", output_text(&out));
        }
    }
    // The scan runs here, over every command above, the files they wrote and the log.
    w.scan_leaks();
}

#[test]
fn a_post_apply_plan_of_users_clients_and_service_accounts_shows_no_secret_in_any_format() {
    post_apply_renderings("auth0", "auth0_users.ndjson", &[]);
}

#[test]
fn a_post_apply_plan_of_firebase_users_shows_no_hash_salt_or_signer_key_in_any_format() {
    let key = firebase_signer_key();
    post_apply_renderings(
        "firebase",
        "firebase_users.json",
        &[("FIREBASE_SIGNER_KEY", &key)],
    );
}

#[test]
fn a_verbose_apply_under_faults_leaks_nothing_across_its_retries_and_resumes() {
    let emu = Emulator::start(&[
        "--fault-5xx",
        "0.1",
        "--fault-commit-fail",
        "0.1",
        "--fault-drop",
        "0.05",
        "--fault-drop-after-commit",
        "0.1",
        "--seed",
        "15",
    ]);
    let w = example("auth0");
    let out = run(
        &w,
        &emu,
        &[],
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let apply = [
        "apply",
        "plan.json",
        "--verbose",
        "--secrets-out",
        "secrets.ndjson",
        "--log",
        "apply.log",
    ];
    let mut done = false;
    for _ in 0..6 {
        let out = run(&w, &emu, &[], &apply);
        if out.status.success() {
            done = true;
            break;
        }
    }
    assert!(done, "the apply did not complete in six runs");
    let secrets = std::fs::read_to_string(w.path("secrets.ndjson")).unwrap();
    assert!(
        secrets.contains("client_secret") && secrets.contains("api_key"),
        "minted secrets are in the file, so the scan has them to look for: {secrets}"
    );
    let log = emu.log_when(|l| l.contains("listening on"));
    assert!(!log.is_empty());
    w.scan_leaks();
}

/// Runs the scan over one fake command that printed `stdout`, wrote `files` and was run
/// with `key` as its admin key; returns the scan's failure message, if it failed.
fn scan_of(stdout: &str, files: &[(&str, &str)], log: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(
        root.join("auth0_passwords.ndjson"),
        r#"{"email":"a@example.com","passwordHash":"$2b$10$fixtureHashFixtureHashFixtureHashFixtureHashFixtu"}"#,
    )
    .unwrap();
    let before = super::common::leaks::snapshot(&root);
    for (name, text) in files {
        std::fs::write(root.join(name), text).unwrap();
    }
    let db = tempfile::tempdir().unwrap();
    let run = Invocation {
        root: root.clone(),
        cwd: root.clone(),
        args: vec![
            "apply".into(),
            "--secrets-out".into(),
            "secrets.ndjson".into(),
        ],
        envs: vec![],
        emu: Some(super::common::leaks::EmulatorView {
            api_key: "ak_test_theadminkey".into(),
            db: PathBuf::from(db.path()).join("absent.db"),
            log: std::sync::Arc::new(std::sync::Mutex::new(log.to_string())),
        }),
    };
    let out = std::process::Command::new("true").output().unwrap();
    let out = Output {
        stdout: stdout.as_bytes().to_vec(),
        ..out
    };
    let mut record = Record::default();
    record.command(&run, &before, &out);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| record.scan(&root)))
        .err()
        .map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "a non-text panic".into())
        })
}

#[test]
fn the_leak_scan_fails_on_a_secret_in_output_a_written_file_or_the_log_and_spares_secrets_out() {
    assert_eq!(scan_of("Apply complete.", &[], "listening on"), None);
    let leaked = scan_of("key ak_test_theadminkey", &[], "").unwrap();
    assert!(leaked.contains("the stdout of `apply"), "{leaked}");
    let hash = "$2b$10$fixtureHashFixtureHashFixtureHashFixtureHashFixtu";
    let leaked = scan_of("", &[("plan.json", &format!("{{\"x\":\"{hash}\"}}"))], "").unwrap();
    assert!(leaked.contains("plan.json"), "{leaked}");
    let leaked = scan_of("", &[], &format!("GET /v1 {hash}")).unwrap();
    assert!(leaked.contains("the emulator's log"), "{leaked}");
    // The secrets-out file holds its secrets by design; the same secret anywhere else is a
    // leak.
    let secrets = "{\"kind\":\"plan\",\"plan_id\":\"p1\"}\n{\"kind\":\"oauth_client\",\"key\":\"web\",\"client_id\":\"c\",\"client_secret\":\"cs_mintedsecretvalue\"}\n";
    assert_eq!(scan_of("", &[("secrets.ndjson", secrets)], ""), None);
    let leaked = scan_of(
        "secret cs_mintedsecretvalue",
        &[("secrets.ndjson", secrets)],
        "",
    )
    .unwrap();
    assert!(leaked.contains("cs_mintedsecretvalue"), "{leaked}");
}
