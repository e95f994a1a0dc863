//! examples/firebase end to end: `firebase auth:export` with the project's hash parameters,
//! logins with the original passwords, and a wrong signer key that applies with a warning and
//! then fails verify.

use serde_json::{Value, json};

use super::common::{Workdir, assert_no_secrets, output_text};
use super::providers::{
    Example, Expected, Users, apply_check_and_replan, live_identities, logins, verify_logins,
};
use super::providers_clients::Clients;

/// examples/firebase: `firebase auth:export --format=JSON`.
fn firebase_users(w: &Workdir) -> Users {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("firebase_users.json")).unwrap())
            .unwrap();
    let mut users = Users {
        expected: Vec::new(),
        skipped: Vec::new(),
    };
    for r in doc["users"].as_array().unwrap() {
        let id = r["localId"].as_str().unwrap();
        if !r["email"].is_string() {
            users.skipped.push(id.to_string());
            continue;
        }
        let mut e = Expected::new(id);
        e.set("email", r.get("email"));
        e.set(
            "email_verified",
            Some(&json!(r["emailVerified"].as_bool().unwrap_or(false))),
        );
        e.set("display_name", r.get("displayName"));
        e.set("avatar_url", r.get("photoUrl"));
        if r["phoneNumber"].is_string() {
            e.set("phone", r.get("phoneNumber"));
            e.set("phone_verified", Some(&json!(true)));
        }
        if let Some(claims) = r["customAttributes"].as_str() {
            match serde_json::from_str(claims).unwrap() {
                Value::Object(m) => e.admin_metadata.extend(m),
                other => panic!("{id}: customAttributes is not an object: {other}"),
            }
        }
        e.inactive = r["disabled"] == true;
        e.linked = r["providerUserInfo"].as_array().map_or(0, Vec::len);
        e.has_password = r["passwordHash"].is_string();
        users.expected.push(e);
    }
    users
}

/// The signer key the Firebase README exports (Firebase's public test vector).
fn firebase_signer_key() -> String {
    let readme =
        std::fs::read_to_string(super::common::repo("examples/firebase/README.md")).unwrap();
    readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("export FIREBASE_SIGNER_KEY="))
        .expect("the Firebase README exports FIREBASE_SIGNER_KEY")
        .trim_matches(['\'', '"'])
        .to_string()
}

/// A different valid key of the same length: the real key's bytes reversed.
fn wrong_signer_key(right: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(right).unwrap();
    bytes.reverse();
    let wrong = engine.encode(&bytes);
    assert_ne!(wrong, right);
    assert_eq!(wrong.len(), right.len());
    wrong
}

/// Every hash and salt of the Firebase export.
fn firebase_hash_material(w: &Workdir) -> Vec<String> {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("firebase_users.json")).unwrap())
            .unwrap();
    doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| [&u["passwordHash"], &u["salt"]])
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1 + 3: each provider example applies with its fields mapped; logins work
// ---------------------------------------------------------------------------------------

#[test]
fn firebase_example_applies_with_mapped_fields_replans_empty_and_logs_in() {
    let key = firebase_signer_key();
    let mut ex = Example::start("firebase", &[]).with_env("FIREBASE_SIGNER_KEY", &key);
    let users = firebase_users(&ex.w);
    let source = ex.manifest()["users"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(users.expected.iter().any(|e| e.inactive), "a disabled user");
    assert!(
        users.expected.iter().any(|e| !e.admin_metadata.is_empty()),
        "custom claims"
    );
    assert_eq!(
        users.skipped.len(),
        2,
        "the phone-only and the anonymous user"
    );

    // The saved plan carries neither the signer key nor any hash or salt.
    ex.ok(&["plan", "-m", "migration.toml", "--out", "plan.json"]);
    let plan_file = ex.read("plan.json");
    let (live, _) = apply_check_and_replan(&mut ex, &users, &source, &Clients::default(), None);
    verify_logins(&mut ex, &live);

    let mut secret_material = firebase_hash_material(&ex.w);
    secret_material.push(key.clone());
    let refs: Vec<&str> = secret_material.iter().map(String::as_str).collect();
    assert_no_secrets(&plan_file, &refs, "plan.json");
    assert_no_secrets(&ex.transcript, &refs, "a command's output");
}

// ---------------------------------------------------------------------------------------
// 2: a wrong Firebase signer key applies, warns, and then fails verify
// ---------------------------------------------------------------------------------------

#[test]
fn firebase_with_a_wrong_signer_key_applies_with_a_warning_and_fails_verify() {
    let right = firebase_signer_key();
    let wrong = wrong_signer_key(&right);
    let mut ex = Example::start("firebase", &[]).with_env("FIREBASE_SIGNER_KEY", &wrong);
    let users = firebase_users(&ex.w);

    let text = ex.ok(&["plan", "-m", "migration.toml"]);
    let warning = text
        .lines()
        .find(|l| l.contains("Firebase hash parameters"))
        .unwrap_or_else(|| panic!("no warning about the Firebase hash parameters: {text}"));
    assert!(
        warning.starts_with("warning") && warning.contains("cannot be checked"),
        "{warning}"
    );

    ex.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    assert_eq!(live_identities(&ex.emu).len(), users.expected.len());

    let out = ex.run(&["verify", "-m", "migration.toml", "--logins", "logins.csv"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("AVNOLOGY_AUTH_001"), "{text}");
    for (_, password) in logins(&ex.w.path("logins.csv")) {
        assert!(
            !text.contains(&password),
            "verify echoed a password: {text}"
        );
    }
    ex.assert_clean(&[right, wrong]);
}
