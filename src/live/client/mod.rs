//! [`Client`]: typed calls to the Avnology admin API over reqwest, with retries.
//!
//! This module owns the client itself: its construction, the state its clones share and
//! the counters it reports. The HTTP conversation is split by concern: where a call goes
//! ([`address`]: the URL policy, HTTPS except to loopback, and path building), what one call
//! is ([`call`]: headers, body, decoding), how it is sent ([`transport`]: the retry loop,
//! pacing, the give-up watch and the `--verbose` trace) and which secrets text must never
//! show ([`secrets`]). Every body it sends or reads is a [`wire`] type shared with the
//! emulator. Bodies, headers, the API key and passwords are never logged; the trace and
//! the errors name only the method and the path (never the query, which can carry filter
//! values).
//!
//! Resources: each operation on a collection (list, page through, get, find by external
//! id, create, update, delete, change state) is written once in [`resource`]; the files
//! per resource ([`identities`], [`oauth_clients`], [`service_accounts`] with their API
//! keys, [`organizations`], the [`login`] flow) name the public calls and hold only what
//! differs. Client secrets and API keys minted through this client are shown to the caller
//! once, in the create result, and are also remembered (up to [`MAX_REMEMBERED_SECRETS`])
//! so that any later trace line or error message that would contain one is masked; their
//! responses are decoded without quoting the body on failure.

mod address;
mod call;
mod identities;
mod login;
mod oauth_clients;
mod options;
mod organizations;
mod resource;
mod secrets;
mod service_accounts;
#[cfg(test)]
mod tests;
mod transport;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use super::error::Error;
use super::pace::Pacer;
use super::{Result, retry};
use crate::wire;
use address::{is_loopback, parse_base_url};
use transport::Watch;

pub use login::LoginOutcome;
pub use options::{ClientOptions, ClientStats, RateLimitHint};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("avnology-migrate/", env!("CARGO_PKG_VERSION"));

/// The largest `page_size` the API accepts for identities (documented).
pub const MAX_PAGE_SIZE: u32 = 100;

/// How many minted secrets (client secrets, API keys) a client remembers for masking; the
/// oldest are forgotten first. Bounds memory on migrations that create many clients.
pub const MAX_REMEMBERED_SECRETS: usize = 4096;

/// The Avnology admin API client. Cheap to clone; clones share the connection pool,
/// counters and rate-limit hint, so one client serves every concurrent task.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The API root; request paths are appended as segments.
    base: Url,
    key: wire::ApiKey,
    /// `Bearer <key>`, marked sensitive so reqwest's own `Debug` hides it.
    authorization: HeaderValue,
    options: ClientOptions,
    policy: retry::Policy,
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    waiting: AtomicU64,
    pacer: Arc<Pacer>,
    rate_limit: Mutex<Option<RateLimitHint>>,
    /// Whether the server is answering, and whether the client gave up on it.
    watch: Mutex<Watch>,
    /// Secrets this client received from creates, masked wherever text could show them.
    minted: Mutex<VecDeque<String>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("key", &"(sensitive)")
            .field("options", &self.inner.options)
            .finish()
    }
}

impl Client {
    /// A client for the API at `base_url` (e.g. `https://api-id.avnology.net`).
    ///
    /// `http://` is accepted only for loopback hosts (127.0.0.0/8, `::1`, `localhost`), so the
    /// key never travels in clear; URLs with credentials, a query or a fragment are refused.
    pub fn new(base_url: &str, key: wire::ApiKey, options: ClientOptions) -> Result<Client> {
        let base = parse_base_url(base_url)?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            .map_err(|_| Error::InvalidApiKey)?;
        authorization.set_sensitive(true);
        let mut builder = super::tls::client_builder()
            .user_agent(USER_AGENT)
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            // An API does not redirect; following one could carry the key somewhere else.
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&base) {
            // A proxy cannot reach this machine's loopback on our behalf.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(Error::Setup)?;
        let policy = retry::Policy {
            max_attempts: options.max_attempts.max(1),
            fast: options.fast_retry,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                key,
                authorization,
                options,
                policy,
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
                waiting: AtomicU64::new(0),
                pacer: Arc::default(),
                rate_limit: Mutex::new(None),
                watch: Mutex::default(),
                minted: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The API root this client talks to.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Counters since creation, across all clones.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            throttled: self.inner.throttled.load(Ordering::Relaxed),
            waiting: self.inner.waiting.load(Ordering::Relaxed),
        }
    }

    /// The pacer every attempt waits on; the apply executor sets its rate.
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.inner.pacer
    }

    /// The latest `X-RateLimit-*` values seen, if the server sends them.
    pub fn rate_limit_hint(&self) -> Option<RateLimitHint> {
        *self
            .inner
            .rate_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
