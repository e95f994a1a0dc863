//! The API contract (`schemas/avnology-admin.openapi.yaml`) against the emulator and the
//! wire types: every operation, parameter, header, body and field carries its
//! `x-avnology-status`; the wire types and the schemas agree field for field; the headers the
//! emulator sends are declared on the responses that carry them; and the behaviours the
//! schemathesis run (`scripts/contract-check.sh`) found out of step are pinned here one by one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::common::{self, Emulator, Workdir, output_text};

fn spec() -> Value {
    let text =
        std::fs::read_to_string(common::repo("schemas/avnology-admin.openapi.yaml")).unwrap();
    yaml_serde::from_str(&text).unwrap()
}

/// `doc` at a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut at = doc;
            for part in r.trim_start_matches("#/").split('/') {
                at = &at[part];
            }
            assert!(!at.is_null(), "dangling $ref {r}");
            resolve(doc, at)
        }
        None => v,
    }
}

fn status_of(v: &Value) -> Option<&str> {
    v.get("x-avnology-status").and_then(Value::as_str)
}

fn assert_marked(v: &Value, what: &str) {
    assert!(
        matches!(status_of(v), Some("documented" | "assumed")),
        "{what} lacks x-avnology-status"
    );
}

const METHODS: &[&str] = &["get", "post", "patch", "delete", "put"];

/// Every operation, parameter (inline or shared), request body, response, response header
/// and schema property carries a mark; so does every link target, which must name a real
/// operation.
#[test]
fn every_operation_parameter_header_body_and_property_is_marked() {
    let doc = spec();
    let mut operation_ids = BTreeSet::new();
    let mut links = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for p in item["parameters"].as_array().into_iter().flatten() {
            assert_marked(resolve(&doc, p), &format!("{path} parameter"));
        }
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let label = format!("{method} {path}");
            assert_marked(op, &label);
            operation_ids.insert(op["operationId"].as_str().unwrap().to_string());
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolve(&doc, p);
                assert_marked(p, &format!("{label} parameter {}", p["name"]));
            }
            if let Some(body) = op.get("requestBody") {
                assert_marked(body, &format!("{label} request body"));
            }
            for (code, resp) in op["responses"].as_object().unwrap() {
                let resp = resolve(&doc, resp);
                assert_marked(resp, &format!("{label} {code}"));
                for (name, h) in resp["headers"].as_object().into_iter().flatten() {
                    assert_marked(resolve(&doc, h), &format!("{label} {code} header {name}"));
                }
                for (name, link) in resp["links"].as_object().into_iter().flatten() {
                    links.push((format!("{label} {code} link {name}"), link.clone()));
                }
            }
        }
    }
    for (what, link) in links {
        let target = link["operationId"].as_str().unwrap();
        assert!(
            operation_ids.contains(target),
            "{what}: no operation {target}"
        );
    }
    for section in ["parameters", "headers", "responses", "schemas"] {
        for (name, item) in doc["components"][section].as_object().unwrap() {
            assert_marked(item, &format!("{section}.{name}"));
            for (field, prop) in item["properties"].as_object().into_iter().flatten() {
                assert_marked(prop, &format!("{name}.{field}"));
            }
        }
    }
}

