//! Reading a manifest's `[[users]]` source with the reader for its provider, and folding each
//! reader's own counts into the [`ReadStats`] every caller understands. The checks every
//! provider's identities share (the server's size limits) are applied here, once, so a record
//! over them is an invalid record with its file, line and external id, whatever its provider.

use crate::manifest::{Provider, UserSource};
use crate::model::{Identity, limits};

use super::{SourceError, UserItem};

/// What reading one source found, beyond the items themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records read.
    pub records: u64,
    /// Password-hash rows joined to a user.
    pub passwords_matched: u64,
    /// Password-hash rows that matched no user.
    pub passwords_unmatched: u64,
}

/// Streams every record of `source` into `sink`.
pub fn read_user_source(
    source: &UserSource,
    sink: &mut dyn FnMut(UserItem),
) -> Result<ReadStats, SourceError> {
    let sink = &mut |item: UserItem| {
        sink(match item {
            UserItem::Identity(identity, location) => match over_limits(&identity) {
                None => UserItem::Identity(identity, location),
                Some(message) => UserItem::Invalid(SourceError::new(
                    location,
                    Some(limits::abbreviate(identity.external_id.as_str())),
                    message,
                )),
            },
            other => other,
        });
    };
    read_provider(source, sink)
}

/// What of `identity` is over the sizes Avnology accepts, if anything.
fn over_limits(identity: &Identity) -> Option<String> {
    limits::external_id(identity.external_id.as_str())
}

fn read_provider(
    source: &UserSource,
    sink: &mut dyn FnMut(UserItem),
) -> Result<ReadStats, SourceError> {
    match source.provider {
        Provider::Auth0 => {
            let s = super::auth0::read_users(&source.path, source.passwords.as_deref(), sink)?;
            Ok(ReadStats {
                records: s.records,
                passwords_matched: s.passwords_matched,
                passwords_unmatched: s.passwords_unmatched,
            })
        }
        // Clerk and Firebase carry each user's hash in the user's own record, so there is
        // nothing to join and nothing left unmatched: "matched" counts the users with a hash.
        Provider::Firebase => {
            let s = super::firebase::read_users(&source.path, source.firebase_hash.as_ref(), sink)?;
            Ok(ReadStats {
                records: s.records,
                passwords_matched: s.password_hashes,
                passwords_unmatched: 0,
            })
        }
        Provider::Clerk => {
            let s = super::clerk::read_users(&source.path, sink)?;
            Ok(ReadStats {
                records: s.records,
                passwords_matched: s.bcrypt + s.firebase_scrypt,
                passwords_unmatched: 0,
            })
        }
        // Cognito exports no hashes at all.
        Provider::Cognito => {
            let s = super::cognito::read_users(&source.path, sink)?;
            Ok(ReadStats {
                records: s.records,
                passwords_matched: 0,
                passwords_unmatched: 0,
            })
        }
    }
}
