//! Bad or risky input is refused up front, with the file, line and record that hold it, and
//! nothing applied: where `--secrets-out` may write, records over the server's size limits,
//! a saved plan applied from another folder, the Firebase signer key, source names shared by
//! users and clients, a manifest without a target, a missing source file.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::common::{Emulator, Workdir, bin, output_text, wait_until};

/// Rows of the emulator's tables: organizations, identities, OAuth clients, service accounts.
fn db_counts(emu: &Emulator) -> [i64; 4] {
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

/// `n` Auth0 users as NDJSON.
fn users(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"user_id\":\"auth0|in-{i:05}\",\"email\":\"in{i:05}@example.com\",\"email_verified\":true}}\n"
            )
        })
        .collect()
}

const CLIENT: &str = r#"
[[clients]]
key = "web"
name = "Web"
type = "confidential"
redirect_uris = ["https://app.example.com/callback"]
"#;

/// A workdir whose manifest has `n` users and one confidential client (whose secret Avnology
/// mints on create), targeting the emulator through AVNOLOGY_API_URL.
fn minting(n: usize) -> Workdir {
    let w = Workdir::new();
    w.write("users.ndjson", &users(n));
    w.write(
        "migration.toml",
        &format!(
            "[target]\norganization = \"acme\"\n\n[[users]]\nname = \"app\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n{CLIENT}"
        ),
    );
    w
}