/// The marks the reference notes call for, where they were once wrong.
#[test]
fn marks_follow_the_reference_notes() {
    let doc = spec();
    let schemas = &doc["components"]["schemas"];
    let params = &doc["components"]["parameters"];
    // Only inferred from order_by values; the SDK says created_at.
    for f in ["create_time", "update_time", "last_login_at"] {
        assert_eq!(
            status_of(&schemas["Identity"]["properties"][f]),
            Some("assumed"),
            "{f}"
        );
    }
    // Documented identity fields.
    for f in ["timezone", "locale", "email", "phone"] {
        assert_eq!(
            status_of(&schemas["Identity"]["properties"][f]),
            Some("documented"),
            "{f}"
        );
        assert_eq!(
            status_of(&schemas["IdentityInput"]["properties"][f]),
            Some("documented"),
            "{f}"
        );
    }
    // Fields of an assumed resource are assumed.
    for f in ["client_type", "client_id"] {
        assert_eq!(
            status_of(&schemas["OAuthClient"]["properties"][f]),
            Some("assumed"),
            "{f}"
        );
    }
    // Shared list parameters: documented where the reference documents them.
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let param = |op: &Value, name: &str| -> Value {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| resolve(&doc, p).clone())
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    let clients = op("/v1/oauth-clients", "get");
    for name in ["page_size", "page_token", "filter", "order_by"] {
        assert_eq!(
            status_of(&param(&clients, name)),
            Some("assumed"),
            "clients {name}"
        );
    }
    let accounts = op("/v1/service-accounts", "get");
    let page_size = param(&accounts, "page_size");
    assert_eq!(status_of(&page_size), Some("documented"));
    assert_eq!(status_of(&page_size["schema"]), Some("assumed"));
    for name in ["page_token", "filter", "order_by"] {
        assert_eq!(
            status_of(&param(&accounts, name)),
            Some("assumed"),
            "accounts {name}"
        );
    }
    let identities = op("/v1/identities", "get");
    for name in [
        "page_size",
        "page_token",
        "filter",
        "order_by",
        "include_linked_providers",
    ] {
        assert_eq!(
            status_of(&param(&identities, name)),
            Some("documented"),
            "identities {name}"
        );
    }
    // The Idempotency-Key header is documented; its length and characters are ours.
    assert_eq!(status_of(&params["IdempotencyKey"]), Some("documented"));
    assert_eq!(
        status_of(&params["IdempotencyKey"]["schema"]),
        Some("assumed")
    );
    // The login flow's body is marked.
    assert_eq!(
        status_of(&doc["paths"]["/v1/flows/login"]["post"]["requestBody"]),
        Some("assumed")
    );
}

/// The property names of a schema, following `allOf` members.
fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut out: BTreeSet<String> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    for member in schema["allOf"].as_array().into_iter().flatten() {
        if member.get("$ref").is_some() {
            out.extend(properties(doc, member));
        }
    }
    out
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Asserts that `full` (every field set) serializes exactly the schema's properties, and that
/// every field the schema requires is present even in `minimal` (every optional field unset).
fn assert_agrees(doc: &Value, schema: &str, full: Value, minimal: Value) {
    let s = &doc["components"]["schemas"][schema];
    assert!(!s.is_null(), "no schema {schema}");
    let declared = properties(doc, s);
    let sent = keys(&full);
    assert_eq!(
        sent, declared,
        "{schema}: the wire type and the schema differ (left: wire, right: schema)"
    );
    let present = keys(&minimal);
    for r in s["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap();
        assert!(
            present.contains(r),
            "{schema}.{r} is required but the wire type can leave it out"
        );
    }
}

