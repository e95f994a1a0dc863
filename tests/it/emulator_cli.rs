//! The `emulator` command, against the real binary: a generated key printed once and stored
//! hashed, graceful shutdown, refused fault settings, and a restart keeping its data.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{self, Emulator};
use crate::emulator_support::{Manual, count, created_id, get_status, sha256_hex};

#[test]
fn without_api_key_a_key_is_generated_printed_once_and_stored_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let m = Manual::start(&["--listen", "127.0.0.1:0", "--db", db.to_str().unwrap()]);
    let key_lines: Vec<&String> = m
        .stderr_lines
        .iter()
        .filter(|l| l.contains("ak_test_"))
        .collect();
    assert_eq!(key_lines.len(), 1, "{:?}", m.stderr_lines);
    let key = key_lines[0].split_whitespace().last().unwrap().to_string();
    let suffix = key.strip_prefix("ak_test_").unwrap();
    assert_eq!(suffix.len(), 64);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(m.url.starts_with("http://127.0.0.1:"), "{}", m.url);
    assert_ne!(m.url, "http://127.0.0.1:0");
    assert_eq!(get_status(&m.url, "/v1/identities", &key), 200);
    assert_eq!(get_status(&m.url, "/v1/identities", "ak_test_wrong"), 401);
    // Stored as a SHA-256 digest, never as the key.
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let stored: Vec<String> = conn
        .prepare("SELECT key_sha256 FROM api_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored, vec![sha256_hex(&key)]);
    let dump: String = conn
        .query_row(
            "SELECT group_concat(key_sha256 || scopes) FROM api_keys",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!dump.contains(suffix));
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut m = Manual::start(&[
        "--listen",
        "127.0.0.1:0",
        "--db",
        ":memory:",
        "--api-key",
        "ak_test_sigterm-key",
    ]);
    let pid = m.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = m.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "emulator did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0));
    let rest: Vec<String> = m.rest.try_iter().collect();
    assert!(rest.iter().any(|l| l == "shutting down"), "{rest:?}");
}

#[test]
fn invalid_fault_probability_is_refused_at_start() {
    for flag in [
        "--fault-5xx",
        "--fault-commit-fail",
        "--fault-drop",
        "--fault-drop-after-commit",
    ] {
        let out = Command::new(common::bin())
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--db",
                ":memory:",
                flag,
                "1.5",
            ])
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("probability"), "{stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

#[test]
fn restart_on_the_same_file_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keep.db");
    let emu = Emulator::start_with_db(&db, &[]);
    let id = created_id(
        &emu,
        json!({"email": "keep@example.com", "external_id": "k1"}),
    );
    emu.stop();
    let emu = Emulator::start_with_db(&db, &[]);
    let (status, body) = emu.call("GET", &format!("/v1/identities/{id}"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "keep@example.com");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 1);
}
