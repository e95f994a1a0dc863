//! Issue 5's checks: apply under injected faults and rate limits creates every user exactly
//! once; `kill -9` and Ctrl-C mid-apply lose and double nothing; the NDJSON log and the
//! summary agree with the emulator's database. The emulators run with
//! `--no-unique-external-id`, so a duplicate would be stored and counted (see also
//! `exactly_once.rs`, which adds clients, service accounts and secrets).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{Emulator, Workdir, bin, output_text, wait_until};

const USERS: usize = 5_000;

/// A workdir with a synthetic export of `n` users and a manifest targeting the emulator.
fn bulk(n: usize) -> Workdir {
    let w = Workdir::new();
    let mut export = String::with_capacity(n * 160);
    for i in 0..n {
        export.push_str(&format!(
            "{{\"user_id\":\"auth0|bulk-{i:06}\",\"email\":\"bulk{i:06}@example.com\",\"email_verified\":true,\"given_name\":\"Bulk\",\"family_name\":\"User {i}\"{}}}\n",
            if i % 50 == 0 { ",\"blocked\":true" } else { "" }
        ));
    }
    w.write("users.ndjson", &export);
    w.write(
        "migration.toml",
        "[target]\norganization = \"bulk\"\n\n[[users]]\nname = \"bulk\"\nprovider = \"auth0\"\npath = \"users.ndjson\"\n",
    );
    w
}

/// (identities, distinct external ids) in the emulator, soft-deleted excluded. The
/// emulators here run with `--no-unique-external-id`, so the two can differ: only the tool
/// keeps them equal. Also checks that no identity was ever created twice (the emulator's
/// log of committed creates, which keeps what a later delete removed).
fn counts(emu: &Emulator) -> (i64, i64) {
    let twice: i64 = emu
        .db()
        .query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM create_log WHERE kind = 'identity' \
             GROUP BY external_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(twice, 0, "external ids created more than once");
    emu.db()
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT external_id) FROM identities WHERE state != 'scheduled_deletion'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

fn inactive(emu: &Emulator) -> i64 {
    emu.db()
        .query_row(
            "SELECT COUNT(*) FROM identities WHERE state = 'inactive'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn spawn_apply(w: &Workdir, emu: &Emulator, args: &[&str]) -> Child {
    Command::new(bin())
        .current_dir(w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AVNOLOGY_API_URL", &emu.url)
        .env("AVNOLOGY_SECRET_KEY", &emu.api_key)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn assert_plan_empty(w: &Workdir, emu: &Emulator) {
    let out = w
        .cmd(Some(emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        &output_text(&out)[..2000.min(output_text(&out).len())]
    );
}

#[test]
fn faults_and_a_rate_limit_create_every_user_exactly_once() {
    let emu = Emulator::start(&[
        "--no-unique-external-id",
        "--fault-5xx",
        "0.1",
        "--fault-commit-fail",
        "0.1",
        "--rate-limit",
        "400",
        "--burst",
        "4",
        "--seed",
        "7",
    ]);
    let w = bulk(USERS);
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let out = w
        .cmd(Some(&emu))
        .args([
            "apply",
            "plan.json",
            "--log",
            "apply.ndjson",
            "--concurrency",
            "8",
        ])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "{}",
        &text[text.len().saturating_sub(3000)..]
    );
    assert!(text.contains(" 0 failed"), "{text}");
    assert_eq!(counts(&emu), (USERS as i64, USERS as i64));
    assert_eq!(inactive(&emu), (USERS / 50) as i64);

    // The log has one line per change and agrees with the database.
    let log = std::fs::read_to_string(w.path("apply.ndjson")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        USERS + 1,
        "every identity plus the organization"
    );
    let identity_lines: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "identity").collect();
    assert_eq!(identity_lines.len(), USERS);
    assert!(
        identity_lines
            .iter()
            .all(|l| l["outcome"] == "applied" || l["outcome"] == "already_applied")
    );
    let mut ids: Vec<&str> = identity_lines
        .iter()
        .map(|l| l["avnology_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), USERS, "each change names its own identity");
    let db_ids: i64 = emu
        .db()
        .query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0))
        .unwrap();
    assert_eq!(db_ids, USERS as i64);
    assert!(
        text.contains(&format!("{} planned, {} applied", USERS + 1, USERS + 1)),
        "{text}"
    );
    assert_plan_empty(&w, &emu);
}

#[test]
fn sigkill_at_random_points_then_resume_loses_and_doubles_nothing() {
    let emu = Emulator::start(&[
        "--no-unique-external-id",
        "--latency-ms",
        "2",
        "--fault-commit-fail",
        "0.02",
        "--seed",
        "11",
    ]);
    let w = bulk(USERS);
    assert!(
        w.cmd(Some(&emu))
            .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
            .output()
            .unwrap()
            .status
            .success()
    );
    // Deterministic "random" points, spread over the run.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    for _ in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let after = Duration::from_millis(300 + seed % 1200);
        let mut child = spawn_apply(&w, &emu, &["apply", "plan.json"]);
        std::thread::sleep(after);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
    }
    assert!(
        kills >= 1,
        "the apply finished before any kill; the test did not test anything"
    );
    let (n, distinct) = counts(&emu);
    assert_eq!(n, distinct, "a kill must never leave duplicates");
    let out = w
        .cmd(Some(&emu))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "{}",
        &text[text.len().saturating_sub(3000)..]
    );
    assert_eq!(counts(&emu), (USERS as i64, USERS as i64));
    assert_eq!(inactive(&emu), (USERS / 50) as i64);
    assert_plan_empty(&w, &emu);
}

