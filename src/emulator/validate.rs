//! Field rules the emulator enforces on identities, organizations, OAuth clients and service
//! accounts, answered as 400 `AVNOLOGY_AUTH_902` with `details.field`. The shapes of email,
//! phone and username come from [`crate::model::validate`], the same checks the sources
//! apply, so a record `validate` accepts is one the emulator accepts. Rules that need the
//! database (organization or owner exists, uniqueness) live with the store and handlers.
//!
//! OAuth client rules follow OAuth 2.1 and RFC 8252 as Avnology's runtime endpoints imply
//! them: redirect URIs are matched exactly (so no wildcards, no fragments, and the string is
//! stored as given), https everywhere except loopback, private-use schemes for native apps,
//! and no implicit or password grants. Messages name the list index, never the value.
//!
//! The sizes (external id, name, URI and list lengths) are [`crate::model::limits`], the
//! same constants the sources check records against offline.

use reqwest::Url;

use crate::emulator::error::ApiError;
use crate::model::limits::{
    MAX_EXTERNAL_ID, MAX_LIST_LEN, MAX_NAME_CHARS, MAX_SCOPE_LEN, MAX_URI_LEN, ORG_NAME_LEN,
};
use crate::model::validate;
use crate::wire::{Identity, IdentityInput, LinkedProvider, OAuthClient, OAuthClientInput};

/// Registration modes an organization may have.
pub const REGISTRATION_MODES: &[&str] = &["open", "invite_only", "sso_only", "disabled"];

/// The [`IdentityFields`] of an identity or an identity request, which name them alike.
macro_rules! fields_of {
    ($i:expr) => {
        IdentityFields {
            phone: $i.phone.as_deref(),
            username: $i.username.as_deref(),
            external_id: $i.external_id.as_deref(),
            organization_id: $i.organization_id.as_deref(),
            linked_providers: $i.linked_providers.as_deref(),
        }
    };
}

/// Checks a complete identity (after create, or after a PATCH was applied).
pub fn identity(i: &Identity) -> Result<(), ApiError> {
    if i.email.is_empty() {
        return Err(ApiError::field("email", "email is required"));
    }
    validate::email(&i.email).map_err(|m| ApiError::field("email", m))?;
    identity_fields(&fields_of!(i))
}

/// Checks the shape of every field an identity request sends, named in its `update_mask` or
/// not: a PATCH ignores the fields its mask does not name, but a request that sends an
/// invalid value is refused all the same, as the contract's schema says.
pub fn identity_input(i: &IdentityInput) -> Result<(), ApiError> {
    if let Some(email) = &i.email {
        validate::email(email).map_err(|m| ApiError::field("email", m))?;
    }
    identity_fields(&fields_of!(i))
}

/// The optional identity fields a complete identity and a request share.
struct IdentityFields<'a> {
    phone: Option<&'a str>,
    username: Option<&'a str>,
    external_id: Option<&'a str>,
    organization_id: Option<&'a str>,
    linked_providers: Option<&'a [LinkedProvider]>,
}

/// The rules of [`IdentityFields`], one place for [`identity`] and [`identity_input`].
fn identity_fields(f: &IdentityFields<'_>) -> Result<(), ApiError> {
    if let Some(phone) = f.phone {
        validate::phone(phone).map_err(|m| ApiError::field("phone", m))?;
    }
    if let Some(username) = f.username {
        validate::username(username).map_err(|m| ApiError::field("username", m))?;
    }
    external_id(f.external_id)?;
    organization_id(f.organization_id)?;
    for p in f.linked_providers.unwrap_or_default() {
        if p.provider.is_empty() || p.subject.is_empty() {
            return Err(ApiError::field(
                "linked_providers",
                "a linked provider needs a provider and a subject",
            ));
        }
    }
    Ok(())
}

