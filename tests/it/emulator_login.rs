//! The emulator's login flow: bcrypt, Argon2id and Firebase scrypt passwords verified
//! without an API key, and the 401 and 404 answers.

use serde_json::json;

use crate::common::{self, Emulator};
use crate::emulator_support::{
    FB_HASH, FB_PASSWORD, FB_SALT, FB_SEPARATOR, FB_SIGNER_KEY, bcrypt_hash, count, created_id,
    error_code, login,
};

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
