//! The `live` client against the real emulator binary: one test per behaviour the apply and
//! verify commands rely on (CRUD, paging, lookup by `external_id`, optimistic concurrency,
//! authentication, idempotent creates, the login flow) and the retry policy under the
//! emulator's seeded faults (5xx, 429, dropped connections, commit-then-fail).
//!
//! Everything runs on 127.0.0.1 with `fast_retry`, so fault tests take seconds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use avnology_migrate::live::{Client, ClientOptions, LoginOutcome};
use avnology_migrate::wire::{self, ApiKey, IdentityState};

use crate::common::Emulator;

/// Generous bound on any one test's network work, so a hung emulator fails instead of hanging.
const TEST_BUDGET: Duration = Duration::from_secs(120);

fn client(emu: &Emulator) -> Client {
    client_with(
        emu,
        ClientOptions {
            fast_retry: true,
            ..Default::default()
        },
    )
}

fn client_with(emu: &Emulator, options: ClientOptions) -> Client {
    Client::new(&emu.url, ApiKey::new(emu.api_key.clone()), options).expect("client")
}

/// A create request for a user with `external_id` `ext` and a unique email.
fn new_user(ext: &str) -> wire::CreateIdentityRequest {
    let local: String = ext
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    wire::CreateIdentityRequest {
        identity: wire::IdentityInput {
            external_id: Some(ext.to_string()),
            email: Some(format!("{local}@example.com")),
            first_name: Some("Ada".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn bounded<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_BUDGET, fut)
        .await
        .expect("test exceeded its time budget")
}

/// Every identity the emulator lists, by a fresh client without faults in its way.
async fn all_identities(c: &Client) -> Vec<wire::Identity> {
    let mut all = vec![];
    c.for_each_identity(None, |i| all.push(i))
        .await
        .expect("list");
    all
}

#[tokio::test]
async fn crud_round_trip() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let created = c
            .create_identity(&new_user("auth0|crud"), None)
            .await
            .unwrap();
        assert!(created.id.starts_with("usr_"), "{created:?}");
        assert_eq!(created.external_id.as_deref(), Some("auth0|crud"));
        assert_eq!(created.state, IdentityState::Active);
        assert!(!created.etag.is_empty(), "create returns an etag");

        let got = c.get_identity(&created.id).await.unwrap();
        assert_eq!(got.email, created.email);
        assert!(!got.etag.is_empty());

        let update = wire::UpdateIdentityRequest {
            identity: wire::IdentityInput {
                first_name: Some("Grace".into()),
                ..Default::default()
            },
            update_mask: "first_name".into(),
            ..Default::default()
        };
        let updated = c
            .update_identity(&created.id, &update, Some(&got.etag))
            .await
            .unwrap();
        assert_eq!(updated.first_name.as_deref(), Some("Grace"));
        assert_ne!(updated.etag, got.etag, "an update changes the etag");

        let off = c
            .deactivate_identity(&created.id, Some(&updated.etag))
            .await
            .unwrap();
        assert_eq!(off.state, IdentityState::Inactive);
        let on = c.reactivate_identity(&created.id, None).await.unwrap();
        assert_eq!(on.state, IdentityState::Active);

        c.delete_identity(&created.id, Some(&on.etag))
            .await
            .unwrap();
        let gone = c.get_identity(&created.id).await;
        match gone {
            Ok(i) => assert_eq!(i.state, IdentityState::ScheduledDeletion),
            Err(e) => assert!(e.is_not_found(), "{e}"),
        }

        let missing = c
            .get_identity("usr_00000000-0000-4000-8000-000000000000")
            .await
            .unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
        assert_eq!(missing.code(), Some(wire::codes::NOT_FOUND));
    })
    .await;
}

