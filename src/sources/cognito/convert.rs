//! One Cognito `UserType` record (`aws cognito-idp list-users`) into a model identity,
//! following DESIGN.md section 4. Almost everything lives in `Attributes`, a list of
//! `{"Name", "Value"}` pairs whose values are always strings (`"true"`, not `true`): the `sub`
//! attribute is the external id, `email` / `email_verified`, `phone_number` /
//! `phone_number_verified`, `given_name`, `family_name`, `name`, `picture`, `locale`, `zoneinfo`,
//! `custom:<name>` → `traits.custom.<name>`, and `identities` — a JSON-encoded string — lists
//! the federated logins. Outside the attributes: `Enabled: false` is an inactive user,
//! `MFAOptions` means MFA to re-enrol, and `UserCreateDate` is checked in both forms the AWS CLI
//! prints (v1: epoch seconds as a float; v2: ISO 8601).
//!
//! Cognito never exports password hashes, so no identity has a password: users with linked
//! providers are federated and sign in as before, everyone else must reset.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::{ExternalId, Identity, LinkedProvider};
use crate::sources::json_records::fields::{Field, Slots, normalise_key};
use crate::sources::json_records::kind_of;
use crate::sources::linked::{Linked, LinkedKeys};
use crate::sources::record::{Outcome, UserOutcome, check_contact, invalid};

/// The user fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UserField {
    Username,
    /// `Attributes` (`list-users`), or `UserAttributes` (`admin-get-user`).
    Attributes,
    UserCreateDate,
    UserLastModifiedDate,
    Enabled,
    MfaOptions,
    /// `admin-get-user`'s list of enabled MFA methods.
    MfaSettingList,
}

impl UserField {
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "username" => Self::Username,
            "attributes" | "userattributes" => Self::Attributes,
            "usercreatedate" => Self::UserCreateDate,
            "userlastmodifieddate" => Self::UserLastModifiedDate,
            "enabled" => Self::Enabled,
            "mfaoptions" => Self::MfaOptions,
            "usermfasettinglist" => Self::MfaSettingList,
            _ => return None,
        })
    }
}

/// Whether a raw key is the user's `Username`: the only id outside `Attributes`, captured to
/// name a record that breaks before its `sub` can be read.
pub(super) fn is_username_key(key: &str) -> bool {
    UserField::of(&normalise_key(key)) == Some(UserField::Username)
}

