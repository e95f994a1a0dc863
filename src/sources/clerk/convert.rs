//! Clerk users into model identities, following DESIGN.md section 4: `id` is the external id,
//! the primary email (verified if Clerk verified it) and primary phone, `first_name` /
//! `last_name`, `public_metadata` → `traits.metadata`, `private_metadata` → admin metadata,
//! `banned` → inactive, external accounts → linked providers, a TOTP secret or two-factor flag
//! → MFA that must be re-enrolled.
//!
//! Passwords follow `password_hasher`: `bcrypt` digests are carried as they are,
//! `scrypt_firebase` digests (`hash$salt$signer key$salt separator$rounds$mem cost`) become
//! Firebase scrypt hashes with their own parameters, and every other hasher leaves the user
//! without a password and names the hasher in `password_unsupported`, so the password-hash
//! report lists the user instead of the hash vanishing. No message ever contains a digest.

use serde_json::Value;

use super::draft::Draft;
use crate::model::OWNER_KEY;
use crate::model::{ExternalId, FirebaseHashParams, Identity, PasswordHash, Secret, validate};
use crate::sources::firebase::hash::{params_in_range, standard_base64};
use crate::sources::record::{Outcome, UserOutcome, invalid};

/// Converts one user.
pub(super) fn convert(mut draft: Draft) -> UserOutcome {
    let Some(external_id) = draft.id.take().filter(|id| !id.trim().is_empty()) else {
        let mut problems = std::mem::take(&mut draft.problems);
        problems.insert(0, "user has no `id`".to_owned());
        return invalid(None, &problems);
    };

    let email = draft.primary_email();
    let phone = draft.primary_phone();
    let mut problems = std::mem::take(&mut draft.problems);
    let Some((email, email_verified)) = email else {
        if problems.is_empty() {
            // Phone-only users, and social users whose provider shared no email.
            return Outcome::no_email(external_id);
        }
        return invalid(Some(external_id), &problems);
    };
    if let Err(problem) = validate::email(&email) {
        problems.push(problem);
    }
    if let Some((phone, _)) = &phone
        && let Err(problem) = validate::phone(phone)
    {
        problems.push(problem);
    }
    if let Some(username) = &draft.username
        && let Err(problem) = validate::username(username)
    {
        problems.push(problem);
    }

    let (phone, phone_verified) = match phone {
        Some((phone, verified)) => (Some(phone), verified),
        None => (None, None),
    };
    let mut identity = Identity {
        external_id: ExternalId::new(external_id.clone()),
        email: Some(email),
        email_verified,
        phone,
        phone_verified,
        username: draft.username,
        first_name: draft.first_name,
        last_name: draft.last_name,
        avatar_url: draft.image_url,
        active: !draft.banned,
        linked_providers: draft.linked,
        mfa_enrolled: draft.mfa,
        ..Identity::default()
    };
    identity.linked_providers.sort();
    identity.linked_providers.dedup();

    if let Some(metadata) = draft.public_metadata {
        identity
            .traits
            .insert("metadata".to_owned(), Value::Object(metadata));
    }
    for (key, value) in draft.private_metadata.into_iter().flatten() {
        if key == OWNER_KEY {
            problems.push(format!(
                "`private_metadata.{OWNER_KEY}` is reserved for the migration's owner \
                 marker; rename it before migrating"
            ));
        } else {
            identity.admin_metadata.insert(key, value);
        }
    }

    match password(draft.password_digest, draft.password_hasher) {
        Ok(Password::None) => {}
        Ok(Password::Hash(hash)) => identity.password = Some(hash),
        Ok(Password::Unsupported(hasher)) => identity.password_unsupported = Some(hasher),
        Err(problem) => problems.push(problem),
    }

    if problems.is_empty() {
        Outcome::Converted(Box::new(identity))
    } else {
        invalid(Some(external_id), &problems)
    }
}

/// What a user's `password_digest` and `password_hasher` amount to.
#[derive(Debug, PartialEq)]
enum Password {
    /// No password (social-only users have neither column set).
    None,
    /// A hash Avnology verifies.
    Hash(PasswordHash),
    /// A hasher Avnology cannot verify: its name, for the password-hash report.
    Unsupported(String),
}

fn password(digest: Option<Secret>, hasher: Option<String>) -> Result<Password, String> {
    let hasher = hasher
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty());
    let digest = digest.filter(|d| !d.expose().trim().is_empty());
    let (digest, hasher) = match (digest, hasher) {
        (None, _) => return Ok(Password::None),
        (Some(_), None) => {
            return Err("`password_digest` is set but `password_hasher` is empty".to_owned());
        }
        (Some(digest), Some(hasher)) => (digest, hasher),
    };
    match hasher.as_str() {
        "bcrypt" => {
            if is_bcrypt(digest.expose()) {
                Ok(Password::Hash(PasswordHash::Bcrypt(digest)))
            } else {
                Err(
                    "`password_digest` is not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit \
                     cost, 53 characters of salt and hash) although `password_hasher` is \
                     `bcrypt`"
                        .to_owned(),
                )
            }
        }
        "scrypt_firebase" => firebase_scrypt(digest.expose()).map(Password::Hash),
        _ => Ok(Password::Unsupported(hasher)),
    }
}

