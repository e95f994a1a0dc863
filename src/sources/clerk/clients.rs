//! Clerk OAuth applications (Clerk as an OAuth / OIDC provider): the Backend API's
//! `GET /oauth_applications` output, `{"data": [...], "total_count": N}` (pages appended to
//! one file are fine), or a bare array of the same objects.
//!
//! Mapping (DESIGN.md section 4): `client_id` (or `id` where there is none) → external id,
//! `name` → name, `public: true` → public client (PKCE), anything else → confidential.
//! `redirect_uris` → redirect URIs in order, falling back to the deprecated single
//! `callback_url`. `scopes` is one space-separated string → a list (an array is accepted
//! too); none → `openid profile email`. Clerk applications use the code flow with refresh
//! tokens, so every client gets `authorization_code` and `refresh_token`. Clerk returns
//! `client_secret` only when an application is created or its secret rotated; it is never
//! read here either way.

use std::path::Path;

use serde_json::Value;

use crate::model::{ClientDecl, ClientType, ExternalId, OAuthClient};
use crate::sources::SourceError;
use crate::sources::clients::{
    ClientRecord, DEFAULT_GRANTS, DEFAULT_SCOPES, MappedClient, Outcome, as_client_export, owned,
    string_list,
};
use crate::sources::json_records::fields::{Field, Slots, normalise_key};
use crate::sources::json_records::{kind_of, read_json_records_in};
use crate::sources::record::{convert_or_invalid, invalid};

/// Reads the Clerk OAuth-application export at `path` and hands every application to `sink`.
///
/// # Errors
///
/// When the file cannot be read, a JSON syntax error leaves no place to resume, or a JSON
/// object has no `data` array.
pub(crate) fn read_clients(
    path: &Path,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    read_json_records_in(path, "data", is_id_key, &mut |record| {
        sink(ClientRecord {
            location: record.location,
            outcome: convert_or_invalid(record.entries, record.id_hint, convert),
        });
    })
    .map_err(as_client_export)?;
    Ok(())
}

/// The application fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AppField {
    Object,
    Id,
    ClientId,
    Name,
    Public,
    RedirectUris,
    CallbackUrl,
    Scopes,
}

impl AppField {
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "object" => Self::Object,
            "id" => Self::Id,
            "clientid" => Self::ClientId,
            "name" => Self::Name,
            "public" => Self::Public,
            "redirecturis" => Self::RedirectUris,
            "callbackurl" => Self::CallbackUrl,
            "scopes" => Self::Scopes,
            _ => return None,
        })
    }
}

fn is_id_key(key: &str) -> bool {
    matches!(
        AppField::of(&normalise_key(key)),
        Some(AppField::ClientId | AppField::Id)
    )
}

