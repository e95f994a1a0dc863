//! The apply engine's answers to a tenant that moved between `plan` and `apply`, made
//! deterministic: the test itself changes the emulator at that moment, then applies the saved
//! plan. A create answered 409 finds an identical record (done), one without an owner marker
//! (refused, untouched) or one with other content (refused, untouched); an update whose
//! `If-Match` fails finds the change already made (done) or someone else's edit (stale,
//! untouched). None of these may duplicate or overwrite anything. When the read that settles
//! such a change fails (a scripted server in front of the emulator fails exactly that read),
//! the change is read again, not reported; if the server stops answering, it stays in
//! flight in the journal and the resume settles it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::common::scripted::{Reply, Scripted, Seen};
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
    update_planned_via(emu, &emu.url)
}

/// [`update_planned`] through `url` (the plan records the URL it was made against).
fn update_planned_via(emu: &Emulator, url: &str) -> (Workdir, String) {
    let w = workdir();
    let run = |w: &Workdir, _: &Emulator, args: &[&str]| run_via(w, url, emu, args);
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

// Uncertain failures while settling: after a create answered 409, or an update whose
// `If-Match` failed, apply reads the live object back to decide whether the change already
// happened. A failure of that read says nothing either way: it is neither done nor stale,
// the read is made again, and a resume finds the journal saying the change was in flight.
// A scripted server in front of the emulator makes exactly that read fail.

/// Client attempts per request (the client's default): a read that fails this many times
/// in a row fails the executor's attempt, which then settles the change again.
const CLIENT_ATTEMPTS: usize = 8;

/// A lookup of an identity by external_id: how apply settles a create.
fn is_lookup(s: &Seen) -> bool {
    is_lookup_of(s, "/v1/identities")
}

/// A lookup by external_id in the collection at `path`.
fn is_lookup_of(s: &Seen, path: &str) -> bool {
    s.method == "GET" && s.path == path && s.query.contains("external_id")
}

/// The external id a lookup asks for (empty for any other request).
fn looked_up(s: &Seen) -> String {
    s.query
        .split_once("external_id = \"")
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

fn run_via(w: &Workdir, url: &str, emu: &Emulator, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd_via(url, emu).args(args).output().unwrap();
    (out.status.code(), output_text(&out))
}

/// A scripted server in front of `emu` that forwards everything until `armed` is set, then
/// answers as `script` says.
fn scripted(
    emu: &Emulator,
    mut script: impl FnMut(&Seen, &[Seen]) -> Reply + Send + 'static,
) -> (Scripted, Arc<AtomicBool>) {
    let armed = Arc::new(AtomicBool::new(false));
    let on = armed.clone();
    let server = Scripted::start(&emu.url, move |s, history| {
        if on.load(Ordering::SeqCst) {
            script(s, history)
        } else {
            Reply::Forward
        }
    });
    (server, armed)
}

/// Two plans of the quickstart made through `url`; the earlier one applied, so every create
/// of `plan.json` is answered 409 by an identical identity.
fn conflicting_plan(emu: &Emulator, url: &str) -> Workdir {
    let w = workdir();
    let (s, org) = emu.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201, "{org}");
    let plan = |file: &str| {
        let (code, text) = run_via(
            &w,
            url,
            emu,
            &["plan", "-m", "migration.toml", "--out", file],
        );
        assert_eq!(code, Some(0), "{text}");
    };
    plan("plan.json");
    // A plan's id covers the second it was made in: the earlier plan's idempotency keys
    // differ, so this plan's creates are answered 409, not replayed.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    plan("earlier.json");
    let (code, text) = run_via(&w, url, emu, &["apply", "earlier.json"]);
    assert_eq!(code, Some(0), "{text}");
    w
}

/// The journal's state of one change of `plan.json`.
fn journal_state(w: &Workdir, change: &str) -> Option<String> {
    let db = rusqlite::Connection::open_with_flags(
        w.path("plan.json.journal"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT state FROM changes WHERE change_id = ?1",
        [change],
        |r| r.get(0),
    )
    .ok()
}

/// Identity creates the emulator committed for an external id, in any run.
fn creates(emu: &Emulator, external_id: &str) -> i64 {
    creates_of(emu, "identity", external_id)
}

fn creates_of(emu: &Emulator, kind: &str, external_id: &str) -> i64 {
    emu.db()
        .query_row(
            "SELECT COUNT(*) FROM create_log WHERE kind = ?1 AND external_id = ?2",
            [kind, external_id],
            |r| r.get(0),
        )
        .unwrap()
}

/// The `--log` line of one change.
fn log_line(w: &Workdir, key: &str) -> Value {
    let log = std::fs::read_to_string(w.path("apply.log")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("no log line for {key}: {log}"))
}

#[test]
fn a_create_answered_409_whose_settling_read_fails_is_read_again_and_found_done() {
    let emu = Emulator::start(&[]);
    // The first CLIENT_ATTEMPTS lookups of the first identity looked up fail (a change
    // whose request waits out a retry lets others start, so theirs go through).
    let (server, armed) = scripted(&emu, |s, history| {
        let failed: Vec<&Seen> = history.iter().filter(|h| h.scripted).collect();
        let first = failed
            .first()
            .map_or_else(|| looked_up(s), |f| looked_up(f));
        if is_lookup(s) && looked_up(s) == first && failed.len() < CLIENT_ATTEMPTS {
            Reply::Status(500)
        } else {
            Reply::Forward
        }
    });
    let w = conflicting_plan(&emu, &server.url);
    armed.store(true, Ordering::SeqCst);
    let (code, text) = run_via(
        &w,
        &server.url,
        &emu,
        &[
            "apply",
            "plan.json",
            "--concurrency",
            "1",
            "--log",
            "apply.log",
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("29 planned, 29 applied (29 found already applied)")
            && text.contains("0 stale, 0 failed"),
        "{text}"
    );
    let seen = server.seen();
    let failed: Vec<&Seen> = seen.iter().filter(|s| s.scripted).collect();
    assert_eq!(failed.len(), CLIENT_ATTEMPTS, "{seen:#?}");
    let key = looked_up(failed[0]);
    assert!(failed.iter().all(|s| looked_up(s) == key), "{failed:#?}");
    // The failed reads followed a create's 409, and a read after them settled it.
    let first = seen.iter().position(|s| s.scripted).unwrap();
    let last = seen.iter().rposition(|s| s.scripted).unwrap();
    assert!(
        seen[..first]
            .iter()
            .any(|s| s.method == "POST" && s.path == "/v1/identities" && s.status == 409),
        "{seen:#?}"
    );
    assert!(
        seen[last..]
            .iter()
            .any(|s| is_lookup(s) && looked_up(s) == key && s.status == 200),
        "{seen:#?}"
    );
    let line = log_line(&w, &key);
    assert_eq!(line["outcome"], "already_applied", "{line}");
    assert_eq!(
        line["attempts"], 2,
        "settled by the executor's second attempt: {line}"
    );
    assert_eq!(
        journal_state(&w, &format!("Identity:Create:{key}")).as_deref(),
        Some("done")
    );
    assert_eq!(rows(&emu, &key), 1);
    assert_eq!(creates(&emu, &key), 1, "only the earlier plan created it");
}

#[test]
fn a_server_that_stops_answering_while_a_create_is_settled_leaves_it_in_flight_for_the_resume() {
    let emu = Emulator::start(&[]);
    // From the first lookup on, the server answers nothing but 503.
    let (server, armed) = scripted(&emu, |s, history| {
        if is_lookup(s) || history.iter().any(|h| h.scripted) {
            Reply::Status(503)
        } else {
            Reply::Forward
        }
    });
    let w = conflicting_plan(&emu, &server.url);
    armed.store(true, Ordering::SeqCst);
    let (code, text) = run_via(
        &w,
        &server.url,
        &emu,
        &[
            "apply",
            "plan.json",
            "--concurrency",
            "1",
            "--log",
            "apply.log",
            "--give-up-after",
            "1s",
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "29 planned, 0 applied (0 found already applied), 0 applied by an earlier run, 0 stale, 0 failed, 1 unfinished, 28 not started"
        ) && text.contains("1 changes were in flight"),
        "{text}"
    );
    let seen = server.seen();
    let key = looked_up(seen.iter().find(|s| s.scripted).unwrap());
    assert_eq!(
        journal_state(&w, &format!("Identity:Create:{key}")).as_deref(),
        Some("in_flight"),
        "neither done nor failed"
    );
    let log = std::fs::read_to_string(w.path("apply.log")).unwrap_or_default();
    assert!(!log.contains(&key), "no outcome is reported for it: {log}");
    assert_eq!(rows(&emu, &key), 1);

    // The resume looks it up, finds it as declared, and creates nothing.
    armed.store(false, Ordering::SeqCst);
    let (code, text) = run_via(&w, &server.url, &emu, &["apply", "plan.json"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("29 planned, 29 applied (29 found already applied)"),
        "{text}"
    );
    assert_eq!(
        journal_state(&w, &format!("Identity:Create:{key}")).as_deref(),
        Some("done")
    );
    assert_eq!(rows(&emu, &key), 1);
    assert_eq!(creates(&emu, &key), 1, "only the earlier plan created it");
    let total: i64 = emu
        .db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 29);
}

#[test]
fn an_update_whose_if_match_failure_cannot_be_read_back_is_read_again_not_called_stale() {
    let emu = Emulator::start(&[]);
    // After the PATCH's If-Match fails, the identity's next CLIENT_ATTEMPTS reads fail.
    let (server, armed) = scripted(&emu, |s, history| {
        let patched = history
            .iter()
            .any(|h| h.method == "PATCH" && (h.status == 409 || h.status == 412));
        let failed = history.iter().filter(|h| h.scripted).count();
        if patched
            && s.method == "GET"
            && s.path.starts_with("/v1/identities/")
            && failed < CLIENT_ATTEMPTS
        {
            Reply::Status(500)
        } else {
            Reply::Forward
        }
    });
    let (w, external_id) = update_planned_via(&emu, &server.url);
    // The change was made after the plan (an earlier attempt whose answer was lost).
    patch_display_name(&emu, &external_id, "Renamed In The Export");
    armed.store(true, Ordering::SeqCst);
    let (code, text) = run_via(
        &w,
        &server.url,
        &emu,
        &["apply", "plan.json", "--log", "apply.log"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("1 planned, 1 applied (1 found already applied)") && text.contains("0 stale"),
        "{text}"
    );
    let seen = server.seen();
    assert_eq!(
        seen.iter().filter(|s| s.scripted).count(),
        CLIENT_ATTEMPTS,
        "{seen:#?}"
    );
    let line = log_line(&w, &external_id);
    assert_eq!(line["outcome"], "already_applied", "{line}");
    assert_eq!(line["attempts"], 2, "{line}");
    assert_eq!(
        journal_state(&w, &format!("Identity:Update:{external_id}")).as_deref(),
        Some("done")
    );
    assert_eq!(
        identity(&emu, &external_id)["display_name"],
        "Renamed In The Export"
    );
}

#[test]
fn an_oauth_client_create_answered_409_whose_settling_read_fails_is_read_again_and_found_done() {
    const CLIENT: &str = r#"
[target]
organization = "acme"

[[clients]]
key = "acme-docs"
name = "Acme Docs"
type = "public"
redirect_uris = ["https://docs.acme.example/callback"]
"#;
    let emu = Emulator::start(&[]);
    let (s, org) = emu.call("POST", "/v1/organizations", Some(json!({"name": "acme"})));
    assert_eq!(s, 201, "{org}");
    let (server, armed) = scripted(&emu, |s, history| {
        let failed = history.iter().filter(|h| h.scripted).count();
        if is_lookup_of(s, "/v1/oauth-clients") && failed < CLIENT_ATTEMPTS {
            Reply::Status(500)
        } else {
            Reply::Forward
        }
    });
    let w = Workdir::new();
    w.write("migration.toml", CLIENT);
    let plan = |file: &str| {
        let (code, text) = run_via(
            &w,
            &server.url,
            &emu,
            &["plan", "-m", "migration.toml", "--out", file],
        );
        assert_eq!(code, Some(0), "{text}");
    };
    plan("plan.json");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    plan("earlier.json");
    let (code, text) = run_via(&w, &server.url, &emu, &["apply", "earlier.json"]);
    assert_eq!(code, Some(0), "{text}");
    armed.store(true, Ordering::SeqCst);
    let (code, text) = run_via(
        &w,
        &server.url,
        &emu,
        &["apply", "plan.json", "--log", "apply.log"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("1 planned, 1 applied (1 found already applied)")
            && text.contains("0 stale, 0 failed"),
        "{text}"
    );
    let seen = server.seen();
    assert_eq!(
        seen.iter().filter(|s| s.scripted).count(),
        CLIENT_ATTEMPTS,
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.method == "POST" && s.path == "/v1/oauth-clients" && s.status == 409),
        "{seen:#?}"
    );
    let line = log_line(&w, "acme-docs");
    assert_eq!(line["outcome"], "already_applied", "{line}");
    assert_eq!(line["attempts"], 2, "{line}");
    assert_eq!(
        journal_state(&w, "OAuthClient:Create:acme-docs").as_deref(),
        Some("done")
    );
    assert_eq!(creates_of(&emu, "oauth_client", "acme-docs"), 1);
}
