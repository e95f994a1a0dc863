//! Emulator behaviour, one test per behaviour, against the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Emulator};

// Firebase's published modified-scrypt test vector (firebase/scrypt README).
const FB_SIGNER_KEY: &str =
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
const FB_SEPARATOR: &str = "Bw==";
const FB_SALT: &str = "42xEC+ixf3L2lw==";
const FB_HASH: &str =
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";
const FB_PASSWORD: &str = "user1password";

/// bcrypt of "hunter2-bcrypt" at cost 4, computed once per test process.
fn bcrypt_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("hunter2-bcrypt", 4).unwrap())
}

fn create(emu: &Emulator, identity: Value) -> (u16, Value) {
    emu.call(
        "POST",
        "/v1/identities",
        Some(json!({ "identity": identity })),
    )
}

fn created_id(emu: &Emulator, identity: Value) -> String {
    let (status, body) = create(emu, identity);
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn count(emu: &Emulator, sql: &str) -> i64 {
    emu.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn login(emu: &Emulator, identifier: &str, password: &str) -> (u16, Value) {
    emu.login(identifier, password)
}

fn auth(emu: &Emulator) -> String {
    format!("Bearer {}", emu.api_key)
}

/// A raw HTTP/1.1 exchange on a fresh loopback connection: the bytes the server sent before
/// closing (empty when it closed without a response). Bounded by a read timeout.
fn raw_exchange(emu: &Emulator, request: &str) -> Vec<u8> {
    let addr = emu.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

/// The emulator binary started by hand (for flags the shared harness always sets), with
/// its stderr read until the `listening on` line.
struct Manual {
    child: Child,
    stderr_lines: Vec<String>,
    url: String,
    rest: std::sync::mpsc::Receiver<String>,
}

impl Manual {
    fn start(args: &[&str]) -> Manual {
        let mut child = Command::new(common::bin())
            .arg("emulator")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Owned by the guard from here on, so a failed start still kills and reaps it.
        let mut m = Manual {
            child,
            stderr_lines: Vec::new(),
            url: String::new(),
            rest: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = m
                .rest
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("emulator did not start: {:?}", m.stderr_lines));
            let url = line.strip_prefix("listening on ").map(str::to_string);
            m.stderr_lines.push(line);
            if let Some(url) = url {
                m.url = url;
                return m;
            }
        }
    }
}

impl Drop for Manual {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET with the given key, returning the status.
fn get_status(url: &str, path: &str, key: &str) -> u16 {
    let url = format!("{url}{path}");
    let key = key.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            avnology_migrate::live::tls::client_builder()
                .build()
                .unwrap()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    })
    .join()
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. CLI
// ---------------------------------------------------------------------------------------

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
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(key.as_bytes()).as_slice());
    assert_eq!(stored, vec![digest]);
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

// ---------------------------------------------------------------------------------------
// 2–3. Auth and the error envelope
// ---------------------------------------------------------------------------------------

#[test]
fn missing_or_unknown_key_is_401_auth_005() {
    let emu = Emulator::start(&[]);
    let (status, body) = emu.call_with("GET", "/v1/identities", None, &[]);
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_005");
    let (status, body) = emu.call_with(
        "GET",
        "/v1/identities",
        None,
        &[("authorization", "Bearer ak_test_nope")],
    );
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_005");
    let (status, _) = emu.call_with(
        "GET",
        "/v1/identities",
        None,
        &[("authorization", &emu.api_key)],
    );
    assert_eq!(
        status, 401,
        "a key without the Bearer scheme is not accepted"
    );
}

#[test]
fn key_without_scope_is_403_auth_100() {
    let reader = "ak_test_reader-only-key";
    let emu = Emulator::start(&["--key", &format!("{reader}=admin:users:read")]);
    let h = format!("Bearer {reader}");
    let (status, _) = emu.call_with("GET", "/v1/identities", None, &[("authorization", &h)]);
    assert_eq!(status, 200);
    let (status, body) = emu.call_with(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "a@example.com"}})),
        &[("authorization", &h)],
    );
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_100");
    assert_eq!(
        body["error"]["details"]["required_scope"],
        "admin:users:write"
    );
    let (status, body) = emu.call_with("GET", "/v1/organizations", None, &[("authorization", &h)]);
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_100");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 0);
}