/// Converts one application's entries.
fn convert(entries: Vec<(String, Value)>) -> Outcome {
    use AppField as F;
    let mut s = Slots::new(entries, AppField::of);
    let mut problems = std::mem::take(&mut s.conflicts);
    let client_id = s.take_text(F::ClientId).non_empty(&mut problems);
    let id = s.take_text(F::Id).non_empty(&mut problems);
    let Some(external_id) = client_id.or(id) else {
        problems.insert(
            0,
            "the application has neither a `client_id` nor an `id`".to_owned(),
        );
        return invalid(None, &problems);
    };
    // Pointing a client source at the users export is an easy slip: say so, rather than
    // listing every field a user lacks.
    if let Some(object) = s.take::<String>(F::Object).get(&mut problems)
        && object != "oauth_application"
    {
        return invalid(
            Some(external_id),
            &[format!(
                "the record is a Clerk `{object}`, not an `oauth_application`; is `path` the \
                 `/oauth_applications` output?"
            )],
        );
    }
    let name = s
        .take::<String>(F::Name)
        .get(&mut problems)
        .unwrap_or_default();
    let public = s
        .take::<bool>(F::Public)
        .get(&mut problems)
        .unwrap_or(false);
    let mut redirect_uris = string_list(s.take(F::RedirectUris), "redirect_uris", &mut problems);
    let callback_url = s.take::<String>(F::CallbackUrl).non_empty(&mut problems);
    if redirect_uris.is_empty()
        && let Some(url) = callback_url
    {
        redirect_uris.push(url);
    }
    let scopes = match s.take::<Value>(F::Scopes) {
        Field::Present(Value::String(list)) => list.split_whitespace().map(str::to_owned).collect(),
        Field::Present(Value::Array(items)) => {
            string_list(Field::Present(items), "scopes", &mut problems)
        }
        Field::Present(other) => {
            problems.push(format!(
                "`scopes` must be a space-separated string, not {}",
                kind_of(&other)
            ));
            Vec::new()
        }
        Field::Absent | Field::Wrong { .. } => Vec::new(),
    };
    if !problems.is_empty() {
        return invalid(Some(external_id), &problems);
    }
    MappedClient::outcome(ClientDecl::OAuth(OAuthClient {
        external_id: ExternalId::new(external_id),
        name,
        client_type: if public {
            ClientType::Public
        } else {
            ClientType::Confidential
        },
        redirect_uris,
        post_logout_redirect_uris: Vec::new(),
        allowed_origins: Vec::new(),
        grant_types: owned(&DEFAULT_GRANTS),
        scopes: if scopes.is_empty() {
            owned(&DEFAULT_SCOPES)
        } else {
            scopes
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Provider;
    use crate::sources::clients::ClientReadStats;
    use crate::sources::clients::tests::{fixture_of, read};

    #[test]
    fn data_document_maps_public_flag_redirects_and_scopes() {
        let (stats, items) = read(&fixture_of(Provider::Clerk, "clerk_data.json"));
        assert_eq!(
            stats,
            ClientReadStats {
                records: 2,
                clients: 2,
                ..ClientReadStats::default()
            }
        );
        let partner = items.oauth("FixturePartnerClientId01");
        assert_eq!(partner.name, "Acme Partner Portal");
        assert_eq!(partner.client_type, ClientType::Confidential);
        assert_eq!(
            partner.redirect_uris,
            [
                "https://partner.acme.com/oauth/callback",
                "https://partner.acme.com/oauth/callback-v2"
            ]
        );
        assert_eq!(partner.scopes, ["profile", "email", "public_metadata"]);
        assert_eq!(partner.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(items.location("FixturePartnerClientId01").line, Some(3));

        let cli = items.oauth("FixtureCliClientId000002");
        assert_eq!(cli.client_type, ClientType::Public);
        assert_eq!(cli.scopes, ["openid", "profile", "email"]);
        assert_eq!(cli.redirect_uris, ["http://127.0.0.1:8976/callback"]);
    }

    #[test]
    fn array_falls_back_to_id_callback_url_and_default_scopes() {
        let (stats, items) = read(&fixture_of(Provider::Clerk, "clerk_array.json"));
        assert_eq!((stats.records, stats.clients, stats.invalid), (3, 1, 2));
        let legacy = items.oauth("oa_2fixtureLegacy0000000003");
        assert_eq!(
            legacy.redirect_uris,
            ["https://reports.acme.com/oauth/callback"]
        );
        assert_eq!(legacy.scopes, ["openid", "profile", "email"]);
        assert_eq!(legacy.client_type, ClientType::Confidential);

        let user = items.invalid_for("user_2fixtureNotAnApp000004");
        assert_eq!(
            user.message,
            "the record is a Clerk `user`, not an `oauth_application`; is `path` the \
             `/oauth_applications` output?"
        );
        assert_eq!(
            items.invalid_for("FixtureWrongScopes000005").message,
            "`scopes` must be a space-separated string, not a number"
        );
    }

    #[test]
    fn a_document_without_data_is_refused() {
        let (result, _) = crate::sources::clients::tests::try_read(&fixture_of(
            Provider::Clerk,
            "cognito_single.json",
        ));
        assert!(result.unwrap_err().message.contains("`data` array"));
    }
}
