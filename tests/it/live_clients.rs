//! The `live` client's OAuth-client, service-account and API-key calls against the real
//! emulator binary: CRUD round trips, exact redirect URIs, decoded validation errors,
//! `If-Match` conflicts, secrets shown exactly once and never in `Debug`, idempotent
//! creates, and a minted key that really works as an API key.

use std::time::Duration;

use avnology_migrate::live::{Client, ClientOptions};
use avnology_migrate::wire::{self, ApiKey, client_scopes, scopes};

use crate::common::Emulator;

/// Generous bound on any one test's network work, so a hung emulator fails instead of hanging.
const TEST_BUDGET: Duration = Duration::from_secs(120);

async fn bounded<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_BUDGET, fut)
        .await
        .expect("test exceeded its time budget")
}

fn client(emu: &Emulator) -> Client {
    client_with_key(emu, &emu.api_key)
}

fn client_with_key(emu: &Emulator, key: &str) -> Client {
    let options = ClientOptions {
        fast_retry: true,
        ..Default::default()
    };
    Client::new(&emu.url, ApiKey::new(key.to_string()), options).expect("client")
}

fn confidential(external_id: &str) -> wire::CreateOAuthClientRequest {
    wire::CreateOAuthClientRequest {
        client: wire::OAuthClientInput {
            external_id: Some(external_id.into()),
            client_name: Some(format!("Web {external_id}")),
            client_type: Some("confidential".into()),
            redirect_uris: Some(vec![
                "https://app.example.com/callback".into(),
                "https://app.example.com/alt?x=1".into(),
            ]),
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            scopes: Some(vec!["openid".into(), "email".into()]),
            metadata: Some(serde_json::Map::from_iter([(
                "avnology_migrate".to_string(),
                serde_json::json!({"source": "auth0"}),
            )])),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn oauth_client_crud_round_trip_keeps_redirect_uris_exact() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let uris: Vec<String> = [
            "https://z.example.com/last-first",
            "com.example.app:/callback",
            "http://localhost:3000/cb/",
            "https://A.example.com/Case?q=1&r=2",
        ]
        .map(String::from)
        .to_vec();
        let mut req = confidential("auth0|crud");
        req.client.redirect_uris = Some(uris.clone());
        let created = c.create_oauth_client(&req, None).await.unwrap();
        let cl = &created.client;
        assert!(cl.client_id.starts_with("cli_"), "{cl:?}");
        assert_eq!(cl.redirect_uris, uris, "order and spelling are kept");
        assert_eq!(cl.token_endpoint_auth_method, "client_secret_post");
        assert!(!cl.etag.is_empty());

        let got = c.get_oauth_client(&cl.client_id).await.unwrap();
        assert_eq!(&got, cl);

        let found = c
            .find_oauth_client_by_external_id(None, "auth0|crud")
            .await
            .unwrap()
            .expect("found by external_id");
        assert_eq!(found.client_id, cl.client_id);
        assert!(
            c.find_oauth_client_by_external_id(None, "auth0|none")
                .await
                .unwrap()
                .is_none()
        );

        let update = wire::UpdateOAuthClientRequest {
            client: wire::OAuthClientInput {
                client_name: Some("Renamed".into()),
                redirect_uris: Some(vec!["https://new.example.com/cb".into()]),
                allowed_origins: Some(vec!["https://new.example.com".into()]),
                ..Default::default()
            },
            update_mask: "client_name,redirect_uris,allowed_origins".into(),
        };
        let updated = c
            .update_oauth_client(&cl.client_id, &update, Some(&got.etag))
            .await
            .unwrap();
        assert_eq!(updated.client_name, "Renamed");
        assert_eq!(updated.redirect_uris, ["https://new.example.com/cb"]);
        assert_eq!(updated.allowed_origins, ["https://new.example.com"]);
        assert_eq!(updated.scopes, ["openid", "email"]);
        assert_ne!(updated.etag, got.etag);

        let mut seen = vec![];
        let n = c
            .for_each_oauth_client(None, |x| seen.push(x.client_id))
            .await
            .unwrap();
        assert_eq!((n, seen), (1, vec![cl.client_id.clone()]));

        c.delete_oauth_client(&cl.client_id, Some(&updated.etag))
            .await
            .unwrap();
        let gone = c.get_oauth_client(&cl.client_id).await.unwrap_err();
        assert!(gone.is_not_found(), "{gone}");
        assert_eq!(gone.code(), Some(wire::codes::NOT_FOUND));
    })
    .await;
}