/// Converts one record's entries.
pub(super) fn convert(entries: Vec<(String, Value)>) -> UserOutcome {
    use UserField as F;
    let mut s = Slots::new(entries, UserField::of);
    let mut problems = std::mem::take(&mut s.conflicts);
    let username = s.take_text(F::Username).non_empty(&mut problems);
    let attributes = match s.take::<Vec<Value>>(F::Attributes).get(&mut problems) {
        Some(list) => attributes(list, &mut problems),
        None => BTreeMap::new(),
    };
    let attr = |name: &str| attributes.get(name).cloned();

    let Some(external_id) = attr("sub") else {
        let who = username.map_or_else(|| "user".to_owned(), |u| format!("user `{u}`"));
        problems.insert(0, format!("{who} has no `sub` attribute"));
        return invalid(None, &problems);
    };

    let email = attr("email");
    if email.is_none() && problems.is_empty() {
        return Outcome::no_email(external_id);
    }
    let flag = |name: &str, problems: &mut Vec<String>| match attr(name).as_deref() {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => {
            problems.push(format!("attribute `{name}` must be \"true\" or \"false\""));
            None
        }
    };
    let email_verified = flag("email_verified", &mut problems);
    let phone_verified = flag("phone_number_verified", &mut problems);
    let phone = attr("phone_number");
    check_contact(email.as_deref(), phone.as_deref(), &mut problems);
    for field in [F::UserCreateDate, F::UserLastModifiedDate] {
        if let Some(value) = s.take::<Value>(field).get(&mut problems) {
            let name = match field {
                F::UserCreateDate => "UserCreateDate",
                _ => "UserLastModifiedDate",
            };
            if !is_timestamp(&value) {
                problems.push(format!(
                    "`{name}` must be epoch seconds (AWS CLI v1) or an ISO 8601 date (AWS CLI \
                     v2)"
                ));
            }
        }
    }

    let mut identity = Identity {
        external_id: ExternalId::new(external_id.clone()),
        // Cognito leaves `email_verified` out until the address is verified.
        email_verified: email.as_ref().map(|_| email_verified.unwrap_or(false)),
        email,
        phone_verified: phone.as_ref().map(|_| phone_verified.unwrap_or(false)),
        phone,
        first_name: attr("given_name"),
        last_name: attr("family_name"),
        display_name: attr("name"),
        avatar_url: attr("picture"),
        locale: attr("locale"),
        // OIDC's `zoneinfo` (an IANA zone name) is Avnology's documented `timezone`.
        timezone: attr("zoneinfo"),
        active: s
            .take::<bool>(F::Enabled)
            .get(&mut problems)
            .unwrap_or(true),
        mfa_enrolled: [F::MfaOptions, F::MfaSettingList]
            .into_iter()
            .filter_map(|f| s.take::<Vec<Value>>(f).get(&mut problems))
            .any(|list| !list.is_empty()),
        ..Identity::default()
    };

    let custom: Map<String, Value> = attributes
        .iter()
        .filter_map(|(name, value)| {
            let custom = name.strip_prefix("custom:")?;
            Some((custom.to_owned(), Value::String(value.clone())))
        })
        .collect();
    if !custom.is_empty() {
        identity
            .traits
            .insert("custom".to_owned(), Value::Object(custom));
    }
    if let Some(identities) = attributes.get("identities") {
        identity.linked_providers = linked_providers(identities, &mut problems);
    }

    if problems.is_empty() {
        Outcome::Converted(Box::new(identity))
    } else {
        invalid(Some(external_id), &problems)
    }
}

/// The fields of an `Attributes[]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AttributeField {
    Name,
    Value,
}

/// `Attributes` as a map from name to value. Standard attribute names are lowercase in
/// Cognito; they are compared case-insensitively here, and `custom:` keeps the case of the
/// custom name. Empty values are absent.
fn attributes(list: Vec<Value>, problems: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, item) in list.into_iter().enumerate() {
        let of = |k: &str| match k {
            "name" => Some(AttributeField::Name),
            "value" => Some(AttributeField::Value),
            _ => None,
        };
        let mut entry = match Slots::of_object(item, of) {
            Ok(entry) => entry,
            Err(found) => {
                problems.push(format!("`Attributes[{i}]` must be an object, not {found}"));
                continue;
            }
        };
        problems.extend(
            entry
                .conflicts
                .drain(..)
                .map(|c| format!("`Attributes[{i}]`: {c}")),
        );
        let Some(name) = entry
            .take::<String>(AttributeField::Name)
            .non_empty(problems)
        else {
            problems.push(format!("`Attributes[{i}]` has no `Name`"));
            continue;
        };
        let name = match name.split_once(':') {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("custom") => {
                format!("custom:{rest}")
            }
            _ => name.to_ascii_lowercase(),
        };
        let value = match entry.take::<String>(AttributeField::Value) {
            Field::Present(value) => value,
            Field::Absent => continue,
            Field::Wrong { found, .. } => {
                problems.push(format!(
                    "attribute `{name}` has {found} as its `Value`; Cognito attribute values \
                     are strings"
                ));
                continue;
            }
        };
        if value.is_empty() {
            continue;
        }
        if let Some(earlier) = out.get(&name)
            && *earlier != value
        {
            problems.push(format!(
                "attribute `{name}` is listed twice with different values"
            ));
            continue;
        }
        out.insert(name, value);
    }
    out
}

/// The fields of an `identities` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IdentityField {
    ProviderName,
    UserId,
}

