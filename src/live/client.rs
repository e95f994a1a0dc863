//! [`Client`]: typed calls to the Avnology admin API over reqwest, with retries.
//!
//! This module owns the HTTP conversation: the URL policy (HTTPS except to loopback), the
//! headers every call carries, the retry loop (decisions in [`super::retry`]), the per-client
//! counters and rate-limit hints, and the `--verbose` trace. Every body it sends or reads is a
//! [`wire`] type shared with the emulator. Bodies, headers, the API key and passwords are never
//! logged; the trace and the errors name only the method and the path (never the query, which
//! can carry filter values).
//!
//! Resources: identities, organizations, the login flow, OAuth clients (an assumed
//! resource) and service accounts with their API keys. Client secrets and API keys minted
//! through this client are shown to the caller once, in the create result, and are also
//! remembered (up to [`MAX_REMEMBERED_SECRETS`]) so that any later trace line or error
//! message that would contain one is masked; their responses are decoded without quoting
//! the body on failure.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderMap, HeaderName, HeaderValue, IF_MATCH,
    RETRY_AFTER,
};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{self, Error, Outage};
use super::pace::{PaceChange, Pacer};
use super::{Result, filter, retry};
use crate::printer::Trace;
use crate::wire;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("avnology-migrate/", env!("CARGO_PKG_VERSION"));

/// The largest `page_size` the API accepts for identities (documented).
pub const MAX_PAGE_SIZE: u32 = 100;

/// How many minted secrets (client secrets, API keys) a client remembers for masking; the
/// oldest are forgotten first. Bounds memory on migrations that create many clients.
pub const MAX_REMEMBERED_SECRETS: usize = 4096;

/// How the secrets a trace line could hold begin: API keys (`ak_…`, `sk_…`) and client
/// secrets (`cs_…`).
const SECRET_PREFIXES: &[&str] = &["ak_", "sk_", "cs_"];

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// How long the server may go without answering before the client gives up.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// The longest gap between "waiting for …" lines while the server does not answer.
const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// How a [`Client`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where the `--verbose` lines go: one per attempt (method, path, status, timing; never
    /// headers or bodies) and one per pacing change. Off by default.
    pub trace: Trace,
    /// Where the "waiting for …" notices go while the server does not answer; shown without
    /// `--verbose` too. Stderr by default.
    pub notices: Trace,
    /// Attempts per request including the first; 0 is treated as 1. Default 8.
    pub max_attempts: u32,
    /// Timeout of one attempt, from connect to the last body byte. Default 30 s; never more
    /// than `give_up_after`.
    pub timeout: Duration,
    /// Give up when the server has not answered for this long: no response at all, or only
    /// 502/503/504 (a gateway whose backend is gone). From then on every request fails at
    /// once with [`Error::Unreachable`]. Default [`DEFAULT_GIVE_UP_AFTER`].
    pub give_up_after: Duration,
    /// Cap every retry wait, `Retry-After` included, at about 20 ms. For tests only: the
    /// caller sets it from `AVNOLOGY_MIGRATE_FAST_RETRY`.
    pub fast_retry: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            trace: Trace::off(),
            notices: Trace::stderr(),
            max_attempts: 8,
            timeout: Duration::from_secs(30),
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            fast_retry: false,
        }
    }
}

/// Counters since the client was created, shared by all its clones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP attempts sent (a request retried twice counts three).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// 429 responses received.
    pub throttled: u64,
    /// Requests asleep right now waiting out a 429 (its `Retry-After` or backoff).
    pub waiting: u64,
}

/// The latest `X-RateLimit-*` headers seen (their names are a guess: Avnology documents none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHint {
    /// `X-RateLimit-Limit`: requests allowed per window.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left in the window.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset` as sent: seconds until the window resets, or (if it looks like
    /// one) a Unix timestamp; [`RateLimitHint::reset_after`] interprets it.
    pub reset: Option<u64>,
    /// When the response carrying these headers arrived.
    pub observed_at: Instant,
}

impl RateLimitHint {
    /// Time from `observed_at` until the window resets. Values above 10⁹ are read as Unix
    /// timestamps (as GitHub sends them), smaller ones as delta seconds.
    pub fn reset_after(&self) -> Option<Duration> {
        let reset = self.reset?;
        if reset > 1_000_000_000 {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
            Some(at.duration_since(SystemTime::now()).unwrap_or_default())
        } else {
            Some(Duration::from_secs(reset))
        }
    }
}

/// The result of a test login through the embedded login flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The credentials were accepted.
    Success {
        /// The identity that logged in.
        identity_id: String,
    },
    /// The server refused the credentials (401/403), e.g. `AVNOLOGY_AUTH_001`.
    Rejected {
        /// The error code.
        code: String,
        /// The server's message.
        message: String,
    },
}

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

/// What the client knows about the server's silence.
#[derive(Debug, Default)]
struct Watch {
    /// When the server last answered (anything but 502/503/504).
    last_answer: Option<Instant>,
    /// When the oldest attempt that failed since then was sent.
    failing_since: Option<Instant>,
    /// When the last "waiting for …" line was printed.
    last_notice: Option<Instant>,
    /// Set once the client gives up; every later request fails at once.
    outage: Option<Outage>,
}

impl Watch {
    /// How long the server has been silent for an attempt sent at `sent`.
    fn silence(&self, sent: Instant, now: Instant) -> Duration {
        let mut since = self.failing_since.map_or(sent, |f| f.min(sent));
        if let Some(answer) = self.last_answer {
            since = since.max(answer);
        }
        now.saturating_duration_since(since)
    }
}

/// One logical request, before retries.
struct Call<'a> {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    /// Send the API key (false for the login flow, which a browser would call).
    auth: bool,
    idempotency_key: Option<&'a str>,
    if_match: Option<&'a str>,
    /// A further value to mask in error messages (the login password).
    secret: Option<&'a str>,
}

/// A 2xx response, fully read.
struct Reply {
    headers: HeaderMap,
    body: Vec<u8>,
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

    /// Why the client gave up on the API, once it has: then every request fails at once.
    pub fn outage(&self) -> Option<Outage> {
        self.watch().outage.clone()
    }