/// The wire types in `src/live/wire.rs` and the schemas agree field for field, both ways.
#[test]
fn wire_types_and_schemas_agree_field_for_field() {
    use avnology_migrate::wire;
    let doc = spec();
    let v = |x: &dyn erased::Ser| x.value();
    let s = |x: &str| Some(x.to_string());

    let identity = wire::Identity {
        id: "usr_1".into(),
        external_id: s("e"),
        email: "a@example.com".into(),
        email_verified: true,
        phone: s("+14155551234"),
        phone_verified: true,
        username: s("u"),
        first_name: s("f"),
        last_name: s("l"),
        display_name: s("d"),
        avatar_url: s("https://x"),
        locale: s("en"),
        timezone: s("Europe/Paris"),
        organization_id: s("org_1"),
        state: wire::IdentityState::Active,
        traits: serde_json::Map::default(),
        admin_metadata: serde_json::Map::default(),
        linked_providers: Some(vec![]),
        has_password: true,
        create_time: "t".into(),
        update_time: "t".into(),
        last_login_at: s("t"),
        etag: "e".into(),
    };
    let bare_identity = wire::Identity {
        external_id: None,
        phone: None,
        username: None,
        first_name: None,
        last_name: None,
        display_name: None,
        avatar_url: None,
        locale: None,
        timezone: None,
        organization_id: None,
        linked_providers: None,
        last_login_at: None,
        ..identity.clone()
    };
    assert_agrees(&doc, "Identity", v(&identity), v(&bare_identity));
    let input = wire::IdentityInput {
        external_id: s("e"),
        email: s("a@example.com"),
        email_verified: Some(true),
        phone: s("p"),
        phone_verified: Some(true),
        username: s("u"),
        first_name: s("f"),
        last_name: s("l"),
        display_name: s("d"),
        avatar_url: s("a"),
        locale: s("en"),
        timezone: s("UTC"),
        organization_id: s("o"),
        traits: Some(serde_json::Map::default()),
        admin_metadata: Some(serde_json::Map::default()),
        linked_providers: Some(vec![]),
    };
    assert_agrees(&doc, "IdentityInput", v(&input), json!({}));
    let provider = wire::LinkedProvider {
        provider: "google".into(),
        subject: "1".into(),
    };
    assert_agrees(&doc, "LinkedProvider", v(&provider), v(&provider));
    let hash = wire::PasswordHashInput {
        algorithm: "firebase-scrypt".into(),
        hash: "h".into(),
        salt: s("s"),
        salt_separator: s("s"),
        signer_key: s("k"),
        rounds: Some(8),
        mem_cost: Some(14),
    };
    let bcrypt = wire::PasswordHashInput {
        algorithm: "bcrypt".into(),
        hash: "h".into(),
        salt: None,
        salt_separator: None,
        signer_key: None,
        rounds: None,
        mem_cost: None,
    };
    assert_agrees(&doc, "PasswordHashInput", v(&hash), v(&bcrypt));
    let create = wire::CreateIdentityRequest {
        identity: input.clone(),
        initial_password: s("p"),
        password_hash: Some(hash.clone()),
        validate_only: true,
    };
    let bare_create = wire::CreateIdentityRequest::default();
    assert_agrees(&doc, "CreateIdentityRequest", v(&create), v(&bare_create));
    let update = wire::UpdateIdentityRequest {
        identity: input.clone(),
        update_mask: "m".into(),
        password_hash: Some(hash),
    };
    assert_agrees(
        &doc,
        "UpdateIdentityRequest",
        v(&update),
        v(&wire::UpdateIdentityRequest::default()),
    );
    let state = wire::StateChangeRequest { reason: s("r") };
    assert_agrees(&doc, "StateChangeRequest", v(&state), json!({}));
    let list = wire::ListIdentitiesResponse {
        identities: vec![],
        next_page_token: s("t"),
        total_size: Some(1),
    };
    assert_agrees(
        &doc,
        "ListIdentitiesResponse",
        v(&list),
        v(&wire::ListIdentitiesResponse::default()),
    );

    let org = wire::Organization {
        id: "org_1".into(),
        name: "n".into(),
        display_name: s("d"),
        slug: s("s"),
        registration_mode: "open".into(),
        member_count: 1,
        create_time: "t".into(),
    };
    let bare_org = wire::Organization {
        display_name: None,
        slug: None,
        ..org.clone()
    };
    assert_agrees(&doc, "Organization", v(&org), v(&bare_org));
    let org_input = wire::OrganizationInput {
        name: s("n"),
        display_name: s("d"),
        slug: s("s"),
        registration_mode: s("open"),
    };
    assert_agrees(&doc, "OrganizationInput", v(&org_input), json!({}));
    let create_org = wire::CreateOrganizationRequest {
        name: "n".into(),
        display_name: s("d"),
        slug: s("s"),
        registration_mode: s("open"),
    };
    assert_agrees(
        &doc,
        "CreateOrganizationRequest",
        v(&create_org),
        v(&wire::CreateOrganizationRequest::default()),
    );
    let update_org = wire::UpdateOrganizationRequest {
        organization: org_input,
        update_mask: "m".into(),
    };
    assert_agrees(
        &doc,
        "UpdateOrganizationRequest",
        v(&update_org),
        v(&wire::UpdateOrganizationRequest::default()),
    );
    let orgs = wire::ListOrganizationsResponse {
        organizations: vec![],
        next_page_token: s("t"),
    };
    assert_agrees(
        &doc,
        "ListOrganizationsResponse",
        v(&orgs),
        v(&wire::ListOrganizationsResponse::default()),
    );

    let flow = wire::LoginFlow {
        id: "f".into(),
        expire_time: "t".into(),
    };
    assert_agrees(&doc, "LoginFlow", v(&flow), v(&flow));
    let sub = wire::LoginSubmission {
        method: "password".into(),
        identifier: "i".into(),
        password: "p".into(),
    };
    assert_agrees(&doc, "LoginSubmission", v(&sub), v(&sub));
    let ok = wire::LoginSuccess {
        session_id: "s".into(),
        identity_id: "i".into(),
    };
    assert_agrees(&doc, "LoginSuccess", v(&ok), v(&ok));
    let err = wire::ErrorEnvelope {
        error: wire::ErrorBody {
            code: "c".into(),
            message: "m".into(),
            request_id: "r".into(),
            details: json!({}),
        },
    };
    assert_agrees(&doc, "ErrorEnvelope", v(&err), v(&err));
    assert_agrees(&doc, "ErrorBody", v(&err.error), v(&err.error));

    let client_input = wire::OAuthClientInput {
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
    assert_agrees(&doc, "OAuthClientInput", v(&client_input), json!({}));
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
    let bare_client = wire::OAuthClient {
        external_id: None,
        organization_id: None,
        ..client.clone()
    };
    assert_agrees(&doc, "OAuthClient", v(&client), v(&bare_client));
    let create_client = wire::CreateOAuthClientRequest {
        client: client_input.clone(),
    };
    assert_agrees(
        &doc,
        "CreateOAuthClientRequest",
        v(&create_client),
        v(&create_client),
    );
    let created = wire::CreatedOAuthClient {
        client: client.clone(),
        client_secret: s("cs_x"),
    };
    let created_public = wire::CreatedOAuthClient {
        client: client.clone(),
        client_secret: None,
    };
    assert_agrees(&doc, "CreatedOAuthClient", v(&created), v(&created_public));
    let update_client = wire::UpdateOAuthClientRequest {
        client: client_input,
        update_mask: "m".into(),
    };
    assert_agrees(
        &doc,
        "UpdateOAuthClientRequest",
        v(&update_client),
        v(&wire::UpdateOAuthClientRequest::default()),
    );
    let clients = wire::ListOAuthClientsResponse {
        oauth_clients: vec![],
        next_page_token: s("t"),
    };
    assert_agrees(
        &doc,
        "ListOAuthClientsResponse",
        v(&clients),
        v(&wire::ListOAuthClientsResponse::default()),
    );

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
    let bare_sa = wire::ServiceAccount {
        description: None,
        organization_id: None,
        external_id: None,
        ..sa.clone()
    };
    assert_agrees(&doc, "ServiceAccount", v(&sa), v(&bare_sa));
    let create_sa = wire::CreateServiceAccountRequest {
        name: "n".into(),
        description: s("d"),
        owner_id: "usr_1".into(),
        organization_id: s("org_1"),
        external_id: s("e"),
        metadata: Some(serde_json::Map::default()),
    };
    assert_agrees(
        &doc,
        "CreateServiceAccountRequest",
        v(&create_sa),
        v(&wire::CreateServiceAccountRequest::default()),
    );
    let update_sa = wire::UpdateServiceAccountRequest {
        name: s("n"),
        description: s("d"),
        metadata: Some(serde_json::Map::default()),
        update_mask: "m".into(),
    };
    assert_agrees(
        &doc,
        "UpdateServiceAccountRequest",
        v(&update_sa),
        v(&wire::UpdateServiceAccountRequest::default()),
    );
    let accounts = wire::ListServiceAccountsResponse {
        service_accounts: vec![],
        next_page_token: s("t"),
    };
    assert_agrees(
        &doc,
        "ListServiceAccountsResponse",
        v(&accounts),
        v(&wire::ListServiceAccountsResponse::default()),
    );
    let key_req = wire::CreateApiKeyRequest {
        name: "n".into(),
        scopes: vec![],
        expire_time: s("t"),
    };
    assert_agrees(
        &doc,
        "CreateApiKeyRequest",
        v(&key_req),
        v(&wire::CreateApiKeyRequest::default()),
    );
    let record = wire::ApiKeyRecord {
        id: "key_1".into(),
        prefix: "p".into(),
        name: "n".into(),
        scopes: vec![],
        expire_time: s("t"),
        active: true,
        create_time: "t".into(),
    };
    let bare_record = wire::ApiKeyRecord {
        expire_time: None,
        ..record.clone()
    };
    assert_agrees(&doc, "ApiKeyRecord", v(&record), v(&bare_record));
    assert_agrees(
        &doc,
        "CreatedApiKey",
        v(&wire::CreatedApiKey {
            record: record.clone(),
            key: "ak_test_x".into(),
        }),
        v(&wire::CreatedApiKey {
            record: bare_record,
            key: "ak_test_x".into(),
        }),
    );
    assert_agrees(
        &doc,
        "ListApiKeysResponse",
        v(&wire::ListApiKeysResponse { keys: vec![record] }),
        v(&wire::ListApiKeysResponse::default()),
    );
}

/// The parameters each operation declares are exactly the ones the emulator reads.
#[test]
fn declared_parameters_are_the_ones_the_emulator_reads() {
    let doc = spec();
    let list = ["page_size", "page_token", "filter", "order_by"];
    let mut expected: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    expected.insert(("/v1/identities", "post"), vec!["Idempotency-Key"]);
    let mut identities_list = list.to_vec();
    identities_list.push("include_linked_providers");
    expected.insert(("/v1/identities", "get"), identities_list);
    expected.insert(("/v1/identities/{id}", "get"), vec!["id"]);
    expected.insert(("/v1/identities/{id}", "patch"), vec!["id", "If-Match"]);
    expected.insert(
        ("/v1/identities/{id}", "delete"),
        vec!["id", "If-Match", "force"],
    );
    for verb in ["deactivate", "reactivate"] {
        let path: &'static str = if verb == "deactivate" {
            "/v1/identities/{id}:deactivate"
        } else {
            "/v1/identities/{id}:reactivate"
        };
        expected.insert((path, "post"), vec!["id", "If-Match"]);
    }
    expected.insert(("/v1/organizations", "post"), vec!["Idempotency-Key"]);
    expected.insert(("/v1/organizations", "get"), list.to_vec());
    expected.insert(("/v1/organizations/{id}", "get"), vec!["id"]);
    expected.insert(("/v1/organizations/{id}", "patch"), vec!["id"]);
    expected.insert(("/v1/oauth-clients", "post"), vec!["Idempotency-Key"]);
    expected.insert(("/v1/oauth-clients", "get"), list.to_vec());
    expected.insert(("/v1/oauth-clients/{client_id}", "get"), vec!["client_id"]);
    for m in ["patch", "delete"] {
        expected.insert(
            ("/v1/oauth-clients/{client_id}", m),
            vec!["client_id", "If-Match"],
        );
    }
    expected.insert(("/v1/service-accounts", "post"), vec!["Idempotency-Key"]);
    expected.insert(("/v1/service-accounts", "get"), list.to_vec());
    expected.insert(("/v1/service-accounts/{id}", "get"), vec!["id"]);
    for m in ["patch", "delete"] {
        expected.insert(("/v1/service-accounts/{id}", m), vec!["id", "If-Match"]);
    }
    expected.insert(
        ("/v1/service-accounts/{id}/keys", "post"),
        vec!["id", "Idempotency-Key"],
    );
    expected.insert(("/v1/service-accounts/{id}/keys", "get"), vec!["id"]);
    expected.insert(
        ("/v1/service-accounts/{id}/keys/{key_id}", "delete"),
        vec!["id", "key_id"],
    );
    expected.insert(("/v1/flows/login", "post"), vec![]);
    expected.insert(
        ("/v1/flows/login/{flow_id}:submit", "post"),
        vec!["flow_id"],
    );

    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let shared: Vec<String> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(&doc, p)["name"].as_str().unwrap().to_string())
            .collect();
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            seen += 1;
            let mut names: BTreeSet<String> = shared.iter().cloned().collect();
            for p in op["parameters"].as_array().into_iter().flatten() {
                names.insert(resolve(&doc, p)["name"].as_str().unwrap().to_string());
            }
            let want: BTreeSet<String> = expected
                .get(&(path.as_str(), *method))
                .unwrap_or_else(|| panic!("{method} {path} is not served"))
                .iter()
                .map(std::string::ToString::to_string)
                .collect();
            assert_eq!(names, want, "{method} {path}");
        }
    }
    assert_eq!(seen, expected.len());
}

