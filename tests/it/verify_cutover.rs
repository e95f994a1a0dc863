//! Issue 10, item 4: `verify` for the cutover. `--sample N` logs in N rows of the logins
//! file chosen at random and reports them per source (rows of identities of no source of
//! this manifest, and of no identity at all, on their own lines); identities of this
//! manifest's sources that no source declares any more are reported by source and external
//! id, as a warning unless `--strict`. Passwords never reach the output, and a malformed
//! logins file is refused with its line before anything is sent.

use std::collections::BTreeSet;

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

fn run(w: &Workdir, emu: &Emulator, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd(Some(emu)).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

fn apply(w: &Workdir, emu: &Emulator, manifest: &str) {
    let (code, text) = run(w, emu, &["apply", "-m", manifest, "--auto-approve"]);
    assert_eq!(code, Some(0), "{text}");
}

/// The rows of a logins file (after its header).
fn logins(w: &Workdir, file: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(w.path(file))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (id, pw) = l.split_once(',').unwrap();
            (id.to_string(), pw.to_string())
        })
        .collect()
}

fn write_logins(w: &Workdir, file: &str, rows: &[(String, String)]) {
    let mut text = String::from("identifier,password\n");
    for (id, pw) in rows {
        text.push_str(&format!("{id},{pw}\n"));
    }
    w.write(file, &text);
}

/// The identifiers named by the per-failure lines of a verify run.
fn failed_identifiers(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("FAIL login `"))
        .map(|l| l.split('`').next().unwrap().to_string())
        .collect()
}

fn assert_no_passwords(text: &str, rows: &[(String, String)]) {
    let passwords: Vec<&str> = rows.iter().map(|(_, p)| p.as_str()).collect();
    assert_no_secrets(text, &passwords, "verify output");
}

#[test]
fn a_sample_of_the_logins_is_counted_per_source_and_repeats_with_its_seed() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    apply(&w, &emu, "migration.toml");
    let rows = logins(&w, "logins.csv");
    assert_eq!(rows.len(), 5);

    let args = [
        "verify",
        "-m",
        "migration.toml",
        "--logins",
        "logins.csv",
        "--sample",
        "5",
        "--seed",
        "1",
    ];
    let (code, text) = run(&w, &emu, &args);
    assert_eq!(code, Some(0), "{text}");
    for expected in [
        "ok   logins of source `auth0-prod`: 5 of 5 succeeded\n",
        "ok   logins: 5 of 5 succeeded (a random sample of 5 of the 5 rows of logins.csv, seed 1)\n",
        "ok   not in the sources: none",
        "ok   plan: no changes\n",
    ] {
        assert!(text.contains(expected), "expected `{expected}` in: {text}");
    }
    assert!(!text.contains("--seed 1"), "{text}");
    assert_no_passwords(&text, &rows);

    // Every password wrong, so the sampled rows are the ones named: the same seed picks
    // the same rows, and a run without a seed prints the one that repeats its sample.
    let wrong: Vec<(String, String)> = rows
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.clone(), format!("not-the-password-{i}")))
        .collect();
    write_logins(&w, "wrong.csv", &wrong);
    let sampled = |seed: Option<&str>| {
        let mut args = vec![
            "verify",
            "-m",
            "migration.toml",
            "--logins",
            "wrong.csv",
            "--sample",
            "2",
        ];
        if let Some(s) = seed {
            args.extend(["--seed", s]);
        }
        let (code, text) = run(&w, &emu, &args);
        assert_eq!(code, Some(1), "{text}");
        assert_no_passwords(&text, &wrong);
        assert!(
            text.contains("FAIL logins of source `auth0-prod`: 0 of 2 succeeded; failed: `"),
            "{text}"
        );
        assert!(text.contains("FAIL logins: 0 of 2 succeeded (a random sample of 2 of the 5 rows of wrong.csv, seed "), "{text}");
        let failed = failed_identifiers(&text);
        assert_eq!(failed.len(), 2, "{text}");
        assert!(failed.iter().all(|f| wrong.iter().any(|(id, _)| id == f)));
        (failed, text)
    };
    let (first, _) = sampled(Some("7"));
    assert_eq!(sampled(Some("7")).0, first);
    let (unseeded, text) = sampled(None);
    let seed = text
        .split("`--seed ")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .unwrap_or_else(|| panic!("no seed to repeat the sample: {text}"))
        .to_string();
    assert_eq!(sampled(Some(&seed)).0, unseeded);
}