#[test]
fn every_response_has_a_request_id_and_errors_use_the_envelope() {
    let emu = Emulator::start(&[]);
    let (status, headers, body) = emu.request(
        "GET",
        "/v1/identities/usr_missing",
        None,
        &[("authorization", &auth(&emu))],
    );
    assert_eq!(status, 404);
    let rid = headers["x-request-id"].to_str().unwrap();
    assert!(rid.starts_with("req_"), "{rid}");
    let err = body["error"].as_object().unwrap();
    assert_eq!(err["code"], "AVNOLOGY_AUTH_901");
    assert_eq!(err["request_id"], rid);
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(err["details"].is_object());
    let (status, headers, _) = emu.request(
        "GET",
        "/v1/identities",
        None,
        &[("authorization", &auth(&emu))],
    );
    assert_eq!(status, 200);
    assert!(
        headers["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    // Unknown routes and wrong methods use the envelope too.
    let (status, headers, body) = emu.request("GET", "/v2/nothing", None, &[]);
    assert_eq!(status, 404);
    assert_eq!(
        body["error"]["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );
    let (status, body) = emu.call("PUT", "/v1/identities", Some(json!({})));
    assert_eq!(status, 405);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_902");
    // So do axum's own rejections (here: a body over the 2 MB limit).
    let big =
        json!({"identity": {"email": "big@example.com", "traits": {"x": "y".repeat(3_000_000)}}});
    let (status, body) = emu.call("POST", "/v1/identities", Some(big));
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_902");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
}

// ---------------------------------------------------------------------------------------
// 4. Identities
// ---------------------------------------------------------------------------------------

#[test]
fn create_returns_201_flat_identity_with_etag_and_never_the_hash() {
    let emu = Emulator::start(&["--log-requests"]);
    let (status, headers, body) = emu.request(
        "POST",
        "/v1/identities",
        Some(json!({
            "identity": {
                "email": "Ada@Example.com", "external_id": "auth0|ada", "first_name": "Ada",
                "phone": "+14155551234", "username": "ada_l", "email_verified": true,
                "traits": {"plan": "pro"}, "admin_metadata": {"avnology_migrate": {"source": "a"}}
            },
            "password_hash": {"algorithm": "bcrypt", "hash": bcrypt_hash()}
        })),
        &[("authorization", &auth(&emu))],
    );
    assert_eq!(status, 201, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(body["email"], "Ada@Example.com");
    assert_eq!(body["external_id"], "auth0|ada");
    assert_eq!(body["email_verified"], true);
    assert_eq!(body["state"], "active");
    assert_eq!(body["has_password"], true);
    assert_eq!(body["traits"]["plan"], "pro");
    let etag = body["etag"].as_str().unwrap();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(headers["etag"].to_str().unwrap(), etag);
    assert!(chrono::DateTime::parse_from_rfc3339(body["create_time"].as_str().unwrap()).is_ok());
    let text = body.to_string();
    assert!(
        !text.contains("$2b$") && !text.contains("password_hash"),
        "{text}"
    );
    let (_, got) = emu.call(
        "GET",
        &format!("/v1/identities/{}", body["id"].as_str().unwrap()),
        None,
    );
    assert!(!got.to_string().contains(&bcrypt_hash()[7..]));
    // The hash lives only in the credentials table.
    let data: String = emu
        .db()
        .query_row("SELECT data FROM identities", [], |r| r.get(0))
        .unwrap();
    assert!(!data.contains(&bcrypt_hash()[7..]));
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM credentials WHERE algorithm = 'bcrypt'"
        ),
        1
    );
    let log = emu
        .log_when(|l| l.contains("POST /v1/identities 201") && l.contains("GET /v1/identities/"));
    common::assert_no_secrets(
        &log,
        &[&bcrypt_hash()[7..], &emu.api_key],
        "the emulator log",
    );
}

#[test]
fn create_validation_errors_are_400_auth_902_naming_the_field() {
    let emu = Emulator::start(&[]);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"identity": {}}), "email"),
        (json!({"identity": {"email": "not-an-email"}}), "email"),
        (
            json!({"identity": {"email": "a@example.com", "phone": "4155551234"}}),
            "phone",
        ),
        (
            json!({"identity": {"email": "a@example.com", "username": "a b"}}),
            "username",
        ),
        (
            json!({"identity": {"email": "a@example.com"}, "initial_password": "short"}),
            "initial_password",
        ),
        (
            json!({"identity": {"email": "a@example.com"}, "password_hash": {"algorithm": "bcrypt", "hash": "$2b$10$tooshort"}}),
            "password_hash.hash",
        ),
        (
            json!({"identity": {"email": "a@example.com"}, "password_hash": {"algorithm": "md5", "hash": "x"}}),
            "password_hash.algorithm",
        ),
        (
            json!({"identity": {"email": "a@example.com"}, "password_hash": {
                "algorithm": "firebase-scrypt", "hash": FB_HASH, "salt": FB_SALT,
                "salt_separator": FB_SEPARATOR, "signer_key": FB_SIGNER_KEY, "rounds": 9, "mem_cost": 14}}),
            "password_hash.rounds",
        ),
        (
            json!({"identity": {"email": "a@example.com"}, "password_hash": {
                "algorithm": "firebase-scrypt", "hash": FB_HASH, "salt": FB_SALT,
                "salt_separator": FB_SEPARATOR, "signer_key": FB_SIGNER_KEY, "rounds": 8, "mem_cost": 0}}),
            "password_hash.mem_cost",
        ),
        (json!({"nothing": true}), "identity"),
    ];
    for (body, field) in cases {
        let (status, resp) = emu.call("POST", "/v1/identities", Some(body.clone()));
        assert_eq!(status, 400, "{body} -> {resp}");
        assert_eq!(error_code(&resp), "AVNOLOGY_AUTH_902", "{resp}");
        assert_eq!(resp["error"]["details"]["field"], field, "{body} -> {resp}");
    }
    // An organization that does not exist is a 404 naming the field.
    let (status, resp) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "a@example.com", "organization_id": "org_missing"}})),
    );
    assert_eq!(status, 404, "{resp}");
    assert_eq!(error_code(&resp), "AVNOLOGY_AUTH_300");
    assert_eq!(resp["error"]["details"]["field"], "organization_id");
    // A wrongly typed password is refused without being echoed.
    let (status, resp) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "a@example.com"}, "initial_password": 98765432123i64})),
    );
    assert_eq!(status, 400);
    assert!(!resp.to_string().contains("98765432123"), "{resp}");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 0);
}

#[test]
fn duplicate_email_is_409_case_insensitively() {
    let emu = Emulator::start(&[]);
    created_id(&emu, json!({"email": "dup@example.com"}));
    let (status, body) = create(&emu, json!({"email": "DUP@example.COM"}));
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_903");
    assert_eq!(body["error"]["details"]["field"], "email");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 1);
}

#[test]
fn duplicate_external_id_is_409_within_an_organization_only() {
    let emu = Emulator::start(&[]);
    let (_, org_a) = emu.call("POST", "/v1/organizations", Some(json!({"name": "org-a"})));
    let (_, org_b) = emu.call("POST", "/v1/organizations", Some(json!({"name": "org-b"})));
    let (a, b) = (org_a["id"].as_str().unwrap(), org_b["id"].as_str().unwrap());
    created_id(
        &emu,
        json!({"email": "1@example.com", "external_id": "u1", "organization_id": a}),
    );
    let (status, body) = create(
        &emu,
        json!({"email": "2@example.com", "external_id": "u1", "organization_id": a}),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_903");
    assert_eq!(body["error"]["details"]["field"], "external_id");
    // Another organization, and no organization, are scopes of their own.
    created_id(
        &emu,
        json!({"email": "3@example.com", "external_id": "u1", "organization_id": b}),
    );
    created_id(&emu, json!({"email": "4@example.com", "external_id": "u1"}));
    let (status, body) = create(&emu, json!({"email": "5@example.com", "external_id": "u1"}));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["field"], "external_id");
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM identities WHERE external_id = 'u1'"
        ),
        3
    );
}

#[test]
fn validate_only_returns_200_and_stores_nothing() {
    let emu = Emulator::start(&[]);
    let (status, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": "v@example.com", "external_id": "v1"},
                    "initial_password": "long-enough-pw", "validate_only": true}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "v@example.com");
    assert_eq!(body["has_password"], true);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 0);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM credentials"), 0);
    // Invalid input still fails validation.
    let (status, _) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "bad"}, "validate_only": true})),
    );
    assert_eq!(status, 400);
}

