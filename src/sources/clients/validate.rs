//! What Avnology accepts for a client, checked offline so a bad redirect URI fails `validate`
//! with the file and record that hold it rather than an API error halfway through `apply`.
//!
//! The rules follow Avnology's runtime (exact redirect-URI matching, OAuth 2.1 grants, PKCE
//! for public clients) and the OAuth security BCPs it builds on: RFC 6749 3.1.2 (absolute
//! redirect URIs without fragments), RFC 8252 (loopback `http` and reverse-DNS private-use
//! schemes for native apps). Messages name the field and the offending value; client values
//! are never secret, so quoting them is safe. The sizes are the server's own
//! ([`crate::model::limits`], which the emulator enforces too).

use std::collections::HashSet;

use crate::model::limits::{
    self, MAX_LIST_LEN, MAX_NAME_CHARS, MAX_SCOPE_LEN, MAX_URI_LEN, abbreviate,
};
use crate::model::{ClientDecl, ClientType, OAuthClient, ServiceAccount};

use super::convert::OAUTH21_GRANTS;

/// Checks one client as Avnology would accept it (used for `[[clients]]` declared in the
/// manifest too): Err(message) names the field and the offending value.
///
/// Every problem of the client is reported, `; `-separated, so one round of fixes suffices.
pub fn validate(decl: &ClientDecl) -> Result<(), String> {
    let mut problems = Vec::new();
    match decl {
        ClientDecl::OAuth(client) => oauth_client(client, &mut problems),
        ClientDecl::ServiceAccount(account) => service_account(account, &mut problems),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn oauth_client(c: &OAuthClient, problems: &mut Vec<String>) {
    external_id(c.external_id.as_str(), problems);
    name(&c.name, problems);
    for (field, list) in [
        ("redirect_uris", &c.redirect_uris),
        ("post_logout_redirect_uris", &c.post_logout_redirect_uris),
    ] {
        // A list over the limit is one problem, not thousands.
        if too_long(field, list, problems) {
            continue;
        }
        for uri in list {
            if let Err(why) = redirect_uri(uri, c.client_type) {
                problems.push(format!("{field}: `{}` {why}", quote(uri)));
            }
        }
        repeats(field, list, problems);
    }
    if !too_long("allowed_origins", &c.allowed_origins, problems) {
        for origin in &c.allowed_origins {
            if let Err(why) = allowed_origin(origin) {
                problems.push(format!("allowed_origins: `{}` {why}", quote(origin)));
            }
        }
        repeats("allowed_origins", &c.allowed_origins, problems);
    }

    too_long("grant_types", &c.grant_types, problems);
    for grant in &c.grant_types {
        if !OAUTH21_GRANTS.contains(&grant.as_str()) {
            problems.push(format!(
                "grant_types: `{grant}` is not a grant Avnology supports (authorization_code, \
                 refresh_token, client_credentials)"
            ));
        }
    }
    if c.client_type == ClientType::Public
        && c.grant_types.iter().any(|g| g == "client_credentials")
    {
        problems.push(
            "grant_types: a public client cannot use `client_credentials` (it has no secret to \
             authenticate with); make it confidential or drop the grant"
                .to_owned(),
        );
    }
    repeats("grant_types", &c.grant_types, problems);
    scopes(&c.scopes, problems);
}

fn service_account(s: &ServiceAccount, problems: &mut Vec<String>) {
    external_id(s.external_id.as_str(), problems);
    name(&s.name, problems);
    scopes(&s.scopes, problems);
}

fn external_id(id: &str, problems: &mut Vec<String>) {
    if id.trim().is_empty() {
        problems.push("external_id is empty".to_owned());
    }
    problems.extend(limits::external_id(id));
}

/// A URI as a message quotes it: whole, unless it is over the length limit (then the
/// message says how long it is).
fn quote(uri: &str) -> String {
    if uri.len() > MAX_URI_LEN {
        abbreviate(uri)
    } else {
        uri.to_owned()
    }
}

/// Records a problem when `list` has more entries than Avnology accepts; true if it does.
fn too_long(field: &str, list: &[String], problems: &mut Vec<String>) -> bool {
    let over = list.len() > MAX_LIST_LEN;
    if over {
        problems.push(format!(
            "{field} has {} entries; Avnology allows at most {MAX_LIST_LEN}",
            list.len()
        ));
    }
    over
}

fn name(name: &str, problems: &mut Vec<String>) {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        problems.push("name is empty; Avnology requires 1–256 characters".to_owned());
    } else if chars > MAX_NAME_CHARS {
        let head: String = name.chars().take(40).collect();
        problems.push(format!(
            "name `{head}…` is {chars} characters long; Avnology allows at most \
             {MAX_NAME_CHARS}"
        ));
    }
}

fn scopes(scopes: &[String], problems: &mut Vec<String>) {
    if too_long("scopes", scopes, problems) {
        return;
    }
    for scope in scopes {
        if scope.len() > MAX_SCOPE_LEN {
            problems.push(format!(
                "scopes: `{}` is {} bytes long; Avnology allows at most {MAX_SCOPE_LEN}",
                abbreviate(scope),
                scope.len()
            ));
            continue;
        }
        // RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let token = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !token {
            problems.push(format!(
                "scopes: `{scope}` is not one scope token (printable ASCII without spaces, `\"` \
                 or `\\`)"
            ));
        }
    }
    repeats("scopes", scopes, problems);
}

