//! One Auth0 client (application) record into a model client, following DESIGN.md section 4,
//! whichever file it came from: `GET /api/v2/clients` output, a deploy-cli `tenant.yaml`
//! entry or a deploy-cli `clients/*.json` file (all three hold the same Management API
//! object, deploy-cli minus `client_id`).
//!
//! `app_type` decides what the record becomes: `regular_web` → confidential client, `spa` and
//! `native` → public client (PKCE), `non_interactive` (machine-to-machine) → service account;
//! no `app_type` (legacy clients) → public when `token_endpoint_auth_method` is `none`, else
//! confidential. `global: true` (the "All Applications" pseudo-client), resource servers,
//! Express Configuration and SSO-integration types are skipped, naming the type.
//!
//! `client_secret` is never read: its key is not one of [`ClientField`]'s, so the value is
//! dropped with the rest of the record's unmapped keys.

use serde_json::Value;

use crate::model::{ClientDecl, ClientType, ExternalId, OAuthClient, ServiceAccount};
use crate::sources::SkipReason;
use crate::sources::clients::placeholders::{key_of, unfilled};
use crate::sources::clients::{
    DEFAULT_GRANTS, DEFAULT_SCOPES, MappedClient, OAUTH21_GRANTS, Outcome, dedupe, owned,
    skipped_app_type, string_list, trim_origin_slash,
};
use crate::sources::json_records::fields::{Field, Slots, normalise_key};
use crate::sources::record::invalid;

/// The client fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientField {
    ClientId,
    Name,
    Description,
    Global,
    AppType,
    TokenEndpointAuthMethod,
    Callbacks,
    AllowedLogoutUrls,
    WebOrigins,
    AllowedOrigins,
    GrantTypes,
}

impl ClientField {
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "clientid" => Self::ClientId,
            "name" => Self::Name,
            "description" => Self::Description,
            "global" => Self::Global,
            "apptype" => Self::AppType,
            "tokenendpointauthmethod" => Self::TokenEndpointAuthMethod,
            "callbacks" => Self::Callbacks,
            "allowedlogouturls" => Self::AllowedLogoutUrls,
            "weborigins" => Self::WebOrigins,
            "allowedorigins" => Self::AllowedOrigins,
            "granttypes" => Self::GrantTypes,
            _ => return None,
        })
    }
}

/// Whether a raw key is the client's `client_id`, captured to name a record that breaks
/// before it is complete.
pub(super) fn is_client_id_key(key: &str) -> bool {
    ClientField::of(&normalise_key(key)) == Some(ClientField::ClientId)
}

/// What `app_type` makes of a client.
enum Kind {
    Client(ClientType),
    ServiceAccount,
}

