//! Imported password hashes, in the forms Avnology verifies natively.

use std::fmt;

use sha2::{Digest, Sha256};

use super::Secret;

/// The project-wide parameters of Firebase's modified scrypt, from the console's
/// "Password hash parameters" dialog. The signer key is secret; the rest is not.
#[derive(Clone, PartialEq, Eq)]
pub struct FirebaseHashParams {
    /// `base64_signer_key`.
    pub signer_key: Secret,
    /// `base64_salt_separator`, usually `Bw==`.
    pub salt_separator: String,
    /// `rounds` (scrypt `r`), 1–8.
    pub rounds: u32,
    /// `mem_cost` (scrypt `N = 2^mem_cost`), 1–14.
    pub mem_cost: u32,
}

impl fmt::Debug for FirebaseHashParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirebaseHashParams")
            .field("signer_key", &self.signer_key)
            .field("salt_separator", &self.salt_separator)
            .field("rounds", &self.rounds)
            .field("mem_cost", &self.mem_cost)
            .finish()
    }
}

/// A password hash a source exported, with what is needed to verify it.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// A bcrypt modular-crypt string (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt(Secret),
    /// Firebase's modified scrypt: the per-user hash and salt (standard base64) and the
    /// project parameters.
    FirebaseScrypt {
        /// `passwordHash`, standard base64.
        hash: Secret,
        /// `salt`, standard base64.
        salt: Secret,
        /// The project's hash parameters.
        params: FirebaseHashParams,
    },
}

impl PasswordHash {
    /// The algorithm name as Avnology's API spells it.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Bcrypt(_) => "bcrypt",
            Self::FirebaseScrypt { .. } => "firebase-scrypt",
        }
    }

    /// A short SHA-256 fingerprint of the hash material (16 hex characters). It is stored in
    /// the owner marker so a plan can see that a hash changed without reading it back; it
    /// reveals nothing usable about the hash.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.algorithm().as_bytes());
        h.update([0]);
        match self {
            Self::Bcrypt(hash) => h.update(hash.expose().as_bytes()),
            Self::FirebaseScrypt { hash, salt, params } => {
                for part in [
                    hash.expose(),
                    salt.expose(),
                    params.signer_key.expose(),
                    &params.salt_separator,
                    &params.rounds.to_string(),
                    &params.mem_cost.to_string(),
                ] {
                    h.update(part.as_bytes());
                    h.update([0]);
                }
            }
        }
        let digest = h.finalize();
        hex::encode(&digest[..8])
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({}, (sensitive))", self.algorithm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_hash() {
        let raw = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        let h = PasswordHash::Bcrypt(Secret::new(raw));
        let shown = format!("{h:?}");
        assert!(!shown.contains("N9qo8"), "{shown}");
        assert_eq!(h.fingerprint().len(), 16);
        assert!(!raw.contains(&h.fingerprint()));
    }

    #[test]
    fn fingerprint_changes_with_the_hash() {
        let a = PasswordHash::Bcrypt(Secret::new("$2b$10$aaaa"));
        let b = PasswordHash::Bcrypt(Secret::new("$2b$10$aaab"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }
}
