//! The final sync at cutover: a "day 0" export of each provider is applied, then a fresh
//! export of the same provider, in its real format, plans only the difference — the new user
//! created, the changed profile updated, the changed password hash re-imported (told by the
//! fingerprint in the owner marker, since hashes are never read back), the user blocked in
//! the old provider deactivated, and the user removed from it kept (prune off) or deleted
//! (prune on, within `max_deletes`). After the apply the next plan is empty, the new password
//! logs in, and the old one, the blocked user's and the deleted user's do not.
//!
//! Clerk runs twice: its dashboard CSV is the only export with password digests but has no
//! ban column, and its Backend API JSON has `banned` but no digests.

use base64::Engine as _;
use serde_json::{Value, json};

use super::common::{Emulator, Workdir, assert_no_secrets, output_text};

/// One provider's two exports and what the final sync must make of them.
struct Case {
    /// The manifest's `[[users]]` section (the target and the policy are added).
    users: String,
    /// Extra environment (the Firebase signer key).
    env: Vec<(String, String)>,
    /// The day-0 export's files, by name.
    day0: Vec<(String, String)>,
    /// The cutover export's files: the same names, written over the day-0 ones.
    cutover: Vec<(String, String)>,
    /// External ids: the user only the cutover export has.
    new: String,
    /// The user whose profile changed, the field path that shows it and its new value.
    changed: (String, &'static str, &'static str),
    /// The user whose password hash changed, where the provider exports hashes.
    rehashed: Option<String>,
    /// The user blocked, banned or disabled in the old provider, where the format says so.
    blocked: Option<String>,
    /// The user the cutover export no longer has.
    removed: String,
    /// Users the cutover leaves as they were.
    unchanged: Vec<String>,
    /// `identifier,password` rows that log in at day 0 (they include the rehashed user's old
    /// password, the blocked user's and the removed user's).
    day0_logins: Vec<(String, String)>,
    /// Rows that must log in after the final sync (the rehashed user's new password, the new
    /// user's).
    logins_after: Vec<(String, String)>,
    /// Rows that must be refused after the final sync.
    refused_after: Vec<(String, String)>,
    /// Hash material, keys and passwords that no output may contain.
    secrets: Vec<String>,
}

/// A workdir with the case's manifest and exports, its emulator, and every command's output
/// kept for the secret scan.
struct Run {
    w: Workdir,
    emu: Emulator,
    env: Vec<(String, String)>,
    transcript: String,
}

impl Run {
    fn run(&mut self, args: &[&str]) -> (Option<i32>, String) {
        let mut c = self.w.cmd(Some(&self.emu));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        let text = output_text(&out);
        self.transcript.push_str(&text);
        (out.status.code(), text)
    }

    fn ok(&mut self, args: &[&str]) -> String {
        let (code, text) = self.run(args);
        assert_eq!(code, Some(0), "{args:?}: {text}");
        text
    }

    /// `verify --logins` with these rows: its exit code and output.
    fn verify(&mut self, name: &str, rows: &[(String, String)]) -> (Option<i32>, String) {
        let csv: String = rows.iter().map(|(i, p)| format!("{i},{p}\n")).collect();
        self.w.write(name, &format!("identifier,password\n{csv}"));
        self.run(&["verify", "-m", "migration.toml", "--logins", name])
    }

    /// The newest row of this external id: its state, stored fields and version.
    fn identity(&self, external_id: &str) -> (String, Value, i64) {
        self.emu
            .db()
            .query_row(
                "SELECT state, data, version FROM identities WHERE external_id = ?1 \
                 ORDER BY seq DESC LIMIT 1",
                [external_id],
                |r| {
                    let data: String = r.get(1)?;
                    Ok((r.get(0)?, serde_json::from_str(&data).unwrap(), r.get(2)?))
                },
            )
            .unwrap_or_else(|e| panic!("no identity `{external_id}`: {e}"))
    }

    /// Identities with this external id, soft-deleted ones included.
    fn rows(&self, external_id: &str) -> i64 {
        self.emu
            .db()
            .query_row(
                "SELECT COUNT(*) FROM identities WHERE external_id = ?1",
                [external_id],
                |r| r.get(0),
            )
            .unwrap()
    }
}

fn manifest(users: &str, policy: &str) -> String {
    format!("[target]\norganization = \"acme-cutover\"\n\n{users}\n[policy]\n{policy}\n")
}

