//! OAuth client sources: reading a manifest's `[[client_sources]]` entry into model
//! [`ClientDecl`]s, whatever provider wrote the export.
//!
//! This module owns what every provider shares: the order of work, the counts, and the checks
//! that make every emitted [`ClientItem::Client`] one Avnology would accept. A provider reader
//! (`sources/auth0/clients`, `sources/cognito/clients.rs`, `sources/clerk/clients.rs`) turns each
//! raw record into a `ClientRecord`; then [`read_client_source`] applies the source's
//! `rewrite` rules in order ([`rewrite()`]), drops list entries that the rewrites made duplicate,
//! rejects a second record with an external id already seen in the source, and [`validate()`]s the
//! result. auth0-deploy-cli `##KEY##` / `@@KEY@@` placeholders are filled by the Auth0 reader
//! itself (`placeholders`), because deploy-cli fills them in the file's text before it parses
//! it, and only text-level filling reproduces that.
//!
//! Client secrets are never read into any value here: Avnology mints new secrets, so an
//! export's `client_secret` / `ClientSecret` is at most checked for presence (Cognito's
//! confidential-or-public rule), and no message or `Debug` output can carry one.

mod convert;
pub(crate) mod placeholders;
mod rewrite;
mod text;
mod validate;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;

pub use rewrite::rewrite;
pub use validate::validate;

pub(crate) use convert::{
    DEFAULT_GRANTS, DEFAULT_SCOPES, OAUTH21_GRANTS, as_client_export, dedupe, owned, string_list,
    trim_origin_slash,
};
pub(crate) use text::{first_content_line, line_at, read_text};

use crate::manifest::{ClientSource, Provider};
use crate::model::ClientDecl;

#[cfg(doc)]
use super::SkipReason;
use super::{Location, Skipped, SourceError};

/// One record of a client export, as it leaves [`read_client_source`].
#[derive(Debug)]
pub enum ClientItem {
    /// A client (or service account) to migrate; always valid per [`validate()`].
    Client(Box<ClientDecl>, Location),
    /// A record that is not a client application Avnology can hold (Auth0's global
    /// pseudo-client, resource servers, SSO integrations), skipped and reported.
    Skipped(Skipped),
    /// A record that is malformed, fails validation, or repeats an external id.
    Invalid(SourceError),
    /// Something the reviewer should know that does not stop the record (a dropped grant, an
    /// origin written with a trailing `/`, a list entry made duplicate by a rewrite).
    Warning(SourceError),
}

/// What reading one client source found, beyond the items themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientReadStats {
    /// Records read (clients, service accounts, skipped and invalid together).
    pub records: u64,
    /// Records that became OAuth clients.
    pub clients: u64,
    /// Records that became service accounts (machine-to-machine clients).
    pub service_accounts: u64,
    /// Records skipped on purpose.
    pub skipped: u64,
    /// Records reported invalid.
    pub invalid: u64,
}

/// Reads a `[[client_sources]]` entry: the provider reader, then placeholder filling (auth0
/// deploy-cli), then the rewrites in order, then validation — so every emitted
/// `ClientItem::Client` is valid.
///
/// Items leave in file order; a record's warnings come just before the record itself.
///
/// # Errors
///
/// Only for problems that make the export unreadable: it cannot be opened or read, it is not
/// the format the provider writes (a Cognito `list-user-pool-clients` listing, a JSON object
/// without a `clients` array), or a syntax error leaves no place to resume. Problems with
/// single records are [`ClientItem::Invalid`] items, and reading goes on.
pub fn read_client_source(
    source: &ClientSource,
    sink: &mut dyn FnMut(ClientItem),
) -> Result<ClientReadStats, SourceError> {
    let mut pipeline = Pipeline {
        source,
        stats: ClientReadStats::default(),
        seen: HashMap::new(),
        sink,
    };
    let at_start = Location {
        file: source.path.clone(),
        line: None,
        index: 0,
    };
    if !source.vars.is_empty() && source.provider != Provider::Auth0 {
        let keys: Vec<&str> = source.vars.keys().map(String::as_str).collect();
        (pipeline.sink)(ClientItem::Warning(SourceError::new(
            at_start.clone(),
            None,
            format!(
                "`vars` ({}) fill auth0-deploy-cli placeholders; a {} export has none, so they \
                 are ignored",
                keys.join(", "),
                source.provider.as_str()
            ),
        )));
    }
    let mut on_record = |record: ClientRecord| pipeline.record(record);
    match source.provider {
        Provider::Auth0 => {
            super::auth0::clients::read_clients(&source.path, &source.vars, &mut on_record)?;
        }
        Provider::Cognito => super::cognito::clients::read_clients(&source.path, &mut on_record)?,
        Provider::Clerk => super::clerk::clients::read_clients(&source.path, &mut on_record)?,
        // The manifest loader refuses this already; kept as an error rather than a panic so a
        // hand-built `ClientSource` cannot crash a run.
        Provider::Firebase => {
            return Err(SourceError::new(
                at_start,
                None,
                "Firebase has no OAuth client registry to read clients from; declare the \
                 clients in [[clients]]",
            ));
        }
    }
    Ok(pipeline.stats)
}

