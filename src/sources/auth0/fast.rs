//! The typed fast path for Auth0's NDJSON lines: a user record or a password row deserialized
//! straight from the line into the raw types, with borrowed keys and without building a
//! `serde_json::Value` for the record. Keys are still matched by meaning, whatever their
//! spelling (`user_id`, `Id`, `Email Verified`), without allocating.
//!
//! The fast path only accepts records it can read exactly as the general path
//! ([`RawUser::from_entries`], `passwords::parse_row`) would: each field at most once, with the
//! JSON type the field expects (or `null`). Anything else — a syntax error, a line that is not
//! an object, a field spelt twice, a boolean written as a string, a number where a string
//! belongs — makes it give up (`None`), and the caller parses the line again on the general
//! path, which produces today's result and messages. Giving up is cheap and rare in real
//! exports; being wrong would not be, so when in doubt this module gives up.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

use super::export::{Field, IdentityField, RawIdentity, RawUser, UserField, with_normalised_key};
use super::passwords::{RowField, RowFields};

/// The error that makes the fast path hand a record to the general path. It never reaches a
/// message.
const GIVE_UP: &str = "not on the fast path";

/// Reads one NDJSON line as a user record, or `None` when the general path must read it.
pub(super) fn user(line: &[u8]) -> Option<RawUser<'_>> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let raw = de.deserialize_map(UserVisitor).ok()?;
    de.end().ok()?;
    Some(raw)
}

/// Reads one NDJSON line as a password-export row, or `None` when the general path must.
pub(super) fn row(line: &[u8]) -> Option<RowFields<'_>> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let row = de.deserialize_map(RowVisitor).ok()?;
    de.end().ok()?;
    Some(row)
}

/// A set of fields already seen in a record, to give up on a second spelling of one.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// Marks `bit`; an error if it was already marked.
    fn first<E: de::Error>(&mut self, bit: u32) -> Result<(), E> {
        if self.0 & (1 << bit) != 0 {
            return Err(E::custom(GIVE_UP));
        }
        self.0 |= 1 << bit;
        Ok(())
    }
}

fn field<T>(value: Option<T>) -> Field<T> {
    value.map_or(Field::Absent, Field::Present)
}

struct UserVisitor;

impl<'de> Visitor<'de> for UserVisitor {
    type Value = RawUser<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Auth0 user record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawUser<'de>, A::Error> {
        use UserField as F;
        let mut raw = RawUser::empty();
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(KeySeed(UserField::of, EXACT_USER_KEYS))? {
            let Some(key) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            seen.first(key as u32)?;
            match key {
                F::UserId => raw.user_id = field(map.next_value()?),
                F::Email => raw.email = field(map.next_value()?),
                F::EmailVerified => raw.email_verified = field(map.next_value()?),
                F::PhoneNumber => raw.phone_number = field(map.next_value()?),
                F::PhoneVerified => raw.phone_verified = field(map.next_value()?),
                F::Username => raw.username = field(map.next_value()?),
                F::GivenName => raw.given_name = field(map.next_value()?),
                F::FamilyName => raw.family_name = field(map.next_value()?),
                F::Name => raw.name = field(map.next_value()?),
                F::Picture => raw.picture = field(map.next_value()?),
                F::Locale => raw.locale = field(map.next_value()?),
                F::Blocked => raw.blocked = field(map.next_value()?),
                F::UserMetadata => {
                    raw.user_metadata = field(map.next_value::<Option<Map<String, Value>>>()?);
                }
                F::AppMetadata => {
                    raw.app_metadata = field(map.next_value::<Option<Map<String, Value>>>()?);
                }
                F::Identities => {
                    let social: Option<SocialIdentities<'de>> = map.next_value()?;
                    raw.identities = field(social).map(|s| s.0);
                }
                F::Multifactor => {
                    raw.multifactor = field(map.next_value::<Option<SeqLen>>()?).map(|n| n.0);
                }
            }
        }
        Ok(raw)
    }
}

/// The social entries of `identities[]`, with their index. Every entry is still read, and
/// any entry the fast path cannot take gives the record up, but an accepted entry that is not
/// social is dropped at once: the converter skips it without a word (its types are right and
/// it has no conflicting keys), so keeping it would only cost an allocation per user.
struct SocialIdentities<'de>(Vec<(usize, Result<RawIdentity<'de>, &'static str>)>);

impl<'de> de::Deserialize<'de> for SocialIdentities<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SocialIdentitiesVisitor)
    }
}

struct SocialIdentitiesVisitor;

