//! The emulator's injected faults and rate limit: 429 with `Retry-After`, 5xx, commit then
//! fail, dropped connections, `--no-unique-external-id`, latency and seeded replays, on every
//! route.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::Emulator;
use crate::emulator_support::{
    auth, count, create, create_client, created_id, error_code, raw_exchange,
};

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

#[test]
fn faults_and_the_rate_limit_apply_to_the_new_routes() {
    let emu = Emulator::start(&["--fault-5xx", "1", "--seed", "1"]);
    let (status, body) = create_client(&emu, json!({}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 0);
    let (status, _) = emu.call("GET", "/v1/service-accounts", None);
    assert_eq!(status, 503);
    drop(emu);

    let emu = Emulator::start(&["--fault-commit-fail", "1"]);
    let (status, body) = create_client(&emu, json!({"external_id": "trap"}));
    assert_eq!(status, 500, "{body}");
    assert!(
        body.get("client_secret").is_none(),
        "a failed answer has no secret"
    );
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 1);
    drop(emu);

    let emu = Emulator::start(&["--rate-limit", "0.5", "--burst", "1"]);
    let (status, _) = emu.call("GET", "/v1/oauth-clients", None);
    assert_eq!(status, 200);
    let (status, headers, body) = emu.request(
        "GET",
        "/v1/service-accounts",
        None,
        &[("authorization", &auth(&emu))],
    );
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
}
