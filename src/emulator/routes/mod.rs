//! The route table, declared in one place, and the layers around it. Admin routes sit behind
//! the scope check and (inside it) fault injection; login-flow routes need no key and are
//! subject only to the rate limit, which wraps both.

pub mod body;
pub mod change;
pub mod flows;
pub mod idempotent;
pub mod identities;
pub mod list;
pub mod mask;
pub mod oauth_clients;
pub mod organizations;
pub mod service_accounts;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

use super::error::{no_route, request_context, wrong_method};
use super::store::identities::IdentityRecord;
use super::store::oauth_clients::OAuthClientRecord;
use super::store::service_accounts::ServiceAccountRecord;
use super::{AppState, auth, faults};

/// Builds the router with all layers.
pub fn router(state: AppState) -> Router {
    // route_layer: applied only to matched routes, so an unknown path is a plain 404 and
    // never costs a key check. The last layer added runs first: auth, then faults.
    let admin = Router::new()
        .route(
            "/v1/identities",
            post(identities::create).get(identities::list),
        )
        .route(
            "/v1/identities/{id}",
            get(list::get::<IdentityRecord>)
                .patch(identities::update)
                .delete(identities::delete)
                .post(identities::custom_method),
        )
        .route(
            "/v1/organizations",
            post(organizations::create).get(organizations::list),
        )
        .route(
            "/v1/organizations/{id}",
            get(organizations::get).patch(organizations::update),
        )
        .route(
            "/v1/oauth-clients",
            post(oauth_clients::create).get(oauth_clients::list),
        )
        .route(
            "/v1/oauth-clients/{client_id}",
            get(list::get::<OAuthClientRecord>)
                .patch(oauth_clients::update)
                .delete(oauth_clients::delete),
        )
        .route(
            "/v1/service-accounts",
            post(service_accounts::create).get(service_accounts::list),
        )
        .route(
            "/v1/service-accounts/{id}",
            get(list::get::<ServiceAccountRecord>)
                .patch(service_accounts::update)
                .delete(service_accounts::delete),
        )
        .route(
            "/v1/service-accounts/{id}/keys",
            post(service_accounts::create_key).get(service_accounts::list_keys),
        )
        .route(
            "/v1/service-accounts/{id}/keys/{key_id}",
            delete(service_accounts::delete_key),
        )
        .route_layer(from_fn_with_state(state.clone(), faults::inject))
        .route_layer(from_fn_with_state(state.clone(), auth::require_scope));
    let login = Router::new()
        .route("/v1/flows/login", post(flows::create))
        .route("/v1/flows/login/{flow}", post(flows::submit));
    Router::new()
        .merge(admin)
        .merge(login)
        .route_layer(from_fn_with_state(state.clone(), faults::rate_limit))
        .method_not_allowed_fallback(wrong_method)
        .fallback(no_route)
        // Outside the router: axum answers a method it has no handler for before any route
        // layer runs, with an `Allow` of every method of the path.
        .layer(axum::middleware::from_fn(identities::allowed_methods))
        .layer(from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}
