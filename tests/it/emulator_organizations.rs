//! `/v1/organizations` on the emulator: create, list, get, PATCH and member counts.

use serde_json::json;

use crate::common::Emulator;
use crate::emulator_support::{created_id, error_code};

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
