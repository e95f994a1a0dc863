//! Raw Auth0 users into model identities, following DESIGN.md section 4: the mapping, the
//! records that are skipped on purpose (no email) and the checks that make a record invalid.
//!
//! A record's problems are all collected, so one message tells the whole story of a record;
//! the password is not this module's business (see `passwords`), it is attached afterwards.

use serde_json::Value;

use super::export::{Field, RawIdentity, RawUser};
use crate::model::{ExternalId, Identity, LinkedProvider, OWNER_KEY, validate};
use crate::sources::record::{Outcome, UserOutcome, invalid};

/// Converts one record.
pub(super) fn convert(raw: RawUser<'_>) -> UserOutcome {
    let external_id = match raw.user_id {
        Field::Present(id) if !id.trim().is_empty() => id,
        Field::Present(_) | Field::Absent => {
            return invalid(None, &["record has no user_id".to_owned()]);
        }
        wrong @ Field::Wrong { .. } => return invalid(None, wrong.wrong_type().as_slice()),
    };

    let mut problems = raw.conflicts;
    let email = match raw.email {
        Field::Present(email) if !email.trim().is_empty() => Some(email),
        // Phone-only (`sms`) users, and social users whose provider shared no email.
        Field::Present(_) | Field::Absent => return Outcome::no_email(external_id),
        // A wrongly typed email is a broken record, not a user without one.
        wrong @ Field::Wrong { .. } => {
            problems.extend(wrong.wrong_type());
            None
        }
    };
    if let Some(email) = &email
        && let Err(problem) = validate::email(email)
    {
        problems.push(problem);
    }

    let phone = non_empty(raw.phone_number, &mut problems);
    if let Some(phone) = &phone
        && let Err(problem) = validate::phone(phone)
    {
        problems.push(problem);
    }
    let username = non_empty(raw.username, &mut problems);
    if let Some(username) = &username
        && let Err(problem) = validate::username(username)
    {
        problems.push(problem);
    }

    let mut identity = Identity {
        external_id: ExternalId::new(external_id),
        email,
        email_verified: present(raw.email_verified, &mut problems),
        phone,
        phone_verified: present(raw.phone_verified, &mut problems),
        username,
        first_name: non_empty(raw.given_name, &mut problems),
        last_name: non_empty(raw.family_name, &mut problems),
        display_name: non_empty(raw.name, &mut problems),
        avatar_url: non_empty(raw.picture, &mut problems),
        locale: non_empty(raw.locale, &mut problems),
        // Auth0 writes `blocked` only for blocked users; absent means active.
        active: !present(raw.blocked, &mut problems).unwrap_or(false),
        ..Identity::default()
    };

    if let Some(metadata) = present(raw.user_metadata, &mut problems) {
        identity
            .traits
            .insert("metadata".to_owned(), Value::Object(metadata));
    }
    if let Some(app_metadata) = present(raw.app_metadata, &mut problems) {
        if app_metadata.contains_key(OWNER_KEY) {
            problems.push(format!(
                "`app_metadata.{OWNER_KEY}` is reserved for the migration's owner marker; \
                 rename it in the export"
            ));
        } else {
            // The identity's admin metadata starts empty, so it is exactly this map.
            identity.admin_metadata = app_metadata;
        }
    }
    if let Some(identities) = present(raw.identities, &mut problems) {
        identity.linked_providers = linked_providers(identities, &mut problems);
    }
    if let Some(factors) = present(raw.multifactor, &mut problems) {
        identity.mfa_enrolled = factors > 0;
    }

    if problems.is_empty() {
        Outcome::Converted(Box::new(identity))
    } else {
        invalid(Some(identity.external_id.as_str().to_owned()), &problems)
    }
}

