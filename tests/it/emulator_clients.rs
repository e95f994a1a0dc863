//! Emulator behaviour for OAuth clients, service accounts and API keys, one test per
//! behaviour, against the real binary: secrets shown once and stored hashed, redirect-URI
//! rules, uniqueness, paging and filters, PATCH and DELETE with `If-Match`, idempotent
//! creates, scopes, minted keys that really authenticate, faults and the OpenAPI file.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Emulator};

fn auth(emu: &Emulator) -> String {
    format!("Bearer {}", emu.api_key)
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn error_field(body: &Value) -> &str {
    body["error"]["details"]["field"].as_str().unwrap_or("")
}

fn count(emu: &Emulator, sql: &str) -> i64 {
    emu.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()).as_slice())
}

/// Everything the database holds on disk (main file and write-ahead log), as text.
fn db_bytes(emu: &Emulator) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let mut path = emu.db.clone().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

fn is_alnum(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A valid confidential client body, with overrides merged in.
fn client_body(overrides: Value) -> Value {
    let mut client = json!({
        "client_name": "Web app",
        "client_type": "confidential",
        "external_id": "auth0|web",
        "redirect_uris": ["https://app.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile"],
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            client.as_object_mut().unwrap().remove(k);
        } else {
            client[k] = v.clone();
        }
    }
    json!({ "client": client })
}

fn create_client(emu: &Emulator, overrides: Value) -> (u16, Value) {
    emu.call("POST", "/v1/oauth-clients", Some(client_body(overrides)))
}

fn created_client(emu: &Emulator, overrides: Value) -> Value {
    let (status, body) = create_client(emu, overrides);
    assert_eq!(status, 201, "{body}");
    body
}

fn owner(emu: &Emulator, email: &str) -> String {
    let (status, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": email}})),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn created_sa(emu: &Emulator, body: Value) -> Value {
    let (status, sa) = emu.call("POST", "/v1/service-accounts", Some(body));
    assert_eq!(status, 201, "{sa}");
    sa
}

fn mint_key(emu: &Emulator, sa_id: &str, scopes: Value) -> Value {
    let (status, key) = emu.call(
        "POST",
        &format!("/v1/service-accounts/{sa_id}/keys"),
        Some(json!({"name": "ci", "scopes": scopes})),
    );
    assert_eq!(status, 201, "{key}");
    key
}

fn with_key(key: &str) -> String {
    format!("Bearer {key}")
}

fn list_path(base: &str, filter: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("http://x{base}")).unwrap();
    url.query_pairs_mut().append_pair("filter", filter);
    format!("{base}?{}", url.query().unwrap())
}

// ---------------------------------------------------------------------------------------
// OAuth clients
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Service accounts and API keys
// ---------------------------------------------------------------------------------------

#[test]
fn service_account_create_checks_name_owner_and_external_id() {
    let emu = Emulator::start(&[]);
    let owner_id = owner(&emu, "owner@example.com");
    let sa = created_sa(
        &emu,
        json!({"name": "M2M", "description": "backend", "owner_id": owner_id,
               "external_id": "auth0|m2m", "metadata": {"avnology_migrate": {"source": "auth0"}}}),
    );
    let id = sa["id"].as_str().unwrap();
    assert!(id.starts_with("sa_"), "{sa}");
    assert_eq!(sa["active"], true);
    assert_eq!(sa["owner_id"], owner_id.as_str());
    assert_eq!(sa["metadata"]["avnology_migrate"]["source"], "auth0");
    let (status, headers, got) = emu.request(
        "GET",
        &format!("/v1/service-accounts/{id}"),
        None,
        &[("authorization", &auth(&emu))],
    );
    assert_eq!(status, 200);
    assert_eq!(got, sa);
    assert_eq!(headers["etag"].to_str().unwrap(), sa["etag"]);

    let deleted_owner = owner(&emu, "gone@example.com");
    let (status, _) = emu.call("DELETE", &format!("/v1/identities/{deleted_owner}"), None);
    assert_eq!(status, 204);
    let cases = [
        (json!({"owner_id": owner_id}), "name"),
        (json!({"name": "", "owner_id": owner_id}), "name"),
        (
            json!({"name": "x".repeat(257), "owner_id": owner_id}),
            "name",
        ),
        (json!({"name": "n"}), "owner_id"),
        (json!({"name": "n", "owner_id": ""}), "owner_id"),
        (
            json!({"name": "n", "owner_id": owner_id, "external_id": ""}),
            "external_id",
        ),
        (
            json!({"name": "n", "owner_id": owner_id, "external_id": null}),
            "",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = emu.call("POST", "/v1/service-accounts", Some(body.clone()));
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(error_code(&err), "AVNOLOGY_AUTH_902");
        assert_eq!(error_field(&err), field, "{body}: {err}");
    }
    // A reference to something that does not exist is a 404 naming the field: a missing or
    // soft-deleted owner (901), a missing organization (300).
    for (body, field, code) in [
        (
            json!({"name": "n", "owner_id": "usr_missing"}),
            "owner_id",
            "AVNOLOGY_AUTH_901",
        ),
        (
            json!({"name": "n", "owner_id": deleted_owner}),
            "owner_id",
            "AVNOLOGY_AUTH_901",
        ),
        (
            json!({"name": "n", "owner_id": owner_id, "organization_id": "org_x"}),
            "organization_id",
            "AVNOLOGY_AUTH_300",
        ),
    ] {
        let (status, err) = emu.call("POST", "/v1/service-accounts", Some(body.clone()));
        assert_eq!(status, 404, "{body}: {err}");
        assert_eq!(error_code(&err), code, "{body}: {err}");
        assert_eq!(error_field(&err), field, "{body}: {err}");
    }
    let (status, err) = emu.call(
        "POST",
        "/v1/service-accounts",
        Some(json!({"name": "again", "owner_id": owner_id, "external_id": "auth0|m2m"})),
    );
    assert_eq!(status, 409, "{err}");
    assert_eq!(error_code(&err), "AVNOLOGY_AUTH_903");
    assert_eq!(error_field(&err), "external_id");
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM service_accounts"), 1);
}

#[test]
fn service_accounts_list_filter_patch_and_delete() {
    let emu = Emulator::start(&[]);
    let owner_id = owner(&emu, "o@example.com");
    for n in 0..3 {
        created_sa(
            &emu,
            json!({"name": format!("sa {n}"), "owner_id": owner_id, "external_id": format!("m2m|{n}")}),
        );
    }
    let (_, page) = emu.call(
        "GET",
        "/v1/service-accounts?order_by=create_time&page_size=2",
        None,
    );
    assert_eq!(page["service_accounts"].as_array().unwrap().len(), 2);
    let token = page["next_page_token"].as_str().unwrap();
    let (_, rest) = emu.call(
        "GET",
        &format!("/v1/service-accounts?order_by=create_time&page_size=2&page_token={token}"),
        None,
    );
    assert_eq!(rest["service_accounts"][0]["external_id"], "m2m|2");
    assert!(rest.get("next_page_token").is_none());
    let (_, found) = emu.call(
        "GET",
        &list_path("/v1/service-accounts", r#"external_id = "m2m|1""#),
        None,
    );
    let found = found["service_accounts"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    let sa = found[0].clone();
    let path = format!("/v1/service-accounts/{}", sa["id"].as_str().unwrap());

    let h = auth(&emu);
    let etag = sa["etag"].as_str().unwrap().to_string();
    let patch = json!({"name": "renamed", "description": "d", "metadata": {"k": "v"},
                       "update_mask": "name,description,metadata.k"});
    let (status, updated) = emu.call_with(
        "PATCH",
        &path,
        Some(patch.clone()),
        &[("authorization", &h), ("if-match", &etag)],
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["description"], "d");
    assert_eq!(updated["metadata"], json!({"k": "v"}));
    assert_ne!(updated["etag"], etag.as_str());
    let (status, err) = emu.call_with(
        "PATCH",
        &path,
        Some(patch),
        &[("authorization", &h), ("if-match", &etag)],
    );
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["details"]["reason"], "etag_mismatch");
    for (patch, field) in [
        (json!({"update_mask": "owner_id"}), "update_mask"),
        (json!({"update_mask": "name"}), "name"),
    ] {
        let (status, err) = emu.call("PATCH", &path, Some(patch.clone()));
        assert_eq!(status, 400, "{patch}: {err}");
        assert_eq!(error_field(&err), field);
    }

    let (status, err) = emu.call_with(
        "DELETE",
        &path,
        None,
        &[("authorization", &h), ("if-match", &etag)],
    );
    assert_eq!(status, 409, "{err}");
    let (status, _) = emu.call("DELETE", &path, None);
    assert_eq!(status, 204);
    let (status, err) = emu.call("GET", &path, None);
    assert_eq!(status, 404);
    assert_eq!(error_code(&err), "AVNOLOGY_AUTH_901");
}

#[test]
fn a_minted_key_authenticates_with_its_scopes_until_revoked() {
    let emu = Emulator::start(&["--log-requests"]);
    let owner_id = owner(&emu, "keys@example.com");
    let sa = created_sa(&emu, json!({"name": "reader", "owner_id": owner_id}));
    let sa_id = sa["id"].as_str().unwrap();
    let created = mint_key(&emu, sa_id, json!(["admin:users:read"]));
    let key = created["key"].as_str().unwrap().to_string();
    let suffix = key.strip_prefix("ak_test_").unwrap();
    assert_eq!(suffix.len(), 64);
    assert!(is_alnum(suffix));
    let key_id = created["id"].as_str().unwrap();
    assert!(key_id.starts_with("key_"), "{created}");
    assert_eq!(created["prefix"], format!("{}...", &key[..12]));
    assert_eq!(created["scopes"], json!(["admin:users:read"]));
    assert_eq!(created["active"], true);

    let h = with_key(&key);
    let (status, _) = emu.call_with("GET", "/v1/identities", None, &[("authorization", &h)]);
    assert_eq!(status, 200);
    let (status, body) = emu.call_with(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": "nope@example.com"}})),
        &[("authorization", &h)],
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"]["details"]["required_scope"],
        "admin:users:write"
    );

    // Listed without the key; stored as a digest only.
    let (status, list) = emu.call("GET", &format!("/v1/service-accounts/{sa_id}/keys"), None);
    assert_eq!(status, 200);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert_eq!(list["keys"][0]["id"], key_id);
    assert!(list["keys"][0].get("key").is_none());
    common::assert_no_secrets(&list.to_string(), &[&key], "the key listing");
    let stored: String = emu
        .db()
        .query_row("SELECT key_sha256 FROM service_account_keys", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, sha256_hex(&key));
    common::assert_no_secrets(&db_bytes(&emu), &[&key], "the database");

    let (status, _) = emu.call(
        "DELETE",
        &format!("/v1/service-accounts/{sa_id}/keys/{key_id}"),
        None,
    );
    assert_eq!(status, 204);
    let (status, body) = emu.call_with("GET", "/v1/identities", None, &[("authorization", &h)]);
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_005");
    let (status, body) = emu.call(
        "DELETE",
        &format!("/v1/service-accounts/{sa_id}/keys/{key_id}"),
        None,
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "AVNOLOGY_AUTH_901");
    common::assert_no_secrets(&emu.stderr.lock().unwrap(), &[&key], "the log");
}

#[test]
fn an_unscoped_key_has_every_scope_and_dies_with_its_service_account() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let emu = Emulator::start_with_db(&db, &[]);
    let owner_id = owner(&emu, "all@example.com");
    let sa = created_sa(&emu, json!({"name": "all", "owner_id": owner_id}));
    let sa_id = sa["id"].as_str().unwrap().to_string();
    let created = mint_key(&emu, &sa_id, json!([]));
    assert_eq!(created["scopes"], json!([]));
    let h = with_key(created["key"].as_str().unwrap());
    for path in [
        "/v1/oauth-clients",
        "/v1/service-accounts",
        "/v1/organizations",
    ] {
        let (status, body) = emu.call_with("GET", path, None, &[("authorization", &h)]);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _) = emu.call_with(
        "POST",
        "/v1/oauth-clients",
        Some(client_body(json!({}))),
        &[("authorization", &h)],
    );
    assert_eq!(status, 201);
    // Minted keys are data: they survive a restart on the same file, unlike --key grants.
    emu.stop();
    let emu = Emulator::start_with_db(&db, &[]);
    let (status, _) = emu.call_with("GET", "/v1/identities", None, &[("authorization", &h)]);
    assert_eq!(status, 200);
    let (status, _) = emu.call("DELETE", &format!("/v1/service-accounts/{sa_id}"), None);
    assert_eq!(status, 204);
    let (status, _) = emu.call_with("GET", "/v1/identities", None, &[("authorization", &h)]);
    assert_eq!(status, 401);
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM service_account_keys"), 0);
    let (status, body) = emu.call("GET", &format!("/v1/service-accounts/{sa_id}/keys"), None);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn key_requests_are_validated_and_replayed_idempotently() {
    let emu = Emulator::start(&[]);
    let owner_id = owner(&emu, "v@example.com");
    let sa = created_sa(&emu, json!({"name": "v", "owner_id": owner_id}));
    let sa_id = sa["id"].as_str().unwrap();
    let path = format!("/v1/service-accounts/{sa_id}/keys");
    for (body, field) in [
        (json!({"scopes": []}), "name"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "k", "scopes": ["admin:everything"]}),
            "scopes",
        ),
        (json!({"name": "k", "expire_time": "soon"}), "expire_time"),
        (json!({"name": "k", "expire_time": null}), ""),
    ] {
        let (status, err) = emu.call("POST", &path, Some(body.clone()));
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(error_field(&err), field, "{body}");
    }
    // An expiry already past mints a key that is expired from the start: inactive, and
    // refused as a Bearer key.
    let (status, expired) = emu.call(
        "POST",
        &path,
        Some(json!({"name": "old", "expire_time": "2001-01-01T00:00:00Z"})),
    );
    assert_eq!(status, 201, "{expired}");
    assert_eq!(expired["active"], false);
    assert_eq!(expired["expire_time"], "2001-01-01T00:00:00.000Z");
    let bearer = format!("Bearer {}", expired["key"].as_str().unwrap());
    let (status, _) = emu.call_with("GET", "/v1/identities", None, &[("authorization", &bearer)]);
    assert_eq!(status, 401);
    let (status, err) = emu.call(
        "POST",
        "/v1/service-accounts/sa_missing/keys",
        Some(json!({"name": "k"})),
    );
    assert_eq!(status, 404, "{err}");
    assert_eq!(error_code(&err), "AVNOLOGY_AUTH_901");

    let h = auth(&emu);
    let headers = [
        ("authorization", h.as_str()),
        ("idempotency-key", "key-create-1"),
    ];
    let body = json!({"name": "k", "expire_time": "2999-01-01T00:00:00Z"});
    let (s1, b1) = emu.call_with("POST", &path, Some(body.clone()), &headers);
    let (s2, b2) = emu.call_with("POST", &path, Some(body), &headers);
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");
    assert_eq!(b1, b2, "the replay carries the same key");
    assert_eq!(b1["expire_time"], "2999-01-01T00:00:00.000Z");
    // The expired key minted above, and this one.
    assert_eq!(count(&emu, "SELECT COUNT(*) FROM service_account_keys"), 2);
    // The same idempotency key for another account is another request.
    let other = created_sa(&emu, json!({"name": "w", "owner_id": owner_id}));
    let (s3, b3) = emu.call_with(
        "POST",
        &format!(
            "/v1/service-accounts/{}/keys",
            other["id"].as_str().unwrap()
        ),
        Some(json!({"name": "k", "expire_time": "2999-01-01T00:00:00Z"})),
        &headers,
    );
    assert_eq!(s3, 201, "{b3}");
    assert_ne!(b3["key"], b1["key"]);
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// The OpenAPI description covers the new wire types
// ---------------------------------------------------------------------------------------

fn assert_covers(doc: &Value, schema: &str, example: Value) {
    let keys: Vec<String> = doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema} has no properties"))
        .keys()
        .cloned()
        .collect();
    for field in example.as_object().unwrap().keys() {
        assert!(
            keys.contains(field),
            "{schema}.{field} is served but not in the OpenAPI file"
        );
    }
}

#[test]
fn openapi_covers_the_client_and_service_account_wire_types() {
    use avnology_migrate::wire;
    let text =
        std::fs::read_to_string(common::repo("schemas/avnology-admin.openapi.yaml")).unwrap();
    let doc: Value = yaml_serde::from_str(&text).unwrap();
    let s = |v: &str| Some(v.to_string());
    let input = wire::OAuthClientInput {
        external_id: s("e"),
        client_name: s("n"),
        client_type: s("public"),
        redirect_uris: Some(vec![]),
        post_logout_redirect_uris: Some(vec![]),
        allowed_origins: Some(vec![]),
        grant_types: Some(vec![]),
        scopes: Some(vec![]),
        token_endpoint_auth_method: s("none"),
        metadata: Some(Default::default()),
        organization_id: s("org_1"),
    };
    let client = wire::OAuthClient {
        client_id: "cli_1".into(),
        external_id: s("e"),
        client_name: "n".into(),
        client_type: "public".into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        allowed_origins: vec![],
        grant_types: vec![],
        scopes: vec![],
        token_endpoint_auth_method: "none".into(),
        metadata: Default::default(),
        organization_id: s("org_1"),
        create_time: "t".into(),
        update_time: "t".into(),
        etag: "e".into(),
    };
    let sa = wire::ServiceAccount {
        id: "sa_1".into(),
        name: "n".into(),
        description: s("d"),
        owner_id: "usr_1".into(),
        organization_id: s("org_1"),
        active: true,
        external_id: s("e"),
        metadata: Default::default(),
        create_time: "t".into(),
        etag: "e".into(),
    };
    let record = wire::ApiKeyRecord {
        id: "key_1".into(),
        prefix: "p".into(),
        name: "n".into(),
        scopes: vec![],
        expire_time: s("t"),
        active: true,
        create_time: "t".into(),
    };
    let v = |x: &dyn erased::Ser| x.value();
    let cases: Vec<(&str, Value)> = vec![
        ("OAuthClientInput", v(&input)),
        ("OAuthClient", v(&client)),
        (
            "CreateOAuthClientRequest",
            v(&wire::CreateOAuthClientRequest {
                client: input.clone(),
            }),
        ),
        (
            "CreatedOAuthClient",
            v(&wire::CreatedOAuthClient {
                client: client.clone(),
                client_secret: s("cs_x"),
            }),
        ),
        (
            "UpdateOAuthClientRequest",
            v(&wire::UpdateOAuthClientRequest {
                client: input,
                update_mask: "m".into(),
            }),
        ),
        (
            "ListOAuthClientsResponse",
            v(&wire::ListOAuthClientsResponse {
                oauth_clients: vec![client],
                next_page_token: s("t"),
            }),
        ),
        ("ServiceAccount", v(&sa)),
        (
            "CreateServiceAccountRequest",
            v(&wire::CreateServiceAccountRequest {
                name: "n".into(),
                description: s("d"),
                owner_id: "usr_1".into(),
                organization_id: s("org_1"),
                external_id: s("e"),
                metadata: Some(Default::default()),
            }),
        ),
        (
            "UpdateServiceAccountRequest",
            v(&wire::UpdateServiceAccountRequest {
                name: s("n"),
                description: s("d"),
                metadata: Some(Default::default()),
                update_mask: "m".into(),
            }),
        ),
        (
            "ListServiceAccountsResponse",
            v(&wire::ListServiceAccountsResponse {
                service_accounts: vec![sa],
                next_page_token: s("t"),
            }),
        ),
        (
            "CreateApiKeyRequest",
            v(&wire::CreateApiKeyRequest {
                name: "n".into(),
                scopes: vec![],
                expire_time: s("t"),
            }),
        ),
        ("ApiKeyRecord", v(&record)),
        (
            "CreatedApiKey",
            v(&wire::CreatedApiKey {
                record: record.clone(),
                key: "ak_test_x".into(),
            }),
        ),
        (
            "ListApiKeysResponse",
            v(&wire::ListApiKeysResponse { keys: vec![record] }),
        ),
    ];
    for (schema, example) in cases {
        assert_covers(&doc, schema, example);
    }
}

/// `serde_json::to_value` behind a trait object, so the cases above can share one list.
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}
