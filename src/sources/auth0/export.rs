//! The Auth0 users export as it is on disk: raw records, keyed the way the file keys them,
//! before any meaning is given to the values.
//!
//! Real files spell their keys three ways: the export job's `export_as` names (`user_id`,
//! `email_verified`), the legacy Import/Export extension's Title-Case names (`Id`,
//! `Email Verified`, `Given Name`), and hand-edited variants that differ in case. Keys are
//! therefore matched after normalising them (see
//! [`normalise_key`](crate::sources::json_records::fields::normalise_key)), and a value of the wrong
//! JSON type is kept as a [`Field::Wrong`] rather than failing the record, so the converter can
//! report every problem of a record together with its `user_id`.
//!
//! [`RawUser::from_entries`] is the general path, for any record the JSON container hands
//! over. Most records of a real export take the typed fast path in `fast.rs` instead, which
//! fills the same [`RawUser`] straight from the line; the conversion after that is shared, so
//! both paths give the same identity and the same messages.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::sources::json_records::kind_of;

// Key normalisation and typed field slots are shared with the other JSON readers.
pub(super) use crate::sources::json_records::fields::{Field, Slots, with_normalised_key};

/// The user fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum UserField {
    UserId,
    Email,
    EmailVerified,
    PhoneNumber,
    PhoneVerified,
    Username,
    GivenName,
    FamilyName,
    Name,
    Picture,
    Locale,
    Blocked,
    UserMetadata,
    AppMetadata,
    Identities,
    Multifactor,
}

impl UserField {
    /// Maps a normalised key to a field. `id` is the extension's name for `user_id`. Keys this
    /// tool does not migrate (`created_at`, `logins_count`, `Connection`, `nickname`, …) map to
    /// nothing and are ignored.
    pub(super) fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "userid" | "id" => Self::UserId,
            "email" => Self::Email,
            "emailverified" => Self::EmailVerified,
            "phonenumber" => Self::PhoneNumber,
            "phoneverified" => Self::PhoneVerified,
            "username" => Self::Username,
            "givenname" => Self::GivenName,
            "familyname" => Self::FamilyName,
            "name" => Self::Name,
            "picture" => Self::Picture,
            "locale" => Self::Locale,
            "blocked" => Self::Blocked,
            "usermetadata" => Self::UserMetadata,
            "appmetadata" => Self::AppMetadata,
            "identities" => Self::Identities,
            "multifactor" => Self::Multifactor,
            _ => return None,
        })
    }
}

/// Whether a raw key is the user's id, for capturing it before a record breaks.
pub(super) fn is_user_id_key(key: &str) -> bool {
    with_normalised_key(key, UserField::of) == Some(UserField::UserId)
}

/// One record of the users export. Strings that end up in the identity are owned; the
/// entries of `identities[]`, which are mostly looked at and dropped, may borrow from the
/// line they were parsed from.
#[derive(Debug)]
pub(super) struct RawUser<'a> {
    /// `user_id`, `<strategy>|<id>`.
    pub user_id: Field<String>,
    pub email: Field<String>,
    pub email_verified: Field<bool>,
    /// E.164, for `sms` users and users with a phone on file.
    pub phone_number: Field<String>,
    pub phone_verified: Field<bool>,
    /// Only for connections that require usernames.
    pub username: Field<String>,
    pub given_name: Field<String>,
    pub family_name: Field<String>,
    pub name: Field<String>,
    pub picture: Field<String>,
    /// Social profiles carry a root `locale`.
    pub locale: Field<String>,
    /// `true` for blocked users; absent otherwise.
    pub blocked: Field<bool>,
    pub user_metadata: Field<Map<String, Value>>,
    pub app_metadata: Field<Map<String, Value>>,
    /// `{connection, provider, user_id, isSocial}` entries with their index in the array,
    /// each read on its own (or the kind of value found where an object should be), so one
    /// bad entry can be named by its index. The general path keeps every entry; the fast path
    /// keeps only the social ones, because an entry it accepts that is not social cannot
    /// produce a linked provider or a problem (see `fast.rs`).
    pub identities: Field<Vec<(usize, Result<RawIdentity<'a>, &'static str>)>>,
    /// How many factors are enrolled (`multifactor`, e.g. `["guardian"]`).
    pub multifactor: Field<usize>,
    /// Keys that name the same field with different values.
    pub conflicts: Vec<String>,
}

impl RawUser<'static> {
    /// Reads a record from its entries.
    pub(super) fn from_entries(entries: Vec<(String, Value)>) -> Self {
        use UserField as F;
        let mut s = Slots::new(entries, UserField::of);
        Self {
            user_id: s.take(F::UserId),
            email: s.take(F::Email),
            email_verified: s.take(F::EmailVerified),
            phone_number: s.take(F::PhoneNumber),
            phone_verified: s.take(F::PhoneVerified),
            username: s.take(F::Username),
            given_name: s.take(F::GivenName),
            family_name: s.take(F::FamilyName),
            name: s.take(F::Name),
            picture: s.take(F::Picture),
            locale: s.take(F::Locale),
            blocked: s.take(F::Blocked),
            user_metadata: s.take(F::UserMetadata),
            app_metadata: s.take(F::AppMetadata),
            identities: s.take::<Vec<Value>>(F::Identities).map(|entries| {
                entries
                    .into_iter()
                    .map(RawIdentity::from_value)
                    .enumerate()
                    .collect()
            }),
            multifactor: s.take::<Vec<Value>>(F::Multifactor).map(|f| f.len()),
            conflicts: s.conflicts,
        }
    }
}