fn repeats(field: &str, list: &[String], problems: &mut Vec<String>) {
    let mut seen = HashSet::new();
    let mut reported = HashSet::new();
    for item in list {
        if !seen.insert(item) && reported.insert(item) {
            problems.push(format!("{field}: `{item}` is listed twice"));
        }
    }
}

/// The parts of an absolute URI this module looks at.
struct Uri<'a> {
    /// Lowercased.
    scheme: String,
    /// Between `//` and the path, when there is a `//`.
    authority: Option<&'a str>,
    /// Everything after the authority (or after `scheme:` without one).
    rest: &'a str,
}

/// Splits `value` into scheme, authority and the rest, rejecting what no URI Avnology stores
/// may contain: blanks, control characters, `*` wildcards and fragments.
fn parse(value: &str) -> Result<Uri<'_>, String> {
    if value.is_empty() {
        return Err("is empty".to_owned());
    }
    if value.len() > MAX_URI_LEN {
        return Err(format!(
            "is {} bytes long; Avnology allows at most {MAX_URI_LEN}",
            value.len()
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".to_owned());
    }
    if value.contains('*') {
        return Err(
            "contains a `*` wildcard; Avnology matches redirect URIs and origins exactly, so \
             list each one in full"
                .to_owned(),
        );
    }
    if value.contains('#') {
        return Err(
            "has a fragment (`#…`), which OAuth does not allow (RFC 6749 3.1.2)".to_owned(),
        );
    }
    let Some((scheme, after)) = value.split_once(':') else {
        return Err("is not an absolute URI (it has no scheme such as `https:`)".to_owned());
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("is not an absolute URI (it has no scheme such as `https:`)".to_owned());
    }
    let (authority, rest) = match after.strip_prefix("//") {
        Some(tail) => {
            let end = tail.find(['/', '?']).unwrap_or(tail.len());
            (Some(&tail[..end]), &tail[end..])
        }
        None => (None, after),
    };
    Ok(Uri {
        scheme: scheme.to_ascii_lowercase(),
        authority,
        rest,
    })
}

/// The host of an authority (`host`, `host:port`, `[::1]:port`), checked; IPv6 literals keep
/// their brackets. Lowercased.
fn host(authority: &str) -> Result<String, String> {
    if authority.contains('@') {
        return Err("carries user information (`user@`), which a redirect URI must not".to_owned());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((inner, tail)) = v6.split_once(']') else {
            return Err("has an unterminated IPv6 address (`[` without `]`)".to_owned());
        };
        if inner.is_empty()
            || !inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
        {
            return Err(format!("has an invalid IPv6 address `[{inner}]`"));
        }
        let port = match tail {
            "" => None,
            _ => match tail.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err("has characters after its IPv6 address".to_owned()),
            },
        };
        (format!("[{}]", inner.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '%'));
        if !host_ok {
            return Err(if host.is_empty() {
                "has no host".to_owned()
            } else {
                format!("has an invalid host `{host}`")
            });
        }
        (host.to_lowercase(), port)
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return Err(format!("has an invalid port `{port}`"));
        }
    }
    Ok(host)
}