/// [`identity_input`] for OAuth clients: the shape of every field sent, without the rules
/// that join fields (the grant types a public client may have, the auth method a type
/// implies), which are checked on the client a request produces.
pub fn oauth_client_input(c: &OAuthClientInput) -> Result<(), ApiError> {
    if let Some(n) = &c.client_name {
        name("client_name", n)?;
    }
    if let Some(t) = &c.client_type {
        client_type(t)?;
    }
    if let Some(m) = &c.token_endpoint_auth_method
        && !CLIENT_TYPES.iter().any(|t| auth_method_for(t) == m)
    {
        return Err(ApiError::field(
            "token_endpoint_auth_method",
            "token_endpoint_auth_method must be `client_secret_post` or `none`",
        ));
    }
    client_fields(&ClientFields {
        external_id: c.external_id.as_deref(),
        organization_id: c.organization_id.as_deref(),
        redirect_uris: c.redirect_uris.as_deref().unwrap_or_default(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.as_deref().unwrap_or_default(),
        allowed_origins: c.allowed_origins.as_deref().unwrap_or_default(),
        grant_types: c.grant_types.as_deref().unwrap_or_default(),
        // The type is not known here: the grants any client may have.
        client_type: "confidential",
        scopes: c.scopes.as_deref().unwrap_or_default(),
    })
}

/// The fields of an OAuth client checked alike in a request and in a complete client.
struct ClientFields<'a> {
    external_id: Option<&'a str>,
    organization_id: Option<&'a str>,
    redirect_uris: &'a [String],
    post_logout_redirect_uris: &'a [String],
    allowed_origins: &'a [String],
    grant_types: &'a [String],
    /// The type the grants are checked against.
    client_type: &'a str,
    scopes: &'a [String],
}

/// The rules of [`ClientFields`], one place for [`oauth_client`] and [`oauth_client_input`].
fn client_fields(c: &ClientFields<'_>) -> Result<(), ApiError> {
    external_id(c.external_id)?;
    organization_id(c.organization_id)?;
    for (field, list) in [
        ("redirect_uris", c.redirect_uris),
        ("post_logout_redirect_uris", c.post_logout_redirect_uris),
    ] {
        if list.len() > MAX_LIST_LEN {
            return Err(ApiError::field(
                field,
                format!("{field} has more than {MAX_LIST_LEN} entries"),
            ));
        }
        for (i, uri) in list.iter().enumerate() {
            redirect_uri(field, i, uri)?;
        }
    }
    if c.allowed_origins.len() > MAX_LIST_LEN {
        return Err(ApiError::field(
            "allowed_origins",
            format!("allowed_origins has more than {MAX_LIST_LEN} entries"),
        ));
    }
    for (i, o) in c.allowed_origins.iter().enumerate() {
        origin(i, o)?;
    }
    grant_types(c.grant_types, c.client_type)?;
    scope_tokens(c.scopes)
}

/// An `organization_id`, when sent, names something: an empty one is a 400.
pub fn organization_id(value: Option<&str>) -> Result<(), ApiError> {
    if value == Some("") {
        return Err(ApiError::field(
            "organization_id",
            "organization_id must not be empty",
        ));
    }
    Ok(())
}

/// Organization names (and slugs): 2–64 of lowercase ASCII letters, digits and `-`.
pub fn org_name(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = ORG_NAME_LEN.contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!(
                "{field} must be {}–{} characters of lowercase letters, digits and `-`",
                ORG_NAME_LEN.start(),
                ORG_NAME_LEN.end()
            ),
        ))
    }
}

/// One of [`REGISTRATION_MODES`].
pub fn registration_mode(value: &str) -> Result<(), ApiError> {
    if REGISTRATION_MODES.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::field(
            "registration_mode",
            format!(
                "registration_mode must be one of {}",
                REGISTRATION_MODES.join(", ")
            ),
        ))
    }
}

/// Client types.
pub const CLIENT_TYPES: &[&str] = &["confidential", "public"];

/// Grant types Avnology's token endpoint supports (documented).
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// The token endpoint auth method a client type implies: confidential clients send
/// `client_id` + `client_secret` in the form body (the documented way), public ones none.
pub fn auth_method_for(client_type: &str) -> &'static str {
    if client_type == "confidential" {
        "client_secret_post"
    } else {
        "none"
    }
}

/// A required name of 1–[`MAX_NAME_CHARS`] characters that is not only spaces.
pub fn name(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::field(
            field,
            format!("{field} is required and must be 1–{MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// An optional `external_id` of 1–[`MAX_EXTERNAL_ID`] characters.
pub fn external_id(value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > MAX_EXTERNAL_ID => Err(ApiError::field(
            "external_id",
            format!("external_id must be 1–{MAX_EXTERNAL_ID} characters"),
        )),
        _ => Ok(()),
    }
}

/// `confidential` or `public`.
pub fn client_type(value: &str) -> Result<(), ApiError> {
    if CLIENT_TYPES.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::field(
            "client_type",
            "client_type must be `confidential` or `public`",
        ))
    }
}