impl<'de> Visitor<'de> for SocialIdentitiesVisitor {
    type Value = SocialIdentities<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of identities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut social = Vec::new();
        let mut i = 0;
        while let Some(FastIdentity(entry)) = seq.next_element()? {
            if entry.is_social == Field::Present(true) {
                social.push((i, Ok(entry)));
            }
            i += 1;
        }
        Ok(SocialIdentities(social))
    }
}

/// One entry of `identities[]`, read with borrowed strings.
struct FastIdentity<'de>(RawIdentity<'de>);

impl<'de> de::Deserialize<'de> for FastIdentity<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(IdentityVisitor)
    }
}

struct IdentityVisitor;

impl<'de> Visitor<'de> for IdentityVisitor {
    type Value = FastIdentity<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an identity object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entry = RawIdentity {
            provider: Field::Absent,
            user_id: Field::Absent,
            is_social: Field::Absent,
            conflicts: Vec::new(),
        };
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(KeySeed(IdentityField::of, EXACT_IDENTITY_KEYS))? {
            let Some(key) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            seen.first(key as u32)?;
            match key {
                IdentityField::Provider => {
                    entry.provider = field(map.next_value::<Option<Str<'de>>>()?).map(|s| s.0);
                }
                IdentityField::UserId => {
                    entry.user_id = field(map.next_value::<Option<Text<'de>>>()?).map(|s| s.0);
                }
                IdentityField::IsSocial => entry.is_social = field(map.next_value()?),
            }
        }
        Ok(FastIdentity(entry))
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = RowFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a password-export row")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut row = RowFields {
            oid: None,
            alt_id: Field::Absent,
            hash: Field::Absent,
        };
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(KeySeed(RowField::of, EXACT_ROW_KEYS))? {
            let Some(key) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            seen.first(key as u32)?;
            match key {
                RowField::Id => row.oid = map.next_value::<Oid<'de>>()?.0,
                RowField::AltId => {
                    row.alt_id = field(map.next_value::<Option<Str<'de>>>()?).map(|s| s.0);
                }
                RowField::PasswordHash => {
                    row.hash = field(map.next_value::<Option<Str<'de>>>()?).map(|s| s.0);
                }
            }
        }
        Ok(row)
    }
}

/// Classifies a key by meaning, borrowing it: first by its exact spelling in a table such as [`EXACT_USER_KEYS`]
/// (what Auth0's exports write: most keys of most records, so no normalising), else with `of`
/// on the normalised key.
struct KeySeed<K: 'static>(fn(&str) -> Option<K>, Exact<K>);

/// Exact spellings and what they classify as (`None`: a key this tool does not read).
type Exact<K> = &'static [(&'static str, Option<K>)];

/// The exact spellings of user-record keys in Auth0's export job (`user_id`, …) and of the
/// keys it writes that this tool ignores. `exact_spellings_classify_like_normalised_keys`
/// checks each against normalisation.
const EXACT_USER_KEYS: Exact<UserField> = &[
    ("user_id", Some(UserField::UserId)),
    ("email", Some(UserField::Email)),
    ("email_verified", Some(UserField::EmailVerified)),
    ("phone_number", Some(UserField::PhoneNumber)),
    ("phone_verified", Some(UserField::PhoneVerified)),
    ("username", Some(UserField::Username)),
    ("given_name", Some(UserField::GivenName)),
    ("family_name", Some(UserField::FamilyName)),
    ("name", Some(UserField::Name)),
    ("picture", Some(UserField::Picture)),
    ("locale", Some(UserField::Locale)),
    ("blocked", Some(UserField::Blocked)),
    ("user_metadata", Some(UserField::UserMetadata)),
    ("app_metadata", Some(UserField::AppMetadata)),
    ("identities", Some(UserField::Identities)),
    ("multifactor", Some(UserField::Multifactor)),
    ("nickname", None),
    ("created_at", None),
    ("updated_at", None),
    ("last_login", None),
    ("last_ip", None),
    ("logins_count", None),
];

/// The same for the entries of `identities[]`.
const EXACT_IDENTITY_KEYS: Exact<IdentityField> = &[
    ("provider", Some(IdentityField::Provider)),
    ("user_id", Some(IdentityField::UserId)),
    ("isSocial", Some(IdentityField::IsSocial)),
    ("connection", None),
];

/// The same for the rows of the password export.
const EXACT_ROW_KEYS: Exact<RowField> = &[
    ("_id", Some(RowField::Id)),
    ("alt_id", Some(RowField::AltId)),
    ("passwordHash", Some(RowField::PasswordHash)),
    ("email", None),
    ("email_verified", None),
    ("password_set_date", None),
    ("tenant", None),
    ("connection", None),
    ("_tmp_is_unique", None),
    ("identifiers", None),
];