/// The `identities` attribute — a JSON-encoded array of `{userId, providerName, providerType,
/// issuer, primary, dateCreated}` — as linked providers, sorted and without duplicates.
fn linked_providers(json: &str, problems: &mut Vec<String>) -> Vec<LinkedProvider> {
    let entries = match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(entries)) => entries,
        Ok(other) => {
            problems.push(format!(
                "attribute `identities` must hold a JSON array, not {}",
                kind_of(&other)
            ));
            return Vec::new();
        }
        Err(err) => {
            // serde_json's syntax messages name what was expected, never the input.
            problems.push(format!("attribute `identities` is not valid JSON ({err})"));
            return Vec::new();
        }
    };
    let keys = LinkedKeys {
        list: "identities",
        provider: "providerName",
        subject: "userId",
    };
    let mut linked = Linked::new(keys, problems);
    for (i, entry) in entries.into_iter().enumerate() {
        let of = |k: &str| match k {
            "providername" => Some(IdentityField::ProviderName),
            "userid" => Some(IdentityField::UserId),
            _ => None,
        };
        match Slots::of_object(entry, of) {
            Ok(mut s) => {
                linked.conflicts(i, s.conflicts.drain(..));
                let provider = s
                    .take::<String>(IdentityField::ProviderName)
                    .non_empty(linked.problems());
                let subject = s
                    .take_text(IdentityField::UserId)
                    .non_empty(linked.problems());
                linked.push(i, provider, subject);
            }
            Err(found) => linked.not_an_object(i, found),
        }
    }
    linked.finish()
}

/// A `UserCreateDate` as the AWS CLI prints it: v1 epoch seconds (`1682955829.578`, a number,
/// or the same digits as a string with `--cli-timestamp-format wire`), v2 ISO 8601 with an
/// offset (`2023-05-01T15:43:49.578000+00:00`).
fn is_timestamp(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|s| s.is_finite() && s >= 0.0),
        Value::String(s) => {
            let s = s.trim();
            let epoch = !s.is_empty()
                && s.split_once('.').map_or_else(
                    || s.bytes().all(|b| b.is_ascii_digit()),
                    |(secs, frac)| {
                        !secs.is_empty()
                            && secs.bytes().all(|b| b.is_ascii_digit())
                            && frac.bytes().all(|b| b.is_ascii_digit())
                    },
                );
            epoch || chrono::DateTime::parse_from_rfc3339(s).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_in_both_cli_forms() {
        for ok in [
            json!(1_682_955_829.578),
            json!(1_682_955_829),
            json!("1682955829.578"),
            json!("2023-05-01T15:43:49.578000+00:00"),
            json!("2023-05-01T15:43:49Z"),
        ] {
            assert!(is_timestamp(&ok), "{ok}");
        }
        for bad in [
            json!("yesterday"),
            json!("2023-05-01"),
            json!("05/01/2023"),
            json!(-1),
            json!(true),
            json!(""),
        ] {
            assert!(!is_timestamp(&bad), "{bad}");
        }
    }

    #[test]
    fn identities_attribute_parses_with_numeric_ids() {
        let mut problems = Vec::new();
        let linked = linked_providers(
            r#"[{"userId":"1061","providerName":"Google","providerType":"Google","issuer":null,"primary":"true","dateCreated":"1646034013110"},{"userId":42,"providerName":"Facebook"}]"#,
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            linked,
            [
                LinkedProvider {
                    provider: "Facebook".into(),
                    subject: "42".into()
                },
                LinkedProvider {
                    provider: "Google".into(),
                    subject: "1061".into()
                },
            ]
        );
        assert!(linked_providers("{", &mut problems).is_empty());
        assert!(linked_providers("{}", &mut problems).is_empty());
        assert!(problems[0].starts_with("attribute `identities` is not valid JSON"));
        assert_eq!(
            problems[1],
            "attribute `identities` must hold a JSON array, not an object"
        );
    }
}
