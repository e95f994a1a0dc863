//! Reading a manifest's `[[users]]` source with the reader for its provider.

use crate::manifest::{Provider, UserSource};

use super::{Location, SourceError, UserItem};

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
    match source.provider {
        Provider::Auth0 => {
            let s = super::auth0::read_users(&source.path, source.passwords.as_deref(), sink)?;
            Ok(ReadStats {
                records: s.records,
                passwords_matched: s.passwords_matched,
                passwords_unmatched: s.passwords_unmatched,
            })
        }
        other => Err(SourceError::new(
            Location {
                file: source.path.clone(),
                line: None,
                index: 0,
            },
            None,
            format!(
                "provider `{}` is not supported by this version",
                other.as_str()
            ),
        )),
    }
}
