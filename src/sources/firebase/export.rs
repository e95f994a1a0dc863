//! One user of a `firebase auth:export` file as the file holds it, before any meaning is given
//! to the values: the JSON keys of provider-formats 3.1 (`localId, email, emailVerified,
//! passwordHash, salt, displayName, photoUrl, lastSignedInAt, createdAt, phoneNumber,
//! disabled, customAttributes, mfaInfo, providerUserInfo`), matched whatever their case.
//! The CSV reader turns each line into the same entries, so both formats share this type and
//! the converter.

use serde_json::Value;

use crate::sources::json_records::fields::{Field, Slots, normalise_key};

/// The user fields this tool reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UserField {
    LocalId,
    Email,
    EmailVerified,
    PasswordHash,
    Salt,
    DisplayName,
    PhotoUrl,
    LastSignedInAt,
    CreatedAt,
    PhoneNumber,
    Disabled,
    CustomAttributes,
    MfaInfo,
    ProviderUserInfo,
    /// The Admin SDK's name for the id: only used to explain a record without `localId`.
    Uid,
}

impl UserField {
    /// Maps a normalised key to a field. `lastLoginAt` is the API's (and the Auth emulator
    /// export's) name for `lastSignedInAt`. Keys this tool does not migrate are ignored.
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "localid" => Self::LocalId,
            "email" => Self::Email,
            "emailverified" => Self::EmailVerified,
            "passwordhash" => Self::PasswordHash,
            "salt" => Self::Salt,
            "displayname" => Self::DisplayName,
            "photourl" => Self::PhotoUrl,
            "lastsignedinat" | "lastloginat" => Self::LastSignedInAt,
            "createdat" => Self::CreatedAt,
            "phonenumber" => Self::PhoneNumber,
            "disabled" => Self::Disabled,
            "customattributes" => Self::CustomAttributes,
            "mfainfo" => Self::MfaInfo,
            "provideruserinfo" => Self::ProviderUserInfo,
            "uid" => Self::Uid,
            _ => return None,
        })
    }
}

/// Whether a raw key is the user's id, for naming a record that breaks after it.
pub(super) fn is_local_id_key(key: &str) -> bool {
    UserField::of(&normalise_key(key)) == Some(UserField::LocalId)
}

/// One user record. No `Debug`: it holds the password hash and salt.
pub(super) struct RawUser {
    /// `localId`: any string (28 characters typically).
    pub local_id: Field<String>,
    pub email: Field<String>,
    pub email_verified: Field<bool>,
    /// Base64 (either alphabet). Secret: never in a message.
    pub password_hash: Field<String>,
    /// Base64 (either alphabet). Secret: never in a message.
    pub salt: Field<String>,
    pub display_name: Field<String>,
    pub photo_url: Field<String>,
    /// Epoch milliseconds, a string in `auth:export` files, a number in some others.
    pub last_signed_in_at: Field<String>,
    /// Epoch milliseconds, as `last_signed_in_at`.
    pub created_at: Field<String>,
    /// E.164.
    pub phone_number: Field<String>,
    pub disabled: Field<bool>,
    /// Custom claims: a JSON-encoded string (an object in hand-converted files).
    pub custom_attributes: Field<serde_json::Value>,
    /// Second factors; non-empty means the user had MFA.
    pub mfa_info: Field<Vec<Value>>,
    /// Linked sign-in providers, each read by [`RawProvider::from_value`].
    pub provider_user_info: Field<Vec<Value>>,
    /// The record has a `uid` key (an Admin SDK `listUsers()` record, not an export).
    pub has_uid: bool,
    /// Keys that name the same field with different values.
    pub conflicts: Vec<String>,
}

impl RawUser {
    /// Reads a record from its entries.
    pub(super) fn from_entries(entries: Vec<(String, Value)>) -> Self {
        use UserField as F;
        let mut s = Slots::new(entries, UserField::of);
        Self {
            local_id: s.take_text(F::LocalId),
            email: s.take(F::Email),
            email_verified: s.take(F::EmailVerified),
            password_hash: s.take(F::PasswordHash),
            salt: s.take(F::Salt),
            display_name: s.take(F::DisplayName),
            photo_url: s.take(F::PhotoUrl),
            last_signed_in_at: s.take_text(F::LastSignedInAt),
            created_at: s.take_text(F::CreatedAt),
            phone_number: s.take(F::PhoneNumber),
            disabled: s.take(F::Disabled),
            custom_attributes: s.take(F::CustomAttributes),
            mfa_info: s.take(F::MfaInfo),
            provider_user_info: s.take(F::ProviderUserInfo),
            has_uid: s.has(F::Uid),
            conflicts: s.conflicts,
        }
    }
}

/// The fields of a `providerUserInfo[]` entry this tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ProviderField {
    /// `providerId`.
    Provider,
    /// `rawId`.
    Raw,
    /// `federatedId`: the Auth emulator's export names the provider's user id so where `rawId`
    /// is missing.
    Federated,
}

impl ProviderField {
    fn of(normalised: &str) -> Option<Self> {
        Some(match normalised {
            "providerid" => Self::Provider,
            "rawid" => Self::Raw,
            "federatedid" => Self::Federated,
            _ => return None,
        })
    }
}

/// One entry of `providerUserInfo[]`.
#[derive(Debug)]
pub(super) struct RawProvider {
    /// `google.com`, `apple.com`, …
    pub provider_id: Field<String>,
    /// The user's id at the provider (numeric for some providers, so read as text).
    pub raw_id: Field<String>,
    pub federated_id: Field<String>,
    pub conflicts: Vec<String>,
}

impl RawProvider {
    /// Reads an entry, or names the kind of value found where an object should be.
    pub(super) fn from_value(value: Value) -> Result<Self, &'static str> {
        let mut s = Slots::of_object(value, ProviderField::of)?;
        Ok(Self {
            provider_id: s.take(ProviderField::Provider),
            raw_id: s.take_text(ProviderField::Raw),
            federated_id: s.take_text(ProviderField::Federated),
            conflicts: s.conflicts,
        })
    }
}
