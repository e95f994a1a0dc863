//! Rate control for apply: how many changes may be in flight and how fast new ones start.
//!
//! Two limits adapt to the server. Concurrency follows AIMD: it halves when the server
//! answers 429 and grows by about one per round of successes, up to `--concurrency`. The
//! start rate is paced: `--max-rps` caps it. At the first 429 the tool measures for a second
//! what the server admits (a throttling server admits exactly its limit) and paces at 95% of
//! it; each later 429 cuts the pace by 5%, and the pace grows again — gently at first,
//! faster the longer the server accepts it. Pacing is what keeps
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
    /// When the pace last grew.
    last_growth: Instant,
    /// When the pace was last cut.
    last_cut: Instant,
    /// Set from the first 429 until the server's limit has been measured.
    calibrating_since: Option<Instant>,
    /// Completions since calibration started.
    calibration_count: u32,
}

/// How long the tool runs unpaced after the first 429 to measure the server's limit.
const CALIBRATION: Duration = Duration::from_secs(1);

/// How far behind its schedule the pacer may fall and catch up in a burst: timers are
/// coarser than the interval between starts at high rates, and servers allow small bursts.
const PACING_CREDIT: Duration = Duration::from_millis(20);

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
                last_growth: now,
                last_cut: now,
                calibrating_since: None,
                calibration_count: 0,
            }),
            client,
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fewest slots the adaptive limit shrinks to.
    fn floor(&self) -> f64 {
        (self.max as f64 / 4.0).clamp(1.0, 2.0).min(self.max as f64)
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
                            s.next_start = s.next_start.max(now - PACING_CREDIT.max(interval)) + interval;
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
        let throttled = self.client.stats().throttled;
        let mut s = self.lock();
        let now = Instant::now();
        s.window_count += 1;
        let window = now.duration_since(s.window_start);
        if window >= Duration::from_secs(1) {
            let rate = f64::from(s.window_count) / window.as_secs_f64();
            // Smooth over windows so one slow second does not halve the pace.
            s.achieved = if s.achieved > 0.0 { 0.5 * s.achieved + 0.5 * rate } else { rate };
            s.window_start = now;
            s.window_count = 0;
        }
        if let Some(since) = s.calibrating_since {
            // Unpaced since the first 429: the server admits exactly its limit, so what got
            // through in this time measures it.
            let elapsed = now.duration_since(since);
            s.calibration_count += 1;
            if elapsed >= CALIBRATION {
                let measured = f64::from(s.calibration_count) / elapsed.as_secs_f64();
                s.rate = Some((measured * 0.95).max(1.0));
                s.calibrating_since = None;
                s.throttled_seen = throttled;
                s.last_cut = now;
                s.last_growth = now;
            }
        } else if throttled > s.throttled_seen {
            s.throttled_seen = throttled;
            if s.rate.is_none() {
                s.calibrating_since = Some(now);
                s.calibration_count = 0;
            } else if now.duration_since(s.last_cut) >= Duration::from_millis(500) {
                // Several requests in flight are throttled together; that is one signal.
                // Keep a few slots: a request waiting out its Retry-After holds one.
                s.limit = (s.limit / 2.0).max(self.floor());
                // Pace just under the rate that met the limit. The `X-RateLimit-*` headers
                // are not used for this: Avnology documents none, and their meaning (window
                // or bucket) differs between servers.
                s.rate = s.rate.map(|r| (r * 0.95).max(1.0));
                s.last_cut = now;
                s.last_growth = now;
            }
        } else {
            s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64);
            // Grow the pace in time, gently right after a throttle and faster the longer the
            // server accepts it (2% a second, plus 2% for every second without a 429), so it
            // probes the limit carefully yet recovers quickly from an underestimate.
            if let Some(r) = s.rate {
                let dt = now.duration_since(s.last_growth).as_secs_f64();
                let calm = now.duration_since(s.last_cut).as_secs_f64();
                s.last_growth = now;
                let mut grown = r * (1.0 + 0.02 * (1.0 + calm) * dt);
                if let Some(m) = self.max_rps {
                    grown = grown.min(m);
                }
                s.rate = Some(grown);
            }
        }
        drop(s);
        self.notify.notify_waiters();
    }
}
