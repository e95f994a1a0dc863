//! Cognito app clients: `aws cognito-idp describe-user-pool-client` output,
//! `{"UserPoolClient": {...}}` — one document, several appended to one file (one call per
//! client, `>>`), or a JSON array of them. A bare `UserPoolClient` object (`--query
//! UserPoolClient`) is read too.
//!
//! Mapping (DESIGN.md section 4): `ClientId` → external id, `ClientName` → name; a
//! `ClientSecret` makes the client confidential, none makes it public — the secret itself is
//! only checked for presence and never kept. `AllowedOAuthFlows` of only
//! `client_credentials` → a service account. `CallbackURLs` → redirect URIs in the export's
//! order: `DefaultRedirectURI` is not moved first, because Avnology has no default redirect
//! (the authorize request names its `redirect_uri`, matched exactly) and reordering would show
//! as a change in every later plan. `LogoutURLs` → post-logout URIs, `AllowedOAuthScopes` →
//! scopes (minus `aws.cognito.signin.user.admin`, which only opens Cognito's own user API).
//! Flows: `code` → `authorization_code` (+ `refresh_token` when `ExplicitAuthFlows` has
//! `ALLOW_REFRESH_TOKEN_AUTH`), `client_credentials` kept, `implicit` dropped with a warning.

use std::path::Path;

use serde_json::Value;

use crate::model::{ClientDecl, ClientType, ExternalId, OAuthClient, ServiceAccount};
use crate::sources::clients::{
    ClientRecord, DEFAULT_SCOPES, MappedClient, Outcome, line_at, owned, read_text, string_list,
};
use crate::sources::json_records::fields::{Slots, normalise_key};
use crate::sources::json_records::{first_content_byte, kind_of, read_json_records};
use crate::sources::record::{convert_or_invalid, invalid};
use crate::sources::{Location, SourceError};

/// Cognito's own admin scope: it lets a token call Cognito's user-profile API, which has no
/// Avnology counterpart.
const COGNITO_ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Reads the Cognito app-client export at `path` and hands every client to `sink`.
///
/// # Errors
///
/// When the file cannot be read, is not JSON, breaks off mid-document, or is a document other
/// than `describe-user-pool-client` output (a `list-user-pool-clients` listing, which holds
/// only ids and names, is named as such).
pub(crate) fn read_clients(
    path: &Path,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    match first_content_byte(path)? {
        None => Ok(()),
        Some(b'[') => {
            read_json_records(path, is_client_id_key, &mut |record| {
                let entries = record.entries.and_then(unwrap);
                let outcome = convert_or_invalid(entries, record.id_hint, convert);
                sink(ClientRecord {
                    location: record.location,
                    outcome,
                });
            })?;
            Ok(())
        }
        Some(_) => read_documents(path, sink),
    }
}

/// One or more top-level documents, each one client.
fn read_documents(path: &Path, sink: &mut dyn FnMut(ClientRecord)) -> Result<(), SourceError> {
    let text = read_text(path)?;
    let location = |line: u64, index: u64| Location {
        file: path.to_path_buf(),
        line: Some(line),
        index,
    };
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let mut index = 0u64;
    loop {
        let offset = stream.byte_offset();
        let start = offset + (text.len() - offset - text[offset..].trim_start().len());
        let line = line_at(text.as_bytes(), start);
        let Some(next) = stream.next() else {
            return Ok(());
        };
        let document = next.map_err(|err| {
            let problem = match err.classify() {
                serde_json::error::Category::Eof => "the document is truncated",
                _ => "malformed JSON",
            };
            SourceError::new(
                location(err.line() as u64, index),
                None,
                format!(
                    "{problem} at line {} column {}; the clients after this point cannot be read",
                    err.line(),
                    err.column()
                ),
            )
        })?;
        let entries = match document {
            Value::Object(map) => map.into_iter().collect::<Vec<_>>(),
            other => {
                return Err(SourceError::new(
                    location(line, index),
                    None,
                    format!(
                        "expected `describe-user-pool-client` output (a JSON object), found {}",
                        kind_of(&other)
                    ),
                ));
            }
        };
        if entries
            .iter()
            .any(|(k, _)| normalise_key(k) == "userpoolclients")
        {
            return Err(SourceError::new(
                location(line, index),
                None,
                "this is `list-user-pool-clients` output, which holds only ids and names; run \
                 `aws cognito-idp describe-user-pool-client` for each client and append the \
                 outputs to one file",
            ));
        }
        let outcome = match unwrap(entries) {
            Ok(client) => convert(client),
            Err(message) => {
                return Err(SourceError::new(location(line, index), None, message));
            }
        };
        sink(ClientRecord {
            location: location(line, index),
            outcome,
        });
        index += 1;
    }
}

