//! The retry loop against a scripted loopback server: what is retried, how often, for how
//! long, and what the trace and the errors say.

use std::time::{Duration, Instant};

use super::{fake, fast, identity_json, json_header, key, traced};
use crate::live::Error;
use crate::live::client::{Client, ClientOptions, ClientStats};
use crate::printer::Trace;
use crate::wire;

#[tokio::test]
async fn transient_statuses_are_retried_then_succeed() {
    let (url, script) = fake(vec![
        (503, vec![], "down".into()),
        (502, vec![], String::new()),
        (200, json_header(), identity_json("usr_1", "W/\"e1\"")),
    ])
    .await;
    let c = fast(&url);
    let got = c.get_identity("usr_1").await.unwrap();
    assert_eq!(got.etag, "W/\"e1\"");
    assert_eq!(
        c.stats(),
        ClientStats {
            requests: 3,
            retries: 2,
            throttled: 0,
            waiting: 0,
        }
    );
    assert_eq!(script.lock().unwrap().seen.len(), 3);
}

#[tokio::test]
async fn attempts_are_bounded_and_the_last_error_is_returned() {
    let (url, script) = fake(vec![(
        500,
        json_header(),
        r#"{"error":{"code":"AVNOLOGY_AUTH_500","message":"oops","request_id":"req_9"}}"#.into(),
    )])
    .await;
    let c = fast(&url);
    let err = c.get_identity("usr_1").await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert!(err.is_retryable());
    assert_eq!(script.lock().unwrap().seen.len(), 4);
    assert_eq!(c.outage(), None, "a server that answers is not gone");
}

/// 502/503/504 only are a gateway whose backend is gone: retried past the attempt count,
/// until the give-up time.
#[tokio::test]
async fn gateway_errors_are_retried_until_the_give_up_time() {
    let (url, script) = fake(vec![(504, vec![], "gateway timeout".into())]).await;
    let options = ClientOptions {
        fast_retry: true,
        max_attempts: 2,
        give_up_after: Duration::from_millis(300),
        ..Default::default()
    };
    let c = Client::new(&url, key(), options).unwrap();
    let started = Instant::now();
    let err = c.get_identity("usr_1").await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let Error::Unreachable(outage) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(outage.cause, "504 gateway timeout");
    assert!(
        script.lock().unwrap().seen.len() > 2,
        "past the attempt count"
    );
    assert!(err.to_string().contains("has not answered for"), "{err}");
    // From now on every request fails at once, without reaching the server.
    let seen = script.lock().unwrap().seen.len();
    let err = c.get_identity("usr_2").await.unwrap_err();
    assert!(matches!(err, Error::Unreachable(_)), "{err:?}");
    assert_eq!(script.lock().unwrap().seen.len(), seen);
}

/// A server that accepts connections and never answers: each attempt is cut at the
/// give-up time, and the client gives up naming the timeout.
#[tokio::test]
async fn a_server_that_never_answers_is_given_up_on() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let options = ClientOptions {
        give_up_after: Duration::from_millis(400),
        ..Default::default()
    };
    let c = Client::new(&url, key(), options).unwrap();
    let started = Instant::now();
    let err = c.list_identities(None, 1, None).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let Error::Unreachable(outage) = &err else {
        panic!("{err:?}")
    };
    assert!(outage.cause.starts_with("no response within"), "{outage:?}");
}

#[tokio::test]
async fn a_500_is_retried_only_when_replay_is_safe() {
    let req = wire::CreateIdentityRequest {
        identity: wire::IdentityInput {
            email: Some("a@example.com".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let answers = vec![
        (500, vec![], "boom".to_string()),
        (201, json_header(), identity_json("usr_2", "e")),
    ];

    let (url, script) = fake(answers.clone()).await;
    let err = fast(&url).create_identity(&req, None).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(
        script.lock().unwrap().seen.len(),
        1,
        "a plain POST is never replayed after a 500"
    );

    let (url, script) = fake(answers).await;
    let got = fast(&url)
        .create_identity(&req, Some("idem-1"))
        .await
        .unwrap();
    assert_eq!(got.id, "usr_2");
    let seen = script.lock().unwrap().seen.clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.headers["idempotency-key"] == "idem-1")
    );
    assert_eq!(seen[0].body, seen[1].body, "the replay sends the same body");
}

#[tokio::test]
async fn other_4xx_are_not_retried() {
    let (url, script) = fake(vec![(
        409,
        json_header(),
        r#"{"error":{"code":"AVNOLOGY_AUTH_903","message":"etag mismatch","request_id":"req_1"}}"#
            .into(),
    )])
    .await;
    let req = wire::UpdateIdentityRequest {
        update_mask: "first_name".into(),
        ..Default::default()
    };
    let err = fast(&url)
        .update_identity("usr_1", &req, Some("W/\"old\""))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(
        err.to_string(),
        "Avnology API answered 409 AVNOLOGY_AUTH_903 to PATCH /v1/identities/usr_1: etag mismatch \
         (request req_1)"
    );
    let seen = script.lock().unwrap().seen.clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["if-match"], "W/\"old\"");
}

