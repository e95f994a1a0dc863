//! The Auth0 password-hash export (delivered through a support ticket): one MongoDB
//! extended-JSON document per line, `{"_id":{"$oid":…},"passwordHash":"$2b$10$…","alt_id":…}`,
//! or the same documents as a JSON array.
//!
//! This module owns loading that file into an index from `user_id` to hash, and the join rule:
//! a row belongs to `auth0|` + `alt_id` when the row has one (users created with a custom id
//! or through a custom database), else `auth0|` + `_id.$oid`. The index is loaded before the
//! users are streamed, so its memory grows with the number of password users only.
//!
//! Every message about a row names the file and line and never the hash.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::num::NonZeroU64;
use std::path::Path;

use serde_json::Value;

use super::export::{Field, Slots};
use crate::model::Secret;
use crate::sources::json_records::{JsonRecord, no_id_key, read_json_records};
use crate::sources::{Location, SourceError};

/// The password-export fields this tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RowField {
    /// `_id` (also spelled `_ID`): `{"$oid": …}`, or the bare id in pre-converted files.
    Id,
    AltId,
    PasswordHash,
}

impl RowField {
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "id" => Self::Id,
            "altid" => Self::AltId,
            "passwordhash" => Self::PasswordHash,
            _ => return None,
        })
    }
}

/// The length of every bcrypt string.
const BCRYPT_LEN: usize = 60;

/// A loaded row, waiting for its user. A tenant can have millions of password users and all
/// rows are held at once, so a row is kept compact: the hash inline (bcrypt strings have a fixed
/// length) instead of in its own allocation. It becomes a [`Secret`] again when claimed; `Row`
/// has no `Debug`, so the bytes cannot be printed by accident.
struct Row {
    /// The bcrypt string's ASCII bytes.
    hash: [u8; BCRYPT_LEN],
    /// Where the row is, to point at it when a second row for the same user turns up.
    line: Option<NonZeroU64>,
    /// Set once a user record with this id was read (whether or not it became an identity).
    claimed: bool,
}

/// What a user's lookup found.
pub(super) enum Claim {
    /// No row for this user.
    None,
    /// The user's bcrypt hash.
    Hash(Secret),
    /// The user's row was invalid; the location says where, for the password-hash report.
    Rejected(Location),
}

/// The password-hash export, indexed by the `user_id` each row belongs to.
#[derive(Default)]
pub(super) struct PasswordIndex {
    rows: HashMap<Box<str>, Row>,
    /// Ids whose row was reported invalid, with where that row is.
    rejected: HashMap<String, Location>,
    /// Rows loaded.
    pub(super) loaded: u64,
    /// Rows reported invalid.
    pub(super) invalid: u64,
}

impl PasswordIndex {
    /// Looks up the row of `user_id` and marks it as matched to a user record.
    pub(super) fn claim(&mut self, user_id: &str) -> Claim {
        if let Some(row) = self.rows.get_mut(user_id) {
            row.claimed = true;
            // The bytes passed `bcrypt_bytes`, so they are ASCII and the conversion is exact.
            return Claim::Hash(Secret::new(String::from_utf8_lossy(&row.hash).into_owned()));
        }
        match self.rejected.get(user_id) {
            Some(location) => Claim::Rejected(location.clone()),
            None => Claim::None,
        }
    }

    /// Rows no user record claimed.
    pub(super) fn unclaimed(&self) -> u64 {
        self.rows.values().filter(|row| !row.claimed).count() as u64
    }
}

/// Loads `path`, reporting each invalid row to `invalid`. An `Err` means the file could not be
/// read at all.
pub(super) fn load(
    path: &Path,
    invalid: &mut dyn FnMut(SourceError),
) -> Result<PasswordIndex, SourceError> {
    let mut index = PasswordIndex::default();
    read_json_records(path, no_id_key, &mut |record: JsonRecord| {
        let location = record.location;
        let row = match record.entries {
            Ok(entries) => parse_row(entries),
            Err(message) => Err((None, message)),
        };
        match row {
            Ok((user_id, hash)) => match index.rows.entry(user_id.into_boxed_str()) {
                Entry::Vacant(slot) => {
                    let line = location.line.and_then(NonZeroU64::new);
                    slot.insert(Row { hash, line, claimed: false });
                    index.loaded += 1;
                }
                Entry::Occupied(slot) => {
                    // The same hash twice is harmless; two different hashes for one user
                    // cannot both be right, and the first one stays.
                    if slot.get().hash != hash {
                        let first = slot
                            .get()
                            .line
                            .map_or_else(String::new, |line| format!(" (first at line {line})"));
                        index.invalid += 1;
                        invalid(SourceError::new(
                            location,
                            Some(slot.key().to_string()),
                            format!(
                                "password-hash export: a second, different hash for this user{first}; \
                                 the first is used"
                            ),
                        ));
                    }
                }
            },
            Err((user_id, message)) => {
                index.invalid += 1;
                if let Some(id) = &user_id {
                    index.rejected.entry(id.clone()).or_insert_with(|| location.clone());
                }
                invalid(SourceError::new(location, user_id, format!("password-hash export: {message}")));
            }
        }
    })
    .map_err(|mut e| {
        e.message = format!("password-hash export: {}", e.message);
        e
    })?;
    Ok(index)
}

