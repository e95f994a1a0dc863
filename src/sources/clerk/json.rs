//! Clerk users as JSON: the `{"data": [...]}` file of Avnology's guide and the Backend API's
//! user objects (`email_addresses` as objects with an `id` and a `verification.status` or a
//! `verified` flag, `primary_email_address_id`, `external_accounts`, metadata, `banned`,
//! `two_factor_enabled`), and the older support-ticket array whose `email_addresses` is one
//! `|`-joined string with no primary marked. Keys are matched whatever their case.

use serde_json::{Map, Value};

use super::draft::{Draft, Kind, split_multi};
use crate::model::{LinkedProvider, Secret};
use crate::sources::json_records::fields::{Field, Slots, normalise_key};
use crate::sources::json_records::kind_of;

/// The user fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UserField {
    Id,
    FirstName,
    LastName,
    Username,
    ImageUrl,
    HasImage,
    EmailAddresses,
    PrimaryEmailAddressId,
    PrimaryEmailAddress,
    VerifiedEmailAddresses,
    UnverifiedEmailAddresses,
    PhoneNumbers,
    PrimaryPhoneNumberId,
    PrimaryPhoneNumber,
    VerifiedPhoneNumbers,
    UnverifiedPhoneNumbers,
    ExternalAccounts,
    PublicMetadata,
    PrivateMetadata,
    Banned,
    TotpSecret,
    TwoFactorEnabled,
    TotpEnabled,
    MfaEnabled,
    PasswordDigest,
    PasswordHasher,
}

impl UserField {
    /// Maps a normalised key to a field; keys this tool does not migrate (`created_at`,
    /// `unsafe_metadata`, `locked`, …) map to nothing.
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "id" => Self::Id,
            "firstname" => Self::FirstName,
            "lastname" => Self::LastName,
            "username" => Self::Username,
            "imageurl" | "profileimageurl" => Self::ImageUrl,
            "hasimage" => Self::HasImage,
            "emailaddresses" => Self::EmailAddresses,
            "primaryemailaddressid" => Self::PrimaryEmailAddressId,
            "primaryemailaddress" => Self::PrimaryEmailAddress,
            "verifiedemailaddresses" => Self::VerifiedEmailAddresses,
            "unverifiedemailaddresses" => Self::UnverifiedEmailAddresses,
            "phonenumbers" => Self::PhoneNumbers,
            "primaryphonenumberid" => Self::PrimaryPhoneNumberId,
            "primaryphonenumber" => Self::PrimaryPhoneNumber,
            "verifiedphonenumbers" => Self::VerifiedPhoneNumbers,
            "unverifiedphonenumbers" => Self::UnverifiedPhoneNumbers,
            "externalaccounts" => Self::ExternalAccounts,
            "publicmetadata" => Self::PublicMetadata,
            "privatemetadata" => Self::PrivateMetadata,
            "banned" => Self::Banned,
            "totpsecret" => Self::TotpSecret,
            "twofactorenabled" => Self::TwoFactorEnabled,
            "totpenabled" => Self::TotpEnabled,
            "mfaenabled" => Self::MfaEnabled,
            "passworddigest" => Self::PasswordDigest,
            "passwordhasher" => Self::PasswordHasher,
            _ => return None,
        })
    }
}

/// Whether a raw key is the user's id, for naming a record that breaks after it.
pub(super) fn is_id_key(key: &str) -> bool {
    UserField::of(&normalise_key(key)) == Some(UserField::Id)
}

