//! Provider export readers. Each `sources/<provider>/` streams one provider's export files
//! and turns raw records (serde types that mirror the file) into [`model`] values.
//!
//! Readers never load a whole export: NDJSON and CSV are read line by line, JSON documents
//! element by element, gzip transparently. Each record comes out as a [`UserItem`]:
//! an identity, a deliberate skip (a record Avnology cannot hold, such as a user without an
//! email), or an invalid record with the file, line and external id that make it findable.
//! Errors that make the rest of the file unreadable (I/O, a broken gzip stream) end the
//! read with [`SourceError`].
//!
//! The Auth0 reader, built for exports of millions of users, parses NDJSON on every core
//! (a producer thread cuts the file into blocks of lines, workers parse them, the caller
//! receives the records in file order; see `pipeline.rs`) and joins Auth0's separate
//! password-hash export through an index on disk rather than a map of every hash.
//!
//! [`model`]: crate::model

pub mod auth0;
pub mod clerk;
pub mod clients;
pub mod cognito;
mod dispatch;
pub mod firebase;
pub mod json_records;
mod linked;
mod location;
mod open;
mod pipeline;
mod record;
#[cfg(test)]
pub(crate) mod test_support;

pub use dispatch::{ReadStats, read_user_source};
pub use location::{Location, SourceError};
pub use open::{ExportReader, open_export};

use crate::model::Identity;

/// Why a record was deliberately not turned into an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// No email address: Avnology's create call requires one (phone-only users).
    NoEmail,
    /// Anonymous users have nothing to log in with.
    Anonymous,
    /// Auth0's global "All Applications" pseudo-client (`global: true`): tenant-wide
    /// settings, not an application.
    GlobalClient,
    /// An Auth0 `app_type` that is not an OAuth client application (a resource server,
    /// Express Configuration, an SSO integration); holds the type.
    ClientAppType(&'static str),
}

impl SkipReason {
    /// A short phrase for plans and reports.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::NoEmail => "no email address (Avnology requires one to create an identity)",
            Self::Anonymous => "anonymous user (Avnology has no anonymous identities)",
            Self::GlobalClient => {
                "Auth0's global \"All Applications\" pseudo-client (tenant settings, not an \
                 application)"
            }
            Self::ClientAppType(app_type) => clients::describe_skipped_app_type(app_type),
        }
    }
}

/// A record that was skipped on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where the record is.
    pub location: Location,
    /// Its provider id, when it has one.
    pub external_id: Option<String>,
    /// Why.
    pub reason: SkipReason,
}

/// One record of a users export.
#[derive(Debug)]
pub enum UserItem {
    /// A user to migrate.
    Identity(Box<Identity>, Location),
    /// A user that cannot become an Avnology identity, skipped and reported.
    Skipped(Skipped),
    /// A record that is malformed or fails validation.
    Invalid(SourceError),
    /// Something the reviewer should know that does not stop the record (e.g. an exact
    /// duplicate record dropped).
    Warning(SourceError),
}