/// The social logins among `identities[]`, sorted and without duplicates. The database
/// identity of a password user is not a linked provider; a social-only user's own identity is.
fn linked_providers(
    identities: Vec<(usize, Result<RawIdentity<'_>, &'static str>)>,
    problems: &mut Vec<String>,
) -> Vec<LinkedProvider> {
    let mut linked = Vec::new();
    for (i, entry) in identities {
        let entry = match entry {
            Ok(entry) => entry,
            Err(found) => {
                problems.push(format!("`identities[{i}]` must be an object, not {found}"));
                continue;
            }
        };
        problems.extend(
            entry
                .conflicts
                .iter()
                .map(|c| format!("`identities[{i}]`: {c}")),
        );
        if present(entry.is_social, problems) != Some(true) {
            continue;
        }
        let provider = non_empty(entry.provider, problems);
        let subject = non_empty(entry.user_id, problems);
        match (provider, subject) {
            (Some(provider), Some(subject)) => linked.push(LinkedProvider { provider, subject }),
            (None, _) => {
                problems.push(format!("`identities[{i}]` is social but has no `provider`"));
            }
            (_, None) => problems.push(format!("`identities[{i}]` is social but has no `user_id`")),
        }
    }
    linked.sort();
    linked.dedup();
    linked
}

/// The value of a field, recording a problem when it has the wrong type.
fn present<T>(field: Field<T>, problems: &mut Vec<String>) -> Option<T> {
    match field {
        Field::Present(value) => Some(value),
        Field::Absent => None,
        wrong @ Field::Wrong { .. } => {
            problems.extend(wrong.wrong_type());
            None
        }
    }
}

/// Like [`present`], treating a blank string as absent: exports write `""` for unset fields.
fn non_empty<S: AsRef<str> + Into<String>>(
    field: Field<S>,
    problems: &mut Vec<String>,
) -> Option<String> {
    present(field, problems)
        .filter(|s| !s.as_ref().trim().is_empty())
        .map(Into::into)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert_json(value: Value) -> UserOutcome {
        let Value::Object(map) = value else {
            panic!("test input must be an object")
        };
        convert(RawUser::from_entries(map.into_iter().collect()))
    }

    fn identity(value: Value) -> Identity {
        match convert_json(value) {
            Outcome::Converted(identity) => *identity,
            other => panic!("expected an identity, got {other:?}"),
        }
    }

    #[test]
    fn linked_providers_are_sorted_and_deduplicated() {
        let user = identity(json!({
            "user_id": "auth0|1", "email": "l@example.com",
            "identities": [
                {"provider": "auth0", "user_id": "1", "isSocial": false},
                {"provider": "github", "user_id": 9, "isSocial": true},
                {"provider": "google-oauth2", "user_id": "g", "isSocial": true},
                {"provider": "github", "user_id": "9", "isSocial": "true"},
            ]
        }));
        let providers: Vec<(&str, &str)> = user
            .linked_providers
            .iter()
            .map(|l| (l.provider.as_str(), l.subject.as_str()))
            .collect();
        assert_eq!(providers, [("github", "9"), ("google-oauth2", "g")]);
    }

    #[test]
    fn empty_values_mean_absent_or_nothing_enrolled() {
        let user = identity(json!({
            "user_id": "auth0|2", "email": "e@example.com", "given_name": "", "phone_number": " ",
            "multifactor": [], "blocked": false, "user_metadata": {}, "app_metadata": {}
        }));
        assert_eq!(user.first_name, None);
        assert_eq!(user.phone, None);
        assert!(!user.mfa_enrolled);
        assert!(user.active);
        assert_eq!(
            user.traits.get("metadata"),
            Some(&json!({})),
            "present, even if empty"
        );
        assert!(user.admin_metadata.is_empty());
    }

    #[test]
    fn blank_email_is_skipped_and_blank_id_is_invalid() {
        assert!(matches!(
            convert_json(json!({"user_id": "email|1", "email": ""})),
            Outcome::Skipped { external_id: Some(id), .. } if id == "email|1"
        ));
        assert!(matches!(
            convert_json(json!({"user_id": "  ", "email": "x@example.com"})),
            Outcome::Invalid { external_id: None, message } if message == "record has no user_id"
        ));
    }

    #[test]
    fn a_bad_username_is_invalid() {
        let Outcome::Invalid {
            external_id,
            message,
        } = convert_json(
            json!({"user_id": "auth0|3", "email": "u@example.com", "username": "a b"}),
        )
        else {
            panic!("expected invalid")
        };
        assert_eq!(external_id.as_deref(), Some("auth0|3"));
        assert!(message.contains("username `a b`"), "{message}");
    }
}