/// The client's own fields: the value of `UserPoolClient`, or the document itself when it is
/// a bare client (it has a `ClientId`).
fn unwrap(entries: Vec<(String, Value)>) -> Result<Vec<(String, Value)>, String> {
    let wrapped = entries
        .iter()
        .position(|(k, _)| normalise_key(k) == "userpoolclient");
    match wrapped {
        Some(at) => match entries.into_iter().nth(at) {
            Some((_, Value::Object(map))) => Ok(map.into_iter().collect()),
            Some((key, other)) => Err(format!(
                "`{key}` must be an object, not {}",
                kind_of(&other)
            )),
            None => Err("`UserPoolClient` is missing".to_owned()),
        },
        None if entries.iter().any(|(k, _)| is_client_id_key(k)) => Ok(entries),
        None => Err(
            "expected `describe-user-pool-client` output: an object with a `UserPoolClient`"
                .to_owned(),
        ),
    }
}

/// The client fields this tool reads, by meaning. `ClientSecret` is read for presence only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    ClientId,
    ClientName,
    ClientSecret,
    AllowedOAuthFlows,
    AllowedOAuthScopes,
    CallbackUrls,
    LogoutUrls,
    ExplicitAuthFlows,
}

impl Field {
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "clientid" => Self::ClientId,
            "clientname" => Self::ClientName,
            "clientsecret" => Self::ClientSecret,
            "allowedoauthflows" => Self::AllowedOAuthFlows,
            "allowedoauthscopes" => Self::AllowedOAuthScopes,
            "callbackurls" => Self::CallbackUrls,
            "logouturls" => Self::LogoutUrls,
            "explicitauthflows" => Self::ExplicitAuthFlows,
            _ => return None,
        })
    }
}

fn is_client_id_key(key: &str) -> bool {
    Field::of(&normalise_key(key)) == Some(Field::ClientId)
}

