//! A string that must never be printed: password hashes, salts, signer keys, API keys.

use std::fmt;

/// A secret string. `Debug` and `Display` print `(sensitive)`; the value is reachable only
/// through [`Secret::expose`], which makes every place that reads it easy to find.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that must send or verify it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("$2b$10$abcdefghijklmnopqrstuv");
        assert_eq!(format!("{s:?}"), "(sensitive)");
        assert_eq!(format!("{s}"), "(sensitive)");
        assert_eq!(s.expose(), "$2b$10$abcdefghijklmnopqrstuv");
    }
}