#[tokio::test]
async fn paging_visits_every_identity_once() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        // 230 identities: two full pages of 100 and a partial one.
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..4 {
            let c = c.clone();
            tasks.spawn(async move {
                for n in (worker..230).step_by(4) {
                    c.create_identity(&new_user(&format!("page|{n:03}")), None)
                        .await
                        .unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }

        let first = c.list_identities(None, 100, None).await.unwrap();
        assert_eq!(first.identities.len(), 100);
        assert!(first.next_page_token.is_some());

        let mut ids = HashSet::new();
        let mut externals = HashSet::new();
        let n = c
            .for_each_identity(None, |i| {
                ids.insert(i.id);
                externals.insert(i.external_id.unwrap());
            })
            .await
            .unwrap();
        assert_eq!(n, 230);
        assert_eq!(ids.len(), 230, "no identity is listed twice");
        assert!((0..230).all(|n| externals.contains(&format!("page|{n:03}"))));

        // A filter narrows the listing.
        let filter = avnology_migrate::live::filter::all_equal(&[("external_id", "page|042")]);
        let n = c.for_each_identity(Some(&filter), |_| {}).await.unwrap();
        assert_eq!(n, 1);
    })
    .await;
}

#[tokio::test]
async fn find_by_external_id_and_organization() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        assert!(c.find_organization_by_name("acme").await.unwrap().is_none());
        let org = c
            .create_organization(
                &wire::CreateOrganizationRequest {
                    name: "acme".into(),
                    display_name: Some("Acme".into()),
                    ..Default::default()
                },
                Some("org-acme-1"),
            )
            .await
            .unwrap();
        let found = c
            .find_organization_by_name("acme")
            .await
            .unwrap()
            .expect("org by name");
        assert_eq!(found.id, org.id);

        // Quotes and backslashes in an external id must survive the filter.
        let tricky = r#"auth0|a"b\c"#;
        let mut req = new_user(tricky);
        req.identity.organization_id = Some(org.id.clone());
        let created = c.create_identity(&req, None).await.unwrap();
        c.create_identity(&new_user("auth0|other"), None)
            .await
            .unwrap();

        let hit = c
            .find_identity_by_external_id(Some(&org.id), tricky)
            .await
            .unwrap();
        assert_eq!(hit.map(|i| i.id), Some(created.id.clone()));
        let hit = c.find_identity_by_external_id(None, tricky).await.unwrap();
        assert_eq!(hit.map(|i| i.id), Some(created.id));
        let miss = c
            .find_identity_by_external_id(Some(&org.id), "auth0|other")
            .await
            .unwrap();
        assert!(miss.is_none(), "the organization narrows the lookup");
        assert!(
            c.find_identity_by_external_id(None, "auth0|nobody")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn a_stale_if_match_is_a_conflict() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let created = c
            .create_identity(&new_user("auth0|etag"), None)
            .await
            .unwrap();
        let mask = |name: &str| wire::UpdateIdentityRequest {
            identity: wire::IdentityInput {
                display_name: Some(name.into()),
                ..Default::default()
            },
            update_mask: "display_name".into(),
            ..Default::default()
        };
        c.update_identity(&created.id, &mask("first"), Some(&created.etag))
            .await
            .unwrap();
        let err = c
            .update_identity(&created.id, &mask("second"), Some(&created.etag))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(err.code(), Some(wire::codes::CONFLICT));
        assert!(!err.is_retryable());
        assert_eq!(c.stats().retries, 0, "a 409 is never retried");
        let text = err.to_string();
        assert!(
            text.contains(&format!("PATCH /v1/identities/{}", created.id)),
            "{text}"
        );

        let err = c
            .delete_identity(&created.id, Some(&created.etag))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_key_is_unauthenticated_and_not_retried() {
    let emu = Emulator::start(&[]);
    let wrong = "ak_test_definitely_not_the_right_key_0000";
    let c = Client::new(
        &emu.url,
        ApiKey::new(wrong),
        ClientOptions {
            fast_retry: true,
            ..Default::default()
        },
    )
    .unwrap();
    bounded(async {
        let err = c.list_identities(None, 10, None).await.unwrap_err();
        assert!(err.is_unauthenticated(), "{err}");
        assert_eq!(err.code(), Some(wire::codes::UNAUTHENTICATED));
        assert_eq!(c.stats().requests, 1);
        let shown = format!("{err} {err:?}");
        let shown = format!("{shown} {:#}", anyhow::Error::from(err));
        assert!(!shown.contains(wrong), "the key leaked: {shown}");
        assert!(!shown.contains(&emu.api_key));
    })
    .await;
}

#[tokio::test]
async fn an_idempotent_create_replays_the_first_answer() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let req = new_user("auth0|idem");
        let first = c
            .create_identity(&req, Some("plan-1:create:auth0|idem"))
            .await
            .unwrap();
        let second = c
            .create_identity(&req, Some("plan-1:create:auth0|idem"))
            .await
            .unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(all_identities(&c).await.len(), 1);

        // Without the key, the same create meets the existing external_id.
        let err = c.create_identity(&req, None).await.unwrap_err();
        assert!(err.is_conflict(), "{err}");
    })
    .await;
}