#[test]
fn idempotency_key_replays_the_first_response_and_refuses_a_different_body() {
    let emu = Emulator::start(&[]);
    let h = auth(&emu);
    let body = json!({"identity": {"email": "idem@example.com", "external_id": "i1"}});
    let key = "0f9c7a7e-2b43-4c8e-9d36-1c8f1b3c2a10";
    let headers = [("authorization", h.as_str()), ("idempotency-key", key)];
    let (s1, h1, b1) = emu.request("POST", "/v1/identities", Some(body.clone()), &headers);
    assert_eq!(s1, 201, "{b1}");
    let (s2, h2, b2) = emu.request("POST", "/v1/identities", Some(body), &headers);
    assert_eq!(s2, 201, "{b2}");
    assert_eq!(b1, b2);
    assert_eq!(h1["etag"], h2["etag"]);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 1);
    let other = json!({"identity": {"email": "other@example.com"}});
    let (s3, b3) = emu.call_with("POST", "/v1/identities", Some(other), &headers);
    assert_eq!(s3, 409, "{b3}");
    assert_eq!(error_code(&b3), "AVNOLOGY_AUTH_903");
    assert_eq!(b3["error"]["details"]["reason"], "idempotency_key_reused");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 1);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM idempotency_keys"), 1);
}

#[test]
fn list_pages_are_stable_while_others_insert() {
    let emu = Emulator::start(&[]);
    for n in 0..23 {
        created_id(&emu, json!({"email": format!("p{n:02}@example.com")}));
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            Some(t) => format!("/v1/identities?order_by=create_time&page_size=10&page_token={t}"),
            None => "/v1/identities?order_by=create_time&page_size=10".to_string(),
        };
        let (status, body) = emu.call("GET", &path, None);
        assert_eq!(status, 200, "{body}");
        for i in body["identities"].as_array().unwrap() {
            seen.push(i["email"].as_str().unwrap().to_string());
        }
        pages += 1;
        if pages == 1 {
            assert_eq!(body["total_size"], 23);
            // Someone inserts while we page: the new row appears at the end, nothing shifts.
            created_id(&emu, json!({"email": "late@example.com"}));
        } else {
            // Counting is for the first page only: later pages cost O(page size).
            assert!(body.get("total_size").is_none(), "{body}");
        }
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging did not end");
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (0..23).map(|n| format!("p{n:02}@example.com")).collect();
    expected.push("late@example.com".into());
    assert_eq!(seen, expected);
}

#[test]
fn list_page_size_defaults_clamps_and_rejects_garbage() {
    let emu = Emulator::start(&[]);
    for n in 0..105 {
        created_id(&emu, json!({"email": format!("c{n}@example.com")}));
    }
    let (_, body) = emu.call("GET", "/v1/identities", None);
    assert_eq!(body["identities"].as_array().unwrap().len(), 25);
    assert_eq!(body["total_size"], 105);
    let (_, body) = emu.call("GET", "/v1/identities?page_size=1000", None);
    assert_eq!(body["identities"].as_array().unwrap().len(), 100);
    assert!(body["next_page_token"].is_string());
    for bad in [
        "page_size=-1",
        "page_size=abc",
        "page_token=garbage",
        "order_by=name",
        "order_by=email%20sideways",
    ] {
        let (status, body) = emu.call("GET", &format!("/v1/identities?{bad}"), None);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(error_code(&body), "AVNOLOGY_AUTH_902");
    }
}

fn filter(emu: &Emulator, f: &str) -> (u16, Value) {
    let mut url = reqwest::Url::parse("http://x/v1/identities?order_by=create_time").unwrap();
    url.query_pairs_mut().append_pair("filter", f);
    emu.call(
        "GET",
        &format!("/v1/identities?{}", url.query().unwrap()),
        None,
    )
}