/// Reads one row into its `user_id` and hash, or the id (when known) and what is wrong.
fn parse_row(
    entries: Vec<(String, Value)>,
) -> Result<(String, [u8; BCRYPT_LEN]), (Option<String>, String)> {
    let mut s = Slots::new(entries, RowField::of);
    let id: Field<Value> = s.take(RowField::Id);
    let alt_id: Field<String> = s.take(RowField::AltId);
    let hash: Field<String> = s.take(RowField::PasswordHash);
    if let Some(conflict) = s.conflicts.first() {
        return Err((None, conflict.clone()));
    }

    let oid = match id {
        Field::Present(value) => object_id(value),
        _ => None,
    };
    let user_id = match (alt_id, oid) {
        (Field::Present(alt), _) if !alt.is_empty() => format!("auth0|{alt}"),
        (wrong @ Field::Wrong { .. }, _) => {
            return Err((None, wrong.wrong_type().unwrap_or_default()));
        }
        (_, Some(oid)) => format!("auth0|{oid}"),
        (_, None) => {
            return Err((
                None,
                "row has neither `_id.$oid` nor `alt_id`, so it cannot be matched to a user"
                    .to_owned(),
            ));
        }
    };

    match hash {
        Field::Present(hash) => match bcrypt_bytes(&hash) {
            Some(bytes) => Ok((user_id, bytes)),
            None => Err((
                Some(user_id),
                "`passwordHash` is not a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, a two-digit \
                 cost, then 53 characters)"
                    .to_owned(),
            )),
        },
        wrong @ Field::Wrong { .. } => Err((Some(user_id), wrong.wrong_type().unwrap_or_default())),
        Field::Absent => Err((Some(user_id), "row has no `passwordHash`".to_owned())),
    }
}

/// `_id` as the export writes it (`{"$oid": "5dea…"}`) or as pre-converted files do (a string).
fn object_id(value: Value) -> Option<String> {
    let oid = match value {
        Value::String(s) => s,
        Value::Object(map) => map.into_iter().find_map(|(k, v)| match v {
            Value::String(s) if k.eq_ignore_ascii_case("$oid") => Some(s),
            _ => None,
        })?,
        _ => return None,
    };
    (!oid.is_empty()).then_some(oid)
}

/// The bytes of a bcrypt string, or `None` when `hash` is not one (see [`is_bcrypt`]).
fn bcrypt_bytes(hash: &str) -> Option<[u8; BCRYPT_LEN]> {
    if is_bcrypt(hash) {
        hash.as_bytes().try_into().ok()
    } else {
        None
    }
}