#[tokio::test]
async fn paging_visits_every_oauth_client_once() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        for n in 0..105 {
            c.create_oauth_client(&confidential(&format!("page|{n:03}")), None)
                .await
                .unwrap();
        }
        let first = c.list_oauth_clients(None, 100, None).await.unwrap();
        assert_eq!(first.oauth_clients.len(), 100);
        assert!(first.next_page_token.is_some());
        let mut ids = std::collections::HashSet::new();
        let n = c
            .for_each_oauth_client(None, |x| {
                ids.insert(x.client_id);
            })
            .await
            .unwrap();
        assert_eq!((n, ids.len()), (105, 105));
        let filter = avnology_migrate::live::filter::all_equal(&[("external_id", "page|042")]);
        assert_eq!(
            c.for_each_oauth_client(Some(&filter), |_| {})
                .await
                .unwrap(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_malformed_redirect_uri_is_a_decoded_400_naming_the_field() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let mut req = confidential("auth0|bad");
        req.client.redirect_uris = Some(vec![
            "https://ok.example.com/cb".into(),
            "https://app.example.com/cb#fragment".into(),
        ]);
        let err = c.create_oauth_client(&req, None).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{err}");
        assert_eq!(err.code(), Some(wire::codes::VALIDATION));
        assert_eq!(err.field(), Some("redirect_uris"));
        assert!(err.to_string().contains("redirect_uris[1]"), "{err}");

        req.client.redirect_uris = Some(vec!["https://ok.example.com/cb".into()]);
        req.client.grant_types = Some(vec!["implicit".into()]);
        let err = c.create_oauth_client(&req, None).await.unwrap_err();
        assert_eq!(err.field(), Some("grant_types"), "{err}");
        let n = c.for_each_oauth_client(None, |_| {}).await.unwrap();
        assert_eq!(n, 0);
    })
    .await;
}

#[tokio::test]
async fn a_stale_if_match_on_a_client_is_a_conflict() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let created = c
            .create_oauth_client(&confidential("auth0|etag"), None)
            .await
            .unwrap();
        let stale = created.client.etag.clone();
        let rename = |name: &str| wire::UpdateOAuthClientRequest {
            client: wire::OAuthClientInput {
                client_name: Some(name.into()),
                ..Default::default()
            },
            update_mask: "client_name".into(),
        };
        c.update_oauth_client(&created.client.client_id, &rename("one"), Some(&stale))
            .await
            .unwrap();
        let err = c
            .update_oauth_client(&created.client.client_id, &rename("two"), Some(&stale))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(err.reason(), Some("etag_mismatch"));
        let err = c
            .delete_oauth_client(&created.client.client_id, Some(&stale))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err}");
        // Changing the type is refused and named.
        let retype = wire::UpdateOAuthClientRequest {
            client: wire::OAuthClientInput {
                client_type: Some("public".into()),
                ..Default::default()
            },
            update_mask: "client_type".into(),
        };
        let err = c
            .update_oauth_client(&created.client.client_id, &retype, None)
            .await
            .unwrap_err();
        // Fixed after create: the request conflicts with the client.
        assert_eq!(
            (err.status(), err.field()),
            (Some(409), Some("client_type"))
        );
        // A duplicate external_id is a conflict about that field.
        let err = c
            .create_oauth_client(&confidential("auth0|etag"), None)
            .await
            .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(
            (err.field(), err.reason()),
            (Some("external_id"), Some("already_exists"))
        );
    })
    .await;
}

