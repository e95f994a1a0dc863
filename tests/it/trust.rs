//! Trust boundaries: a plan does only what was reviewed, only to objects its own manifest's
//! sources own, only on the tenant it was planned against, and a resumed apply does not take
//! its journal's word for what the tenant holds. Every test plays the adversarial or
//! unlucky user against the real binary and the emulator.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{Emulator, Workdir, output_text};

/// The quickstart export as source `team-a` (29 identities) in organization `acme`, and a
/// second export of three users as source `team-b`, each with its own manifest.
fn two_teams() -> Workdir {
    let w = Workdir::new();
    w.copy_from_repo("examples/quickstart");
    w.write("a.toml", &manifest("team-a", "auth0_users.ndjson", ""));
    let b: Vec<String> = (1..=3)
        .map(|i| {
            json!({"user_id": format!("auth0|team-b-{i}"), "email": format!("b{i}@example.com"),
                "email_verified": true, "given_name": format!("B{i}")})
            .to_string()
        })
        .collect();
    w.write("b_users.ndjson", &(b.join("\n") + "\n"));
    w.write("b.toml", &manifest("team-b", "b_users.ndjson", ""));
    w
}

fn manifest(source: &str, path: &str, policy: &str) -> String {
    format!(
        "[target]\norganization = \"acme\"\n\n[[users]]\nname = \"{source}\"\nprovider = \"auth0\"\npath = \"{path}\"\n\n[policy]\n{policy}\n"
    )
}

