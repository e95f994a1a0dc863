//! examples/clerk end to end: the dashboard CSV export, the Backend API JSON shape (bans,
//! metadata, external accounts), and the OAuth applications list.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::common::{Emulator, Workdir, output_text};
use super::providers::{
    Example, Expected, REPLAN, Users, apply_check_and_replan, check_identities, strings,
    verify_logins,
};
use super::providers_clients::{Clients, ExpClient};

/// Splits a Clerk multi-valued cell on `|`, `,` and `;`.
fn clerk_split(cell: &str) -> Vec<String> {
    cell.split(['|', ',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// examples/clerk: the dashboard CSV export.
fn clerk_users(w: &Workdir) -> Users {
    let mut reader = csv::Reader::from_path(w.path("clerk_users.csv")).unwrap();
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut users = Users {
        expected: Vec::new(),
        skipped: Vec::new(),
    };
    for rec in reader.records() {
        let rec = rec.unwrap();
        let row: HashMap<&str, &str> = headers.iter().map(String::as_str).zip(rec.iter()).collect();
        let cell = |k: &str| row.get(k).copied().unwrap_or("").trim();
        let id = cell("id");
        let email = cell("primary_email_address");
        if email.is_empty() {
            users.skipped.push(id.to_string());
            continue;
        }
        let mut e = Expected::new(id);
        e.set("email", Some(&json!(email)));
        e.set(
            "email_verified",
            Some(&json!(
                clerk_split(cell("verified_email_addresses")).contains(&email.to_string())
            )),
        );
        e.set("first_name", Some(&json!(cell("first_name"))));
        e.set("last_name", Some(&json!(cell("last_name"))));
        e.set("username", Some(&json!(cell("username"))));
        let phone = cell("primary_phone_number");
        if !phone.is_empty() {
            e.set("phone", Some(&json!(phone)));
            e.set(
                "phone_verified",
                Some(&json!(
                    clerk_split(cell("verified_phone_numbers")).contains(&phone.to_string())
                )),
            );
        }
        if !cell("public_metadata").is_empty() {
            let meta: Value = serde_json::from_str(cell("public_metadata")).unwrap();
            e.traits.insert("metadata".into(), meta);
        }
        if !cell("private_metadata").is_empty()
            && let Value::Object(m) = serde_json::from_str(cell("private_metadata")).unwrap()
        {
            e.admin_metadata.extend(m);
        }
        e.inactive = cell("banned") == "true";
        e.has_password = !cell("password_digest").is_empty()
            && ["bcrypt", "scrypt_firebase"].contains(&cell("password_hasher"));
        users.expected.push(e);
    }
    users
}

/// examples/clerk: the OAuth applications list.
pub(crate) fn clerk_clients(w: &Workdir) -> Clients {
    let manifest: Value =
        toml::from_str(&std::fs::read_to_string(w.path("migration.toml")).unwrap()).unwrap();
    let mut out = Clients::default();
    for source in manifest["client_sources"].as_array().unwrap() {
        let name = source["name"].as_str().unwrap();
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(w.path(source["path"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let apps = doc.get("data").unwrap_or(&doc).as_array().unwrap().clone();
        for app in apps {
            let redirect_uris = match app.get("redirect_uris") {
                Some(Value::Array(_)) => strings(&app["redirect_uris"]),
                _ => vec![app["callback_url"].as_str().unwrap().to_string()],
            };
            out.clients.push(ExpClient {
                external_id: app["client_id"]
                    .as_str()
                    .or(app["id"].as_str())
                    .unwrap()
                    .to_string(),
                source: Some(name.to_string()),
                name: app["name"].as_str().unwrap().to_string(),
                confidential: app["public"] != true,
                redirect_uris,
                post_logout_redirect_uris: Vec::new(),
                allowed_origins: None,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1 + 3: each provider example applies with its fields mapped; logins work
// ---------------------------------------------------------------------------------------

#[test]
fn clerk_example_applies_with_mapped_fields_replans_empty_and_logs_in() {
    let mut ex = Example::start("clerk", &[]);
    let users = clerk_users(&ex.w);
    let clients = clerk_clients(&ex.w);
    let source = ex.manifest()["users"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        users
            .expected
            .iter()
            .any(|e| e.fields["email_verified"] == false),
        "an unverified primary email"
    );
    let (live, _) = apply_check_and_replan(&mut ex, &users, &source, &clients, None);
    verify_logins(&mut ex, &live);
}

/// The Clerk example's CSV carries neither bans nor metadata nor external accounts (the
/// dashboard export has no such columns), so the Backend API JSON shape covers that part of
/// the mapping: `banned` → inactive, `public_metadata` → traits.metadata,
/// `private_metadata` → admin_metadata, `external_accounts` → linked providers.
#[test]
fn clerk_json_export_maps_bans_metadata_and_external_accounts() {
    let emu = Emulator::start(&[]);
    let w = Workdir::new();
    w.write(
        "migration.toml",
        "[target]\norganization = \"acme-clerk\"\n\n[[users]]\nname = \"clerk-api\"\nprovider = \"clerk\"\npath = \"users.json\"\n",
    );
    let export = json!({"data": [
        {
            "id": "user_2banned0000000000000000001",
            "first_name": "Bo",
            "last_name": "Banned",
            "primary_email_address_id": "idn_bo",
            "email_addresses": [
                {"id": "idn_old", "email_address": "bo.old@example.org", "verification": {"status": "unverified"}},
                {"id": "idn_bo", "email_address": "bo.banned@example.com", "verification": {"status": "verified"}}
            ],
            "external_accounts": [
                {"provider": "oauth_google", "provider_user_id": "106000000000000000001"},
                {"provider": "oauth_github", "provider_user_id": "4242"}
            ],
            "public_metadata": {"plan": "pro", "theme": "dark"},
            "private_metadata": {"stripe_customer": "cus_example", "roles": ["admin"]},
            "banned": true
        },
        {
            "id": "user_2active0000000000000000002",
            "first_name": "Ola",
            "primary_email_address_id": "idn_ola",
            "email_addresses": [
                {"id": "idn_ola", "email_address": "ola.active@example.com", "verification": {"status": "unverified"}}
            ],
            "banned": false
        },
        {
            "id": "user_2phone00000000000000000003",
            "first_name": "Pat",
            "primary_phone_number_id": "idn_pat",
            "phone_numbers": [{"id": "idn_pat", "phone_number": "+15555550183", "verification": {"status": "verified"}}]
        }
    ]});
    w.write(
        "users.json",
        &serde_json::to_string_pretty(&export).unwrap(),
    );

    let mut users = Users {
        expected: Vec::new(),
        skipped: Vec::new(),
    };
    for u in export["data"].as_array().unwrap() {
        let id = u["id"].as_str().unwrap();
        let Some(primary) = u["email_addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["id"] == u["primary_email_address_id"]))
        else {
            users.skipped.push(id.to_string());
            continue;
        };
        let mut e = Expected::new(id);
        e.set("email", primary.get("email_address"));
        e.set(
            "email_verified",
            Some(&json!(primary["verification"]["status"] == "verified")),
        );
        e.set("first_name", u.get("first_name"));
        e.set("last_name", u.get("last_name"));
        if let Some(meta) = u.get("public_metadata") {
            e.traits.insert("metadata".into(), meta.clone());
        }
        if let Some(Value::Object(m)) = u.get("private_metadata") {
            e.admin_metadata.extend(m.clone());
        }
        e.inactive = u["banned"] == true;
        e.linked = u["external_accounts"].as_array().map_or(0, Vec::len);
        users.expected.push(e);
    }

    let run = |args: &[&str]| w.cmd(Some(&emu)).args(args).output().unwrap();
    let out = run(&["apply", "-m", "migration.toml", "--auto-approve"]);
    assert!(out.status.success(), "{}", output_text(&out));
    check_identities(&emu, &users, "clerk-api");
    let out = run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("`user_2phone00000000000000000003`"), "{text}");
}
