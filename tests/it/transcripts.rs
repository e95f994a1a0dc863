//! Whole-output transcripts: what a user reads, pinned line for line with insta, on a fixed
//! example (three Auth0 users with their password hashes, the Auth0 example's OAuth clients
//! and service accounts) against the emulator.
//!
//! Covered: `validate`; the text and Markdown plans of a first migration (identities, OAuth
//! clients, service accounts, warnings) and of a later one (updates, list-entry diffs, a
//! record gone from its source); the apply summary; the `verify` report; and the error of
//! each class of bad input. Filters replace what changes from run to run (ports, server ids,
//! times, durations, digests, the temporary folder); everything else is compared exactly,
//! so a change to any message shows up as a snapshot diff to review. Every transcript is
//! also scanned for the API key, the password hashes and the minted secrets.

use super::common::{Emulator, Workdir, output_text};

/// The first three users of the Auth0 example, their password rows, and the example's
/// manifest pointed at the emulator (no sandbox) and at those files.
fn example() -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo("examples/auth0");
    let users: Vec<&str> = include_str!("../../examples/auth0/auth0_users.ndjson")
        .lines()
        .take(3)
        .collect();
    w.write("auth0_users.ndjson", &(users.join("\n") + "\n"));
    let oids: Vec<String> = users
        .iter()
        .map(|u| {
            let v: serde_json::Value = serde_json::from_str(u).unwrap();
            v["user_id"]
                .as_str()
                .unwrap()
                .rsplit('|')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let passwords: Vec<&str> = include_str!("../../examples/auth0/auth0_passwords.ndjson")
        .lines()
        .filter(|l| oids.iter().any(|o| l.contains(o.as_str())))
        .collect();
    w.write("auth0_passwords.ndjson", &(passwords.join("\n") + "\n"));
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    w.write(
        "migration.toml",
        &manifest.replace("url = \"sandbox\"\n", ""),
    );
    w
}

/// The run-to-run parts of an output, replaced by placeholders.
fn filters(w: &Workdir) -> Vec<(String, String)> {
    let dir = regex_escape(&w.dir.path().display().to_string());
    vec![
        (dir, "[WORKDIR]".into()),
        (r"127\.0\.0\.1:\d+".into(), "127.0.0.1:[PORT]".into()),
        (
            r"\b(idt|org|cli|sa|key|ses|flw|req|plan)_[A-Za-z0-9_-]{6,}".into(),
            "[${1}_ID]".into(),
        ),
        (
            r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?".into(),
            "[TIME]".into(),
        ),
        (r"\b\d+(\.\d+)?\s?(ms|s)\b".into(), "[DURATION]".into()),
        (r"\b[0-9a-f]{64}\b".into(), "[SHA256]".into()),
        (r"\b[0-9a-f]{16}\b".into(), "[DIGEST]".into()),
        (r"\b[0-9a-f]{12}\b".into(), "[PLAN_ID]".into()),
        (r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b".into(), "[UUID]".into()),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Runs the binary and returns its stdout then stderr, asserting the exit code.
fn run(w: &Workdir, emu: &Emulator, args: &[&str], code: i32) -> String {
    let out = w.cmd(Some(emu)).args(args).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
    text
}

/// Pins `text` as the snapshot `name`, with the run-to-run parts filtered out, after
/// scanning it for secrets.
fn pin(w: &Workdir, emu: &Emulator, name: &str, text: &str) {
    assert_clean(w, emu, text, name);
    let mut settings = insta::Settings::clone_current();
    for (from, to) in filters(w) {
        settings.add_filter(&from, to);
    }
    settings.set_prepend_module_to_snapshot(false);
    // Beside the test binary's folder, not in it: tests/transcripts/NAME.snap.
    settings.set_snapshot_path("../transcripts");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// No API key, password hash (or its salt and digest part) or minted secret in `text`.
fn assert_clean(w: &Workdir, emu: &Emulator, text: &str, what: &str) {
    let mut secrets = vec![emu.api_key.clone()];
    let passwords = std::fs::read_to_string(w.path("auth0_passwords.ndjson")).unwrap();
    for line in passwords.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(hash) = v["passwordHash"].as_str() {
            secrets.push(hash.to_string());
            // The bcrypt salt and digest without the cost prefix.
            secrets.push(hash[7..].to_string());
        }
    }
    if let Ok(minted) = std::fs::read_to_string(w.path("secrets.env")) {
        for line in minted.lines().filter(|l| !l.starts_with('#')) {
            if let Some((_, value)) = line.split_once('=') {
                let value = value.trim().trim_matches('"');
                if value.len() >= 16 {
                    secrets.push(value.to_string());
                }
            }
        }
    }
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret leaked into {what}: {text}"
        );
    }
}

#[test]
fn a_first_migration_and_a_later_one_read_exactly_so() {
    let emu = Emulator::start(&[]);
    let w = example();

    pin(
        &w,
        &emu,
        "validate",
        &run(&w, &emu, &["validate", "-m", "migration.toml"], 0),
    );
    let plan = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
        0,
    );
    pin(&w, &emu, "plan_first", &plan);
    let markdown = run(&w, &emu, &["show", "plan.json", "--format", "markdown"], 0);
    pin(&w, &emu, "plan_first_markdown", &markdown);

    let apply = run(
        &w,
        &emu,
        &["apply", "plan.json", "--secrets-out", "secrets.env"],
        0,
    );
    assert!(
        std::fs::read_to_string(w.path("secrets.env"))
            .unwrap()
            .lines()
            .count()
            > 1,
        "minted secrets were written"
    );
    pin(&w, &emu, "apply", &apply);
    pin(
        &w,
        &emu,
        "verify",
        &run(&w, &emu, &["verify", "-m", "migration.toml"], 0),
    );

    // A later export: the first user renamed, the third gone, the storefront with one more
    // callback and one fewer origin.
    let users = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let mut lines: Vec<serde_json::Value> = users
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["name"] = "Avery Q. Placeholder".into();
    lines.truncate(2);
    let users: Vec<String> = lines.iter().map(std::string::ToString::to_string).collect();
    w.write("auth0_users.ndjson", &(users.join("\n") + "\n"));
    let clients = std::fs::read_to_string(w.path("auth0_clients.json")).unwrap();
    let mut clients: serde_json::Value = serde_json::from_str(&clients).unwrap();
    let storefront = clients
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == "Acme Storefront")
        .unwrap();
    storefront["callbacks"]
        .as_array_mut()
        .unwrap()
        .push("https://shop.acme.example/callback/v2".into());
    // Auth0 keeps origins in two lists (web_origins, allowed_origins); Avnology has one.
    storefront["web_origins"].as_array_mut().unwrap().pop();
    w.write(
        "auth0_clients.json",
        &serde_json::to_string_pretty(&clients).unwrap(),
    );
    let plan = run(
        &w,
        &emu,
        &[
            "plan",
            "-m",
            "migration.toml",
            "--out",
            "later.json",
            "--detailed-exitcode",
        ],
        2,
    );
    pin(&w, &emu, "plan_later", &plan);
    let markdown = run(&w, &emu, &["show", "later.json", "--format", "markdown"], 0);
    pin(&w, &emu, "plan_later_markdown", &markdown);
}

