//! The client's policies without a server: which base URLs and keys it accepts, what it
//! never shows, how it builds URLs and filters, and what it remembers.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use super::client;
use crate::live::Error;
use crate::live::client::address::id_segment;
use crate::live::client::resource::pick_by_external_id;
use crate::live::client::transport::{RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET};
use crate::live::client::{Client, ClientOptions, MAX_REMEMBERED_SECRETS};
use crate::live::filter;
use crate::wire;

#[test]
fn https_anywhere_http_only_on_loopback() {
    for ok in [
        "https://api-id.avnology.net",
        "https://api-id.avnology.net/",
        "https://example.com:8443/prefix/",
        "http://127.0.0.1:8787",
        "http://127.3.4.5",
        "http://[::1]:9000/",
        "http://localhost:8787",
        "http://LOCALHOST",
    ] {
        assert!(client(ok).is_ok(), "{ok}: {:?}", client(ok).err());
    }
    for insecure in [
        "http://api-id.avnology.net",
        "http://10.0.0.1:80",
        "http://[::2]/",
        "http://localhost.evil.com",
    ] {
        assert!(
            matches!(client(insecure), Err(Error::InsecureUrl { .. })),
            "{insecure}"
        );
    }
    for invalid in [
        "",
        "api-id.avnology.net",
        "ftp://api-id.avnology.net",
        "https://api-id.avnology.net/?x=1",
        "https://api-id.avnology.net/#frag",
        "file:///etc/passwd",
    ] {
        assert!(
            matches!(client(invalid), Err(Error::InvalidUrl { .. })),
            "{invalid}"
        );
    }
}

#[test]
fn credentials_in_the_url_are_refused_and_not_echoed() {
    let err = client("https://user:hunter22@api-id.avnology.net").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter22"), "{err}");
    assert!(!format!("{err:?}").contains("hunter22"));
}

#[test]
fn a_key_with_a_newline_is_refused() {
    let err = Client::new(
        "https://a.example",
        wire::ApiKey::new("ak_x\n"),
        ClientOptions::default(),
    );
    assert!(matches!(err, Err(Error::InvalidApiKey)));
}

#[test]
fn debug_never_shows_the_key() {
    let c = client("https://api-id.avnology.net").unwrap();
    let text = format!("{c:?} {:#?}", c.clone());
    assert!(!text.contains("supersecretvalue"), "{text}");
    assert!(text.contains("(sensitive)"));
    assert!(text.contains("api-id.avnology.net"));
}

#[test]
fn urls_are_built_from_encoded_segments() {
    let c = client("https://example.com/prefix/").unwrap();
    let u = c.url(&["v1", "identities", "usr_1:deactivate"]);
    assert_eq!(
        u.as_str(),
        "https://example.com/prefix/v1/identities/usr_1:deactivate"
    );
    let u = c.url(&["v1", "identities", "a/b?c#d"]);
    assert_eq!(u.path(), "/prefix/v1/identities/a%2Fb%3Fc%23d");
    let c = client("https://example.com").unwrap();
    assert_eq!(
        c.url(&["v1", "identities"]).as_str(),
        "https://example.com/v1/identities"
    );
    assert!(id_segment("..").is_err());
    assert!(id_segment("").is_err());
}

#[test]
fn filters_escape_quotes_and_backslashes() {
    assert_eq!(
        filter::all_equal(&[
            ("external_id", r#"auth0|a"b\c"#),
            ("organization_id", "org_1")
        ]),
        r#"external_id = "auth0|a\"b\\c" AND organization_id = "org_1""#
    );
}

#[test]
fn rate_limit_headers_are_recorded() {
    let c = client("http://127.0.0.1:1").unwrap();
    assert_eq!(c.rate_limit_hint(), None);
    let mut h = HeaderMap::new();
    h.insert(RATE_LIMIT_LIMIT, HeaderValue::from_static("50"));
    h.insert(RATE_LIMIT_REMAINING, HeaderValue::from_static("7, 7;w=1"));
    h.insert(RATE_LIMIT_RESET, HeaderValue::from_static("2"));
    c.record_rate_limit(&h);
    let hint = c.clone().rate_limit_hint().unwrap();
    assert_eq!(
        (hint.limit, hint.remaining, hint.reset),
        (Some(50), Some(7), Some(2))
    );
    assert_eq!(hint.reset_after(), Some(Duration::from_secs(2)));
    c.record_rate_limit(&HeaderMap::new());
    assert!(
        c.rate_limit_hint().is_some(),
        "a response without the headers keeps the last hint"
    );
}

#[test]
fn options_default() {
    let o = ClientOptions::default();
    assert_eq!(
        (
            o.trace.is_on(),
            o.notices.is_on(),
            o.max_attempts,
            o.timeout,
            o.fast_retry
        ),
        (false, true, 8, Duration::from_secs(30), false)
    );
}

#[test]
fn remembered_secrets_are_bounded() {
    let c = client("https://api-id.avnology.net").unwrap();
    for n in 0..MAX_REMEMBERED_SECRETS + 5 {
        c.remember_secret(&format!("cs_{n:08}"));
    }
    let known: Vec<String> = c.with_secrets(Some("pw"), |k| {
        k.iter().map(std::string::ToString::to_string).collect()
    });
    assert_eq!(known.len(), MAX_REMEMBERED_SECRETS + 2);
    assert_eq!(known[0], "ak_test_supersecretvalue");
    assert_eq!(known[1], "pw");
    assert!(
        !known.contains(&"cs_00000000".to_string()),
        "oldest forgotten"
    );
    assert!(known.contains(&format!("cs_{:08}", MAX_REMEMBERED_SECRETS + 4)));
}

#[test]
fn external_id_matches_prefer_no_organization_without_one() {
    type Item = (&'static str, Option<&'static str>);
    fn key(i: &Item) -> (Option<&str>, Option<&str>) {
        (Some(i.0), i.1)
    }
    let items = vec![
        ("auth0|1", Some("org_a")),
        ("auth0|2", None),
        ("auth0|1", None),
    ];
    assert_eq!(
        pick_by_external_id(items.clone(), None, "auth0|1", key),
        Some(("auth0|1", None))
    );
    assert_eq!(
        pick_by_external_id(items.clone(), Some("org_a"), "auth0|1", key),
        Some(("auth0|1", Some("org_a")))
    );
    assert_eq!(
        pick_by_external_id(items.clone(), Some("org_b"), "auth0|1", key),
        None
    );
    assert_eq!(pick_by_external_id(items, None, "auth0|3", key), None);
}