/// What a provider reader made of one record, before the shared steps.
#[derive(Debug)]
pub(crate) struct ClientRecord {
    /// Where the record starts.
    pub location: Location,
    /// What it became.
    pub outcome: Outcome,
}

/// A provider reader's verdict on one record.
pub(crate) type Outcome = super::record::Outcome<MappedClient>;

/// A client, not yet rewritten or validated, with what the mapping dropped or changed.
#[derive(Debug)]
pub(crate) struct MappedClient {
    /// The client.
    pub decl: ClientDecl,
    /// Messages for [`ClientItem::Warning`]s.
    pub warnings: Vec<String>,
}

impl MappedClient {
    /// A client whose mapping changed nothing.
    pub(crate) fn outcome(decl: ClientDecl) -> Outcome {
        Self::with_warnings(decl, Vec::new())
    }

    /// A client with what its mapping dropped or changed.
    pub(crate) fn with_warnings(decl: ClientDecl, warnings: Vec<String>) -> Outcome {
        Outcome::Converted(Self { decl, warnings })
    }
}

/// The shared steps, applied to each record as the provider reader hands it over.
struct Pipeline<'a> {
    source: &'a ClientSource,
    stats: ClientReadStats,
    /// External ids already read in this source, with where.
    seen: HashMap<String, Location>,
    sink: &'a mut dyn FnMut(ClientItem),
}

impl Pipeline<'_> {
    fn record(&mut self, record: ClientRecord) {
        self.stats.records += 1;
        let location = record.location;
        match record.outcome {
            Outcome::Skipped {
                external_id,
                reason,
            } => {
                self.stats.skipped += 1;
                (self.sink)(ClientItem::Skipped(Skipped {
                    location,
                    external_id,
                    reason,
                }));
            }
            Outcome::Invalid {
                external_id,
                message,
            } => self.invalid(location, external_id, message),
            Outcome::Converted(MappedClient { decl, warnings }) => {
                self.client(location, decl, warnings);
            }
        }
    }

    fn client(&mut self, location: Location, mut decl: ClientDecl, mut warnings: Vec<String>) {
        let id = decl.external_id().as_str().to_owned();
        if let ClientDecl::OAuth(client) = &mut decl {
            rewrite(client, &self.source.rewrite);
            // Two Auth0 domains rewritten to one new domain leave the same URI twice; Avnology
            // keeps each URI once, and the first position is the one the export meant.
            for (field, list) in [
                ("redirect_uris", &mut client.redirect_uris),
                (
                    "post_logout_redirect_uris",
                    &mut client.post_logout_redirect_uris,
                ),
                ("allowed_origins", &mut client.allowed_origins),
            ] {
                for dup in dedupe(list) {
                    warnings.push(format!("{field}: `{dup}` is listed twice; kept once"));
                }
            }
        }
        for message in warnings {
            (self.sink)(ClientItem::Warning(SourceError::new(
                location.clone(),
                Some(id.clone()),
                message,
            )));
        }
        // Only ids that are not empty take part: an empty id is validate's to report.
        if !id.trim().is_empty() {
            if let Some(first) = self.seen.get(&id) {
                let message = format!(
                    "duplicate external_id: {first} already has `{id}`; Avnology keys clients \
                     by external_id, so only the first is migrated"
                );
                self.invalid(location, Some(id), message);
                return;
            }
            self.seen.insert(id.clone(), location.clone());
        }
        if let Err(message) = validate(&decl) {
            self.invalid(location, Some(id), message);
            return;
        }
        match decl {
            ClientDecl::OAuth(_) => self.stats.clients += 1,
            ClientDecl::ServiceAccount(_) => self.stats.service_accounts += 1,
        }
        (self.sink)(ClientItem::Client(Box::new(decl), location));
    }

    fn invalid(&mut self, location: Location, external_id: Option<String>, message: String) {
        self.stats.invalid += 1;
        (self.sink)(ClientItem::Invalid(SourceError::new(
            location,
            external_id,
            message,
        )));
    }
}

