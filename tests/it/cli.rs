//! Issue 13's checks: a partial plan (`--only`) for a pilot, shell completions and the man
//! page, `validate --format json`, the tenant lock of `apply`, and where `.env` is read.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::common::{Emulator, Workdir, assert_no_secrets, output_text, wait_until};

const BASE: &str = r#"
[target]
organization = "acme"

[[users]]
name = "auth0-prod"
provider = "auth0"
path = "auth0_users.ndjson"
passwords = "auth0_passwords.ndjson"
"#;

const AVERY: &str = "auth0|5e0c1fa0dc536abd87d956b5";
const BLAKE: &str = "auth0|5e2b0004ea71909603e85d2c";

fn workdir(manifest: &str) -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    w.write("migration.toml", manifest);
    w
}

fn run(w: &Workdir, emu: Option<&Emulator>, args: &[&str]) -> (std::process::Output, String) {
    let out = w.cmd(emu).args(args).output().unwrap();
    let text = output_text(&out);
    (out, text)
}

fn count_identities(emu: &Emulator) -> i64 {
    emu.db()
        .query_row(
            "SELECT COUNT(*) FROM identities WHERE state != 'scheduled_deletion'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// The footer of a saved plan file.
fn footer(w: &Workdir, plan: &str) -> Value {
    let text = std::fs::read_to_string(w.path(plan)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v.get("footer").is_some())
        .unwrap()["footer"]
        .clone()
}

fn header(w: &Workdir, plan: &str) -> Value {
    let text = std::fs::read_to_string(w.path(plan)).unwrap();
    serde_json::from_str::<Value>(text.lines().next().unwrap()).unwrap()["header"].clone()
}

/// How many identities the quickstart's export declares, from `validate --format json`.
fn declared(w: &Workdir) -> u64 {
    let (out, text) = run(w, None, &["validate", "--format", "json"]);
    assert!(out.status.success(), "{text}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["totals"]["identities"].as_u64().unwrap()
}

#[test]
fn a_pilot_of_two_users_then_the_full_plan_shows_the_rest() {
    let emu = Emulator::start(&[]);
    // prune is on: a partial plan still deletes nothing outside its selection.
    let w = workdir(&format!(
        "{BASE}\n[policy]\nprune = true\nmax_deletes = 100\n"
    ));
    let total = declared(&w);
    assert!(total > 2, "{total}");

    let avery = format!("identity:{AVERY}");
    let blake = format!("identity:{BLAKE}");
    let (out, text) = run(
        &w,
        Some(&emu),
        &[
            "plan",
            "--only",
            &avery,
            "--only",
            &blake,
            "--out",
            "pilot.json",
        ],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PARTIAL PLAN: only"), "{text}");
    assert_eq!(
        header(&w, "pilot.json")["only"],
        serde_json::json!([avery, blake])
    );
    let f = footer(&w, "pilot.json");
    assert_eq!(f["summary"]["create"], 2, "{f}");
    assert_eq!(f["summary"]["delete"], 0, "{f}");

    let (out, text) = run(&w, None, &["show", "pilot.json"]);
    assert!(out.status.success(), "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("PARTIAL PLAN: only") && first.contains(&avery) && first.contains(&blake),
        "the first line says the plan is partial: {text}"
    );
    let (_, md) = run(&w, None, &["show", "pilot.json", "--format", "markdown"]);
    assert!(md.contains("**Partial plan: only**"), "{md}");
    assert!(md.contains(&format!("`{avery}`")), "{md}");
    let (_, json) = run(&w, None, &["show", "pilot.json", "--format", "json"]);
    assert!(json.contains("\"only\":["), "{json}");

    let (out, text) = run(&w, Some(&emu), &["apply", "pilot.json"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(count_identities(&emu), 2);

    // The full plan shows the rest as creates, and deletes nothing.
    let (out, text) = run(&w, Some(&emu), &["plan", "--out", "full.json"]);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("PARTIAL PLAN"), "{text}");
    let f = footer(&w, "full.json");
    assert_eq!(f["summary"]["create"].as_u64(), Some(total - 2), "{f}");
    assert_eq!(f["summary"]["delete"], 0, "{f}");
    assert!(header(&w, "full.json").get("only").is_none());

    // With Avery gone from the export, a full plan prunes it; a partial one does not.
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let kept: Vec<&str> = export.lines().filter(|l| !l.contains(AVERY)).collect();
    w.write("auth0_users.ndjson", &(kept.join("\n") + "\n"));
    let (out, text) = run(
        &w,
        Some(&emu),
        &["plan", "--only", &blake, "--out", "p2.json"],
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(footer(&w, "p2.json")["summary"]["delete"], 0);
    let (out, text) = run(
        &w,
        Some(&emu),
        &["plan", "--only", "source:auth0-prod", "--out", "p3.json"],
    );
    assert!(out.status.success(), "{text}");
    let f = footer(&w, "p3.json");
    assert_eq!(f["summary"]["delete"], 0, "{f}");
    assert_eq!(f["summary"]["create"].as_u64(), Some(total - 2), "{f}");
    let (out, text) = run(&w, Some(&emu), &["plan", "--out", "p4.json"]);
    assert!(out.status.success(), "{text}");
    assert_eq!(footer(&w, "p4.json")["summary"]["delete"], 1);
}

#[test]
fn apply_with_only_applies_the_slice_and_unknown_addresses_are_named() {
    let emu = Emulator::start(&[]);
    let w = workdir(BASE);

    for (args, named) in [
        (vec!["--only", "source:nope"], "source:nope: no such source"),
        (
            vec![
                "--only",
                "identity:auth0|nobody",
                "--only",
                "source:auth0-prod",
            ],
            "identity:auth0|nobody: no record of any source",
        ),
        (
            vec!["--only", "oauth_client:web"],
            "oauth_client:web: no record",
        ),
        (vec!["--only", "users:x"], "unknown kind `users`"),
        (vec!["--only", "identity"], "`identity` is not an address"),
    ] {
        let mut plan = vec!["plan"];
        plan.extend(&args);
        let (out, text) = run(&w, Some(&emu), &plan);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(named), "{args:?}: {text}");
    }
    // An unknown source is refused before the tenant is contacted (here there is none).
    let (out, text) = run(&w, None, &["plan", "--only", "source:nope"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("source:nope: no such source"), "{text}");
    let (out, text) = run(
        &w,
        Some(&emu),
        &["plan", "--only", "source:auth0-prod", "--destroy"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(count_identities(&emu), 0);

    let avery = format!("identity:{AVERY}");
    let (out, text) = run(
        &w,
        Some(&emu),
        &["apply", "--auto-approve", "--only", &avery],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PARTIAL PLAN: only"), "{text}");
    assert_eq!(count_identities(&emu), 1);
    let (out, text) = run(&w, Some(&emu), &["apply", "pilot.json", "--only", &avery]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a saved plan has its own selection: {text}"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definition() {
    let w = Workdir::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (out, text) = run(&w, None, &["completions", shell]);
        assert!(out.status.success(), "{shell}: {text}");
        let script = String::from_utf8_lossy(&out.stdout);
        // fish spells options `-l only`.
        for word in ["plan", "apply", "validate", "only", "lock-timeout"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let (out, text) = run(&w, None, &["man"]);
    assert!(out.status.success(), "{text}");
    let page = String::from_utf8_lossy(&out.stdout);
    // roff: a quote-character preamble, then the title line.
    assert!(
        page.lines()
            .take(4)
            .any(|l| l.starts_with(".TH avnology-migrate 1")),
        "{page}"
    );
    assert_eq!(page.matches("\n.TH ").count(), 1, "one page");
    for section in [
        "AVNOLOGY-MIGRATE PLAN",
        "AVNOLOGY-MIGRATE APPLY",
        "AVNOLOGY-MIGRATE VALIDATE",
        "AVNOLOGY-MIGRATE COMPLETIONS",
    ] {
        assert!(page.contains(section), "{section}: {page}");
    }
    assert!(page.contains("only"), "{page}");
    assert!(!page.contains("AVNOLOGY-MIGRATE HELP"), "{page}");
    let (out, _) = run(&w, None, &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));

    // --help shows every new capability.
    for (args, words) in [
        (
            &["--help"][..],
            &["completions", "man", ".env", "manifest's folder"][..],
        ),
        (&["plan", "--help"], &["--only <ADDRESS>", "never deletes"]),
        (
            &["apply", "--help"],
            &["--only <ADDRESS>", "--lock-timeout", "--lock-dir"],
        ),
        (&["validate", "--help"], &["--format", "json"]),
    ] {
        let (out, text) = run(&w, None, args);
        assert!(out.status.success(), "{text}");
        for word in words {
            assert!(text.contains(word), "{args:?} lacks {word}: {text}");
        }
    }
}

#[test]
fn validate_json_reports_counts_and_invalid_records() {
    let w = workdir(BASE);
    let mut users = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let lines = users.lines().count();
    users.push_str("{\"user_id\":\"auth0|broken\",\"email\":\"not an email\"}\n");
    w.write("auth0_users.ndjson", &users);

    let (out, text) = run(&w, None, &["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["totals"]["invalid"], 1, "{report}");
    assert_eq!(
        report["invalid"][0]["file"], "auth0_users.ndjson",
        "{report}"
    );
    assert_eq!(
        report["invalid"][0]["line"].as_u64(),
        Some(lines as u64 + 1)
    );
    assert_eq!(report["invalid"][0]["external_id"], "auth0|broken");
    assert!(
        report["invalid"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    let source = &report["sources"][0];
    assert_eq!(source["name"], "auth0-prod");
    assert_eq!(source["invalid"], 1);
    assert_eq!(source["identities"], report["totals"]["identities"]);
    assert_eq!(
        source["skipped"],
        report["skipped"].as_array().unwrap().len(),
        "{report}"
    );
    assert_eq!(report["passwords"][0]["source"], "auth0-prod");
    assert!(report["passwords"][0]["bcrypt"].as_u64().unwrap() > 0);
    // Identities accepted plus skipped plus invalid are every record of the file.
    let sum = ["identities", "skipped", "invalid"]
        .iter()
        .map(|k| report["totals"][k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(sum, lines as u64 + 1, "{report}");
    // No password hash reaches the report.
    let hashes: Vec<String> = std::fs::read_to_string(w.path("auth0_passwords.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["passwordHash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let secrets: Vec<&str> = hashes.iter().map(String::as_str).collect();
    assert_no_secrets(&text, &secrets, "validate --format json");

    // The same counts with on_invalid = "skip", which is valid.
    w.write(
        "migration.toml",
        &format!("{BASE}\n[policy]\non_invalid = \"skip\"\n"),
    );
    let (out, text) = run(&w, None, &["validate", "--format", "json"]);
    assert!(out.status.success(), "{text}");
    let skip: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(skip["valid"], true);
    assert_eq!(skip["totals"], report["totals"]);
}

/// An `apply` command run in the background, with the lock folder in the work directory.
fn spawn_apply(w: &Workdir, emu: &Emulator, args: &[&str]) -> std::process::Child {
    std::process::Command::new(super::common::bin())
        .current_dir(w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AVNOLOGY_API_URL", &emu.url)
        .env("AVNOLOGY_SECRET_KEY", &emu.api_key)
        .env("AVNOLOGY_MIGRATE_LOCK_DIR", w.path("locks"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_applies_against_one_tenant_never_interleave() {
    // Every request takes a while, so the first apply is still running when the second starts.
    let emu = Emulator::start(&["--latency-ms", "250"]);
    let w = workdir(BASE);
    let (out, text) = run(&w, Some(&emu), &["plan", "--out", "first.json"]);
    assert!(out.status.success(), "{text}");
    let first_id = std::fs::read_to_string(w.path("first.json"))
        .unwrap()
        .lines()
        .last()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seal"]["plan_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let avery = format!("identity:{AVERY}");
    let (out, text) = run(
        &w,
        Some(&emu),
        &["plan", "--only", &avery, "--out", "second.json"],
    );
    assert!(out.status.success(), "{text}");

    let first = spawn_apply(&w, &emu, &["apply", "first.json", "--concurrency", "1"]);
    let pid = first.id();
    assert!(
        wait_until(Duration::from_secs(60), || {
            std::fs::read_dir(w.path("locks")).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".holder.json"))
            })
        }),
        "the first apply took the lock"
    );

    // A second apply of another plan fails at once, naming the holder.
    let started = std::time::Instant::now();
    let out = w
        .cmd(Some(&emu))
        .env("AVNOLOGY_MIGRATE_LOCK_DIR", w.path("locks"))
        .args(["apply", "second.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(20), "{text}");
    assert!(text.contains(&format!("pid {pid}")), "{text}");
    assert!(
        text.contains(&format!("plan {}", &first_id[..12])),
        "{text}"
    );
    assert!(text.contains("since "), "{text}");
    assert!(text.contains("--lock-timeout"), "{text}");
    assert!(!text.contains("Apply complete"), "{text}");

    // With --lock-timeout it waits for the first to finish, then plans what is left.
    let waiting = spawn_apply(
        &w,
        &emu,
        &["apply", "--auto-approve", "--lock-timeout", "5m"],
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", output_text(&first));
    let waited = waiting.wait_with_output().unwrap();
    let text = output_text(&waited);
    assert!(waited.status.success(), "{text}");
    assert!(text.contains("Waiting up to"), "{text}");
    assert!(
        text.contains("No changes"),
        "the first apply had finished: {text}"
    );
}

#[test]
fn the_sandbox_target_is_locked_too() {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    let manifest = avnology_migrate::manifest::load(&w.path("migration.toml")).unwrap();
    let tenant = avnology_migrate::apply::lock::tenant_of(&manifest);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let held = rt
        .block_on(avnology_migrate::apply::lock::acquire(
            &w.path("locks"),
            &tenant,
            "0123456789abcdef",
            Duration::ZERO,
            &avnology_migrate::printer::Trace::off(),
        ))
        .unwrap();
    let (out, text) = run(
        &w,
        None,
        &["apply", "--auto-approve", "--lock-dir", "locks"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the sandbox"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("plan 0123456789ab"), "{text}");
    drop(held);
    let (out, text) = run(
        &w,
        None,
        &["apply", "--auto-approve", "--lock-dir", "locks"],
    );
    assert!(out.status.success(), "{text}");
}

#[test]
fn dotenv_is_read_from_the_working_folder_and_the_manifests_folder_only() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    let project = w.path("project");
    super::common::copy_dir_public(&super::common::repo("examples/quickstart"), &project);
    w.write("project/migration.toml", BASE);
    std::fs::create_dir_all(w.path("elsewhere")).unwrap();
    let key_line = format!("AVNOLOGY_SECRET_KEY={}\n", emu.api_key);
    let plan = |cwd: &str, manifest: &str| {
        let out = w
            .cmd(Some(&emu))
            .env_remove("AVNOLOGY_SECRET_KEY")
            .current_dir(w.path(cwd))
            .args(["plan", "-m", manifest])
            .output()
            .unwrap();
        let text = output_text(&out);
        (out, text)
    };

    // A .env in a parent folder is not read.
    w.write(".env", &key_line);
    let (out, text) = plan("project", "migration.toml");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("AVNOLOGY_SECRET_KEY is not set"), "{text}");
    std::fs::remove_file(w.path(".env")).unwrap();

    // One beside the manifest is read, from any working folder.
    w.write("project/.env", &key_line);
    let (out, text) = plan("elsewhere", "../project/migration.toml");
    assert!(out.status.success(), "{text}");

    // The working folder's wins over the manifest's; the real environment wins over both.
    w.write("elsewhere/.env", "AVNOLOGY_SECRET_KEY=ak_test_wrong\n");
    let (out, text) = plan("elsewhere", "../project/migration.toml");
    assert_eq!(out.status.code(), Some(1), "{text}");
    let out = w
        .cmd(Some(&emu))
        .current_dir(w.path("elsewhere"))
        .args(["plan", "-m", "../project/migration.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_no_secrets(&text, &[&emu.api_key], "plan output");
}
