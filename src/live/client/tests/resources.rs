//! Each resource's calls against a scripted loopback server: the paths and headers the
//! API expects, etags, paging, the login flow, and secrets shown once.

use reqwest::Url;

use super::{fake, fast, identity_json, json_header, traced};
use crate::live::Error;
use crate::live::client::{LoginOutcome, USER_AGENT};
use crate::wire;

#[tokio::test]
async fn headers_and_paths_are_what_the_api_expects() {
    let (url, script) = fake(vec![(200, json_header(), identity_json("usr_1", ""))]).await;
    let c = fast(&url);
    let got = c
        .deactivate_identity("usr_1", Some("W/\"e\""))
        .await
        .unwrap();
    assert_eq!(got.id, "usr_1");
    let filter = crate::live::filter::all_equal(&[("external_id", "auth0|1")]);
    let _ = c.list_identities(Some(&filter), 100, Some("tok")).await;
    let seen = script.lock().unwrap().seen.clone();
    let first = &seen[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("POST", "/v1/identities/usr_1:deactivate")
    );
    assert_eq!(
        first.headers["authorization"],
        "Bearer ak_test_supersecretvalue"
    );
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(first.headers["user-agent"], USER_AGENT);
    assert_eq!(first.headers["if-match"], "W/\"e\"");
    assert!(!first.headers.contains_key("idempotency-key"));
    assert_eq!(first.body, b"{}");
    let q: Vec<(String, String)> = Url::parse(&format!("http://x{}", seen[1].path))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(
        q.contains(&("filter".into(), r#"external_id = "auth0|1""#.into())),
        "{q:?}"
    );
    assert!(q.contains(&("page_size".into(), "100".into())));
    assert!(q.contains(&("page_token".into(), "tok".into())));
    assert!(!seen[1].headers.contains_key("content-type"));
}

#[tokio::test]
async fn the_etag_header_fills_a_missing_body_etag() {
    let mut headers = json_header();
    headers.push(("etag", "W/\"from-header\"".into()));
    let (url, _script) = fake(vec![(200, headers, identity_json("usr_1", ""))]).await;
    let got = fast(&url).get_identity("usr_1").await.unwrap();
    assert_eq!(got.etag, "W/\"from-header\"");
}

#[tokio::test]
async fn login_sends_no_key_and_maps_rejections() {
    let (url, script) = fake(vec![
        (
            200,
            json_header(),
            r#"{"id":"flow_1","expire_time":"2030-01-01T00:00:00Z"}"#.into(),
        ),
        (
            401,
            json_header(),
            r#"{"error":{"code":"AVNOLOGY_AUTH_001","message":"wrong password","request_id":"r"}}"#
                .into(),
        ),
    ])
    .await;
    let outcome = fast(&url)
        .login("a@example.com", "hunter2hunter2")
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LoginOutcome::Rejected {
            code: "AVNOLOGY_AUTH_001".into(),
            message: "wrong password".into()
        }
    );
    let seen = script.lock().unwrap().seen.clone();
    assert_eq!(seen[1].path, "/v1/flows/login/flow_1:submit");
    assert!(
        seen.iter()
            .all(|s| !s.headers.contains_key("authorization"))
    );
    let body: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(body["method"], "password");
}

#[tokio::test]
async fn paging_follows_tokens_and_stops_on_a_repeat() {
    let page = |ids: &[&str], next: &str| {
        let identities: Vec<_> = ids
            .iter()
            .map(|id| serde_json::from_str::<serde_json::Value>(&identity_json(id, "e")).unwrap())
            .collect();
        serde_json::json!({"identities": identities, "next_page_token": next}).to_string()
    };
    let (url, _s) = fake(vec![
        (200, json_header(), page(&["usr_1", "usr_2"], "t1")),
        (200, json_header(), page(&["usr_3"], "")),
    ])
    .await;
    let mut ids = vec![];
    let n = fast(&url)
        .for_each_identity(None, |i| ids.push(i.id))
        .await
        .unwrap();
    assert_eq!(
        (n, ids),
        (3, vec!["usr_1".to_string(), "usr_2".into(), "usr_3".into()])
    );

    let (url, _s) = fake(vec![(200, json_header(), page(&["usr_1"], "same"))]).await;
    let err = fast(&url)
        .for_each_identity(None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

const SECRET: &str = "cs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";

fn created_client_json() -> String {
    serde_json::json!({
        "client": {
            "client_id": "cli_1", "client_name": "n", "client_type": "confidential",
            "token_endpoint_auth_method": "client_secret_post", "etag": ""
        },
        "client_secret": SECRET,
    })
    .to_string()
}

#[tokio::test]
async fn minted_secrets_are_masked_in_later_errors_and_traces() {
    let mut created_headers = json_header();
    created_headers.push(("etag", "W/\"c1\"".into()));
    let echo = format!(
        r#"{{"error":{{"code":"AVNOLOGY_AUTH_902","message":"bad {SECRET}","request_id":"r","details":{{"field":"{SECRET}"}}}}}}"#
    );
    let (url, script) = fake(vec![
        (201, created_headers, created_client_json()),
        (400, json_header(), echo),
    ])
    .await;
    let (c, traced) = traced(&url);
    let created = c
        .create_oauth_client(&wire::CreateOAuthClientRequest::default(), Some("idem"))
        .await
        .unwrap();
    assert_eq!(created.client_secret.as_deref(), Some(SECRET));
    assert_eq!(created.client.etag, "W/\"c1\"", "filled from the header");
    assert!(!format!("{created:?}").contains(SECRET));
    let err = c.get_oauth_client("cli_1").await.unwrap_err();
    let shown = format!("{err} {err:?} {:?}", err.field());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("(sensitive)"), "{shown}");
    // Even a secret passed where an id belongs stays out of the trace and the error.
    let err = c.get_oauth_client(SECRET).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(SECRET), "{err}");
    let lines = traced.lock().unwrap().join("\n");
    assert!(!lines.contains(SECRET), "{lines}");
    assert!(
        lines.contains("GET /v1/oauth-clients/(sensitive) → 400"),
        "{lines}"
    );
    let seen = script.lock().unwrap().seen.clone();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/v1/oauth-clients")
    );
    assert_eq!(seen[0].headers["idempotency-key"], "idem");
    assert_eq!(seen[1].path, "/v1/oauth-clients/cli_1");
}