/// A request of [`headers_the_emulator_sends_are_declared`]: method, path, path template,
/// body and extra headers.
type Case = (
    &'static str,
    String,
    &'static str,
    Option<Value>,
    Vec<(&'static str, &'static str)>,
);

/// Headers every response may carry, whatever the spec says (HTTP's own).
const HTTP_HEADERS: &[&str] = &["content-type", "content-length", "date", "allow"];

/// Every header the emulator sends (on success and on error, under a rate limit) is declared
/// on the response that carries it.
#[test]
fn headers_the_emulator_sends_are_declared() {
    let doc = spec();
    let emu = Emulator::start(&["--rate-limit", "1000", "--burst", "1000"]);
    let auth = format!("Bearer {}", emu.api_key);
    let h = [("authorization", auth.as_str())];
    let (_, org) = emu.call("POST", "/v1/organizations", Some(json!({"name": "hdr"})));
    let org_id = org["id"].as_str().unwrap().to_string();
    let mut cases: Vec<Case> = vec![
        (
            "post",
            "/v1/identities".into(),
            "/v1/identities",
            Some(json!({"identity": {"email": "h@example.com", "organization_id": org_id}})),
            vec![("idempotency-key", "hdr-1")],
        ),
        (
            "get",
            "/v1/identities".into(),
            "/v1/identities",
            None,
            vec![],
        ),
        (
            "post",
            "/v1/identities".into(),
            "/v1/identities",
            Some(json!({"identity": {}})),
            vec![],
        ),
    ];
    let mut responses = Vec::new();
    for (method, path, template, body, extra) in cases.drain(..) {
        let mut headers = h.to_vec();
        headers.extend(extra);
        let (status, got, json) = emu.request(&method.to_uppercase(), &path, body, &headers);
        responses.push((method, template, status, got, json));
    }
    let id = responses[0].4["id"].as_str().unwrap().to_string();
    for (method, body) in [
        ("get", None),
        (
            "patch",
            Some(json!({"identity": {"first_name": "H"}, "update_mask": "first_name"})),
        ),
    ] {
        let path = format!("/v1/identities/{id}");
        let (status, got, json) = emu.request(&method.to_uppercase(), &path, body, &h);
        responses.push((method, "/v1/identities/{id}", status, got, json));
    }
    let (status, got, json) = emu.request("GET", "/v1/identities/usr_missing", None, &h);
    responses.push(("get", "/v1/identities/{id}", status, got, json));
    let (status, got, json) = emu.request("GET", "/v1/identities", None, &[]);
    responses.push(("get", "/v1/identities", status, got, json));
    let (status, got, json) = emu.request("POST", "/v1/flows/login", None, &[]);
    responses.push(("post", "/v1/flows/login", status, got, json));

    for (method, template, status, got, body) in responses {
        let op = &doc["paths"][template][method];
        let resp = resolve(&doc, &op["responses"][status.to_string()]);
        assert!(
            !resp.is_null(),
            "{method} {template}: {status} is not declared ({body})"
        );
        let declared: BTreeSet<String> = resp["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        for name in got.keys() {
            let name = name.as_str();
            if HTTP_HEADERS.contains(&name) {
                continue;
            }
            assert!(
                declared.contains(name),
                "{method} {template} {status} sends `{name}`, which is not declared"
            );
        }
        // Under a rate limit the X-RateLimit-* headers come on every response.
        assert!(
            got.contains_key("x-ratelimit-limit"),
            "{method} {template} {status}"
        );
    }
}

