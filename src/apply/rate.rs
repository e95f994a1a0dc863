//! Rate control for apply: how many changes may be in flight.
//!
//! Concurrency follows AIMD: the limit halves when the server answers 429 and grows by
//! about one per round of successes, up to `--concurrency`; requests asleep waiting out a
//! `Retry-After` do not count against it. The request rate is not decided here: the
//! client's [`Pacer`], which every attempt (retries included) waits on, learns it from each
//! answer as it arrives; this controller only hands it the `--max-rps` cap. Pacing is what
//! keeps a fast link from spending its time in `Retry-After` waits, and keeps a migration
//! from throttling the tenant's real users.
//!
//! [`Pacer`]: crate::live::pace::Pacer

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::outcome::Attempt;
use crate::live::Client;
use crate::printer::Trace;

/// How many changes may sit waiting out a `Retry-After` or backoff at once.
const MAX_SLEEPING: usize = 512;

/// Throttles closer together than this are one signal (a burst of 429s).
const CUT_INTERVAL: Duration = crate::live::pace::CUT_INTERVAL;

#[derive(Debug)]
struct State {
    /// Adaptive concurrency limit (fractional so it can grow by 1/limit per success).
    limit: f64,
    /// Changes in flight.
    in_flight: usize,
    /// Client 429 count already accounted for.
    throttled_seen: u64,
    /// When the limit was last halved.
    last_cut: Instant,
}

/// Hands out slots for changes and steers the client's pacer.
#[derive(Debug)]
pub struct RateController {
    trace: Trace,
    max: usize,
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
    pub fn new(max: usize, max_rps: Option<f64>, client: Client, trace: Trace) -> Self {
        let now = Instant::now();
        client.pacer().set_cap(max_rps);
        Self {
            trace,
            max,
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                throttled_seen: client.stats().throttled,
                last_cut: now,
            }),
            client,
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn trace(&self, args: std::fmt::Arguments<'_>) {
        if self.trace.is_on() {
            self.trace.line(&format!("apply: {args}"));
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

    /// Adapts concurrency after one attempt.
    pub(crate) fn record(&self, _attempt: &Attempt, _elapsed: Duration) {
        let throttled = self.client.stats().throttled;
        let now = Instant::now();
        let mut s = self.lock();
        if throttled > s.throttled_seen {
            let new = throttled - s.throttled_seen;
            s.throttled_seen = throttled;
            if now.duration_since(s.last_cut) >= CUT_INTERVAL {
                s.limit = (s.limit / 2.0).max(self.floor());
                s.last_cut = now;
                self.trace(format_args!(
                    "{new} × 429: concurrency {:.0}, pace {:.1}/s",
                    s.limit,
                    self.client.pacer().rate().unwrap_or(0.0)
                ));
            }
        } else {
            s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64);
        }
        drop(s);
        self.notify.notify_waiters();
    }
}