#[tokio::test]
async fn login_flow_accepts_and_rejects() {
    let emu = Emulator::start(&[]);
    let c = client(&emu);
    bounded(async {
        let mut req = new_user("auth0|login");
        req.initial_password = Some("correct horse battery staple".into());
        let created = c.create_identity(&req, None).await.unwrap();
        let email = created.email.clone();

        let ok = c
            .login(&email, "correct horse battery staple")
            .await
            .unwrap();
        assert_eq!(
            ok,
            LoginOutcome::Success {
                identity_id: created.id.clone()
            }
        );

        let bad = c.login(&email, "wrong password!").await.unwrap();
        let LoginOutcome::Rejected { code, .. } = bad else {
            panic!("{bad:?}")
        };
        assert_eq!(code, wire::codes::INVALID_CREDENTIALS);

        let nobody = c.login("nobody@example.com", "whatever123").await.unwrap();
        assert!(
            matches!(nobody, LoginOutcome::Rejected { .. }),
            "{nobody:?}"
        );

        // A deactivated identity cannot log in.
        c.deactivate_identity(&created.id, None).await.unwrap();
        let off = c
            .login(&email, "correct horse battery staple")
            .await
            .unwrap();
        assert!(matches!(off, LoginOutcome::Rejected { .. }), "{off:?}");
    })
    .await;
    let log = emu.stderr.lock().unwrap().clone();
    assert!(
        !log.contains("correct horse battery staple"),
        "a password reached the log"
    );
}

// ----- retries under the emulator's faults --------------------------------------------------

