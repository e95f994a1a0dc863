//! Issue 4's checks: saved plans bound to the world they were computed from, stale
//! detection per object, safe deletes (prune, max_deletes, destroy, unowned objects), the
//! documented exit codes, and no secret in any plan file, rendering or log.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::common::{Emulator, Workdir, assert_no_secrets, output_text};

/// A copy of the quickstart targeting `emu` through AVNOLOGY_API_URL, with `manifest`
/// written as given (use `{}`-free TOML).
fn workdir(manifest: &str) -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    w.write("migration.toml", manifest);
    w
}

const BASE: &str = r#"
[target]
organization = "acme"

[[users]]
name = "auth0-prod"
provider = "auth0"
path = "auth0_users.ndjson"
passwords = "auth0_passwords.ndjson"
"#;

/// Every output, plan file and log a test produced, for the secret scan.
#[derive(Default)]
struct Transcript(String);

impl Transcript {
    fn run(&mut self, w: &Workdir, emu: &Emulator, args: &[&str]) -> std::process::Output {
        let out = w.cmd(Some(emu)).args(args).output().unwrap();
        self.0.push_str(&output_text(&out));
        out
    }

    /// A file the run must have written: a missing one fails the test rather than being
    /// scanned as empty.
    fn file(&mut self, path: PathBuf) -> String {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
        self.0.push_str(&text);
        text
    }

    /// No password hash of the quickstart and no API key anywhere.
    fn assert_clean(&self, w: &Workdir, emu: &Emulator) {
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
        let mut secrets: Vec<&str> = hashes.iter().map(String::as_str).collect();
        secrets.push(&emu.api_key);
        assert_no_secrets(&self.0, &secrets, "test transcript");
    }
}