/// The user of one JSON record.
pub(super) fn draft(entries: Vec<(String, Value)>) -> Draft {
    use UserField as F;
    let mut s = Slots::new(entries, UserField::of);
    let mut draft = Draft {
        problems: std::mem::take(&mut s.conflicts),
        ..Draft::default()
    };
    let p = &mut draft.problems;
    draft.id = s.take_text(F::Id).non_empty(p);
    draft.first_name = s.take(F::FirstName).non_empty(p);
    draft.last_name = s.take(F::LastName).non_empty(p);
    draft.username = s.take(F::Username).non_empty(p);
    let has_image = s.take::<bool>(F::HasImage).get(p);
    // The Backend API fills `image_url` with a generated avatar when the user uploaded none;
    // `has_image: false` says so, and that picture is not the user's.
    draft.image_url = s
        .take(F::ImageUrl)
        .non_empty(p)
        .filter(|_| has_image != Some(false));
    draft.primary_email_id = s.take_text(F::PrimaryEmailAddressId).non_empty(p);
    draft.primary_email = s.take(F::PrimaryEmailAddress).non_empty(p);
    draft.primary_phone_id = s.take_text(F::PrimaryPhoneNumberId).non_empty(p);
    draft.primary_phone = s.take(F::PrimaryPhoneNumber).non_empty(p);
    draft.banned = s.take::<bool>(F::Banned).get(p).unwrap_or(false);
    let totp_secret = s.take::<String>(F::TotpSecret).non_empty(p).is_some();
    let flags = [F::TwoFactorEnabled, F::TotpEnabled, F::MfaEnabled]
        .map(|f| s.take::<bool>(f).get(p) == Some(true));
    draft.mfa = totp_secret || flags.contains(&true);
    draft.password_digest = s.take(F::PasswordDigest).non_empty(p).map(Secret::new);
    draft.password_hasher = s.take(F::PasswordHasher).non_empty(p);
    draft.public_metadata = s.take::<Map<String, Value>>(F::PublicMetadata).get(p);
    draft.private_metadata = s.take::<Map<String, Value>>(F::PrivateMetadata).get(p);

    let contacts = [
        (F::EmailAddresses, Kind::Email, None),
        (F::VerifiedEmailAddresses, Kind::Email, Some(true)),
        (F::UnverifiedEmailAddresses, Kind::Email, Some(false)),
        (F::PhoneNumbers, Kind::Phone, None),
        (F::VerifiedPhoneNumbers, Kind::Phone, Some(true)),
        (F::UnverifiedPhoneNumbers, Kind::Phone, Some(false)),
    ];
    for (field, kind, verified) in contacts {
        if verified.is_some() && s.has(field) {
            draft.verification_listed = true;
        }
        match s.take::<Value>(field) {
            Field::Present(value) => add_contacts(&mut draft, field, kind, value, verified),
            Field::Absent | Field::Wrong { .. } => {}
        }
    }
    if let Some(accounts) = s
        .take::<Vec<Value>>(F::ExternalAccounts)
        .get(&mut draft.problems)
    {
        draft.linked = linked_providers(accounts, &mut draft.problems);
    }
    draft
}

/// The key a contact field is spelt with in messages.
fn key_name(field: UserField) -> &'static str {
    match field {
        UserField::EmailAddresses => "email_addresses",
        UserField::VerifiedEmailAddresses => "verified_email_addresses",
        UserField::UnverifiedEmailAddresses => "unverified_email_addresses",
        UserField::PhoneNumbers => "phone_numbers",
        UserField::VerifiedPhoneNumbers => "verified_phone_numbers",
        _ => "unverified_phone_numbers",
    }
}

/// Adds the addresses of one field: a `|`/`,`/`;`-joined string, an array of strings, or an
/// array of Backend API objects.
fn add_contacts(
    draft: &mut Draft,
    field: UserField,
    kind: Kind,
    value: Value,
    verified: Option<bool>,
) {
    let name = key_name(field);
    let items = match value {
        Value::String(joined) => {
            for value in split_multi(&joined) {
                draft.add(kind, value, None, verified);
            }
            return;
        }
        Value::Array(items) => items,
        other => {
            draft.problems.push(format!(
                "`{name}` must be a string or an array, not {}",
                kind_of(&other)
            ));
            return;
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(value) => draft.add(kind, &value, None, verified),
            Value::Object(map) => match contact(kind, map) {
                Ok((value, id, own)) => draft.add(kind, &value, id, own.or(verified)),
                Err(problem) => draft.problems.push(format!("`{name}[{i}]` {problem}")),
            },
            other => draft.problems.push(format!(
                "`{name}[{i}]` must be a string or an object, not {}",
                kind_of(&other)
            )),
        }
    }
}