/// `http` is only for the loopback interface (RFC 8252 7.3; OAuth 2.1 forbids cleartext
/// redirects elsewhere).
fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// A redirect (or post-logout redirect) URI.
fn redirect_uri(value: &str, client_type: ClientType) -> Result<(), String> {
    let uri = parse(value)?;
    match uri.scheme.as_str() {
        "https" | "http" => {
            let Some(authority) = uri.authority else {
                return Err(format!("has no host after `{}:`", uri.scheme));
            };
            let host = host(authority)?;
            if uri.scheme == "http" && !is_loopback(&host) {
                return Err(format!(
                    "uses `http` with the host `{host}`; http is allowed only for localhost, \
                     127.0.0.1 and [::1], so use https"
                ));
            }
            Ok(())
        }
        scheme => {
            // RFC 8252 7.1: a native app's private-use scheme is a reverse domain name it
            // controls, which is also what keeps `javascript:`, `data:` and `file:` out.
            if !scheme.contains('.') {
                return Err(format!(
                    "uses the scheme `{scheme}`; redirect URIs must be https, http on \
                     localhost, or a native app's reverse-DNS private-use scheme such as \
                     `com.example.app:/callback` (RFC 8252 7.1)"
                ));
            }
            if client_type != ClientType::Public {
                return Err(format!(
                    "uses the private-use scheme `{scheme}`, which only native apps may use, \
                     and native apps are public clients"
                ));
            }
            let empty = uri.rest.trim_start_matches('/').is_empty()
                && uri.authority.is_none_or(str::is_empty);
            if empty {
                return Err(format!("has nothing after `{scheme}:`"));
            }
            if let Some(authority) = uri.authority
                && authority.contains('@')
            {
                return Err(
                    "carries user information (`user@`), which a redirect URI must not".to_owned(),
                );
            }
            Ok(())
        }
    }
}

