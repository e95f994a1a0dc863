//! The apply engine's answers to a tenant that moved between `plan` and `apply`, made
//! deterministic: the test itself changes the emulator at that moment, then applies the saved
//! plan. A create answered 409 finds an identical record (done), one without an owner marker
//! (refused, untouched) or one with other content (refused, untouched); an update whose
//! `If-Match` fails finds the change already made (done) or someone else's edit (stale,
//! untouched). None of these may duplicate or overwrite anything.

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

fn workdir() -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    w.write("migration.toml", MANIFEST);
    w
}

fn run(w: &Workdir, emu: &Emulator, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd(Some(emu)).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

/// The first record of the quickstart export: its external id, email and name.
fn first_user(w: &Workdir) -> (String, String, String) {
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    let v: Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    (
        v["user_id"].as_str().unwrap().to_string(),
        v["email"].as_str().unwrap().to_string(),
        v["name"].as_str().unwrap().to_string(),
    )
}

/// Rows in the emulator's store with this external id (soft-deleted ones included).
fn rows(emu: &Emulator, external_id: &str) -> i64 {
    emu.db()
        .query_row(
            "SELECT COUNT(*) FROM identities WHERE external_id = ?1",
            [external_id],
            |r| r.get(0),
        )
        .unwrap()
}

fn identity(emu: &Emulator, external_id: &str) -> Value {
    let filter = format!("external_id = \"{external_id}\"");
    let (s, page) = emu.call(
        "GET",
        &format!("/v1/identities?filter={}", url_escape(&filter)),
        None,
    );
    assert_eq!(s, 200, "{page}");
    page["identities"][0].clone()
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn plan_id(w: &Workdir, file: &str) -> String {
    let plan = std::fs::read_to_string(w.path(file)).unwrap();
    let seal: Value = serde_json::from_str(plan.lines().last().unwrap()).unwrap();
    seal["seal"]["plan_id"].as_str().unwrap().to_string()
}

fn org_id(emu: &Emulator) -> String {
    let (_, orgs) = emu.call("GET", "/v1/organizations", None);
    orgs["organizations"][0]["id"].as_str().unwrap().to_string()
}

/// A plan saved against a tenant that already has the organization.
fn planned(emu: &Emulator) -> Workdir {
    let w = workdir();
    let (s, org) = emu.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201, "{org}");
    let (code, text) = run(
        &w,
        emu,
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    w
}

#[test]
fn a_create_answered_409_by_an_identical_record_is_done_without_a_second_one() {
    let emu = Emulator::start(&[]);
    let w = planned(&emu);
    // Another plan of the same manifest, applied first: every identity now exists exactly
    // as this plan creates it, made under other idempotency keys (another plan's), so this
    // plan's creates are answered 409, not replayed. (A plan's id covers the second it was
    // made in.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "earlier.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert_ne!(plan_id(&w, "earlier.json"), plan_id(&w, "plan.json"));
    let (code, text) = run(&w, &emu, &["apply", "earlier.json"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("29 planned, 29 applied (29 found already applied)"),
        "{text}"
    );
    let (external_id, ..) = first_user(&w);
    assert_eq!(rows(&emu, &external_id), 1);
    let total: i64 = emu
        .db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 29);
}

#[test]
fn a_create_answered_409_by_an_unowned_record_is_refused_and_leaves_it_alone() {
    let emu = Emulator::start(&[]);
    let w = planned(&emu);
    let (external_id, email, _) = first_user(&w);
    // Someone created the identity by hand, with no owner marker, after the plan.
    let (s, theirs) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": email, "external_id": external_id,
            "display_name": "Made By Hand", "organization_id": org_id(&emu)}}),
        ),
    );
    assert_eq!(s, 201, "{theirs}");
    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "an identity with this external_id exists ({}) but was not created by avnology-migrate",
            theirs["id"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(
        text.contains("28 applied"),
        "the others are applied: {text}"
    );
    assert_eq!(rows(&emu, &external_id), 1);
    let live = identity(&emu, &external_id);
    assert_eq!(live["display_name"], "Made By Hand", "{live}");
    assert_eq!(live["etag"], theirs["etag"], "untouched: {live}");
}

#[test]
fn a_create_answered_409_by_our_record_with_other_content_is_refused_and_left_alone() {
    let emu = Emulator::start(&[]);
    let w = planned(&emu);
    let (external_id, email, _) = first_user(&w);
    // Created by this manifest's source (its owner marker), but not as this plan declares.
    let (s, ours) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": email, "external_id": external_id,
            "display_name": "Another Name", "organization_id": org_id(&emu),
            "admin_metadata": {"avnology_migrate": {"source": "auth0-prod"}}}}),
        ),
    );
    assert_eq!(s, 201, "{ours}");
    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "an identity with this external_id exists ({}) with different content; re-plan",
            ours["id"].as_str().unwrap()
        )),
        "{text}"
    );
    assert_eq!(rows(&emu, &external_id), 1);
    let live = identity(&emu, &external_id);
    assert_eq!(live["display_name"], "Another Name", "{live}");
    assert_eq!(live["etag"], ours["etag"], "untouched: {live}");
}

/// Applies the quickstart, renames the first user in the export, and saves the plan of that
/// one update.
fn update_planned(emu: &Emulator) -> (Workdir, String) {
    let w = workdir();
    let (code, text) = run(
        &w,
        emu,
        &["apply", "-m", "migration.toml", "--auto-approve"],
    );
    assert_eq!(code, Some(0), "{text}");
    let (external_id, _, name) = first_user(&w);
    let export = std::fs::read_to_string(w.path("auth0_users.ndjson")).unwrap();
    w.write(
        "auth0_users.ndjson",
        &export.replacen(&name, "Renamed In The Export", 1),
    );
    let (code, text) = run(
        &w,
        emu,
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("1 to update"), "{text}");
    (w, external_id)
}

fn patch_display_name(emu: &Emulator, external_id: &str, name: &str) -> Value {
    let live = identity(emu, external_id);
    let id = live["id"].as_str().unwrap();
    let (s, patched) = emu.call_with(
        "PATCH",
        &format!("/v1/identities/{id}"),
        Some(json!({"identity": {"display_name": name}, "update_mask": "display_name"})),
        &[("authorization", &format!("Bearer {}", emu.api_key))],
    );
    assert_eq!(s, 200, "{patched}");
    patched
}

#[test]
fn an_update_whose_if_match_fails_because_it_already_happened_is_done() {
    let emu = Emulator::start(&[]);
    let (w, external_id) = update_planned(&emu);
    // The same change made after the plan (say, by an earlier attempt whose answer was lost):
    // the ETag the plan recorded no longer matches, but the identity is as declared.
    patch_display_name(&emu, &external_id, "Renamed In The Export");
    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("1 planned, 1 applied (1 found already applied)") && text.contains("0 stale"),
        "{text}"
    );
}

#[test]
fn an_update_whose_if_match_fails_because_someone_else_edited_is_stale_and_left_alone() {
    let emu = Emulator::start(&[]);
    let (w, external_id) = update_planned(&emu);
    let theirs = patch_display_name(&emu, &external_id, "Edited In The Console");
    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("0 applied (0 found already applied)") && text.contains("1 stale"),
        "{text}"
    );
    let live = identity(&emu, &external_id);
    assert_eq!(live["display_name"], "Edited In The Console", "{live}");
    assert_eq!(live["etag"], theirs["etag"], "untouched: {live}");
}