#[test]
fn ctrl_c_stops_within_seconds_with_a_resume_hint_and_resume_completes() {
    interrupt_mid_way_then_resume("-INT");
}

/// CI cancellation and Kubernetes send SIGTERM: it stops apply the way Ctrl-C does.
#[test]
fn sigterm_stops_like_ctrl_c_with_a_summary_and_resume_completes() {
    interrupt_mid_way_then_resume("-TERM");
}

fn interrupt_mid_way_then_resume(signal: &str) {
    let emu = Emulator::start(&["--no-unique-external-id", "--latency-ms", "5"]);
    let w = bulk(USERS);
    assert!(
        w.cmd(Some(&emu))
            .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let child = spawn_apply(&w, &emu, &["apply", "plan.json", "--concurrency", "4"]);
    // Interrupt mid-way: once creates are landing, however long the start took on a busy
    // machine.
    assert!(
        wait_until(Duration::from_secs(60), || counts(&emu).0 >= 50),
        "apply never started creating"
    );
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        sent.elapsed()
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("hint: resume with `avnology-migrate apply plan.json`")
            && text.contains("Apply interrupted:"),
        "{text}"
    );
    let (done, distinct) = counts(&emu);
    assert_eq!(done, distinct);
    assert!(
        done > 0 && done < USERS as i64,
        "interrupted mid-way: {done}"
    );
    // The journal holds exactly what the tenant holds.
    let journal = rusqlite::Connection::open(w.path("plan.json.journal")).unwrap();
    let journaled: i64 = journal
        .query_row(
            "SELECT COUNT(*) FROM changes WHERE state = 'done' AND change_id LIKE 'Identity:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(journaled, done, "journal and tenant agree");
    // Everything the journal holds as done (the organization's create too, if the plan had
    // one) is what the resumed apply must report as applied by the earlier run: no more, no
    // less.
    let journaled_all: i64 = journal
        .query_row(
            "SELECT COUNT(*) FROM changes WHERE state = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(journal);
    let out = w
        .cmd(Some(&emu))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Resuming plan"), "{text}");
    assert!(
        text.contains(&format!(", {journaled_all} applied by an earlier run,")),
        "expected exactly {journaled_all} applied by the earlier run: {text}"
    );
    assert_eq!(counts(&emu), (USERS as i64, USERS as i64));
    assert_plan_empty(&w, &emu);
}

/// The emulator is killed mid-apply: apply gives up after `--give-up-after` with one error
/// naming the cause, keeps the journal, and a later apply against the emulator restarted on
/// the same database resumes and completes.
#[test]
fn a_vanished_server_is_given_up_on_with_one_error_and_resume_completes() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("emulator.db");
    let emu = Emulator::start_with_db(&db, &["--no-unique-external-id", "--latency-ms", "5"]);
    let w = bulk(N);
    assert!(
        w.cmd(Some(&emu))
            .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let child = spawn_apply(
        &w,
        &emu,
        &[
            "apply",
            "plan.json",
            "--give-up-after",
            "3s",
            "--concurrency",
            "4",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(60), || counts(&emu).0 >= 50),
        "apply never started creating"
    );
    let listen = emu.url.trim_start_matches("http://").to_string();
    let api_key_before = emu.api_key.clone();
    emu.stop();
    let killed = Instant::now();
    let out = child.wait_with_output().unwrap();
    // 3 s of silence, plus generous room for a slow machine; before, this took minutes.
    assert!(
        killed.elapsed() < Duration::from_secs(45),
        "took {:?} to give up",
        killed.elapsed()
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("Apply complete"), "{text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one grouped error: {text}");
    assert!(
        errors[0].contains(&format!(
            "the Avnology API at http://{listen} has not answered for"
        )) && errors[0].contains("connection refused")
            && errors[0].contains("apply stopped"),
        "{text}"
    );
    assert!(
        text.contains("hint: check AVNOLOGY_API_URL and the network; when the API answers again, resume with `avnology-migrate apply plan.json`"),
        "{text}"
    );
    assert!(
        text.contains("Apply stopped (the API stopped answering)"),
        "{text}"
    );
    assert!(w.path("plan.json.journal").exists(), "the journal is kept");

    let emu = Emulator::start_on(&db, &listen, &["--no-unique-external-id"]);
    assert_ne!(emu.api_key, api_key_before);
    let (done, distinct) = counts(&emu);
    assert_eq!(done, distinct);
    assert!(done > 0 && done < N as i64, "stopped mid-way: {done}");
    let out = w
        .cmd(Some(&emu))
        .args(["apply", "plan.json"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Resuming plan"), "{text}");
    assert_eq!(counts(&emu), (N as i64, N as i64));
    assert_plan_empty(&w, &emu);
}

/// A listener that accepts connections and never answers: `plan` shows that it is waiting
/// and gives up after `--give-up-after`, naming the timeout.
#[test]
fn plan_against_a_server_that_never_answers_gives_up_with_a_clear_message() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for sock in listener.incoming() {
            held.push(sock);
        }
    });
    let w = bulk(10);
    let started = Instant::now();
    let out = w
        .cmd(None)
        .env("AVNOLOGY_API_URL", format!("http://{addr}"))
        .env("AVNOLOGY_SECRET_KEY", "ak_test_never_answered")
        .env("AVNOLOGY_GIVE_UP_AFTER", "3s")
        .args(["plan", "-m", "migration.toml"])
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "took {:?}",
        started.elapsed()
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("waiting for http://{addr} (no answer for ")),
        "shows that it is waiting: {text}"
    );
    assert!(
        text.contains(&format!(
            "error: the Avnology API at http://{addr} has not answered for 3 s (no response within"
        )) && text.contains("gave up"),
        "{text}"
    );
}