/// A second manifest in the same organization, source `team-b`, with one user who logs in
/// with Avery's password as `other@example.com`.
fn other_team(w: &Workdir) {
    let user = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let mut user: Value = serde_json::from_str(user.lines().next().unwrap()).unwrap();
    let oid = "00000000000000000000b0b1";
    user["user_id"] = format!("auth0|{oid}").into();
    user["email"] = "other@example.com".into();
    user["identities"][0]["user_id"] = oid.into();
    w.write("other_users.ndjson", &format!("{user}\n"));
    let password = std::fs::read_to_string(w.path("auth0_passwords.ndjson")).unwrap();
    let mut password: Value = serde_json::from_str(password.lines().next().unwrap()).unwrap();
    password["_id"]["$oid"] = oid.into();
    password["email"] = "other@example.com".into();
    w.write("other_passwords.ndjson", &format!("{password}\n"));
    w.write(
        "other.toml",
        "[target]\norganization = \"acme\"\n\n[[users]]\nname = \"team-b\"\nprovider = \"auth0\"\npath = \"other_users.ndjson\"\npasswords = \"other_passwords.ndjson\"\n",
    );
}

#[test]
fn a_wrong_password_fails_its_source_naming_the_identifier_never_the_password() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    apply(&w, &emu, "migration.toml");
    other_team(&w);
    apply(&w, &emu, "other.toml");

    let rows = logins(&w, "logins.csv");
    let avery = rows[0].1.clone();
    let mut bad: Vec<(String, String)> = rows
        .iter()
        .map(|(id, pw)| {
            if id == "kai.widget@example.com" {
                (id.clone(), "kai-Wrong-2024!".to_string())
            } else {
                (id.clone(), pw.clone())
            }
        })
        .collect();
    assert!(bad.iter().any(|(_, pw)| pw == "kai-Wrong-2024!"));
    // Kai's username, a user of the other manifest, and nobody at all.
    bad.push(("kai_widget".into(), "kai-Username-Wrong!".into()));
    bad.push(("other@example.com".into(), avery));
    bad.push(("ghost@example.com".into(), "ghost-Password-1!".into()));
    write_logins(&w, "bad.csv", &bad);

    for sample in [None, Some("100")] {
        let mut args = vec!["verify", "-m", "migration.toml", "--logins", "bad.csv"];
        if let Some(n) = sample {
            args.extend(["--sample", n, "--seed", "3"]);
        }
        let (code, text) = run(&w, &emu, &args);
        assert_eq!(code, Some(1), "{text}");
        for expected in [
            "FAIL login `kai.widget@example.com` (bad.csv:4): AVNOLOGY_AUTH_001 ",
            "FAIL login `kai_widget` (bad.csv:7): AVNOLOGY_AUTH_001 ",
            "FAIL login `ghost@example.com` (bad.csv:9): AVNOLOGY_AUTH_001 ",
            "FAIL logins of source `auth0-prod`: 4 of 6 succeeded; failed: `kai.widget@example.com`, `kai_widget`\n",
            "ok   logins of identities of no source of this manifest: 1 of 1 succeeded\n",
            "FAIL logins of identifiers with no identity in the tenant: 0 of 1 succeeded; failed: `ghost@example.com`\n",
            "FAIL logins: 5 of 8 succeeded",
            // The other manifest's identity is not this one's to report.
            "ok   not in the sources: none",
            "ok   plan: no changes\n",
        ] {
            assert!(
                text.contains(expected),
                "{sample:?}: expected `{expected}` in: {text}"
            );
        }
        assert_eq!(
            text.contains("(a random sample of 8 of the 8 rows of bad.csv, seed 3)"),
            sample.is_some(),
            "{text}"
        );
        assert_no_passwords(&text, &bad);
        assert_no_secrets(&text, &[&emu.api_key], "verify output");
    }
}

