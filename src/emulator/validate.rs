//! Field rules the emulator enforces on identities and organizations, answered as 400
//! `AVNOLOGY_AUTH_902` with `details.field`. The shapes of email, phone and username come
//! from [`crate::model::validate`], the same checks the sources apply, so a record `validate`
//! accepts is one the emulator accepts. Rules that need the database (organization exists,
//! uniqueness) live with the store.

use crate::emulator::error::ApiError;
use crate::live::wire::Identity;
use crate::model::validate;

/// Longest accepted `external_id`.
pub const MAX_EXTERNAL_ID: usize = 255;

/// Registration modes an organization may have.
pub const REGISTRATION_MODES: &[&str] = &["open", "invite_only", "sso_only", "disabled"];

/// Checks a complete identity (after create, or after a PATCH was applied).
pub fn identity(i: &Identity) -> Result<(), ApiError> {
    if i.email.is_empty() {
        return Err(ApiError::field("email", "email is required"));
    }
    validate::email(&i.email).map_err(|m| ApiError::field("email", m))?;
    if let Some(phone) = &i.phone {
        validate::phone(phone).map_err(|m| ApiError::field("phone", m))?;
    }
    if let Some(username) = &i.username {
        validate::username(username).map_err(|m| ApiError::field("username", m))?;
    }
    if let Some(external_id) = &i.external_id
        && (external_id.is_empty() || external_id.chars().count() > MAX_EXTERNAL_ID)
    {
        return Err(ApiError::field(
            "external_id",
            format!("external_id must be 1–{MAX_EXTERNAL_ID} characters"),
        ));
    }
    if i.organization_id.as_deref() == Some("") {
        return Err(ApiError::field(
            "organization_id",
            "organization_id must not be empty",
        ));
    }
    for p in &i.linked_providers {
        if p.provider.is_empty() || p.subject.is_empty() {
            return Err(ApiError::field(
                "linked_providers",
                "a linked provider needs a provider and a subject",
            ));
        }
    }
    Ok(())
}

/// Organization names (and slugs): 2–64 of lowercase ASCII letters, digits and `-`.
pub fn org_name(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = (2..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!("{field} must be 2–64 characters of lowercase letters, digits and `-`"),
        ))
    }
}

/// One of [`REGISTRATION_MODES`].
pub fn registration_mode(value: &str) -> Result<(), ApiError> {
    if REGISTRATION_MODES.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::field(
            "registration_mode",
            format!(
                "registration_mode must be one of {}",
                REGISTRATION_MODES.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_names() {
        assert!(org_name("name", "acme-corp-2").is_ok());
        for bad in ["a", "Acme", "acme corp", "acme_corp", &"a".repeat(65)] {
            assert!(org_name("name", bad).is_err(), "{bad}");
        }
        assert!(registration_mode("invite_only").is_ok());
        assert!(registration_mode("closed").is_err());
    }
}