/// Converts one `UserPoolClient`'s entries.
fn convert(entries: Vec<(String, Value)>) -> Outcome {
    let mut s = Slots::new(entries, Field::of);
    let mut problems = std::mem::take(&mut s.conflicts);
    let client_id = s.take_text(Field::ClientId).non_empty(&mut problems);
    let Some(external_id) = client_id else {
        problems.insert(0, "the client has no `ClientId`".to_owned());
        return invalid(None, &problems);
    };
    let name = s
        .take::<String>(Field::ClientName)
        .get(&mut problems)
        .unwrap_or_default();
    // Presence only: the value is taken as a JSON value and dropped unread. An empty string is
    // what some tools write for "no secret".
    let has_secret = match s.take::<Value>(Field::ClientSecret).get(&mut problems) {
        Some(Value::String(secret)) => !secret.trim().is_empty(),
        Some(_) => {
            problems.push("`ClientSecret` must be a string".to_owned());
            false
        }
        None => false,
    };
    let flows: Vec<String> = string_list(
        s.take(Field::AllowedOAuthFlows),
        "AllowedOAuthFlows",
        &mut problems,
    )
    .into_iter()
    .map(|f| f.trim().to_ascii_lowercase())
    .collect();
    let scopes = string_list(
        s.take(Field::AllowedOAuthScopes),
        "AllowedOAuthScopes",
        &mut problems,
    );
    let redirect_uris = string_list(s.take(Field::CallbackUrls), "CallbackURLs", &mut problems);
    let logout_uris = string_list(s.take(Field::LogoutUrls), "LogoutURLs", &mut problems);
    let explicit = string_list(
        s.take(Field::ExplicitAuthFlows),
        "ExplicitAuthFlows",
        &mut problems,
    );
    if !problems.is_empty() {
        return invalid(Some(external_id), &problems);
    }

    let has = |flow: &str| flows.iter().any(|f| f == flow);
    let mut warnings = Vec::new();
    let unknown: Vec<String> = flows
        .iter()
        .filter(|f| !matches!(f.as_str(), "code" | "implicit" | "client_credentials"))
        .map(|f| format!("`{f}`"))
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!(
            "AllowedOAuthFlows: dropped {}, which this tool does not know",
            unknown.join(", ")
        ));
    }

    // Cognito refuses `client_credentials` together with `code` or `implicit`, so a client
    // with it is a machine-to-machine client.
    if has("client_credentials") && !has("code") && !has("implicit") {
        if !scopes.is_empty() {
            let listed: Vec<String> = scopes.iter().map(|s| format!("`{s}`")).collect();
            warnings.push(format!(
                "AllowedOAuthScopes {} are scopes of the pool's resource servers, which have no \
                 Avnology counterpart; the service account's API key does not carry them",
                listed.join(", ")
            ));
        }
        return MappedClient::with_warnings(
            ClientDecl::ServiceAccount(ServiceAccount {
                external_id: ExternalId::new(external_id),
                name,
                description: None,
                scopes: Vec::new(),
            }),
            warnings,
        );
    }

    let mut grant_types = Vec::new();
    if has("code") {
        grant_types.push("authorization_code".to_owned());
    }
    if has("implicit") {
        warnings.push(
            "AllowedOAuthFlows: dropped `implicit`, which OAuth 2.1 removed; the client signs \
             in with `authorization_code` and PKCE on Avnology"
                .to_owned(),
        );
        if grant_types.is_empty() {
            grant_types.push("authorization_code".to_owned());
        }
    }
    if grant_types.is_empty() {
        // No hosted-UI flow at all: the app signed users in through Cognito's own API (SRP,
        // USER_PASSWORD_AUTH). On Avnology every app signs users in through the code flow.
        warnings.push(
            "AllowedOAuthFlows lists no OAuth flow (the app used Cognito's own sign-in API); \
             it gets `authorization_code`, Avnology's sign-in flow"
                .to_owned(),
        );
        grant_types.push("authorization_code".to_owned());
    }
    if explicit
        .iter()
        .any(|f| f.trim().eq_ignore_ascii_case("ALLOW_REFRESH_TOKEN_AUTH"))
    {
        grant_types.push("refresh_token".to_owned());
    }
    if has("client_credentials") {
        grant_types.push("client_credentials".to_owned());
    }

    let mut kept_scopes: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if scope == COGNITO_ADMIN_SCOPE {
            warnings.push(format!(
                "AllowedOAuthScopes: dropped `{COGNITO_ADMIN_SCOPE}`, which only opens \
                 Cognito's own user API"
            ));
        } else {
            kept_scopes.push(scope);
        }
    }
    if kept_scopes.is_empty() {
        kept_scopes = owned(&DEFAULT_SCOPES);
    }

    MappedClient::with_warnings(
        ClientDecl::OAuth(OAuthClient {
            external_id: ExternalId::new(external_id),
            name,
            client_type: if has_secret {
                ClientType::Confidential
            } else {
                ClientType::Public
            },
            redirect_uris,
            post_logout_redirect_uris: logout_uris,
            allowed_origins: Vec::new(),
            grant_types,
            scopes: kept_scopes,
        }),
        warnings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Provider;
    use crate::sources::clients::ClientReadStats;
    use crate::sources::clients::tests::{fixture_of, read, source, try_read};

    #[test]
    fn a_single_document_maps_every_field() {
        let (stats, items) = read(&fixture_of(Provider::Cognito, "cognito_single.json"));
        assert_eq!(
            stats,
            ClientReadStats {
                records: 1,
                clients: 1,
                ..ClientReadStats::default()
            }
        );
        let web = items.oauth("4fixture0web0client00000001");
        assert_eq!(web.name, "acme-web");
        // A `ClientSecret` makes it confidential; the secret itself is not kept.
        assert_eq!(web.client_type, ClientType::Confidential);
        // The export's order, although `DefaultRedirectURI` is the second entry.
        assert_eq!(
            web.redirect_uris,
            [
                "https://app.acme.com/callback",
                "https://app.acme.com/auth/callback"
            ]
        );
        assert_eq!(web.post_logout_redirect_uris, ["https://app.acme.com/"]);
        assert!(web.allowed_origins.is_empty());
        assert_eq!(web.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(web.scopes, ["openid", "email", "profile"]);
        assert_eq!(
            items.warnings_for("4fixture0web0client00000001"),
            [
                "AllowedOAuthScopes: dropped `aws.cognito.signin.user.admin`, which only opens \
              Cognito's own user API"
            ]
        );
        let location = items.location("4fixture0web0client00000001");
        assert_eq!((location.line, location.index), (Some(1), 0));
    }

    #[test]
    fn appended_documents_are_one_client_each() {
        let (stats, items) = read(&fixture_of(Provider::Cognito, "cognito_multiple.json"));
        assert_eq!(
            stats,
            ClientReadStats {
                records: 5,
                clients: 3,
                service_accounts: 1,
                invalid: 1,
                ..ClientReadStats::default()
            }
        );

        let mobile = items.oauth("4fixture0mobile0client00002");
        assert_eq!(mobile.client_type, ClientType::Public);
        assert_eq!(
            mobile.redirect_uris,
            [
                "com.acme.mobile:/callback",
                "http://localhost:8080/callback"
            ]
        );
        assert_eq!(mobile.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(mobile.scopes, ["openid", "phone"]);
        assert_eq!(items.location("4fixture0mobile0client00002").line, Some(1));

        // Only `client_credentials`: a service account; the resource-server scopes stay
        // behind, with a warning.
        let m2m = items.service_account("4fixture0m2m0client00000003");
        assert_eq!(m2m.name, "billing-job");
        assert!(m2m.scopes.is_empty());
        assert_eq!(items.location("4fixture0m2m0client00000003").line, Some(14));
        let warnings = items.warnings_for("4fixture0m2m0client00000003");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("`https://api.acme.com/billing.read`"),
            "{warnings:?}"
        );

        let implicit = items.oauth("4fixture0implicit0client004");
        assert_eq!(implicit.grant_types, ["authorization_code"]);
        assert_eq!(
            items.warnings_for("4fixture0implicit0client004"),
            [
                "AllowedOAuthFlows: dropped `implicit`, which OAuth 2.1 removed; the client signs \
              in with `authorization_code` and PKCE on Avnology"
            ]
        );

        let srp = items.oauth("4fixture0srp0client00000005");
        assert_eq!(srp.grant_types, ["authorization_code", "refresh_token"]);
        assert!(srp.redirect_uris.is_empty());
        assert_eq!(items.warnings_for("4fixture0srp0client00000005").len(), 1);

        // Documents without whitespace between them still start where they start.
        let scheme = items.invalid_for("4fixture0scheme0client00006");
        assert_eq!(scheme.location.line, Some(45));
        assert_eq!(scheme.location.index, 4);
        assert!(
            scheme
                .message
                .starts_with("redirect_uris: `myapp://callback` uses the scheme `myapp`"),
            "{scheme}"
        );
    }

    #[test]
    fn an_array_of_documents_and_bare_clients() {
        let (stats, items) = read(&fixture_of(Provider::Cognito, "cognito_array.json"));
        assert_eq!((stats.records, stats.clients, stats.invalid), (3, 2, 1));
        assert_eq!(
            items.oauth("4fixture0web0client00000001").client_type,
            ClientType::Confidential
        );
        // An empty `ClientSecret` is no secret.
        let spa = items.oauth("4fixture0spa0client00000007");
        assert_eq!(spa.client_type, ClientType::Public);
        assert_eq!(items.location("4fixture0spa0client00000007").line, Some(11));
        let bad = &items.invalid()[0];
        assert_eq!(bad.location.index, 2);
        assert_eq!(
            bad.message,
            "`UserPoolClient` must be an object, not a string"
        );
    }

    #[test]
    fn list_user_pool_clients_output_is_refused_with_a_hint() {
        let (result, items) = try_read(&fixture_of(Provider::Cognito, "cognito_list.json"));
        let err = result.unwrap_err();
        assert!(
            err.message
                .starts_with("this is `list-user-pool-clients` output"),
            "{err}"
        );
        assert!(items.all.is_empty());
    }

    #[test]
    fn broken_and_foreign_documents_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |text: &str| {
            let path = dir.path().join("c.json");
            std::fs::write(&path, text).expect("write");
            cognito_at(path)
        };
        let (result, items) = try_read(&write(
            "{\"UserPoolClient\": {\"ClientId\": \"a\", \"ClientName\": \"A\"}}\n{\"UserPoolClient\": {",
        ));
        let err = result.unwrap_err();
        assert_eq!(err.location.line, Some(2));
        assert!(
            err.message.starts_with("the document is truncated"),
            "{err}"
        );
        assert_eq!(items.clients().len(), 1, "the first document was read");

        let (result, _) = try_read(&write("{\"Users\": []}"));
        assert!(result.unwrap_err().message.contains("`UserPoolClient`"));
        let (result, _) = try_read(&write("\"text\""));
        assert!(result.unwrap_err().message.contains("found a string"));

        let (_, items) = read(&write(
            "{\"UserPoolClient\": {\"ClientName\": \"A\", \"ClientSecret\": \"SECRET-DO-NOT-PRINT\"}}",
        ));
        assert_eq!(items.invalid()[0].message, "the client has no `ClientId`");
    }

    fn cognito_at(path: std::path::PathBuf) -> crate::manifest::ClientSource {
        source(Provider::Cognito, path)
    }
}
