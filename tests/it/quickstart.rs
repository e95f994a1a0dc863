//! Issue 2's end-to-end checks: the quickstart Auth0 export migrates into a real emulator
//! process, a second plan is empty, one edited field is one update, migrated bcrypt users
//! log in, bad input fails cleanly with nothing applied, and no secret reaches any output.

use std::collections::HashMap;

use serde_json::Value;

use super::common::{Emulator, Workdir, assert_no_secrets, output_text};

/// A copy of examples/quickstart whose manifest targets the emulator through
/// AVNOLOGY_API_URL instead of the in-process sandbox.
fn quickstart() -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    let manifest: String = manifest
        .lines()
        .filter(|l| !l.trim_start().starts_with("url"))
        .map(|l| format!("{l}\n"))
        .collect();
    w.write("migration.toml", &manifest);
    w
}

/// The export's records, keyed by user_id.
fn export_records(w: &Workdir) -> Vec<Value> {
    std::fs::read_to_string(w.path("auth0_users.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every password hash in the quickstart's password export.
fn password_hashes(w: &Workdir) -> Vec<String> {
    std::fs::read_to_string(w.path("auth0_passwords.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["passwordHash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// All identities in the emulator, by external_id.
fn live_identities(emu: &Emulator) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => {
                format!("/v1/identities?include_linked_providers=true&page_size=100&page_token={t}")
            }
            None => "/v1/identities?include_linked_providers=true&page_size=100".to_string(),
        };
        let (status, body) = emu.call("GET", &path, None);
        assert_eq!(status, 200, "{body}");
        for i in body["identities"].as_array().unwrap() {
            out.insert(
                i["external_id"].as_str().unwrap_or_default().to_string(),
                i.clone(),
            );
        }
        match body["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    out
}

fn run(w: &Workdir, emu: &Emulator, args: &[&str]) -> std::process::Output {
    w.cmd(Some(emu)).args(args).output().unwrap()
}

#[test]
fn quickstart_applies_with_mapped_fields_and_replans_empty() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    let records = export_records(&w);
    let out = run(
        &w,
        &emu,
        &[
            "apply",
            "-m",
            "migration.toml",
            "--auto-approve",
            "--verbose",
        ],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let mut secrets: Vec<String> = password_hashes(&w);
    secrets.push(emu.api_key.clone());
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secrets(&text, &secret_refs, "apply output");

    let live = live_identities(&emu);
    let with_email: Vec<&Value> = records.iter().filter(|r| r["email"].is_string()).collect();
    assert!(
        with_email.len() >= 25,
        "the quickstart should have at least 25 users with email"
    );
    assert_eq!(
        live.len(),
        with_email.len(),
        "every user with an email is created, no more"
    );

    for r in &with_email {
        let id = r["user_id"].as_str().unwrap();
        let l = &live[id];
        assert_eq!(l["external_id"], r["user_id"]);
        assert_eq!(l["email"], r["email"], "{id}");
        if let Some(v) = r.get("email_verified") {
            assert_eq!(&l["email_verified"], v, "{id}");
        }
        for (from, to) in [
            ("given_name", "first_name"),
            ("family_name", "last_name"),
            ("name", "display_name"),
            ("picture", "avatar_url"),
        ] {
            if let Some(v) = r.get(from) {
                assert_eq!(&l[to], v, "{id}: {from} -> {to}");
            }
        }
        let blocked = r["blocked"].as_bool().unwrap_or(false);
        assert_eq!(
            l["state"],
            if blocked { "inactive" } else { "active" },
            "{id}"
        );
        if let Some(meta) = r.get("user_metadata") {
            assert_eq!(&l["traits"]["metadata"], meta, "{id}");
        }
        if let Some(Value::Object(app)) = r.get("app_metadata") {
            for (k, v) in app {
                assert_eq!(&l["admin_metadata"][k], v, "{id}: app_metadata.{k}");
            }
        }
        assert_eq!(
            l["admin_metadata"]["avnology_migrate"]["source"], "auth0-prod",
            "{id}"
        );
        let social: Vec<&Value> = r["identities"]
            .as_array()
            .map(|a| a.iter().filter(|i| i["isSocial"] == true).collect())
            .unwrap_or_default();
        assert_eq!(
            l["linked_providers"].as_array().map_or(0, Vec::len),
            social.len(),
            "{id}"
        );
        // Never the hash itself.
        assert!(l.get("password_hash").is_none());
    }
    assert!(
        with_email.iter().any(|r| r["blocked"] == true),
        "the quickstart has a blocked user"
    );

    let out = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("No changes."), "{text}");
    // The phone-only user is skipped and listed, not silently dropped.
    let phone_only: Vec<&Value> = records.iter().filter(|r| !r["email"].is_string()).collect();
    assert!(!phone_only.is_empty());
    for r in phone_only {
        assert!(text.contains(r["user_id"].as_str().unwrap()), "{text}");
    }
}

#[test]
fn one_edited_name_is_one_field_update() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    assert!(
        run(
            &w,
            &emu,
            &["apply", "-m", "migration.toml", "--auto-approve"]
        )
        .status
        .success()
    );

    // Change one user's given_name in the export.
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let mut edited_id = String::new();
    let mut old_name = String::new();
    let lines: Vec<String> = export
        .lines()
        .map(|l| {
            let mut v: Value = match serde_json::from_str(l) {
                Ok(v) => v,
                Err(_) => return l.to_string(),
            };
            if edited_id.is_empty()
                && v["email"].is_string()
                && v["given_name"].is_string()
                && v["blocked"] != true
            {
                edited_id = v["user_id"].as_str().unwrap().to_string();
                old_name = v["given_name"].as_str().unwrap().to_string();
                v["given_name"] = Value::String("Renamed".into());
                serde_json::to_string(&v).unwrap()
            } else {
                l.to_string()
            }
        })
        .collect();
    w.write("auth0_users.ndjson", &(lines.join("\n") + "\n"));

    let out = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("~ identity \"{edited_id}\"")),
        "{text}"
    );
    assert!(
        text.contains(&format!("~ first_name = \"{old_name}\" -> \"Renamed\"")),
        "{text}"
    );
    assert!(
        text.contains("0 to create, 1 to update, 0 to deactivate, 0 to reactivate, 0 to delete"),
        "{text}"
    );
    assert_eq!(text.matches("~ identity").count(), 1, "{text}");

    assert!(
        run(
            &w,
            &emu,
            &["apply", "-m", "migration.toml", "--auto-approve"]
        )
        .status
        .success()
    );
    assert_eq!(live_identities(&emu)[&edited_id]["first_name"], "Renamed");
    let out = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn migrated_bcrypt_users_log_in_with_their_original_passwords() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    assert!(
        run(
            &w,
            &emu,
            &["apply", "-m", "migration.toml", "--auto-approve"]
        )
        .status
        .success()
    );
    let out = run(
        &w,
        &emu,
        &["verify", "-m", "migration.toml", "--logins", "logins.csv"],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("logins:"), "{text}");

    // The same identifiers with a wrong password fail, and verify says so.
    let logins = std::fs::read_to_string(w.path("logins.csv")).unwrap();
    let wrong: String = logins
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                format!("{},not-the-password\n", l.split(',').next().unwrap())
            }
        })
        .collect();
    w.write("wrong.csv", &wrong);
    let out = run(
        &w,
        &emu,
        &["verify", "-m", "migration.toml", "--logins", "wrong.csv"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("AVNOLOGY_AUTH_001"), "{text}");
    assert!(
        !text.contains("not-the-password"),
        "verify must not echo passwords: {text}"
    );
}

