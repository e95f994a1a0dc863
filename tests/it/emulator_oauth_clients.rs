//! `/v1/oauth-clients` on the emulator, one test per behaviour: secrets shown once and stored
//! hashed, redirect-URI rules, uniqueness, paging and filters, PATCH and DELETE with
//! `If-Match`, idempotent creates, and the scopes the client and service-account routes need.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Emulator};
use crate::emulator_support::{
    auth, client_body, count, create_client, created_client, db_bytes, error_code, error_field,
    is_alnum, list_path, sha256_hex, with_key,
};

#[test]
fn confidential_create_shows_the_secret_once_and_stores_only_its_digest() {
    let emu = Emulator::start(&["--log-requests"]);
    let (status, headers, body) = emu.request(
        "POST",
        "/v1/oauth-clients",
        Some(client_body(json!({}))),
        &[("authorization", &auth(&emu))],
    );
    assert_eq!(status, 201, "{body}");
    let client = &body["client"];
    let client_id = client["client_id"].as_str().unwrap();
    let suffix = client_id.strip_prefix("cli_").unwrap();
    assert_eq!(suffix.len(), 24);
    assert!(is_alnum(suffix), "{client_id}");
    let secret = body["client_secret"].as_str().unwrap().to_string();
    let s = secret.strip_prefix("cs_").unwrap();
    assert_eq!(s.len(), 48);
    assert!(is_alnum(s));
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(client["client_type"], "confidential");
    assert_eq!(headers["etag"].to_str().unwrap(), client["etag"]);
    assert!(client["etag"].as_str().unwrap().starts_with("W/\""));

    // Never again: not from get, not from list, not in the database, not in the log.
    let (status, got) = emu.call("GET", &format!("/v1/oauth-clients/{client_id}"), None);
    assert_eq!(status, 200);
    assert!(got.get("client_secret").is_none());
    assert_eq!(&got, client);
    let (_, list) = emu.call("GET", "/v1/oauth-clients", None);
    assert_eq!(list["oauth_clients"][0], *client);
    for text in [got.to_string(), list.to_string()] {
        common::assert_no_secrets(&text, &[&secret], "a read of the client");
    }
    let stored: String = emu
        .db()
        .query_row(
            "SELECT client_secret_sha256 FROM oauth_clients WHERE client_id = ?1",
            [client_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, sha256_hex(&secret));
    common::assert_no_secrets(&db_bytes(&emu), &[&secret], "the database");
    assert!(common::wait_until(Duration::from_secs(5), || {
        emu.stderr
            .lock()
            .unwrap()
            .contains("POST /v1/oauth-clients 201")
    }));
    common::assert_no_secrets(&emu.stderr.lock().unwrap(), &[&secret], "the log");
}

#[test]
fn public_clients_get_no_secret_and_auth_method_none() {
    let emu = Emulator::start(&[]);
    let body = created_client(
        &emu,
        json!({
            "client_type": "public",
            "external_id": "auth0|spa",
            "redirect_uris": ["http://localhost:3000/callback", "com.example.app:/callback"],
            "allowed_origins": ["http://localhost:3000", "https://app.example.com"],
            "grant_types": null,
        }),
    );
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["client"]["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["client"]["grant_types"],
        json!(["authorization_code"]),
        "the RFC 7591 default"
    );
    let stored: Option<String> = emu
        .db()
        .query_row("SELECT client_secret_sha256 FROM oauth_clients", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, None);
}

#[test]
fn redirect_uris_are_kept_exactly_and_in_order() {
    let emu = Emulator::start(&[]);
    let uris = json!([
        "https://b.example.com/cb?x=1&y=2",
        "https://a.example.com:8443/callback/",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "com.example.app://oauth/callback",
        "https://A.Example.com/Case",
    ]);
    let body = created_client(
        &emu,
        json!({"redirect_uris": uris, "post_logout_redirect_uris": ["https://app.example.com/bye"]}),
    );
    assert_eq!(body["client"]["redirect_uris"], uris);
    let id = body["client"]["client_id"].as_str().unwrap();
    let (_, got) = emu.call("GET", &format!("/v1/oauth-clients/{id}"), None);
    assert_eq!(got["redirect_uris"], uris);
    assert_eq!(
        got["post_logout_redirect_uris"],
        json!(["https://app.example.com/bye"])
    );
}

#[test]
fn invalid_clients_are_400_auth_902_naming_the_field() {
    let emu = Emulator::start(&[]);
    let cases = [
        (json!({"client_name": null}), "client_name"),
        (json!({"client_name": "  "}), "client_name"),
        (json!({"client_name": "x".repeat(257)}), "client_name"),
        (json!({"client_type": null}), "client_type"),
        (json!({"client_type": "spa"}), "client_type"),
        (json!({"external_id": ""}), "external_id"),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#frag"]}),
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": ["https://*.example.com/cb"]}),
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "redirect_uris",
        ),
        (json!({"redirect_uris": ["/callback"]}), "redirect_uris"),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": ["myapp:callback"]}),
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": ["https://ok.example.com/a", "https://x.example.com/a b"]}),
            "redirect_uris",
        ),
        (
            json!({"post_logout_redirect_uris": ["http://evil.example.com/"]}),
            "post_logout_redirect_uris",
        ),
        (
            json!({"allowed_origins": ["https://app.example.com/"]}),
            "allowed_origins",
        ),
        (
            json!({"allowed_origins": ["https://app.example.com/path"]}),
            "allowed_origins",
        ),
        (
            json!({"allowed_origins": ["https://*.example.com"]}),
            "allowed_origins",
        ),
        (json!({"grant_types": ["implicit"]}), "grant_types"),
        (json!({"grant_types": ["password"]}), "grant_types"),
        (
            json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}),
            "grant_types",
        ),
        (
            json!({"client_type": "public", "grant_types": ["client_credentials"]}),
            "grant_types",
        ),
        (json!({"scopes": ["open id"]}), "scopes"),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "token_endpoint_auth_method",
        ),
    ];
    let (status, body) = create_client(&emu, json!({"organization_id": "org_missing"}));
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_300");
    assert_eq!(error_field(&body), "organization_id");
    for (overrides, field) in cases {
        let (status, body) = create_client(&emu, overrides.clone());
        assert_eq!(status, 400, "{overrides}: {body}");
        assert_eq!(error_code(&body), "AVNOLOGY_AUTH_902", "{overrides}");
        assert_eq!(error_field(&body), field, "{overrides}: {body}");
    }
    // The message names the list position, never the value.
    let (_, body) = create_client(
        &emu,
        json!({"redirect_uris": ["https://ok.example.com/", "https://x.example.com/#secret-ish"]}),
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("redirect_uris[1] "), "{message}");
    assert!(!message.contains("secret-ish"), "{message}");
    let (status, body) = emu.call("POST", "/v1/oauth-clients", Some(json!({})));
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_field(&body), "client");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 0);
}