#[tokio::test]
async fn rate_limits_are_counted_honoured_and_recorded() {
    let limited = vec![
        ("retry-after", "1".to_string()),
        ("x-ratelimit-limit", "10".to_string()),
        ("x-ratelimit-remaining", "0".to_string()),
        ("x-ratelimit-reset", "1".to_string()),
    ];
    let page = r#"{"identities":[],"next_page_token":""}"#.to_string();
    let (url, _script) = fake(vec![
        (429, limited.clone(), String::new()),
        (200, json_header(), page.clone()),
    ])
    .await;
    let started = Instant::now();
    let c = fast(&url);
    c.list_identities(None, 10, None).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "fast mode caps Retry-After"
    );
    assert_eq!(
        c.stats(),
        ClientStats {
            requests: 2,
            retries: 1,
            throttled: 1,
            waiting: 0,
        }
    );
    let hint = c.rate_limit_hint().unwrap();
    assert_eq!((hint.limit, hint.remaining), (Some(10), Some(0)));

    // Without fast mode, Retry-After is the minimum wait.
    let (url, _script) = fake(vec![
        (429, limited, String::new()),
        (200, json_header(), page),
    ])
    .await;
    let c = Client::new(&url, key(), ClientOptions::default()).unwrap();
    let started = Instant::now();
    c.list_identities(None, 10, None).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(990),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn transport_errors_are_retried_then_reported_without_the_query() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (trace, traced) = Trace::collect();
    let options = ClientOptions {
        trace,
        fast_retry: true,
        max_attempts: 4,
        give_up_after: Duration::from_millis(300),
        ..Default::default()
    };
    let c = Client::new(&format!("http://127.0.0.1:{port}"), key(), options).unwrap();
    let err = c
        .list_identities(Some(r#"email = "x@y.z""#), 1, None)
        .await
        .unwrap_err();
    // Refused connections are retried until the server has been silent for the
    // give-up time, however many attempts that takes.
    let Error::Unreachable(outage) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(outage.cause, "connection refused");
    assert_eq!(outage.url, format!("http://127.0.0.1:{port}"));
    assert!(!err.is_retryable());
    assert!(c.stats().requests > 4, "{:?}", c.stats());
    let lines = traced.lock().unwrap().clone();
    assert!(
        lines[0].starts_with("avnology: GET /v1/identities → connection refused (attempt 1, ")
            && lines[0].contains("); retrying in "),
        "{lines:?}"
    );
    assert!(
        lines.last().unwrap().ends_with(" s, giving up"),
        "{lines:?}"
    );
    let chain = format!("{:?} {}", anyhow::Error::from(err), "");
    assert!(
        !chain.contains("x@y.z") && !chain.contains("filter"),
        "{chain}"
    );
}

#[tokio::test]
async fn verbose_traces_each_attempt_without_secrets() {
    let (url, _script) = fake(vec![
        (429, vec![("retry-after", "1".to_string())], String::new()),
        (201, json_header(), identity_json("usr_1", "e")),
    ])
    .await;
    let (c, traced) = traced(&url);
    let mut req = wire::CreateIdentityRequest::default();
    req.identity.email = Some("secret-body@example.com".into());
    c.create_identity(&req, Some("idem")).await.unwrap();
    let mut lines = traced.lock().unwrap().clone();
    // The pacer's decision comes first, the moment the 429 arrives.
    assert_eq!(lines.remove(0), "avnology: rate limited: pacing at 10.0/s");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("avnology: POST /v1/identities → 429 (attempt 1, ")
            && lines[0].contains("rate limited, retrying in ")
            && lines[0].ends_with("Retry-After 1000 ms"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("avnology: POST /v1/identities → 201 (attempt 2, "),
        "{lines:?}"
    );
    let all = lines.join("\n");
    assert!(
        !all.contains("supersecretvalue") && !all.contains("secret-body") && !all.contains("idem")
    );

    assert!(
        !ClientOptions::default().trace.is_on(),
        "quiet unless asked"
    );
}