/// Runs a failing command and checks: exit 1, the message contains every `expect`, no
/// identity was created, and no secret leaked.
fn assert_fails_cleanly(w: &Workdir, emu: &Emulator, args: &[&str], expect: &[&str]) {
    let out = run(w, emu, args);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
    for e in expect {
        assert!(text.contains(e), "{args:?}: expected `{e}` in: {text}");
    }
    assert!(
        live_identities(emu).is_empty(),
        "{args:?} applied something: {text}"
    );
    let mut secrets = password_hashes(w);
    secrets.push(emu.api_key.clone());
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secrets(&text, &refs, &format!("{args:?}"));
}

/// Replaces the `n`th (0-based) non-empty line of the export.
fn replace_line(w: &Workdir, n: usize, f: impl Fn(&str) -> String) {
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let lines: Vec<String> = export
        .lines()
        .enumerate()
        .map(|(i, l)| if i == n { f(l) } else { l.to_string() })
        .collect();
    w.write("auth0_users.ndjson", &(lines.join("\n") + "\n"));
}

#[test]
fn truncated_ndjson_line_fails_with_file_and_line() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    replace_line(&w, 4, |l| l[..l.len() / 2].to_string());
    let apply = [
        "apply",
        "-m",
        "migration.toml",
        "--auto-approve",
        "--verbose",
    ];
    assert_fails_cleanly(&w, &emu, &apply, &["auth0_users.ndjson:5"]);
    assert_fails_cleanly(
        &w,
        &emu,
        &["validate", "-m", "migration.toml"],
        &["auth0_users.ndjson:5"],
    );
}