impl<'de, K: Copy> DeserializeSeed<'de> for KeySeed<K> {
    type Value = Option<K>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Option<K>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<K: Copy> Visitor<'_> for KeySeed<K> {
    type Value = Option<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<K>, E> {
        if let Some(&(_, field)) = self.1.iter().find(|(exact, _)| *exact == key) {
            return Ok(field);
        }
        Ok(with_normalised_key(key, self.0))
    }
}

/// A string, borrowed from the line when it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(Str(Cow::Owned(v.to_owned())))
    }
}

/// A string or a number as text, like [`fields::Text`](crate::sources::json_records::fields::Text):
/// a number reads as the text `serde_json::Value` would print for it.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(serde_json::Number::from(v).to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(serde_json::Number::from(v).to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<'de>, E> {
        serde_json::Number::from_f64(v)
            .map(|n| Text(Cow::Owned(n.to_string())))
            .ok_or_else(|| E::custom(GIVE_UP))
    }
}

/// The length of an array whose elements do not matter.
struct SeqLen(usize);

impl<'de> de::Deserialize<'de> for SeqLen {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SeqLenVisitor)
    }
}

struct SeqLenVisitor;

impl<'de> Visitor<'de> for SeqLenVisitor {
    type Value = SeqLen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SeqLen, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(SeqLen(n))
    }
}

/// A row's `_id`: `{"$oid": "…"}` as the export writes it, a bare string as pre-converted
/// files do, or `null`; the non-empty id, as `passwords::object_id` reads it.
struct Oid<'de>(Option<Cow<'de, str>>);

impl<'de> de::Deserialize<'de> for Oid<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OidVisitor)
    }
}

struct OidVisitor;