fn run(w: &Workdir, emu: Option<&Emulator>, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd(emu).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------------
// --secrets-out
// ---------------------------------------------------------------------------------------

#[test]
fn secrets_out_is_a_new_private_file_never_a_link_or_an_input() {
    let emu = Emulator::start(&[]);
    let w = minting(3);
    let (code, text) = run(
        &w,
        Some(&emu),
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    let plan_before = std::fs::read_to_string(w.path("plan.json")).unwrap();

    // A link to someone's file, and a dangling link: neither is followed.
    w.write("victim.txt", "not yours\n");
    std::os::unix::fs::symlink(w.path("victim.txt"), w.path("link.ndjson")).unwrap();
    std::os::unix::fs::symlink(w.path("nowhere.ndjson"), w.path("dangling.ndjson")).unwrap();
    // An existing private file that holds something else.
    w.write("notes.ndjson", "{\"note\":1}\n");
    std::fs::set_permissions(
        w.path("notes.ndjson"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    for (path, why) in [
        ("link.ndjson", "is a symbolic link"),
        ("dangling.ndjson", "is a symbolic link"),
        ("notes.ndjson", "was not written by an apply of this plan"),
        ("plan.json", "is the plan file"),
        ("./sub/../plan.json", "is the plan file"),
        ("plan.json.journal", "is the plan's journal"),
        ("migration.toml", "is the manifest"),
        ("users.ndjson", "is a file of source `app`"),
    ] {
        if path.starts_with("./sub") {
            std::fs::create_dir_all(w.path("sub")).unwrap();
        }
        let (code, text) = run(
            &w,
            Some(&emu),
            &["apply", "plan.json", "--secrets-out", path],
        );
        assert_eq!(code, Some(1), "{path}: {text}");
        assert!(text.contains(why), "{path}: {text}");
        assert!(text.contains("nothing was applied"), "{path}: {text}");
        assert_eq!(
            db_counts(&emu),
            [0, 0, 0, 0],
            "{path}: something was applied"
        );
    }
    assert_eq!(
        std::fs::read_to_string(w.path("victim.txt")).unwrap(),
        "not yours\n"
    );
    assert!(!w.path("nowhere.ndjson").exists());
    assert_eq!(
        std::fs::read_to_string(w.path("notes.ndjson")).unwrap(),
        "{\"note\":1}\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.path("plan.json")).unwrap(),
        plan_before
    );
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    assert!(!manifest.contains("client_secret"));

    // A new path: created 0600, its first line naming the plan, then the one secret.
    let (code, text) = run(
        &w,
        Some(&emu),
        &["apply", "plan.json", "--secrets-out", "secrets.ndjson"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(mode(&w.path("secrets.ndjson")), 0o600);
    let file = lines(&w.path("secrets.ndjson"));
    let plan_id = plan_before
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l).ok()?["seal"]["plan_id"]
                .as_str()
                .map(String::from)
        })
        .unwrap();
    assert_eq!(
        file[0],
        serde_json::json!({"kind": "plan", "plan_id": plan_id})
    );
    assert_eq!(file.len(), 2, "{file:?}");
    assert_eq!(file[1]["kind"], "oauth_client");
    assert_eq!(file[1]["key"], "web");
}

#[test]
fn an_interrupted_apply_resumes_into_the_secrets_file_it_created() {
    let emu = Emulator::start(&[]);
    let w = minting(400);
    let (code, text) = run(
        &w,
        Some(&emu),
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    // Slowed down, so it is still applying identities when the client's secret is on disk.
    let mut child = Command::new(bin())
        .current_dir(w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AVNOLOGY_API_URL", &emu.url)
        .env("AVNOLOGY_SECRET_KEY", &emu.api_key)
        .args([
            "apply",
            "plan.json",
            "--secrets-out",
            "secrets.ndjson",
            "--max-rps",
            "20",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let secret_written = wait_until(Duration::from_secs(60), || {
        std::fs::read_to_string(w.path("secrets.ndjson"))
            .is_ok_and(|t| t.contains("\"oauth_client\""))
    });
    // kill -9: no summary, no cleanup.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(secret_written, "the secret never reached the file");
    let identities = db_counts(&emu)[1];
    assert!(identities < 400, "the apply finished before it was killed");
    let before = std::fs::read_to_string(w.path("secrets.ndjson")).unwrap();

    // The same command again resumes, into the same file, and writes no secret twice.
    let (code, text) = run(
        &w,
        Some(&emu),
        &["apply", "plan.json", "--secrets-out", "secrets.ndjson"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Resuming plan"), "{text}");
    assert_eq!(db_counts(&emu), [1, 400, 1, 0]);
    let after = std::fs::read_to_string(w.path("secrets.ndjson")).unwrap();
    assert!(after.starts_with(&before), "{after}");
    assert_eq!(after.matches("client_secret").count(), 1, "{after}");

    // Another plan does not add to it: its secrets need a file of their own.
    std::fs::write(
        w.path("migration.toml"),
        std::fs::read_to_string(w.path("migration.toml")).unwrap()
            + &CLIENT.replace("\"web\"", "\"admin\""),
    )
    .unwrap();
    let (code, text) = run(
        &w,
        Some(&emu),
        &["plan", "-m", "migration.toml", "--out", "plan2.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(
        &w,
        Some(&emu),
        &["apply", "plan2.json", "--secrets-out", "secrets.ndjson"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("holds the secrets of another plan"), "{text}");
    assert!(text.contains("nothing was applied"), "{text}");
    assert_eq!(db_counts(&emu), [1, 400, 1, 0]);
    assert_eq!(
        std::fs::read_to_string(w.path("secrets.ndjson")).unwrap(),
        after
    );
    let (code, text) = run(
        &w,
        Some(&emu),
        &["apply", "plan2.json", "--secrets-out", "secrets-2.ndjson"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(db_counts(&emu), [1, 400, 2, 0]);
}

// ---------------------------------------------------------------------------------------
// The server's limits, offline
// ---------------------------------------------------------------------------------------

#[test]
fn records_over_the_servers_limits_are_invalid_before_anything_is_applied() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    let long_id = format!("auth0|{}", "x".repeat(10_000));
    w.write(
        "users.ndjson",
        &format!(
            "{{\"user_id\":\"auth0|ok\",\"email\":\"ok@example.com\"}}\n{{\"user_id\":\"{long_id}\",\"email\":\"long@example.com\"}}\n"
        ),
    );
    let callbacks: Vec<String> = (0..10_001)
        .map(|i| format!("https://app.example.com/cb/{i}"))
        .collect();
    w.write(
        "clients.json",
        &serde_json::json!([{
            "name": "Big",
            "client_id": "bigClient0000000000000000000001",
            "app_type": "regular_web",
            "callbacks": callbacks,
        }])
        .to_string(),
    );
    w.write(
        "migration.toml",
        "[target]\norganization = \"acme\"\n\n[[users]]\nname = \"app\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n\n[[client_sources]]\nname = \"apps\"\nprovider = \"auth0\"\npath = \"clients.json\"\n",
    );

    let (code, text) = run(&w, None, &["validate", "-m", "migration.toml"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("2 invalid record(s)"), "{text}");
    assert!(
        text.contains(&format!(
            "users.ndjson:2 (record 2), external_id `auth0|{}…`: external_id is 10006 characters long; Avnology allows at most 255",
            "x".repeat(34)
        )),
        "{text}"
    );
    assert!(
        text.contains("clients.json")
            && text.contains("bigClient0000000000000000000001")
            && text.contains("redirect_uris has 10001 entries; Avnology allows at most 100"),
        "{text}"
    );
    assert!(!text.contains(&long_id), "the whole 10 KB id was printed");

    // apply plans first: the same records fail it, before the organization is created.
    let (code, text) = run(
        &w,
        Some(&emu),
        &["apply", "-m", "migration.toml", "--auto-approve"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("nothing was planned"), "{text}");
    assert_eq!(db_counts(&emu), [0, 0, 0, 0]);
}

// ---------------------------------------------------------------------------------------
// A saved plan applied from another folder
// ---------------------------------------------------------------------------------------

#[test]
fn a_saved_plan_finds_its_manifest_from_any_working_directory() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.write("users.ndjson", &users(2));
    w.write(
        "migration.toml",
        "[target]\norganization = \"acme\"\n\n[[users]]\nname = \"app\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n",
    );
    std::fs::create_dir_all(w.path("plans")).unwrap();
    let (code, text) = run(
        &w,
        Some(&emu),
        &["plan", "-m", "migration.toml", "--out", "plans/plan.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(w.path("plans/plan.json"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["header"]["manifest"]["path"], "../migration.toml");

    let elsewhere = tempfile::tempdir().unwrap();
    let plan = w.path("plans/plan.json");
    let out = w
        .cmd(Some(&emu))
        .current_dir(elsewhere.path())
        .args(["apply".as_ref(), plan.as_os_str()])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(db_counts(&emu), [1, 2, 0, 0]);
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none()
    );

    // A manifest that is gone is named with where it was looked for.
    std::fs::rename(w.path("migration.toml"), w.path("moved.toml")).unwrap();
    let out = w
        .cmd(Some(&emu))
        .current_dir(elsewhere.path())
        .args(["apply".as_ref(), plan.as_os_str()])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cannot find the manifest the plan was made from")
            && text.contains("-m FILE"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// The Firebase signer key
// ---------------------------------------------------------------------------------------

#[test]
fn the_firebase_signer_key_comes_from_a_file_or_the_environment_never_a_flag() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.copy_from_repo("examples/firebase");
    let key =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    let (code, text) = run(
        &w,
        Some(&emu),
        &[
            "firebase-auth",
            "--import",
            "firebase_users.json",
            "--hash-key",
            key,
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("--hash-key is not accepted")
            && text.contains("--hash-key-file FILE")
            && text.contains("FIREBASE_SIGNER_KEY"),
        "{text}"
    );
    assert!(!text.contains(key), "the key was echoed: {text}");
    assert_eq!(db_counts(&emu), [0, 0, 0, 0]);

    w.write("signer.key", &format!("{key}\n"));
    let (code, text) = run(
        &w,
        Some(&emu),
        &[
            "firebase-auth",
            "--import",
            "firebase_users.json",
            "--hash-key-file",
            "signer.key",
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains(key), "the key leaked: {text}");
    let with_password: i64 = emu
        .db()
        .query_row("SELECT COUNT(*) FROM credentials", [], |r| r.get(0))
        .unwrap();
    assert!(with_password > 0, "no password hash was imported: {text}");
}

// ---------------------------------------------------------------------------------------
// The manifest
// ---------------------------------------------------------------------------------------

#[test]
fn users_and_client_sources_may_not_share_a_name() {
    let w = Workdir::new();
    w.write("users.ndjson", &users(1));
    w.write("clients.json", "[]");
    w.write(
        "migration.toml",
        "[target]\nurl = \"sandbox\"\n\n[[users]]\nname = \"auth0\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n\n[[client_sources]]\nprovider = \"auth0\"\npath = \"clients.json\"\n",
    );
    let (code, text) = run(&w, None, &["validate", "-m", "migration.toml"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("migration.toml:11:8: this [[client_sources]] entry takes its provider's name `auth0`, like the [[users]] source (line 5): source names are unique across [[users]] and [[clients]]"),
        "{text}"
    );
}

#[test]
fn a_manifest_without_a_target_says_what_is_missing() {
    let w = Workdir::new();
    w.write("users.ndjson", &users(1));
    w.write(
        "migration.toml",
        "[[users]]\nname = \"app\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n",
    );
    // `validate` is offline and needs no target; everything that reaches the tenant does.
    let (code, text) = run(&w, None, &["validate", "-m", "migration.toml"]);
    assert_eq!(code, Some(0), "{text}");
    for command in ["plan", "apply", "verify"] {
        let (code, text) = run(&w, None, &[command, "-m", "migration.toml"]);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains("migration.toml: no [target] table: add [target] url = \"sandbox\" or the tenant's URL (or set AVNOLOGY_API_URL)"),
            "{text}"
        );
        assert!(!text.contains("api-id.avnology.net"), "{text}");
    }
}

#[test]
fn a_missing_source_file_names_its_manifest_line() {
    let w = Workdir::new();
    w.write(
        "migration.toml",
        "[target]\nurl = \"sandbox\"\n\n[[users]]\nname = \"app\"\nprovider = \"auth0\"\npath = \"missing.json\"\n",
    );
    let (code, text) = run(&w, None, &["validate", "-m", "migration.toml"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("migration.toml:7:8: source `app`: `missing.json` does not exist"),
        "{text}"
    );
}
