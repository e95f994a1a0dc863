//! Raw Firebase users into model identities, following DESIGN.md section 4: `localId` is the
//! external id, `customAttributes` (custom claims) become admin metadata, `disabled` makes the
//! identity inactive, `providerUserInfo[]` become linked providers, and the modified-scrypt
//! hash is carried with the project's parameters from the manifest.
//!
//! Records Avnology cannot hold are skipped on purpose: anonymous users (nothing to log in
//! with) and users without an email (phone-only users). Every problem of a record is collected
//! into one message; no message ever contains a hash or salt.

use serde_json::{Map, Value};

use super::export::{RawProvider, RawUser};
use super::hash::standard_base64;
use crate::model::OWNER_KEY;
use crate::model::{
    ExternalId, FirebaseHashParams, Identity, LinkedProvider, PasswordHash, Secret,
};
use crate::sources::SkipReason;
use crate::sources::json_records::fields::Field;
use crate::sources::json_records::kind_of;
use crate::sources::linked::{Linked, LinkedKeys};
use crate::sources::record::{Outcome, UserOutcome, check_contact, invalid};

/// What `password_unsupported` says for a user whose hash cannot be used because the manifest
/// gives no project parameters.
pub(super) const NO_PARAMS: &str = "firebase-scrypt without [users.firebase_hash] parameters";

/// Provider ids that are sign-in methods of the account itself, not linked accounts. The
/// `auth:export` CLI never writes them, but the raw API and the Auth emulator's export do.
const NOT_LINKED: [&str; 2] = ["password", "phone"];

/// Converts one record. `params` are the project's hash parameters from the manifest.
pub(super) fn convert(raw: RawUser, params: Option<&FirebaseHashParams>) -> UserOutcome {
    let external_id = match raw.local_id {
        Field::Present(id) if !id.trim().is_empty() => id,
        Field::Present(_) | Field::Absent => {
            let message = if raw.has_uid {
                "record has no `localId` (it has a `uid`: this looks like an Admin SDK \
                 `listUsers()` record; export users with `firebase auth:export` instead)"
            } else {
                "record has no `localId`"
            };
            return invalid(None, &[message.to_owned()]);
        }
        wrong @ Field::Wrong { .. } => return invalid(None, wrong.wrong_type().as_slice()),
    };

    let mut problems = raw.conflicts;
    let email = match raw.email {
        Field::Present(email) if !email.trim().is_empty() => Some(email),
        Field::Present(_) | Field::Absent => None,
        // A wrongly typed email is a broken record, not a user without one.
        wrong @ Field::Wrong { .. } => {
            problems.extend(wrong.wrong_type());
            return invalid(Some(external_id), &problems);
        }
    };
    let phone = raw.phone_number.non_empty(&mut problems);
    let providers = match raw.provider_user_info.get(&mut problems) {
        Some(entries) => linked_providers(entries, &mut problems),
        None => Vec::new(),
    };
    let password_hash = raw.password_hash.non_empty(&mut problems);

    if email.is_none() && problems.is_empty() {
        // Anonymous accounts have only `localId` and timestamps: no way to sign in at all.
        let reason = if phone.is_none() && providers.is_empty() && password_hash.is_none() {
            SkipReason::Anonymous
        } else {
            SkipReason::NoEmail
        };
        return Outcome::Skipped {
            external_id: Some(external_id),
            reason,
        };
    }

    check_contact(email.as_deref(), phone.as_deref(), &mut problems);
    for (name, field) in [
        ("createdAt", raw.created_at),
        ("lastSignedInAt", raw.last_signed_in_at),
    ] {
        if let Some(value) = field.non_empty(&mut problems)
            && !is_epoch_millis(&value)
        {
            // The value is not quoted: in a CSV line with a stray separator it could be any
            // column's content.
            problems.push(format!("`{name}` must be epoch milliseconds (digits)"));
        }
    }

    // `emailVerified` is omitted for unverified addresses (the CSV writes `false`).
    let email_verified = raw.email_verified.get(&mut problems).unwrap_or(false);
    let mut identity = Identity {
        external_id: ExternalId::new(external_id.clone()),
        email_verified: email.as_ref().map(|_| email_verified),
        email,
        // Firebase only stores phone numbers it has verified by SMS.
        phone_verified: phone.as_ref().map(|_| true),
        phone,
        display_name: raw.display_name.non_empty(&mut problems),
        avatar_url: raw.photo_url.non_empty(&mut problems),
        active: !raw.disabled.get(&mut problems).unwrap_or(false),
        linked_providers: providers,
        mfa_enrolled: raw
            .mfa_info
            .get(&mut problems)
            .is_some_and(|factors| !factors.is_empty()),
        ..Identity::default()
    };

    if let Some(claims) = raw.custom_attributes.get(&mut problems)
        && let Some(claims) = custom_claims(claims, &mut problems)
    {
        for (key, value) in claims {
            if key == OWNER_KEY {
                problems.push(format!(
                    "custom claim `{OWNER_KEY}` is reserved for the migration's owner \
                     marker; rename it before migrating"
                ));
            } else {
                identity.admin_metadata.insert(key, value);
            }
        }
    }

    let salt = raw.salt.non_empty(&mut problems);
    if let Some(hash) = password_hash {
        match password(&hash, salt.as_deref(), params) {
            Ok(Some(hash)) => identity.password = Some(hash),
            Ok(None) => identity.password_unsupported = Some(NO_PARAMS.to_owned()),
            Err(problem) => problems.push(problem),
        }
    }

    if problems.is_empty() {
        Outcome::Converted(Box::new(identity))
    } else {
        invalid(Some(external_id), &problems)
    }
}