#[test]
fn record_without_user_id_fails_with_file_and_line() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    replace_line(&w, 2, |l| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v.as_object_mut().unwrap().remove("user_id");
        serde_json::to_string(&v).unwrap()
    });
    assert_fails_cleanly(
        &w,
        &emu,
        &["apply", "-m", "migration.toml", "--auto-approve"],
        &["auth0_users.ndjson:3", "user_id"],
    );
}

#[test]
fn malformed_email_fails_naming_the_external_id() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    let mut bad_id = String::new();
    let records = export_records(&w);
    let n = records.iter().position(|r| r["email"].is_string()).unwrap();
    bad_id.push_str(records[n]["user_id"].as_str().unwrap());
    replace_line(&w, n, |l| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v["email"] = Value::String("not-an-email.example.com".into());
        serde_json::to_string(&v).unwrap()
    });
    assert_fails_cleanly(
        &w,
        &emu,
        &["plan", "-m", "migration.toml"],
        &[
            &format!("auth0_users.ndjson:{}", n + 1),
            &bad_id,
            "not-an-email.example.com",
        ],
    );
}

#[test]
fn unknown_manifest_key_fails_with_line_and_column() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    w.write(
        "migration.toml",
        &manifest.replace("[target]", "[target]\norganisation = \"typo\""),
    );
    // The typo is on the line after `[target]`, at its first column.
    let line = manifest
        .lines()
        .position(|l| l.trim() == "[target]")
        .unwrap()
        + 2;
    let at = format!("migration.toml:{line}:1: unknown field `organisation`");
    assert_fails_cleanly(
        &w,
        &emu,
        &["apply", "-m", "migration.toml", "--auto-approve"],
        &[at.as_str(), "expected one of `url`, `organization`"],
    );
}

#[test]
fn missing_export_file_fails_naming_it() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    std::fs::remove_file(w.path("auth0_users.ndjson")).unwrap();
    assert_fails_cleanly(
        &w,
        &emu,
        &["apply", "-m", "migration.toml", "--auto-approve"],
        &["auth0_users.ndjson"],
    );
}

#[test]
fn wrong_api_key_fails_with_a_hint_and_never_prints_the_key() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    let wrong_key = "ak_test_wrongwrongwrongwrongwrong0123456789";
    let out = w
        .cmd(Some(&emu))
        .env("AVNOLOGY_SECRET_KEY", wrong_key)
        .args([
            "apply",
            "-m",
            "migration.toml",
            "--auto-approve",
            "--verbose",
        ])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("AVNOLOGY_AUTH_005"), "{text}");
    assert!(text.contains("hint: check AVNOLOGY_SECRET_KEY"), "{text}");
    assert_no_secrets(&text, &[wrong_key, &emu.api_key], "wrong-key output");
    assert!(live_identities(&emu).is_empty());
}

#[test]
fn readme_main_command_runs_against_the_in_process_sandbox() {
    // The README's first command, on a copy of the quickstart: apply, then an empty plan.
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    let out = w
        .cmd(None)
        .args(["apply", "-m", "migration.toml", "--auto-approve"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("local sandbox"), "{text}");
    assert!(w.path(".avnology-sandbox/sandbox.db").exists());
    // It holds the imported hashes: private to its owner, and ignored by git.
    let ignore = std::fs::read_to_string(w.path(".avnology-sandbox/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path(".avnology-sandbox"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let out = w
        .cmd(None)
        .args([
            "apply",
            "-m",
            "migration.toml",
            "--auto-approve",
            "--max-rps",
            "0",
        ])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not a rate"), "{text}");
    let out = w
        .cmd(None)
        .args([
            "apply",
            "-m",
            "migration.toml",
            "--auto-approve",
            "--max-rps",
            "NaN",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let out = w
        .cmd(None)
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = w
        .cmd(None)
        .args(["verify", "-m", "migration.toml", "--logins", "logins.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let hashes = password_hashes(&w);
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
    assert_no_secrets(&output_text(&out), &refs, "verify output");
}
