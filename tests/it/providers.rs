//! End-to-end checks of the four provider examples (examples/auth0, clerk, firebase, cognito)
//! against a real emulator process. Every expectation is derived from the example's own
//! export files, parsed here, following the mapping table of DESIGN.md section 4: each user
//! with an email becomes exactly one identity with its fields mapped, phone-only and anonymous
//! users are skipped and listed, OAuth clients keep their redirect URIs in order (after the
//! manifest's rewrite rules), one edited or reordered URI is one in-place update, minted
//! secrets go to the `--secrets-out` file once and nowhere else, and migrated users log in
//! with their original passwords (and do not with a wrong Firebase signer key).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::common::{Emulator, Workdir, assert_no_secrets, output_text, wait_until};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A copy of one example targeting its own emulator, with every command's output recorded
/// for the secret scans.
struct Example {
    w: Workdir,
    emu: Emulator,
    env: Vec<(String, String)>,
    transcript: String,
}

impl Example {
    /// A copy of `examples/{name}` whose manifest's `url = "sandbox"` line is removed, so
    /// AVNOLOGY_API_URL (the emulator) is the target.
    fn start(name: &str, emulator_flags: &[&str]) -> Example {
        let emu = Emulator::start(emulator_flags);
        let w = Workdir::new();
        w.copy_from_repo(&format!("examples/{name}"));
        let manifest = std::fs::read_to_string(w.path("migration.toml")).unwrap();
        let manifest: String = manifest
            .lines()
            .filter(|l| !l.trim_start().starts_with("url"))
            .map(|l| format!("{l}\n"))
            .collect();
        w.write("migration.toml", &manifest);
        Example {
            w,
            emu,
            env: Vec::new(),
            transcript: String::new(),
        }
    }

    fn with_env(mut self, key: &str, value: &str) -> Example {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Runs the binary in the copy, recording its output.
    fn run(&mut self, args: &[&str]) -> Output {
        let mut c = self.w.cmd(Some(&self.emu));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        self.transcript.push_str(&output_text(&out));
        out
    }

    /// Runs the binary and requires exit 0; returns stdout and stderr.
    fn ok(&mut self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        text
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.w.path(rel)).unwrap()
    }

    fn manifest(&self) -> Value {
        toml::from_str(&self.read("migration.toml")).unwrap()
    }

    /// The emulator's stderr so far.
    fn emulator_log(&self) -> String {
        self.emu.stderr.lock().unwrap().clone()
    }

    /// No secret in any command output of this test nor in the emulator's stderr.
    fn assert_clean(&self, secrets: &[String]) {
        if secrets.is_empty() {
            return;
        }
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_no_secrets(&self.transcript, &refs, "a command's stdout/stderr");
        assert_no_secrets(&self.emulator_log(), &refs, "the emulator's stderr");
    }
}

const APPLY: [&str; 6] = [
    "apply",
    "-m",
    "migration.toml",
    "--auto-approve",
    "--secrets-out",
    "secrets.ndjson",
];
const REPLAN: [&str; 4] = ["plan", "-m", "migration.toml", "--detailed-exitcode"];

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every object of a paged admin list.
fn list_all(emu: &Emulator, base: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sep = if base.contains('?') { '&' } else { '?' };
        let path = match &token {
            Some(t) => format!("{base}{sep}page_size=100&page_token={}", urlencode(t)),
            None => format!("{base}{sep}page_size=100"),
        };
        let (status, body) = emu.call("GET", &path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        let items = body[key]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: no `{key}` list in {body}"));
        out.extend(items.iter().cloned());
        match body["next_page_token"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    out
}

fn by_external_id(items: Vec<Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for item in items {
        let id = item["external_id"].as_str().unwrap_or_default().to_string();
        assert!(
            out.insert(id.clone(), item).is_none(),
            "two live objects with external_id `{id}`"
        );
    }
    out
}

fn live_identities(emu: &Emulator) -> BTreeMap<String, Value> {
    // Linked providers come in a listing only when asked for.
    by_external_id(list_all(
        emu,
        "/v1/identities?include_linked_providers=true",
        "identities",
    ))
}

fn live_clients(emu: &Emulator) -> BTreeMap<String, Value> {
    by_external_id(list_all(emu, "/v1/oauth-clients", "oauth_clients"))
}

fn live_service_accounts(emu: &Emulator) -> BTreeMap<String, Value> {
    by_external_id(list_all(emu, "/v1/service-accounts", "service_accounts"))
}

/// Rows of organizations, identities, OAuth clients and service accounts in the emulator.
fn db_counts(emu: &Emulator) -> [i64; 4] {
    let db = emu.db();
    [
        "organizations",
        "identities",
        "oauth_clients",
        "service_accounts",
    ]
    .map(|t| {
        db.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    })
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The rows of a `identifier,password` CSV.
fn logins(path: &Path) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["identifier", "password"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[1].to_string())
        })
        .collect()
}