/// The user's hash in the model's form, `None` when the manifest has no parameters for it.
/// Messages name the fields, never their values.
fn password(
    hash: &str,
    salt: Option<&str>,
    params: Option<&FirebaseHashParams>,
) -> Result<Option<PasswordHash>, String> {
    let hash = standard_base64(hash).ok_or("`passwordHash` is not valid base64")?;
    let salt = salt.ok_or("`passwordHash` is set but `salt` is missing")?;
    let salt = standard_base64(salt).ok_or("`salt` is not valid base64")?;
    Ok(params.map(|params| PasswordHash::FirebaseScrypt {
        hash: Secret::new(hash),
        salt: Secret::new(salt),
        params: params.clone(),
    }))
}

/// `customAttributes` as an object: a JSON-encoded string in exports, an object in files
/// someone converted by hand.
fn custom_claims(value: Value, problems: &mut Vec<String>) -> Option<Map<String, Value>> {
    let parsed = match value {
        Value::String(text) if text.trim().is_empty() => return None,
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(parsed) => parsed,
            Err(err) => {
                // serde_json's syntax messages name what was expected, never the input.
                problems.push(format!(
                    "`customAttributes` is not valid JSON ({err}); it must hold the custom \
                     claims as a JSON object"
                ));
                return None;
            }
        },
        other => other,
    };
    match parsed {
        Value::Object(map) => Some(map),
        other => {
            problems.push(format!(
                "`customAttributes` must hold a JSON object, not {}",
                kind_of(&other)
            ));
            None
        }
    }
}

/// The linked providers of `providerUserInfo[]`, sorted and without duplicates.
fn linked_providers(entries: Vec<Value>, problems: &mut Vec<String>) -> Vec<LinkedProvider> {
    let keys = LinkedKeys {
        list: "providerUserInfo",
        provider: "providerId",
        subject: "rawId",
    };
    let mut linked = Linked::new(keys, problems);
    for (i, value) in entries.into_iter().enumerate() {
        let entry = match RawProvider::from_value(value) {
            Ok(entry) => entry,
            Err(found) => {
                linked.not_an_object(i, found);
                continue;
            }
        };
        linked.conflicts(i, &entry.conflicts);
        let provider = entry.provider_id.non_empty(linked.problems());
        let subject = entry
            .raw_id
            .non_empty(linked.problems())
            .or_else(|| entry.federated_id.non_empty(linked.problems()));
        if provider.as_deref().is_some_and(|p| NOT_LINKED.contains(&p)) {
            continue;
        }
        linked.push(i, provider, subject);
    }
    linked.finish()
}

/// Epoch milliseconds: digits (numbers written by JSON tools may carry a `.0`).
fn is_epoch_millis(value: &str) -> bool {
    let value = value.trim();
    let digits = value.strip_suffix(".0").unwrap_or(value);
    !digits.is_empty() && digits.len() <= 16 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_millis() {
        for ok in ["1508893925000", "0", " 1508893925000 ", "1508893925000.0"] {
            assert!(is_epoch_millis(ok), "{ok}");
        }
        for bad in ["", "2017-10-25T01:12:05Z", "-1", "1.5e12", "12a"] {
            assert!(!is_epoch_millis(bad), "{bad}");
        }
    }

    #[test]
    fn custom_claims_parse_from_strings_and_objects() {
        let mut problems = Vec::new();
        let claims = custom_claims(Value::String(r#"{"admin":true}"#.into()), &mut problems);
        assert_eq!(claims.map(|c| c.len()), Some(1));
        assert_eq!(
            custom_claims(serde_json::json!({"a": 1}), &mut problems).map(|c| c.len()),
            Some(1)
        );
        assert!(problems.is_empty());
        assert!(custom_claims(Value::String("[1]".into()), &mut problems).is_none());
        assert!(custom_claims(Value::String("{\"secret\":".into()), &mut problems).is_none());
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("not an array"), "{}", problems[0]);
        assert!(!problems[1].contains("secret"), "{}", problems[1]);
    }
}