#[tokio::test]
async fn the_secret_is_returned_once_and_never_shown() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let created = c
            .create_oauth_client(&confidential("auth0|secret"), None)
            .await
            .unwrap();
        let secret = created
            .client_secret
            .clone()
            .expect("a confidential client has a secret");
        assert!(secret.starts_with("cs_") && secret.len() == 51, "shape");
        let shown = format!("{created:?} {created:#?}");
        assert!(!shown.contains(&secret), "Debug shows the secret: {shown}");
        assert!(shown.contains("(sensitive)"));

        let got = c.get_oauth_client(&created.client.client_id).await.unwrap();
        let page = c.list_oauth_clients(None, 10, None).await.unwrap();
        let all = format!(
            "{} {} {got:?} {page:?}",
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&page).unwrap()
        );
        assert!(!all.contains(&secret), "{all}");

        let public = c
            .create_oauth_client(
                &wire::CreateOAuthClientRequest {
                    client: wire::OAuthClientInput {
                        client_name: Some("SPA".into()),
                        client_type: Some("public".into()),
                        redirect_uris: Some(vec!["https://spa.example.com/cb".into()]),
                        ..Default::default()
                    },
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(public.client_secret, None);
        assert_eq!(public.client.token_endpoint_auth_method, "none");
    })
    .await;
}

