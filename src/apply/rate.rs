//! Rate control for apply: how many changes may be in flight, and how fast requests go.
//!
//! Concurrency follows AIMD: the limit halves when the server answers 429 and grows by
//! about one per round of successes, up to `--concurrency`; requests asleep waiting out a
//! `Retry-After` do not count against it. The request rate is paced through the client's
//! [`Pacer`], which every attempt — retries included — waits on: `--max-rps` caps it; at
//! the first 429 pacing starts at the rate that was getting through; every burst of 429s
//! cuts the pace by 5% per 429 (at most 30% at once), and the pace grows back in time —
//! 5% a second right after a cut, doubling with every calm second — but never beyond twice
//! what is actually completing, so it cannot run away from reality. Pacing is what keeps a
//! fast link from spending its time in `Retry-After` waits, and keeps a migration from
//! throttling the tenant's real users.
//!
//! Of the `X-RateLimit-*` headers (Avnology documents none) only `Remaining: 0` is used, as
//! an early 429: their other values mean different things on different servers (a window's
//! quota, or a token bucket's size).
//!
//! [`Pacer`]: crate::live::pace::Pacer

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::executor::Attempt;
use crate::live::Client;

/// The window over which the completion rate is measured.
const WINDOW: Duration = Duration::from_secs(1);

/// How many changes may sit waiting out a `Retry-After` or backoff at once.
const MAX_SLEEPING: usize = 512;

/// Throttles closer together than this are one signal (a burst of 429s).
const CUT_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct State {
    /// Adaptive concurrency limit (fractional so it can grow by 1/limit per success).
    limit: f64,
    /// Changes in flight.
    in_flight: usize,
    /// Client 429 count already accounted for.
    throttled_seen: u64,
    /// 429s since the last cut.
    pending_throttles: u64,
    /// Start of the current measuring window.
    window_start: Instant,
    /// Completions in it.
    window_count: u32,
    /// Completions per second, smoothed over windows.
    achieved: f64,
    /// When the pace was last cut.
    last_cut: Instant,
    /// When the pace last grew.
    last_growth: Instant,
}

/// Hands out slots for changes and steers the client's pacer.
#[derive(Debug)]
pub struct RateController {
    verbose: bool,
    max: usize,
    max_rps: Option<f64>,
    client: Client,
    state: Mutex<State>,
    notify: Notify,
}

/// A slot for one change; dropping it frees the slot.
#[derive(Debug)]
pub struct OwnedSlot {
    controller: Arc<RateController>,
}

impl Drop for OwnedSlot {
    fn drop(&mut self) {
        self.controller.release();
    }
}

impl RateController {
    /// A controller allowing up to `max` in flight and at most `max_rps` requests a second.
    pub fn new(max: usize, max_rps: Option<f64>, client: Client, verbose: bool) -> Self {
        let now = Instant::now();
        let max_rps = max_rps.filter(|r| *r > 0.0);
        client.pacer().set_rate(max_rps);
        Self {
            verbose,
            max,
            max_rps,
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                throttled_seen: client.stats().throttled,
                pending_throttles: 0,
                window_start: now,
                window_count: 0,
                achieved: 0.0,
                last_cut: now,
                last_growth: now,
            }),
            client,
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn trace(&self, args: std::fmt::Arguments<'_>) {
        if self.verbose {
            eprintln!("apply: {args}");
        }
    }

    /// The fewest slots the adaptive limit shrinks to.
    fn floor(&self) -> f64 {
        (self.max as f64 / 4.0).clamp(1.0, 2.0).min(self.max as f64)
    }