impl RawUser<'_> {
    /// A record with no fields, for the fast path to fill.
    pub(super) fn empty() -> Self {
        Self {
            user_id: Field::Absent,
            email: Field::Absent,
            email_verified: Field::Absent,
            phone_number: Field::Absent,
            phone_verified: Field::Absent,
            username: Field::Absent,
            given_name: Field::Absent,
            family_name: Field::Absent,
            name: Field::Absent,
            picture: Field::Absent,
            locale: Field::Absent,
            blocked: Field::Absent,
            user_metadata: Field::Absent,
            app_metadata: Field::Absent,
            identities: Field::Absent,
            multifactor: Field::Absent,
            conflicts: Vec::new(),
        }
    }
}

/// The identity fields this tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum IdentityField {
    Provider,
    UserId,
    IsSocial,
}

impl IdentityField {
    pub(super) fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "provider" => Self::Provider,
            "userid" => Self::UserId,
            "issocial" => Self::IsSocial,
            _ => return None,
        })
    }
}

/// One entry of a user's `identities[]`.
#[derive(Debug)]
pub(super) struct RawIdentity<'a> {
    /// `google-oauth2`, `github`, `auth0`, …
    pub provider: Field<Cow<'a, str>>,
    /// The user's id at the provider: a string, or a number for some providers (GitHub).
    pub user_id: Field<Cow<'a, str>>,
    pub is_social: Field<bool>,
    pub conflicts: Vec<String>,
}

impl RawIdentity<'static> {
    /// Reads an entry, or names the kind of value found where an object should be.
    pub(super) fn from_value(value: Value) -> Result<Self, &'static str> {
        let Value::Object(map) = value else {
            return Err(kind_of(&value));
        };
        let mut s = Slots::new(map.into_iter().collect(), IdentityField::of);
        // Numeric ids (GitHub's) are ids all the same; read them as their decimal text.
        let user_id = s.take_text(IdentityField::UserId).map(Cow::Owned);
        Ok(Self {
            provider: s.take::<String>(IdentityField::Provider).map(Cow::Owned),
            user_id,
            is_social: s.take(IdentityField::IsSocial),
            conflicts: s.conflicts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::json_records::fields::normalise_key;
    use serde_json::json;

    fn entries(value: Value) -> Vec<(String, Value)> {
        match value {
            Value::Object(map) => map.into_iter().collect(),
            _ => panic!("test input must be an object"),
        }
    }

    #[test]
    fn keys_normalise_across_spellings() {
        for key in ["user_id", "User Id", "userId", "USER-ID", "Id", "id"] {
            assert!(is_user_id_key(key), "{key}");
        }
        assert_eq!(normalise_key("Email Verified"), "emailverified");
        assert!(!is_user_id_key("identities"));
    }

    #[test]
    fn title_case_record_reads_like_export_as() {
        let raw = RawUser::from_entries(entries(json!({
            "Id": "auth0|1", "Email": "a@example.com", "Email Verified": "true",
            "Given Name": "Ada", "Family Name": "Example", "Name": "Ada Example",
            "Nickname": "ada", "Picture": "https://example.com/a.png",
            "Connection": "Username-Password-Authentication", "Created At": "2020-01-01T00:00:00.000Z",
        })));
        assert_eq!(raw.user_id, Field::Present("auth0|1".into()));
        assert_eq!(raw.email_verified, Field::Present(true));
        assert_eq!(raw.given_name, Field::Present("Ada".into()));
        assert_eq!(raw.family_name, Field::Present("Example".into()));
        assert_eq!(
            raw.picture,
            Field::Present("https://example.com/a.png".into())
        );
        assert!(raw.conflicts.is_empty());
    }

    #[test]
    fn wrong_types_are_kept_without_their_values() {
        let raw = RawUser::from_entries(entries(
            json!({"user_id": "x", "Blocked": 7, "email": null}),
        ));
        assert_eq!(raw.email, Field::Absent);
        let problem = raw.blocked.wrong_type().expect("blocked is wrongly typed");
        assert_eq!(problem, "`Blocked` must be a boolean, not a number");
    }

    #[test]
    fn agreeing_duplicates_pass_and_disagreeing_ones_conflict() {
        let same = RawUser::from_entries(entries(json!({"user_id": "a", "Id": "a"})));
        assert!(same.conflicts.is_empty());
        let differ = RawUser::from_entries(entries(json!({"user_id": "a", "Id": "b"})));
        assert_eq!(differ.conflicts.len(), 1, "{:?}", differ.conflicts);
        assert!(differ.conflicts[0].contains("`user_id` and `Id`"));
    }

    #[test]
    fn identity_ids_may_be_numbers() {
        let id = RawIdentity::from_value(
            json!({"provider": "github", "user_id": 4_815_162, "isSocial": true}),
        )
        .expect("an object");
        assert_eq!(id.user_id, Field::Present("4815162".into()));
        assert_eq!(id.is_social, Field::Present(true));
        assert_eq!(
            RawIdentity::from_value(json!("github")).err(),
            Some("a string")
        );
    }
}