#[test]
fn identities_no_longer_in_the_sources_are_reported_by_source() {
    let emu = Emulator::start(&[]);
    let w = quickstart();
    apply(&w, &emu, "migration.toml");

    // Blake and Casey were deleted in Auth0 before the final export.
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let lines: Vec<&str> = export.lines().collect();
    let removed: Vec<String> = lines[1..3]
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["user_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let kept: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !(1..3).contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    w.write("auth0_users.ndjson", &kept);

    let (code, text) = run(&w, &emu, &["verify", "-m", "migration.toml"]);
    assert_eq!(code, Some(0), "a warning by default: {text}");
    let warning = text
        .lines()
        .find_map(|l| l.strip_prefix("WARN not in the sources: source `auth0-prod`: 2 identities in the tenant that no source declares any more: "))
        .unwrap_or_else(|| panic!("no warning for source auth0-prod: {text}"));
    // Named in the order the tenant lists them.
    let named: BTreeSet<&str> = warning.split(", ").collect();
    let want: BTreeSet<String> = removed.iter().map(|id| format!("`{id}`")).collect();
    assert_eq!(named, want.iter().map(String::as_str).collect(), "{text}");
    for expected in [
        "ok   counts: 28 user records: 27 to migrate, 1 skipped, 0 invalid; 29 migrated identities in the tenant, 2 of them no longer in the sources\n",
        "ok   plan: no changes\n",
        "     hint: deleted in the old provider, or left out of the export? `prune = true` under [policy] deletes them at the next apply",
    ] {
        assert!(text.contains(expected), "expected `{expected}` in: {text}");
    }

    let (code, text) = run(&w, &emu, &["verify", "-m", "migration.toml", "--strict"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL not in the sources: source `auth0-prod`: 2 identities"),
        "{text}"
    );

    // With prune the plan deletes them: verify says so (and is not stopped by max_deletes),
    // and once applied nothing is left to report.
    let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
    w.write(
        "migration.toml",
        &format!("{manifest}\n[policy]\nprune = true\n"),
    );
    let (code, text) = run(&w, &emu, &["verify", "-m", "migration.toml"]);
    assert_eq!(code, Some(1), "{text}");
    for expected in [
        "FAIL plan: 2 change(s) pending\n",
        "WARN not in the sources: source `auth0-prod`: 2 identities",
        "     hint: prune = true: the plan deletes them; run apply\n",
    ] {
        assert!(text.contains(expected), "expected `{expected}` in: {text}");
    }
    w.write(
        "migration.toml",
        &format!("{manifest}\n[policy]\nprune = true\nmax_deletes = 2\n"),
    );
    apply(&w, &emu, "migration.toml");
    let (code, text) = run(&w, &emu, &["verify", "-m", "migration.toml", "--strict"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok   not in the sources: none"), "{text}");
}

#[test]
fn bad_sample_options_and_malformed_logins_files_are_refused_before_any_login() {
    let emu = Emulator::start(&["--log-requests"]);
    let w = quickstart();
    let rows = logins(&w, "logins.csv");
    for (args, expect) in [
        (
            vec!["--logins", "logins.csv", "--sample", "0"],
            "invalid value '0' for '--sample <N>'",
        ),
        (vec!["--logins", "logins.csv", "--sample", "x"], "--sample"),
        (vec!["--sample", "3"], "--logins"),
        (vec!["--logins", "logins.csv", "--seed", "1"], "--sample"),
    ] {
        let mut all = vec!["verify", "-m", "migration.toml"];
        all.extend(args.iter().copied());
        let (code, text) = run(&w, &emu, &all);
        assert_eq!(code, Some(1), "{args:?}: {text}");
        assert!(
            text.contains(expect),
            "{args:?}: expected `{expect}` in: {text}"
        );
    }

    let mut malformed = String::from("identifier,password\n");
    for (id, pw) in &rows[..2] {
        malformed.push_str(&format!("{id},{pw}\n"));
    }
    malformed.push_str(&format!("{},{},extra\n", rows[2].0, rows[2].1));
    malformed.push_str(&format!("{},{}\n", rows[3].0, rows[3].1));
    w.write("malformed.csv", &malformed);
    w.write(
        "header.csv",
        &format!("email,password\n{},{}\n", rows[0].0, rows[0].1),
    );
    w.write(
        "empty.csv",
        &format!(
            "identifier,password\n{},{}\n{},\n",
            rows[0].0, rows[0].1, rows[1].0
        ),
    );
    for (file, expect) in [
        (
            "malformed.csv",
            "error: malformed.csv:4: expected 2 fields (identifier,password), found 3",
        ),
        (
            "header.csv",
            "error: header.csv:1: the header must be `identifier,password`",
        ),
        ("empty.csv", "error: empty.csv:3: the password is empty"),
        (
            "missing.csv",
            "error: cannot read the logins file `missing.csv`",
        ),
    ] {
        for sample in [None, Some("2")] {
            let mut args = vec!["verify", "-m", "migration.toml", "--logins", file];
            if let Some(n) = sample {
                args.extend(["--sample", n]);
            }
            let (code, text) = run(&w, &emu, &args);
            assert_eq!(code, Some(1), "{args:?}: {text}");
            assert!(
                text.contains(expect),
                "{args:?}: expected `{expect}` in: {text}"
            );
            assert_no_passwords(&text, &rows);
        }
    }
    // Refused before the tenant was contacted: the emulator saw no request at all.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = emu.stderr.lock().unwrap().clone();
    assert!(!log.contains("/v1/"), "verify reached the tenant: {log}");
}