impl<'de> Visitor<'de> for OidVisitor {
    type Value = Oid<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object id")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Oid<'de>, E> {
        Ok(Oid(None))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Oid<'de>, E> {
        Ok(Oid((!v.is_empty()).then_some(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Oid<'de>, E> {
        Ok(Oid((!v.is_empty()).then(|| Cow::Owned(v.to_owned()))))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Oid<'de>, A::Error> {
        // The general path reads `_id` as a `Value`, whose object keeps the last of repeated
        // keys, then takes the first `$oid` (in any case) that holds a string. With at most
        // one `$oid` key, holding a string, both read the same; anything else is left to it.
        let mut oid = None;
        while let Some(is_oid) = map.next_key_seed(OidKey)? {
            if !is_oid {
                map.next_value::<IgnoredAny>()?;
            } else if oid.is_some() {
                return Err(de::Error::custom(GIVE_UP));
            } else {
                oid = Some(map.next_value::<Str<'de>>()?.0);
            }
        }
        Ok(Oid(oid.filter(|id| !id.is_empty())))
    }
}

/// Whether a key of `_id` is `$oid`, in any case (not normalised: `_oid` is another key).
struct OidKey;

impl<'de> DeserializeSeed<'de> for OidKey {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for OidKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key.eq_ignore_ascii_case("$oid"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::convert::convert;
    use super::super::passwords;
    use super::*;
    use crate::sources::json_records::{no_id_key, parse_record_line};

    /// What the general path makes of a line: the converted record, or why it is unreadable.
    fn general_user(line: &[u8]) -> String {
        match parse_record_line(line, 0, no_id_key).0 {
            Ok(entries) => format!("{:?}", convert(RawUser::from_entries(entries))),
            Err(message) => format!("unreadable: {message}"),
        }
    }

    fn general_row(line: &[u8]) -> String {
        let row = match parse_record_line(line, 0, no_id_key).0 {
            Ok(entries) => passwords::parse_row_for_tests(entries),
            Err(message) => Err((None, message)),
        };
        format!("{row:?}")
    }

    /// A key of a user record in one of the spellings files use, or an unknown one.
    fn user_key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "user_id",
            "Id",
            "USER-ID",
            "email",
            "Email",
            "email_verified",
            "Email Verified",
            "emailVerified",
            "phone_number",
            "phone_verified",
            "username",
            "given_name",
            "Given Name",
            "family_name",
            "name",
            "picture",
            "locale",
            "blocked",
            "Blocked",
            "user_metadata",
            "app_metadata",
            "identities",
            "multifactor",
            "nickname",
            "created_at",
            "logins_count",
            "user\\u005fid",
            "K\u{212a}",
            "ëmail",
        ])
        .prop_map(str::to_owned)
    }

    fn value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            Just(json!("true")),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!(1.5e300)),
            "[a-z@. ]{0,8}".prop_map(|s| json!(s)),
            Just(json!("a@example.com")),
            Just(json!("+15555550100")),
            Just(json!({"plan": "pro", "avnology_migrate": 1})),
            Just(json!({"theme": "dark", "theme": "light"})),
            Just(
                json!([{"provider": "github", "user_id": 9, "isSocial": true},
                        {"provider": "auth0", "user_id": "x", "isSocial": false}])
            ),
            Just(json!([{"provider": "github", "Provider": "gh", "isSocial": true}, "x"])),
            Just(json!([{"provider": 5, "isSocial": false}, {"user_id": 1.25, "isSocial": true}])),
            Just(json!(["guardian"])),
            Just(json!([])),
        ]
    }

    fn user_line() -> impl Strategy<Value = String> {
        let object = prop::collection::vec((user_key(), value()), 0..8).prop_map(|pairs| {
            let body: Vec<String> = pairs
                .into_iter()
                // Keys are written raw so that escapes (`\u005f`) stay escapes.
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        });
        prop_oneof![8 => object, 1 => "[{}\\[\\]\":,a-z0-9 ]{0,30}"]
    }

    fn row_line() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "_id",
            "_ID",
            "id",
            "alt_id",
            "altId",
            "passwordHash",
            "password_hash",
            "email",
            "identifiers",
        ]);
        let value = prop_oneof![
            Just(json!(null)),
            Just(json!("")),
            Just(json!("abc")),
            Just(json!(7)),
            Just(json!({"$oid": "5dea"})),
            Just(json!({"$OID": "x", "$oid": "y"})),
            Just(json!({"$oid": 1, "$Oid": "z"})),
            Just(json!({"$date": "2020"})),
            Just(json!(
                "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
            )),
            Just(json!("$2b$10$short")),
        ];
        prop::collection::vec((key, value), 0..6).prop_map(|pairs| {
            let body: Vec<String> = pairs
                .into_iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Whenever the fast path takes a user line, it reads it as the general path does.
        #[test]
        fn the_fast_user_path_agrees_with_the_general_path(line in user_line()) {
            if let Some(raw) = user(line.as_bytes()) {
                prop_assert_eq!(format!("{:?}", convert(raw)), general_user(line.as_bytes()), "{}", line);
            }
        }

        /// Whenever the fast path takes a password row, it reads it as the general path does.
        #[test]
        fn the_fast_row_path_agrees_with_the_general_path(line in row_line()) {
            if let Some(fields) = row(line.as_bytes()) {
                let fast = format!("{:?}", passwords::resolve_for_tests(fields));
                prop_assert_eq!(fast, general_row(line.as_bytes()), "{}", line);
            }
        }
    }

    #[test]
    fn exact_spellings_classify_like_normalised_keys() {
        for &(key, field) in EXACT_USER_KEYS {
            assert_eq!(with_normalised_key(key, UserField::of), field, "{key}");
        }
        for &(key, field) in EXACT_IDENTITY_KEYS {
            assert_eq!(with_normalised_key(key, IdentityField::of), field, "{key}");
        }
        for &(key, field) in EXACT_ROW_KEYS {
            assert_eq!(with_normalised_key(key, RowField::of), field, "{key}");
        }
    }

    #[test]
    fn ordinary_records_take_the_fast_path() {
        let canonical = br#"{"user_id":"auth0|1","email":"a@example.com","email_verified":true,"identities":[{"provider":"github","user_id":12,"isSocial":true}],"user_metadata":{"a":1},"multifactor":["guardian"],"logins_count":3,"created_at":"2020-01-01T00:00:00.000Z"}"#;
        let title_case = br#"{"Id":"auth0|2","Email":"b@example.com","Email Verified":false,"Given Name":"B","Nickname":"b"}"#;
        let row_line = br#"{"_id":{"$oid":"5dea"},"email":"a@example.com","passwordHash":"$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy","password_set_date":{"$date":"2019-12-06T18:36:12.412Z"},"identifiers":[{"type":"email","value":"a@example.com","verified":true}],"alt_id":null}"#;
        assert!(user(canonical).is_some());
        assert!(user(title_case).is_some());
        assert!(row(row_line).is_some());
        // What the fast path leaves to the general path.
        for unusual in [
            &br#"{"user_id":"a","Id":"a"}"#[..],
            br#"{"email_verified":"true"}"#,
            br#"{"user_id":12}"#,
            br#"["not an object"]"#,
            br#"{"user_id":"a"} trailing"#,
        ] {
            assert!(
                user(unusual).is_none(),
                "{}",
                String::from_utf8_lossy(unusual)
            );
        }
    }
}
