//! examples/cognito end to end: `list-users` pages without hashes, federated users, the
//! must-reset count, and the app clients from `describe-user-pool-client`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::common::{Workdir, output_text};
use super::providers::{Example, Expected, Users, apply_check_and_replan, strings};
use super::providers_clients::{Clients, ExpClient, ExpSa};

/// The `Users` of every `list-users` page appended to one Cognito file.
fn cognito_records(w: &Workdir) -> Vec<Value> {
    let text = std::fs::read_to_string(w.path("cognito_users.json")).unwrap();
    let mut out = Vec::new();
    for doc in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        out.extend(doc.unwrap()["Users"].as_array().unwrap().iter().cloned());
    }
    out
}

fn cognito_attrs(user: &Value) -> BTreeMap<String, String> {
    user["Attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["Name"].as_str().unwrap().to_string(),
                a["Value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The parsed `identities` attribute of a Cognito user (empty without one).
fn cognito_federated(user: &Value) -> Vec<Value> {
    cognito_attrs(user)
        .get("identities")
        .map(|s| serde_json::from_str::<Vec<Value>>(s).unwrap())
        .unwrap_or_default()
}

/// examples/cognito: `aws cognito-idp list-users` pages.
fn cognito_users(w: &Workdir) -> Users {
    let mut users = Users {
        expected: Vec::new(),
        skipped: Vec::new(),
    };
    for u in cognito_records(w) {
        let a = cognito_attrs(&u);
        let id = &a["sub"];
        if !a.contains_key("email") {
            users.skipped.push(id.clone());
            continue;
        }
        let mut e = Expected::new(id);
        let attr = |k: &str| a.get(k).map(|v| json!(v));
        e.set("email", attr("email").as_ref());
        e.set(
            "email_verified",
            Some(&json!(a.get("email_verified").is_some_and(|v| v == "true"))),
        );
        e.set("first_name", attr("given_name").as_ref());
        e.set("last_name", attr("family_name").as_ref());
        e.set("display_name", attr("name").as_ref());
        e.set("avatar_url", attr("picture").as_ref());
        e.set("locale", attr("locale").as_ref());
        if a.contains_key("phone_number") {
            e.set("phone", attr("phone_number").as_ref());
            e.set(
                "phone_verified",
                Some(&json!(
                    a.get("phone_number_verified").is_some_and(|v| v == "true")
                )),
            );
        }
        let custom: Map<String, Value> = a
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("custom:").map(|n| (n.to_string(), json!(v))))
            .collect();
        if !custom.is_empty() {
            e.traits.insert("custom".into(), Value::Object(custom));
        }
        e.inactive = u["Enabled"] == false;
        e.linked = cognito_federated(&u).len();
        e.has_password = false;
        users.expected.push(e);
    }
    users
}

/// examples/cognito: `describe-user-pool-client` outputs appended to one file.
fn cognito_clients(w: &Workdir) -> Clients {
    let manifest: Value =
        toml::from_str(&std::fs::read_to_string(w.path("migration.toml")).unwrap()).unwrap();
    let mut out = Clients::default();
    for source in manifest["client_sources"].as_array().unwrap() {
        let name = source["name"].as_str().unwrap();
        let text = std::fs::read_to_string(w.path(source["path"].as_str().unwrap())).unwrap();
        for doc in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let c = doc.unwrap()["UserPoolClient"].clone();
            let external_id = c["ClientId"].as_str().unwrap().to_string();
            let client_name = c["ClientName"].as_str().unwrap().to_string();
            if strings(&c["AllowedOAuthFlows"]) == ["client_credentials"] {
                out.service_accounts.push(ExpSa {
                    external_id,
                    source: name.to_string(),
                    name: client_name,
                });
                continue;
            }
            out.clients.push(ExpClient {
                external_id,
                source: Some(name.to_string()),
                name: client_name,
                confidential: c["ClientSecret"].is_string(),
                redirect_uris: strings(&c["CallbackURLs"]),
                post_logout_redirect_uris: strings(&c["LogoutURLs"]),
                allowed_origins: None,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1 + 6: Cognito — no hashes, federated users, the must-reset count
// ---------------------------------------------------------------------------------------

#[test]
fn cognito_example_applies_federated_users_without_passwords_and_counts_resets() {
    let mut ex = Example::start("cognito", &[]);
    let users = cognito_users(&ex.w);
    let clients = cognito_clients(&ex.w);
    let manifest = ex.manifest();
    let source = manifest["users"][0]["name"].as_str().unwrap().to_string();
    let owner = manifest["target"]["service_account_owner"]
        .as_str()
        .map(str::to_string);
    assert!(users.expected.iter().any(|e| e.inactive), "a disabled user");
    assert!(
        users
            .expected
            .iter()
            .any(|e| e.traits.contains_key("custom")),
        "custom attributes"
    );

    let out = ex.run(&["plan", "-m", "migration.toml"]);
    let plan_text = output_text(&out);
    assert!(out.status.success(), "{plan_text}");
    let (live, _) = apply_check_and_replan(&mut ex, &users, &source, &clients, owner.as_deref());

    // Federated users: linked providers, no password.
    let records = cognito_records(&ex.w);
    let federated: Vec<&Value> = records
        .iter()
        .filter(|u| !cognito_federated(u).is_empty())
        .collect();
    assert!(!federated.is_empty(), "the example has a federated user");
    for u in &federated {
        let sub = &cognito_attrs(u)["sub"];
        let l = &live[sub];
        assert_eq!(l["has_password"], false, "{sub}: {l}");
        let want: BTreeSet<(String, String)> = cognito_federated(u)
            .iter()
            .map(|i| {
                (
                    i["providerName"].as_str().unwrap().to_string(),
                    i["userId"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let got: BTreeSet<(String, String)> = l["linked_providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["provider"].as_str().unwrap().to_string(),
                    p["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, want, "{sub}: {l}");
    }
    // Nobody has a password; everyone migrated without a federated login must reset.
    assert!(live.values().all(|l| l["has_password"] == false));
    let must_reset = users.expected.iter().filter(|e| e.linked == 0).count();
    assert!(must_reset > 0);
    assert!(
        plan_text.contains(&format!("{must_reset} must reset")),
        "the plan should say {must_reset} users must reset: {plan_text}"
    );
    let out = ex.run(&["verify", "-m", "migration.toml"]);
    assert!(out.status.success(), "{}", output_text(&out));
}