#[test]
fn each_class_of_bad_input_has_its_own_clear_error() {
    let emu = Emulator::start(&[]);
    let w = example();
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    let users = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let validate = ["validate", "-m", "migration.toml"];

    // A typo in the manifest.
    w.write(
        "migration.toml",
        &manifest.replace("[target]\n", "[target]\norganisation = \"acme\"\n"),
    );
    pin(&w, &emu, "error_manifest_key", &run(&w, &emu, &validate, 1));

    // A source file that is not there.
    w.write(
        "migration.toml",
        &manifest.replace("\"auth0_users.ndjson\"", "\"auth0_users.json\""),
    );
    pin(&w, &emu, "error_missing_file", &run(&w, &emu, &validate, 1));
    w.write("migration.toml", &manifest);

    // A record that is not JSON.
    w.write("auth0_users.ndjson", &users.replacen('{', "{{", 2));
    pin(
        &w,
        &emu,
        "error_malformed_record",
        &run(&w, &emu, &validate, 1),
    );

    // A record with an address that is not one.
    w.write(
        "auth0_users.ndjson",
        &users.replace("blake.sample@example.com", "blake.sample(at)example.com"),
    );
    pin(
        &w,
        &emu,
        "error_invalid_record",
        &run(&w, &emu, &validate, 1),
    );
    w.write("auth0_users.ndjson", &users);

    // A pinned export that changed.
    w.write(
        "migration.toml",
        &manifest.replace(
            "path = \"auth0_users.ndjson\"\n",
            &format!(
                "path = \"auth0_users.ndjson\"\nsha256 = \"{}\"\n",
                "0".repeat(64)
            ),
        ),
    );
    pin(&w, &emu, "error_pin_mismatch", &run(&w, &emu, &validate, 1));
    w.write("migration.toml", &manifest);

    // A key the tenant refuses.
    let out = w
        .cmd(Some(&emu))
        .env(
            "AVNOLOGY_SECRET_KEY",
            "ak_test_not-a-key-the-emulator-knows",
        )
        .args(["plan", "-m", "migration.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    pin(&w, &emu, "error_refused_key", &output_text(&out));

    // A plan file edited after it was saved.
    run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
        0,
    );
    let plan = std::fs::read_to_string(w.path("plan.json")).unwrap();
    w.write("plan.json", &plan.replacen("Blake", "Blaze", 1));
    pin(
        &w,
        &emu,
        "error_edited_plan",
        &run(&w, &emu, &["apply", "plan.json"], 1),
    );

    // An export that changed after the plan was saved.
    w.write("plan.json", &plan);
    w.write("auth0_users.ndjson", &users.replace("Blake", "Blaze"));
    pin(
        &w,
        &emu,
        "error_changed_source",
        &run(&w, &emu, &["apply", "plan.json"], 1),
    );
}