/// Auth0 `app_type`s that are not OAuth client applications, with the text
/// [`SkipReason::ClientAppType`] describes them by. `global: true` is [`SkipReason::GlobalClient`].
const SKIPPED_APP_TYPES: &[(&str, &str)] = &[
    (
        "resource_server",
        "Auth0 `app_type: resource_server`: an API's own client, not an application",
    ),
    (
        "express_configuration",
        "Auth0 `app_type: express_configuration`: an Okta Express Configuration app, which \
         Avnology has no equivalent of",
    ),
    (
        "sso_integration",
        "Auth0 `app_type: sso_integration`: a SAML / WS-Fed SSO integration, not an OAuth client",
    ),
    (
        "oag",
        "Auth0 `app_type: oag`: an Okta Access Gateway app, not an OAuth client",
    ),
    (
        "box",
        "Auth0 SSO integration `app_type: box`, not an OAuth client",
    ),
    (
        "cloudbees",
        "Auth0 SSO integration `app_type: cloudbees`, not an OAuth client",
    ),
    (
        "concur",
        "Auth0 SSO integration `app_type: concur`, not an OAuth client",
    ),
    (
        "dropbox",
        "Auth0 SSO integration `app_type: dropbox`, not an OAuth client",
    ),
    (
        "mscrm",
        "Auth0 SSO integration `app_type: mscrm`, not an OAuth client",
    ),
    (
        "echosign",
        "Auth0 SSO integration `app_type: echosign`, not an OAuth client",
    ),
    (
        "egnyte",
        "Auth0 SSO integration `app_type: egnyte`, not an OAuth client",
    ),
    (
        "newrelic",
        "Auth0 SSO integration `app_type: newrelic`, not an OAuth client",
    ),
    (
        "office365",
        "Auth0 SSO integration `app_type: office365`, not an OAuth client",
    ),
    (
        "salesforce",
        "Auth0 SSO integration `app_type: salesforce`, not an OAuth client",
    ),
    (
        "sentry",
        "Auth0 SSO integration `app_type: sentry`, not an OAuth client",
    ),
    (
        "sharepoint",
        "Auth0 SSO integration `app_type: sharepoint`, not an OAuth client",
    ),
    (
        "slack",
        "Auth0 SSO integration `app_type: slack`, not an OAuth client",
    ),
    (
        "springcm",
        "Auth0 SSO integration `app_type: springcm`, not an OAuth client",
    ),
    (
        "zendesk",
        "Auth0 SSO integration `app_type: zendesk`, not an OAuth client",
    ),
    (
        "zoom",
        "Auth0 SSO integration `app_type: zoom`, not an OAuth client",
    ),
    (
        "rms",
        "Auth0 SSO integration `app_type: rms`, not an OAuth client",
    ),
];

/// The skipped Auth0 `app_type` spelled `app_type` (already lowercase), as the `'static` name
/// [`SkipReason::ClientAppType`] holds; `None` for a type that is not skipped.
pub(crate) fn skipped_app_type(app_type: &str) -> Option<&'static str> {
    SKIPPED_APP_TYPES
        .iter()
        .find(|(name, _)| *name == app_type)
        .map(|(name, _)| *name)
}

/// [`SkipReason::describe`]'s text for [`SkipReason::ClientAppType`].
pub(crate) fn describe_skipped_app_type(app_type: &str) -> &'static str {
    SKIPPED_APP_TYPES
        .iter()
        .find(|(name, _)| *name == app_type)
        .map_or(
            "an Auth0 app type that is not an OAuth client application",
            |(_, text)| text,
        )
}