/// A bcrypt modular-crypt string: `$2a$`/`$2b$`/`$2y$`, a cost of 04–31, `$`, then 22
/// characters of salt and 31 of hash in bcrypt's base64 alphabet.
pub(super) fn is_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
    else {
        return false;
    };
    let rest = rest.as_bytes();
    bytes.len() == BCRYPT_LEN
        && rest[..2].iter().all(u8::is_ascii_digit)
        && (4..=31).contains(&((rest[0] - b'0') * 10 + (rest[1] - b'0')))
        && rest[2] == b'$'
        && rest[3..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real bcrypt hash (of "password", cost 10); only its shape matters here.
    const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    fn load_str(text: &str) -> (PasswordIndex, Vec<SourceError>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("passwords.ndjson");
        std::fs::write(&path, text).expect("write");
        let mut errors = Vec::new();
        let index = load(&path, &mut |e| errors.push(e)).expect("readable");
        (index, errors)
    }

    #[test]
    fn bcrypt_shapes() {
        assert!(is_bcrypt(HASH));
        assert!(is_bcrypt(&HASH.replacen("$2b$", "$2a$", 1)));
        assert!(is_bcrypt(&HASH.replacen("$2b$", "$2y$", 1)));
        for bad in [
            "",
            "$2b$",
            &HASH.replacen("$2b$", "$2x$", 1),
            &HASH.replacen("$10$", "$99$", 1),
            &HASH.replacen("$10$", "$03$", 1),
            &HASH[..59],
            &format!("{HASH}A"),
            &HASH.replacen('N', "!", 1),
            "$2b$1a$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            "$2b$10€N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lh",
        ] {
            assert!(!is_bcrypt(bad), "{bad}");
        }
    }

    #[test]
    fn joins_by_alt_id_before_oid_and_accepts_capital_id() {
        let text = format!(
            "{{\"_id\":{{\"$oid\":\"aaa\"}},\"passwordHash\":\"{HASH}\",\"alt_id\":\"euclid\"}}\n\
             {{\"_ID\":{{\"$oid\":\"bbb\"}},\"passwordHash\":\"{HASH}\"}}\n\
             {{\"_id\":\"ccc\",\"password_hash\":\"{HASH}\",\"alt_id\":\"\"}}\n"
        );
        let (mut index, errors) = load_str(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(index.loaded, 3);
        assert!(matches!(index.claim("auth0|euclid"), Claim::Hash(_)));
        assert!(matches!(index.claim("auth0|aaa"), Claim::None));
        assert!(matches!(index.claim("auth0|bbb"), Claim::Hash(_)));
        assert_eq!(index.unclaimed(), 1);
    }

    #[test]
    fn a_bad_hash_is_reported_without_the_hash() {
        let secretish = "$2b$10$tooShortButStillSecretValue";
        let text = format!("\n{{\"_id\":{{\"$oid\":\"abc\"}},\"passwordHash\":\"{secretish}\"}}\n");
        let (mut index, errors) = load_str(&text);
        assert_eq!(errors.len(), 1);
        let shown = errors[0].to_string();
        assert!(shown.contains("passwords.ndjson:2 (record 1)"), "{shown}");
        assert!(shown.contains("auth0|abc"), "{shown}");
        assert!(shown.contains("not a bcrypt hash"), "{shown}");
        assert!(!shown.contains("tooShort") && !format!("{:?}", errors[0]).contains("tooShort"));
        assert!(matches!(index.claim("auth0|abc"), Claim::Rejected(_)));
    }

    #[test]
    fn a_hash_that_is_not_a_string_or_a_line_that_is_not_an_object() {
        let text = format!(
            "{{\"_id\":{{\"$oid\":\"n\"}},\"passwordHash\":12}}\n\"{HASH}\"\n{{\"passwordHash\":\"{HASH}\"}}\n"
        );
        let (_, errors) = load_str(&text);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].contains("`passwordHash` must be a string, not a number"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].contains(":2 (record 2)")
                && shown[1].contains("not a JSON object (found a string)")
        );
        assert!(
            shown[2].contains("neither `_id.$oid` nor `alt_id`"),
            "{}",
            shown[2]
        );
        assert!(shown.iter().all(|s| !s.contains("N9qo8")), "{shown:?}");
    }

    #[test]
    fn conflicting_duplicate_rows_keep_the_first() {
        let other = HASH.replacen("N9qo", "M9qo", 1);
        let text = format!(
            "{{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{HASH}\"}}\n\
             {{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{HASH}\"}}\n\
             {{\"_id\":{{\"$oid\":\"d\"}},\"passwordHash\":\"{other}\"}}\n"
        );
        let (mut index, errors) = load_str(&text);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("first at line 1"),
            "{}",
            errors[0]
        );
        let Claim::Hash(hash) = index.claim("auth0|d") else {
            panic!("expected a hash")
        };
        assert_eq!(hash.expose(), HASH);
    }

    #[test]
    fn a_json_array_export_works_too() {
        let text = format!("[\n  {{\"_id\":{{\"$oid\":\"e\"}},\"passwordHash\":\"{HASH}\"}}\n]\n");
        let (mut index, errors) = load_str(&text);
        assert!(errors.is_empty());
        assert!(matches!(index.claim("auth0|e"), Claim::Hash(_)));
    }
}