/// The verb the text plan gives `key` (`# identity "key" (source …) will be <verb>`).
fn verb<'a>(plan: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("# identity \"{key}\"");
    plan.lines()
        .find(|l| l.trim_start().starts_with(&needle))
        .and_then(|l| l.split(" will be ").nth(1))
}

/// The `Plan: …` line's counts, up to the unchanged count.
fn summary(create: u64, update: u64, deactivate: u64, delete: u64, unchanged: usize) -> String {
    format!(
        "Plan: {create} to create, {update} to update, {deactivate} to deactivate, 0 to reactivate, {delete} to delete. {unchanged} unchanged"
    )
}

fn final_sync(case: Case) {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    let mut r = Run {
        w,
        emu,
        env: case.env.clone(),
        transcript: String::new(),
    };
    let secrets: Vec<&str> = case.secrets.iter().map(String::as_str).collect();

    // Day 0.
    r.w.write("migration.toml", &manifest(&case.users, ""));
    for (name, text) in &case.day0 {
        r.w.write(name, text);
    }
    r.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    r.ok(&["plan", "-m", "migration.toml", "--detailed-exitcode"]);
    if !case.day0_logins.is_empty() {
        let (code, text) = r.verify("day0_logins.csv", &case.day0_logins);
        assert_eq!(code, Some(0), "day 0 logins: {text}");
    }
    let unchanged_before: Vec<_> = case.unchanged.iter().map(|k| r.identity(k)).collect();
    let fingerprint = |r: &Run, key: &str| {
        r.identity(key).1["admin_metadata"]["avnology_migrate"]["password_fp"]
            .as_str()
            .map(str::to_string)
    };
    let fp_before = case.rehashed.as_deref().map(|k| fingerprint(&r, k));

    // The cutover export, prune off: the removed user stays.
    for (name, text) in &case.cutover {
        r.w.write(name, text);
    }
    let updates = 1 + u64::from(case.rehashed.is_some());
    let deactivations = u64::from(case.blocked.is_some());
    let n_unchanged = case.unchanged.len();
    let (code, plan) = r.run(&["plan", "-m", "migration.toml", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{plan}");
    assert!(
        plan.contains(&summary(1, updates, deactivations, 0, n_unchanged)),
        "{plan}"
    );
    assert_eq!(verb(&plan, &case.new), Some("created"), "{plan}");
    let (changed, field, value) = &case.changed;
    assert_eq!(verb(&plan, changed), Some("updated in place"), "{plan}");
    assert!(
        plan.contains(&format!("\"{value}\"")) && plan.contains(field),
        "the changed {field} is shown: {plan}"
    );
    if let Some(key) = &case.rehashed {
        assert_eq!(verb(&plan, key), Some("updated in place"), "{plan}");
        // The hash itself never shows, only that it changes.
        assert!(
            plan.lines()
                .any(|l| l.trim_start().starts_with("~ password") && l.contains("(sensitive ")),
            "{plan}"
        );
    }
    if let Some(key) = &case.blocked {
        assert_eq!(verb(&plan, key), Some("deactivated"), "{plan}");
    }
    assert_eq!(verb(&plan, &case.removed), None, "prune is off: {plan}");
    for key in &case.unchanged {
        assert_eq!(verb(&plan, key), None, "{plan}");
    }

    // Prune on: the removed user is the one delete, and only within max_deletes.
    r.w.write("migration.toml", &manifest(&case.users, "prune = true"));
    let (code, text) = r.run(&["plan", "-m", "migration.toml"]);
    assert_eq!(code, Some(1), "max_deletes is 0 by default: {text}");
    assert!(text.contains("would delete 1 objects"), "{text}");
    r.w.write(
        "migration.toml",
        &manifest(&case.users, "prune = true\nmax_deletes = 1"),
    );
    let plan = r.ok(&["plan", "-m", "migration.toml", "--out", "cutover.json"]);
    assert!(
        plan.contains(&summary(1, updates, deactivations, 1, n_unchanged)),
        "{plan}"
    );
    assert_eq!(verb(&plan, &case.removed), Some("deleted"), "{plan}");
    r.ok(&["apply", "cutover.json"]);
    let (code, text) = r.run(&["plan", "-m", "migration.toml", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "the final sync left nothing to do: {text}");
    let (code, text) = r.run(&["verify", "-m", "migration.toml"]);
    assert_eq!(code, Some(0), "{text}");

    // What the tenant holds now.
    let (state, _, _) = r.identity(&case.new);
    assert_eq!(state, "active");
    let (state, data, _) = r.identity(changed);
    assert_eq!(state, "active");
    assert_eq!(data[field], json!(value), "{data}");
    if let Some(key) = &case.blocked {
        assert_eq!(r.identity(key).0, "inactive");
    }
    assert_eq!(r.identity(&case.removed).0, "scheduled_deletion");
    assert_eq!(r.rows(&case.removed), 1);
    if let (Some(key), Some(before)) = (&case.rehashed, fp_before) {
        let after = fingerprint(&r, key);
        assert!(before.is_some() && after.is_some() && before != after);
    }
    for (key, before) in case.unchanged.iter().zip(unchanged_before) {
        assert_eq!(r.identity(key), before, "`{key}` was not touched");
    }

    // The new password logs in; the old one, the blocked and the deleted user do not.
    if !case.logins_after.is_empty() {
        let (code, text) = r.verify("logins_after.csv", &case.logins_after);
        assert_eq!(code, Some(0), "{text}");
    }
    if !case.refused_after.is_empty() {
        let (code, text) = r.verify("refused_after.csv", &case.refused_after);
        assert_eq!(code, Some(1), "{text}");
        let n = case.refused_after.len();
        assert!(
            text.contains(&format!("logins: 0 of {n} succeeded")),
            "{text}"
        );
    }

    // No hash, key or password in any output, the plan file or the emulator's log.
    assert_no_secrets(&r.transcript, &secrets, "a command's output");
    let plan_file = std::fs::read_to_string(r.w.path("cutover.json")).unwrap();
    assert_no_secrets(&plan_file, &secrets, "the plan file");
    let log = r.emu.stderr.lock().unwrap().clone();
    assert_no_secrets(&log, &secrets, "the emulator's stderr");
}

/// A bcrypt hash of `password` at the lowest cost, so the test stays fast.
fn bcrypt(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

fn pair(identifier: &str, password: &str) -> (String, String) {
    (identifier.to_string(), password.to_string())
}

// ---------------------------------------------------------------------------------------
// Auth0: users-export NDJSON and the support-ticket password NDJSON
// ---------------------------------------------------------------------------------------

/// A database-connection user as the users-export job writes it.
fn auth0_user(oid: &str, given: &str, family: &str, email: &str, blocked: bool) -> Value {
    let mut u = json!({
        "user_id": format!("auth0|{oid}"),
        "email": email,
        "email_verified": true,
        "name": format!("{given} {family}"),
        "given_name": given,
        "family_name": family,
        "nickname": given.to_lowercase(),
        "picture": format!("https://avatars.example.com/{}.png", given.to_lowercase()),
        "created_at": "2021-03-04T05:06:07.890Z",
        "updated_at": "2024-11-02T10:11:12.131Z",
        "last_login": "2024-11-02T10:11:12.131Z",
        "logins_count": 42,
        "identities": [{"connection": "Username-Password-Authentication", "provider": "auth0",
            "user_id": oid, "isSocial": false}],
        "app_metadata": {"plan": "pro"}
    });
    if blocked {
        u["blocked"] = json!(true);
    }
    u
}

/// Its row of the password export (MongoDB extended JSON).
fn auth0_password(oid: &str, email: &str, hash: &str) -> Value {
    json!({
        "_id": {"$oid": oid},
        "email_verified": true,
        "email": email,
        "passwordHash": hash,
        "password_set_date": {"$date": "2021-03-04T05:07:07.412Z"},
        "tenant": "acme-cutover",
        "connection": "Username-Password-Authentication",
        "_tmp_is_unique": true,
        "identifiers": [{"type": "email", "value": email, "verified": true}]
    })
}

fn ndjson(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

#[test]
fn auth0_final_sync_plans_only_the_difference() {
    // (oid, given name, family name, email)
    let users = [
        (
            "64b7f0c2a1e4d3b2c1a00001",
            "Avery",
            "Quill",
            "avery.quill@example.com",
        ),
        (
            "64b7f0c2a1e4d3b2c1a00002",
            "Blake",
            "Sample",
            "blake.sample@example.com",
        ),
        (
            "64b7f0c2a1e4d3b2c1a00003",
            "Casey",
            "Rehash",
            "casey.rehash@example.com",
        ),
        (
            "64b7f0c2a1e4d3b2c1a00004",
            "Dana",
            "Blocked",
            "dana.blocked@example.com",
        ),
        (
            "64b7f0c2a1e4d3b2c1a00005",
            "Eli",
            "Gone",
            "eli.gone@example.com",
        ),
    ];
    let newcomer = (
        "64b7f0c2a1e4d3b2c1a00006",
        "Fay",
        "Newcomer",
        "fay.newcomer@example.com",
    );
    let password = |given: &str| format!("{}-DayZero-2024!", given.to_lowercase());
    let hashes: Vec<String> = users.iter().map(|u| bcrypt(&password(u.1))).collect();
    let casey_new = "casey-Cutover-2025!";
    let casey_hash = bcrypt(casey_new);
    let fay_pw = password(newcomer.1);
    let fay_hash = bcrypt(&fay_pw);

    let day0_users: Vec<Value> = users
        .iter()
        .map(|u| auth0_user(u.0, u.1, u.2, u.3, false))
        .collect();
    let day0_passwords: Vec<Value> = users
        .iter()
        .zip(&hashes)
        .map(|(u, h)| auth0_password(u.0, u.3, h))
        .collect();

    // A fresh export: Blake married, Casey reset a password, Dana was blocked, Eli deleted
    // the account, Fay signed up. The password export lists only existing users.
    let mut cut_users = vec![
        auth0_user(users[0].0, "Avery", "Quill", users[0].3, false),
        auth0_user(users[1].0, "Blake", "Sample-Reyes", users[1].3, false),
        auth0_user(users[2].0, "Casey", "Rehash", users[2].3, false),
        auth0_user(users[3].0, "Dana", "Blocked", users[3].3, true),
    ];
    // New users are appended, as the export job lists by creation.
    cut_users.push(auth0_user(
        newcomer.0, newcomer.1, newcomer.2, newcomer.3, false,
    ));
    let cut_passwords = vec![
        auth0_password(users[0].0, users[0].3, &hashes[0]),
        auth0_password(users[1].0, users[1].3, &hashes[1]),
        auth0_password(users[2].0, users[2].3, &casey_hash),
        auth0_password(users[3].0, users[3].3, &hashes[3]),
        auth0_password(newcomer.0, newcomer.3, &fay_hash),
    ];

    let id = |oid: &str| format!("auth0|{oid}");
    let mut secrets: Vec<String> = hashes.clone();
    secrets.extend([casey_hash.clone(), fay_hash.clone()]);
    secrets.extend(users.iter().map(|u| password(u.1)));
    secrets.extend([casey_new.to_string(), fay_pw.clone()]);
    final_sync(Case {
        users: "[[users]]\nname = \"auth0-prod\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\npasswords = \"passwords.ndjson\"\n".into(),
        env: Vec::new(),
        day0: vec![
            ("users.ndjson".into(), ndjson(&day0_users)),
            ("passwords.ndjson".into(), ndjson(&day0_passwords)),
        ],
        cutover: vec![
            ("users.ndjson".into(), ndjson(&cut_users)),
            ("passwords.ndjson".into(), ndjson(&cut_passwords)),
        ],
        new: id(newcomer.0),
        changed: (id(users[1].0), "last_name", "Sample-Reyes"),
        rehashed: Some(id(users[2].0)),
        blocked: Some(id(users[3].0)),
        removed: id(users[4].0),
        unchanged: vec![id(users[0].0)],
        day0_logins: users.iter().map(|u| pair(u.3, &password(u.1))).collect(),
        logins_after: vec![
            pair(users[0].3, &password("Avery")),
            pair(users[1].3, &password("Blake")),
            pair(users[2].3, casey_new),
            pair(newcomer.3, &fay_pw),
        ],
        refused_after: vec![
            pair(users[2].3, &password("Casey")),
            pair(users[3].3, &password("Dana")),
            pair(users[4].3, &password("Eli")),
        ],
        secrets,
    });
}

// ---------------------------------------------------------------------------------------
// Clerk: the dashboard CSV (digests, no bans) and the Backend API JSON (bans, no digests)
// ---------------------------------------------------------------------------------------

const CLERK_HEADER: &str = "id,first_name,last_name,username,primary_email_address,primary_phone_number,verified_email_addresses,unverified_email_addresses,verified_phone_numbers,unverified_phone_numbers,totp_secret,password_digest,password_hasher,created_at";

/// A dashboard-export row of a bcrypt user with one verified address.
fn clerk_row(id: &str, first: &str, last: &str, email: &str, digest: &str) -> String {
    format!("{id},{first},{last},,{email},,{email},,,,,{digest},bcrypt,2023-05-06T07:08:09Z")
}

fn clerk_csv(rows: &[String]) -> String {
    format!("{CLERK_HEADER}\n{}\n", rows.join("\n"))
}

#[test]
fn clerk_csv_final_sync_plans_only_the_difference() {
    // (id, first, last, email)
    let users = [
        (
            "user_2cutAvery00000000000000001",
            "Avery",
            "Mock",
            "avery.mock@example.com",
        ),
        (
            "user_2cutBlair00000000000000002",
            "Blair",
            "Stub",
            "blair.stub@example.com",
        ),
        (
            "user_2cutCamer00000000000000003",
            "Cameron",
            "Rehash",
            "cameron.rehash@example.com",
        ),
        (
            "user_2cutDevin00000000000000004",
            "Devin",
            "Gone",
            "devin.gone@example.com",
        ),
    ];
    let newcomer = (
        "user_2cutEmers00000000000000005",
        "Emerson",
        "New",
        "emerson.new@example.com",
    );
    let password = |first: &str| format!("{}-Clerk-2024!", first.to_lowercase());
    let hashes: Vec<String> = users.iter().map(|u| bcrypt(&password(u.1))).collect();
    let cameron_new = "cameron-Clerk-2025!";
    let cameron_hash = bcrypt(cameron_new);
    let emerson_pw = password(newcomer.1);
    let emerson_hash = bcrypt(&emerson_pw);

    let day0: Vec<String> = users
        .iter()
        .zip(&hashes)
        .map(|(u, h)| clerk_row(u.0, u.1, u.2, u.3, h))
        .collect();
    // The dashboard CSV has no ban column: a ban in Clerk is invisible in this export, so
    // the JSON test below covers it.
    let cutover = vec![
        clerk_row(users[0].0, "Avery", "Mock", users[0].3, &hashes[0]),
        clerk_row(users[1].0, "Blair", "Stub-Okafor", users[1].3, &hashes[1]),
        clerk_row(users[2].0, "Cameron", "Rehash", users[2].3, &cameron_hash),
        clerk_row(
            newcomer.0,
            newcomer.1,
            newcomer.2,
            newcomer.3,
            &emerson_hash,
        ),
    ];

    let mut secrets: Vec<String> = hashes.clone();
    secrets.extend([cameron_hash.clone(), emerson_hash.clone()]);
    secrets.extend(users.iter().map(|u| password(u.1)));
    secrets.extend([cameron_new.to_string(), emerson_pw.clone()]);
    final_sync(Case {
        users: "[[users]]\nname = \"clerk\"\nprovider = \"clerk\"\npath = \"clerk_users.csv\"\n"
            .into(),
        env: Vec::new(),
        day0: vec![("clerk_users.csv".into(), clerk_csv(&day0))],
        cutover: vec![("clerk_users.csv".into(), clerk_csv(&cutover))],
        new: newcomer.0.into(),
        changed: (users[1].0.into(), "last_name", "Stub-Okafor"),
        rehashed: Some(users[2].0.into()),
        blocked: None,
        removed: users[3].0.into(),
        unchanged: vec![users[0].0.into()],
        day0_logins: users.iter().map(|u| pair(u.3, &password(u.1))).collect(),
        logins_after: vec![
            pair(users[0].3, &password("Avery")),
            pair(users[1].3, &password("Blair")),
            pair(users[2].3, cameron_new),
            pair(newcomer.3, &emerson_pw),
        ],
        refused_after: vec![
            pair(users[2].3, &password("Cameron")),
            pair(users[3].3, &password("Devin")),
        ],
        secrets,
    });
}

/// A Backend API user object (`GET /v1/users`), timestamps in Unix milliseconds.
fn clerk_api_user(id: &str, first: &str, last: &str, email: &str, banned: bool) -> Value {
    let email_id = format!("idn_{}", &id[5..]);
    json!({
        "id": id,
        "object": "user",
        "username": null,
        "first_name": first,
        "last_name": last,
        "image_url": "https://img.clerk.com/default",
        "has_image": false,
        "primary_email_address_id": email_id,
        "primary_phone_number_id": null,
        "email_addresses": [{
            "id": email_id,
            "object": "email_address",
            "email_address": email,
            "verification": {"status": "verified", "strategy": "email_code"},
            "linked_to": []
        }],
        "phone_numbers": [],
        "external_accounts": [],
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "password_enabled": true,
        "two_factor_enabled": false,
        "banned": banned,
        "locked": false,
        "created_at": 1_700_690_400_000u64,
        "updated_at": 1_730_000_000_000u64
    })
}

#[test]
fn clerk_api_json_final_sync_deactivates_banned_users() {
    let users = [
        (
            "user_2apiAvery000000000000000001",
            "Avery",
            "Mock",
            "avery.api@example.com",
        ),
        (
            "user_2apiBlair000000000000000002",
            "Blair",
            "Stub",
            "blair.api@example.com",
        ),
        (
            "user_2apiCasey000000000000000003",
            "Casey",
            "Banned",
            "casey.api@example.com",
        ),
        (
            "user_2apiDevin000000000000000004",
            "Devin",
            "Gone",
            "devin.api@example.com",
        ),
    ];
    let newcomer = (
        "user_2apiEmers000000000000000005",
        "Emerson",
        "New",
        "emerson.api@example.com",
    );
    let doc = |users: Vec<Value>| {
        let total = users.len();
        serde_json::to_string_pretty(&json!({"data": users, "total_count": total})).unwrap()
    };
    let day0 = doc(users
        .iter()
        .map(|u| clerk_api_user(u.0, u.1, u.2, u.3, false))
        .collect());
    let cutover = doc(vec![
        clerk_api_user(users[0].0, "Avery", "Mock", users[0].3, false),
        clerk_api_user(users[1].0, "Blair", "Stub-Okafor", users[1].3, false),
        clerk_api_user(users[2].0, "Casey", "Banned", users[2].3, true),
        clerk_api_user(newcomer.0, newcomer.1, newcomer.2, newcomer.3, false),
    ]);
    final_sync(Case {
        users: "[[users]]\nname = \"clerk-api\"\nprovider = \"clerk\"\npath = \"users.json\"\n"
            .into(),
        env: Vec::new(),
        day0: vec![("users.json".into(), day0)],
        cutover: vec![("users.json".into(), cutover)],
        new: newcomer.0.into(),
        changed: (users[1].0.into(), "last_name", "Stub-Okafor"),
        rehashed: None,
        blocked: Some(users[2].0.into()),
        removed: users[3].0.into(),
        unchanged: vec![users[0].0.into()],
        day0_logins: Vec::new(),
        logins_after: Vec::new(),
        refused_after: Vec::new(),
        secrets: Vec::new(),
    });
}

// ---------------------------------------------------------------------------------------
// Firebase: `auth:export` JSON with firebase-scrypt hashes and the project's parameters
// ---------------------------------------------------------------------------------------

/// Firebase's published test vector (firebase/scrypt README): signer key, separator, rounds
/// 8, memory cost 14, and one user's salt, password and hash.
const FIREBASE_KEY: &str =
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
const VECTOR_SALT: &str = "42xEC+ixf3L2lw==";
const VECTOR_PASSWORD: &str = "user1password";
const VECTOR_HASH: &str =
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";

/// `passwordHash` for `password` with this (base64) salt under the test-vector parameters.
fn firebase_hash(password: &str, salt: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let out = avnology_migrate::emulator::password::firebase_scrypt(
        password.as_bytes(),
        &b64.decode(salt).unwrap(),
        &b64.decode("Bw==").unwrap(),
        &b64.decode(FIREBASE_KEY).unwrap(),
        8,
        14,
    )
    .unwrap();
    b64.encode(out)
}

/// A password user as `auth:export` writes one (keys in its order, absent ones omitted).
fn firebase_user(local_id: &str, email: &str, name: &str, hash: &str, salt: &str) -> Value {
    json!({
        "localId": local_id,
        "email": email,
        "emailVerified": true,
        "passwordHash": hash,
        "salt": salt,
        "displayName": name,
        "lastSignedInAt": "1730000000000",
        "createdAt": "1609459200000",
        "providerUserInfo": []
    })
}

/// The document exactly as firebase-tools writes it: `{"users": [` and a newline, each user
/// pretty-printed, `,\n` between them, then `]}` and no trailing newline.
fn firebase_export(users: &[Value]) -> String {
    let body: Vec<String> = users
        .iter()
        .map(|u| serde_json::to_string_pretty(u).unwrap())
        .collect();
    format!("{{\"users\": [\n{}]}}", body.join(",\n"))
}

#[test]
fn firebase_final_sync_plans_only_the_difference() {
    // The hashing the emulator verifies reproduces Firebase's published vector.
    assert_eq!(firebase_hash(VECTOR_PASSWORD, VECTOR_SALT), VECTOR_HASH);

    // (localId, email, displayName, password, salt)
    let users = [
        (
            "kYi4EvWQlQTKSfnJ3dRSP6IH3ed2",
            "user1@example.com",
            "Test User One",
            VECTOR_PASSWORD,
            VECTOR_SALT,
        ),
        (
            "x4P3ky8mljhjZMcyzV4t3T4VZa5I",
            "rowan.placeholder@example.com",
            "Rowan Placeholder",
            "rowan-Firebase-2024!",
            "g8QMXrdKG1SXqQ==",
        ),
        (
            "lYGMz8GSkxR3So9peOFf5tcJIM06",
            "sky.sample@example.com",
            "Sky Sample",
            "sky-Firebase-2024!",
            "PtNGozFSyI2uxQ==",
        ),
        (
            "CQXCnqxPUJR9WqulmDWTApvinstG",
            "devon.disabled@example.com",
            "Devon Disabled",
            "devon-Firebase-2024!",
            "Ud5D/LCCT8B81g==",
        ),
        (
            "jXP7L535HbH08xo2jeZDsG0rF7ZS",
            "lane.mockwell@example.com",
            "Lane Mockwell",
            "lane-Firebase-2024!",
            "5YMljwoVrix9Aw==",
        ),
    ];
    let newcomer = (
        "N3wc0m3rFirebaseUid000000001",
        "nova.newcomer@example.com",
        "Nova Newcomer",
        "nova-Firebase-2025!",
        "bm92YS1zYWx0LTE=",
    );
    let hashes: Vec<String> = users.iter().map(|u| firebase_hash(u.3, u.4)).collect();
    assert_eq!(hashes[0], VECTOR_HASH);
    // Sky changed the password: Firebase stores a new salt with the new hash.
    let sky_new = "sky-Firebase-2025!";
    let sky_salt = "c2t5LXNhbHQtMg==";
    let sky_hash = firebase_hash(sky_new, sky_salt);
    let nova_hash = firebase_hash(newcomer.3, newcomer.4);

    let day0: Vec<Value> = users
        .iter()
        .zip(&hashes)
        .map(|(u, h)| firebase_user(u.0, u.1, u.2, h, u.4))
        .collect();
    let mut devon = day0[3].clone();
    devon["disabled"] = json!(true);
    let cutover = vec![
        day0[0].clone(),
        firebase_user(
            users[1].0,
            users[1].1,
            "Rowan Placeholder-Ng",
            &hashes[1],
            users[1].4,
        ),
        firebase_user(users[2].0, users[2].1, users[2].2, &sky_hash, sky_salt),
        devon,
        firebase_user(newcomer.0, newcomer.1, newcomer.2, &nova_hash, newcomer.4),
    ];

    let mut secrets: Vec<String> = hashes.clone();
    secrets.extend(users.iter().map(|u| u.4.to_string()));
    secrets.extend([sky_hash, sky_salt.into(), nova_hash, newcomer.4.into()]);
    secrets.push(FIREBASE_KEY.into());
    secrets.extend(users.iter().map(|u| u.3.to_string()));
    secrets.extend([sky_new.to_string(), newcomer.3.to_string()]);
    final_sync(Case {
        users: "[[users]]\nname = \"firebase\"\nprovider = \"firebase\"\npath = \"firebase_users.json\"\n\n[users.firebase_hash]\nsigner_key = \"${env:FIREBASE_SIGNER_KEY}\"\nsalt_separator = \"Bw==\"\nrounds = 8\nmem_cost = 14\n".into(),
        env: vec![("FIREBASE_SIGNER_KEY".into(), FIREBASE_KEY.into())],
        day0: vec![("firebase_users.json".into(), firebase_export(&day0))],
        cutover: vec![("firebase_users.json".into(), firebase_export(&cutover))],
        new: newcomer.0.into(),
        changed: (users[1].0.into(), "display_name", "Rowan Placeholder-Ng"),
        rehashed: Some(users[2].0.into()),
        blocked: Some(users[3].0.into()),
        removed: users[4].0.into(),
        unchanged: vec![users[0].0.into()],
        day0_logins: users.iter().map(|u| pair(u.1, u.3)).collect(),
        logins_after: vec![
            pair(users[0].1, users[0].3),
            pair(users[1].1, users[1].3),
            pair(users[2].1, sky_new),
            pair(newcomer.1, newcomer.3),
        ],
        refused_after: vec![
            pair(users[2].1, users[2].3),
            pair(users[3].1, users[3].3),
            pair(users[4].1, users[4].3),
        ],
        secrets,
    });
}

// ---------------------------------------------------------------------------------------
// Cognito: `aws cognito-idp list-users` pages (no hashes, ever)
// ---------------------------------------------------------------------------------------

/// A `UserType` as `list-users` prints it (CLI v2: ISO 8601 dates).
fn cognito_user(sub: &str, given: &str, family: &str, email: &str, enabled: bool) -> Value {
    let attr = |name: &str, value: &str| json!({"Name": name, "Value": value});
    json!({
        "Username": sub,
        "Attributes": [
            attr("sub", sub),
            attr("email_verified", "true"),
            attr("given_name", given),
            attr("family_name", family),
            attr("name", &format!("{given} {family}")),
            attr("custom:tier", "gold"),
            attr("email", email)
        ],
        "UserCreateDate": "2023-05-01T15:43:49.578000+00:00",
        "UserLastModifiedDate": "2024-10-01T08:00:00.000000+00:00",
        "Enabled": enabled,
        "UserStatus": "CONFIRMED"
    })
}

/// Pages as the CLI writes them one after another into one file (4-space indentation).
fn cognito_pages(pages: &[Vec<Value>]) -> String {
    pages
        .iter()
        .map(|users| {
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&json!({"Users": users}), &mut ser).unwrap();
            String::from_utf8(out).unwrap() + "\n"
        })
        .collect()
}

#[test]
fn cognito_final_sync_plans_only_the_difference() {
    let users = [
        (
            "5a1e0000-0000-4000-8000-0000000000a1",
            "Morgan",
            "Pool",
            "morgan.pool@example.com",
        ),
        (
            "5a1e0000-0000-4000-8000-0000000000a2",
            "Riley",
            "Attr",
            "riley.attr@example.com",
        ),
        (
            "5a1e0000-0000-4000-8000-0000000000a3",
            "Sam",
            "Disabled",
            "sam.disabled@example.com",
        ),
        (
            "5a1e0000-0000-4000-8000-0000000000a4",
            "Toby",
            "Gone",
            "toby.gone@example.com",
        ),
    ];
    let newcomer = (
        "5a1e0000-0000-4000-8000-0000000000a5",
        "Uma",
        "New",
        "uma.new@example.com",
    );
    let day0: Vec<Value> = users
        .iter()
        .map(|u| cognito_user(u.0, u.1, u.2, u.3, true))
        .collect();
    // Two pages, as a paginated export of a pool with more users than one page holds.
    let day0 = cognito_pages(&[day0[..2].to_vec(), day0[2..].to_vec()]);
    let cutover = cognito_pages(&[
        vec![
            cognito_user(users[0].0, "Morgan", "Pool", users[0].3, true),
            cognito_user(users[1].0, "Riley", "Attr-Lee", users[1].3, true),
        ],
        vec![
            cognito_user(users[2].0, "Sam", "Disabled", users[2].3, false),
            cognito_user(newcomer.0, newcomer.1, newcomer.2, newcomer.3, true),
        ],
    ]);
    final_sync(Case {
        users:
            "[[users]]\nname = \"cognito\"\nprovider = \"cognito\"\npath = \"cognito_users.json\"\n"
                .into(),
        env: Vec::new(),
        day0: vec![("cognito_users.json".into(), day0)],
        cutover: vec![("cognito_users.json".into(), cutover)],
        new: newcomer.0.into(),
        changed: (users[1].0.into(), "last_name", "Attr-Lee"),
        rehashed: None,
        blocked: Some(users[2].0.into()),
        removed: users[3].0.into(),
        unchanged: vec![users[0].0.into()],
        day0_logins: Vec::new(),
        logins_after: Vec::new(),
        refused_after: Vec::new(),
        secrets: Vec::new(),
    });
}
