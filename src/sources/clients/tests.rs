//! Tests of [`read_client_source`]'s shared steps (rewrites, duplicates, validation, counts,
//! secrets) on the fixtures in `tests/fixtures/clients/`, plus the helpers the provider
//! readers' tests use to run a fixture through the whole pipeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::manifest::Rewrite;
use crate::model::{OAuthClient, ServiceAccount};
use crate::sources::SkipReason;

/// The fixture `name` under `tests/fixtures/clients/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clients"
    ))
    .join(name)
}

/// A `[[client_sources]]` entry reading `path` with `provider`.
pub(crate) fn source(provider: Provider, path: PathBuf) -> ClientSource {
    ClientSource {
        name: provider.as_str().to_owned(),
        provider,
        path,
        vars: BTreeMap::new(),
        rewrite: Vec::new(),
        sha256: None,
    }
}

/// The fixture `name` read as a `provider` export.
pub(crate) fn fixture_of(provider: Provider, name: &str) -> ClientSource {
    source(provider, fixture(name))
}

/// `vars` from pairs.
pub(crate) fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Everything one read produced, in order and by kind.
#[derive(Debug, Default)]
pub(crate) struct Items {
    pub all: Vec<ClientItem>,
}

impl Items {
    pub(crate) fn clients(&self) -> Vec<(&ClientDecl, &Location)> {
        self.all
            .iter()
            .filter_map(|i| match i {
                ClientItem::Client(decl, location) => Some((decl.as_ref(), location)),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn oauth(&self, id: &str) -> &OAuthClient {
        self.clients()
            .into_iter()
            .find_map(|(decl, _)| match decl {
                ClientDecl::OAuth(c) if c.external_id.as_str() == id => Some(c),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no OAuth client `{id}` in {:#?}", self.all))
    }

    pub(crate) fn service_account(&self, id: &str) -> &ServiceAccount {
        self.clients()
            .into_iter()
            .find_map(|(decl, _)| match decl {
                ClientDecl::ServiceAccount(s) if s.external_id.as_str() == id => Some(s),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no service account `{id}` in {:#?}", self.all))
    }

    pub(crate) fn location(&self, id: &str) -> &Location {
        self.clients()
            .into_iter()
            .find(|(decl, _)| decl.external_id().as_str() == id)
            .map_or_else(|| panic!("no client `{id}` in {:#?}", self.all), |(_, l)| l)
    }

    pub(crate) fn skipped(&self) -> Vec<&Skipped> {
        self.all
            .iter()
            .filter_map(|i| match i {
                ClientItem::Skipped(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn invalid(&self) -> Vec<&SourceError> {
        self.all
            .iter()
            .filter_map(|i| match i {
                ClientItem::Invalid(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn invalid_for(&self, id: &str) -> &SourceError {
        self.invalid()
            .into_iter()
            .find(|e| e.external_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no invalid record `{id}` in {:#?}", self.all))
    }

    pub(crate) fn warnings_for(&self, id: &str) -> Vec<&str> {
        self.all
            .iter()
            .filter_map(|i| match i {
                ClientItem::Warning(e) if e.external_id.as_deref() == Some(id) => {
                    Some(e.message.as_str())
                }
                _ => None,
            })
            .collect()
    }

    /// Every item's `Debug` and every message's `Display`, for secret checks.
    pub(crate) fn all_text(&self) -> String {
        let mut text = format!("{:?}", self.all);
        for item in &self.all {
            match item {
                ClientItem::Invalid(e) | ClientItem::Warning(e) => {
                    text.push_str(&e.to_string());
                }
                ClientItem::Skipped(s) => text.push_str(s.reason.describe()),
                ClientItem::Client(..) => {}
            }
        }
        text
    }
}

/// Runs `source` through [`read_client_source`].
pub(crate) fn try_read(source: &ClientSource) -> (Result<ClientReadStats, SourceError>, Items) {
    let mut items = Items::default();
    let result = read_client_source(source, &mut |item| items.all.push(item));
    (result, items)
}

/// Like [`try_read`], for a readable export.
pub(crate) fn read(source: &ClientSource) -> (ClientReadStats, Items) {
    let (result, items) = try_read(source);
    (result.expect("readable export"), items)
}

/// The marker every client secret in the fixtures carries.
pub(crate) const SECRET_MARKER: &str = "SECRET-DO-NOT-PRINT";

fn every_fixture_source() -> Vec<ClientSource> {
    let deploy_vars = vars(&[
        ("ENV", "staging"),
        ("LOGOUT_URLS", r#"["https://staging.acme.com/"]"#),
        ("SPA_ORIGINS", r#"["https://staging.acme.com"]"#),
        (
            "SPA_CALLBACKS",
            r#"["https://staging.acme.com/spa/callback"]"#,
        ),
    ]);
    let with_vars = |mut s: ClientSource| {
        s.vars = deploy_vars.clone();
        s
    };
    vec![
        source(Provider::Auth0, fixture("auth0_clients.json")),
        source(Provider::Auth0, fixture("auth0_pages.json")),
        source(Provider::Auth0, fixture("auth0_invalid.json")),
        with_vars(source(Provider::Auth0, fixture("tenant.yaml"))),
        with_vars(source(Provider::Auth0, fixture("deploy_cli_dir"))),
        source(Provider::Cognito, fixture("cognito_single.json")),
        source(Provider::Cognito, fixture("cognito_multiple.json")),
        source(Provider::Cognito, fixture("cognito_array.json")),
        source(Provider::Clerk, fixture("clerk_data.json")),
        source(Provider::Clerk, fixture("clerk_array.json")),
    ]
}

#[test]
fn no_secret_reaches_any_item_or_message() {
    for source in every_fixture_source() {
        let (_, items) = read(&source);
        assert!(!items.all.is_empty(), "{}", source.path.display());
        let text = items.all_text();
        assert!(
            !text.contains(SECRET_MARKER),
            "{} leaks a secret: {text}",
            source.path.display()
        );
    }
    // The fixtures do hold secrets, so the check above means something.
    for name in [
        "auth0_clients.json",
        "tenant.yaml",
        "cognito_single.json",
        "clerk_data.json",
    ] {
        let raw = std::fs::read_to_string(fixture(name)).expect("fixture");
        assert!(raw.contains(SECRET_MARKER), "{name}");
    }
}

#[test]
fn every_emitted_client_is_valid_and_counts_add_up() {
    for source in every_fixture_source() {
        let (stats, items) = read(&source);
        for (decl, location) in items.clients() {
            assert_eq!(validate(decl), Ok(()), "{location}");
        }
        assert_eq!(
            stats.records,
            stats.clients + stats.service_accounts + stats.skipped + stats.invalid,
            "{}",
            source.path.display()
        );
        let oauth = items
            .clients()
            .iter()
            .filter(|(d, _)| matches!(d, ClientDecl::OAuth(_)))
            .count() as u64;
        assert_eq!(oauth, stats.clients);
        assert_eq!(items.skipped().len() as u64, stats.skipped);
        assert_eq!(items.invalid().len() as u64, stats.invalid);
    }
}

#[test]
fn rewrites_run_in_order_before_validation() {
    let mut s = source(Provider::Auth0, fixture("auth0_clients.json"));
    s.rewrite = vec![
        Rewrite {
            from: "https://acme.us.auth0.com".into(),
            to: "https://app.acme.com".into(),
        },
        Rewrite {
            from: "https://app.acme.com/login/callback".into(),
            to: "https://app.acme.com/callback".into(),
        },
    ];
    let (_, items) = read(&s);
    let web = items.oauth("AcmeWeb0000000000000000000000001");
    // The first rule made the Auth0 URL an app URL, the second made it the same as the next
    // entry: kept once, in the first position.
    assert_eq!(
        web.redirect_uris,
        [
            "https://app.acme.com/callback",
            "http://localhost:3000/callback"
        ]
    );
    let warnings = items.warnings_for("AcmeWeb0000000000000000000000001");
    assert!(
        warnings
            .contains(&"redirect_uris: `https://app.acme.com/callback` is listed twice; kept once"),
        "{warnings:?}"
    );
}

#[test]
fn a_rewrite_that_produces_a_bad_uri_makes_the_client_invalid() {
    let mut s = source(Provider::Clerk, fixture("clerk_data.json"));
    s.rewrite = vec![Rewrite {
        from: "https://partner.acme.com".into(),
        to: "http://partner.acme.com".into(),
    }];
    let (stats, items) = read(&s);
    assert_eq!(stats.invalid, 1);
    let err = items.invalid_for("FixturePartnerClientId01");
    assert!(err.message.contains("uses `http`"), "{err}");
}

#[test]
fn duplicate_external_ids_fail_the_second_record() {
    let (_, items) = read(&source(Provider::Auth0, fixture("auth0_invalid.json")));
    let first = items.location("Reports000000000000000000000003");
    assert_eq!(first.index, 2);
    let dup = items.invalid_for("Reports000000000000000000000003");
    assert_eq!(dup.location.index, 3);
    assert_eq!(
        dup.to_string(),
        format!(
            "{}:22 (record 4), external_id `Reports000000000000000000000003`: duplicate \
             external_id: {}:16 (record 3) already has `Reports000000000000000000000003`; \
             Avnology keys clients by external_id, so only the first is migrated",
            fixture("auth0_invalid.json").display(),
            fixture("auth0_invalid.json").display()
        )
    );
}

#[test]
fn a_malformed_redirect_uri_names_file_line_record_and_id() {
    let (_, items) = read(&source(Provider::Auth0, fixture("auth0_invalid.json")));
    let err = items.invalid_for("Wildcard00000000000000000000001");
    assert_eq!(err.location.file, fixture("auth0_invalid.json"));
    assert_eq!(err.location.line, Some(2));
    assert_eq!(err.location.index, 0);
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2 (record 1), external_id `Wildcard00000000000000000000001`: redirect_uris: \
             `https://*.acme.com/callback` contains a `*` wildcard; Avnology matches redirect \
             URIs and origins exactly, so list each one in full",
            fixture("auth0_invalid.json").display()
        )
    );
}

#[test]
fn vars_on_a_provider_without_keywords_warn() {
    let mut s = source(Provider::Clerk, fixture("clerk_data.json"));
    s.vars = vars(&[("ENV", "prod")]);
    let (_, items) = read(&s);
    let ClientItem::Warning(first) = &items.all[0] else {
        panic!("expected a warning first: {:#?}", items.all);
    };
    assert_eq!(
        first.message,
        "`vars` (ENV) fill auth0-deploy-cli placeholders; a clerk export has none, so they are \
         ignored"
    );
}

#[test]
fn firebase_has_no_client_source() {
    let (result, items) = try_read(&source(Provider::Firebase, fixture("clerk_data.json")));
    let err = result.unwrap_err();
    assert!(
        err.message
            .contains("Firebase has no OAuth client registry"),
        "{err}"
    );
    assert!(items.all.is_empty());
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    for provider in [Provider::Auth0, Provider::Cognito, Provider::Clerk] {
        let (result, _) = try_read(&source(provider, fixture("no-such-file.json")));
        let err = result.unwrap_err();
        assert!(err.message.starts_with("cannot open export"), "{err}");
    }
}

#[test]
fn skip_reasons_describe_the_app_type() {
    assert_eq!(
        SkipReason::ClientAppType("salesforce").describe(),
        "Auth0 SSO integration `app_type: salesforce`, not an OAuth client"
    );
    assert!(
        SkipReason::GlobalClient
            .describe()
            .contains("All Applications")
    );
    for (name, text) in SKIPPED_APP_TYPES {
        assert_eq!(skipped_app_type(name), Some(*name));
        assert!(text.contains(name), "{text}");
    }
    assert_eq!(skipped_app_type("spa"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever bytes a client export holds, reading it returns items or an error; it never
    /// panics.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), text in "[ -~\n]{0,300}") {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = |name: &str, content: &[u8], provider: Provider| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).expect("write");
            let mut s = source(provider, path);
            s.vars = vars(&[("ENV", "x"), ("LIST", "[\"a\"]")]);
            let _ = try_read(&s);
        };
        for content in [bytes.as_slice(), text.as_bytes()] {
            run("a.json", content, Provider::Auth0);
            run("a.yaml", content, Provider::Auth0);
            run("c.json", content, Provider::Cognito);
            run("k.json", content, Provider::Clerk);
        }
        // Shapes close to the real thing, with garbage inside.
        let yaml = format!("clients:\n  - name: {text}\n  - {text}\n");
        run("t.yaml", yaml.as_bytes(), Provider::Auth0);
        let doc = format!("{{\"UserPoolClient\": {{\"ClientId\": \"x\", \"CallbackURLs\": [{text:?}]}}}}");
        run("d.json", doc.as_bytes(), Provider::Cognito);
        let clients = dir.path().join("dir").join("clients");
        std::fs::create_dir_all(&clients).expect("mkdir");
        std::fs::write(clients.join("x.json"), &bytes).expect("write");
        std::fs::write(clients.join("y.json"), text.as_bytes()).expect("write");
        let _ = try_read(&source(Provider::Auth0, dir.path().join("dir")));
    }

    /// Validation never panics on arbitrary URIs, names and scopes.
    #[test]
    fn validate_never_panics(uri in ".{0,80}", name in ".{0,10}", public in any::<bool>()) {
        let client = OAuthClient {
            external_id: crate::model::ExternalId::new(name.clone()),
            name,
            client_type: if public { crate::model::ClientType::Public } else { crate::model::ClientType::Confidential },
            redirect_uris: vec![uri.clone()],
            post_logout_redirect_uris: vec![uri.clone()],
            allowed_origins: vec![uri.clone()],
            grant_types: vec![uri.clone()],
            scopes: vec![uri],
        };
        let _ = validate(&ClientDecl::OAuth(client));
    }
}

/// The client parts of the examples: every `[[clients]]` entry validates and every
/// `[[client_sources]]` entry reads without an invalid record, with the counts the READMEs
/// state.
#[test]
fn examples_read_cleanly() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let expected = [
        (
            "auth0",
            1,
            ClientReadStats {
                records: 9,
                clients: 5,
                service_accounts: 2,
                skipped: 2,
                ..ClientReadStats::default()
            },
        ),
        (
            "cognito",
            0,
            ClientReadStats {
                records: 3,
                clients: 2,
                service_accounts: 1,
                ..ClientReadStats::default()
            },
        ),
        (
            "clerk",
            0,
            ClientReadStats {
                records: 2,
                clients: 2,
                ..ClientReadStats::default()
            },
        ),
    ];
    for (dir, declared, want) in expected {
        let manifest = crate::manifest::load(&examples.join(dir).join("migration.toml"))
            .unwrap_or_else(|e| panic!("examples/{dir}: {e}"));
        assert_eq!(manifest.clients.len(), declared, "examples/{dir}");
        for client in &manifest.clients {
            assert_eq!(
                validate(&ClientDecl::OAuth(client.clone())),
                Ok(()),
                "examples/{dir}"
            );
        }
        let mut total = ClientReadStats::default();
        for source in &manifest.client_sources {
            let (stats, items) = read(source);
            assert!(
                items.invalid().is_empty(),
                "examples/{dir}: {:#?}",
                items.invalid()
            );
            assert!(
                !items.all_text().contains("example-secret"),
                "examples/{dir}"
            );
            total.records += stats.records;
            total.clients += stats.clients;
            total.service_accounts += stats.service_accounts;
            total.skipped += stats.skipped;
            total.invalid += stats.invalid;
        }
        assert_eq!(total, want, "examples/{dir}");
    }
}
