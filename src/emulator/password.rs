//! Password material the emulator stores and verifies: Argon2id PHC strings for
//! `initial_password`, and imported bcrypt and Firebase modified-scrypt hashes.
//!
//! [`Credential`] is what the `credentials` table holds (as JSON, in its own table, never in
//! a response). Its `Debug` shows only the algorithm. All hashing and verification is CPU- and
//! memory-heavy (Argon2id and scrypt by design), so callers run these functions inside
//! `tokio::task::spawn_blocking`.
//!
//! Firebase's scheme (from firebase/scrypt): `salt = b64(salt) ‖ b64(salt_separator)`,
//! `dk = scrypt(password, salt, N = 2^mem_cost, r = rounds, p = 1, 32 bytes)`, then
//! `AES-256-CTR(key = dk, iv = 0)` encrypts the decoded signer key; the result must equal the
//! decoded hash. The crypto is RustCrypto's (`scrypt`, `aes`, `ctr`); only the composition
//! lives here.

use std::fmt;

use aes::cipher::{KeyIvInit, StreamCipher};
use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::{Deserialize, Serialize};

use crate::wire::PasswordHashInput;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The minimum length of `initial_password` (documented: at least 8 characters).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Stored password material for one identity.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "kebab-case")]
pub enum Credential {
    /// An Argon2id PHC string (`$argon2id$v=19$…`) the emulator computed from a plaintext
    /// `initial_password`.
    Argon2id {
        /// The PHC string.
        phc: String,
    },
    /// An imported bcrypt modular-crypt string.
    Bcrypt {
        /// `$2a$`/`$2b$`/`$2y$` string.
        hash: String,
    },
    /// An imported Firebase modified-scrypt hash with its project parameters, each byte
    /// string kept as standard base64.
    FirebaseScrypt {
        /// The 64-byte (usually) hash.
        hash: String,
        /// The per-user salt.
        salt: String,
        /// The project's salt separator.
        salt_separator: String,
        /// The project's signer key.
        signer_key: String,
        /// scrypt `r`, 1–8.
        rounds: u32,
        /// scrypt `log2(N)`, 1–14.
        mem_cost: u32,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}, (sensitive))", self.algorithm())
    }
}

/// Why password material was refused; `field` is the request path of the bad value. The
/// message never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CredentialError {
    /// e.g. `password_hash.salt`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> CredentialError {
    CredentialError {
        field: field.to_string(),
        message: message.into(),
    }
}

