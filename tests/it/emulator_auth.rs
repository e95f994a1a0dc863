//! The emulator's keys and scopes and its error envelope: 401 and 403 with their codes, and a
//! request id on every response.

use serde_json::json;

use crate::common::Emulator;
use crate::emulator_support::{auth, count, error_code};

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