fn edit_user(w: &Workdir, user_id: &str, field: &str, value: &str) {
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let lines: Vec<String> = export
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["user_id"] == user_id {
                v[field] = Value::String(value.into());
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    w.write("auth0_users.ndjson", &(lines.join("\n") + "\n"));
}

fn live_by_external_id(emu: &Emulator, external_id: &str) -> Value {
    let filter = format!("external_id = \"{external_id}\"");
    let path = format!("/v1/identities?filter={}", urlencode(&filter));
    let (status, body) = emu.call("GET", &path, None);
    assert_eq!(status, 200, "{body}");
    body["identities"][0].clone()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

const AVERY: &str = "auth0|5e0c1fa0dc536abd87d956b5";
const BLAKE: &str = "auth0|5e2b0004ea71909603e85d2c";

#[test]
fn live_edit_behind_the_plans_back_is_skipped_as_stale() {
    let emu = Emulator::start(&[]);
    let w = workdir(BASE);
    let mut t = Transcript::default();
    assert!(
        t.run(
            &w,
            &emu,
            &["apply", "-m", "migration.toml", "--auto-approve"]
        )
        .status
        .success()
    );

    edit_user(&w, AVERY, "given_name", "Avery-Planned");
    edit_user(&w, BLAKE, "given_name", "Blake-Planned");
    let out = t.run(
        &w,
        &emu,
        &[
            "plan",
            "-m",
            "migration.toml",
            "--out",
            "plan.json",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    t.file(w.path("plan.json"));

    // Someone edits Avery in Avnology after the plan was made.
    let avery = live_by_external_id(&emu, AVERY);
    let (status, body) = emu.call(
        "PATCH",
        &format!("/v1/identities/{}", avery["id"].as_str().unwrap()),
        Some(json!({"identity": {"last_name": "Edited-In-Avnology"}, "update_mask": "last_name"})),
    );
    assert_eq!(status, 200, "{body}");

    let out = t.run(&w, &emu, &["apply", "plan.json"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("stale: identity `{AVERY}`")),
        "{text}"
    );
    assert!(text.contains("1 stale"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    // The rest applied; the stale change did not overwrite the edit.
    assert_eq!(
        live_by_external_id(&emu, BLAKE)["first_name"],
        "Blake-Planned"
    );
    let avery = live_by_external_id(&emu, AVERY);
    assert_eq!(avery["first_name"], "Avery");
    assert_eq!(avery["last_name"], "Edited-In-Avnology");

    // A fresh plan shows what remains: Avery's name (and the edit it would revert).
    let out = t.run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("~ identity \"{AVERY}\"")), "{text}");
    assert!(
        text.contains("~ first_name") && text.contains("\"Avery\" -> \"Avery-Planned\""),
        "{text}"
    );
    assert!(!text.contains(&format!("~ identity \"{BLAKE}\"")), "{text}");
    t.assert_clean(&w, &emu);
}

#[test]
fn edited_source_file_makes_a_saved_plan_refuse_before_any_change() {
    let emu = Emulator::start(&["--log-requests"]);
    let w = workdir(BASE);
    let mut t = Transcript::default();
    assert_eq!(
        t.run(
            &w,
            &emu,
            &["plan", "-m", "migration.toml", "--out", "plan.json"]
        )
        .status
        .code(),
        Some(0)
    );
    edit_user(&w, AVERY, "given_name", "Changed");
    let out = t.run(&w, &emu, &["apply", "plan.json"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("auth0_users.ndjson"), "{text}");
    assert!(text.contains("stale"), "{text}");
    assert_eq!(count_identities(&emu), 0);
    // Not one write reached the API.
    let log = emu.stderr.lock().unwrap().clone();
    assert!(
        !log.contains("POST /v1/identities") && !log.contains("POST /v1/organizations"),
        "{log}"
    );

    // The manifest too.
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    edit_user(&w, AVERY, "given_name", "Avery");
    w.write(
        "migration.toml",
        &format!("{manifest}\n[policy]\nmax_deletes = 1\n"),
    );
    let out = t.run(&w, &emu, &["apply", "plan.json"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("migration.toml"), "{text}");
    assert_eq!(count_identities(&emu), 0);
    t.assert_clean(&w, &emu);
}

#[test]
fn saved_plan_applies_once_then_says_it_is_done() {
    let emu = Emulator::start(&[]);
    let w = workdir(BASE);
    let mut t = Transcript::default();
    t.run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    let shown = t.run(&w, &emu, &["show", "plan.json"]);
    assert!(
        output_text(&shown).contains("29 to create"),
        "{}",
        output_text(&shown)
    );
    let json = t.run(&w, &emu, &["show", "plan.json", "--format", "json"]);
    // The plan file itself: a header, one line per change, a footer, the seal.
    let lines: Vec<Value> = String::from_utf8(json.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["header"]["format_version"], 2);
    assert_eq!(
        lines.iter().filter(|l| l.get("change").is_some()).count(),
        30
    );
    assert_eq!(lines[lines.len() - 2]["footer"]["summary"]["create"], 29);
    assert!(lines[lines.len() - 1]["seal"]["plan_id"].is_string());
    assert_eq!(json.stdout, std::fs::read(w.path("plan.json")).unwrap());
    let md = t.run(&w, &emu, &["show", "plan.json", "--format", "markdown"]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("<details>") && !md.contains("avery.placeholder@example.com"),
        "{md}"
    );
    let out = t.run(&w, &emu, &["apply", "plan.json", "--log", "apply.ndjson"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(count_identities(&emu), 29);
    let out = t.run(&w, &emu, &["apply", "plan.json"]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("already applied in full"), "{text}");
    assert_eq!(count_identities(&emu), 29);
    let log = t.file(w.path("apply.ndjson"));
    assert_eq!(
        log.lines().count(),
        30,
        "one line per change (29 identities + the organization)"
    );
    t.file(w.path("plan.json"));
    t.assert_clean(&w, &emu);
}

#[test]
fn detailed_exitcode_is_0_without_changes_2_with_changes_and_1_on_error() {
    let emu = Emulator::start(&[]);
    let w = workdir(BASE);
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    // Without the flag, changes are still success.
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        w.cmd(Some(&emu))
            .args(["apply", "-m", "migration.toml", "--auto-approve"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = w
        .cmd(Some(&emu))
        .env("AVNOLOGY_SECRET_KEY", "ak_test_not_the_key")
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "missing.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// The quickstart split into two sources: `main` and `extra` (the last three users). Without
/// `with_extra`, the manifest names only `main`, and takes `extra`'s objects over when
/// `adopt_extra`.
fn split_sources(w: &Workdir, prune: bool, max_deletes: u64, with_extra: bool, adopt_extra: bool) {
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let lines: Vec<&str> = export.lines().filter(|l| !l.trim().is_empty()).collect();
    let (main, extra) = lines.split_at(lines.len() - 3);
    w.write("main.ndjson", &(main.join("\n") + "\n"));
    w.write("extra.ndjson", &(extra.join("\n") + "\n"));
    let mut m = String::from(
        "[target]\norganization = \"acme\"\n\n[[users]]\nname = \"main\"\nprovider = \"auth0\"\npath = \"main.ndjson\"\npasswords = \"auth0_passwords.ndjson\"\n",
    );
    if with_extra {
        m.push_str("\n[[users]]\nname = \"extra\"\nprovider = \"auth0\"\npath = \"extra.ndjson\"\npasswords = \"auth0_passwords.ndjson\"\n");
    }
    m.push_str(&format!(
        "\n[policy]\nprune = {prune}\nmax_deletes = {max_deletes}\n"
    ));
    if adopt_extra {
        m.push_str("adopt_sources = [\"extra\"]\n");
    }
    w.write("migration.toml", &m);
}

#[test]
fn prune_deletes_only_owned_objects_within_max_deletes_and_destroy_rolls_back() {
    let emu = Emulator::start(&[]);
    let w = workdir(BASE);
    let mut t = Transcript::default();
    // An identity that exists before the migration, in the same organization, shaped like
    // ours but without the owner marker.
    let (s, org) = emu.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201, "{org}");
    let (s, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "preexisting@example.com", "external_id": "auth0|preexisting",
            "first_name": "Pre", "organization_id": org["id"]}})),
    );
    assert_eq!(s, 201, "{body}");

    split_sources(&w, false, 0, true, false);
    assert!(
        t.run(
            &w,
            &emu,
            &["apply", "-m", "migration.toml", "--auto-approve"]
        )
        .status
        .success()
    );
    assert_eq!(count_identities(&emu), 30);

    // Remove the `extra` source with prune on: its identities are another source's now,
    // not this manifest's, and prune leaves them alone.
    split_sources(&w, true, 2, false, false);
    let out = t.run(&w, &emu, &["plan", "-m", "migration.toml"]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("0 to delete"), "{text}");
    assert!(text.contains("4 not owned by this manifest"), "{text}");

    // Taking `extra` over explicitly makes them this manifest's: 3 deletes > max_deletes 2
    // fails.
    split_sources(&w, true, 2, false, true);
    let out = t.run(&w, &emu, &["plan", "-m", "migration.toml"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("would delete 3 objects, more than max_deletes = 2 allows"),
        "{text}"
    );

    split_sources(&w, true, 3, false, true);
    let out = t.run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "prune.json"],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("3 to delete"), "{text}");
    assert!(text.contains("1 not owned by this manifest"), "{text}");
    assert!(
        !text.contains("auth0|preexisting\""),
        "unowned objects are never in the plan: {text}"
    );
    let md = t.run(&w, &emu, &["show", "prune.json", "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&md.stdout).contains("[!CAUTION]"));
    assert!(t.run(&w, &emu, &["apply", "prune.json"]).status.success());
    assert_eq!(count_identities(&emu), 27);
    assert_eq!(
        live_by_external_id(&emu, "auth0|preexisting")["first_name"],
        "Pre"
    );

    // Destroy honours max_deletes too; --max-deletes overrides it for this plan.
    let out = t.run(&w, &emu, &["plan", "-m", "migration.toml", "--destroy"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("would delete 26 objects"), "{text}");
    // Destroy: everything this manifest owns goes; the pre-existing identity stays.
    let out = t.run(
        &w,
        &emu,
        &[
            "plan",
            "-m",
            "migration.toml",
            "--destroy",
            "--max-deletes",
            "26",
            "--out",
            "destroy.json",
        ],
    );
    let text = output_text(&out);
    assert!(text.contains("26 to delete"), "{text}");
    assert!(t.run(&w, &emu, &["apply", "destroy.json"]).status.success());
    assert_eq!(count_identities(&emu), 1);
    assert_eq!(
        live_by_external_id(&emu, "auth0|preexisting")["email"],
        "preexisting@example.com"
    );
    t.file(w.path("prune.json"));
    t.file(w.path("destroy.json"));
    t.assert_clean(&w, &emu);
}

#[test]
fn ignore_changes_never_updates_the_field_after_create() {
    let emu = Emulator::start(&[]);
    let w = workdir(&format!(
        "{BASE}\n[policy]\nignore_changes = [\"first_name\"]\n"
    ));
    assert!(
        w.cmd(Some(&emu))
            .args(["apply", "-m", "migration.toml", "--auto-approve"])
            .output()
            .unwrap()
            .status
            .success()
    );
    edit_user(&w, AVERY, "given_name", "Ignored");
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn duplicate_external_ids_and_emails_across_sources_fail_validate() {
    let w = workdir(BASE);
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let first = export.lines().next().unwrap().to_string();
    let mut second: Value = serde_json::from_str(export.lines().nth(1).unwrap()).unwrap();
    second["email"] = Value::String("AVERY.placeholder@example.com".into());
    second["user_id"] = Value::String("auth0|another-user".into());
    w.write(
        "more.ndjson",
        &format!("{first}\n{}\n", serde_json::to_string(&second).unwrap()),
    );
    let manifest = format!(
        "{BASE}\n[[users]]\nname = \"more\"\nprovider = \"auth0\"\npath = \"more.ndjson\"\n"
    );
    w.write("migration.toml", &manifest);
    let out = w
        .cmd(None)
        .args(["validate", "-m", "migration.toml"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Each error names the record, its id, and the other record's file and line.
    let first_id = serde_json::from_str::<Value>(&first).unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!(
            "more.ndjson:1 (record 1), external_id `{first_id}`: duplicate external_id, \
             first declared at auth0_users.ndjson:1 (record 1)"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "more.ndjson:2 (record 2), external_id `auth0|another-user`: email \
             `AVERY.placeholder@example.com` is also the email of the record at \
             auth0_users.ndjson:1 (record 1)"
        ),
        "{text}"
    );
}

#[test]
fn colour_follows_the_flag_and_never_carries_meaning_alone() {
    let emu = Emulator::start(&[]);
    let w = workdir(BASE);
    // Not a terminal (and NO_COLOR set by the harness): plain text.
    let plain = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml"])
        .output()
        .unwrap();
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(!plain.contains('\u{1b}'), "{plain}");
    // `--color always` wins over both.
    let coloured = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--color", "always"])
        .output()
        .unwrap();
    let coloured = String::from_utf8(coloured.stdout).unwrap();
    assert!(coloured.contains("\u{1b}["), "{coloured}");
    // The same symbols and words are there without the escapes.
    let stripped: String =
        String::from_utf8(anstream::adapter::strip_bytes(coloured.as_bytes()).into_vec()).unwrap();
    assert_eq!(
        stripped
            .lines()
            .filter(|l| l.contains("+ identity"))
            .count(),
        plain.lines().filter(|l| l.contains("+ identity")).count()
    );
    assert!(plain.contains("+ identity \"auth0|"), "{plain}");
    // Off a terminal, `auto` can still be told from `never`: CLICOLOR_FORCE asks `auto` for
    // colour, `never` refuses it, and NO_COLOR refuses it to `auto`.
    let plan = |color: &str, no_color: bool| {
        let mut cmd = w.cmd(Some(&emu));
        cmd.env("CLICOLOR_FORCE", "1");
        if !no_color {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd
            .args(["plan", "-m", "migration.toml", "--color", color])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let auto = plan("auto", false);
    assert!(auto.contains("\u{1b}["), "auto with CLICOLOR_FORCE: {auto}");
    let never = plan("never", false);
    assert!(!never.contains('\u{1b}'), "never: {never}");
    let auto_no_color = plan("auto", true);
    assert!(
        !auto_no_color.contains('\u{1b}'),
        "auto with NO_COLOR: {auto_no_color}"
    );
}

#[test]
fn a_saved_plan_refuses_a_tenant_other_than_the_one_it_was_made_for() {
    let planned_on = Emulator::start(&[]);
    let other = Emulator::start(&[]);
    let w = workdir(BASE);
    let out = w
        .cmd(Some(&planned_on))
        .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let out = w
        .cmd(Some(&other))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("made for the tenant at `{}`", planned_on.url))
            && text.contains("nothing was applied"),
        "{text}"
    );
    assert_eq!(count_identities(&other), 0);
    let out = w
        .cmd(Some(&planned_on))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(count_identities(&planned_on), 29);
}
