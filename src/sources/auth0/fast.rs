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
        while let Some(key) = map.next_key_seed(KeySeed(UserField::of))? {
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
                    let entries: Option<Vec<FastIdentity<'de>>> = map.next_value()?;
                    raw.identities =
                        field(entries).map(|e| e.into_iter().map(|i| Ok(i.0)).collect());
                }
                F::Multifactor => {
                    raw.multifactor = field(map.next_value::<Option<SeqLen>>()?).map(|n| n.0);
                }
            }
        }
        Ok(raw)
    }
}

/// One entry of `identities[]`, read with borrowed strings (most entries are dropped).
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
        while let Some(key) = map.next_key_seed(KeySeed(IdentityField::of))? {
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
        while let Some(key) = map.next_key_seed(KeySeed(RowField::of))? {
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

/// Classifies a key by meaning with `of` (which receives the normalised key), borrowing it.
struct KeySeed<K>(fn(&str) -> Option<K>);

impl<'de, K> DeserializeSeed<'de> for KeySeed<K> {
    type Value = Option<K>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Option<K>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<K> Visitor<'_> for KeySeed<K> {
    type Value = Option<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<K>, E> {
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