/// A CORS origin: `scheme://host[:port]`, https (or http on loopback), nothing after.
fn allowed_origin(value: &str) -> Result<(), String> {
    let uri = parse(value)?;
    if !matches!(uri.scheme.as_str(), "https" | "http") {
        return Err(format!(
            "uses the scheme `{}`; an origin is https://host[:port] (or http on localhost)",
            uri.scheme
        ));
    }
    let Some(authority) = uri.authority else {
        return Err("is not an origin (expected scheme://host[:port])".to_owned());
    };
    let host = host(authority)?;
    if !uri.rest.is_empty() {
        return Err(format!(
            "has a path or query (`{}`); an origin is scheme://host[:port] and nothing after",
            uri.rest
        ));
    }
    if uri.scheme == "http" && !is_loopback(&host) {
        return Err(format!(
            "uses `http` with the host `{host}`; http is allowed only for localhost, 127.0.0.1 \
             and [::1], so use https"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExternalId;
    use crate::sources::clients::owned;

    fn client(client_type: ClientType) -> OAuthClient {
        OAuthClient {
            external_id: ExternalId::new("c1"),
            name: "Acme Web".into(),
            client_type,
            redirect_uris: owned(&["https://app.acme.com/callback"]),
            post_logout_redirect_uris: owned(&["https://app.acme.com/"]),
            allowed_origins: owned(&["https://app.acme.com"]),
            grant_types: owned(&["authorization_code", "refresh_token"]),
            scopes: owned(&["openid", "profile", "email"]),
        }
    }

    fn check(c: OAuthClient) -> Result<(), String> {
        validate(&ClientDecl::OAuth(c))
    }

    fn redirect_err(uri: &str, client_type: ClientType) -> String {
        let mut c = client(client_type);
        c.redirect_uris = vec![uri.to_owned()];
        check(c).expect_err(uri)
    }

    #[test]
    fn a_plain_client_is_valid() {
        assert_eq!(check(client(ClientType::Confidential)), Ok(()));
        assert_eq!(check(client(ClientType::Public)), Ok(()));
    }

    #[test]
    fn accepted_redirect_uris() {
        for (uri, t) in [
            (
                "https://app.acme.com/callback?x=1",
                ClientType::Confidential,
            ),
            ("https://app.acme.com:8443/cb", ClientType::Confidential),
            ("HTTPS://App.Acme.com/cb", ClientType::Confidential),
            ("http://localhost:3000/callback", ClientType::Confidential),
            ("http://127.0.0.1/cb", ClientType::Public),
            ("http://[::1]:8080/cb", ClientType::Public),
            ("https://[2001:db8::1]/cb", ClientType::Confidential),
            ("com.example.app:/oauth2redirect", ClientType::Public),
            ("com.example.app://callback", ClientType::Public),
        ] {
            let mut c = client(t);
            c.redirect_uris = vec![uri.to_owned()];
            assert_eq!(check(c), Ok(()), "{uri}");
        }
    }

    #[test]
    fn name_rules() {
        let mut c = client(ClientType::Public);
        c.name = "  ".into();
        assert_eq!(
            check(c.clone()).unwrap_err(),
            "name is empty; Avnology requires 1–256 characters"
        );
        c.name = "x".repeat(257);
        let err = check(c.clone()).unwrap_err();
        assert!(err.contains("is 257 characters long"), "{err}");
        c.name = "é".repeat(256);
        assert_eq!(check(c), Ok(()), "256 characters, more bytes, is fine");
    }

    #[test]
    fn relative_and_schemeless_redirects_are_rejected() {
        for uri in ["/callback", "app.acme.com/callback", "://x", "1http://x"] {
            let err = redirect_err(uri, ClientType::Confidential);
            assert!(err.contains("is not an absolute URI"), "{uri}: {err}");
            assert!(err.starts_with(&format!("redirect_uris: `{uri}`")), "{err}");
        }
        let err = redirect_err("", ClientType::Confidential);
        assert_eq!(err, "redirect_uris: `` is empty");
        let err = redirect_err("https://app acme.com/cb", ClientType::Confidential);
        assert!(err.contains("whitespace"), "{err}");
    }

    #[test]
    fn http_is_for_loopback_only() {
        let err = redirect_err("http://app.acme.com/callback", ClientType::Confidential);
        assert_eq!(
            err,
            "redirect_uris: `http://app.acme.com/callback` uses `http` with the host \
             `app.acme.com`; http is allowed only for localhost, 127.0.0.1 and [::1], so use https"
        );
        // A look-alike host is not loopback.
        let err = redirect_err("http://localhost.evil.com/cb", ClientType::Public);
        assert!(err.contains("localhost.evil.com"), "{err}");
    }

    #[test]
    fn fragments_are_rejected() {
        let err = redirect_err("https://app.acme.com/cb#done", ClientType::Confidential);
        assert_eq!(
            err,
            "redirect_uris: `https://app.acme.com/cb#done` has a fragment (`#…`), which OAuth \
             does not allow (RFC 6749 3.1.2)"
        );
    }

    #[test]
    fn wildcards_are_rejected_with_the_exact_match_rule() {
        let err = redirect_err("https://*.acme.com/callback", ClientType::Confidential);
        assert_eq!(
            err,
            "redirect_uris: `https://*.acme.com/callback` contains a `*` wildcard; Avnology \
             matches redirect URIs and origins exactly, so list each one in full"
        );
    }

    #[test]
    fn private_use_schemes_are_reverse_dns_and_native_only() {
        let err = redirect_err("myapp://callback", ClientType::Public);
        assert!(err.contains("uses the scheme `myapp`"), "{err}");
        assert!(err.contains("com.example.app:/callback"), "{err}");
        let err = redirect_err("com.example.app:/cb", ClientType::Confidential);
        assert!(err.contains("only native apps may use"), "{err}");
        for uri in [
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
        ] {
            let err = redirect_err(uri, ClientType::Public);
            assert!(err.contains("uses the scheme"), "{uri}: {err}");
        }
        let err = redirect_err("com.example.app:", ClientType::Public);
        assert!(err.contains("has nothing after"), "{err}");
    }

    #[test]
    fn hosts_ports_and_user_info() {
        let cases = [
            ("https:///cb", "has no host"),
            ("https:/cb", "has no host after `https:`"),
            (
                "https://user:pw@app.acme.com/cb",
                "carries user information",
            ),
            (
                "https://app.acme.com:99999/cb",
                "has an invalid port `99999`",
            ),
            ("https://app.acme.com:/cb", "has an invalid port ``"),
            ("https://[::1/cb", "unterminated IPv6"),
            ("https://[zz]/cb", "invalid IPv6 address"),
            ("https://a!b.com/cb", "has an invalid host `a!b.com`"),
        ];
        for (uri, expected) in cases {
            let err = redirect_err(uri, ClientType::Confidential);
            assert!(err.contains(expected), "{uri}: {err}");
        }
    }

    #[test]
    fn post_logout_uris_follow_the_same_rules() {
        let mut c = client(ClientType::Confidential);
        c.post_logout_redirect_uris = owned(&["http://app.acme.com/", "https://*.acme.com/"]);
        let err = check(c).unwrap_err();
        assert!(
            err.contains("post_logout_redirect_uris: `http://app.acme.com/` uses `http`"),
            "{err}"
        );
        assert!(
            err.contains("post_logout_redirect_uris: `https://*.acme.com/` contains a `*`"),
            "{err}"
        );
    }

    #[test]
    fn origins_are_scheme_host_port_only() {
        let mut c = client(ClientType::Public);
        c.allowed_origins = owned(&[
            "https://app.acme.com:8443",
            "http://localhost:3000",
            "https://app.acme.com/",
            "https://app.acme.com/path",
            "app.acme.com",
            "http://app.acme.com",
            "chrome-extension://abc",
        ]);
        let err = check(c).unwrap_err();
        assert!(!err.contains("`https://app.acme.com:8443`"), "{err}");
        assert!(!err.contains("`http://localhost:3000`"), "{err}");
        for expected in [
            "allowed_origins: `https://app.acme.com/` has a path or query (`/`)",
            "allowed_origins: `https://app.acme.com/path` has a path or query (`/path`)",
            "allowed_origins: `app.acme.com` is not an absolute URI",
            "allowed_origins: `http://app.acme.com` uses `http`",
            "allowed_origins: `chrome-extension://abc` uses the scheme `chrome-extension`",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in {err}");
        }
    }

    #[test]
    fn grant_rules() {
        let mut c = client(ClientType::Public);
        c.grant_types = owned(&["authorization_code", "client_credentials", "implicit"]);
        let err = check(c.clone()).unwrap_err();
        assert!(
            err.contains("grant_types: `implicit` is not a grant Avnology supports"),
            "{err}"
        );
        assert!(
            err.contains("a public client cannot use `client_credentials`"),
            "{err}"
        );
        c.client_type = ClientType::Confidential;
        c.grant_types = owned(&["client_credentials", "authorization_code"]);
        assert_eq!(check(c), Ok(()));
    }

    #[test]
    fn scopes_and_repeats() {
        let mut c = client(ClientType::Public);
        c.scopes = owned(&[
            "openid",
            "read write",
            "",
            "https://api.acme.com/read",
            "openid",
        ]);
        c.redirect_uris = owned(&["https://a.com/cb", "https://a.com/cb"]);
        let err = check(c).unwrap_err();
        assert!(
            err.contains("scopes: `read write` is not one scope token"),
            "{err}"
        );
        assert!(err.contains("scopes: `` is not one scope token"), "{err}");
        assert!(!err.contains("https://api.acme.com/read"), "{err}");
        assert!(err.contains("scopes: `openid` is listed twice"), "{err}");
        assert!(
            err.contains("redirect_uris: `https://a.com/cb` is listed twice"),
            "{err}"
        );
    }

    #[test]
    fn the_servers_size_limits_are_checked_offline() {
        let mut c = client(ClientType::Confidential);
        assert_eq!(check(c.clone()), Ok(()));
        c.redirect_uris = (0..=MAX_LIST_LEN)
            .map(|i| format!("https://app.acme.com/cb/{i}"))
            .collect();
        c.allowed_origins = vec![format!("https://{}.com", "o".repeat(MAX_URI_LEN))];
        c.scopes = vec!["s".repeat(MAX_SCOPE_LEN + 1)];
        c.external_id = ExternalId::new("k".repeat(limits::MAX_EXTERNAL_ID + 1));
        let err = check(c).unwrap_err();
        for expected in [
            "external_id is 256 characters long; Avnology allows at most 255",
            "redirect_uris has 101 entries; Avnology allows at most 100",
            "bytes long; Avnology allows at most 2048",
            "bytes long; Avnology allows at most 256",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in {err}");
        }
        // One problem for the list, not one per entry; long values are abbreviated.
        assert!(!err.contains("cb/5"), "{err}");
        assert!(err.len() < 1000, "{err}");

        let account = ServiceAccount {
            external_id: ExternalId::new("m2m"),
            name: "n".repeat(MAX_NAME_CHARS),
            description: None,
            scopes: (0..=MAX_LIST_LEN).map(|i| format!("s{i}")).collect(),
        };
        let err = validate(&ClientDecl::ServiceAccount(account)).unwrap_err();
        assert_eq!(err, "scopes has 101 entries; Avnology allows at most 100");
    }

    #[test]
    fn service_accounts_need_a_name_and_an_id() {
        let ok = ServiceAccount {
            external_id: ExternalId::new("m2m"),
            name: "Billing job".into(),
            description: None,
            scopes: Vec::new(),
        };
        assert_eq!(validate(&ClientDecl::ServiceAccount(ok.clone())), Ok(()));
        let bad = ServiceAccount {
            external_id: ExternalId::new(" "),
            name: String::new(),
            ..ok
        };
        let err = validate(&ClientDecl::ServiceAccount(bad)).unwrap_err();
        assert_eq!(
            err,
            "external_id is empty; name is empty; Avnology requires 1–256 characters"
        );
    }

    #[test]
    fn every_problem_is_reported_together() {
        let mut c = client(ClientType::Confidential);
        c.name = String::new();
        c.redirect_uris = owned(&["https://*.a.com/cb", "http://a.com/cb"]);
        let err = check(c).unwrap_err();
        assert!(err.starts_with("name is empty"), "{err}");
        assert!(
            err.contains("; redirect_uris: `https://*.a.com/cb` contains"),
            "{err}"
        );
        assert!(
            err.contains("; redirect_uris: `http://a.com/cb` uses `http`"),
            "{err}"
        );
    }
}
