//! What an emulator is started with: where its SQLite database lives, which API keys it
//! accepts (with which scopes), and which faults it injects. Everything here is plain data,
//! checked once by [`EmulatorConfig::validate`] before the server starts, so a bad
//! probability or an unknown scope fails at start-up instead of surprising a test later.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::wire::scopes;

/// Where the emulator keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file (WAL mode). Data survives restarts on the same file.
    File(PathBuf),
    /// A private in-memory database, gone when the emulator stops.
    Memory,
}

impl DbLocation {
    /// Parses the `--db` value: `:memory:` or a file path.
    pub fn parse(value: &str) -> Self {
        if value == ":memory:" {
            Self::Memory
        } else {
            Self::File(PathBuf::from(value))
        }
    }
}

/// An API key the emulator accepts and the scopes it grants. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// The bearer token, e.g. `ak_test_…`. Stored only as a SHA-256 digest.
    pub key: String,
    /// Scopes from [`scopes::ALL`].
    pub scopes: Vec<String>,
}

impl KeyGrant {
    /// A key with every admin scope.
    pub fn admin(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            scopes: scopes::ALL.iter().map(|s| (*s).to_string()).collect(),
        }
    }
}

impl fmt::Debug for KeyGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyGrant")
            .field("key", &"(sensitive)")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A token-bucket rate limit over `/v1` requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (the refill rate), > 0.
    pub rps: f64,
    /// Bucket size: how many requests may arrive at once, ≥ 1.
    pub burst: u32,
}

/// Injected faults, for reliability tests. [`Default`] injects nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Token-bucket limit; over it, `/v1` requests get 429 with `Retry-After`.
    pub rate_limit: Option<RateLimit>,
    /// Probability (0–1) that an authenticated admin request is answered 503 before anything
    /// happens.
    pub fault_5xx: f64,
    /// Probability (0–1) that a successful admin write is answered 500 after it was
    /// committed: the client sees a failure although the change happened.
    pub fault_commit_fail: f64,
    /// Probability (0–1) that an authenticated admin request's connection is closed without
    /// any HTTP response (before the request is processed).
    pub fault_drop: f64,
    /// Probability (0–1) that a successful admin write's connection is closed without any
    /// HTTP response after the write was committed: the change happened, the client cannot
    /// tell.
    pub fault_drop_after_commit: f64,
    /// Accept a second identity, OAuth client or service account with the same
    /// `external_id` in an organization, as an API that does not enforce that uniqueness
    /// would. Only the client's idempotency keys and lookups then stand between a retry and
    /// a duplicate.
    pub no_unique_external_id: bool,
    /// Forget every stored `Idempotency-Key` record at start, as an API forgets them once
    /// they expire: a retry of an earlier run's create is then a new create, and only the
    /// client's lookups stand between it and a duplicate.
    pub expire_idempotency_keys: bool,
    /// Latency added to every authenticated admin request.
    pub latency: Duration,
    /// Seed of the one RNG behind every probabilistic fault; `None` picks one at random.
    pub seed: Option<u64>,
}

impl FaultConfig {
    /// True when any probabilistic fault is switched on (so a seed matters).
    pub fn is_probabilistic(&self) -> bool {
        self.fault_5xx > 0.0
            || self.fault_commit_fail > 0.0
            || self.fault_drop > 0.0
            || self.fault_drop_after_commit > 0.0
    }
}