/// Lines of a text plan that announce an in-place change (`~ …`).
fn tilde_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("~ "))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Expected identities
// ---------------------------------------------------------------------------------------

/// One identity an export should produce.
#[derive(Debug, Default)]
struct Expected {
    external_id: String,
    /// Top-level identity fields and their exact values.
    fields: Map<String, Value>,
    /// `traits` keys and their exact values.
    traits: Map<String, Value>,
    /// `admin_metadata` keys and their exact values.
    admin_metadata: Map<String, Value>,
    inactive: bool,
    linked: usize,
    has_password: bool,
}

impl Expected {
    fn new(external_id: &str) -> Expected {
        Expected {
            external_id: external_id.to_string(),
            ..Expected::default()
        }
    }

    fn set(&mut self, field: &str, value: Option<&Value>) {
        if let Some(v) = value.filter(|v| !v.is_null() && v.as_str() != Some("")) {
            self.fields.insert(field.to_string(), v.clone());
        }
    }
}

/// The users of a source and the external ids of the records that must be skipped.
struct Users {
    expected: Vec<Expected>,
    skipped: Vec<String>,
}

/// Checks that the tenant holds exactly `users.expected`, each with its mapped fields and
/// the owner marker of `source`, and none of `users.skipped`.
fn check_identities(emu: &Emulator, users: &Users, source: &str) -> BTreeMap<String, Value> {
    let live = live_identities(emu);
    let want: BTreeSet<&str> = users
        .expected
        .iter()
        .map(|e| e.external_id.as_str())
        .collect();
    let have: BTreeSet<&str> = live.keys().map(String::as_str).collect();
    assert_eq!(
        have, want,
        "the tenant holds exactly the export's users with an email"
    );
    for s in &users.skipped {
        assert!(!live.contains_key(s), "skipped record `{s}` was created");
    }
    for e in &users.expected {
        let id = &e.external_id;
        let l = &live[id];
        assert_eq!(l["external_id"], json!(id));
        for (k, v) in &e.fields {
            assert_eq!(&l[k], v, "{id}: field `{k}` in {l}");
        }
        for (k, v) in &e.traits {
            assert_eq!(&l["traits"][k], v, "{id}: traits.{k} in {l}");
        }
        for (k, v) in &e.admin_metadata {
            assert_eq!(
                &l["admin_metadata"][k], v,
                "{id}: admin_metadata.{k} in {l}"
            );
        }
        assert_eq!(
            l["state"],
            if e.inactive { "inactive" } else { "active" },
            "{id}: state in {l}"
        );
        assert_eq!(
            l["linked_providers"].as_array().map_or(0, Vec::len),
            e.linked,
            "{id}: linked providers in {l}"
        );
        assert_eq!(
            l["has_password"],
            json!(e.has_password),
            "{id}: has_password in {l}"
        );
        assert_eq!(
            l["admin_metadata"]["avnology_migrate"]["source"], source,
            "{id}: owner marker in {l}"
        );
        assert!(
            l.get("password_hash").is_none(),
            "{id}: a hash is readable back: {l}"
        );
    }
    live
}

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

