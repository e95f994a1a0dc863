//! The secrets a [`Client`]'s text must never show: the API key, a call's own secret (a
//! login password) and every secret minted through it (client secrets, API keys), the
//! last [`MAX_REMEMBERED_SECRETS`] of them.

use super::{Client, MAX_REMEMBERED_SECRETS};
use crate::live::error;

/// How the secrets a trace line could hold begin: API keys (`ak_…`, `sk_…`) and client
/// secrets (`cs_…`).
const SECRET_PREFIXES: &[&str] = &["ak_", "sk_", "cs_"];

impl Client {
    /// Remembers a secret received from a create, so later text can mask it.
    pub(super) fn remember_secret(&self, secret: &str) {
        let mut minted = self
            .inner
            .minted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if minted.len() >= MAX_REMEMBERED_SECRETS {
            minted.pop_front();
        }
        minted.push_back(secret.to_string());
    }

    /// Runs `f` with every secret this client knows: the API key, `extra` (a call's own
    /// secret, e.g. a login password) and the secrets it received from creates. Used only
    /// when text is about to be shown; the lock is held just while `f` runs, never across
    /// I/O, and nothing is copied.
    pub(super) fn with_secrets<R>(&self, extra: Option<&str>, f: impl FnOnce(&[&str]) -> R) -> R {
        let minted = self
            .inner
            .minted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all: Vec<&str> = Vec::with_capacity(minted.len() + 2);
        all.push(self.inner.key.expose());
        all.extend(extra);
        all.extend(minted.iter().map(String::as_str));
        f(&all)
    }

    /// A trace line with every known secret masked. Lines are built from the method, our
    /// own URL path and timings, never from a server's text, so a secret could only arrive
    /// through an id in the path. Masking is a second line of defence, done only when a key
    /// or secret prefix is present so that verbose runs stay cheap with thousands of
    /// remembered secrets.
    pub(super) fn mask_trace_line(&self, line: String) -> String {
        if SECRET_PREFIXES.iter().any(|p| line.contains(p)) {
            self.with_secrets(None, |known| error::mask(&line, known))
        } else {
            line
        }
    }
}