fn emails(body: &Value) -> Vec<String> {
    body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_filter_supports_the_aip160_subset() {
    let emu = Emulator::start(&[]);
    let (_, org) = emu.call(
        "POST",
        "/v1/organizations",
        Some(json!({"name": "filters"})),
    );
    let org = org["id"].as_str().unwrap();
    created_id(
        &emu,
        json!({"email": "a@example.com", "external_id": "auth0|a\"q", "organization_id": org, "username": "alpha"}),
    );
    let b = created_id(
        &emu,
        json!({"email": "b@example.com", "external_id": "auth0|b"}),
    );
    created_id(&emu, json!({"email": "c@example.com"}));
    emu.call("POST", &format!("/v1/identities/{b}:deactivate"), None);

    let (s, body) = filter(&emu, r#"email = "A@EXAMPLE.COM""#);
    assert_eq!(s, 200, "{body}");
    assert_eq!(emails(&body), ["a@example.com"]);
    let (_, body) = filter(&emu, r#"external_id = "auth0|a\"q""#);
    assert_eq!(emails(&body), ["a@example.com"]);
    let (_, body) = filter(&emu, r#"state = "inactive""#);
    assert_eq!(emails(&body), ["b@example.com"]);
    let (_, body) = filter(
        &emu,
        &format!(r#"state = "active" AND organization_id = "{org}""#),
    );
    assert_eq!(emails(&body), ["a@example.com"]);
    let (_, body) = filter(&emu, r#"username = "alpha""#);
    assert_eq!(emails(&body), ["a@example.com"]);
    let (_, body) = filter(&emu, r#"external_id != "auth0|b""#);
    assert_eq!(emails(&body), ["a@example.com", "c@example.com"]);
    assert_eq!(body["total_size"], 2);
    for bad in [
        r#"phone = "x""#,
        r"email = x",
        r#"email = "a" OR state = "active""#,
        r#"state = "gone""#,
    ] {
        let (s, body) = filter(&emu, bad);
        assert_eq!(s, 400, "{bad}: {body}");
        assert_eq!(error_code(&body), "AVNOLOGY_AUTH_902");
        assert_eq!(body["error"]["details"]["field"], "filter");
    }
}

#[test]
fn soft_delete_hides_and_frees_uniqueness_and_force_removes_the_row() {
    let emu = Emulator::start(&[]);
    let id = created_id(
        &emu,
        json!({"email": "gone@example.com", "external_id": "g1"}),
    );
    let (status, body) = emu.call("DELETE", &format!("/v1/identities/{id}"), None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(body, Value::Null);
    let (_, got) = emu.call("GET", &format!("/v1/identities/{id}"), None);
    assert_eq!(got["state"], "scheduled_deletion");
    let (_, list) = emu.call("GET", "/v1/identities", None);
    assert_eq!(list["total_size"], 0);
    let (_, list) = filter(&emu, r#"state = "scheduled_deletion""#);
    assert_eq!(emails(&list), ["gone@example.com"]);
    // The email and external_id are free again.
    created_id(
        &emu,
        json!({"email": "gone@example.com", "external_id": "g1"}),
    );
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM identities WHERE external_id = 'g1'"
        ),
        2
    );
    let (status, _) = emu.call("DELETE", &format!("/v1/identities/{id}?force=true"), None);
    assert_eq!(status, 204);
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM identities WHERE external_id = 'g1'"
        ),
        1
    );
    let (status, body) = emu.call("GET", &format!("/v1/identities/{id}"), None);
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
}

#[test]
fn delete_honours_if_match() {
    let emu = Emulator::start(&[]);
    let id = created_id(&emu, json!({"email": "im@example.com"}));
    let h = auth(&emu);
    let (status, body) = emu.call_with(
        "DELETE",
        &format!("/v1/identities/{id}"),
        None,
        &[
            ("authorization", &h),
            ("if-match", "W/\"0000000000000000\""),
        ],
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["reason"], "etag_mismatch");
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM identities WHERE state = 'active'"
        ),
        1
    );
}

#[test]
fn get_unknown_identity_is_404_auth_901() {
    let emu = Emulator::start(&[]);
    let (status, body) = emu.call(
        "GET",
        "/v1/identities/usr_00000000-0000-0000-0000-000000000000",
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
    for method in ["PATCH", "DELETE"] {
        let (status, body) = emu.call(
            method,
            "/v1/identities/usr_nope",
            Some(json!({"identity": {}, "update_mask": "first_name"})),
        );
        assert_eq!(status, 404, "{method}");
        assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
    }
}

#[test]
fn patch_applies_the_update_mask_and_checks_if_match() {
    let emu = Emulator::start(&[]);
    let (_, created) = create(
        &emu,
        json!({"email": "pm@example.com", "first_name": "Old", "last_name": "Keep",
               "traits": {"plan": "free", "team": "x"}, "admin_metadata": {"m": 1}}),
    );
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/identities/{id}");
    let etag0 = created["etag"].as_str().unwrap().to_string();
    let h = auth(&emu);
    let (status, headers, body) = emu.request(
        "PATCH",
        &path,
        Some(json!({
            "identity": {"first_name": "New", "last_name": "Ignored", "traits": {"plan": "pro"}},
            "update_mask": "first_name,traits.plan,traits.team"
        })),
        &[("authorization", &h), ("if-match", &etag0)],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["first_name"], "New");
    assert_eq!(body["last_name"], "Keep");
    assert_eq!(body["traits"], json!({"plan": "pro"}));
    assert_eq!(body["admin_metadata"], json!({"m": 1}));
    let etag1 = body["etag"].as_str().unwrap().to_string();
    assert_ne!(etag0, etag1);
    assert_eq!(headers["etag"].to_str().unwrap(), etag1);
    // The old ETag is now stale.
    let (status, body) = emu.call_with(
        "PATCH",
        &path,
        Some(json!({"identity": {"first_name": "Lost"}, "update_mask": "first_name"})),
        &[("authorization", &h), ("if-match", &etag0)],
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_903");
    assert_eq!(body["error"]["details"]["reason"], "etag_mismatch");
    let (_, got) = emu.call("GET", &path, None);
    assert_eq!(got["first_name"], "New");
    // Mask errors.
    for (req, field) in [
        (json!({"identity": {}, "update_mask": ""}), "update_mask"),
        (
            json!({"identity": {}, "update_mask": "state"}),
            "update_mask",
        ),
        (
            json!({"identity": {"phone": "123"}, "update_mask": "phone"}),
            "phone",
        ),
        (json!({"identity": {}, "update_mask": "email"}), "email"),
        (json!({"identity": {}}), "update_mask"),
    ] {
        let (status, body) = emu.call("PATCH", &path, Some(req.clone()));
        assert_eq!(status, 400, "{req} -> {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{req} -> {body}");
    }
    // Uniqueness applies to updates.
    created_id(&emu, json!({"email": "taken@example.com"}));
    let (status, body) = emu.call(
        "PATCH",
        &path,
        Some(json!({"identity": {"email": "TAKEN@example.com"}, "update_mask": "email"})),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["field"], "email");
}

#[test]
fn patch_password_hash_replaces_the_imported_hash() {
    let emu = Emulator::start(&[]);
    let id = created_id(&emu, json!({"email": "ph@example.com"}));
    let (_, got) = emu.call("GET", &format!("/v1/identities/{id}"), None);
    assert_eq!(got["has_password"], false);
    let (status, body) = emu.call(
        "PATCH",
        &format!("/v1/identities/{id}"),
        Some(json!({"identity": {}, "update_mask": "password_hash",
                    "password_hash": {"algorithm": "bcrypt", "hash": bcrypt_hash()}})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["has_password"], true);
    assert!(!body.to_string().contains("$2b$"));
    assert_eq!(login(&emu, "ph@example.com", "hunter2-bcrypt").0, 200);
    let (status, _) = emu.call(
        "PATCH",
        &format!("/v1/identities/{id}"),
        Some(json!({"identity": {}, "update_mask": "password_hash"})),
    );
    assert_eq!(status, 400, "a mask naming password_hash needs one");
}

#[test]
fn deactivate_and_reactivate_change_state_and_honour_if_match() {
    let emu = Emulator::start(&[]);
    let (_, created) = create(&emu, json!({"email": "dr@example.com"}));
    let id = created["id"].as_str().unwrap();
    let (status, body) = emu.call(
        "POST",
        &format!("/v1/identities/{id}:deactivate"),
        Some(json!({"reason": "test"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "inactive");
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM identities WHERE state = 'inactive'"
        ),
        1
    );
    let h = auth(&emu);
    let stale = created["etag"].as_str().unwrap();
    let (status, body) = emu.call_with(
        "POST",
        &format!("/v1/identities/{id}:reactivate"),
        None,
        &[("authorization", &h), ("if-match", stale)],
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["reason"], "etag_mismatch");
    let (status, body) = emu.call("POST", &format!("/v1/identities/{id}:reactivate"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "active");
    // An unknown custom method is not a method of the identity resource either.
    let (status, body) = emu.call("POST", &format!("/v1/identities/{id}:explode"), None);
    assert_eq!(status, 405, "{body}");
    let (status, body) = emu.call("POST", "/v1/identities/usr_nope:deactivate", None);
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
}

// ---------------------------------------------------------------------------------------
// 5. Organizations
// ---------------------------------------------------------------------------------------

#[test]
fn organizations_create_list_get_patch_and_count_members() {
    let emu = Emulator::start(&[]);
    let (status, org) = emu.call(
        "POST",
        "/v1/organizations",
        Some(json!({"name": "acme", "slug": "acme-login"})),
    );
    assert_eq!(status, 201, "{org}");
    assert_eq!(org["registration_mode"], "open");
    assert_eq!(org["member_count"], 0);
    let id = org["id"].as_str().unwrap();
    assert!(id.starts_with("org_"));
    for (body, field) in [
        (json!({"name": "Acme Corp"}), "name"),
        (json!({"name": "a"}), "name"),
        (
            json!({"name": "ok-name", "registration_mode": "closed"}),
            "registration_mode",
        ),
    ] {
        let (status, resp) = emu.call("POST", "/v1/organizations", Some(body));
        assert_eq!(status, 400, "{resp}");
        assert_eq!(resp["error"]["details"]["field"], field);
    }
    for (body, field) in [
        (json!({"name": "acme"}), "name"),
        (json!({"name": "acme-2", "slug": "acme-login"}), "slug"),
    ] {
        let (status, resp) = emu.call("POST", "/v1/organizations", Some(body));
        assert_eq!(status, 409, "{resp}");
        assert_eq!(error_code(&resp), "AVNOLOGY_AUTH_903");
        assert_eq!(resp["error"]["details"]["field"], field);
    }
    created_id(
        &emu,
        json!({"email": "m1@example.com", "organization_id": id}),
    );
    let gone = created_id(
        &emu,
        json!({"email": "m2@example.com", "organization_id": id}),
    );
    emu.call("DELETE", &format!("/v1/identities/{gone}"), None);
    let (status, got) = emu.call("GET", &format!("/v1/organizations/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(got["member_count"], 1);
    emu.call("POST", "/v1/organizations", Some(json!({"name": "beta"})));
    let (_, list) = emu.call(
        "GET",
        "/v1/organizations?order_by=create_time&page_size=1",
        None,
    );
    assert_eq!(list["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(list["organizations"][0]["name"], "acme");
    let t = list["next_page_token"].as_str().unwrap();
    let (_, list) = emu.call(
        "GET",
        &format!("/v1/organizations?order_by=create_time&page_size=1&page_token={t}"),
        None,
    );
    assert_eq!(list["organizations"][0]["name"], "beta");
    assert!(list.get("next_page_token").is_none());
    let (_, list) = emu.call(
        "GET",
        "/v1/organizations?filter=name%20%3D%20%22beta%22",
        None,
    );
    assert_eq!(list["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(list["organizations"][0]["name"], "beta");
    let (status, patched) = emu.call(
        "PATCH",
        &format!("/v1/organizations/{id}"),
        Some(
            json!({"organization": {"display_name": "Acme Inc", "registration_mode": "invite_only"},
                    "update_mask": "display_name,registration_mode"}),
        ),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["display_name"], "Acme Inc");
    assert_eq!(patched["registration_mode"], "invite_only");
    let (status, resp) = emu.call(
        "PATCH",
        &format!("/v1/organizations/{id}"),
        Some(json!({"organization": {"slug": "new"}, "update_mask": "slug"})),
    );
    assert_eq!(status, 400, "{resp}");
    for method in ["GET", "PATCH"] {
        let (status, resp) = emu.call(
            method,
            "/v1/organizations/org_missing",
            Some(json!({"organization": {}, "update_mask": "display_name"})),
        );
        assert_eq!(status, 404, "{method}");
        assert_eq!(error_code(&resp), "AVNOLOGY_AUTH_300");
    }
}

// ---------------------------------------------------------------------------------------
// 6. Login flow
// ---------------------------------------------------------------------------------------

#[test]
fn login_verifies_bcrypt_argon2id_and_firebase_scrypt_without_an_api_key() {
    // With the request log on, so the scan at the end covers every request's line.
    let emu = Emulator::start(&["--log-requests"]);
    let bc = created_id(&emu, json!({"email": "bc@example.com"}));
    emu.call(
        "PATCH",
        &format!("/v1/identities/{bc}"),
        Some(json!({"identity": {}, "update_mask": "password_hash",
                    "password_hash": {"algorithm": "bcrypt", "hash": bcrypt_hash()}})),
    );
    let (s, _) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": "ar@example.com", "username": "argon_user"},
                    "initial_password": "argon-secret-1"}),
        ),
    );
    assert_eq!(s, 201);
    let (s, fb) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "fb@example.com"},
                    "password_hash": {"algorithm": "firebase-scrypt", "hash": FB_HASH, "salt": FB_SALT,
                                      "salt_separator": FB_SEPARATOR, "signer_key": FB_SIGNER_KEY,
                                      "rounds": 8, "mem_cost": 14}})),
    );
    assert_eq!(s, 201, "{fb}");

    let (s, ok) = login(&emu, "BC@example.com", "hunter2-bcrypt");
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["identity_id"], bc.as_str());
    assert!(ok["session_id"].as_str().unwrap().starts_with("ses_"));
    assert_eq!(login(&emu, "ar@example.com", "argon-secret-1").0, 200);
    assert_eq!(login(&emu, "argon_user", "argon-secret-1").0, 200);
    let (s, ok) = login(&emu, "fb@example.com", FB_PASSWORD);
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["identity_id"], fb["id"]);
    // Each scheme also refuses a wrong password.
    assert_eq!(login(&emu, "bc@example.com", "hunter2-bcrypX").0, 401);
    assert_eq!(login(&emu, "ar@example.com", "argon-secret-2").0, 401);
    assert_eq!(login(&emu, "fb@example.com", "user1passwore").0, 401);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM sessions"), 4);
    // Seven logins were submitted; the scan covers all of them.
    let log = emu.log_when(|l| l.matches(":submit ").count() == 7);
    common::assert_no_secrets(
        &log,
        &[FB_HASH, FB_SIGNER_KEY, FB_PASSWORD, "argon-secret-1"],
        "the log",
    );
}

#[test]
fn wrong_password_and_unknown_identifier_are_the_same_401() {
    let emu = Emulator::start(&[]);
    emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "w@example.com"}, "initial_password": "right-password"})),
    );
    let (s1, wrong) = login(&emu, "w@example.com", "wrong-password");
    let (s2, unknown) = login(&emu, "nobody@example.com", "right-password");
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(error_code(&wrong), "AVNOLOGY_AUTH_001");
    assert_eq!(error_code(&unknown), "AVNOLOGY_AUTH_001");
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM sessions"), 0);
}