#[tokio::test]
async fn a_malformed_secret_bearing_response_is_never_quoted() {
    let leak = "cs_LEAKEDSECRETVALUE";
    let body = format!(r#"{{"client": "{leak}"}}"#);
    let (url, _s) = fake(vec![(201, json_header(), body)]).await;
    let err = fast(&url)
        .create_oauth_client(&wire::CreateOAuthClientRequest::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(leak), "{err}");
    assert!(err.to_string().contains("withheld"), "{err}");

    let key_body = r#"{"id":"key_1","prefix":"ak_test_abcd...","name":"n","key":7}"#;
    let (url, _s) = fake(vec![(201, json_header(), key_body.into())]).await;
    let err = fast(&url)
        .create_api_key("sa_1", &wire::CreateApiKeyRequest::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn service_account_and_key_calls_use_the_documented_paths() {
    let key_json = serde_json::json!({
        "id": "key_1", "prefix": "ak_test_abcd...", "name": "ci", "scopes": [],
        "active": true, "create_time": "t",
        "key": "ak_test_mintedkeyvalue0000000000000000000000000000000000000000000000"
    })
    .to_string();
    let (url, script) = fake(vec![
        (201, json_header(), key_json),
        (200, json_header(), r#"{"keys":[]}"#.into()),
        (204, vec![], String::new()),
        (200, json_header(), r#"{"service_accounts":[]}"#.into()),
    ])
    .await;
    let c = fast(&url);
    let minted = c
        .create_api_key("sa_1", &wire::CreateApiKeyRequest::default(), Some("k1"))
        .await
        .unwrap();
    assert!(!format!("{minted:?}").contains("mintedkeyvalue"));
    assert!(
        c.with_secrets(None, |known| known.contains(&minted.key.as_str())),
        "a minted key is remembered for masking"
    );
    assert!(c.list_api_keys("sa_1").await.unwrap().is_empty());
    c.delete_api_key("sa_1", "key_1").await.unwrap();
    let found = c
        .find_service_account_by_external_id(Some("org_1"), "auth0|m2m")
        .await
        .unwrap();
    assert!(found.is_none());
    assert!(
        c.delete_api_key("sa_1", "").await.is_err(),
        "empty ids are refused"
    );
    let seen = script.lock().unwrap().seen.clone();
    let calls: Vec<(&str, String)> = seen
        .iter()
        .map(|s| {
            (
                s.method.as_str(),
                s.path.split('?').next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/v1/service-accounts/sa_1/keys".to_string()),
            ("GET", "/v1/service-accounts/sa_1/keys".into()),
            ("DELETE", "/v1/service-accounts/sa_1/keys/key_1".into()),
            ("GET", "/v1/service-accounts".into()),
        ]
    );
    assert_eq!(seen[0].headers["idempotency-key"], "k1");
    let q: Vec<(String, String)> = Url::parse(&format!("http://x{}", seen[3].path))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(
        q.contains(&(
            "filter".into(),
            r#"external_id = "auth0|m2m" AND organization_id = "org_1""#.into()
        )),
        "{q:?}"
    );
}
