//! `/v1/identities` on the emulator, one test per behaviour: create and its validation,
//! uniqueness, `validate_only`, `Idempotency-Key`, paging and filters, soft and forced
//! delete, PATCH with `update_mask` and `If-Match`, and the state custom methods.

use serde_json::{Value, json};

use crate::common::{self, Emulator};
use crate::emulator_support::{
    FB_HASH, FB_SALT, FB_SEPARATOR, FB_SIGNER_KEY, auth, bcrypt_hash, count, create, created_id,
    error_code, login,
};

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
        Some(
            json!({"identity": {"email": "a@example.com"}, "initial_password": 98_765_432_123_i64}),
        ),
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