fn visible_ascii(value: &str) -> bool {
    (1..=MAX_URI_LEN).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

fn is_loopback_host(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// One redirect (or post-logout redirect) URI, entry `index` of list `field`:
///
/// - visible ASCII, at most [`MAX_URI_LEN`] bytes, no `*` (matching is exact, so a
///   wildcard would never match) and no `#` (RFC 6749 §3.1.2 forbids fragments);
/// - absolute, without credentials;
/// - `https://`, or `http://` only to `localhost`, `127.0.0.1` or `[::1]` (RFC 8252 §7.3),
///   or a private-use scheme in reverse-domain form followed by `:/`, as native apps use
///   (`com.example.app:/callback`, RFC 8252 §7.1). Other schemes (`javascript:`, `data:`,
///   `file:` …) are refused.
pub fn redirect_uri(field: &str, index: usize, uri: &str) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::field(field, format!("{field}[{index}] {why}"));
    if !visible_ascii(uri) {
        return Err(bad(&format!(
            "must be 1–{MAX_URI_LEN} visible ASCII characters without spaces"
        )));
    }
    if uri.contains('*') {
        return Err(bad(
            "must not contain a wildcard `*`: redirect URIs are matched exactly",
        ));
    }
    if uri.contains('#') {
        return Err(bad("must not contain a fragment (`#`)"));
    }
    let url = Url::parse(uri).map_err(|_| bad("is not an absolute URI"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    match url.scheme() {
        "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("has no host"));
            }
        }
        "http" => {
            if !is_loopback_host(&url) {
                return Err(bad(
                    "uses http, which is allowed only for localhost, 127.0.0.1 and [::1]; \
                     use https",
                ));
            }
        }
        scheme => {
            // The raw text after `scheme:` must start with `/`: `com.example.app:/cb` or
            // `com.example.app://cb`, never an opaque `com.example.app:cb`.
            let rest = uri.get(scheme.len() + 1..).unwrap_or_default();
            if !scheme.contains('.') || !rest.starts_with('/') {
                return Err(bad(
                    "must use https, http on loopback, or a reverse-domain private-use \
                     scheme such as `com.example.app:/callback`",
                ));
            }
        }
    }
    Ok(())
}

/// One CORS origin, entry `index` of `allowed_origins`: exactly `scheme://host[:port]`
/// (no path, not even `/`, no query, no wildcard, no default port), https or http on
/// loopback.
pub fn origin(index: usize, origin: &str) -> Result<(), ApiError> {
    let bad =
        |why: &str| ApiError::field("allowed_origins", format!("allowed_origins[{index}] {why}"));
    let shape = "must be exactly scheme://host[:port] (no path, no trailing `/`, no wildcard)";
    if !visible_ascii(origin) || origin.contains('*') {
        return Err(bad(shape));
    }
    let url = Url::parse(origin).map_err(|_| bad(shape))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(bad(
                "uses http, which is allowed only for localhost, 127.0.0.1 and [::1]; use https",
            ));
        }
        _ => return Err(bad("must use https (or http on loopback)")),
    }
    // The origin's own serialisation drops any path, query, credentials and default port;
    // anything it dropped was not part of an origin.
    if !origin.eq_ignore_ascii_case(&url.origin().ascii_serialization()) {
        return Err(bad(shape));
    }
    Ok(())
}

