//! Injected faults for reliability tests, all off by default.
//!
//! - [`rate_limit`] (every `/v1` route, before authentication, as a real gateway would): a
//!   token bucket; over it, 429 with `Retry-After`. While a limit is set every `/v1`
//!   response carries `X-RateLimit-Limit` (the bucket size), `X-RateLimit-Remaining` and
//!   `X-RateLimit-Reset` (seconds until the bucket is full again).
//! - [`inject`] (authenticated admin requests only, so login flows and auth failures are
//!   never faulted): latency, a dropped connection, a 503 before anything happens, a 500
//!   after a committed write, and a dropped connection after a committed write.
//!
//! One seeded `StdRng` decides every probabilistic fault, drawing only for faults that are
//! switched on, in a fixed order per request (drop, 5xx, then commit-fail and
//! drop-after-commit for successful writes), so the same seed and the same request sequence replay the same faults.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::AppState;
use super::config::{FaultConfig, RateLimit};
use super::conn::ConnHandle;
use super::error::ApiError;

/// A token bucket: `burst` tokens, refilled at `rps` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

/// What the bucket said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allowed {
        /// Whole tokens left.
        remaining: u64,
        /// Seconds until the bucket is full.
        reset: u64,
    },
    /// Over the limit.
    Limited {
        /// Seconds until one token is available (at least 1).
        retry_after: u64,
        /// Seconds until the bucket is full.
        reset: u64,
    },
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        let capacity = f64::from(limit.burst);
        Self {
            rate: limit.rps,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> Decision {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        let secs = |x: f64| {
            // Bounded: x is at most capacity / rate, both validated positive and finite.
            let ceil = x.max(0.0).ceil();
            if ceil >= u64::MAX as f64 {
                u64::MAX
            } else {
                ceil as u64
            }
        };
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Decision::Allowed {
                remaining: secs(self.tokens.floor()),
                reset: secs((self.capacity - self.tokens) / self.rate),
            }
        } else {
            Decision::Limited {
                retry_after: secs((1.0 - self.tokens) / self.rate).max(1),
                reset: secs((self.capacity - self.tokens) / self.rate),
            }
        }
    }

    /// The bucket size, for `X-RateLimit-Limit`.
    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity as u32)
    }
}

/// Runtime fault state: the configuration, the seeded RNG and the bucket.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    seed: u64,
    rng: Mutex<StdRng>,
    bucket: Option<Mutex<TokenBucket>>,
}

impl Faults {
    /// Builds the state; without a configured seed one is drawn from the OS.
    pub fn new(config: FaultConfig) -> Self {
        let seed = config.seed.unwrap_or_else(rand::random);
        Self {
            seed,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            bucket: config
                .rate_limit
                .map(|l| Mutex::new(TokenBucket::new(l, Instant::now()))),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// The seed in use, so a run can be replayed with `--seed`.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draws once when `p > 0`; `p == 0` draws nothing, so switching one fault off does not
    /// shift the others' sequence.
    fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rng.random_bool(p.min(1.0))
    }

    fn take_token(&self) -> Option<(Decision, u64)> {
        let bucket = self.bucket.as_ref()?;
        let mut b = bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some((b.take(Instant::now()), b.capacity()))
    }
}

fn set_rate_headers(headers: &mut HeaderMap, limit: u64, remaining: u64, reset: u64) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
}

/// Middleware over every `/v1` route: the token bucket.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some((decision, limit)) = state.faults().take_token() else {
        return next.run(req).await;
    };
    match decision {
        Decision::Allowed { remaining, reset } => {
            let mut resp = next.run(req).await;
            set_rate_headers(resp.headers_mut(), limit, remaining, reset);
            resp
        }
        Decision::Limited { retry_after, reset } => {
            let mut resp = ApiError::RateLimited { retry_after }.into_response();
            set_rate_headers(resp.headers_mut(), limit, 0, reset);
            resp
        }
    }
}

/// Middleware inside authentication on admin routes: latency, drop, 503, commit-fail.
pub async fn inject(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let faults = state.faults();
    let cfg = &faults.config;
    if !cfg.latency.is_zero() {
        tokio::time::sleep(cfg.latency).await;
    }
    let conn = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|ConnectInfo(conn)| conn.clone());
    if faults.roll(cfg.fault_drop) {
        return drop_connection(conn.as_ref(), "--fault-drop");
    }
    if faults.roll(cfg.fault_5xx) {
        return ApiError::Unavailable.into_response();
    }
    let write = req.method() != Method::GET && req.method() != Method::HEAD;
    // Method and path (never the query) for the line that reports a drop after commit.
    let route = (write && cfg.fault_drop_after_commit > 0.0 && state.log_requests())
        .then(|| format!("{} {}", req.method(), req.uri().path()));
    let resp = next.run(req).await;
    if write && resp.status().is_success() && faults.roll(cfg.fault_commit_fail) {
        // The change is committed; the client is told otherwise.
        return ApiError::CommitFailed.into_response();
    }
    if write && resp.status().is_success() && faults.roll(cfg.fault_drop_after_commit) {
        // The change is committed; the client hears nothing at all.
        if let Some(route) = route {
            crate::printer::status(&format!(
                "{route} committed, connection dropped (--fault-drop-after-commit)"
            ));
        }
        return drop_connection(conn.as_ref(), "--fault-drop-after-commit");
    }
    resp
}

/// Cuts the request's connection so no response reaches the client.
fn drop_connection(conn: Option<&ConnHandle>, flag: &str) -> Response {
    match conn {
        Some(conn) => {
            conn.drop_connection();
            // Never delivered: the connection fails before hyper writes it.
            ApiError::Unavailable.into_response()
        }
        // Served by something other than `emulator::start` (no handle to cut).
        None => {
            ApiError::internal(format!("{flag} needs the emulator's own listener")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_limits_then_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimit { rps: 2.0, burst: 3 }, t0);
        assert_eq!(
            b.take(t0),
            Decision::Allowed {
                remaining: 2,
                reset: 1
            }
        );
        assert!(matches!(b.take(t0), Decision::Allowed { remaining: 1, .. }));
        assert!(matches!(b.take(t0), Decision::Allowed { remaining: 0, .. }));
        assert_eq!(
            b.take(t0),
            Decision::Limited {
                retry_after: 1,
                reset: 2
            }
        );
        // Half a second at 2 rps brings back one token.
        let t1 = t0 + Duration::from_millis(500);
        assert!(matches!(b.take(t1), Decision::Allowed { remaining: 0, .. }));
        assert!(matches!(b.take(t1), Decision::Limited { .. }));
        assert_eq!(b.capacity(), 3);
    }

    #[test]
    fn slow_rates_ask_for_longer_waits() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimit { rps: 0.2, burst: 1 }, t0);
        assert!(matches!(b.take(t0), Decision::Allowed { .. }));
        assert_eq!(
            b.take(t0),
            Decision::Limited {
                retry_after: 5,
                reset: 5
            }
        );
    }

    #[test]
    fn the_same_seed_rolls_the_same_faults() {
        let cfg = FaultConfig {
            fault_5xx: 0.5,
            seed: Some(7),
            ..FaultConfig::default()
        };
        let a = Faults::new(cfg.clone());
        let b = Faults::new(cfg);
        let run = |f: &Faults| (0..64).map(|_| f.roll(0.5)).collect::<Vec<_>>();
        let (ra, rb) = (run(&a), run(&b));
        assert_eq!(ra, rb);
        assert!(ra.contains(&true) && ra.contains(&false));
        assert!(!a.roll(0.0));
        assert!(a.roll(1.0));
        assert_eq!(a.seed(), 7);
    }
}
