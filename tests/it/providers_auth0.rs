//! examples/auth0 end to end: the NDJSON users export joined with the password-hash export,
//! and the clients of the manifest and both Auth0 client sources (Management API and
//! deploy-cli).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::common::Workdir;
use super::providers::{
    Example, Expected, Users, apply_check_and_replan, ndjson, strings, verify_logins,
};
use super::providers_clients::{
    Clients, ExpClient, ExpSa, declared_clients, origin, rewrite_all, rewrite_rules,
};

/// examples/auth0 (and quickstart): the NDJSON users export and the password-hash export.
fn auth0_users(w: &Workdir) -> Users {
    let passwords = ndjson(&w.path("auth0_passwords.ndjson"));
    let pw_ids: BTreeSet<String> = passwords
        .iter()
        .filter_map(|p| p["_id"]["$oid"].as_str().map(str::to_string))
        .collect();
    let pw_emails: BTreeSet<String> = passwords
        .iter()
        .filter_map(|p| p["email"].as_str().map(str::to_lowercase))
        .collect();
    let mut users = Users {
        expected: Vec::new(),
        skipped: Vec::new(),
    };
    for r in ndjson(&w.path("auth0_users.ndjson")) {
        let id = r["user_id"].as_str().unwrap();
        let Some(email) = r["email"].as_str() else {
            users.skipped.push(id.to_string());
            continue;
        };
        let mut e = Expected::new(id);
        for (from, to) in [
            ("email", "email"),
            ("email_verified", "email_verified"),
            ("given_name", "first_name"),
            ("family_name", "last_name"),
            ("name", "display_name"),
            ("picture", "avatar_url"),
            ("username", "username"),
            ("phone_number", "phone"),
            ("phone_verified", "phone_verified"),
        ] {
            e.set(to, r.get(from));
        }
        if let Some(meta) = r.get("user_metadata") {
            e.traits.insert("metadata".into(), meta.clone());
        }
        if let Some(Value::Object(app)) = r.get("app_metadata") {
            e.admin_metadata.extend(app.clone());
        }
        e.inactive = r["blocked"] == true;
        e.linked = r["identities"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|i| i["isSocial"] == true).count());
        let db_id = id.strip_prefix("auth0|");
        e.has_password = db_id.is_some_and(|i| pw_ids.contains(i))
            || (db_id.is_some() && pw_emails.contains(&email.to_lowercase()));
        users.expected.push(e);
    }
    users
}

/// One Auth0 client record (Management API or deploy-cli) as the README's table maps it.
pub(crate) fn auth0_client(
    rec: &Value,
    source: &str,
    rules: &[(String, String)],
    out: &mut Clients,
) {
    let external_id = rec["client_id"]
        .as_str()
        .or(rec["name"].as_str())
        .unwrap()
        .to_string();
    let name = rec["name"].as_str().unwrap().to_string();
    let app_type = rec["app_type"].as_str();
    if rec["global"] == true {
        return; // the tenant-settings pseudo-client
    }
    let confidential = match app_type {
        Some("non_interactive") => {
            out.service_accounts.push(ExpSa {
                external_id,
                source: source.to_string(),
                name,
            });
            return;
        }
        Some("regular_web") => true,
        Some("spa" | "native") => false,
        None => rec["token_endpoint_auth_method"] != "none",
        Some(_) => return, // SSO integrations (slack, …) are not OAuth clients
    };
    let origins: BTreeSet<String> = strings(&rec["web_origins"])
        .iter()
        .chain(strings(&rec["allowed_origins"]).iter())
        .map(|o| origin(o, rules))
        .collect();
    out.clients.push(ExpClient {
        external_id,
        source: Some(source.to_string()),
        name,
        confidential,
        redirect_uris: rewrite_all(&strings(&rec["callbacks"]), rules),
        post_logout_redirect_uris: rewrite_all(&strings(&rec["allowed_logout_urls"]), rules),
        allowed_origins: Some(origins),
    });
}

/// Fills deploy-cli keywords from a source's `vars`: `##KEY##` as text, `@@KEY@@` as JSON.
fn fill_keywords(text: &str, vars: &Value) -> String {
    let mut text = text.to_string();
    for (k, v) in vars.as_object().into_iter().flatten() {
        let v = v.as_str().unwrap();
        text = text.replace(&format!("##{k}##"), v);
        let as_json = if serde_json::from_str::<Value>(v).is_ok() {
            v.to_string()
        } else {
            serde_json::to_string(v).unwrap()
        };
        text = text.replace(&format!("@@{k}@@"), &as_json);
    }
    text
}

/// examples/auth0: the manifest's `[[clients]]` and both Auth0 client sources.
pub(crate) fn auth0_clients(w: &Workdir) -> Clients {
    let manifest: Value =
        toml::from_str(&std::fs::read_to_string(w.path("migration.toml")).unwrap()).unwrap();
    let mut out = Clients::default();
    declared_clients(&manifest, &mut out);
    for source in manifest["client_sources"].as_array().unwrap() {
        assert_eq!(source["provider"], "auth0");
        let name = source["name"].as_str().unwrap();
        let rules = rewrite_rules(source);
        let path = source["path"].as_str().unwrap();
        let text = std::fs::read_to_string(w.path(path)).unwrap();
        let records: Vec<Value> = if Path::new(path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
        {
            let doc: Value = yaml_serde::from_str(&fill_keywords(&text, &source["vars"])).unwrap();
            doc["clients"].as_array().unwrap().clone()
        } else {
            serde_json::from_str::<Vec<Value>>(&text).unwrap()
        };
        for rec in &records {
            auth0_client(rec, name, &rules, &mut out);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1 + 3: each provider example applies with its fields mapped; logins work
// ---------------------------------------------------------------------------------------

#[test]
fn auth0_example_applies_with_mapped_fields_replans_empty_and_logs_in() {
    let mut ex = Example::start("auth0", &[]);
    let users = auth0_users(&ex.w);
    let clients = auth0_clients(&ex.w);
    let manifest = ex.manifest();
    let source = manifest["users"][0]["name"].as_str().unwrap().to_string();
    let owner = manifest["target"]["service_account_owner"]
        .as_str()
        .map(str::to_string);
    assert!(users.expected.iter().any(|e| e.inactive), "a blocked user");
    assert!(users.expected.iter().any(|e| e.linked > 0), "a social user");
    assert!(!clients.service_accounts.is_empty() && !clients.clients.is_empty());
    let (live, _) = apply_check_and_replan(&mut ex, &users, &source, &clients, owner.as_deref());
    verify_logins(&mut ex, &live);
}
