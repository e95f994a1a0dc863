//! What one record of an export becomes: the verdict every provider reader gives a record
//! (users and clients alike) before the reader counts it and hands it on.
//!
//! A reader collects all of a record's problems and reports them in one message, so a
//! reviewer fixes a record once, not once per problem; [`invalid`] is where that message is
//! put together. A record that could not be read at all is named by the id read before it
//! broke ([`convert_or_invalid`]).

use super::{Location, SkipReason, Skipped, SourceError, UserItem};
use crate::model::{Identity, validate};

/// What one record becomes: `T` is the model value (an identity, or a client with the
/// warnings its mapping raised).
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// A record to migrate.
    Converted(T),
    /// A record Avnology cannot hold, skipped on purpose.
    Skipped {
        /// Its provider id, when it has one.
        external_id: Option<String>,
        /// Why.
        reason: SkipReason,
    },
    /// A record that cannot be migrated as it is.
    Invalid {
        /// Its provider id, when it could be read.
        external_id: Option<String>,
        /// Every problem found, `; `-separated, without secret values.
        message: String,
    },
}

/// What one user record becomes.
pub(crate) type UserOutcome = Outcome<Box<Identity>>;

/// An invalid record with every one of its `problems`.
pub(crate) fn invalid<T>(external_id: Option<String>, problems: &[String]) -> Outcome<T> {
    Outcome::Invalid {
        external_id,
        message: problems.join("; "),
    }
}

/// Adds the problems of a record's email and phone number under the model's rules, each
/// checked only when the record has one.
pub(crate) fn check_contact(email: Option<&str>, phone: Option<&str>, problems: &mut Vec<String>) {
    problems.extend(email.and_then(|e| validate::email(e).err()));
    problems.extend(phone.and_then(|p| validate::phone(p).err()));
}

/// `convert`'s verdict on a record that could be read into `entries`; for one that could not,
/// an invalid record with the reader's message, named by `id_hint` (the id read before the
/// record broke).
pub(crate) fn convert_or_invalid<E, T>(
    entries: Result<E, String>,
    id_hint: Option<String>,
    convert: impl FnOnce(E) -> Outcome<T>,
) -> Outcome<T> {
    match entries {
        Ok(entries) => convert(entries),
        Err(message) => Outcome::Invalid {
            external_id: id_hint,
            message,
        },
    }
}

impl UserOutcome {
    /// A user without an email address: Avnology's create call requires one.
    pub(crate) fn no_email(external_id: String) -> Self {
        Self::Skipped {
            external_id: Some(external_id),
            reason: SkipReason::NoEmail,
        }
    }

    /// The item a users reader hands its sink for this record at `location`.
    pub(crate) fn into_item(self, location: Location) -> UserItem {
        match self {
            Self::Converted(identity) => UserItem::Identity(identity, location),
            Self::Skipped {
                external_id,
                reason,
            } => UserItem::Skipped(Skipped {
                location,
                external_id,
                reason,
            }),
            Self::Invalid {
                external_id,
                message,
            } => UserItem::Invalid(SourceError::new(location, external_id, message)),
        }
    }
}
