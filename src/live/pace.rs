//! A shared pacer: every attempt the client sends (first tries and retries alike) waits for
//! its turn, so a rate chosen by the caller (the apply executor's rate control) bounds what
//! reaches the server. Without a rate it never waits.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far behind schedule the pacer may fall and catch up in a burst: timers are coarser
/// than the interval between requests at high rates, and servers allow small bursts.
const CREDIT: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct State {
    rate: Option<f64>,
    next: Instant,
}

/// Paces requests to at most `rate` per second.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                rate: None,
                next: Instant::now(),
            }),
        }
    }
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the rate (requests per second); `None` stops pacing.
    pub fn set_rate(&self, rate: Option<f64>) {
        self.lock().rate = rate.filter(|r| *r > 0.0);
    }

    /// The current rate.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        let delay = {
            let mut s = self.lock();
            let Some(rate) = s.rate else { return };
            let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
            let now = Instant::now();
            let slot = s.next.max(now - CREDIT.max(interval));
            s.next = slot + interval;
            slot.saturating_duration_since(now)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_to_the_rate() {
        let p = Pacer::default();
        let start = Instant::now();
        for _ in 0..20 {
            p.wait().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "unpaced by default"
        );
        p.set_rate(Some(200.0));
        let start = Instant::now();
        for _ in 0..40 {
            p.wait().await;
        }
        // 40 at 200/s is 200 ms, less the catch-up credit.
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "{:?}",
            start.elapsed()
        );
    }
}