/// 429s: a token bucket with a small burst (R/10) or a full second's worth (the emulator's
/// default) draws few 429s. A slow machine only sends slower, so fewer 429s.
#[test]
fn a_rate_limit_draws_under_five_percent_429s_at_any_burst() {
    const N: usize = 400;
    for burst in [None, Some("5")] {
        let mut flags = vec![
            "--no-unique-external-id",
            "--rate-limit",
            "50",
            "--log-requests",
        ];
        if let Some(b) = burst {
            flags.extend(["--burst", b]);
        }
        let emu = Emulator::start(&flags);
        let w = bulk(N);
        let out = w
            .cmd(Some(&emu))
            .args(["plan", "-m", "migration.toml", "--out", "plan.json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        // The bucket refills after the plan's reads.
        std::thread::sleep(Duration::from_millis(1500));
        let before = emu.stderr.lock().unwrap().len();
        let started = Instant::now();
        let out = w
            .cmd(Some(&emu))
            .env_remove("AVNOLOGY_MIGRATE_FAST_RETRY")
            .args(["apply", "plan.json"])
            .output()
            .unwrap();
        let took = started.elapsed();
        let text = output_text(&out);
        assert!(out.status.success(), "{text}");
        assert_eq!(counts(&emu), (N as i64, N as i64));
        // Real pacing keeps the apply near the server's rate: 400 creates at 50/s take 8 s;
        // honouring every 429's Retry-After without pacing would take several times that.
        // (A slow machine only sends slower, which the bound leaves room for.)
        assert!(
            took < Duration::from_secs(20),
            "burst {burst:?}: {N} creates at 50/s took {took:?}"
        );
        let log = emu.log_when(|l| l[before..].matches("POST /v1/identities 201").count() >= N);
        let log = log[before..].to_string();
        let requests = log.lines().filter(|l| l.contains(" /v1/")).count();
        let throttled = log.lines().filter(|l| l.contains(" 429 ")).count();
        assert!(requests > N, "{requests}");
        assert!(
            throttled * 20 < requests,
            "burst {burst:?}: {throttled} 429s in {requests} requests"
        );
    }
}