impl Credential {
    /// The algorithm name as the API spells it.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Argon2id { .. } => "argon2id",
            Self::Bcrypt { .. } => "bcrypt",
            Self::FirebaseScrypt { .. } => "firebase-scrypt",
        }
    }

    /// Checks an imported hash and turns it into stored material. Cheap: nothing is hashed.
    pub fn from_import(input: &PasswordHashInput) -> Result<Self, CredentialError> {
        match input.algorithm.as_str() {
            "bcrypt" => {
                if !is_bcrypt(&input.hash) {
                    return Err(bad(
                        "password_hash.hash",
                        "not a valid bcrypt hash ($2a$, $2b$ or $2y$, cost 04–31, 53 characters \
                         of salt and digest)",
                    ));
                }
                Ok(Self::Bcrypt {
                    hash: input.hash.clone(),
                })
            }
            "firebase-scrypt" => {
                let b64 = |field: &str, value: Option<&str>| -> Result<String, CredentialError> {
                    let path = format!("password_hash.{field}");
                    let value = value.ok_or_else(|| bad(&path, format!("{path} is required")))?;
                    let bytes = decode_base64(value)
                        .ok_or_else(|| bad(&path, format!("{path} is not valid base64")))?;
                    if bytes.is_empty() && field != "salt_separator" {
                        return Err(bad(&path, format!("{path} is empty")));
                    }
                    // Normalised to standard base64 so verification has one alphabet to read.
                    Ok(general_purpose::STANDARD.encode(bytes))
                };
                let hash = b64("hash", Some(&input.hash))?;
                let salt = b64("salt", input.salt.as_deref())?;
                let salt_separator = b64("salt_separator", input.salt_separator.as_deref())?;
                let signer_key = b64("signer_key", input.signer_key.as_deref())?;
                let rounds = input.rounds.ok_or_else(|| {
                    bad("password_hash.rounds", "password_hash.rounds is required")
                })?;
                if !(1..=8).contains(&rounds) {
                    return Err(bad("password_hash.rounds", "rounds must be 1–8"));
                }
                let mem_cost = input.mem_cost.ok_or_else(|| {
                    bad(
                        "password_hash.mem_cost",
                        "password_hash.mem_cost is required",
                    )
                })?;
                if !(1..=14).contains(&mem_cost) {
                    return Err(bad("password_hash.mem_cost", "mem_cost must be 1–14"));
                }
                Ok(Self::FirebaseScrypt {
                    hash,
                    salt,
                    salt_separator,
                    signer_key,
                    rounds,
                    mem_cost,
                })
            }
            _ => Err(bad(
                "password_hash.algorithm",
                "algorithm must be `bcrypt` or `firebase-scrypt`",
            )),
        }
    }

    /// Hashes a plaintext `initial_password` with Argon2id (default parameters, random salt).
    /// Blocking.
    pub fn from_plaintext(password: &str) -> Result<Self, CredentialError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(bad(
                "initial_password",
                format!("initial_password must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        let phc: PhcHash = argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|_| bad("initial_password", "the password could not be hashed"))?;
        Ok(Self::Argon2id {
            phc: phc.to_string(),
        })
    }

    /// True when `password` matches. Blocking. Malformed stored material never matches.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            Self::Argon2id { phc } => PhcHash::new(phc).is_ok_and(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            }),
            Self::Bcrypt { hash } => bcrypt::verify(password, hash).unwrap_or(false),
            Self::FirebaseScrypt {
                hash,
                salt,
                salt_separator,
                signer_key,
                rounds,
                mem_cost,
            } => {
                let decoded = (
                    decode_base64(hash),
                    decode_base64(salt),
                    decode_base64(salt_separator),
                    decode_base64(signer_key),
                );
                let (Some(hash), Some(salt), Some(sep), Some(key)) = decoded else {
                    return false;
                };
                firebase_scrypt(password.as_bytes(), &salt, &sep, &key, *rounds, *mem_cost)
                    .is_some_and(|out| constant_time_eq(&out, &hash))
            }
        }
    }
}

/// Firebase's modified scrypt: the bytes a stored `passwordHash` must equal. `None` when the
/// parameters are out of range.
pub fn firebase_scrypt(
    password: &[u8],
    salt: &[u8],
    salt_separator: &[u8],
    signer_key: &[u8],
    rounds: u32,
    mem_cost: u32,
) -> Option<Vec<u8>> {
    let log_n = u8::try_from(mem_cost).ok()?;
    let params = scrypt::Params::new(log_n, rounds, 1).ok()?;
    let mut full_salt = Vec::with_capacity(salt.len() + salt_separator.len());
    full_salt.extend_from_slice(salt);
    full_salt.extend_from_slice(salt_separator);
    let mut derived = [0u8; 32];
    scrypt::scrypt(password, &full_salt, &params, &mut derived).ok()?;
    let mut out = signer_key.to_vec();
    let mut cipher = Aes256Ctr::new_from_slices(&derived, &[0u8; 16]).ok()?;
    cipher.apply_keystream(&mut out);
    Some(out)
}

/// Compares without an early exit, so timing does not reveal how many leading bytes of a
/// guess were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Decodes standard or URL-safe base64, padded or not (Firebase exports and consoles show
/// both).
pub fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if value.contains(['-', '_']) {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    GeneralPurpose::new(alphabet, config)
        .decode(value.trim())
        .ok()
}

/// `$2a$`, `$2b$` or `$2y$`, a two-digit cost 04–31, `$`, then 53 characters of bcrypt's
/// base64 alphabet (22 of salt, 31 of digest).
pub fn is_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    if b.len() != 60
        || !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
    {
        return false;
    }
    let cost_ok = b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && hash[4..6]
            .parse::<u32>()
            .is_ok_and(|c| (4..=31).contains(&c));
    cost_ok
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