fn run(w: &Workdir, emu: &Emulator, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd(Some(emu)).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

fn apply_ok(w: &Workdir, emu: &Emulator, args: &[&str]) -> String {
    let (code, text) = run(w, emu, args);
    assert_eq!(code, Some(0), "{args:?}: {text}");
    text
}

/// Identities per state and owner-marker source, straight from the emulator's database.
fn count(emu: &Emulator, source: Option<&str>, state: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM identities WHERE state = ?1 AND \
               coalesce(json_extract(data, '$.admin_metadata.avnology_migrate.source'), '') = ?2";
    emu.db()
        .query_row(sql, rusqlite::params![state, source.unwrap_or("")], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn active_or_inactive(emu: &Emulator, source: &str) -> i64 {
    count(emu, Some(source), "active") + count(emu, Some(source), "inactive")
}

/// `text` sealed again the way the tool seals a plan: the SHA-256 of every byte before
/// the seal line. What someone editing a plan file can always do.
fn reseal(text: &str) -> String {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("{\"seal\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let id = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{body}{{\"seal\":{{\"plan_id\":\"{id}\"}}}}\n")
}

#[test]
fn destroy_and_prune_touch_only_this_manifests_sources() {
    let emu = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &emu, &["apply", "-m", "a.toml", "--auto-approve"]);
    apply_ok(&w, &emu, &["apply", "-m", "b.toml", "--auto-approve"]);
    assert_eq!(active_or_inactive(&emu, "team-a"), 29);
    assert_eq!(active_or_inactive(&emu, "team-b"), 3);

    // --destroy honours max_deletes (0 by default) like prune.
    let (code, text) = run(&w, &emu, &["plan", "-m", "b.toml", "--destroy"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("would delete 3 objects"), "{text}");

    // B's destroy deletes B's three identities and none of A's.
    let text = apply_ok(
        &w,
        &emu,
        &[
            "plan",
            "-m",
            "b.toml",
            "--destroy",
            "--max-deletes",
            "100",
            "--out",
            "destroy-b.json",
        ],
    );
    assert!(text.contains("3 to delete"), "{text}");
    assert!(text.contains("29 not owned by this manifest"), "{text}");
    apply_ok(&w, &emu, &["apply", "destroy-b.json"]);
    assert_eq!(active_or_inactive(&emu, "team-a"), 29);
    assert_eq!(count(&emu, Some("team-b"), "scheduled_deletion"), 3);

    // A manifest whose only source is `team-c` prunes nothing of A's.
    w.write(
        "c_users.ndjson",
        &(json!({"user_id": "auth0|team-c-1", "email": "c1@example.com"}).to_string() + "\n"),
    );
    w.write(
        "c.toml",
        &manifest(
            "team-c",
            "c_users.ndjson",
            "prune = true\nmax_deletes = 100",
        ),
    );
    let text = apply_ok(&w, &emu, &["plan", "-m", "c.toml"]);
    assert!(
        text.contains("1 to create") && text.contains("0 to delete"),
        "{text}"
    );
    apply_ok(&w, &emu, &["apply", "-m", "c.toml", "--auto-approve"]);
    assert_eq!(active_or_inactive(&emu, "team-a"), 29);
}

#[test]
fn a_renamed_source_is_reported_and_taken_over_only_when_adopted() {
    let emu = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &emu, &["apply", "-m", "a.toml", "--auto-approve"]);

    // Renamed: nothing is created twice, nothing deleted; the plan says what to do.
    w.write(
        "a.toml",
        &manifest(
            "team-a-renamed",
            "auth0_users.ndjson",
            "prune = true\nmax_deletes = 100",
        ),
    );
    let (code, text) = run(&w, &emu, &["plan", "-m", "a.toml", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "no change without adopt_sources: {text}");
    assert!(
        text.contains("29 identities this manifest declares belong to source `team-a`")
            && text.contains("adopt_sources = [\"team-a\"]"),
        "{text}"
    );

    // Adopted: the marker moves to the new name; no create, no delete.
    w.write(
        "a.toml",
        &manifest(
            "team-a-renamed",
            "auth0_users.ndjson",
            "prune = true\nmax_deletes = 100\nadopt_sources = [\"team-a\"]",
        ),
    );
    let text = apply_ok(&w, &emu, &["plan", "-m", "a.toml"]);
    assert!(
        text.contains("0 to create")
            && text.contains("29 to update")
            && text.contains("0 to delete"),
        "{text}"
    );
    apply_ok(&w, &emu, &["apply", "-m", "a.toml", "--auto-approve"]);
    assert_eq!(active_or_inactive(&emu, "team-a-renamed"), 29);
    assert_eq!(active_or_inactive(&emu, "team-a"), 0);
    let (code, text) = run(&w, &emu, &["plan", "-m", "a.toml", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_saved_plan_refuses_another_tenant_behind_the_same_url() {
    let first = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &first, &["apply", "-m", "b.toml", "--auto-approve"]);
    // One more user for B, planned against the first tenant.
    let mut export = std::fs::read_to_string(w.path("b_users.ndjson")).unwrap();
    export.push_str(
        &(json!({"user_id": "auth0|team-b-4", "email": "b4@example.com"}).to_string() + "\n"),
    );
    w.write("b_users.ndjson", &export);
    apply_ok(&w, &first, &["plan", "-m", "b.toml", "--out", "plan.json"]);

    // Another tenant answers at the same address, with its own organization `acme`.
    let listen = first.url.trim_start_matches("http://").to_string();
    first.stop();
    let dir = tempfile::tempdir().unwrap();
    let other = Emulator::start_on(&dir.path().join("other.db"), &listen, &[]);
    assert_eq!(other.url, format!("http://{listen}"));
    let (s, body) = other.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201, "{body}");

    let (code, text) = run(&w, &other, &["apply", "plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("the plan was made for organization `acme` with id")
            && text.contains("nothing was applied"),
        "{text}"
    );
    let identities: i64 = other
        .db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(identities, 0, "nothing may be written to another tenant");
}

#[test]
fn an_edited_and_resealed_plan_cannot_delete_or_send_what_was_not_reviewed() {
    let emu = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &emu, &["apply", "-m", "b.toml", "--auto-approve"]);
    // Someone's own identity in the organization, never migrated.
    let (_, orgs) = emu.call("GET", "/v1/organizations", None);
    let org_id = orgs["organizations"][0]["id"].as_str().unwrap().to_string();
    let (s, theirs) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": "ceo@example.com", "external_id": "ceo",
            "first_name": "Chief", "organization_id": org_id}}),
        ),
    );
    assert_eq!(s, 201, "{theirs}");
    let theirs_id = theirs["id"].as_str().unwrap();

    // (a) A prune plan deleting B's third user, edited to delete the CEO instead.
    let export = std::fs::read_to_string(w.path("b_users.ndjson")).unwrap();
    let kept: Vec<&str> = export.lines().take(2).collect();
    w.write("b_users.ndjson", &(kept.join("\n") + "\n"));
    w.write(
        "b.toml",
        &manifest("team-b", "b_users.ndjson", "prune = true\nmax_deletes = 1"),
    );
    apply_ok(&w, &emu, &["plan", "-m", "b.toml", "--out", "prune.json"]);
    let plan = std::fs::read_to_string(w.path("prune.json")).unwrap();
    let victim = plan
        .lines()
        .find(|l| l.contains("\"action\":\"delete\""))
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["change"]["live_id"].as_str().unwrap().to_string())
        .expect("a delete");
    let edited = plan
        .replace(&victim, theirs_id)
        .replace("auth0|team-b-3", "ceo");
    w.write("prune.json", &reseal(&edited));
    let (code, text) = run(&w, &emu, &["apply", "prune.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no owner marker"), "{text}");
    let (s, still) = emu.call("GET", &format!("/v1/identities/{theirs_id}"), None);
    assert_eq!(
        (s, still["state"].as_str()),
        (200, Some("active")),
        "{still}"
    );

    // (b) An update plan edited to show another name than the source declares.
    std::fs::remove_file(w.path("prune.json.journal")).ok();
    let export = std::fs::read_to_string(w.path("b_users.ndjson")).unwrap();
    w.write("b_users.ndjson", &export.replace("\"B1\"", "\"Bee\""));
    w.write("b.toml", &manifest("team-b", "b_users.ndjson", ""));
    apply_ok(&w, &emu, &["plan", "-m", "b.toml", "--out", "update.json"]);
    let plan = std::fs::read_to_string(w.path("update.json")).unwrap();
    assert!(plan.contains("\"after\":\"Bee\""), "{plan}");
    w.write(
        "update.json",
        &reseal(&plan.replace("\"after\":\"Bee\"", "\"after\":\"Mallory\"")),
    );
    let (code, text) = run(&w, &emu, &["apply", "update.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("does not declare (was the plan edited?)"),
        "{text}"
    );
    let first_names: Vec<String> = emu
        .db()
        .prepare("SELECT json_extract(data, '$.first_name') FROM identities")
        .unwrap()
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .filter_map(|r| r.unwrap())
        .collect();
    assert!(
        !first_names.iter().any(|n| n == "Mallory" || n == "Bee"),
        "{first_names:?}"
    );

    // (c) A create whose review sample shows another email than the one it would send.
    let export = std::fs::read_to_string(w.path("b_users.ndjson")).unwrap();
    w.write(
        "b_users.ndjson",
        &(export
            + &json!({"user_id": "auth0|team-b-5", "email": "b5@example.com"}).to_string()
            + "\n"),
    );
    apply_ok(&w, &emu, &["plan", "-m", "b.toml", "--out", "create.json"]);
    let plan = std::fs::read_to_string(w.path("create.json")).unwrap();
    w.write(
        "create.json",
        &reseal(&plan.replace("b5@example.com", "attacker@example.com")),
    );
    let (code, text) = run(&w, &emu, &["apply", "create.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("shows identity `auth0|team-b-5` differently"),
        "{text}"
    );
    let (code, text) = run(&w, &emu, &["show", "create.json"]);
    assert_eq!(code, Some(1), "show refuses it too: {text}");
}

#[test]
fn applying_again_after_a_destroy_restores_instead_of_duplicating() {
    let emu = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &emu, &["apply", "-m", "a.toml", "--auto-approve"]);
    apply_ok(
        &w,
        &emu,
        &[
            "plan",
            "-m",
            "a.toml",
            "--destroy",
            "--max-deletes",
            "29",
            "--out",
            "destroy.json",
        ],
    );
    apply_ok(&w, &emu, &["apply", "destroy.json"]);
    assert_eq!(count(&emu, Some("team-a"), "scheduled_deletion"), 29);

    let text = apply_ok(&w, &emu, &["plan", "-m", "a.toml"]);
    assert!(
        text.contains("0 to create") && text.contains("will be restored"),
        "{text}"
    );
    apply_ok(&w, &emu, &["apply", "-m", "a.toml", "--auto-approve"]);
    let all: i64 = emu
        .db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(all, 29, "restored, not created again");
    assert_eq!(count(&emu, Some("team-a"), "scheduled_deletion"), 0);
    let (code, text) = run(&w, &emu, &["plan", "-m", "a.toml", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_journal_that_claims_more_than_the_tenant_holds_is_not_success() {
    let emu = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &emu, &["plan", "-m", "a.toml", "--out", "plan.json"]);
    let plan = std::fs::read_to_string(w.path("plan.json")).unwrap();
    let plan_id =
        serde_json::from_str::<Value>(plan.lines().last().unwrap()).unwrap()["seal"]["plan_id"]
            .as_str()
            .unwrap()
            .to_string();
    let creates: Vec<String> = plan
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["change"]["kind"] == "identity" && v["change"]["action"] == "create")
        .map(|v| v["change"]["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(creates.len(), 29);

    // A journal with "done" rows for changes that never happened.
    let journal = rusqlite::Connection::open(w.path("plan.json.journal")).unwrap();
    journal
        .execute_batch(
            "CREATE TABLE meta (plan_id TEXT NOT NULL);
             CREATE TABLE changes (change_id TEXT PRIMARY KEY, state TEXT NOT NULL,
                 avnology_id TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                 updated_at TEXT NOT NULL);",
        )
        .unwrap();
    journal
        .execute("INSERT INTO meta (plan_id) VALUES (?1)", [&plan_id])
        .unwrap();
    for key in &creates[..5] {
        journal
            .execute(
                "INSERT INTO changes (change_id, state, avnology_id, updated_at) \
                 VALUES (?1, 'done', 'idn_fake', '2026-01-01T00:00:00Z')",
                [format!("Identity:Create:{key}")],
            )
            .unwrap();
    }
    drop(journal);

    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "source `team-a`: the plan expects 29 identities after apply, the tenant holds 24"
        ),
        "{text}"
    );
    // Run again: every change is "done" in the journal, and it still is not success.
    let (code, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the tenant holds 24"), "{text}");
    // A fresh plan shows what is missing, and applying it completes the migration.
    let text = apply_ok(&w, &emu, &["plan", "-m", "a.toml"]);
    assert!(text.contains("5 to create"), "{text}");
}

#[test]
fn a_run_stopped_between_creating_the_organization_and_journaling_it_resumes() {
    use avnology_migrate::apply::journal::Journal;
    use avnology_migrate::plan::file::PlanFile;

    let emu = Emulator::start(&[]);
    let w = two_teams();
    apply_ok(&w, &emu, &["plan", "-m", "b.toml", "--out", "plan.json"]);
    // What a kill leaves behind right after the organization's create committed: the
    // journal says the create was sent, the tenant has the organization, nothing more.
    let plan = PlanFile::open(&w.path("plan.json")).unwrap();
    let journal = Journal::open(&w.path("plan.json.journal"), &plan.plan.plan_id).unwrap();
    journal.start("Organization:Create:acme").unwrap();
    drop(journal);
    let (s, body) = emu.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201, "{body}");

    let text = apply_ok(&w, &emu, &["apply", "plan.json"]);
    assert!(text.contains("applied"), "{text}");
    let (orgs, identities): (i64, i64) = emu
        .db()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM organizations), (SELECT COUNT(*) FROM identities)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((orgs, identities), (1, 3), "{text}");

    // Without the journal's record of the create, the same organization is someone else's.
    let emu = Emulator::start(&[]);
    apply_ok(&w, &emu, &["plan", "-m", "b.toml", "--out", "fresh.json"]);
    let (s, _) = emu.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201);
    let (code, text) = run(&w, &emu, &["apply", "fresh.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("did not when the plan was made"), "{text}");
}