/// `/v1/identities/{id}` and its custom methods answer only their own methods, and a 405's
/// `Allow` names exactly those.
#[test]
fn allow_names_exactly_the_methods_of_each_identity_resource() {
    let emu = Emulator::start(&[]);
    let auth = format!("Bearer {}", emu.api_key);
    let h = [("authorization", auth.as_str())];
    for (method, path, allow) in [
        ("PUT", "/v1/identities/usr_1", "GET,HEAD,PATCH,DELETE"),
        ("POST", "/v1/identities/usr_1", "GET,HEAD,PATCH,DELETE"),
        ("OPTIONS", "/v1/identities/usr_1", "GET,HEAD,PATCH,DELETE"),
        ("GET", "/v1/identities/usr_1:deactivate", "POST"),
        ("PATCH", "/v1/identities/usr_1:reactivate", "POST"),
        ("DELETE", "/v1/identities/usr_1:deactivate", "POST"),
        ("OPTIONS", "/v1/identities/usr_1:reactivate", "POST"),
    ] {
        let (status, headers, body) = emu.request(method, path, None, &h);
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(headers["allow"].to_str().unwrap(), allow, "{method} {path}");
        assert_eq!(body["error"]["code"], "AVNOLOGY_AUTH_902");
    }
}

fn create(emu: &Emulator, identity: Value) -> Value {
    let (status, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({ "identity": identity })),
    );
    assert_eq!(status, 201, "{body}");
    body
}

