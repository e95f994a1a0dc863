//! `/v1/service-accounts` and their API keys on the emulator: create checks, list, filter,
//! PATCH and delete, minted keys that authenticate with their scopes until revoked, and key
//! requests validated and replayed idempotently.

use serde_json::json;

use crate::common::{self, Emulator};
use crate::emulator_support::{
    auth, client_body, count, created_sa, db_bytes, error_code, error_field, is_alnum, list_path,
    mint_key, owner, sha256_hex, with_key,
};

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