/// Creates `n` identities `prefix|i` with idempotency keys, `workers` at a time.
async fn create_many(c: &Client, prefix: &str, n: usize, workers: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let c = c.clone();
        let prefix = prefix.to_string();
        tasks.spawn(async move {
            for i in (worker..n).step_by(workers) {
                let ext = format!("{prefix}|{i:03}");
                let key = format!("test-plan:create:{ext}");
                c.create_identity(&new_user(&ext), Some(&key))
                    .await
                    .unwrap_or_else(|e| panic!("create {ext}: {e}"));
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

/// Asserts the emulator holds exactly the identities `prefix|0..n`, each once. Lists
/// through `c`, faults and all: the emulator's faults cannot be switched off at run time.
async fn assert_exactly(c: &Client, prefix: &str, n: usize) {
    let all = all_identities(c).await;
    let externals: Vec<String> = all.into_iter().filter_map(|i| i.external_id).collect();
    let unique: HashSet<&String> = externals.iter().collect();
    assert_eq!(externals.len(), n, "identities listed: {externals:?}");
    assert_eq!(unique.len(), n, "duplicates: {externals:?}");
    assert!((0..n).all(|i| unique.contains(&format!("{prefix}|{i:03}"))));
}

#[tokio::test]
async fn retries_through_injected_5xx() {
    let emu = Emulator::start(&["--fault-5xx", "0.3", "--seed", "7"]);
    let c = client(&emu);
    bounded(async {
        create_many(&c, "5xx", 40, 4).await;
        // Reads retry too.
        assert_exactly(&c, "5xx", 40).await;
        assert!(
            c.stats().retries > 0,
            "30% faults over 40+ requests must cause retries"
        );
    })
    .await;
}

#[tokio::test]
async fn retries_through_dropped_connections() {
    let emu = Emulator::start(&["--fault-drop", "0.25", "--seed", "3"]);
    let c = client(&emu);
    bounded(async {
        create_many(&c, "drop", 30, 3).await;
        assert!(
            c.stats().retries > 0,
            "25% drops over 30+ requests must cause retries"
        );
        assert_exactly(&c, "drop", 30).await;
    })
    .await;
}

#[tokio::test]
async fn commit_then_fail_with_an_idempotency_key_creates_exactly_once() {
    let emu = Emulator::start(&["--fault-commit-fail", "0.5", "--seed", "11"]);
    let c = client(&emu);
    bounded(async {
        create_many(&c, "commit", 20, 2).await;
        assert!(
            c.stats().retries > 0,
            "50% commit failures over 20 creates must cause retries"
        );
        assert_exactly(&c, "commit", 20).await;
    })
    .await;
}

#[tokio::test]
async fn commit_then_fail_without_a_key_is_not_replayed() {
    let emu = Emulator::start(&["--fault-commit-fail", "0.5", "--seed", "5"]);
    let c = client(&emu);
    bounded(async {
        // Keep creating until one answers 500: that write happened although it failed.
        for i in 0..40 {
            let ext = format!("nokey|{i:03}");
            match c.create_identity(&new_user(&ext), None).await {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.status(), Some(500), "{e}");
                    assert_eq!(
                        c.stats().retries,
                        0,
                        "a plain POST is never replayed after a 500"
                    );
                    let found = c.find_identity_by_external_id(None, &ext).await.unwrap();
                    assert!(found.is_some(), "commit-then-fail committed the write");
                    return;
                }
            }
        }
        panic!("no commit failure in 40 creates at p = 0.5");
    })
    .await;
}

#[tokio::test]
async fn rate_limits_are_absorbed_by_retries() {
    let emu = Emulator::start(&["--rate-limit", "40", "--burst", "5"]);
    // Four workers against 40 rps with 20 ms waits: many 429s; enough attempts to get through.
    let c = client_with(
        &emu,
        ClientOptions {
            fast_retry: true,
            max_attempts: 100,
            ..Default::default()
        },
    );
    bounded(async {
        create_many(&c, "rl", 40, 4).await;
        let stats = c.stats();
        assert!(stats.throttled > 0, "{stats:?}");
        assert!(stats.retries >= stats.throttled, "{stats:?}");
        let hint = c
            .rate_limit_hint()
            .expect("the emulator sends X-RateLimit-* headers");
        assert_eq!(hint.limit, Some(5), "the bucket size");
    })
    .await;
    bounded(assert_exactly(&c, "rl", 40)).await;
}

#[tokio::test]
async fn retry_after_is_honoured_without_fast_retry() {
    let emu = Emulator::start(&["--rate-limit", "1", "--burst", "1"]);
    let c = client_with(&emu, ClientOptions::default());
    bounded(async {
        let started = Instant::now();
        c.list_identities(None, 1, None).await.unwrap();
        c.list_identities(None, 1, None).await.unwrap();
        let stats = c.stats();
        assert!(stats.throttled >= 1, "{stats:?}");
        // The second call waited for the bucket: at least the Retry-After of about a second,
        // far more than the 200 ms first backoff step.
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}