/// A fixed Argon2id hash to verify against when the identifier is unknown, so a login for a
/// missing account costs as much as one for a real account and timing does not enumerate
/// users.
pub fn decoy() -> Credential {
    // Computed once per process; the plaintext is random and discarded.
    static DECOY: std::sync::OnceLock<Credential> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| {
            let random = uuid::Uuid::new_v4().simple().to_string();
            Credential::from_plaintext(&random)
                .unwrap_or(Credential::Argon2id { phc: String::new() })
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sources::test_support::firebase_vector::{HASH, SALT, SEPARATOR, SIGNER_KEY};

    fn firebase(hash: &str, rounds: u32, mem_cost: u32) -> Credential {
        Credential::from_import(&PasswordHashInput {
            algorithm: "firebase-scrypt".into(),
            hash: hash.into(),
            salt: Some(SALT.into()),
            salt_separator: Some(SEPARATOR.into()),
            signer_key: Some(SIGNER_KEY.into()),
            rounds: Some(rounds),
            mem_cost: Some(mem_cost),
        })
        .expect("valid import")
    }

    #[test]
    fn firebase_scrypt_matches_the_public_vector() {
        let out = firebase_scrypt(
            b"user1password",
            &decode_base64(SALT).unwrap(),
            &decode_base64(SEPARATOR).unwrap(),
            &decode_base64(SIGNER_KEY).unwrap(),
            8,
            14,
        )
        .unwrap();
        assert_eq!(general_purpose::STANDARD.encode(out), HASH);
        let cred = firebase(HASH, 8, 14);
        assert!(cred.verify("user1password"));
        assert!(!cred.verify("user1passwore"));
        assert!(!cred.verify(""));
    }

    #[test]
    fn firebase_scrypt_fails_with_wrong_parameters() {
        assert!(!firebase(HASH, 7, 14).verify("user1password"));
        assert!(!firebase(HASH, 8, 13).verify("user1password"));
    }

    #[test]
    fn firebase_accepts_url_safe_base64() {
        let url_safe = HASH
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_string();
        assert!(firebase(&url_safe, 8, 14).verify("user1password"));
    }

    #[test]
    fn firebase_import_is_checked() {
        let mut input = PasswordHashInput {
            algorithm: "firebase-scrypt".into(),
            hash: HASH.into(),
            salt: Some(SALT.into()),
            salt_separator: Some(SEPARATOR.into()),
            signer_key: Some(SIGNER_KEY.into()),
            rounds: Some(9),
            mem_cost: Some(14),
        };
        assert_eq!(
            Credential::from_import(&input).unwrap_err().field,
            "password_hash.rounds"
        );
        input.rounds = Some(8);
        input.mem_cost = Some(15);
        assert_eq!(
            Credential::from_import(&input).unwrap_err().field,
            "password_hash.mem_cost"
        );
        input.mem_cost = Some(14);
        input.signer_key = None;
        assert_eq!(
            Credential::from_import(&input).unwrap_err().field,
            "password_hash.signer_key"
        );
        input.signer_key = Some("not base64!!".into());
        assert_eq!(
            Credential::from_import(&input).unwrap_err().field,
            "password_hash.signer_key"
        );
    }

    #[test]
    fn bcrypt_round_trip_and_shape() {
        let hash = bcrypt::hash("correct horse", 4).unwrap();
        assert!(is_bcrypt(&hash));
        let cred = Credential::from_import(&PasswordHashInput {
            algorithm: "bcrypt".into(),
            hash: hash.clone(),
            salt: None,
            salt_separator: None,
            signer_key: None,
            rounds: None,
            mem_cost: None,
        })
        .unwrap();
        assert!(cred.verify("correct horse"));
        assert!(!cred.verify("correct horsf"));
        let y = format!("$2y${}", &hash[4..]);
        assert!(is_bcrypt(&y));
        for bad in [
            "",
            "$2x$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "$2a$03$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU9",
            "$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU9!",
        ] {
            assert!(!is_bcrypt(bad), "{bad}");
        }
    }

    #[test]
    fn argon2id_round_trip_and_minimum_length() {
        let cred = Credential::from_plaintext("s3cret-password").unwrap();
        let Credential::Argon2id { phc } = &cred else {
            panic!("not argon2id")
        };
        assert!(phc.starts_with("$argon2id$"));
        assert!(cred.verify("s3cret-password"));
        assert!(!cred.verify("s3cret-passwore"));
        assert_eq!(
            Credential::from_plaintext("short").unwrap_err().field,
            "initial_password"
        );
    }

    #[test]
    fn debug_hides_material() {
        let cred = firebase(HASH, 8, 14);
        let shown = format!("{cred:?}");
        assert_eq!(shown, "Credential(firebase-scrypt, (sensitive))");
    }
}