#[test]
fn duplicate_client_external_id_is_409_within_an_organization_only() {
    let emu = Emulator::start(&[]);
    let (_, org) = emu.call(
        "POST",
        "/v1/organizations",
        Some(json!({"name": "clients-org"})),
    );
    let org = org["id"].as_str().unwrap();
    let first = created_client(&emu, json!({"external_id": "dup"}));
    let (status, body) = create_client(&emu, json!({"external_id": "dup"}));
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_903");
    assert_eq!(error_field(&body), "external_id");
    assert_eq!(body["error"]["details"]["reason"], "already_exists");
    created_client(&emu, json!({"external_id": "dup", "organization_id": org}));
    // A delete frees the external_id at once (hard delete).
    let id = first["client"]["client_id"].as_str().unwrap();
    let (status, _) = emu.call("DELETE", &format!("/v1/oauth-clients/{id}"), None);
    assert_eq!(status, 204);
    created_client(&emu, json!({"external_id": "dup"}));
}

#[test]
fn client_list_pages_and_filters() {
    let emu = Emulator::start(&[]);
    for n in 0..5 {
        created_client(
            &emu,
            json!({"external_id": format!("ext|{n}"), "client_name": format!("App {}", n % 2)}),
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            Some(t) => format!("/v1/oauth-clients?order_by=create_time&page_size=2&page_token={t}"),
            None => "/v1/oauth-clients?order_by=create_time&page_size=2".to_string(),
        };
        let (status, body) = emu.call("GET", &path, None);
        assert_eq!(status, 200, "{body}");
        for c in body["oauth_clients"].as_array().unwrap() {
            seen.push(c["external_id"].as_str().unwrap().to_string());
        }
        pages += 1;
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["ext|0", "ext|1", "ext|2", "ext|3", "ext|4"]);

    let (status, body) = emu.call(
        "GET",
        &list_path("/v1/oauth-clients", r#"external_id = "ext|3""#),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let found = body["oauth_clients"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["external_id"], "ext|3");
    let (_, body) = emu.call(
        "GET",
        &list_path("/v1/oauth-clients", r#"client_name = "App 1""#),
        None,
    );
    assert_eq!(body["oauth_clients"].as_array().unwrap().len(), 2);
    for bad in [r#"secret = "x""#, r"client_name = App"] {
        let (status, body) = emu.call("GET", &list_path("/v1/oauth-clients", bad), None);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(error_field(&body), "filter");
    }
    let (status, body) = emu.call("GET", "/v1/oauth-clients?page_token=garbage", None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_field(&body), "page_token");
}

#[test]
fn client_patch_applies_the_mask_honours_if_match_and_keeps_the_type() {
    let emu = Emulator::start(&[]);
    let created = created_client(&emu, json!({"metadata": {"owner": "me", "keep": 1}}));
    let c = &created["client"];
    let id = c["client_id"].as_str().unwrap();
    let path = format!("/v1/oauth-clients/{id}");
    let etag = c["etag"].as_str().unwrap().to_string();
    let h = auth(&emu);

    let patch = json!({
        "client": {
            "client_name": "Renamed",
            "redirect_uris": ["https://new.example.com/cb", "https://new.example.com/cb2"],
            "metadata": {"owner": "you"},
        },
        "update_mask": "client_name,redirect_uris,metadata.owner,client_type",
    });
    // client_type named with its current value is accepted only if the body repeats it.
    let (status, body) = emu.call_with(
        "PATCH",
        &path,
        Some(patch.clone()),
        &[("authorization", &h), ("if-match", &etag)],
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_field(&body), "client_type");
    assert_eq!(body["error"]["details"]["reason"], "fixed_after_create");
    let mut patch = patch;
    patch["client"]["client_type"] = json!("confidential");
    let (status, headers, body) = emu.request(
        "PATCH",
        &path,
        Some(patch.clone()),
        &[("authorization", &h), ("if-match", &etag)],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_name"], "Renamed");
    assert_eq!(
        body["redirect_uris"],
        json!(["https://new.example.com/cb", "https://new.example.com/cb2"])
    );
    assert_eq!(body["metadata"], json!({"owner": "you", "keep": 1}));
    assert_eq!(
        body["scopes"],
        json!(["openid", "profile"]),
        "unmasked fields stay"
    );
    let new_etag = body["etag"].as_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    assert_eq!(headers["etag"].to_str().unwrap(), new_etag);

    // The old ETag is stale now.
    let (status, body) = emu.call_with(
        "PATCH",
        &path,
        Some(json!({"client": {"client_name": "Again"}, "update_mask": "client_name"})),
        &[("authorization", &h), ("if-match", &etag)],
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_903");
    assert_eq!(body["error"]["details"]["reason"], "etag_mismatch");

    // The type cannot change: the request conflicts with the client (409).
    let (status, body) = emu.call(
        "PATCH",
        &path,
        Some(json!({"client": {"client_type": "public"}, "update_mask": "client_type"})),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_903");
    assert_eq!(error_field(&body), "client_type");
    assert_eq!(body["error"]["details"]["reason"], "fixed_after_create");

    // An invalid value is refused even where the mask does not name it.
    let (status, body) = emu.call(
        "PATCH",
        &path,
        Some(
            json!({"client": {"client_name": "Ok", "redirect_uris": ["https://x.example.com/*"]},
                    "update_mask": "client_name"}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_field(&body), "redirect_uris");

    // Validation applies to patched values; unknown paths are refused.
    for (patch, field) in [
        (
            json!({"client": {"redirect_uris": ["https://x.example.com/*"]}, "update_mask": "redirect_uris"}),
            "redirect_uris",
        ),
        (
            json!({"client": {}, "update_mask": "client_name"}),
            "client_name",
        ),
        (
            json!({"client": {}, "update_mask": "client_secret"}),
            "update_mask",
        ),
        (json!({"client": {}, "update_mask": ""}), "update_mask"),
    ] {
        let (status, body) = emu.call("PATCH", &path, Some(patch.clone()));
        assert_eq!(status, 400, "{patch}: {body}");
        assert_eq!(error_field(&body), field, "{patch}");
    }

    // A PATCH that changes nothing keeps the ETag; metadata.<key> absent removes the key.
    let (_, same) = emu.call("PATCH", &path, Some(patch));
    assert_eq!(same["etag"], new_etag.as_str());
    let (_, removed) = emu.call(
        "PATCH",
        &path,
        Some(json!({"client": {"metadata": {}}, "update_mask": "metadata.keep"})),
    );
    assert_eq!(removed["metadata"], json!({"owner": "you"}));

    let (status, body) = emu.call(
        "PATCH",
        "/v1/oauth-clients/cli_missing",
        Some(json!({"client": {}, "update_mask": "client_name"})),
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
}

#[test]
fn client_delete_honours_if_match_and_is_a_hard_delete() {
    let emu = Emulator::start(&[]);
    let created = created_client(&emu, json!({}));
    let id = created["client"]["client_id"].as_str().unwrap();
    let path = format!("/v1/oauth-clients/{id}");
    let h = auth(&emu);
    let (status, body) = emu.call_with(
        "DELETE",
        &path,
        None,
        &[
            ("authorization", &h),
            ("if-match", "W/\"0000000000000000\""),
        ],
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["reason"], "etag_mismatch");
    let etag = created["client"]["etag"].as_str().unwrap();
    let (status, _) = emu.call_with(
        "DELETE",
        &path,
        None,
        &[("authorization", &h), ("if-match", etag)],
    );
    assert_eq!(status, 204);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 0);
    for method in ["GET", "DELETE"] {
        let (status, body) = emu.call(method, &path, None);
        assert_eq!(status, 404, "{method}: {body}");
        assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
    }
}

#[test]
fn idempotent_client_create_replays_the_same_secret() {
    let emu = Emulator::start(&[]);
    let h = auth(&emu);
    let headers = [
        ("authorization", h.as_str()),
        ("idempotency-key", "7d1f3c1e-client-create"),
    ];
    let body = client_body(json!({}));
    let (s1, h1, b1) = emu.request("POST", "/v1/oauth-clients", Some(body.clone()), &headers);
    assert_eq!(s1, 201, "{b1}");
    let (s2, h2, b2) = emu.request("POST", "/v1/oauth-clients", Some(body), &headers);
    assert_eq!(s2, 201, "{b2}");
    assert_eq!(b1, b2, "the replay is the first answer, secret included");
    assert!(b2["client_secret"].as_str().unwrap().starts_with("cs_"));
    assert_eq!(h1["etag"], h2["etag"]);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 1);
    let (status, body) = emu.call_with(
        "POST",
        "/v1/oauth-clients",
        Some(client_body(json!({"client_name": "Other"}))),
        &headers,
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["reason"], "idempotency_key_reused");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 1);
}

#[test]
fn client_and_service_account_routes_need_their_scopes() {
    let users = "ak_test_users-reader-key";
    let clients = "ak_test_clients-reader-key";
    let sas = "ak_test_sa-reader-key";
    let emu = Emulator::start(&[
        "--key",
        &format!("{users}=admin:users:read"),
        "--key",
        &format!("{clients}=admin:oauth-clients:read"),
        "--key",
        &format!("{sas}=admin:service-accounts:read"),
    ]);
    let cases = [
        (
            users,
            "GET",
            "/v1/oauth-clients",
            403,
            "admin:oauth-clients:read",
        ),
        (
            users,
            "GET",
            "/v1/service-accounts",
            403,
            "admin:service-accounts:read",
        ),
        (clients, "GET", "/v1/oauth-clients", 200, ""),
        (
            clients,
            "POST",
            "/v1/oauth-clients",
            403,
            "admin:oauth-clients:write",
        ),
        (
            clients,
            "DELETE",
            "/v1/oauth-clients/cli_x",
            403,
            "admin:oauth-clients:write",
        ),
        (sas, "GET", "/v1/service-accounts", 200, ""),
        (
            sas,
            "POST",
            "/v1/service-accounts",
            403,
            "admin:service-accounts:write",
        ),
        (
            sas,
            "POST",
            "/v1/service-accounts/sa_x/keys",
            403,
            "admin:service-accounts:write",
        ),
        (sas, "GET", "/v1/identities", 403, "admin:users:read"),
    ];
    for (key, method, path, status, scope) in cases {
        let (got, body) = emu.call_with(
            method,
            path,
            (method != "GET" && method != "DELETE").then(|| client_body(json!({}))),
            &[("authorization", &with_key(key))],
        );
        assert_eq!(got, status, "{key} {method} {path}: {body}");
        if status == 403 {
            assert_eq!(error_code(&body), "AVNOLOGY_AUTH_100");
            assert_eq!(body["error"]["details"]["required_scope"], scope);
        }
    }
    // The admin key (--api-key) has the new scopes too.
    let (status, _) = emu.call("GET", "/v1/oauth-clients", None);
    assert_eq!(status, 200);
    let (status, _) = emu.call("GET", "/v1/service-accounts", None);
    assert_eq!(status, 200);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM oauth_clients"), 0);
}
