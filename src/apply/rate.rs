//! Rate control for apply: how many changes may be in flight and how fast new ones start.
//!
//! Two limits adapt to the server. Concurrency follows AIMD: it halves when the server
//! answers 429 and grows by about one per round of successes, up to `--concurrency`. The
//! start rate is paced: `--max-rps` caps it, and once the server throttles, the tool paces
//! at just under the limit the server advertises (`X-RateLimit-Limit`), or at half the rate
//! it was achieving when no limit is advertised, then creeps back up. Pacing is what keeps
//! a fast link from spending its time in `Retry-After` waits, and keeps the tool from
//! throttling the tenant's real users during a migration.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::executor::Attempt;
use crate::live::Client;

/// Shared rate state.
#[derive(Debug)]
struct State {
    /// Adaptive concurrency limit (fractional so it can grow by 1/limit per success).
    limit: f64,
    /// Changes in flight.
    in_flight: usize,
    /// Adaptive start rate, per second; `None` = unpaced.
    rate: Option<f64>,
    /// When the next change may start.
    next_start: Instant,
    /// Client 429 count seen so far.
    throttled_seen: u64,
    /// Completions in the current one-second window, for estimating the achieved rate.
    window_start: Instant,
    window_count: u32,
    achieved: f64,
}

/// Hands out slots for changes.
#[derive(Debug)]
pub struct RateController {
    max: usize,
    max_rps: Option<f64>,
    client: Client,
    state: Mutex<State>,
    notify: Notify,
}

/// An owned slot that can move into a task.
#[derive(Debug)]
pub struct OwnedSlot {
    controller: std::sync::Arc<RateController>,
}

impl Drop for OwnedSlot {
    fn drop(&mut self) {
        self.controller.release();
    }
}

impl RateController {
    /// A controller allowing up to `max` in flight and at most `max_rps` starts per second.
    pub fn new(max: usize, max_rps: Option<f64>, client: Client) -> Self {
        let now = Instant::now();
        Self {
            max,
            max_rps: max_rps.filter(|r| *r > 0.0),
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                rate: max_rps.filter(|r| *r > 0.0),
                next_start: now,
                throttled_seen: client.stats().throttled,
                window_start: now,
                window_count: 0,
                achieved: 0.0,
            }),
            client,
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current concurrency limit (for progress output).
    pub fn limit(&self) -> usize {
        (self.lock().limit.floor() as usize).max(1)
    }

    /// Waits for a slot.
    pub async fn acquire(self: &std::sync::Arc<Self>) -> OwnedSlot {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.lock();
                let limit = (s.limit.floor() as usize).clamp(1, self.max);
                if s.in_flight < limit {
                    let now = Instant::now();
                    if now >= s.next_start {
                        s.in_flight += 1;
                        if let Some(rate) = s.rate {
                            let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
                            s.next_start = s.next_start.max(now - interval) + interval;
                        }
                        return OwnedSlot { controller: self.clone() };
                    }
                    Some(s.next_start - now)
                } else {
                    None
                }
            };
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => notified.await,
            }
        }
    }

    fn release(&self) {
        {
            let mut s = self.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.notify.notify_waiters();
    }

    /// Adapts the limits after one attempt.
    pub(crate) fn record(&self, _attempt: &Attempt, _elapsed: Duration) {
        let stats = self.client.stats();
        let hint = self.client.rate_limit_hint();
        let mut s = self.lock();
        let now = Instant::now();
        s.window_count += 1;
        let window = now.duration_since(s.window_start);
        if window >= Duration::from_secs(1) {
            s.achieved = f64::from(s.window_count) / window.as_secs_f64();
            s.window_start = now;
            s.window_count = 0;
        }
        if stats.throttled > s.throttled_seen {
            s.throttled_seen = stats.throttled;
            s.limit = (s.limit / 2.0).max(1.0);
            let advertised = hint.and_then(|h| h.limit).map(|l| l as f64);
            let target = match advertised {
                Some(l) => l * 0.97,
                None if s.achieved > 0.0 => s.achieved / 2.0,
                None => s.rate.unwrap_or(10.0) / 2.0,
            };
            s.rate = Some(match s.rate {
                Some(r) => r.min(target),
                None => target,
            });
        } else {
            s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64);
            // Creep back up slowly, but never above an advertised limit or --max-rps.
            if let Some(r) = s.rate {
                let mut grown = r * 1.002;
                if let Some(l) = hint.and_then(|h| h.limit) {
                    grown = grown.min(l as f64 * 0.97);
                }
                if let Some(m) = self.max_rps {
                    grown = grown.min(m);
                }
                s.rate = Some(grown.max(r.min(grown)));
            }
        }
        drop(s);
        self.notify.notify_waiters();
    }
}
