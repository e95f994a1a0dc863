//! API-key authentication for the admin routes: `Authorization: Bearer <key>`, looked up by
//! its SHA-256 digest, and the scope each operation needs (reads need `…:read`, every other
//! method `…:write`, of the users or orgs family by path). The key is never logged and
//! never part of an error.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use super::store::api_keys;
use crate::live::wire::scopes;

/// The scope an admin request needs.
pub fn required_scope(method: &Method, path: &str) -> &'static str {
    let read = method == Method::GET || method == Method::HEAD;
    let orgs = path.starts_with("/v1/organizations");
    match (orgs, read) {
        (true, true) => scopes::ORGS_READ,
        (true, false) => scopes::ORGS_WRITE,
        (false, true) => scopes::USERS_READ,
        (false, false) => scopes::USERS_WRITE,
    }
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
    let granted = state
        .store()
        .read(move |c| api_keys::scopes_of(c, &key))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
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