/// Converts one record's entries (keywords already filled).
pub(super) fn convert(entries: Vec<(String, Value)>) -> Outcome {
    use ClientField as F;

    // A keyword left in a field this tool maps would be migrated literally (a redirect URI of
    // `https://##ENV##.acme.com/cb`): refuse the record, naming the key to add to `vars`.
    let mut unfilled_keywords = Vec::new();
    for (key, value) in &entries {
        if ClientField::of(&normalise_key(key)).is_none() {
            continue;
        }
        for token in unfilled(value) {
            unfilled_keywords.push(format!(
                "`{key}` holds the deploy-cli keyword `{token}`, which no `vars` entry fills \
                 (add `{} = \"…\"` to this source's `vars`)",
                key_of(&token)
            ));
        }
    }

    let mut s = Slots::new(entries, ClientField::of);
    let mut problems = std::mem::take(&mut s.conflicts);
    let client_id = s.take_text(F::ClientId).non_empty(&mut problems);
    let name = s.take::<String>(F::Name).get(&mut problems);
    // deploy-cli files carry no `client_id`: deploy-cli itself identifies clients by name.
    let external_id = client_id.or_else(|| name.clone().filter(|n| !n.trim().is_empty()));
    if !unfilled_keywords.is_empty() {
        // What the keywords stand for decides the field's type too, so nothing else about
        // the record is worth reporting until they are filled.
        return invalid(external_id, &unfilled_keywords);
    }
    let Some(external_id) = external_id else {
        problems.insert(
            0,
            "the client has neither a `client_id` nor a `name`".to_owned(),
        );
        return invalid(None, &problems);
    };

    if s.take::<bool>(F::Global).get(&mut problems) == Some(true) {
        return Outcome::Skipped {
            external_id: Some(external_id),
            reason: SkipReason::GlobalClient,
        };
    }
    let app_type = s
        .take::<String>(F::AppType)
        .non_empty(&mut problems)
        .map(|t| t.trim().to_ascii_lowercase());
    let auth_method = s
        .take::<String>(F::TokenEndpointAuthMethod)
        .non_empty(&mut problems);
    let kind = match app_type.as_deref() {
        Some("regular_web") => Kind::Client(ClientType::Confidential),
        Some("spa" | "native") => Kind::Client(ClientType::Public),
        Some("non_interactive") => Kind::ServiceAccount,
        Some(other) => {
            if let Some(app_type) = skipped_app_type(other) {
                return Outcome::Skipped {
                    external_id: Some(external_id),
                    reason: SkipReason::ClientAppType(app_type),
                };
            }
            problems.push(format!(
                "`app_type` `{other}` is not one this tool maps (regular_web, spa, native, \
                 non_interactive)"
            ));
            Kind::Client(ClientType::Confidential)
        }
        // Legacy clients have no `app_type`; a client that cannot authenticate at the token
        // endpoint is a public one.
        None if auth_method.as_deref() == Some("none") => Kind::Client(ClientType::Public),
        None => Kind::Client(ClientType::Confidential),
    };

    let description = s.take::<String>(F::Description).non_empty(&mut problems);
    let client_type = match kind {
        Kind::ServiceAccount => {
            if !problems.is_empty() {
                return invalid(Some(external_id), &problems);
            }
            // Auth0 M2M scopes are grants on the tenant's own APIs, which mean nothing to
            // Avnology's admin API: the key gets none of them.
            return MappedClient::outcome(ClientDecl::ServiceAccount(ServiceAccount {
                external_id: ExternalId::new(external_id),
                name: name.unwrap_or_default(),
                description,
                scopes: Vec::new(),
            }));
        }
        Kind::Client(client_type) => client_type,
    };

    let mut warnings = Vec::new();
    let redirect_uris = string_list(s.take(F::Callbacks), "callbacks", &mut problems);
    let post_logout = string_list(
        s.take(F::AllowedLogoutUrls),
        "allowed_logout_urls",
        &mut problems,
    );
    let mut origins = string_list(s.take(F::WebOrigins), "web_origins", &mut problems);
    origins.extend(string_list(
        s.take(F::AllowedOrigins),
        "allowed_origins",
        &mut problems,
    ));
    for origin in &mut origins {
        if let Some(trimmed) = trim_origin_slash(origin) {
            warnings.push(format!(
                "allowed origin `{origin}` is written with a trailing `/`; migrated as \
                 `{trimmed}` (an origin has no path)"
            ));
            *origin = trimmed;
        }
    }
    // `web_origins` and `allowed_origins` overlap in most tenants; Avnology has one list.
    dedupe(&mut origins);

    let grant_field = s.take::<Vec<Value>>(F::GrantTypes);
    let grant_types = if matches!(grant_field, Field::Absent) {
        owned(&DEFAULT_GRANTS)
    } else {
        let listed = string_list(grant_field, "grant_types", &mut problems);
        grants(listed, &mut warnings)
    };

    if !problems.is_empty() {
        return invalid(Some(external_id), &problems);
    }
    MappedClient::with_warnings(
        ClientDecl::OAuth(OAuthClient {
            external_id: ExternalId::new(external_id),
            name: name.unwrap_or_default(),
            client_type,
            redirect_uris,
            post_logout_redirect_uris: post_logout,
            allowed_origins: origins,
            grant_types,
            scopes: owned(&DEFAULT_SCOPES),
        }),
        warnings,
    )
}

/// Keeps the OAuth 2.1 grants in order, naming the others in a warning. A client left with
/// none (implicit-only SPAs, password-grant apps) gets `authorization_code`: on Avnology, that
/// (with PKCE) is how every app signs users in.
fn grants(listed: Vec<String>, warnings: &mut Vec<String>) -> Vec<String> {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for grant in listed {
        if OAUTH21_GRANTS.contains(&grant.as_str()) {
            if !kept.contains(&grant) {
                kept.push(grant);
            }
        } else if !dropped.contains(&grant) {
            dropped.push(grant);
        }
    }
    if !dropped.is_empty() {
        let names: Vec<String> = dropped.iter().map(|g| format!("`{g}`")).collect();
        warnings.push(format!(
            "grant_types: dropped {}: Avnology supports only the OAuth 2.1 grants \
             authorization_code, refresh_token and client_credentials",
            names.join(", ")
        ));
    }
    if kept.is_empty() {
        warnings.push(
            "grant_types: no OAuth 2.1 grant is left; the client gets `authorization_code`, \
             Avnology's sign-in flow"
                .to_owned(),
        );
        kept.push("authorization_code".to_owned());
    }
    kept
}
