//! The cutover's final import: identities created in Avnology during the dual-write window
//! (sign-ups without an `external_id`) are found by `plan` as conflicts, with both sides,
//! and adopted by verified email only when the manifest says so; clients whose name a live
//! client already uses are conflicts too.

use serde_json::{Value, json};

use super::common::{Emulator, Workdir, output_text};

const MANIFEST: &str = r#"
[target]
organization = "acme"

[[users]]
name = "auth0-prod"
provider = "auth0"
path = "auth0_users.ndjson"
passwords = "auth0_passwords.ndjson"
"#;

fn run(w: &Workdir, emu: &Emulator, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd(Some(emu)).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

/// The quickstart applied to `emu` in organization `acme`; returns the organization's id.
fn migrated(emu: &Emulator) -> (Workdir, String) {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    w.write("migration.toml", MANIFEST);
    let (code, text) = run(
        &w,
        emu,
        &["apply", "-m", "migration.toml", "--auto-approve"],
    );
    assert_eq!(code, Some(0), "{text}");
    let (_, orgs) = emu.call("GET", "/v1/organizations", None);
    (
        w,
        orgs["organizations"][0]["id"].as_str().unwrap().to_string(),
    )
}

/// A sign-up made directly in Avnology (dual-write): no external_id, no owner marker.
fn sign_up(emu: &Emulator, org: &str, email: &str, verified: bool) -> String {
    let (s, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": email, "email_verified": verified,
            "first_name": "Signed", "organization_id": org}}),
        ),
    );
    assert_eq!(s, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The same person in the old provider's next export.
fn add_to_export(w: &Workdir, user_id: &str, email: &str, verified: bool) {
    let mut export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    export.push_str(
        &(json!({"user_id": user_id, "email": email, "email_verified": verified,
            "given_name": "Dual", "family_name": "Writer"})
        .to_string()
            + "\n"),
    );
    w.write("auth0_users.ndjson", &export);
}

fn identity(emu: &Emulator, id: &str) -> Value {
    let (s, body) = emu.call("GET", &format!("/v1/identities/{id}"), None);
    assert_eq!(s, 200, "{body}");
    body
}

fn identities(emu: &Emulator) -> i64 {
    emu.db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_dual_write_sign_up_is_a_conflict_in_the_plan_and_adopted_only_by_verified_email() {
    let emu = Emulator::start(&[]);
    let (w, org) = migrated(&emu);
    let signed_up = sign_up(&emu, &org, "Dual.Writer@example.com", true);
    add_to_export(&w, "auth0|dual-writer", "dual.writer@example.com", true);
    let before = identities(&emu);

    // adopt = "never" (the default): the plan shows the conflict, both sides, before
    // anything runs; apply leaves it out and says so in its exit code.
    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    assert_eq!(code, Some(2), "a conflict is work left: {text}");
    assert!(text.contains("No changes can be made"), "{text}");
    assert!(
        text.contains("identity `auth0|dual-writer`")
            && text.contains(&signed_up)
            && text.contains("without external_id")
            && text.contains("adopt = \"verified_email\""),
        "{text}"
    );
    assert!(text.contains("1 in conflict"), "{text}");
    let (code, text) = run(
        &w,
        &emu,
        &["apply", "-m", "migration.toml", "--auto-approve"],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("1 record(s) conflict"), "{text}");
    assert_eq!(identities(&emu), before);
    assert!(
        identity(&emu, &signed_up)
            .get("external_id")
            .is_none_or(Value::is_null)
    );

    // verified_email: the plan adopts it, apply takes it over, nothing is duplicated.
    w.write(
        "migration.toml",
        &format!("{MANIFEST}\n[policy]\nadopt = \"verified_email\"\n"),
    );
    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "adopt.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("1 to adopt") && text.contains("0 to create"),
        "{text}"
    );
    let (code, text) = run(&w, &emu, &["apply", "adopt.json"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(identities(&emu), before, "adopted, not created");
    let adopted = identity(&emu, &signed_up);
    assert_eq!(adopted["external_id"], "auth0|dual-writer");
    assert_eq!(adopted["first_name"], "Dual");
    assert_eq!(
        adopted["admin_metadata"]["avnology_migrate"]["source"],
        "auth0-prod"
    );
    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    assert_eq!(
        code,
        Some(0),
        "adopted identities behave like created ones: {text}"
    );
}

#[test]
fn an_unverified_email_on_either_side_is_a_conflict_with_its_reason() {
    let emu = Emulator::start(&[]);
    let (w, org) = migrated(&emu);
    w.write(
        "migration.toml",
        &format!("{MANIFEST}\n[policy]\nadopt = \"verified_email\"\n"),
    );
    sign_up(&emu, &org, "unverified.live@example.com", false);
    add_to_export(
        &w,
        "auth0|live-unverified",
        "unverified.live@example.com",
        true,
    );
    sign_up(&emu, &org, "unverified.source@example.com", true);
    add_to_export(
        &w,
        "auth0|source-unverified",
        "unverified.source@example.com",
        false,
    );

    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("2 in conflict") && text.contains("0 to create"),
        "{text}"
    );
    assert!(
        text.contains("not adopted: the email is not verified in the tenant")
            && text.contains("not adopted: the email is not verified in the source"),
        "{text}"
    );
    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--format", "markdown"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("<summary>Conflicts</summary>"), "{text}");
    assert!(
        !text.contains("unverified.live@example.com"),
        "emails are masked: {text}"
    );
}

#[test]
fn two_records_claiming_one_live_identity_is_an_error_naming_both() {
    let emu = Emulator::start(&[]);
    let (w, org) = migrated(&emu);
    w.write(
        "migration.toml",
        &format!("{MANIFEST}\n[policy]\nadopt = \"verified_email\"\n"),
    );
    sign_up(&emu, &org, "twice@example.com", true);
    add_to_export(&w, "auth0|twice-1", "twice@example.com", true);
    add_to_export(&w, "auth0|twice-2", "TWICE@example.com", true);
    let (code, text) = run(&w, &emu, &["plan", "-m", "migration.toml"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("auth0|twice-2")
            && text.contains("is also the email of the record at")
            && text.contains("auth0_users.ndjson:"),
        "{text}"
    );
}

#[test]
fn a_client_whose_name_a_live_client_uses_is_a_conflict() {
    let emu = Emulator::start(&[]);
    let (w, org) = migrated(&emu);
    let (s, body) = emu.call(
        "POST",
        "/v1/oauth-clients",
        Some(
            json!({"client": {"client_name": "Acme Web", "client_type": "public",
            "redirect_uris": ["https://made-by-hand.example.com/cb"],
            "grant_types": ["authorization_code"], "scopes": ["openid"],
            "organization_id": org}}),
        ),
    );
    assert_eq!(s, 201, "{body}");
    w.write(
        "migration.toml",
        &format!(
            "{MANIFEST}\n[[clients]]\nkey = \"web\"\nname = \"Acme Web\"\ntype = \"public\"\nredirect_uris = [\"https://app.example.com/cb\"]\n"
        ),
    );
    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--detailed-exitcode"],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("oauth_client `web`") && text.contains("already has this name"),
        "{text}"
    );
    assert!(text.contains("0 to create"), "{text}");
}

#[test]
fn the_cutover_rehearsal_walks_green() {
    // examples/cutover/walk.sh, exactly as its README shows it, with this build's binary.
    let out = std::process::Command::new("bash")
        .arg(super::common::repo("examples/cutover/walk.sh"))
        .env("AVM", super::common::bin())
        .env("AVNOLOGY_MIGRATE_FAST_RETRY", "1")
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    // Day 0.
    assert!(
        text.contains("organization to create, 6 to create"),
        "{text}"
    );
    assert!(text.contains("logins: 2 of 2 succeeded"), "{text}");
    // The final sync: only the difference, the dual-write sign-ups adopted.
    assert!(
        text.contains("Plan: 1 to create, 2 to adopt, 1 to update, 1 to deactivate, 0 to reactivate, 0 to delete."),
        "{text}"
    );
    assert!(
        text.contains("5 planned, 5 applied") && text.contains(", 0 failed"),
        "{text}"
    );
    assert!(
        text.contains("No changes. The tenant matches the manifest."),
        "{text}"
    );
    assert!(text.contains("logins: 4 of 4 succeeded"), "{text}");
    assert!(
        text.contains("1 identity in the tenant that no source declares any more"),
        "{text}"
    );
    for password in ["parker-Sandbox-2024!", "avery-Sandbox-2024!"] {
        assert!(!text.contains(password), "a password leaked: {text}");
    }
}
