//! The Auth0 users export as it is on disk: raw records, keyed the way the file keys them,
//! before any meaning is given to the values.
//!
//! Real files spell their keys three ways: the export job's `export_as` names (`user_id`,
//! `email_verified`), the legacy Import/Export extension's Title-Case names (`Id`,
//! `Email Verified`, `Given Name`), and hand-edited variants that differ in case. Keys are
//! therefore matched after normalising them (see [`normalise_key`]), and a value of the wrong
//! JSON type is kept as a [`Field::Wrong`] rather than failing the record, so the converter can
//! report every problem of a record together with its `user_id`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::{Map, Value};

use crate::sources::json_records::kind_of;

/// Reduces a key to a spelling-independent form: lowercase, with spaces, underscores and
/// hyphens removed, so `user_id`, `User Id`, `userId` and `USER-ID` are one key.
pub(super) fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A value as the file holds it: absent (missing or `null`), present with the expected JSON
/// type, or present with another type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Field<T> {
    /// Missing, or `null`.
    Absent,
    /// Present with the expected type.
    Present(T),
    /// Present with another type. Holds the key as the file spells it and the kind of value
    /// found, never the value itself.
    Wrong {
        /// The key as written in the file.
        key: String,
        /// What the field should hold (`"a string"`).
        expected: &'static str,
        /// What it held instead.
        found: &'static str,
    },
}

impl<T> Field<T> {
    /// The problem with a wrongly typed field, phrased for a message.
    pub(super) fn wrong_type(&self) -> Option<String> {
        match self {
            Field::Wrong {
                key,
                expected,
                found,
            } => Some(format!("`{key}` must be {expected}, not {found}")),
            _ => None,
        }
    }
}

/// A JSON type a raw field can be read as.
pub(super) trait FromJson: Sized {
    /// The type's description for messages.
    const EXPECTED: &'static str;
    /// The value as `Self`, or `None` when it has another type.
    fn from_json(value: Value) -> Option<Self>;
}

impl FromJson for String {
    const EXPECTED: &'static str = "a string";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl FromJson for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            // CSV-born and hand-converted files carry booleans as strings.
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

impl FromJson for Map<String, Value> {
    const EXPECTED: &'static str = "a JSON object";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

impl FromJson for Value {
    const EXPECTED: &'static str = "a JSON value";
    fn from_json(value: Value) -> Option<Self> {
        Some(value)
    }
}

impl FromJson for Vec<Value> {
    const EXPECTED: &'static str = "a JSON array";
    fn from_json(value: Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// A record's entries grouped by field after key normalisation. Two keys that normalise to the
/// same field (`user_id` and `Id`) are fine when they agree and a conflict when they do not.
pub(super) struct Slots<K> {
    slots: HashMap<K, (String, Value)>,
    /// Messages for keys that name the same field with different values.
    pub(super) conflicts: Vec<String>,
}

impl<K: Copy + Eq + std::hash::Hash> Slots<K> {
    /// Sorts `entries` into fields with `field_of`, dropping keys it does not know and `null`s.
    pub(super) fn new(entries: Vec<(String, Value)>, field_of: impl Fn(&str) -> Option<K>) -> Self {
        let mut slots: HashMap<K, (String, Value)> = HashMap::new();
        let mut conflicts = Vec::new();
        for (key, value) in entries {
            let Some(field) = field_of(&normalise_key(&key)) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match slots.entry(field) {
                Entry::Vacant(slot) => {
                    slot.insert((key, value));
                }
                Entry::Occupied(slot) => {
                    let (first_key, first_value) = slot.get();
                    if *first_value != value {
                        conflicts.push(format!(
                            "`{first_key}` and `{key}` are the same field but hold different values"
                        ));
                    }
                }
            }
        }
        Self { slots, conflicts }
    }

    /// Takes a field out as `T`.
    pub(super) fn take<T: FromJson>(&mut self, field: K) -> Field<T> {
        match self.slots.remove(&field) {
            None => Field::Absent,
            Some((key, value)) => {
                let found = kind_of(&value);
                match T::from_json(value) {
                    Some(v) => Field::Present(v),
                    None => Field::Wrong {
                        key,
                        expected: T::EXPECTED,
                        found,
                    },
                }
            }
        }
    }
}

/// The user fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UserField {
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
    fn of(normalised: &str) -> Option<Self> {
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
    UserField::of(&normalise_key(key)) == Some(UserField::UserId)
}

/// One record of the users export.
#[derive(Debug)]
pub(super) struct RawUser {
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
    /// `{connection, provider, user_id, isSocial}` entries, kept raw: each is read by
    /// [`RawIdentity::from_value`] so one bad entry can be named by its index.
    pub identities: Field<Vec<Value>>,
    /// Enrolled factors, e.g. `["guardian"]`.
    pub multifactor: Field<Vec<Value>>,
    /// Keys that name the same field with different values.
    pub conflicts: Vec<String>,
}

impl RawUser {
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
            identities: s.take(F::Identities),
            multifactor: s.take(F::Multifactor),
            conflicts: s.conflicts,
        }
    }
}

/// The identity fields this tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IdentityField {
    Provider,
    UserId,
    IsSocial,
}

impl IdentityField {
    fn of(normalised: &str) -> Option<Self> {
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
pub(super) struct RawIdentity {
    /// `google-oauth2`, `github`, `auth0`, …
    pub provider: Field<String>,
    /// The user's id at the provider: a string, or a number for some providers (GitHub).
    pub user_id: Field<String>,
    pub is_social: Field<bool>,
    pub conflicts: Vec<String>,
}

impl RawIdentity {
    /// Reads an entry, or names the kind of value found where an object should be.
    pub(super) fn from_value(value: Value) -> Result<Self, &'static str> {
        let Value::Object(map) = value else {
            return Err(kind_of(&value));
        };
        let mut s = Slots::new(map.into_iter().collect(), IdentityField::of);
        // Numeric ids (GitHub's) are ids all the same; read them as their decimal text.
        if let Some((_, v @ Value::Number(_))) = s.slots.get_mut(&IdentityField::UserId) {
            *v = Value::String(v.to_string());
        }
        Ok(Self {
            provider: s.take(IdentityField::Provider),
            user_id: s.take(IdentityField::UserId),
            is_social: s.take(IdentityField::IsSocial),
            conflicts: s.conflicts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            json!({"provider": "github", "user_id": 4815162, "isSocial": true}),
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