    /// Waits for a slot.
    pub async fn acquire(self: &Arc<Self>) -> OwnedSlot {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let waiting = usize::try_from(self.client.stats().waiting).unwrap_or(usize::MAX);
            {
                let mut s = self.lock();
                let limit = (s.limit.floor() as usize).clamp(1, self.max);
                // Sleeping requests will send again (paced), so they are bounded too, but
                // loosely: a burst of 429s must not stall dispatch for a whole Retry-After.
                if s.in_flight.saturating_sub(waiting) < limit
                    && s.in_flight < MAX_SLEEPING + self.max
                {
                    s.in_flight += 1;
                    return OwnedSlot {
                        controller: self.clone(),
                    };
                }
            }
            // Re-check at least every few milliseconds: the client's waiting count changes
            // without a notification.
            let _ = tokio::time::timeout(Duration::from_millis(5), notified).await;
        }
    }

    fn release(&self) {
        {
            let mut s = self.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.notify.notify_waiters();
    }

    /// Adapts concurrency and pace after one attempt.
    pub(crate) fn record(&self, _attempt: &Attempt, _elapsed: Duration) {
        let throttled = self.client.stats().throttled;
        let pacer = self.client.pacer();
        let now = Instant::now();
        let mut s = self.lock();
        s.window_count += 1;
        let window = now.duration_since(s.window_start);
        if window >= WINDOW {
            let rate = f64::from(s.window_count) / window.as_secs_f64();
            s.achieved = if s.achieved > 0.0 {
                0.5 * (s.achieved + rate)
            } else {
                rate
            };
            s.window_start = now;
            s.window_count = 0;
        }
        // A server that says its allowance is used up (`X-RateLimit-Remaining: 0`) will
        // answer the next request 429: take it as the same signal, one request earlier.
        let exhausted = self
            .client
            .rate_limit_hint()
            .is_some_and(|h| h.remaining == Some(0) && h.observed_at > s.last_cut);
        let early_warning = exhausted && pacer.rate().is_some();
        if throttled > s.throttled_seen || early_warning {
            s.pending_throttles += (throttled - s.throttled_seen).max(1);
            s.throttled_seen = throttled;
            match pacer.rate() {
                None => {
                    // Pacing starts at what was getting through (the current window, as the
                    // first 429 can come before a full window has passed).
                    let current = f64::from(s.window_count) / window.as_secs_f64().max(0.05);
                    let rate = self.cap(s.achieved.max(current).max(1.0));
                    pacer.set_rate(Some(rate));
                    self.trace(format_args!("first 429: pacing at {rate:.1}/s"));
                    s.pending_throttles = 0;
                    s.last_cut = now;
                    s.last_growth = now;
                }
                Some(rate) if now.duration_since(s.last_cut) >= CUT_INTERVAL => {
                    let factor =
                        0.95f64.powi(i32::try_from(s.pending_throttles.min(7)).unwrap_or(7));
                    let rate = (rate * factor).max(1.0);
                    pacer.set_rate(Some(rate));
                    s.limit = (s.limit / 2.0).max(self.floor());
                    self.trace(format_args!(
                        "{} × 429: pace {rate:.1}/s, concurrency {:.0}",
                        s.pending_throttles, s.limit
                    ));
                    s.pending_throttles = 0;
                    s.last_cut = now;
                    s.last_growth = now;
                }
                Some(_) => {}
            }
        } else {
            s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64);
            if let Some(rate) = pacer.rate() {
                let dt = now.duration_since(s.last_growth).as_secs_f64();
                let calm = now.duration_since(s.last_cut).as_secs_f64().min(5.0);
                s.last_growth = now;
                let mut grown = rate * (1.0 + 0.05 * 2f64.powf(calm) * dt);
                // Growth stops at twice what is completing (once that has been measured),
                // but the ceiling never lowers the pace by itself.
                if s.achieved > 0.0 {
                    grown = grown.min((2.0 * s.achieved + 5.0).max(rate));
                }
                let grown = self.cap(grown);
                pacer.set_rate(Some(grown));
            }
        }
        drop(s);
        self.notify.notify_waiters();
    }

    fn cap(&self, rate: f64) -> f64 {
        self.max_rps.map_or(rate, |m| rate.min(m))
    }
}