/// examples/firebase: `firebase auth:export --format=JSON`.
fn firebase_users(w: &Workdir) -> Users {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("firebase_users.json")).unwrap())
            .unwrap();
    let mut users = Users {
        expected: Vec::new(),
        skipped: Vec::new(),
    };
    for r in doc["users"].as_array().unwrap() {
        let id = r["localId"].as_str().unwrap();
        if !r["email"].is_string() {
            users.skipped.push(id.to_string());
            continue;
        }
        let mut e = Expected::new(id);
        e.set("email", r.get("email"));
        e.set(
            "email_verified",
            Some(&json!(r["emailVerified"].as_bool().unwrap_or(false))),
        );
        e.set("display_name", r.get("displayName"));
        e.set("avatar_url", r.get("photoUrl"));
        if r["phoneNumber"].is_string() {
            e.set("phone", r.get("phoneNumber"));
            e.set("phone_verified", Some(&json!(true)));
        }
        if let Some(claims) = r["customAttributes"].as_str() {
            match serde_json::from_str(claims).unwrap() {
                Value::Object(m) => e.admin_metadata.extend(m),
                other => panic!("{id}: customAttributes is not an object: {other}"),
            }
        }
        e.inactive = r["disabled"] == true;
        e.linked = r["providerUserInfo"].as_array().map_or(0, Vec::len);
        e.has_password = r["passwordHash"].is_string();
        users.expected.push(e);
    }
    users
}

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

// ---------------------------------------------------------------------------------------
// Expected clients and service accounts
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct ExpClient {
    external_id: String,
    /// The client source's name (None: declared in the manifest).
    source: Option<String>,
    name: String,
    confidential: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    /// Compared as a set: the merge order of Auth0's two origin lists is not specified.
    allowed_origins: Option<BTreeSet<String>>,
}

#[derive(Debug)]
struct ExpSa {
    external_id: String,
    source: String,
    name: String,
}

#[derive(Debug, Default)]
struct Clients {
    clients: Vec<ExpClient>,
    service_accounts: Vec<ExpSa>,
}

