//! How a [`super::Client`] behaves and what it reports: [`ClientOptions`], the counters
//! ([`ClientStats`]) and the rate-limit headers last seen ([`RateLimitHint`]).

use std::time::{Duration, Instant, SystemTime};

use crate::printer::Trace;

/// How long the server may go without answering before the client gives up.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// How a [`super::Client`] behaves.
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
    /// once with [`crate::live::Error::Unreachable`]. Default [`DEFAULT_GIVE_UP_AFTER`].
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
