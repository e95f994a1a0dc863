//! The OpenAPI file against the emulator: every served operation and field is marked
//! documented or assumed, and the schemas cover the wire types the emulator serves.

use serde_json::{Value, json};

use crate::common::{self};

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
    let Value::Object(example) = example else {
        panic!("the {schema} example is not an object");
    };
    for (field, _) in example {
        assert!(
            keys.contains(&field),
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
        traits: serde_json::Map::default(),
        admin_metadata: serde_json::Map::default(),
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
        traits: Some(serde_json::Map::default()),
        admin_metadata: Some(serde_json::Map::default()),
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
        metadata: Some(serde_json::Map::default()),
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
        metadata: serde_json::Map::default(),
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
        metadata: serde_json::Map::default(),
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
                metadata: Some(serde_json::Map::default()),
            }),
        ),
        (
            "UpdateServiceAccountRequest",
            v(&wire::UpdateServiceAccountRequest {
                name: s("n"),
                description: s("d"),
                metadata: Some(serde_json::Map::default()),
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