/// Grant types: each one of [`GRANT_TYPES`] (implicit and password were removed by OAuth
/// 2.1), and no `client_credentials` for a public client, which has no secret to present.
pub fn grant_types(grants: &[String], client_type: &str) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::field("grant_types", m);
    if grants.len() > MAX_LIST_LEN {
        return Err(bad(format!(
            "grant_types has more than {MAX_LIST_LEN} entries"
        )));
    }
    for (i, g) in grants.iter().enumerate() {
        match g.as_str() {
            "implicit" | "password" => {
                return Err(bad(format!(
                    "grant_types[{i}]: `{g}` is not supported (removed by OAuth 2.1); use \
                     authorization_code with PKCE"
                )));
            }
            "client_credentials" if client_type == "public" => {
                return Err(bad(
                    "a public client cannot use client_credentials (it has no secret)".into(),
                ));
            }
            g if GRANT_TYPES.contains(&g) => {}
            _ => {
                return Err(bad(format!(
                    "grant_types[{i}] must be one of {}",
                    GRANT_TYPES.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// OAuth scopes: RFC 6749 §3.3 scope tokens (visible ASCII except `"` and `\`).
pub fn scope_tokens(scopes: &[String]) -> Result<(), ApiError> {
    if scopes.len() > MAX_LIST_LEN {
        return Err(ApiError::field(
            "scopes",
            format!("scopes has more than {MAX_LIST_LEN} entries"),
        ));
    }
    for (i, s) in scopes.iter().enumerate() {
        let ok = !s.is_empty()
            && s.len() <= MAX_SCOPE_LEN
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !ok {
            return Err(ApiError::field(
                "scopes",
                format!("scopes[{i}] is not a valid scope token"),
            ));
        }
    }
    Ok(())
}

/// Checks a complete OAuth client (after create defaults, or after a PATCH was applied).
pub fn oauth_client(c: &OAuthClient) -> Result<(), ApiError> {
    name("client_name", &c.client_name)?;
    client_type(&c.client_type)?;
    client_fields(&ClientFields {
        external_id: c.external_id.as_deref(),
        organization_id: c.organization_id.as_deref(),
        redirect_uris: &c.redirect_uris,
        post_logout_redirect_uris: &c.post_logout_redirect_uris,
        allowed_origins: &c.allowed_origins,
        grant_types: &c.grant_types,
        client_type: &c.client_type,
        scopes: &c.scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> Option<String> {
        match e {
            ApiError::Validation { field, .. } => field,
            _ => None,
        }
    }

    #[test]
    fn redirect_uris_follow_oauth_2_1() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/callback",
            "com.example.app://callback",
        ] {
            assert!(redirect_uri("redirect_uris", 0, ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/callback",
            "app.example.com/callback",
            "https://*.example.com/callback",
            "https://app.example.com/cb#frag",
            "https://app.example.com/a b",
            "http://app.example.com/callback",
            "http://localhost.evil.com/cb",
            "https://user:pw@app.example.com/cb",
            "javascript:alert(1)",
            "myapp:/callback",
            "com.example.app:callback",
            "data:text/html,hi",
            "https://app.example.com/caf\u{e9}",
        ] {
            let err = redirect_uri("redirect_uris", 3, bad).unwrap_err();
            assert!(err.to_string().starts_with("redirect_uris[3] "), "{err}");
            assert_eq!(field_of(err).as_deref(), Some("redirect_uris"), "{bad}");
        }
    }

    #[test]
    fn origins_are_scheme_host_port_only() {
        for ok in [
            "https://app.example.com",
            "https://app.example.com:8443",
            "http://localhost:3000",
        ] {
            assert!(origin(0, ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com:443",
            "https://*.example.com",
            "http://app.example.com",
            "https://app.example.com?x=1",
            "ftp://app.example.com",
            "app.example.com",
        ] {
            assert!(origin(0, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grants_and_scopes() {
        let v = |xs: &[&str]| {
            xs.iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert!(grant_types(&v(&["authorization_code", "refresh_token"]), "public").is_ok());
        assert!(grant_types(&v(&["client_credentials"]), "confidential").is_ok());
        assert!(grant_types(&v(&["client_credentials"]), "public").is_err());
        for bad in ["implicit", "password", "urn:x", ""] {
            assert!(grant_types(&v(&[bad]), "confidential").is_err(), "{bad}");
        }
        assert!(scope_tokens(&v(&["openid", "read:orders"])).is_ok());
        for bad in ["", "a b", "quote\"d"] {
            assert!(scope_tokens(&v(&[bad])).is_err(), "{bad}");
        }
        assert_eq!(auth_method_for("confidential"), "client_secret_post");
        assert_eq!(auth_method_for("public"), "none");
    }

    #[test]
    fn names_and_external_ids() {
        assert!(name("client_name", "x").is_ok());
        assert!(name("client_name", &"é".repeat(256)).is_ok());
        for bad in ["", "   ", &"x".repeat(257)] {
            assert!(name("client_name", bad).is_err());
        }
        assert!(external_id(None).is_ok());
        assert!(external_id(Some("")).is_err());
        assert!(client_type("public").is_ok());
        assert!(client_type("spa").is_err());
    }

    #[test]
    fn org_names() {
        assert!(org_name("name", "acme-corp-2").is_ok());
        for bad in ["a", "Acme", "acme corp", "acme_corp", &"a".repeat(65)] {
            assert!(org_name("name", bad).is_err(), "{bad}");
        }
        assert!(registration_mode("invite_only").is_ok());
        assert!(registration_mode("closed").is_err());
    }
}