/// `$2a$`, `$2b$` or `$2y$`, a two-digit cost 04–31, `$`, then 53 characters of bcrypt's
/// base64 alphabet.
fn is_bcrypt(digest: &str) -> bool {
    let b = digest.as_bytes();
    let prefix_ok = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| digest.starts_with(p));
    prefix_ok
        && b.len() == 60
        && b[6] == b'$'
        && digest
            .get(4..6)
            .and_then(|cost| cost.parse::<u32>().ok())
            .is_some_and(|cost| (4..=31).contains(&cost) && b[4].is_ascii_digit())
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

/// Clerk's `scrypt_firebase` digest: `<hash>$<salt>$<signer key>$<salt separator>$<rounds>$
/// <memory cost>`, base64 values as Firebase exports them. Messages name the part, never its
/// value.
fn firebase_scrypt(digest: &str) -> Result<PasswordHash, String> {
    let parts: Vec<&str> = digest.trim().split('$').collect();
    let [hash, salt, signer_key, separator, rounds, mem_cost] = parts[..] else {
        return Err(format!(
            "`password_digest` for `scrypt_firebase` must have 6 `$`-separated parts \
             (hash$salt$signer key$salt separator$rounds$memory cost), not {}",
            parts.len()
        ));
    };
    let b64 = |value: &str, name: &str| {
        standard_base64(value)
            .ok_or_else(|| format!("the {name} in the `scrypt_firebase` digest is not base64"))
    };
    let hash = b64(hash, "hash")?;
    let salt = b64(salt, "salt")?;
    let signer_key = b64(signer_key, "signer key")?;
    let salt_separator = b64(separator, "salt separator")?;
    let (Ok(rounds), Ok(mem_cost)) = (rounds.parse::<u32>(), mem_cost.parse::<u32>()) else {
        return Err(
            "the rounds and memory cost in the `scrypt_firebase` digest must be numbers".to_owned(),
        );
    };
    if !params_in_range(rounds, mem_cost) {
        return Err(format!(
            "the `scrypt_firebase` digest has rounds {rounds} and memory cost {mem_cost}; \
             Firebase uses rounds 1–8 and memory cost 1–14"
        ));
    }
    Ok(PasswordHash::FirebaseScrypt {
        hash: Secret::new(hash),
        salt: Secret::new(salt),
        params: FirebaseHashParams {
            signer_key: Secret::new(signer_key),
            salt_separator,
            rounds,
            mem_cost,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    fn pw(digest: &str, hasher: &str) -> Result<Password, String> {
        password(Some(Secret::new(digest)), Some(hasher.to_owned()))
    }

    #[test]
    fn bcrypt_digests_are_checked() {
        assert_eq!(
            pw(BCRYPT, "bcrypt"),
            Ok(Password::Hash(PasswordHash::Bcrypt(Secret::new(BCRYPT))))
        );
        assert!(is_bcrypt(&BCRYPT.replace("$2b$", "$2a$")));
        for bad in [
            &BCRYPT[..59],
            &BCRYPT.replace("$10$", "$99$"),
            &BCRYPT.replace("$2b$", "$2x$"),
            &BCRYPT.replace('N', "!"),
            "$2b$1a$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        ] {
            let err = pw(bad, "bcrypt").expect_err(bad);
            assert!(!err.contains("N9qo8"), "{err}");
        }
    }

    #[test]
    fn scrypt_firebase_digests_carry_their_parameters() {
        let digest = "lSrfV15cpx95_sZS2W9c9Kp6i_LVgQNDNC_qzrCnh1SAyZvqmZqAjTdn3aoItz-VHjoZilo78198JAdRuid5lQ$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$8$14";
        let Ok(Password::Hash(PasswordHash::FirebaseScrypt { hash, salt, params })) =
            pw(digest, "scrypt_firebase")
        else {
            panic!("expected a firebase-scrypt hash")
        };
        assert_eq!(
            hash.expose(),
            "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
        );
        crate::sources::test_support::firebase_vector::assert_salt_and_params(&salt, &params);
        for (bad, expected) in [
            ("a$b$c", "must have 6 `$`-separated parts"),
            (
                "*$QQ==$QQ==$Bw==$8$14",
                "the hash in the `scrypt_firebase` digest is not base64",
            ),
            ("QQ==$QQ==$QQ==$Bw==$x$14", "must be numbers"),
            ("QQ==$QQ==$QQ==$Bw==$8$20", "memory cost 20"),
        ] {
            let err = pw(bad, "scrypt_firebase").expect_err(bad);
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn other_hashers_are_named_and_digests_need_a_hasher() {
        assert_eq!(
            pw("pbkdf2_sha256$1000$c2FsdA==$aGFzaA==", " PBKDF2_SHA256 "),
            Ok(Password::Unsupported("pbkdf2_sha256".into()))
        );
        assert_eq!(password(None, Some("bcrypt".into())), Ok(Password::None));
        assert_eq!(
            password(Some(Secret::new(BCRYPT)), None),
            Err("`password_digest` is set but `password_hasher` is empty".into())
        );
    }
}