#[test]
fn inactive_identity_gets_401_auth_003_only_with_the_right_password() {
    let emu = Emulator::start(&[]);
    let (_, created) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": "off@example.com"}, "initial_password": "right-password"}),
        ),
    );
    let id = created["id"].as_str().unwrap();
    emu.call("POST", &format!("/v1/identities/{id}:deactivate"), None);
    let (s, body) = login(&emu, "off@example.com", "right-password");
    assert_eq!(s, 401);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_003");
    let (s, body) = login(&emu, "off@example.com", "wrong-password");
    assert_eq!(s, 401);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_001");
}

#[test]
fn unknown_or_used_flow_is_404_auth_901() {
    let emu = Emulator::start(&[]);
    emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "f@example.com"}, "initial_password": "right-password"})),
    );
    let sub =
        json!({"method": "password", "identifier": "f@example.com", "password": "right-password"});
    let (s, body) = emu.call_with(
        "POST",
        "/v1/flows/login/flow_nope:submit",
        Some(sub.clone()),
        &[],
    );
    assert_eq!(s, 404);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
    let (_, flow) = emu.call_with("POST", "/v1/flows/login", None, &[]);
    assert!(chrono::DateTime::parse_from_rfc3339(flow["expire_time"].as_str().unwrap()).is_ok());
    let path = format!("/v1/flows/login/{}:submit", flow["id"].as_str().unwrap());
    assert_eq!(emu.call_with("POST", &path, Some(sub.clone()), &[]).0, 200);
    // A successful login consumes the flow.
    let (s, body) = emu.call_with("POST", &path, Some(sub), &[]);
    assert_eq!(s, 404);
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
}

