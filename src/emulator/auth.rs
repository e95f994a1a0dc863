//! API-key authentication for the admin routes: `Authorization: Bearer <key>`, looked up by
//! its SHA-256 digest, and the scope each operation needs (reads need `…:read`, every other
//! method `…:write`, of the users, orgs, OAuth-clients or service-accounts family by path).
//! A key is either one the emulator was started with (checked in memory) or one minted for
//! a service account through the API (unexpired, its account not deleted; looked up in the
//! database). The key is never logged and never part of an error.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use super::store::service_accounts;
use crate::wire::{client_scopes, scopes};

/// The scope an admin request needs.
pub fn required_scope(method: &Method, path: &str) -> &'static str {
    let read = method == Method::GET || method == Method::HEAD;
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let (read_scope, write_scope) = if under("/v1/organizations") {
        (scopes::ORGS_READ, scopes::ORGS_WRITE)
    } else if under("/v1/oauth-clients") {
        (client_scopes::CLIENTS_READ, client_scopes::CLIENTS_WRITE)
    } else if under("/v1/service-accounts") {
        (
            client_scopes::SERVICE_ACCOUNTS_READ,
            client_scopes::SERVICE_ACCOUNTS_WRITE,
        )
    } else {
        (scopes::USERS_READ, scopes::USERS_WRITE)
    };
    if read { read_scope } else { write_scope }
}

/// The bearer token, if the header has one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// Middleware: 401 `AVNOLOGY_AUTH_005` without a known key, 403 `AVNOLOGY_AUTH_100` without
/// the scope.
pub async fn require_scope(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let scope = required_scope(req.method(), req.uri().path());
    let key = bearer(req.headers()).ok_or(ApiError::Unauthenticated)?;
    // The configured keys are known in memory; only service-account keys, minted and
    // revoked through the API, are looked up.
    let granted = match state.configured_key_scopes(&key) {
        Some(granted) => granted.to_vec(),
        None => state
            .store()
            .read(move |c| service_accounts::key_scopes(c, &key))
            .await?
            .ok_or(ApiError::Unauthenticated)?,
    };
    if !granted.iter().any(|s| s == scope) {
        return Err(ApiError::PermissionDenied { scope });
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn scopes_follow_method_and_path() {
        assert_eq!(
            required_scope(&Method::GET, "/v1/identities"),
            scopes::USERS_READ
        );
        assert_eq!(
            required_scope(&Method::POST, "/v1/identities/usr_1:deactivate"),
            scopes::USERS_WRITE
        );
        assert_eq!(
            required_scope(&Method::PATCH, "/v1/organizations/org_1"),
            scopes::ORGS_WRITE
        );
        assert_eq!(
            required_scope(&Method::GET, "/v1/organizations"),
            scopes::ORGS_READ
        );
        assert_eq!(
            required_scope(&Method::GET, "/v1/oauth-clients/cli_1"),
            client_scopes::CLIENTS_READ
        );
        assert_eq!(
            required_scope(&Method::DELETE, "/v1/oauth-clients/cli_1"),
            client_scopes::CLIENTS_WRITE
        );
        assert_eq!(
            required_scope(&Method::GET, "/v1/service-accounts/sa_1/keys"),
            client_scopes::SERVICE_ACCOUNTS_READ
        );
        assert_eq!(
            required_scope(&Method::POST, "/v1/service-accounts"),
            client_scopes::SERVICE_ACCOUNTS_WRITE
        );
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer ak_test_x"),
        );
        assert_eq!(bearer(&h).as_deref(), Some("ak_test_x"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer   ak_test_y "),
        );
        assert_eq!(bearer(&h).as_deref(), Some("ak_test_y"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