    /// The latest `X-RateLimit-*` values seen, if the server sends them.
    pub fn rate_limit_hint(&self) -> Option<RateLimitHint> {
        *self
            .inner
            .rate_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ----- identities -------------------------------------------------------------------

    /// One page of identities (`GET /v1/identities`). `page_size` is at most
    /// [`MAX_PAGE_SIZE`]; `filter` is an AIP-160 string (see [`super::filter`]). Asks for
    /// the linked providers (`include_linked_providers=true`, documented), which a listing
    /// leaves out by default: a plan compares them. A tenant that still leaves them out
    /// answers `linked_providers: None`, and the plan then does not compare them.
    pub async fn list_identities(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::ListIdentitiesResponse> {
        let mut url = self.list_url(&["v1", "identities"], filter, page_size, page_token);
        url.query_pairs_mut()
            .append_pair("include_linked_providers", "true");
        let call = self.call(Method::GET, url);
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let mut page: wire::ListIdentitiesResponse = self.decode(&method, &path, &reply)?;
        // List entries carry no ETag header; a missing body etag stays empty.
        page.next_page_token = page.next_page_token.filter(|t| !t.is_empty());
        Ok(page)
    }

    /// Calls `f` for every identity matching `filter`, page by page (100 at a time), and
    /// returns how many there were. Memory holds one page at a time.
    pub async fn for_each_identity(
        &self,
        filter: Option<&str>,
        f: impl FnMut(wire::Identity),
    ) -> Result<u64> {
        self.for_each_identity_counted(filter, |_| {}, f).await
    }

    /// [`Client::for_each_identity`], also handing `on_total` the number of matches when the
    /// server says it (`total_size`), for progress.
    pub async fn for_each_identity_counted(
        &self,
        filter: Option<&str>,
        on_total: impl Fn(u64),
        f: impl FnMut(wire::Identity),
    ) -> Result<u64> {
        for_each_page(
            "/v1/identities",
            async |token: Option<String>| {
                self.list_identities(filter, MAX_PAGE_SIZE, token.as_deref())
                    .await
            },
            |page| {
                if let Some(total) = page.total_size {
                    on_total(total);
                }
                (page.identities, page.next_page_token)
            },
            f,
        )
        .await
    }

    /// One identity (`GET /v1/identities/{id}`), with its `etag` (from the body, or else the
    /// `ETag` header).
    pub async fn get_identity(&self, id: &str) -> Result<wire::Identity> {
        let url = self.url(&["v1", "identities", id_segment(id)?]);
        self.identity(self.call(Method::GET, url)).await
    }

    /// The identity whose `external_id` is `external_id`, in `organization_id` if given.
    ///
    /// Without an organization, an identity outside any organization is preferred, then the
    /// first match. Soft-deleted identities are not found: the listing leaves identities in
    /// `scheduled_deletion` out unless the filter names `state`, and this filter does not
    /// (`external_id` is unique only among identities that are not soft-deleted, so a
    /// soft-deleted one is a different identity, which `plan` finds through its own
    /// `state = "scheduled_deletion"` listing).
    pub async fn find_identity_by_external_id(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<wire::Identity>> {
        let filter = match organization_id {
            Some(org) => {
                filter::all_equal(&[("external_id", external_id), ("organization_id", org)])
            }
            None => filter::all_equal(&[("external_id", external_id)]),
        };
        let page = self
            .list_identities(Some(&filter), MAX_PAGE_SIZE, None)
            .await?;
        // Check again on our side: a server that ignored part of the filter must not make us
        // act on the wrong identity.
        let mut matches: Vec<wire::Identity> = page
            .identities
            .into_iter()
            .filter(|i| i.external_id.as_deref() == Some(external_id))
            .filter(|i| organization_id.is_none_or(|org| i.organization_id.as_deref() == Some(org)))
            .collect();
        if organization_id.is_none()
            && let Some(pos) = matches.iter().position(|i| i.organization_id.is_none())
        {
            return Ok(Some(matches.swap_remove(pos)));
        }
        Ok(matches.into_iter().next())
    }

    /// Creates an identity (`POST /v1/identities`, 201). With an `idempotency_key`, a retry or
    /// a re-run replays the first answer instead of creating a second identity.
    pub async fn create_identity(
        &self,
        req: &wire::CreateIdentityRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::Identity> {
        let url = self.url(&["v1", "identities"]);
        let mut call = self.call(Method::POST, url).json(req)?;
        call.idempotency_key = idempotency_key;
        self.identity(call).await
    }

    /// Updates the fields named in `req.update_mask` (`PATCH /v1/identities/{id}`). With
    /// `if_match`, a 409 ([`Error::is_conflict`]) means someone changed the identity since
    /// that ETag was read.
    pub async fn update_identity(
        &self,
        id: &str,
        req: &wire::UpdateIdentityRequest,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        let url = self.url(&["v1", "identities", id_segment(id)?]);
        let mut call = self.call(Method::PATCH, url).json(req)?;
        call.if_match = if_match;
        self.identity(call).await
    }

    /// Deactivates an identity (`POST /v1/identities/{id}:deactivate`): it can no longer log
    /// in; data and sessions are kept.
    pub async fn deactivate_identity(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        self.custom_method(id, "deactivate", if_match).await
    }

    /// Reactivates an identity (`POST /v1/identities/{id}:reactivate`).
    pub async fn reactivate_identity(
        &self,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        self.custom_method(id, "reactivate", if_match).await
    }

    /// Soft-deletes an identity (`DELETE /v1/identities/{id}`, 204): its state becomes
    /// `scheduled_deletion`.
    pub async fn delete_identity(&self, id: &str, if_match: Option<&str>) -> Result<()> {
        let url = self.url(&["v1", "identities", id_segment(id)?]);
        let mut call = self.call(Method::DELETE, url);
        call.if_match = if_match;
        self.send(call).await.map(drop)
    }

    async fn custom_method(
        &self,
        id: &str,
        verb: &str,
        if_match: Option<&str>,
    ) -> Result<wire::Identity> {
        let segment = format!("{}:{verb}", id_segment(id)?);
        let url = self.url(&["v1", "identities", &segment]);
        // The documented optional body is `{"reason": …}`; the tool sends none.
        let mut call = self.call(Method::POST, url).json(&serde_json::Map::new())?;
        call.if_match = if_match;
        self.identity(call).await
    }

    // ----- organizations ----------------------------------------------------------------

    /// The organization named exactly `name` (`GET /v1/organizations?filter=name = "…"`).
    pub async fn find_organization_by_name(
        &self,
        name: &str,
    ) -> Result<Option<wire::Organization>> {
        let mut url = self.url(&["v1", "organizations"]);
        url.query_pairs_mut()
            .append_pair("page_size", &MAX_PAGE_SIZE.to_string())
            .append_pair("filter", &filter::all_equal(&[("name", name)]));
        let call = self.call(Method::GET, url);
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let page: wire::ListOrganizationsResponse = self.decode(&method, &path, &reply)?;
        Ok(page.organizations.into_iter().find(|o| o.name == name))
    }

    /// Creates an organization (`POST /v1/organizations`, 201).
    pub async fn create_organization(
        &self,
        req: &wire::CreateOrganizationRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::Organization> {
        let url = self.url(&["v1", "organizations"]);
        let mut call = self.call(Method::POST, url).json(req)?;
        call.idempotency_key = idempotency_key;
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        self.decode(&method, &path, &reply)
    }

    // ----- OAuth clients (assumed resource) ---------------------------------------------

    /// One page of OAuth clients (`GET /v1/oauth-clients`). `filter` is an AIP-160 string
    /// over `external_id`, `client_name`, `client_type`, `organization_id`.
    pub async fn list_oauth_clients(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::ListOAuthClientsResponse> {
        let url = self.list_url(&["v1", "oauth-clients"], filter, page_size, page_token);
        let (mut page, _): (wire::ListOAuthClientsResponse, _) =
            self.fetch(self.call(Method::GET, url)).await?;
        page.next_page_token = page.next_page_token.filter(|t| !t.is_empty());
        Ok(page)
    }

    /// Calls `f` for every OAuth client matching `filter`, page by page, and returns how
    /// many there were.
    pub async fn for_each_oauth_client(
        &self,
        filter: Option<&str>,
        f: impl FnMut(wire::OAuthClient),
    ) -> Result<u64> {
        for_each_page(
            "/v1/oauth-clients",
            async |token: Option<String>| {
                self.list_oauth_clients(filter, MAX_PAGE_SIZE, token.as_deref())
                    .await
            },
            |page| (page.oauth_clients, page.next_page_token),
            f,
        )
        .await
    }

    /// One OAuth client (`GET /v1/oauth-clients/{client_id}`), with its `etag`. Never
    /// carries the secret.
    pub async fn get_oauth_client(&self, client_id: &str) -> Result<wire::OAuthClient> {
        let url = self.url(&["v1", "oauth-clients", id_segment(client_id)?]);
        let (mut client, headers): (wire::OAuthClient, _) =
            self.fetch(self.call(Method::GET, url)).await?;
        fill_etag(&mut client.etag, &headers);
        Ok(client)
    }

    /// The OAuth client whose `external_id` is `external_id`, in `organization_id` if given;
    /// without one, a client outside any organization is preferred, then the first match.
    pub async fn find_oauth_client_by_external_id(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<wire::OAuthClient>> {
        let filter = external_id_filter(organization_id, external_id);
        let page = self
            .list_oauth_clients(Some(&filter), MAX_PAGE_SIZE, None)
            .await?;
        // Checked again here: a server that ignored part of the filter must not make us act
        // on the wrong client.
        Ok(pick_by_external_id(
            page.oauth_clients,
            organization_id,
            external_id,
            |c| (c.external_id.as_deref(), c.organization_id.as_deref()),
        ))
    }

    /// Creates an OAuth client (`POST /v1/oauth-clients`, 201). A confidential client's
    /// `client_secret` is in the result and nowhere else, ever: the caller must store it.
    /// With an `idempotency_key`, a retry (here or by a re-run) replays the first answer,
    /// secret included, instead of creating a second client.
    pub async fn create_oauth_client(
        &self,
        req: &wire::CreateOAuthClientRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::CreatedOAuthClient> {
        let url = self.url(&["v1", "oauth-clients"]);
        let mut call = self.call(Method::POST, url).json(req)?;
        call.idempotency_key = idempotency_key;
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let mut created: wire::CreatedOAuthClient =
            self.decode_secret_bearing(&method, &path, &reply)?;
        if let Some(secret) = &created.client_secret {
            self.remember_secret(secret);
        }
        fill_etag(&mut created.client.etag, &reply.headers);
        Ok(created)
    }

    /// Updates the fields named in `req.update_mask` (`PATCH /v1/oauth-clients/{client_id}`).
    /// With `if_match`, a 409 ([`Error::is_conflict`], [`Error::reason`] `etag_mismatch`)
    /// means the client changed since that ETag was read.
    pub async fn update_oauth_client(
        &self,
        client_id: &str,
        req: &wire::UpdateOAuthClientRequest,
        if_match: Option<&str>,
    ) -> Result<wire::OAuthClient> {
        let url = self.url(&["v1", "oauth-clients", id_segment(client_id)?]);
        let mut call = self.call(Method::PATCH, url).json(req)?;
        call.if_match = if_match;
        let (mut client, headers): (wire::OAuthClient, _) = self.fetch(call).await?;
        fill_etag(&mut client.etag, &headers);
        Ok(client)
    }

    /// Deletes an OAuth client (`DELETE /v1/oauth-clients/{client_id}`, 204).
    pub async fn delete_oauth_client(&self, client_id: &str, if_match: Option<&str>) -> Result<()> {
        let url = self.url(&["v1", "oauth-clients", id_segment(client_id)?]);
        let mut call = self.call(Method::DELETE, url);
        call.if_match = if_match;
        self.send(call).await.map(drop)
    }

    // ----- service accounts and API keys ------------------------------------------------

    /// One page of service accounts (`GET /v1/service-accounts`). `filter` is an AIP-160
    /// string over `external_id`, `name`, `owner_id`, `organization_id` (assumed).
    pub async fn list_service_accounts(
        &self,
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::ListServiceAccountsResponse> {
        let url = self.list_url(&["v1", "service-accounts"], filter, page_size, page_token);
        let (mut page, _): (wire::ListServiceAccountsResponse, _) =
            self.fetch(self.call(Method::GET, url)).await?;
        page.next_page_token = page.next_page_token.filter(|t| !t.is_empty());
        Ok(page)
    }

    /// Calls `f` for every service account matching `filter`, page by page, and returns how
    /// many there were.
    pub async fn for_each_service_account(
        &self,
        filter: Option<&str>,
        f: impl FnMut(wire::ServiceAccount),
    ) -> Result<u64> {
        for_each_page(
            "/v1/service-accounts",
            async |token: Option<String>| {
                self.list_service_accounts(filter, MAX_PAGE_SIZE, token.as_deref())
                    .await
            },
            |page| (page.service_accounts, page.next_page_token),
            f,
        )
        .await
    }

    /// One service account (`GET /v1/service-accounts/{id}`), with its `etag`.
    pub async fn get_service_account(&self, id: &str) -> Result<wire::ServiceAccount> {
        let url = self.url(&["v1", "service-accounts", id_segment(id)?]);
        let (mut account, headers): (wire::ServiceAccount, _) =
            self.fetch(self.call(Method::GET, url)).await?;
        fill_etag(&mut account.etag, &headers);
        Ok(account)
    }

    /// The service account whose `external_id` is `external_id`, in `organization_id` if
    /// given; without one, an account outside any organization is preferred.
    pub async fn find_service_account_by_external_id(
        &self,
        organization_id: Option<&str>,
        external_id: &str,
    ) -> Result<Option<wire::ServiceAccount>> {
        let filter = external_id_filter(organization_id, external_id);
        let page = self
            .list_service_accounts(Some(&filter), MAX_PAGE_SIZE, None)
            .await?;
        Ok(pick_by_external_id(
            page.service_accounts,
            organization_id,
            external_id,
            |a| (a.external_id.as_deref(), a.organization_id.as_deref()),
        ))
    }

    /// Creates a service account (`POST /v1/service-accounts`, 201). `owner_id` must name a
    /// live identity.
    pub async fn create_service_account(
        &self,
        req: &wire::CreateServiceAccountRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::ServiceAccount> {
        let url = self.url(&["v1", "service-accounts"]);
        let mut call = self.call(Method::POST, url).json(req)?;
        call.idempotency_key = idempotency_key;
        let (mut account, headers): (wire::ServiceAccount, _) = self.fetch(call).await?;
        fill_etag(&mut account.etag, &headers);
        Ok(account)
    }

    /// Updates the fields named in `req.update_mask` (`PATCH /v1/service-accounts/{id}`,
    /// assumed): `name`, `description`, `metadata`, `metadata.<key>`.
    pub async fn update_service_account(
        &self,
        id: &str,
        req: &wire::UpdateServiceAccountRequest,
        if_match: Option<&str>,
    ) -> Result<wire::ServiceAccount> {
        let url = self.url(&["v1", "service-accounts", id_segment(id)?]);
        let mut call = self.call(Method::PATCH, url).json(req)?;
        call.if_match = if_match;
        let (mut account, headers): (wire::ServiceAccount, _) = self.fetch(call).await?;
        fill_etag(&mut account.etag, &headers);
        Ok(account)
    }

    /// Deletes a service account (`DELETE /v1/service-accounts/{id}`, 204), revoking every
    /// key it has.
    pub async fn delete_service_account(&self, id: &str, if_match: Option<&str>) -> Result<()> {
        let url = self.url(&["v1", "service-accounts", id_segment(id)?]);
        let mut call = self.call(Method::DELETE, url);
        call.if_match = if_match;
        self.send(call).await.map(drop)
    }

    /// Mints an API key for a service account (`POST /v1/service-accounts/{id}/keys`, 201).
    /// The full key is in the result and nowhere else, ever; empty `scopes` means all. With
    /// an `idempotency_key`, a retry replays the same key instead of minting another.
    pub async fn create_api_key(
        &self,
        service_account_id: &str,
        req: &wire::CreateApiKeyRequest,
        idempotency_key: Option<&str>,
    ) -> Result<wire::CreatedApiKey> {
        let url = self.url(&[
            "v1",
            "service-accounts",
            id_segment(service_account_id)?,
            "keys",
        ]);
        let mut call = self.call(Method::POST, url).json(req)?;
        call.idempotency_key = idempotency_key;
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let created: wire::CreatedApiKey = self.decode_secret_bearing(&method, &path, &reply)?;
        self.remember_secret(&created.key);
        Ok(created)
    }

    /// The keys of a service account (`GET /v1/service-accounts/{id}/keys`): records with a
    /// prefix, never the keys.
    pub async fn list_api_keys(&self, service_account_id: &str) -> Result<Vec<wire::ApiKeyRecord>> {
        let url = self.url(&[
            "v1",
            "service-accounts",
            id_segment(service_account_id)?,
            "keys",
        ]);
        let (list, _): (wire::ListApiKeysResponse, _) =
            self.fetch(self.call(Method::GET, url)).await?;
        Ok(list.keys)
    }

    /// Revokes one key at once (`DELETE /v1/service-accounts/{id}/keys/{key_id}`, 204).
    pub async fn delete_api_key(&self, service_account_id: &str, key_id: &str) -> Result<()> {
        let url = self.url(&[
            "v1",
            "service-accounts",
            id_segment(service_account_id)?,
            "keys",
            id_segment(key_id)?,
        ]);
        self.send(self.call(Method::DELETE, url)).await.map(drop)
    }

    // ----- login flow -------------------------------------------------------------------

    /// Tries `identifier` + `password` through the embedded login flow, as an end user would
    /// (no API key is sent): `POST /v1/flows/login`, then
    /// `POST /v1/flows/login/{flow_id}:submit`. A 401/403 answer is
    /// [`LoginOutcome::Rejected`]; anything else that fails is an error.
    pub async fn login(&self, identifier: &str, password: &str) -> Result<LoginOutcome> {
        let url = self.url(&["v1", "flows", "login"]);
        let mut call = self.call(Method::POST, url).json(&serde_json::Map::new())?;
        call.auth = false;
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let flow: wire::LoginFlow = self.decode(&method, &path, &reply)?;

        let segment = format!("{}:submit", id_segment(&flow.id)?);
        let url = self.url(&["v1", "flows", "login", &segment]);
        let submission = wire::LoginSubmission {
            method: "password".into(),
            identifier: identifier.into(),
            password: password.into(),
        };
        let mut call = self.call(Method::POST, url).json(&submission)?;
        call.auth = false;
        call.secret = Some(password);
        let method = call.method.clone();
        let path = call.url.path().to_string();
        match self.send(call).await {
            Ok(reply) => {
                let ok: wire::LoginSuccess = self.decode(&method, &path, &reply)?;
                Ok(LoginOutcome::Success {
                    identity_id: ok.identity_id,
                })
            }
            Err(Error::Api {
                status: 401 | 403,
                code,
                message,
                ..
            }) => Ok(LoginOutcome::Rejected { code, message }),
            Err(e) => Err(e),
        }
    }

    // ----- plumbing ---------------------------------------------------------------------

    /// The base URL with `segments` appended, each percent-encoded as one path segment.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        // Cannot fail: `parse_base_url` only admits http(s) URLs, which always have a path.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A list URL: `segments` plus `page_size`, `page_token`, `filter` and `order_by`
    /// query parameters. Listings ask for creation order, oldest first (`order_by =
    /// create_time`, a documented value; the default is newest first): with keyset paging
    /// it is stable while others create, and it reads a tenant in the order it was filled.
    fn list_url(
        &self,
        segments: &[&str],
        filter: Option<&str>,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Url {
        let mut url = self.url(segments);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page_size", &page_size.to_string());
            q.append_pair("order_by", "create_time");
            if let Some(token) = page_token {
                q.append_pair("page_token", token);
            }
            if let Some(filter) = filter {
                q.append_pair("filter", filter);
            }
        }
        url
    }

    fn call(&self, method: Method, url: Url) -> Call<'static> {
        Call {
            method,
            url,
            body: None,
            auth: true,
            idempotency_key: None,
            if_match: None,
            secret: None,
        }
    }

    /// Sends a call whose answer is an identity, filling `etag` from the header if needed.
    async fn identity(&self, call: Call<'_>) -> Result<wire::Identity> {
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let mut identity: wire::Identity = self.decode(&method, &path, &reply)?;
        if identity.etag.is_empty()
            && let Some(etag) = reply.headers.get(ETAG).and_then(|v| v.to_str().ok())
        {
            identity.etag = etag.to_string();
        }
        Ok(identity)
    }

    fn decode<T: DeserializeOwned>(&self, method: &Method, path: &str, reply: &Reply) -> Result<T> {
        serde_json::from_slice(&reply.body).map_err(|e| Error::Decode {
            method: method.to_string(),
            path: path.to_string(),
            message: self.with_secrets(None, |known| error::mask(&e.to_string(), known)),
        })
    }

    /// Decodes a response that carries a secret shown once (a client secret, an API key).
    /// serde's messages can quote the offending value, and here that value could be the
    /// secret itself, which is not known yet and so cannot be masked: the error keeps only
    /// the position.
    fn decode_secret_bearing<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        reply: &Reply,
    ) -> Result<T> {
        serde_json::from_slice(&reply.body).map_err(|e| Error::Decode {
            method: method.to_string(),
            path: path.to_string(),
            message: format!(
                "the response does not have the expected shape (line {}, column {}; the \
                 details are withheld because the response carries a secret)",
                e.line(),
                e.column()
            ),
        })
    }

    /// Sends a call and decodes its 2xx body as `T`, returning the headers too.
    async fn fetch<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<(T, HeaderMap)> {
        let method = call.method.clone();
        let path = call.url.path().to_string();
        let reply = self.send(call).await?;
        let value = self.decode(&method, &path, &reply)?;
        Ok((value, reply.headers))
    }

    /// Remembers a secret received from a create, so later text can mask it.
    fn remember_secret(&self, secret: &str) {
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
    fn with_secrets<R>(&self, extra: Option<&str>, f: impl FnOnce(&[&str]) -> R) -> R {
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

    /// Sends `call`, retrying transient failures per [`retry`]. Returns the 2xx reply, or the
    /// last failure once it is not retryable or the attempts are used up.
    ///
    /// A server that does not answer (transport failures, 502/503/504) is retried until it has
    /// been silent for `give_up_after`, however many attempts that takes; then the client
    /// gives up for good ([`Error::Unreachable`]). Failures waiting cannot fix (DNS, TLS)
    /// give up at once.
    async fn send(&self, call: Call<'_>) -> Result<Reply> {
        let inner = &self.inner;
        let method = call.method.as_str().to_string();
        let path = call.url.path().to_string();
        let headers = self.headers(&call)?;
        let replay_safe = call.method == Method::GET || call.idempotency_key.is_some();
        let give_up = inner.options.give_up_after.max(Duration::from_millis(1));
        let mut backoff = inner.policy.backoff();
        let mut last_delay = retry::BASE_DELAY;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(outage) = self.outage() {
                return Err(Error::Unreachable(outage));
            }
            // First tries and retries alike wait for the pacer, so the caller's rate holds.
            inner.pacer.wait().await;
            if let Some(outage) = self.outage() {
                return Err(Error::Unreachable(outage));
            }
            let sent = Instant::now();
            // No attempt outlives the give-up time: a server that accepts connections and
            // never answers must not hold a request for longer than one that refuses them.
            let budget = give_up.saturating_sub(self.watch().silence(sent, sent));
            let timeout = inner
                .options
                .timeout
                .min(budget)
                .max(Duration::from_millis(100));
            let mut request = inner
                .http
                .request(call.method.clone(), call.url.clone())
                .headers(headers.clone())
                .timeout(timeout);
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            inner.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self
                .while_waiting(sent, async {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = response.bytes().await?.to_vec();
                    Ok::<_, reqwest::Error>((status, headers, body))
                })
                .await;
            let elapsed = sent.elapsed().as_millis();

            // Either return, or work out why and how long to wait before the next attempt.
            let (failure, outcome_text, why, retry_after, silent) = match outcome {
                Ok((status, headers, body)) => {
                    let hint = self.record_rate_limit(&headers);
                    let gateway = matches!(status, 502..=504);
                    if !gateway {
                        self.answered();
                    }
                    if status == 429 {
                        inner.throttled.fetch_add(1, Ordering::Relaxed);
                        self.trace_pace(inner.pacer.throttled(true, sent));
                    } else if !gateway {
                        inner.pacer.admitted();
                        if hint.is_some_and(|h| h.remaining == Some(0)) {
                            self.trace_pace(inner.pacer.throttled(false, sent));
                        }
                    }
                    if (200..300).contains(&status) {
                        self.trace(format_args!(
                            "{method} {path} → {status} (attempt {attempt}, {elapsed} ms)"
                        ));
                        return Ok(Reply { headers, body });
                    }
                    let request_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
                    let err = self.with_secrets(call.secret, |known| {
                        error::decode_api_error(&method, &path, status, &body, request_id, known)
                    });
                    if !retry::status_is_retryable(status, replay_safe) {
                        self.trace(format_args!(
                            "{method} {path} → {status} (attempt {attempt}, {elapsed} ms)"
                        ));
                        return Err(err);
                    }
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    let why = format!("{}, ", status_reason(status));
                    let silent = gateway.then(|| {
                        (
                            self.failed_attempt(sent),
                            format!("{status} {}", status_reason(status)),
                        )
                    });
                    (err, status.to_string(), why, retry_after, silent)
                }
                Err(mut source) => {
                    // Filter values in the query stay out of error messages.
                    if let Some(url) = source.url_mut() {
                        url.set_query(None);
                    }
                    let reason = retry::transport_reason(&source);
                    let cause = if source.is_timeout() {
                        format!("no response within {} s", seconds(timeout))
                    } else {
                        retry::transport_cause(&source)
                    };
                    let err = Error::Transport {
                        method: method.clone(),
                        path: path.clone(),
                        source,
                    };
                    let Some(reason) = reason else {
                        self.trace(format_args!(
                            "{method} {path} → failed (attempt {attempt}, {elapsed} ms)"
                        ));
                        // Waiting does not fix DNS or TLS: every later request would meet
                        // the same failure.
                        return Err(self.give_up(cause, Duration::ZERO));
                    };
                    let silent = (self.failed_attempt(sent), cause);
                    (err, reason.to_string(), String::new(), None, Some(silent))
                }
            };
            let delay = match (backoff.next(), &silent) {
                (Some(delay), _) => delay,
                // A silent server is bounded by time, not by attempts.
                (None, Some(_)) => last_delay,
                (None, None) => {
                    self.trace(format_args!(
                        "{method} {path} → {outcome_text} (attempt {attempt}, {elapsed} ms); \
                         giving up after {attempt} attempts"
                    ));
                    return Err(failure);
                }
            };
            last_delay = delay;
            let mut wait = inner.policy.wait(delay, retry_after);
            if let Some((silent, cause)) = &silent {
                if *silent >= give_up {
                    self.trace(format_args!(
                        "{method} {path} → {outcome_text} (attempt {attempt}, {elapsed} ms); \
                         no answer for {} s, giving up",
                        seconds(*silent)
                    ));
                    return Err(self.give_up(cause.clone(), *silent));
                }
                self.notice(*silent, Some(cause));
                // Wake in time to give up on schedule.
                wait = wait.min(give_up.checked_sub(*silent).unwrap() + Duration::from_millis(10));
            }
            let after = match retry_after {
                Some(d) => format!(", Retry-After {} ms", d.as_millis()),
                None => String::new(),
            };
            self.trace(format_args!(
                "{method} {path} → {outcome_text} (attempt {attempt}, {elapsed} ms); {why}\
                 retrying in {} ms{after}",
                wait.as_millis()
            ));
            inner.retries.fetch_add(1, Ordering::Relaxed);
            // Counted while asleep, so a caller's concurrency control can tell a request
            // waiting out a 429 from one the server is working on. A request waiting for a
            // silent server is not counted: it keeps its place, so an outage does not draw
            // ever more requests into the retry loop.
            let throttled = silent.is_none();
            if throttled {
                inner.waiting.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(wait).await;
            if throttled {
                inner.waiting.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, Watch> {
        self.inner
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The server answered: it is not silent.
    fn answered(&self) {
        let mut w = self.watch();
        w.last_answer = Some(Instant::now());
        w.failing_since = None;
    }

    /// An attempt sent at `sent` got no answer: returns how long the server has been silent.
    fn failed_attempt(&self, sent: Instant) -> Duration {
        let now = Instant::now();
        let mut w = self.watch();
        w.failing_since = Some(w.failing_since.map_or(sent, |f| f.min(sent)));
        w.silence(sent, now)
    }

    /// Gives up on the server for good; the first cause recorded is the one reported.
    fn give_up(&self, cause: String, silent: Duration) -> Error {
        let url = self.inner.base.as_str().trim_end_matches('/').to_string();
        let outage = self
            .watch()
            .outage
            .get_or_insert(Outage { url, cause, silent })
            .clone();
        Error::Unreachable(outage)
    }

    /// Runs an attempt, saying on stderr that the client is waiting when the server has not
    /// answered anything for a while.
    async fn while_waiting<T>(&self, sent: Instant, attempt: impl Future<Output = T>) -> T {
        let every = self.notice_every();
        let attempt = std::pin::pin!(attempt);
        let mut attempt = attempt;
        loop {
            if let Ok(out) = tokio::time::timeout(every, attempt.as_mut()).await {
                return out;
            } else {
                let silent = self.watch().silence(sent, Instant::now());
                self.notice(silent, None);
            }
        }
    }

    /// How often to say that the client is waiting: about six times before giving up, at
    /// most every [`NOTICE_EVERY`].
    fn notice_every(&self) -> Duration {
        (self.inner.options.give_up_after / 6).clamp(Duration::from_secs(1), NOTICE_EVERY)
    }

    /// One "waiting for …" line, at most one per [`Client::notice_every`] across all
    /// requests.
    fn notice(&self, silent: Duration, cause: Option<&str>) {
        let every = self.notice_every();
        if silent < every {
            return;
        }
        let now = Instant::now();
        {
            let mut w = self.watch();
            if w.outage.is_some() || w.last_notice.is_some_and(|t| now.duration_since(t) < every) {
                return;
            }
            w.last_notice = Some(now);
        }
        let cause = cause.map(|c| format!(": {c}")).unwrap_or_default();
        self.inner.options.notices.line(&format!(
            "waiting for {} (no answer for {} s{cause}; giving up after {} s)",
            self.inner.base.as_str().trim_end_matches('/'),
            seconds(silent),
            seconds(self.inner.options.give_up_after)
        ));
    }

    fn trace_pace(&self, change: Option<PaceChange>) {
        match change {
            Some(PaceChange::Started(rate)) => {
                self.trace(format_args!("rate limited: pacing at {rate:.1}/s"));
            }
            Some(PaceChange::Cut(rate)) => {
                self.trace(format_args!("rate limited: pace cut to {rate:.1}/s"));
            }
            None => {}
        }
    }

    /// The headers of one call (the same on every attempt).
    fn headers(&self, call: &Call<'_>) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if call.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if call.auth {
            headers.insert(AUTHORIZATION, self.inner.authorization.clone());
        }
        if let Some(key) = call.idempotency_key {
            let value = HeaderValue::from_str(key).map_err(|_| Error::InvalidArgument {
                name: "Idempotency-Key",
                reason: "not a valid HTTP header value",
            })?;
            headers.insert(IDEMPOTENCY_KEY, value);
        }
        if let Some(etag) = call.if_match {
            let value = HeaderValue::from_str(etag).map_err(|_| Error::InvalidArgument {
                name: "If-Match",
                reason: "not a valid HTTP header value",
            })?;
            headers.insert(IF_MATCH, value);
        }
        Ok(headers)
    }

    fn record_rate_limit(&self, headers: &HeaderMap) -> Option<RateLimitHint> {
        let number = |name: &HeaderName| {
            let text = headers.get(name)?.to_str().ok()?.trim();
            // Tolerate the IETF draft form `100, 100;w=60`: the leading number is the value.
            let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        };
        let limit = number(&RATE_LIMIT_LIMIT);
        let remaining = number(&RATE_LIMIT_REMAINING);
        let reset = number(&RATE_LIMIT_RESET);
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return None;
        }
        let hint = RateLimitHint {
            limit,
            remaining,
            reset,
            observed_at: Instant::now(),
        };
        *self
            .inner
            .rate_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hint);
        Some(hint)
    }

    fn trace(&self, line: fmt::Arguments<'_>) {
        if self.inner.options.trace.is_on() {
            let mut line = format!("avnology: {line}");
            // Lines are built from the method, our own URL path and timings, never from a
            // server's text, so a secret could only arrive through an id in the path. Masking
            // is a second line of defence, done only when a key or secret prefix is present
            // so that verbose runs stay cheap with thousands of remembered secrets.
            if SECRET_PREFIXES.iter().any(|p| line.contains(p)) {
                line = self.with_secrets(None, |known| error::mask(&line, known));
            }
            self.inner.options.trace.line(&line);
        }
    }
}

impl Call<'_> {
    /// Attaches a JSON body. An encoding failure names the call but never the body.
    fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|_| Error::Decode {
            method: self.method.to_string(),
            path: self.url.path().to_string(),
            message: "could not encode the request body".into(),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// Whole seconds, for messages (at least 1 for anything above zero).
fn seconds(d: Duration) -> u64 {
    let secs = d.as_secs_f64().round() as u64;
    if secs == 0 && !d.is_zero() { 1 } else { secs }
}

/// `external_id = "…"`, and `organization_id = "…"` when one is given.
fn external_id_filter(organization_id: Option<&str>, external_id: &str) -> String {
    match organization_id {
        Some(org) => filter::all_equal(&[("external_id", external_id), ("organization_id", org)]),
        None => filter::all_equal(&[("external_id", external_id)]),
    }
}

/// The object among `items` with this `external_id` (and organization, if given); without
/// an organization, one outside any organization wins over the first match. `key` reads an
/// object's `(external_id, organization_id)`.
fn pick_by_external_id<T>(
    items: Vec<T>,
    organization_id: Option<&str>,
    external_id: &str,
    key: impl Fn(&T) -> (Option<&str>, Option<&str>),
) -> Option<T> {
    let mut matches: Vec<T> = items
        .into_iter()
        .filter(|item| {
            let (ext, org) = key(item);
            ext == Some(external_id) && organization_id.is_none_or(|want| org == Some(want))
        })
        .collect();
    if organization_id.is_none()
        && let Some(pos) = matches.iter().position(|item| key(item).1.is_none())
    {
        return Some(matches.swap_remove(pos));
    }
    matches.into_iter().next()
}

/// Fills an empty body `etag` from the `ETag` header.
fn fill_etag(etag: &mut String, headers: &HeaderMap) {
    if etag.is_empty()
        && let Some(tag) = headers.get(ETAG).and_then(|v| v.to_str().ok())
    {
        *etag = tag.to_string();
    }
}

/// The token of the next page, `None` at the end; a token seen before is an error, because
/// a server that hands one back twice would make the listing loop forever.
/// Pages through a listing: `list` fetches the page after a token, `split` takes a page
/// apart into its items and the next token, and `f` sees every item. Returns how many.
async fn for_each_page<T, P>(
    path: &str,
    mut list: impl AsyncFnMut(Option<String>) -> Result<P>,
    split: impl Fn(P) -> (Vec<T>, Option<String>),
    mut f: impl FnMut(T),
) -> Result<u64> {
    let mut token: Option<String> = None;
    let mut seen = HashSet::new();
    let mut count = 0u64;
    loop {
        let (items, next) = split(list(token.take()).await?);
        for item in items {
            count += 1;
            f(item);
        }
        match next_page(&mut seen, next, path)? {
            None => return Ok(count),
            Some(next) => token = Some(next),
        }
    }
}

/// The next page token, or `None` at the end; a token handed back twice would page forever,
/// so it is an error.
fn next_page(
    seen: &mut HashSet<String>,
    next: Option<String>,
    path: &str,
) -> Result<Option<String>> {
    match next.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(token) if seen.insert(token.clone()) => Ok(Some(token)),
        Some(_) => Err(Error::Decode {
            method: "GET".into(),
            path: path.into(),
            message: "the server repeated a page token; stopping the listing".into(),
        }),
    }
}

/// Why a status is being retried, for the trace.
fn status_reason(status: u16) -> &'static str {
    match status {
        429 => "rate limited",
        500 => "server error on a replay-safe request",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        _ => "transient",
    }
}

/// An object id as a path segment. Empty and dot-segment ids are refused: the URL library
/// would drop them and the call would silently hit the collection instead.
fn id_segment(id: &str) -> Result<&str> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(Error::InvalidArgument {
            name: "object id",
            reason: "empty or a dot segment",
        });
    }
    Ok(id)
}

/// Validates the API base URL against the policy in [`Client::new`].
fn parse_base_url(input: &str) -> Result<Url> {
    let input = input.trim();
    let mut url = Url::parse(input).map_err(|e| Error::InvalidUrl {
        url: input.chars().take(200).collect(),
        reason: e.to_string(),
    })?;
    let has_credentials = !url.username().is_empty() || url.password().is_some();
    if has_credentials {
        // Never echo a password someone put in the URL.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    let shown = url.to_string();
    let invalid = |reason: &str| Error::InvalidUrl {
        url: shown.clone(),
        reason: reason.to_string(),
    };
    if has_credentials {
        return Err(invalid(
            "it must not contain credentials; the key comes from AVNOLOGY_SECRET_KEY",
        ));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(&format!(
            "unsupported scheme `{}`; use https://",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not contain a query or a fragment"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(Error::InsecureUrl { url: shown });
    }
    Ok(url)
}

/// 127.0.0.0/8, `::1` or `localhost`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> wire::ApiKey {
        wire::ApiKey::new("ak_test_supersecretvalue")
    }

    fn client(url: &str) -> Result<Client> {
        Client::new(url, key(), ClientOptions::default())
    }

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://api-id.avnology.net",
            "https://api-id.avnology.net/",
            "https://example.com:8443/prefix/",
            "http://127.0.0.1:8787",
            "http://127.3.4.5",
            "http://[::1]:9000/",
            "http://localhost:8787",
            "http://LOCALHOST",
        ] {
            assert!(client(ok).is_ok(), "{ok}: {:?}", client(ok).err());
        }
        for insecure in [
            "http://api-id.avnology.net",
            "http://10.0.0.1:80",
            "http://[::2]/",
            "http://localhost.evil.com",
        ] {
            assert!(
                matches!(client(insecure), Err(Error::InsecureUrl { .. })),
                "{insecure}"
            );
        }
        for invalid in [
            "",
            "api-id.avnology.net",
            "ftp://api-id.avnology.net",
            "https://api-id.avnology.net/?x=1",
            "https://api-id.avnology.net/#frag",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(client(invalid), Err(Error::InvalidUrl { .. })),
                "{invalid}"
            );
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_not_echoed() {
        let err = client("https://user:hunter22@api-id.avnology.net").unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
        assert!(!err.to_string().contains("hunter22"), "{err}");
        assert!(!format!("{err:?}").contains("hunter22"));
    }

    #[test]
    fn a_key_with_a_newline_is_refused() {
        let err = Client::new(
            "https://a.example",
            wire::ApiKey::new("ak_x\n"),
            ClientOptions::default(),
        );
        assert!(matches!(err, Err(Error::InvalidApiKey)));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = client("https://api-id.avnology.net").unwrap();
        let text = format!("{c:?} {:#?}", c.clone());
        assert!(!text.contains("supersecretvalue"), "{text}");
        assert!(text.contains("(sensitive)"));
        assert!(text.contains("api-id.avnology.net"));
    }

    #[test]
    fn urls_are_built_from_encoded_segments() {
        let c = client("https://example.com/prefix/").unwrap();
        let u = c.url(&["v1", "identities", "usr_1:deactivate"]);
        assert_eq!(
            u.as_str(),
            "https://example.com/prefix/v1/identities/usr_1:deactivate"
        );
        let u = c.url(&["v1", "identities", "a/b?c#d"]);
        assert_eq!(u.path(), "/prefix/v1/identities/a%2Fb%3Fc%23d");
        let c = client("https://example.com").unwrap();
        assert_eq!(
            c.url(&["v1", "identities"]).as_str(),
            "https://example.com/v1/identities"
        );
        assert!(id_segment("..").is_err());
        assert!(id_segment("").is_err());
    }

    #[test]
    fn filters_escape_quotes_and_backslashes() {
        assert_eq!(
            filter::all_equal(&[
                ("external_id", r#"auth0|a"b\c"#),
                ("organization_id", "org_1")
            ]),
            r#"external_id = "auth0|a\"b\\c" AND organization_id = "org_1""#
        );
    }

    #[test]
    fn rate_limit_headers_are_recorded() {
        let c = client("http://127.0.0.1:1").unwrap();
        assert_eq!(c.rate_limit_hint(), None);
        let mut h = HeaderMap::new();
        h.insert(RATE_LIMIT_LIMIT, HeaderValue::from_static("50"));
        h.insert(RATE_LIMIT_REMAINING, HeaderValue::from_static("7, 7;w=1"));
        h.insert(RATE_LIMIT_RESET, HeaderValue::from_static("2"));
        c.record_rate_limit(&h);
        let hint = c.clone().rate_limit_hint().unwrap();
        assert_eq!(
            (hint.limit, hint.remaining, hint.reset),
            (Some(50), Some(7), Some(2))
        );
        assert_eq!(hint.reset_after(), Some(Duration::from_secs(2)));
        c.record_rate_limit(&HeaderMap::new());
        assert!(
            c.rate_limit_hint().is_some(),
            "a response without the headers keeps the last hint"
        );
    }

    #[test]
    fn options_default() {
        let o = ClientOptions::default();
        assert_eq!(
            (
                o.trace.is_on(),
                o.notices.is_on(),
                o.max_attempts,
                o.timeout,
                o.fast_retry
            ),
            (false, true, 8, Duration::from_secs(30), false)
        );
    }

    // ----- the retry loop against a scripted loopback server ----------------------------

    /// A request as the fake server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    /// A canned answer: status, headers, body.
    type Answer = (u16, Vec<(&'static str, String)>, String);

    /// Canned answers, served in order (the last one repeats), and what was asked.
    #[derive(Default)]
    struct Script {
        answers: Vec<Answer>,
        seen: Vec<Seen>,
    }

    type Shared = Arc<Mutex<Script>>;

    async fn fake(answers: Vec<Answer>) -> (String, Shared) {
        use axum::response::IntoResponse;
        let script: Shared = Arc::new(Mutex::new(Script {
            answers,
            seen: vec![],
        }));
        let state = script.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let state = state.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
                let mut s = state.lock().unwrap();
                s.seen.push(Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.to_string(),
                    headers: parts.headers.clone(),
                    body,
                });
                let n = s.seen.len() - 1;
                let (status, headers, body) = s.answers[n.min(s.answers.len() - 1)].clone();
                let mut resp =
                    (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
                for (k, v) in headers {
                    resp.headers_mut().insert(k, v.parse().unwrap());
                }
                resp
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, script)
    }

    fn fast(url: &str) -> Client {
        let options = ClientOptions {
            fast_retry: true,
            max_attempts: 4,
            ..Default::default()
        };
        Client::new(url, key(), options).unwrap()
    }

    fn identity_json(id: &str, etag: &str) -> String {
        serde_json::json!({"id": id, "email": "a@example.com", "external_id": "x|1", "etag": etag})
            .to_string()
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    fn json_header() -> Vec<(&'static str, String)> {
        vec![(JSON.0, JSON.1.to_string())]
    }

    #[tokio::test]
    async fn transient_statuses_are_retried_then_succeed() {
        let (url, script) = fake(vec![
            (503, vec![], "down".into()),
            (502, vec![], String::new()),
            (200, json_header(), identity_json("usr_1", "W/\"e1\"")),
        ])
        .await;
        let c = fast(&url);
        let got = c.get_identity("usr_1").await.unwrap();
        assert_eq!(got.etag, "W/\"e1\"");
        assert_eq!(
            c.stats(),
            ClientStats {
                requests: 3,
                retries: 2,
                throttled: 0,
                waiting: 0,
            }
        );
        assert_eq!(script.lock().unwrap().seen.len(), 3);
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_the_last_error_is_returned() {
        let (url, script) = fake(vec![(
            500,
            json_header(),
            r#"{"error":{"code":"AVNOLOGY_AUTH_500","message":"oops","request_id":"req_9"}}"#
                .into(),
        )])
        .await;
        let c = fast(&url);
        let err = c.get_identity("usr_1").await.unwrap_err();
        assert_eq!(err.status(), Some(500), "{err}");
        assert!(err.is_retryable());
        assert_eq!(script.lock().unwrap().seen.len(), 4);
        assert_eq!(c.outage(), None, "a server that answers is not gone");
    }

    /// 502/503/504 only are a gateway whose backend is gone: retried past the attempt count,
    /// until the give-up time.
    #[tokio::test]
    async fn gateway_errors_are_retried_until_the_give_up_time() {
        let (url, script) = fake(vec![(504, vec![], "gateway timeout".into())]).await;
        let options = ClientOptions {
            fast_retry: true,
            max_attempts: 2,
            give_up_after: Duration::from_millis(300),
            ..Default::default()
        };
        let c = Client::new(&url, key(), options).unwrap();
        let started = Instant::now();
        let err = c.get_identity("usr_1").await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        let Error::Unreachable(outage) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(outage.cause, "504 gateway timeout");
        assert!(
            script.lock().unwrap().seen.len() > 2,
            "past the attempt count"
        );
        assert!(err.to_string().contains("has not answered for"), "{err}");
        // From now on every request fails at once, without reaching the server.
        let seen = script.lock().unwrap().seen.len();
        let err = c.get_identity("usr_2").await.unwrap_err();
        assert!(matches!(err, Error::Unreachable(_)), "{err:?}");
        assert_eq!(script.lock().unwrap().seen.len(), seen);
    }

    /// A server that accepts connections and never answers: each attempt is cut at the
    /// give-up time, and the client gives up naming the timeout.
    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let options = ClientOptions {
            give_up_after: Duration::from_millis(400),
            ..Default::default()
        };
        let c = Client::new(&url, key(), options).unwrap();
        let started = Instant::now();
        let err = c.list_identities(None, 1, None).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        let Error::Unreachable(outage) = &err else {
            panic!("{err:?}")
        };
        assert!(outage.cause.starts_with("no response within"), "{outage:?}");
    }

    #[tokio::test]
    async fn a_500_is_retried_only_when_replay_is_safe() {
        let req = wire::CreateIdentityRequest {
            identity: wire::IdentityInput {
                email: Some("a@example.com".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let answers = vec![
            (500, vec![], "boom".to_string()),
            (201, json_header(), identity_json("usr_2", "e")),
        ];

        let (url, script) = fake(answers.clone()).await;
        let err = fast(&url).create_identity(&req, None).await.unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert_eq!(
            script.lock().unwrap().seen.len(),
            1,
            "a plain POST is never replayed after a 500"
        );

        let (url, script) = fake(answers).await;
        let got = fast(&url)
            .create_identity(&req, Some("idem-1"))
            .await
            .unwrap();
        assert_eq!(got.id, "usr_2");
        let seen = script.lock().unwrap().seen.clone();
        assert_eq!(seen.len(), 2);
        assert!(
            seen.iter()
                .all(|s| s.headers["idempotency-key"] == "idem-1")
        );
        assert_eq!(seen[0].body, seen[1].body, "the replay sends the same body");
    }

    #[tokio::test]
    async fn other_4xx_are_not_retried() {
        let (url, script) = fake(vec![(
            409,
            json_header(),
            r#"{"error":{"code":"AVNOLOGY_AUTH_903","message":"etag mismatch","request_id":"req_1"}}"#.into(),
        )])
        .await;
        let req = wire::UpdateIdentityRequest {
            update_mask: "first_name".into(),
            ..Default::default()
        };
        let err = fast(&url)
            .update_identity("usr_1", &req, Some("W/\"old\""))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(
            err.to_string(),
            "Avnology API answered 409 AVNOLOGY_AUTH_903 to PATCH /v1/identities/usr_1: etag mismatch \
             (request req_1)"
        );
        let seen = script.lock().unwrap().seen.clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].headers["if-match"], "W/\"old\"");
    }

    #[tokio::test]
    async fn rate_limits_are_counted_honoured_and_recorded() {
        let limited = vec![
            ("retry-after", "1".to_string()),
            ("x-ratelimit-limit", "10".to_string()),
            ("x-ratelimit-remaining", "0".to_string()),
            ("x-ratelimit-reset", "1".to_string()),
        ];
        let page = r#"{"identities":[],"next_page_token":""}"#.to_string();
        let (url, _script) = fake(vec![
            (429, limited.clone(), String::new()),
            (200, json_header(), page.clone()),
        ])
        .await;
        let started = Instant::now();
        let c = fast(&url);
        c.list_identities(None, 10, None).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "fast mode caps Retry-After"
        );
        assert_eq!(
            c.stats(),
            ClientStats {
                requests: 2,
                retries: 1,
                throttled: 1,
                waiting: 0,
            }
        );
        let hint = c.rate_limit_hint().unwrap();
        assert_eq!((hint.limit, hint.remaining), (Some(10), Some(0)));

        // Without fast mode, Retry-After is the minimum wait.
        let (url, _script) = fake(vec![
            (429, limited, String::new()),
            (200, json_header(), page),
        ])
        .await;
        let c = Client::new(&url, key(), ClientOptions::default()).unwrap();
        let started = Instant::now();
        c.list_identities(None, 10, None).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(990),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn headers_and_paths_are_what_the_api_expects() {
        let (url, script) = fake(vec![(200, json_header(), identity_json("usr_1", ""))]).await;
        let c = fast(&url);
        let got = c
            .deactivate_identity("usr_1", Some("W/\"e\""))
            .await
            .unwrap();
        assert_eq!(got.id, "usr_1");
        let filter = super::filter::all_equal(&[("external_id", "auth0|1")]);
        let _ = c.list_identities(Some(&filter), 100, Some("tok")).await;
        let seen = script.lock().unwrap().seen.clone();
        let first = &seen[0];
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("POST", "/v1/identities/usr_1:deactivate")
        );
        assert_eq!(
            first.headers["authorization"],
            "Bearer ak_test_supersecretvalue"
        );
        assert_eq!(first.headers["content-type"], "application/json");
        assert_eq!(first.headers["user-agent"], USER_AGENT);
        assert_eq!(first.headers["if-match"], "W/\"e\"");
        assert!(!first.headers.contains_key("idempotency-key"));
        assert_eq!(first.body, b"{}");
        let q: Vec<(String, String)> = Url::parse(&format!("http://x{}", seen[1].path))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert!(
            q.contains(&("filter".into(), r#"external_id = "auth0|1""#.into())),
            "{q:?}"
        );
        assert!(q.contains(&("page_size".into(), "100".into())));
        assert!(q.contains(&("page_token".into(), "tok".into())));
        assert!(!seen[1].headers.contains_key("content-type"));
    }

    #[tokio::test]
    async fn the_etag_header_fills_a_missing_body_etag() {
        let mut headers = json_header();
        headers.push(("etag", "W/\"from-header\"".into()));
        let (url, _script) = fake(vec![(200, headers, identity_json("usr_1", ""))]).await;
        let got = fast(&url).get_identity("usr_1").await.unwrap();
        assert_eq!(got.etag, "W/\"from-header\"");
    }

    #[tokio::test]
    async fn login_sends_no_key_and_maps_rejections() {
        let (url, script) = fake(vec![
            (200, json_header(), r#"{"id":"flow_1","expire_time":"2030-01-01T00:00:00Z"}"#.into()),
            (
                401,
                json_header(),
                r#"{"error":{"code":"AVNOLOGY_AUTH_001","message":"wrong password","request_id":"r"}}"#.into(),
            ),
        ])
        .await;
        let outcome = fast(&url)
            .login("a@example.com", "hunter2hunter2")
            .await
            .unwrap();
        assert_eq!(
            outcome,
            LoginOutcome::Rejected {
                code: "AVNOLOGY_AUTH_001".into(),
                message: "wrong password".into()
            }
        );
        let seen = script.lock().unwrap().seen.clone();
        assert_eq!(seen[1].path, "/v1/flows/login/flow_1:submit");
        assert!(
            seen.iter()
                .all(|s| !s.headers.contains_key("authorization"))
        );
        let body: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
        assert_eq!(body["method"], "password");
    }

    #[tokio::test]
    async fn paging_follows_tokens_and_stops_on_a_repeat() {
        let page = |ids: &[&str], next: &str| {
            let identities: Vec<_> = ids
                .iter()
                .map(|id| {
                    serde_json::from_str::<serde_json::Value>(&identity_json(id, "e")).unwrap()
                })
                .collect();
            serde_json::json!({"identities": identities, "next_page_token": next}).to_string()
        };
        let (url, _s) = fake(vec![
            (200, json_header(), page(&["usr_1", "usr_2"], "t1")),
            (200, json_header(), page(&["usr_3"], "")),
        ])
        .await;
        let mut ids = vec![];
        let n = fast(&url)
            .for_each_identity(None, |i| ids.push(i.id))
            .await
            .unwrap();
        assert_eq!(
            (n, ids),
            (3, vec!["usr_1".to_string(), "usr_2".into(), "usr_3".into()])
        );

        let (url, _s) = fake(vec![(200, json_header(), page(&["usr_1"], "same"))]).await;
        let err = fast(&url)
            .for_each_identity(None, |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }

    #[tokio::test]
    async fn transport_errors_are_retried_then_reported_without_the_query() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (trace, traced) = Trace::collect();
        let options = ClientOptions {
            trace,
            fast_retry: true,
            max_attempts: 4,
            give_up_after: Duration::from_millis(300),
            ..Default::default()
        };
        let c = Client::new(&format!("http://127.0.0.1:{port}"), key(), options).unwrap();
        let err = c
            .list_identities(Some(r#"email = "x@y.z""#), 1, None)
            .await
            .unwrap_err();
        // Refused connections are retried until the server has been silent for the
        // give-up time, however many attempts that takes.
        let Error::Unreachable(outage) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(outage.cause, "connection refused");
        assert_eq!(outage.url, format!("http://127.0.0.1:{port}"));
        assert!(!err.is_retryable());
        assert!(c.stats().requests > 4, "{:?}", c.stats());
        let lines = traced.lock().unwrap().clone();
        assert!(
            lines[0].starts_with("avnology: GET /v1/identities → connection refused (attempt 1, ")
                && lines[0].contains("); retrying in "),
            "{lines:?}"
        );
        assert!(
            lines.last().unwrap().ends_with(" s, giving up"),
            "{lines:?}"
        );
        let chain = format!("{:?} {}", anyhow::Error::from(err), "");
        assert!(
            !chain.contains("x@y.z") && !chain.contains("filter"),
            "{chain}"
        );
    }

    #[tokio::test]
    async fn verbose_traces_each_attempt_without_secrets() {
        let (url, _script) = fake(vec![
            (429, vec![("retry-after", "1".to_string())], String::new()),
            (201, json_header(), identity_json("usr_1", "e")),
        ])
        .await;
        let (trace, traced) = Trace::collect();
        let options = ClientOptions {
            trace,
            fast_retry: true,
            ..Default::default()
        };
        let c = Client::new(&url, key(), options).unwrap();
        let mut req = wire::CreateIdentityRequest::default();
        req.identity.email = Some("secret-body@example.com".into());
        c.create_identity(&req, Some("idem")).await.unwrap();
        let mut lines = traced.lock().unwrap().clone();
        // The pacer's decision comes first, the moment the 429 arrives.
        assert_eq!(lines.remove(0), "avnology: rate limited: pacing at 10.0/s");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("avnology: POST /v1/identities → 429 (attempt 1, ")
                && lines[0].contains("rate limited, retrying in ")
                && lines[0].ends_with("Retry-After 1000 ms"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("avnology: POST /v1/identities → 201 (attempt 2, "),
            "{lines:?}"
        );
        let all = lines.join("\n");
        assert!(
            !all.contains("supersecretvalue")
                && !all.contains("secret-body")
                && !all.contains("idem")
        );

        assert!(
            !ClientOptions::default().trace.is_on(),
            "quiet unless asked"
        );
    }

    // ----- OAuth clients, service accounts, API keys ------------------------------------

    const SECRET: &str = "cs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";

    fn created_client_json() -> String {
        serde_json::json!({
            "client": {
                "client_id": "cli_1", "client_name": "n", "client_type": "confidential",
                "token_endpoint_auth_method": "client_secret_post", "etag": ""
            },
            "client_secret": SECRET,
        })
        .to_string()
    }

    #[tokio::test]
    async fn minted_secrets_are_masked_in_later_errors_and_traces() {
        let mut created_headers = json_header();
        created_headers.push(("etag", "W/\"c1\"".into()));
        let echo = format!(
            r#"{{"error":{{"code":"AVNOLOGY_AUTH_902","message":"bad {SECRET}","request_id":"r","details":{{"field":"{SECRET}"}}}}}}"#
        );
        let (url, script) = fake(vec![
            (201, created_headers, created_client_json()),
            (400, json_header(), echo),
        ])
        .await;
        let (trace, traced) = Trace::collect();
        let options = ClientOptions {
            trace,
            fast_retry: true,
            ..Default::default()
        };
        let c = Client::new(&url, key(), options).unwrap();
        let created = c
            .create_oauth_client(&wire::CreateOAuthClientRequest::default(), Some("idem"))
            .await
            .unwrap();
        assert_eq!(created.client_secret.as_deref(), Some(SECRET));
        assert_eq!(created.client.etag, "W/\"c1\"", "filled from the header");
        assert!(!format!("{created:?}").contains(SECRET));
        let err = c.get_oauth_client("cli_1").await.unwrap_err();
        let shown = format!("{err} {err:?} {:?}", err.field());
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("(sensitive)"), "{shown}");
        // Even a secret passed where an id belongs stays out of the trace and the error.
        let err = c.get_oauth_client(SECRET).await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains(SECRET), "{err}");
        let lines = traced.lock().unwrap().join("\n");
        assert!(!lines.contains(SECRET), "{lines}");
        assert!(
            lines.contains("GET /v1/oauth-clients/(sensitive) → 400"),
            "{lines}"
        );
        let seen = script.lock().unwrap().seen.clone();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("POST", "/v1/oauth-clients")
        );
        assert_eq!(seen[0].headers["idempotency-key"], "idem");
        assert_eq!(seen[1].path, "/v1/oauth-clients/cli_1");
    }

    #[tokio::test]
    async fn a_malformed_secret_bearing_response_is_never_quoted() {
        let leak = "cs_LEAKEDSECRETVALUE";
        let body = format!(r#"{{"client": "{leak}"}}"#);
        let (url, _s) = fake(vec![(201, json_header(), body)]).await;
        let err = fast(&url)
            .create_oauth_client(&wire::CreateOAuthClientRequest::default(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(leak), "{err}");
        assert!(err.to_string().contains("withheld"), "{err}");

        let key_body = r#"{"id":"key_1","prefix":"ak_test_abcd...","name":"n","key":7}"#;
        let (url, _s) = fake(vec![(201, json_header(), key_body.into())]).await;
        let err = fast(&url)
            .create_api_key("sa_1", &wire::CreateApiKeyRequest::default(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn service_account_and_key_calls_use_the_documented_paths() {
        let key_json = serde_json::json!({
            "id": "key_1", "prefix": "ak_test_abcd...", "name": "ci", "scopes": [],
            "active": true, "create_time": "t",
            "key": "ak_test_mintedkeyvalue0000000000000000000000000000000000000000000000"
        })
        .to_string();
        let (url, script) = fake(vec![
            (201, json_header(), key_json),
            (200, json_header(), r#"{"keys":[]}"#.into()),
            (204, vec![], String::new()),
            (200, json_header(), r#"{"service_accounts":[]}"#.into()),
        ])
        .await;
        let c = fast(&url);
        let minted = c
            .create_api_key("sa_1", &wire::CreateApiKeyRequest::default(), Some("k1"))
            .await
            .unwrap();
        assert!(!format!("{minted:?}").contains("mintedkeyvalue"));
        assert!(
            c.with_secrets(None, |known| known.contains(&minted.key.as_str())),
            "a minted key is remembered for masking"
        );
        assert!(c.list_api_keys("sa_1").await.unwrap().is_empty());
        c.delete_api_key("sa_1", "key_1").await.unwrap();
        let found = c
            .find_service_account_by_external_id(Some("org_1"), "auth0|m2m")
            .await
            .unwrap();
        assert!(found.is_none());
        assert!(
            c.delete_api_key("sa_1", "").await.is_err(),
            "empty ids are refused"
        );
        let seen = script.lock().unwrap().seen.clone();
        let calls: Vec<(&str, String)> = seen
            .iter()
            .map(|s| {
                (
                    s.method.as_str(),
                    s.path.split('?').next().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            calls,
            [
                ("POST", "/v1/service-accounts/sa_1/keys".to_string()),
                ("GET", "/v1/service-accounts/sa_1/keys".into()),
                ("DELETE", "/v1/service-accounts/sa_1/keys/key_1".into()),
                ("GET", "/v1/service-accounts".into()),
            ]
        );
        assert_eq!(seen[0].headers["idempotency-key"], "k1");
        let q: Vec<(String, String)> = Url::parse(&format!("http://x{}", seen[3].path))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert!(
            q.contains(&(
                "filter".into(),
                r#"external_id = "auth0|m2m" AND organization_id = "org_1""#.into()
            )),
            "{q:?}"
        );
    }

    #[test]
    fn remembered_secrets_are_bounded() {
        let c = client("https://api-id.avnology.net").unwrap();
        for n in 0..MAX_REMEMBERED_SECRETS + 5 {
            c.remember_secret(&format!("cs_{n:08}"));
        }
        let known: Vec<String> = c.with_secrets(Some("pw"), |k| {
            k.iter().map(std::string::ToString::to_string).collect()
        });
        assert_eq!(known.len(), MAX_REMEMBERED_SECRETS + 2);
        assert_eq!(known[0], "ak_test_supersecretvalue");
        assert_eq!(known[1], "pw");
        assert!(
            !known.contains(&"cs_00000000".to_string()),
            "oldest forgotten"
        );
        assert!(known.contains(&format!("cs_{:08}", MAX_REMEMBERED_SECRETS + 4)));
    }

    #[test]
    fn external_id_matches_prefer_no_organization_without_one() {
        let items = vec![
            ("auth0|1", Some("org_a")),
            ("auth0|2", None),
            ("auth0|1", None),
        ];
        type Item = (&'static str, Option<&'static str>);
        fn key(i: &Item) -> (Option<&str>, Option<&str>) {
            (Some(i.0), i.1)
        }
        assert_eq!(
            pick_by_external_id(items.clone(), None, "auth0|1", key),
            Some(("auth0|1", None))
        );
        assert_eq!(
            pick_by_external_id(items.clone(), Some("org_a"), "auth0|1", key),
            Some(("auth0|1", Some("org_a")))
        );
        assert_eq!(
            pick_by_external_id(items.clone(), Some("org_b"), "auth0|1", key),
            None
        );
        assert_eq!(pick_by_external_id(items, None, "auth0|3", key), None);
    }
}