// ---------------------------------------------------------------------------------------
// 7. Faults
// ---------------------------------------------------------------------------------------

#[test]
fn rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let emu = Emulator::start(&["--rate-limit", "0.5", "--burst", "2"]);
    let h = auth(&emu);
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let (status, headers, body) =
            emu.request("GET", "/v1/identities", None, &[("authorization", &h)]);
        assert_eq!(headers["x-ratelimit-limit"], "2");
        assert!(headers.contains_key("x-ratelimit-remaining"));
        assert!(headers.contains_key("x-ratelimit-reset"));
        statuses.push(status);
        last = Some((headers, body));
    }
    assert_eq!(statuses, [200, 200, 429]);
    let (headers, body) = last.unwrap();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    // The login flow shares the bucket.
    let (status, _) = emu.call_with("POST", "/v1/flows/login", None, &[]);
    assert_eq!(status, 429);
}

#[test]
fn fault_5xx_answers_503_before_doing_anything_but_spares_login_and_auth() {
    let emu = Emulator::start(&["--fault-5xx", "1", "--seed", "1"]);
    let (status, body) = create(&emu, json!({"email": "x@example.com"}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_500");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 0);
    let (status, _) = emu.call_with("GET", "/v1/identities", None, &[]);
    assert_eq!(status, 401, "auth failures are not faulted");
    let (status, _) = emu.call_with("POST", "/v1/flows/login", None, &[]);
    assert_eq!(status, 201, "login flows are not faulted");
}

#[test]
fn fault_commit_fail_commits_then_answers_500() {
    let emu = Emulator::start(&["--fault-commit-fail", "1"]);
    let (status, body) = create(
        &emu,
        json!({"email": "trap@example.com", "external_id": "t1"}),
    );
    assert_eq!(status, 500, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_500");
    // The duplicate trap: the create really happened.
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM identities WHERE external_id = 't1'"
        ),
        1
    );
    // Reads are not affected.
    let (status, body) = emu.call("GET", "/v1/identities", None);
    assert_eq!(status, 200);
    assert_eq!(body["total_size"], 1);
}

#[test]
fn fault_drop_closes_the_connection_without_a_response() {
    let emu = Emulator::start(&["--fault-drop", "1", "--seed", "3"]);
    let body = r#"{"identity":{"email":"drop@example.com"}}"#;
    let request = format!(
        "POST /v1/identities HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        emu.api_key,
        body.len()
    );
    let answer = raw_exchange(&emu, &request);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 0);
    // Unauthenticated requests are answered normally.
    let answer = raw_exchange(
        &emu,
        "GET /v1/identities HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 401"));
}

#[test]
fn fault_drop_after_commit_closes_the_connection_once_the_create_committed() {
    let emu = Emulator::start(&["--fault-drop-after-commit", "1", "--seed", "3"]);
    let body = r#"{"identity":{"email":"late@example.com","external_id":"auth0|late"}}"#;
    let request = format!(
        "POST /v1/identities HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Idempotency-Key: late-1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        emu.api_key,
        body.len()
    );
    let answer = raw_exchange(&emu, &request);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // The write happened, and was logged as a committed create with its key.
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM identities"), 1);
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM create_log WHERE kind = 'identity' \
             AND external_id = 'auth0|late' AND idempotency_key = 'late-1'"
        ),
        1
    );
    // Reads are never dropped by it.
    let (status, body) = emu.call("GET", "/v1/identities", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_size"], 1);
}