/// A source's `[[client_sources.rewrite]]` rules, in order.
fn rewrite_rules(source: &Value) -> Vec<(String, String)> {
    source["rewrite"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    (
                        r["from"].as_str().unwrap().to_string(),
                        r["to"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Applies the rewrite rules, in order, to one URI (each replaces a prefix).
fn rewrite(uri: &str, rules: &[(String, String)]) -> String {
    let mut u = uri.to_string();
    for (from, to) in rules {
        if let Some(rest) = u.strip_prefix(from.as_str()) {
            u = format!("{to}{rest}");
        }
    }
    u
}

fn rewrite_all(uris: &[String], rules: &[(String, String)]) -> Vec<String> {
    uris.iter().map(|u| rewrite(u, rules)).collect()
}

/// An origin as Avnology stores it: no trailing `/`.
fn origin(o: &str, rules: &[(String, String)]) -> String {
    rewrite(o, rules).trim_end_matches('/').to_string()
}

/// The `[[clients]]` declared in the manifest.
fn declared_clients(manifest: &Value, out: &mut Clients) {
    for c in manifest["clients"].as_array().into_iter().flatten() {
        out.clients.push(ExpClient {
            external_id: c["key"].as_str().unwrap().to_string(),
            source: None,
            name: c["name"].as_str().unwrap().to_string(),
            confidential: c["type"] == "confidential",
            redirect_uris: strings(&c["redirect_uris"]),
            post_logout_redirect_uris: strings(&c["post_logout_redirect_uris"]),
            allowed_origins: Some(strings(&c["allowed_origins"]).into_iter().collect()),
        });
    }
}

/// One Auth0 client record (Management API or deploy-cli) as the README's table maps it.
fn auth0_client(rec: &Value, source: &str, rules: &[(String, String)], out: &mut Clients) {
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
fn auth0_clients(w: &Workdir) -> Clients {
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
        let records: Vec<Value> = if path.ends_with(".yaml") || path.ends_with(".yml") {
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

/// examples/clerk: the OAuth applications list.
fn clerk_clients(w: &Workdir) -> Clients {
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

/// Checks that the tenant holds exactly the expected clients and service accounts, and that
/// service accounts are owned by the manifest's `service_account_owner`.
fn check_clients(emu: &Emulator, want: &Clients, owner_email: Option<&str>) {
    let live = live_clients(emu);
    let expected: BTreeSet<&str> = want
        .clients
        .iter()
        .map(|c| c.external_id.as_str())
        .collect();
    assert_eq!(
        live.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "the tenant holds exactly the expected OAuth clients"
    );
    for c in &want.clients {
        let id = &c.external_id;
        let l = &live[id];
        assert_eq!(l["client_name"], json!(c.name), "{id}: {l}");
        let (kind, method) = if c.confidential {
            ("confidential", None)
        } else {
            ("public", Some("none"))
        };
        assert_eq!(l["client_type"], kind, "{id}: {l}");
        if let Some(m) = method {
            assert_eq!(l["token_endpoint_auth_method"], m, "{id}: {l}");
        } else {
            assert_ne!(l["token_endpoint_auth_method"], "none", "{id}: {l}");
        }
        assert_eq!(
            strings(&l["redirect_uris"]),
            c.redirect_uris,
            "{id}: redirect_uris in the export's order, rewritten: {l}"
        );
        assert_eq!(
            strings(&l["post_logout_redirect_uris"]),
            c.post_logout_redirect_uris,
            "{id}: post_logout_redirect_uris: {l}"
        );
        if let Some(origins) = &c.allowed_origins {
            let live_origins = strings(&l["allowed_origins"]);
            assert_eq!(
                live_origins.iter().cloned().collect::<BTreeSet<_>>(),
                *origins,
                "{id}: allowed_origins: {l}"
            );
            assert_eq!(
                live_origins.len(),
                origins.len(),
                "{id}: repeated origins: {l}"
            );
        }
        // Only OAuth 2.1 grants; never client_credentials on a public client.
        for g in strings(&l["grant_types"]) {
            assert!(
                ["authorization_code", "refresh_token", "client_credentials"].contains(&g.as_str()),
                "{id}: grant `{g}` migrated: {l}"
            );
            assert!(
                c.confidential || g != "client_credentials",
                "{id}: public client with client_credentials: {l}"
            );
        }
        match &c.source {
            Some(s) => assert_eq!(
                l["metadata"]["avnology_migrate"]["source"],
                json!(s),
                "{id}: {l}"
            ),
            None => assert!(
                l["metadata"]["avnology_migrate"].is_object(),
                "{id}: no owner marker: {l}"
            ),
        }
    }

    let live = live_service_accounts(emu);
    let expected: BTreeSet<&str> = want
        .service_accounts
        .iter()
        .map(|s| s.external_id.as_str())
        .collect();
    assert_eq!(
        live.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "the tenant holds exactly the expected service accounts"
    );
    if want.service_accounts.is_empty() {
        return;
    }
    let owner_email = owner_email.expect("service accounts need service_account_owner");
    let owner = live_identities(emu)
        .into_values()
        .find(|i| i["email"] == owner_email)
        .unwrap_or_else(|| panic!("the owner {owner_email} is not in the tenant"));
    for s in &want.service_accounts {
        let id = &s.external_id;
        let l = &live[id];
        assert_eq!(l["name"], json!(s.name), "{id}: {l}");
        assert_eq!(
            l["owner_id"], owner["id"],
            "{id}: owned by {owner_email}: {l}"
        );
        assert_eq!(
            l["metadata"]["avnology_migrate"]["source"],
            json!(s.source),
            "{id}: {l}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()).as_slice())
}

/// Checks the `--secrets-out` file against the tenant: mode 0600, the line naming the plan,
/// then exactly one line per confidential client and service account (and nothing else),
/// each value unique, present
/// once, and the very secret the emulator stored the digest of. Returns the secret values.
fn check_secrets_file(ex: &Example, rel: &str) -> Vec<String> {
    let emu = &ex.emu;
    let clients = live_clients(emu);
    let sas = live_service_accounts(emu);
    let mut want: BTreeSet<(String, String)> = clients
        .iter()
        .filter(|(_, c)| c["client_type"] == "confidential")
        .map(|(k, _)| ("oauth_client".to_string(), k.clone()))
        .collect();
    want.extend(
        sas.keys()
            .map(|k| ("service_account".to_string(), k.clone())),
    );

    let path = ex.w.path(rel);
    if want.is_empty() {
        // Nothing minted: no file, or an empty private one.
        if path.exists() {
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "{rel}");
        }
        return Vec::new();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{rel} has mode {mode:o}");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = ndjson(&path);
    // The first line names the plan whose apply created the file.
    let header = lines.remove(0);
    assert_eq!(header["kind"], "plan", "{rel} starts with {header}");
    assert_eq!(
        header["plan_id"].as_str().map(str::len),
        Some(64),
        "{header}"
    );
    let mut got = BTreeSet::new();
    let mut secrets = Vec::new();
    let db = emu.db();
    for line in &lines {
        let kind = line["kind"].as_str().unwrap().to_string();
        let key = line["key"].as_str().unwrap().to_string();
        let secret = match kind.as_str() {
            "oauth_client" => {
                let secret = line["client_secret"].as_str().unwrap().to_string();
                let client_id = line["client_id"].as_str().unwrap();
                assert_eq!(clients[&key]["client_id"], client_id, "{line}");
                let stored: String = db
                    .query_row(
                        "SELECT client_secret_sha256 FROM oauth_clients WHERE client_id = ?1",
                        [client_id],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(
                    stored,
                    sha256_hex(&secret),
                    "{key}: the file's secret is not the client's"
                );
                secret
            }
            "service_account" => {
                let api_key = line["api_key"].as_str().unwrap().to_string();
                let sa_id = line["service_account_id"].as_str().unwrap();
                assert_eq!(sas[&key]["id"], sa_id, "{line}");
                let n: i64 = db
                    .query_row(
                        "SELECT COUNT(*) FROM service_account_keys WHERE service_account_id = ?1 AND key_sha256 = ?2",
                        rusqlite::params![sa_id, sha256_hex(&api_key)],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1, "{key}: the file's API key is not the account's");
                api_key
            }
            other => panic!("unknown kind `{other}` in {rel}"),
        };
        assert!(secret.len() >= 16, "{key}: a short secret");
        assert_eq!(
            text.matches(&secret).count(),
            1,
            "{key}: secret written more than once"
        );
        assert!(
            got.insert((kind.clone(), key.clone())),
            "{kind} `{key}` has two lines in {rel}"
        );
        secrets.push(secret);
    }
    assert_eq!(
        got, want,
        "one line per confidential client and service account"
    );
    assert_eq!(lines.len(), want.len());
    let unique: BTreeSet<&String> = secrets.iter().collect();
    assert_eq!(unique.len(), secrets.len(), "minted values are unique");
    secrets
}

// ---------------------------------------------------------------------------------------
// The shared flow
// ---------------------------------------------------------------------------------------

/// `apply --auto-approve --secrets-out`, then: identities mapped, clients as expected,
/// secrets file sound, and an empty plan that still lists every skipped record.
fn apply_check_and_replan(
    ex: &mut Example,
    users: &Users,
    source: &str,
    clients: &Clients,
    owner: Option<&str>,
) -> (BTreeMap<String, Value>, Vec<String>) {
    assert!(
        !users.skipped.is_empty(),
        "every example has a record to skip"
    );
    ex.ok(&APPLY);
    let live = check_identities(&ex.emu, users, source);
    check_clients(&ex.emu, clients, owner);
    let secrets = check_secrets_file(ex, "secrets.ndjson");

    let out = ex.run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "second plan: {text}");
    assert!(text.contains("No changes."), "{text}");
    for s in &users.skipped {
        assert!(
            text.contains(&format!("`{s}`")),
            "skipped `{s}` is not listed: {text}"
        );
    }
    ex.assert_clean(&secrets);
    (live, secrets)
}

/// `verify --logins logins.csv` succeeds for every row, and echoes no password.
fn verify_logins(ex: &mut Example, live: &BTreeMap<String, Value>) {
    let rows = logins(&ex.w.path("logins.csv"));
    assert!(!rows.is_empty());
    for (identifier, _) in &rows {
        let user = live
            .values()
            .find(|i| i["email"] == identifier.as_str())
            .unwrap_or_else(|| panic!("logins.csv names `{identifier}`, who was not migrated"));
        assert_eq!(
            user["has_password"], true,
            "logins.csv names `{identifier}`, who has no password"
        );
        assert_eq!(
            user["state"], "active",
            "logins.csv names an inactive user `{identifier}`"
        );
    }
    let text = ex.ok(&["verify", "-m", "migration.toml", "--logins", "logins.csv"]);
    let n = rows.len();
    assert!(
        text.contains(&format!("logins: {n} of {n} succeeded")),
        "{text}"
    );
    for (_, password) in &rows {
        assert!(
            !text.contains(password.as_str()),
            "verify echoed a password: {text}"
        );
    }
}

/// The signer key the Firebase README exports (Firebase's public test vector).
fn firebase_signer_key() -> String {
    let readme =
        std::fs::read_to_string(super::common::repo("examples/firebase/README.md")).unwrap();
    readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("export FIREBASE_SIGNER_KEY="))
        .expect("the Firebase README exports FIREBASE_SIGNER_KEY")
        .trim_matches(['\'', '"'])
        .to_string()
}

/// A different valid key of the same length: the real key's bytes reversed.
fn wrong_signer_key(right: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(right).unwrap();
    bytes.reverse();
    let wrong = engine.encode(&bytes);
    assert_ne!(wrong, right);
    assert_eq!(wrong.len(), right.len());
    wrong
}

/// Every hash and salt of the Firebase export.
fn firebase_hash_material(w: &Workdir) -> Vec<String> {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("firebase_users.json")).unwrap())
            .unwrap();
    doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| [&u["passwordHash"], &u["salt"]])
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
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

#[test]
fn firebase_example_applies_with_mapped_fields_replans_empty_and_logs_in() {
    let key = firebase_signer_key();
    let mut ex = Example::start("firebase", &[]).with_env("FIREBASE_SIGNER_KEY", &key);
    let users = firebase_users(&ex.w);
    let source = ex.manifest()["users"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(users.expected.iter().any(|e| e.inactive), "a disabled user");
    assert!(
        users.expected.iter().any(|e| !e.admin_metadata.is_empty()),
        "custom claims"
    );
    assert_eq!(
        users.skipped.len(),
        2,
        "the phone-only and the anonymous user"
    );

    // The saved plan carries neither the signer key nor any hash or salt.
    ex.ok(&["plan", "-m", "migration.toml", "--out", "plan.json"]);
    let plan_file = ex.read("plan.json");
    let (live, _) = apply_check_and_replan(&mut ex, &users, &source, &Clients::default(), None);
    verify_logins(&mut ex, &live);

    let mut secret_material = firebase_hash_material(&ex.w);
    secret_material.push(key.clone());
    let refs: Vec<&str> = secret_material.iter().map(String::as_str).collect();
    assert_no_secrets(&plan_file, &refs, "plan.json");
    assert_no_secrets(&ex.transcript, &refs, "a command's output");
}

// ---------------------------------------------------------------------------------------
// 2: a wrong Firebase signer key applies, warns, and then fails verify
// ---------------------------------------------------------------------------------------

#[test]
fn firebase_with_a_wrong_signer_key_applies_with_a_warning_and_fails_verify() {
    let right = firebase_signer_key();
    let wrong = wrong_signer_key(&right);
    let mut ex = Example::start("firebase", &[]).with_env("FIREBASE_SIGNER_KEY", &wrong);
    let users = firebase_users(&ex.w);

    let text = ex.ok(&["plan", "-m", "migration.toml"]);
    let warning = text
        .lines()
        .find(|l| l.contains("Firebase hash parameters"))
        .unwrap_or_else(|| panic!("no warning about the Firebase hash parameters: {text}"));
    assert!(
        warning.starts_with("warning") && warning.contains("cannot be checked"),
        "{warning}"
    );

    ex.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    assert_eq!(live_identities(&ex.emu).len(), users.expected.len());

    let out = ex.run(&["verify", "-m", "migration.toml", "--logins", "logins.csv"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("AVNOLOGY_AUTH_001"), "{text}");
    for (_, password) in logins(&ex.w.path("logins.csv")) {
        assert!(
            !text.contains(&password),
            "verify echoed a password: {text}"
        );
    }
    ex.assert_clean(&[right, wrong]);
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

// ---------------------------------------------------------------------------------------
// 4: OAuth clients — redirect URI edits and reorders are in-place list updates
// ---------------------------------------------------------------------------------------

#[test]
fn auth0_client_redirect_uri_edit_and_reorder_are_in_place_updates() {
    let mut ex = Example::start("auth0", &[]);
    let owner = ex.manifest()["target"]["service_account_owner"]
        .as_str()
        .map(str::to_string);
    ex.ok(&APPLY);
    check_clients(&ex.emu, &auth0_clients(&ex.w), owner.as_deref());

    // 1. One redirect URI of the hand-declared client changes.
    let manifest = ex.manifest();
    let decl = &manifest["clients"][0];
    let key = decl["key"].as_str().unwrap().to_string();
    let uris = strings(&decl["redirect_uris"]);
    let n = uris.len() - 1;
    let old = uris[n].clone();
    let new = old.replacen("/callback", "/auth/callback", 1);
    assert_ne!(old, new);
    let text = ex.read("migration.toml");
    assert_eq!(text.matches(&format!("\"{old}\"")).count(), 1, "{text}");
    ex.w.write(
        "migration.toml",
        &text.replace(&format!("\"{old}\""), &format!("\"{new}\"")),
    );

    let out = ex.run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("~ oauth_client \"{key}\"")),
        "{text}"
    );
    assert!(
        text.contains(&format!("~ redirect_uris[{n}] = \"{old}\" -> \"{new}\"")),
        "{text}"
    );
    assert_eq!(
        tilde_lines(&text).len(),
        2,
        "exactly the client and its one list entry change: {text}"
    );
    assert!(
        text.contains("0 to create, 1 to update, 0 to deactivate, 0 to reactivate, 0 to delete"),
        "{text}"
    );
    // An update mints nothing, so it needs no --secrets-out.
    ex.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    let mut want = uris.clone();
    want[n] = new.clone();
    assert_eq!(strings(&live_clients(&ex.emu)[&key]["redirect_uris"]), want);
    let out = ex.run(&REPLAN);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

    // 2. Only the order of a source client's redirect URIs changes.
    let source = &manifest["client_sources"][0];
    let path = source["path"].as_str().unwrap();
    let rules = rewrite_rules(source);
    let mut records: Vec<Value> = serde_json::from_str(&ex.read(path)).unwrap();
    let mut probe = Clients::default();
    let idx = records
        .iter()
        .position(|r| {
            let before = probe.clients.len();
            auth0_client(r, "probe", &rules, &mut probe);
            probe.clients.len() > before && strings(&r["callbacks"]).len() >= 2
        })
        .expect("a client with two or more callbacks");
    let id = records[idx]["client_id"].as_str().unwrap().to_string();
    let before = rewrite_all(&strings(&records[idx]["callbacks"]), &rules);
    records[idx]["callbacks"].as_array_mut().unwrap().reverse();
    let after = rewrite_all(&strings(&records[idx]["callbacks"]), &rules);
    assert_ne!(before, after);
    ex.w.write(path, &serde_json::to_string_pretty(&records).unwrap());

    let out = ex.run(&REPLAN);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "a reorder is a change: {text}");
    assert!(text.contains(&format!("~ oauth_client \"{id}\"")), "{text}");
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if b != a {
            assert!(
                text.contains(&format!("~ redirect_uris[{i}] = \"{b}\" -> \"{a}\"")),
                "{text}"
            );
        }
    }
    assert!(text.contains("0 to create, 1 to update"), "{text}");
    ex.ok(&["apply", "-m", "migration.toml", "--auto-approve"]);
    assert_eq!(strings(&live_clients(&ex.emu)[&id]["redirect_uris"]), after);
    let out = ex.run(&REPLAN);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

// ---------------------------------------------------------------------------------------
// 5: secrets — the file, once, and nowhere else
// ---------------------------------------------------------------------------------------

#[test]
fn minted_secrets_go_to_the_secrets_file_once_and_nowhere_else() {
    let mut ex = Example::start("auth0", &["--log-requests"]);
    ex.ok(&["plan", "-m", "migration.toml", "--out", "plan.json"]);
    ex.ok(&[
        "apply",
        "plan.json",
        "--secrets-out",
        "secrets.ndjson",
        "--log",
        "apply.ndjson",
        "--verbose",
    ]);
    let secrets = check_secrets_file(&ex, "secrets.ndjson");
    let file = ex.read("secrets.ndjson");
    assert!(file.contains("\"kind\":\"oauth_client\""), "{file}");
    assert!(file.contains("\"kind\":\"service_account\""), "{file}");
    let counts = db_counts(&ex.emu);

    // A second apply mints nothing: the file, the clients and the keys stay as they are.
    ex.ok(&[
        "apply",
        "-m",
        "migration.toml",
        "--auto-approve",
        "--secrets-out",
        "secrets.ndjson",
        "--log",
        "apply2.ndjson",
        "--verbose",
    ]);
    assert_eq!(
        ex.read("secrets.ndjson"),
        file,
        "a second apply changed the secrets file"
    );
    assert_eq!(db_counts(&ex.emu), counts);
    let keys: i64 = ex
        .emu
        .db()
        .query_row("SELECT COUNT(*) FROM service_account_keys", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        keys as usize,
        live_service_accounts(&ex.emu).len(),
        "one key per account"
    );

    let out = ex.run(&[
        "plan",
        "-m",
        "migration.toml",
        "--out",
        "plan2.json",
        "--detailed-exitcode",
        "--verbose",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for format in ["text", "json", "markdown"] {
        ex.ok(&["show", "plan.json", "--format", format]);
    }
    ex.ok(&[
        "verify",
        "-m",
        "migration.toml",
        "--logins",
        "logins.csv",
        "--verbose",
    ]);

    assert!(
        wait_until(Duration::from_secs(5), || ex
            .emulator_log()
            .contains("POST /v1/oauth-clients")),
        "the emulator logged no requests: {}",
        ex.emulator_log()
    );
    ex.assert_clean(&secrets);
    // Every file the commands wrote (plan files, logs, journal), except the secrets file.
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut scanned = Vec::new();
    let mut stack = vec![ex.w.dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != "secrets.ndjson" {
                let bytes = std::fs::read(&path).unwrap();
                assert_no_secrets(
                    &String::from_utf8_lossy(&bytes),
                    &refs,
                    &path.display().to_string(),
                );
                scanned.push(path.file_name().unwrap().to_string_lossy().to_string());
            }
        }
    }
    // (apply2.ndjson, of an apply with nothing to do, is scanned if it was written at all.)
    for f in ["plan.json", "plan2.json", "apply.ndjson"] {
        assert!(
            scanned.iter().any(|s| s == f),
            "{f} was not written: {scanned:?}"
        );
    }
}

#[test]
fn apply_creating_a_confidential_client_without_secrets_out_changes_nothing() {
    let mut ex = Example::start("clerk", &["--log-requests"]);
    let clients = clerk_clients(&ex.w);
    assert!(clients.clients.iter().any(|c| c.confidential));
    let text = ex.ok(&["plan", "-m", "migration.toml", "--out", "plan.json"]);
    assert!(
        text.contains("+ oauth_client") && text.contains("\"confidential\""),
        "{text}"
    );

    for args in [
        &["apply", "plan.json"][..],
        &["apply", "-m", "migration.toml", "--auto-approve"][..],
    ] {
        let out = ex.run(args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("--secrets-out"), "{args:?}: {text}");
        assert!(text.contains("hint:"), "{args:?}: {text}");
        assert_eq!(
            db_counts(&ex.emu),
            [0, 0, 0, 0],
            "{args:?} changed something: {text}"
        );
    }
    let log = ex.emulator_log();
    assert!(!log.contains("POST /v1/"), "a write reached the API: {log}");
    assert!(!ex.w.path("secrets.ndjson").exists());

    // The same saved plan applies once the secrets have somewhere to go.
    ex.ok(&["apply", "plan.json", "--secrets-out", "secrets.ndjson"]);
    check_clients(&ex.emu, &clients, None);
    let secrets = check_secrets_file(&ex, "secrets.ndjson");
    assert_eq!(
        secrets.len(),
        clients.clients.iter().filter(|c| c.confidential).count()
    );
    ex.assert_clean(&secrets);
}