/// The fields of an email-address or phone-number object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ContactField {
    Id,
    Value,
    Verification,
    Verified,
}

/// One Backend API email-address or phone-number object: its value, id and verification.
fn contact(
    kind: Kind,
    map: Map<String, Value>,
) -> Result<(String, Option<String>, Option<bool>), String> {
    let value_key = match kind {
        Kind::Email => "emailaddress",
        Kind::Phone => "phonenumber",
    };
    let mut s = Slots::new(map.into_iter().collect(), |k| match k {
        "id" => Some(ContactField::Id),
        "verification" => Some(ContactField::Verification),
        "verified" => Some(ContactField::Verified),
        k if k == value_key => Some(ContactField::Value),
        _ => None,
    });
    let mut problems = std::mem::take(&mut s.conflicts);
    let value = s
        .take::<String>(ContactField::Value)
        .non_empty(&mut problems);
    let id = s.take_text(ContactField::Id).non_empty(&mut problems);
    let mut verified = s.take::<bool>(ContactField::Verified).get(&mut problems);
    if let Some(verification) = s
        .take::<Map<String, Value>>(ContactField::Verification)
        .get(&mut problems)
    {
        // `verification.status` is `verified`, `unverified`, `transferable`, `failed` or
        // `expired`: only the first means Clerk checked the address.
        match verification.get("status") {
            Some(Value::String(status)) => verified = Some(status == "verified"),
            None | Some(Value::Null) => {}
            Some(other) => problems.push(format!(
                "has a `verification.status` that is {}, not a string",
                kind_of(other)
            )),
        }
    }
    match (value, problems.is_empty()) {
        (Some(value), true) => Ok((value, id, verified)),
        (None, true) => Err(format!(
            "has no `{}`",
            match kind {
                Kind::Email => "email_address",
                Kind::Phone => "phone_number",
            }
        )),
        (_, false) => Err(problems.join(", ")),
    }
}

/// The fields of an external account this tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AccountField {
    Provider,
    ProviderUserId,
    /// The older name of `provider_user_id`.
    ExternalId,
}

/// `external_accounts[]` as linked providers: `provider` (`oauth_google`, …) and the user's id
/// at the provider.
fn linked_providers(accounts: Vec<Value>, problems: &mut Vec<String>) -> Vec<LinkedProvider> {
    let mut linked = Vec::new();
    for (i, account) in accounts.into_iter().enumerate() {
        let of = |k: &str| match k {
            "provider" => Some(AccountField::Provider),
            "provideruserid" => Some(AccountField::ProviderUserId),
            "externalid" => Some(AccountField::ExternalId),
            _ => None,
        };
        let mut s = match Slots::of_object(account, of) {
            Ok(s) => s,
            Err(found) => {
                problems.push(format!(
                    "`external_accounts[{i}]` must be an object, not {found}"
                ));
                continue;
            }
        };
        problems.extend(
            s.conflicts
                .drain(..)
                .map(|c| format!("`external_accounts[{i}]`: {c}")),
        );
        let provider = s.take::<String>(AccountField::Provider).non_empty(problems);
        let subject = s
            .take_text(AccountField::ProviderUserId)
            .non_empty(problems)
            .or_else(|| s.take_text(AccountField::ExternalId).non_empty(problems));
        match (provider, subject) {
            (Some(provider), Some(subject)) => linked.push(LinkedProvider { provider, subject }),
            (None, _) => problems.push(format!("`external_accounts[{i}]` has no `provider`")),
            (Some(_), None) => problems.push(format!(
                "`external_accounts[{i}]` has no `provider_user_id`"
            )),
        }
    }
    linked
}