/// `--no-unique-external-id`: a second identity, client or service account with the same
/// `external_id` is stored (as by an API that does not enforce it), each create is in the
/// create log, and a repeated `Idempotency-Key` still replays instead of creating.
#[test]
fn no_unique_external_id_stores_duplicates_and_logs_every_create() {
    let emu = Emulator::start(&["--no-unique-external-id"]);
    let owner = created_id(&emu, json!({"email": "owner@example.com"}));
    for i in 0..2 {
        let (status, body) = create(
            &emu,
            json!({"email": format!("dup{i}@example.com"), "external_id": "auth0|dup"}),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = emu.call(
            "POST",
            "/v1/oauth-clients",
            Some(
                json!({"client": {"external_id": "web", "client_name": "Web",
                "client_type": "public", "redirect_uris": ["https://a.example.com/cb"]}}),
            ),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = emu.call(
            "POST",
            "/v1/service-accounts",
            Some(json!({"name": "Job", "owner_id": owner, "external_id": "job"})),
        );
        assert_eq!(status, 201, "{body}");
    }
    for (table, key) in [
        ("identities", "auth0|dup"),
        ("oauth_clients", "web"),
        ("service_accounts", "job"),
    ] {
        assert_eq!(
            count(
                &emu,
                &format!("SELECT COUNT(*) FROM {table} WHERE external_id = '{key}'")
            ),
            2,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM create_log WHERE external_id IN ('auth0|dup', 'web', 'job')"
        ),
        6
    );
    // A lookup by external_id lists both.
    let (status, body) = emu.call(
        "GET",
        "/v1/identities?filter=external_id%20%3D%20%22auth0%7Cdup%22",
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identities"].as_array().unwrap().len(), 2, "{body}");
    // The same Idempotency-Key replays: no third identity, no third create logged.
    let key = [
        ("authorization", auth(&emu)),
        ("idempotency-key", "k-1".to_string()),
    ];
    let headers: Vec<(&str, &str)> = key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let identity = json!({"identity": {"email": "dup2@example.com", "external_id": "auth0|dup"}});
    let (first, a) = emu.call_with("POST", "/v1/identities", Some(identity.clone()), &headers);
    let (again, b) = emu.call_with("POST", "/v1/identities", Some(identity), &headers);
    assert_eq!((first, again), (201, 201));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(
        count(
            &emu,
            "SELECT COUNT(*) FROM create_log WHERE kind = 'identity' AND external_id = 'auth0|dup'"
        ),
        3
    );

    emu.stop();

    // A database started once with the switch and then without it has the rule back.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("emulator.db");
    Emulator::start_with_db(&db, &["--no-unique-external-id"]).stop();
    let emu = Emulator::start_with_db(&db, &[]);
    let (status, body) = create(&emu, json!({"email": "u1@example.com", "external_id": "x"}));
    assert_eq!(status, 201, "{body}");
    let (status, body) = create(&emu, json!({"email": "u2@example.com", "external_id": "x"}));
    assert_eq!(status, 409, "{body}");
    let unique: String = emu
        .db()
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'identities_live_by_external_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(unique.starts_with("CREATE UNIQUE INDEX"), "{unique}");
}

#[test]
fn latency_delays_admin_requests() {
    let emu = Emulator::start(&["--latency-ms", "400"]);
    let started = Instant::now();
    let (status, _) = emu.call("GET", "/v1/identities", None);
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    emu.call_with("POST", "/v1/flows/login", None, &[]);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "login flows are not delayed"
    );
}

#[test]
fn the_same_seed_replays_the_same_faults() {
    let run = || {
        let emu = Emulator::start(&["--fault-5xx", "0.5", "--seed", "42"]);
        (0..24)
            .map(|_| emu.call("GET", "/v1/identities", None).0)
            .collect::<Vec<u16>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

// ---------------------------------------------------------------------------------------
// 9. The OpenAPI description
// ---------------------------------------------------------------------------------------

/// Every operation the emulator serves, as the OpenAPI file names it.
const SERVED: &[(&str, &str)] = &[
    ("/v1/identities", "post"),
    ("/v1/identities", "get"),
    ("/v1/identities/{id}", "get"),
    ("/v1/identities/{id}", "patch"),
    ("/v1/identities/{id}", "delete"),
    ("/v1/identities/{id}:deactivate", "post"),
    ("/v1/identities/{id}:reactivate", "post"),
    ("/v1/organizations", "post"),
    ("/v1/organizations", "get"),
    ("/v1/organizations/{id}", "get"),
    ("/v1/organizations/{id}", "patch"),
    ("/v1/oauth-clients", "post"),
    ("/v1/oauth-clients", "get"),
    ("/v1/oauth-clients/{client_id}", "get"),
    ("/v1/oauth-clients/{client_id}", "patch"),
    ("/v1/oauth-clients/{client_id}", "delete"),
    ("/v1/service-accounts", "post"),
    ("/v1/service-accounts", "get"),
    ("/v1/service-accounts/{id}", "get"),
    ("/v1/service-accounts/{id}", "patch"),
    ("/v1/service-accounts/{id}", "delete"),
    ("/v1/service-accounts/{id}/keys", "post"),
    ("/v1/service-accounts/{id}/keys", "get"),
    ("/v1/service-accounts/{id}/keys/{key_id}", "delete"),
    ("/v1/flows/login", "post"),
    ("/v1/flows/login/{flow_id}:submit", "post"),
];

fn assert_marked(v: &Value, what: &str) {
    let status = v["x-avnology-status"].as_str();
    assert!(
        matches!(status, Some("documented" | "assumed")),
        "{what} lacks x-avnology-status: {v}"
    );
}

fn schema_keys(doc: &Value, name: &str) -> Vec<String> {
    doc["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {name} has no properties"))
        .keys()
        .cloned()
        .collect()
}

fn assert_covers(doc: &Value, schema: &str, example: Value) {
    let keys = schema_keys(doc, schema);
    for field in example.as_object().unwrap().keys() {
        assert!(
            keys.contains(field),
            "{schema}.{field} is served but not in the OpenAPI file"
        );
    }
}

#[test]
fn openapi_marks_every_operation_and_field_and_covers_the_wire_types() {
    use avnology_migrate::wire;
    let text =
        std::fs::read_to_string(common::repo("schemas/avnology-admin.openapi.yaml")).unwrap();
    let doc: Value = yaml_serde::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let mut described = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            described += 1;
            assert!(
                SERVED.contains(&(path.as_str(), method.as_str())),
                "{method} {path} is not served"
            );
            assert_marked(op, &format!("{method} {path}"));
            for (code, resp) in op["responses"].as_object().unwrap() {
                if resp.get("$ref").is_none() {
                    assert_marked(resp, &format!("{method} {path} {code}"));
                }
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p.get("$ref").is_none() {
                    assert_marked(p, &format!("{method} {path} parameter"));
                }
            }
        }
        for p in item["parameters"].as_array().into_iter().flatten() {
            if p.get("$ref").is_none() {
                assert_marked(p, &format!("{path} parameter"));
            }
        }
    }
    assert_eq!(described, SERVED.len());
    for section in ["parameters", "headers", "responses", "schemas"] {
        for (name, item) in doc["components"][section].as_object().unwrap() {
            assert_marked(item, &format!("{section}.{name}"));
            for (field, prop) in item["properties"].as_object().into_iter().flatten() {
                assert_marked(prop, &format!("{name}.{field}"));
            }
        }
    }

    // Every field the shared wire types can carry is described.
    let identity = wire::Identity {
        id: "usr_1".into(),
        external_id: Some("e".into()),
        email: "a@example.com".into(),
        email_verified: true,
        phone: Some("+14155551234".into()),
        phone_verified: true,
        username: Some("u".into()),
        first_name: Some("f".into()),
        last_name: Some("l".into()),
        display_name: Some("d".into()),
        avatar_url: Some("https://x".into()),
        locale: Some("en".into()),
        timezone: Some("Europe/Paris".into()),
        organization_id: Some("org_1".into()),
        state: wire::IdentityState::Active,
        traits: Default::default(),
        admin_metadata: Default::default(),
        linked_providers: Some(vec![]),
        has_password: true,
        create_time: "t".into(),
        update_time: "t".into(),
        last_login_at: Some("t".into()),
        etag: "e".into(),
    };
    assert_covers(&doc, "Identity", serde_json::to_value(&identity).unwrap());
    let input = wire::IdentityInput {
        external_id: Some("e".into()),
        email: Some("a@example.com".into()),
        email_verified: Some(true),
        phone: Some("p".into()),
        phone_verified: Some(true),
        username: Some("u".into()),
        first_name: Some("f".into()),
        last_name: Some("l".into()),
        display_name: Some("d".into()),
        avatar_url: Some("a".into()),
        locale: Some("en".into()),
        timezone: Some("Europe/Paris".into()),
        organization_id: Some("o".into()),
        traits: Some(Default::default()),
        admin_metadata: Some(Default::default()),
        linked_providers: Some(vec![]),
    };
    assert_covers(&doc, "IdentityInput", serde_json::to_value(&input).unwrap());
    let hash = wire::PasswordHashInput {
        algorithm: "firebase-scrypt".into(),
        hash: "h".into(),
        salt: Some("s".into()),
        salt_separator: Some("s".into()),
        signer_key: Some("k".into()),
        rounds: Some(8),
        mem_cost: Some(14),
    };
    assert_covers(
        &doc,
        "PasswordHashInput",
        serde_json::to_value(&hash).unwrap(),
    );
    let create = wire::CreateIdentityRequest {
        identity: input.clone(),
        initial_password: Some("p".into()),
        password_hash: Some(hash.clone()),
        validate_only: true,
    };
    assert_covers(
        &doc,
        "CreateIdentityRequest",
        serde_json::to_value(&create).unwrap(),
    );
    let update = wire::UpdateIdentityRequest {
        identity: input,
        update_mask: "m".into(),
        password_hash: Some(hash),
    };
    assert_covers(
        &doc,
        "UpdateIdentityRequest",
        serde_json::to_value(&update).unwrap(),
    );
    let list = wire::ListIdentitiesResponse {
        identities: vec![],
        next_page_token: Some("t".into()),
        total_size: Some(1),
    };
    assert_covers(
        &doc,
        "ListIdentitiesResponse",
        serde_json::to_value(&list).unwrap(),
    );
    let org = wire::Organization {
        id: "org_1".into(),
        name: "n".into(),
        display_name: Some("d".into()),
        slug: Some("s".into()),
        registration_mode: "open".into(),
        member_count: 1,
        create_time: "t".into(),
    };
    assert_covers(&doc, "Organization", serde_json::to_value(&org).unwrap());
    let org_input = wire::OrganizationInput {
        name: Some("n".into()),
        display_name: Some("d".into()),
        slug: Some("s".into()),
        registration_mode: Some("open".into()),
    };
    assert_covers(
        &doc,
        "OrganizationInput",
        serde_json::to_value(&org_input).unwrap(),
    );
    let create_org = wire::CreateOrganizationRequest {
        name: "n".into(),
        display_name: Some("d".into()),
        slug: Some("s".into()),
        registration_mode: Some("open".into()),
    };
    assert_covers(
        &doc,
        "CreateOrganizationRequest",
        serde_json::to_value(&create_org).unwrap(),
    );
    let update_org = wire::UpdateOrganizationRequest {
        organization: org_input,
        update_mask: "m".into(),
    };
    assert_covers(
        &doc,
        "UpdateOrganizationRequest",
        serde_json::to_value(&update_org).unwrap(),
    );
    let orgs = wire::ListOrganizationsResponse {
        organizations: vec![],
        next_page_token: Some("t".into()),
    };
    assert_covers(
        &doc,
        "ListOrganizationsResponse",
        serde_json::to_value(&orgs).unwrap(),
    );
    let flow = wire::LoginFlow {
        id: "f".into(),
        expire_time: "t".into(),
    };
    assert_covers(&doc, "LoginFlow", serde_json::to_value(&flow).unwrap());
    let sub = wire::LoginSubmission {
        method: "password".into(),
        identifier: "i".into(),
        password: "p".into(),
    };
    assert_covers(&doc, "LoginSubmission", serde_json::to_value(&sub).unwrap());
    let ok = wire::LoginSuccess {
        session_id: "s".into(),
        identity_id: "i".into(),
    };
    assert_covers(&doc, "LoginSuccess", serde_json::to_value(&ok).unwrap());
    let err = wire::ErrorEnvelope {
        error: wire::ErrorBody {
            code: "c".into(),
            message: "m".into(),
            request_id: "r".into(),
            details: json!({}),
        },
    };
    assert_covers(&doc, "ErrorEnvelope", serde_json::to_value(&err).unwrap());
    assert_covers(&doc, "ErrorBody", serde_json::to_value(&err.error).unwrap());
}