/// The custom methods' optional body, and the login flow's, is a JSON object when sent (the
/// 400 is declared); every other request body too, all the way down.
#[test]
fn request_bodies_are_json_objects_and_null_is_not_absent() {
    let emu = Emulator::start(&[]);
    let id = create(&emu, json!({"email": "b@example.com"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deactivate = format!("/v1/identities/{id}:deactivate");
    for bad in [
        json!([]),
        json!({"reason": 5}),
        json!({"reason": null}),
        json!("x"),
    ] {
        let (status, body) = emu.call("POST", &deactivate, Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = emu.call("POST", &deactivate, Some(json!({"reason": "left"})));
    assert_eq!(status, 200, "{body}");
    let (status, _) = emu.call("POST", &format!("/v1/identities/{id}:reactivate"), None);
    assert_eq!(status, 200);

    for bad in [json!([null, null]), json!(1)] {
        let (status, body) = emu.call_with("POST", "/v1/flows/login", Some(bad.clone()), &[]);
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = emu.call_with("POST", "/v1/flows/login", Some(json!({})), &[]);
    assert_eq!(status, 201);
    let (status, _) = emu.call_with("POST", "/v1/flows/login", None, &[]);
    assert_eq!(status, 201);

    // Arrays where objects belong, and null where a value belongs, are refused.
    for bad in [
        json!([{"email": "x@example.com"}]),
        json!({"identity": ["x@example.com"]}),
        json!({"identity": {"email": "x@example.com", "linked_providers": [["g", "1"]]}}),
        json!({"identity": {"email": "x@example.com", "phone": null}}),
        json!({"identity": {"email": "x@example.com"}, "password_hash": null}),
    ] {
        let (status, body) = emu.call("POST", "/v1/identities", Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // JSON Schema's integers include 8.0.
    let (status, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(
            json!({"identity": {"email": "f@example.com"}, "validate_only": true,
            "password_hash": {"algorithm": "firebase-scrypt", "hash": "AAAA", "salt": "AAAA",
                "salt_separator": "", "signer_key": "AAAA", "rounds": 8.0, "mem_cost": 14}}),
        ),
    );
    assert_eq!(status, 200, "{body}");
}

fn page(emu: &Emulator, path: &str) -> (u16, Value) {
    emu.call("GET", path, None)
}

fn emails(body: &Value) -> Vec<String> {
    body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap().to_string())
        .collect()
}

/// The documented `order_by` values are accepted and honoured, `create_time desc` being the
/// default; page tokens are bound to the collection, the filter and the order.
#[test]
fn documented_orders_are_honoured_and_page_tokens_are_bound() {
    let emu = Emulator::start(&[]);
    for e in ["b@example.com", "c@example.com", "a@example.com"] {
        create(&emu, json!({"email": e}));
    }
    let order = |q: &str| {
        let (status, body) = page(&emu, &format!("/v1/identities?{q}"));
        assert_eq!(status, 200, "{q}: {body}");
        emails(&body)
    };
    let created = ["b@example.com", "c@example.com", "a@example.com"];
    let newest_first: Vec<String> = created
        .iter()
        .rev()
        .map(std::string::ToString::to_string)
        .collect();
    assert_eq!(order(""), newest_first);
    assert_eq!(order("order_by=create_time%20desc"), newest_first);
    assert_eq!(order("order_by=create_time"), created);
    assert_eq!(order("order_by=create_time%20asc"), created);
    assert_eq!(
        order("order_by=email"),
        ["a@example.com", "b@example.com", "c@example.com"]
    );
    assert_eq!(
        order("order_by=email%20desc"),
        ["c@example.com", "b@example.com", "a@example.com"]
    );
    assert_eq!(order("order_by=update_time").len(), 3);
    assert_eq!(order("order_by=last_login_at%20desc").len(), 3);
    for bad in ["name", "email%20up", "-create_time"] {
        let (status, body) = page(&emu, &format!("/v1/identities?order_by={bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["details"]["field"], "order_by");
    }
    // Paging by email, one at a time, visits each identity once in order.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (status, body) = page(
            &emu,
            &format!("/v1/identities?order_by=email&page_size=1&page_token={token}"),
        );
        assert_eq!(status, 200, "{body}");
        seen.extend(emails(&body));
        match body["next_page_token"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["a@example.com", "b@example.com", "c@example.com"]);

    // A token works only for the listing it came from.
    let (_, first) = page(&emu, "/v1/identities?page_size=1");
    let token = first["next_page_token"].as_str().unwrap().to_string();
    let (status, _) = page(
        &emu,
        &format!("/v1/identities?page_size=1&page_token={token}"),
    );
    assert_eq!(status, 200);
    for other in [
        format!("/v1/service-accounts?page_token={token}"),
        format!("/v1/oauth-clients?page_token={token}"),
        format!("/v1/organizations?page_token={token}"),
        format!("/v1/identities?order_by=create_time&page_token={token}"),
        format!("/v1/identities?filter=state%20%3D%20%22active%22&page_token={token}"),
    ] {
        let (status, body) = page(&emu, &other);
        assert_eq!(status, 400, "{other}: {body}");
        assert_eq!(body["error"]["details"]["field"], "page_token");
    }
}

/// A listing carries linked providers only when asked (`include_linked_providers=true`); a
/// get always does.
#[test]
fn linked_providers_are_listed_only_when_asked() {
    let emu = Emulator::start(&[]);
    let id = create(
        &emu,
        json!({"email": "l@example.com",
               "linked_providers": [{"provider": "google-oauth2", "subject": "1"}]}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, plain) = page(&emu, "/v1/identities");
    assert!(
        plain["identities"][0].get("linked_providers").is_none(),
        "{plain}"
    );
    let (_, asked) = page(&emu, "/v1/identities?include_linked_providers=true");
    assert_eq!(
        asked["identities"][0]["linked_providers"],
        json!([{"provider": "google-oauth2", "subject": "1"}])
    );
    let (_, got) = emu.call("GET", &format!("/v1/identities/{id}"), None);
    assert_eq!(got["linked_providers"][0]["subject"], "1");
}

/// A public client patched to `client_credentials` conflicts with its type: 409, not 400 (a
/// schema cannot know the stored type).
#[test]
fn grants_a_public_client_cannot_have_are_a_conflict() {
    let emu = Emulator::start(&[]);
    let (status, created) = emu.call(
        "POST",
        "/v1/oauth-clients",
        Some(json!({"client": {"client_name": "SPA", "client_type": "public"}})),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["client"]["client_id"].as_str().unwrap();
    let (status, body) = emu.call(
        "PATCH",
        &format!("/v1/oauth-clients/{id}"),
        Some(json!({"client": {"grant_types": ["client_credentials"]}, "update_mask": "grant_types"})),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["field"], "grant_types");
    assert_eq!(
        body["error"]["details"]["reason"],
        "conflicts_with_client_type"
    );
}

/// A Cognito user's `zoneinfo` becomes the identity's `timezone`, its federated login a linked
/// provider, and a second plan is empty: the listing the plan reads asks for the linked
/// providers, so they compare equal instead of showing as removed.
#[test]
fn cognito_zoneinfo_arrives_as_timezone_and_a_replan_is_clean() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.write(
        "migration.toml",
        "[target]\norganization = \"tz-pool\"\n\n[[users]]\nname = \"pool\"\nprovider = \"cognito\"\npath = \"users.json\"\n",
    );
    let identities = r#"[{\"userId\":\"1057\",\"providerName\":\"Google\",\"providerType\":\"Google\",\"issuer\":null,\"primary\":true,\"dateCreated\":1690000000000}]"#;
    w.write(
        "users.json",
        &format!(
            r#"{{"Users": [{{
  "Username": "tz-user",
  "Attributes": [
    {{"Name": "sub", "Value": "0b6f2f4e-0000-4000-8000-0000000000aa"}},
    {{"Name": "email", "Value": "tz@example.com"}},
    {{"Name": "email_verified", "Value": "true"}},
    {{"Name": "zoneinfo", "Value": "Europe/Paris"}},
    {{"Name": "identities", "Value": "{identities}"}}
  ],
  "UserCreateDate": "2023-05-01T15:43:49Z",
  "UserLastModifiedDate": "2023-05-01T15:43:49Z",
  "Enabled": true,
  "UserStatus": "EXTERNAL_PROVIDER"
}}]}}"#
        ),
    );
    let out = w
        .cmd(Some(&emu))
        .args(["apply", "-m", "migration.toml", "--auto-approve"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let (status, list) = emu.call(
        "GET",
        "/v1/identities?filter=external_id%20%3D%20%220b6f2f4e-0000-4000-8000-0000000000aa%22&include_linked_providers=true",
        None,
    );
    assert_eq!(status, 200);
    let live = &list["identities"][0];
    assert_eq!(live["timezone"], "Europe/Paris", "{live}");
    assert_eq!(
        live["linked_providers"],
        json!([{"provider": "Google", "subject": "1057"}])
    );
    let out = w
        .cmd(Some(&emu))
        .args(["plan", "-m", "migration.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

/// `serde_json::to_value` behind a trait object, so the cases above can share one helper.
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