/// Everything an emulator is started with.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// Where the data lives.
    pub db: DbLocation,
    /// The keys it accepts. The stored key set is replaced by exactly these on start, so a
    /// key from an earlier run on the same file stops working.
    pub api_keys: Vec<KeyGrant>,
    /// Injected faults.
    pub faults: FaultConfig,
    /// Print one line per request (method, path without query, status, time, request id) to
    /// stderr. Never headers or bodies, so no secret can reach the log.
    pub log_requests: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl EmulatorConfig {
    /// An in-memory emulator with no keys and no faults.
    pub fn in_memory() -> Self {
        Self {
            db: DbLocation::Memory,
            api_keys: Vec::new(),
            faults: FaultConfig::default(),
            log_requests: false,
        }
    }

    /// An emulator backed by a SQLite file, with no keys and no faults.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            db: DbLocation::File(path.into()),
            ..Self::in_memory()
        }
    }

    /// Adds a key with every admin scope.
    #[must_use]
    pub fn with_admin_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(KeyGrant::admin(key));
        self
    }

    /// Adds a key with only the given scopes.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>, scopes: &[&str]) -> Self {
        self.api_keys.push(KeyGrant {
            key: key.into(),
            scopes: scopes.iter().map(|s| (*s).to_string()).collect(),
        });
        self
    }

    /// Replaces the fault configuration.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Checks keys, scopes and fault parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for grant in &self.api_keys {
            validate_key(&grant.key)?;
            for scope in &grant.scopes {
                if !scopes::ALL.contains(&scope.as_str()) {
                    return Err(ConfigError::UnknownScope {
                        scope: scope.clone(),
                    });
                }
            }
        }
        let f = &self.faults;
        for (flag, p) in [
            ("--fault-5xx", f.fault_5xx),
            ("--fault-commit-fail", f.fault_commit_fail),
            ("--fault-drop", f.fault_drop),
            ("--fault-drop-after-commit", f.fault_drop_after_commit),
        ] {
            check_probability(p).map_err(|_| ConfigError::Probability { flag, value: p })?;
        }
        if let Some(limit) = f.rate_limit {
            if !(limit.rps.is_finite() && limit.rps > 0.0) {
                return Err(ConfigError::RateLimit { value: limit.rps });
            }
            if limit.burst == 0 {
                return Err(ConfigError::Burst);
            }
        }
        Ok(())
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A probability outside 0–1.
    #[error("{flag} must be a probability between 0 and 1, got `{value}`")]
    Probability {
        /// The flag it came from.
        flag: &'static str,
        /// The value given.
        value: f64,
    },
    /// A rate that is not a positive number.
    #[error("--rate-limit must be a positive number of requests per second, got `{value}`")]
    RateLimit {
        /// The value given.
        value: f64,
    },
    /// A zero burst.
    #[error("--burst must be at least 1")]
    Burst,
    /// A scope the emulator does not know.
    #[error("unknown scope `{scope}` (known: {})", scopes::ALL.join(", "))]
    UnknownScope {
        /// The scope given.
        scope: String,
    },
    /// An empty key or one with characters a bearer token cannot carry. The key itself is
    /// not repeated in the message.
    #[error("an API key must be 8–512 visible ASCII characters without spaces")]
    BadKey,
}

/// Checks that `p` is a probability (finite, 0–1). Used by the CLI's value parser too.
pub fn check_probability(p: f64) -> Result<f64, String> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("`{p}` is not a probability between 0 and 1"))
    }
}

fn validate_key(key: &str) -> Result<(), ConfigError> {
    // RFC 6750 token characters are a subset of visible ASCII; anything else would not
    // survive an Authorization header.
    let ok = (8..=512).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(ConfigError::BadKey) }
}

/// A fresh admin key in Avnology's test-key shape: `ak_test_` and 64 alphanumerics from the
/// operating system's RNG.
pub fn generate_api_key() -> String {
    format!("ak_test_{}", random_alphanumeric(64))
}

/// `len` ASCII letters and digits from the operating system's RNG: the random part of every
/// key, client id and secret the emulator mints.
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_test_shape() {
        let k = generate_api_key();
        let suffix = k.strip_prefix("ak_test_").expect("prefix");
        assert_eq!(suffix.len(), 64);
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(k, generate_api_key());
    }

    #[test]
    fn validation_rejects_bad_probabilities_scopes_and_keys() {
        let ok = EmulatorConfig::in_memory().with_admin_key("ak_test_12345678");
        assert_eq!(ok.validate(), Ok(()));
        let bad_p = ok.clone().with_faults(FaultConfig {
            fault_drop: 1.5,
            ..FaultConfig::default()
        });
        assert!(matches!(
            bad_p.validate(),
            Err(ConfigError::Probability {
                flag: "--fault-drop",
                ..
            })
        ));
        let nan = ok.clone().with_faults(FaultConfig {
            fault_5xx: f64::NAN,
            ..FaultConfig::default()
        });
        assert!(nan.validate().is_err());
        let scope = EmulatorConfig::in_memory().with_key("ak_test_12345678", &["admin:everything"]);
        assert!(matches!(
            scope.validate(),
            Err(ConfigError::UnknownScope { .. })
        ));
        let key = EmulatorConfig::in_memory().with_admin_key("has space in it");
        assert_eq!(key.validate(), Err(ConfigError::BadKey));
    }

    #[test]
    fn debug_hides_keys() {
        let cfg = EmulatorConfig::in_memory().with_admin_key("ak_test_supersecretvalue");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
    }

    #[test]
    fn db_location_parses_memory() {
        assert_eq!(DbLocation::parse(":memory:"), DbLocation::Memory);
        assert_eq!(
            DbLocation::parse("x.db"),
            DbLocation::File(PathBuf::from("x.db"))
        );
    }
}
