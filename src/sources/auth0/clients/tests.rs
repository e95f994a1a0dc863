//! End-to-end tests of the Auth0 client reader on the fixtures in `tests/fixtures/clients/`:
//! Management API arrays and pages, deploy-cli `tenant.yaml` and directory exports, keyword
//! filling, the `app_type` mapping and grant filtering.

use crate::manifest::Provider;
use crate::model::ClientType;
use crate::sources::SkipReason;
use crate::sources::clients::tests::{fixture, fixture_of, read, source, try_read, vars};
use crate::sources::clients::{ClientItem, ClientReadStats};

fn deploy_vars() -> std::collections::BTreeMap<String, String> {
    vars(&[
        ("ENV", "staging"),
        (
            "LOGOUT_URLS",
            r#"["https://staging.acme.com/", "http://localhost:3000/"]"#,
        ),
        ("SPA_ORIGINS", r#"["https://staging.acme.com"]"#),
        (
            "SPA_CALLBACKS",
            r#"["https://staging.acme.com/spa/callback"]"#,
        ),
    ])
}

#[test]
fn management_api_array_maps_every_app_type() {
    let (stats, items) = read(&fixture_of(Provider::Auth0, "auth0_clients.json"));
    assert_eq!(
        stats,
        ClientReadStats {
            records: 9,
            clients: 5,
            service_accounts: 1,
            skipped: 3,
            ..ClientReadStats::default()
        }
    );

    let web = items.oauth("AcmeWeb0000000000000000000000001");
    assert_eq!(web.name, "Acme Web");
    assert_eq!(web.client_type, ClientType::Confidential);
    assert_eq!(
        web.redirect_uris,
        [
            "https://acme.us.auth0.com/login/callback",
            "https://app.acme.com/callback",
            "http://localhost:3000/callback",
        ]
    );
    assert_eq!(
        web.post_logout_redirect_uris,
        ["https://app.acme.com/", "http://localhost:3000/"]
    );
    // web_origins then allowed_origins, deduplicated, the trailing `/` dropped.
    assert_eq!(
        web.allowed_origins,
        [
            "https://app.acme.com",
            "http://localhost:3000",
            "https://admin.acme.com",
        ]
    );
    assert_eq!(
        web.grant_types,
        ["authorization_code", "refresh_token", "client_credentials"]
    );
    assert_eq!(web.scopes, ["openid", "profile", "email"]);
    assert_eq!(
        items.location("AcmeWeb0000000000000000000000001").line,
        Some(2)
    );

    let spa = items.oauth("AcmeSpa0000000000000000000000002");
    assert_eq!(spa.client_type, ClientType::Public);
    assert_eq!(spa.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(spa.allowed_origins, ["https://spa.acme.com"]);

    let mobile = items.oauth("AcmeMobile000000000000000000003");
    assert_eq!(mobile.client_type, ClientType::Public);
    assert_eq!(
        mobile.redirect_uris,
        ["com.acme.mobile://acme.us.auth0.com/ios/com.acme.mobile/callback"]
    );

    let m2m = items.service_account("BillingJob000000000000000000004");
    assert_eq!(m2m.name, "Billing Job");
    assert_eq!(m2m.description.as_deref(), Some("Nightly billing sync"));
    assert!(m2m.scopes.is_empty());

    // No app_type: the token endpoint auth method decides.
    assert_eq!(
        items.oauth("LegacyWidget00000000000000000008").client_type,
        ClientType::Public
    );
    let legacy = items.oauth("LegacyServer00000000000000000009");
    assert_eq!(legacy.client_type, ClientType::Confidential);
    assert_eq!(legacy.grant_types, ["authorization_code", "refresh_token"]);

    let skipped: Vec<(Option<&str>, &SkipReason)> = items
        .skipped()
        .iter()
        .map(|s| (s.external_id.as_deref(), &s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                Some("AllApps0000000000000000000000005"),
                &SkipReason::GlobalClient
            ),
            (
                Some("AcmeApi0000000000000000000000006"),
                &SkipReason::ClientAppType("resource_server")
            ),
            (
                Some("Salesforce0000000000000000000007"),
                &SkipReason::ClientAppType("salesforce")
            ),
        ]
    );
    assert!(
        SkipReason::ClientAppType("resource_server")
            .describe()
            .contains("resource_server")
    );
}

#[test]
fn dropped_grants_and_trimmed_origins_are_warnings() {
    let (_, items) = read(&fixture_of(Provider::Auth0, "auth0_clients.json"));
    assert_eq!(
        items.warnings_for("AcmeWeb0000000000000000000000001"),
        [
            "allowed origin `https://admin.acme.com/` is written with a trailing `/`; migrated \
             as `https://admin.acme.com` (an origin has no path)",
            "grant_types: dropped `implicit`, `password`, \
             `http://auth0.com/oauth/grant-type/password-realm`: Avnology supports only the \
             OAuth 2.1 grants authorization_code, refresh_token and client_credentials",
        ]
    );
    assert_eq!(
        items.warnings_for("AcmeSpa0000000000000000000000002"),
        [
            "grant_types: dropped `implicit`: Avnology supports only the OAuth 2.1 grants \
             authorization_code, refresh_token and client_credentials"
        ]
    );
    let mobile = items.warnings_for("AcmeMobile000000000000000000003");
    assert_eq!(mobile.len(), 1);
    assert!(
        mobile[0].contains("`urn:ietf:params:oauth:grant-type:device_code`"),
        "{mobile:?}"
    );
    // Warnings come right before their client.
    let position =
        |pred: &dyn Fn(&ClientItem) -> bool| items.all.iter().position(pred).expect("item");
    let warning = position(
        &|i| matches!(i, ClientItem::Warning(e) if e.external_id.as_deref() == Some("AcmeSpa0000000000000000000000002")),
    );
    let client = position(
        &|i| matches!(i, ClientItem::Client(d, _) if d.external_id().as_str() == "AcmeSpa0000000000000000000000002"),
    );
    assert_eq!(warning + 1, client);
}

#[test]
fn management_api_pages_are_read_one_after_the_other() {
    let (stats, items) = read(&fixture_of(Provider::Auth0, "auth0_pages.json"));
    assert_eq!(
        stats,
        ClientReadStats {
            records: 3,
            clients: 2,
            service_accounts: 1,
            ..ClientReadStats::default()
        }
    );
    assert_eq!(
        items.location("AcmeWeb0000000000000000000000001").line,
        Some(7)
    );
    let billing = items.location("BillingJob000000000000000000004");
    assert_eq!((billing.line, billing.index), (Some(28), 2));
}

#[test]
fn invalid_records_name_their_problem() {
    let (stats, items) = read(&fixture_of(Provider::Auth0, "auth0_invalid.json"));
    assert_eq!(stats.records, 9);
    assert_eq!(stats.clients, 1, "only the first Reports is valid");
    assert_eq!(stats.invalid, 8);

    let fragment = items.invalid_for("Fragment00000000000000000000002");
    assert!(
        fragment
            .message
            .contains("redirect_uris: `https://spa.acme.com/#/callback` has a fragment"),
        "{fragment}"
    );
    assert!(
        fragment
            .message
            .contains("allowed_origins: `http://spa.acme.com` uses `http`"),
        "{fragment}"
    );
    assert_eq!(
        items.invalid_for("Stringly00000000000000000000005").message,
        "`callbacks` must be a JSON array, not a string"
    );
    assert_eq!(
        items.invalid_for("Mystery000000000000000000000006").message,
        "`app_type` `quantum_web` is not one this tool maps (regular_web, spa, native, \
         non_interactive)"
    );
    let cleartext = items.invalid_for("Cleartext0000000000000000000009");
    assert!(
        cleartext
            .message
            .contains("http is allowed only for localhost"),
        "{cleartext}"
    );

    let anonymous: Vec<_> = items
        .invalid()
        .into_iter()
        .filter(|e| e.external_id.is_none())
        .collect();
    assert_eq!(anonymous.len(), 2, "{anonymous:#?}");
    assert_eq!(
        anonymous[0].message,
        "the client has neither a `client_id` nor a `name`"
    );
    assert_eq!(anonymous[1].location.index, 7);
    assert!(
        anonymous[1].message.contains("a number"),
        "{}",
        anonymous[1]
    );
}

#[test]
fn tenant_yaml_fills_keywords_and_places_each_client() {
    let mut s = fixture_of(Provider::Auth0, "tenant.yaml");
    s.vars = deploy_vars();
    let (stats, items) = read(&s);
    assert_eq!(
        stats,
        ClientReadStats {
            records: 6,
            clients: 3,
            service_accounts: 1,
            invalid: 2,
            ..ClientReadStats::default()
        }
    );

    // deploy-cli files have no client_id: the name is the external id.
    let web = items.oauth("Acme Web");
    assert_eq!(items.location("Acme Web").line, Some(7));
    assert_eq!(
        web.redirect_uris,
        [
            "https://staging.acme.com/callback",
            "http://localhost:3000/callback"
        ]
    );
    // `@@LOGOUT_URLS@@` became a YAML list.
    assert_eq!(
        web.post_logout_redirect_uris,
        ["https://staging.acme.com/", "http://localhost:3000/"]
    );
    assert_eq!(web.allowed_origins, ["https://staging.acme.com"]);
    assert_eq!(web.client_type, ClientType::Confidential);

    // `##ENV##` inside a quoted name, `'@@SPA_ORIGINS@@'` replacing its quotes.
    let spa = items.oauth("Acme SPA (staging)");
    assert_eq!(items.location("Acme SPA (staging)").line, Some(23));
    assert_eq!(spa.redirect_uris, ["https://staging.acme.com/spa/callback"]);
    assert_eq!(spa.allowed_origins, ["https://staging.acme.com"]);
    assert_eq!(spa.client_type, ClientType::Public);

    let m2m = items.service_account("Billing Job");
    assert_eq!(
        m2m.description.as_deref(),
        Some("Nightly billing sync (staging)")
    );

    // Unknown keywords in mapped fields: the record is invalid and names them.
    let partner = items.invalid_for("Partner Portal");
    assert_eq!(partner.location.line, Some(32));
    assert_eq!(
        partner.message,
        "`callbacks` holds the deploy-cli keyword `##PARTNER_DOMAIN##`, which no `vars` entry \
         fills (add `PARTNER_DOMAIN = \"…\"` to this source's `vars`); `allowed_logout_urls` \
         holds the deploy-cli keyword `@@PARTNER_LOGOUT_URLS@@`, which no `vars` entry fills \
         (add `PARTNER_LOGOUT_URLS = \"…\"` to this source's `vars`)"
    );

    // A broken item is that item's problem only; the one after it is read.
    let broken = items
        .invalid()
        .into_iter()
        .find(|e| e.external_id.is_none())
        .expect("the broken item");
    assert_eq!(broken.location.line, Some(37));
    assert_eq!(broken.location.index, 4);
    assert!(broken.message.starts_with("malformed YAML: "), "{broken}");
    assert!(broken.message.contains("line 3"), "{broken}");
    assert_eq!(
        items.oauth("Acme Admin").redirect_uris,
        ["https://admin.staging.acme.com/callback"]
    );
    // `tenant: ##AUTH0_TENANT_NAME##` is unknown but never read, and the connections section
    // (with its own keywords) is not part of the clients.
    assert!(items.warnings_for("Acme Web").is_empty());
}

#[test]
fn tenant_yaml_without_vars_names_every_missing_keyword() {
    let (stats, items) = read(&fixture_of(Provider::Auth0, "tenant.yaml"));
    assert_eq!(stats.clients + stats.service_accounts, 0);
    let web = items.invalid_for("Acme Web");
    for key in ["ENV", "LOGOUT_URLS"] {
        assert!(
            web.message.contains(&format!("add `{key} = \"…\"`")),
            "{web}"
        );
    }
    assert!(!web.message.contains("AUTH0_TENANT_NAME"), "{web}");
}

#[test]
fn deploy_cli_directory_reads_one_client_per_file() {
    let mut s = fixture_of(Provider::Auth0, "deploy_cli_dir");
    s.vars = deploy_vars();
    let (stats, items) = read(&s);
    assert_eq!(
        stats,
        ClientReadStats {
            records: 5,
            clients: 2,
            service_accounts: 1,
            invalid: 2,
            ..ClientReadStats::default()
        }
    );
    let dir = fixture("deploy_cli_dir/clients");

    // Files in name order: Acme SPA, Acme Web, Billing Job, Broken, Unknown Keyword.
    let spa = items.oauth("Acme SPA");
    let location = items.location("Acme SPA");
    assert_eq!(location.file, dir.join("Acme SPA.json"));
    assert_eq!((location.line, location.index), (Some(1), 0));
    // `"@@SPA_CALLBACKS@@"` became a JSON array.
    assert_eq!(spa.redirect_uris, ["https://staging.acme.com/spa/callback"]);
    assert_eq!(spa.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(items.warnings_for("Acme SPA").len(), 1);

    let web = items.oauth("Acme Web");
    assert_eq!(web.redirect_uris, ["https://staging.acme.com/callback"]);
    assert_eq!(
        web.post_logout_redirect_uris,
        ["https://staging.acme.com/logout"]
    );
    // web_origins and the trailing-slash allowed_origins entry are one origin.
    assert_eq!(web.allowed_origins, ["https://staging.acme.com"]);

    assert_eq!(items.service_account("Billing Job").name, "Billing Job");

    let broken = items
        .invalid()
        .into_iter()
        .find(|e| e.location.file == dir.join("Broken.json"))
        .expect("Broken.json");
    assert_eq!(broken.location.index, 3);
    assert_eq!(broken.location.line, Some(6));
    assert!(
        broken.message.starts_with("the file is truncated"),
        "{broken}"
    );

    let unknown = items.invalid_for("Unknown Keyword");
    assert_eq!(
        unknown.location.line,
        Some(2),
        "the object starts on line 2"
    );
    assert!(unknown.message.contains("`##MISSING_HOST##`"), "{unknown}");
    assert!(
        unknown.message.contains("`@@MISSING_LOGOUT@@`"),
        "{unknown}"
    );
}

#[test]
fn the_clients_directory_itself_and_a_tenant_yaml_directory_work_too() {
    let mut s = fixture_of(Provider::Auth0, "deploy_cli_dir/clients");
    s.vars = deploy_vars();
    let (stats, _) = read(&s);
    assert_eq!(stats.records, 5);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture("tenant.yaml"), dir.path().join("tenant.yaml")).expect("copy");
    let mut s = source(Provider::Auth0, dir.path().to_path_buf());
    s.vars = deploy_vars();
    let (stats, _) = read(&s);
    assert_eq!(stats.records, 6);

    let empty = tempfile::tempdir().expect("tempdir");
    let (result, _) = try_read(&source(Provider::Auth0, empty.path().to_path_buf()));
    assert!(
        result
            .unwrap_err()
            .message
            .contains("holds no auth0-deploy-cli clients")
    );
}

#[test]
fn yaml_shapes_flow_style_and_missing_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        source(Provider::Auth0, path)
    };

    let flow = write(
        "flow.yaml",
        "tenant: {}\nclients: [{name: A, app_type: spa, callbacks: ['https://a.com/cb']},\n  {name: B, app_type: non_interactive}]\nrules: []\n",
    );
    let (stats, items) = read(&flow);
    assert_eq!((stats.clients, stats.service_accounts), (1, 1));
    assert_eq!(items.location("B").line, Some(2));
    assert_eq!(items.location("B").index, 1);

    let empty = write("empty.yaml", "clients: []\n");
    assert_eq!(read(&empty).0.records, 0);

    let none = write("none.yaml", "tenant:\n  friendly_name: x\n");
    let (result, _) = try_read(&none);
    assert!(
        result
            .unwrap_err()
            .message
            .contains("no top-level `clients:` list")
    );

    let scalar = write("scalar.yaml", "clients: nope\n");
    let (result, _) = try_read(&scalar);
    assert_eq!(
        result.unwrap_err().message,
        "`clients` must be a list of clients, not a string"
    );

    // A tenant.yaml under another name: told from JSON by its content.
    let renamed = write("tenant.txt", "clients:\n- name: C\n  app_type: spa\n");
    let (stats, items) = read(&renamed);
    assert_eq!(stats.clients, 1);
    assert_eq!(items.location("C").line, Some(2));
}

#[test]
fn management_api_exports_are_filled_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clients.json");
    std::fs::write(
        &path,
        r#"[{"client_id": "x1", "name": "X", "app_type": "spa", "callbacks": "@@CBS@@", "web_origins": ["https://##ENV##.x.com"]}]"#,
    )
    .expect("write");
    let mut s = source(Provider::Auth0, path);
    s.vars = vars(&[("ENV", "prod"), ("CBS", r#"["https://prod.x.com/cb"]"#)]);
    let (_, items) = read(&s);
    let x = items.oauth("x1");
    assert_eq!(x.redirect_uris, ["https://prod.x.com/cb"]);
    assert_eq!(x.allowed_origins, ["https://prod.x.com"]);
}

#[test]
fn an_object_without_clients_is_not_a_client_export() {
    let (result, _) = try_read(&fixture_of(Provider::Auth0, "cognito_single.json"));
    let err = result.unwrap_err();
    assert!(
        err.message
            .ends_with("has no `clients` array, so it is not a client export of this provider"),
        "{err}"
    );
}