#[tokio::test]
async fn an_idempotent_client_create_replays_the_same_secret() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let req = confidential("auth0|idem");
        let first = c
            .create_oauth_client(&req, Some("idem-client-1"))
            .await
            .unwrap();
        let again = c
            .create_oauth_client(&req, Some("idem-client-1"))
            .await
            .unwrap();
        assert_eq!(again.client.client_id, first.client.client_id);
        assert_eq!(again.client_secret, first.client_secret);
        assert!(first.client_secret.is_some());
        let n = c.for_each_oauth_client(None, |_| {}).await.unwrap();
        assert_eq!(n, 1, "exactly one client exists");
        let mut other = req.clone();
        other.client.client_name = Some("Different".into());
        let err = c
            .create_oauth_client(&other, Some("idem-client-1"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Some("idempotency_key_reused"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn commit_then_fail_with_an_idempotency_key_still_delivers_the_secret() {
    // Every successful write is answered 500 after committing; the client retries with the
    // same Idempotency-Key, and the replay is a 500 again, so the call fails. A later run
    // (same key) against a healthy emulator on the same file replays the secret.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("trap.db");
    let emu = Emulator::start_with_db(&db, &["--fault-commit-fail", "1"]);
    let c = client(&emu);
    let req = confidential("auth0|trap");
    let err = bounded(c.create_oauth_client(&req, Some("trap-1")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    emu.stop();
    let emu = Emulator::start_with_db(&db, &[]);
    let c = client(&emu);
    bounded(async {
        let created = c.create_oauth_client(&req, Some("trap-1")).await.unwrap();
        assert!(created.client_secret.is_some());
        assert_eq!(c.for_each_oauth_client(None, |_| {}).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_service_account_key_is_minted_once_and_works() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let owner = c
            .create_identity(
                &wire::CreateIdentityRequest {
                    identity: wire::IdentityInput {
                        email: Some("owner@example.com".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let sa = c
            .create_service_account(
                &wire::CreateServiceAccountRequest {
                    name: "Backend".into(),
                    owner_id: owner.id.clone(),
                    external_id: Some("auth0|m2m".into()),
                    ..Default::default()
                },
                Some("sa-1"),
            )
            .await
            .unwrap();
        assert!(sa.id.starts_with("sa_") && sa.active && !sa.etag.is_empty());
        let again = c
            .create_service_account(
                &wire::CreateServiceAccountRequest {
                    name: "Backend".into(),
                    owner_id: owner.id.clone(),
                    external_id: Some("auth0|m2m".into()),
                    ..Default::default()
                },
                Some("sa-1"),
            )
            .await
            .unwrap();
        assert_eq!(again.id, sa.id, "an idempotent replay");
        let found = c
            .find_service_account_by_external_id(None, "auth0|m2m")
            .await
            .unwrap()
            .expect("found");
        assert_eq!(found.id, sa.id);
        assert_eq!(c.get_service_account(&sa.id).await.unwrap(), found);

        let created = c
            .create_api_key(
                &sa.id,
                &wire::CreateApiKeyRequest {
                    name: "ci".into(),
                    scopes: vec![scopes::USERS_READ.into()],
                    expire_time: None,
                },
                Some("key-1"),
            )
            .await
            .unwrap();
        let key = created.key.clone();
        assert!(key.starts_with("ak_test_") && key.len() == 72);
        let shown = format!("{created:?} {created:#?}");
        assert!(!shown.contains(&key), "Debug shows the key: {shown}");
        let replay = c
            .create_api_key(
                &sa.id,
                &wire::CreateApiKeyRequest {
                    name: "ci".into(),
                    scopes: vec![scopes::USERS_READ.into()],
                    expire_time: None,
                },
                Some("key-1"),
            )
            .await
            .unwrap();
        assert_eq!(replay.key, key);
        assert_eq!(replay.record.id, created.record.id);

        let keys = c.list_api_keys(&sa.id).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0], created.record);
        assert!(!format!("{keys:?}").contains(&key));

        // The key is an API key of its own, with exactly its scope.
        let as_sa = client_with_key(&emu, &key);
        assert!(as_sa.list_identities(None, 10, None).await.is_ok());
        let err = as_sa
            .create_identity(
                &wire::CreateIdentityRequest {
                    identity: wire::IdentityInput {
                        email: Some("x@example.com".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        assert!(!format!("{err} {err:?}").contains(&key));
        let err = as_sa.list_oauth_clients(None, 10, None).await.unwrap_err();
        assert_eq!(err.status(), Some(403));

        c.delete_api_key(&sa.id, &created.record.id).await.unwrap();
        let err = as_sa.list_identities(None, 10, None).await.unwrap_err();
        assert!(err.is_unauthenticated(), "{err}");
        assert!(c.list_api_keys(&sa.id).await.unwrap().is_empty());
        let err = c
            .delete_api_key(&sa.id, &created.record.id)
            .await
            .unwrap_err();
        assert!(err.is_not_found());
    })
    .await;
}

#[tokio::test]
async fn service_account_update_delete_and_owner_checks() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let err = c
            .create_service_account(
                &wire::CreateServiceAccountRequest {
                    name: "Orphan".into(),
                    owner_id: "usr_00000000-0000-4000-8000-000000000000".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap_err();
        // An owner that does not exist is a 404 naming the field.
        assert_eq!(
            (err.status(), err.field()),
            (Some(404), Some("owner_id")),
            "{err}"
        );

        let owner = c
            .create_identity(
                &wire::CreateIdentityRequest {
                    identity: wire::IdentityInput {
                        email: Some("sa-owner@example.com".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let sa = c
            .create_service_account(
                &wire::CreateServiceAccountRequest {
                    name: "Worker".into(),
                    owner_id: owner.id,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let update = wire::UpdateServiceAccountRequest {
            description: Some("nightly jobs".into()),
            metadata: Some(serde_json::Map::from_iter([(
                "team".to_string(),
                serde_json::json!("data"),
            )])),
            update_mask: "description,metadata.team".into(),
            ..Default::default()
        };
        let updated = c
            .update_service_account(&sa.id, &update, Some(&sa.etag))
            .await
            .unwrap();
        assert_eq!(updated.description.as_deref(), Some("nightly jobs"));
        assert_eq!(updated.metadata["team"], "data");
        let err = c
            .update_service_account(&sa.id, &update, Some(&sa.etag))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Some("etag_mismatch"), "{err}");

        let mut seen = vec![];
        let n = c
            .for_each_service_account(None, |a| seen.push(a.id))
            .await
            .unwrap();
        assert_eq!((n, seen), (1, vec![sa.id.clone()]));

        let key = c
            .create_api_key(
                &sa.id,
                &wire::CreateApiKeyRequest {
                    name: "all".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let as_sa = client_with_key(&emu, &key.key);
        assert!(
            as_sa.list_oauth_clients(None, 1, None).await.is_ok(),
            "no scopes means every scope ({})",
            client_scopes::CLIENTS_READ
        );
        c.delete_service_account(&sa.id, Some(&updated.etag))
            .await
            .unwrap();
        let err = as_sa.list_oauth_clients(None, 1, None).await.unwrap_err();
        assert!(
            err.is_unauthenticated(),
            "deleting the account revokes its keys"
        );
        let err = c.get_service_account(&sa.id).await.unwrap_err();
        assert!(err.is_not_found());
    })
    .await;
}
