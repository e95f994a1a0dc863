//! A shared, adaptive pacer: every attempt the client sends (first tries and retries alike)
//! waits for its turn, and the client reports each answer to it the moment it arrives.
//!
//! It starts unpaced (or at the caller's cap, `--max-rps`). At the first sign that the server
//! is rate limiting (a 429, or `X-RateLimit-Remaining: 0` on a success) it starts pacing at
//! what the server admitted over the last second, and from then on requests leave evenly
//! spaced at that rate: a token bucket admits its rate on average but refuses bursts, so
//! releasing every waiting request at once after a 429 would only draw more 429s. Reacting
//! in the client, not after the request's `Retry-After` sleep, matters as much: by then
//! hundreds of requests would have met the empty bucket. Further 429s cut the pace by 5%
//! each, down to what the server admitted over the last second (while the client sends too
//! fast, that is the server's rate), but by at most 30% per [`CUT_INTERVAL`]: one burst is
//! one signal, and `Remaining: 0` counts as one 429. Calm time grows the pace: doubling
//! every half second from the first guess until the first cut (a small bucket makes that
//! guess low), then 3% a second, doubling with every two calm seconds, and never beyond
//! twice what the server admitted over the last second, so near the limit the pace probes
//! upward gently instead of running away. A cut that slows the pace also re-spaces the
//! requests already waiting for a slot: their slots were handed out at the old pace, and
//! with many in flight they would keep drawing 429s for a second after the cut.
//! `Remaining: 0` without a 429 means the pace is at the limit, not over it (a small bucket
//! reads 0 after every request at exactly its rate), so it holds the pace at what got
//! through instead of cutting below it.
//!
//! Of the `X-RateLimit-*` headers only `Remaining: 0` is used: their other values mean
//! different things on different servers (a window's quota, or a token bucket's size).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far behind schedule the pacer may fall and catch up in a burst: timers are coarser
/// than the interval between requests at high rates, and servers allow small bursts.
const CREDIT: Duration = Duration::from_millis(20);

/// The window over which the admitted rate is measured.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Throttle signals closer together than this are one signal (a burst of 429s).
pub const CUT_INTERVAL: Duration = Duration::from_millis(500);

/// The slowest pace, in requests per second.
const MIN_RATE: f64 = 1.0;

/// The slowest starting pace: a 429 before much got through says little about the limit,
/// and the pace is cut further if the server keeps refusing.
const MIN_START: f64 = 10.0;

#[derive(Debug)]
struct State {
    /// The adaptive pace; `None` until the server first signals a limit.
    rate: Option<f64>,
    /// The caller's cap (`--max-rps`).
    cap: Option<f64>,
    /// The next free slot.
    next: Instant,
    /// When answers arrived over the last [`WINDOW`].
    admitted: VecDeque<Instant>,
    /// Throttle signals since the last cut.
    pending: u32,
    /// Whether one of them was a 429 (not only `Remaining: 0`).
    refused: bool,
    /// When a cut last lowered the pace.
    last_slowdown: Instant,
    /// When the pace was last cut (or started).
    last_cut: Instant,
    /// When the pace last grew.
    last_growth: Instant,
    /// Whether the pace was ever cut (it has met the limit from above).
    cut_once: bool,
}

/// What a throttle signal did to the pace, for the `--verbose` trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PaceChange {
    /// Pacing started at this rate.
    Started(f64),
    /// The pace was cut to this rate.
    Cut(f64),
}

/// Paces requests to the adaptive rate, never above the cap.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

impl Default for Pacer {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(State {
                rate: None,
                cap: None,
                next: now,
                admitted: VecDeque::new(),
                pending: 0,
                refused: false,
                last_slowdown: now,
                last_cut: now,
                last_growth: now,
                cut_once: false,
            }),
        }
    }
}

impl State {
    /// The pace in force: the adaptive rate under the cap.
    fn effective(&self) -> Option<f64> {
        match (self.rate, self.cap) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        }
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.admitted.pop_front();
        }
    }

    /// Answers per second over the last window.
    fn admitted_rate(&self) -> f64 {
        self.admitted.len() as f64 / WINDOW.as_secs_f64()
    }

    /// Answers per second over the last half window: the recent rate, for cuts.
    fn recent_rate(&self, now: Instant) -> f64 {
        let half = WINDOW / 2;
        let n = self
            .admitted
            .iter()
            .rev()
            .take_while(|t| now.duration_since(**t) <= half)
            .count();
        n as f64 / half.as_secs_f64()
    }
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the adaptive rate (requests per second); `None` stops adaptive pacing (the cap
    /// still holds).
    pub fn set_rate(&self, rate: Option<f64>) {
        self.lock().rate = rate.filter(|r| *r > 0.0);
    }

    /// Caps the pace (`--max-rps`); `None` removes the cap.
    pub fn set_cap(&self, cap: Option<f64>) {
        self.lock().cap = cap.filter(|r| *r > 0.0);
    }

    /// The pace in force, if any.
    pub fn rate(&self) -> Option<f64> {
        self.lock().effective()
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        loop {
            let reserved = Instant::now();
            let delay = self.reserve(reserved);
            if delay.is_zero() {
                return;
            }
            tokio::time::sleep(delay).await;
            if !self.cut_since(reserved) {
                return;
            }
            // The pace was cut while this request waited: its slot was spaced at the old
            // pace, like every slot handed out before the cut. It takes a new one.
        }
    }

    /// Whether the pace was slowed after `t`: slots reserved before then are spaced at an
    /// old, faster pace and are taken again.
    fn cut_since(&self, t: Instant) -> bool {
        self.lock().last_slowdown > t
    }

    /// Takes the next slot for a request ready at `now`: how long it must wait.
    ///
    /// Every method that reads the time has such a form taking `now`, so the tests can run
    /// the pacer against a simulated server on a simulated clock.
    fn reserve(&self, now: Instant) -> Duration {
        let mut s = self.lock();
        let Some(rate) = s.effective() else {
            return Duration::ZERO;
        };
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
        let slot = s.next.max(now.checked_sub(CREDIT.max(interval)).unwrap());
        s.next = slot + interval;
        slot.saturating_duration_since(now)
    }

    /// The server answered (anything but a 429): counts toward the admitted rate, and lets
    /// the pace grow after calm time.
    pub fn admitted(&self) {
        self.admitted_at(Instant::now());
    }

    fn admitted_at(&self, now: Instant) {
        let mut s = self.lock();
        s.admitted.push_back(now);
        s.forget_before(now);
        let Some(rate) = s.rate else { return };
        let dt = now.duration_since(s.last_growth).as_secs_f64();
        let calm = now.duration_since(s.last_cut).as_secs_f64().min(8.0);
        s.last_growth = now;
        // Before the first cut the pace started from a guess and climbs fast; after one it
        // is near the limit and probes gently, faster only the longer all stays calm.
        let speed = if s.cut_once {
            0.03 * 2f64.powf(calm / 2.0)
        } else {
            // About doubling every half second.
            1.4
        };
        let grown = rate * (1.0 + speed * dt);
        // Growth stops at twice what the server admits, but that ceiling never lowers the
        // pace by itself.
        let ceiling = (2.0 * s.admitted_rate() + 5.0).max(rate);
        // Growing far above the cap would only make the next cut meaningless.
        let top = s.cap.map_or(f64::INFINITY, |c| c * 1.05);
        s.rate = Some(grown.min(ceiling).min(top.max(MIN_RATE)));
    }

    /// The server signalled its limit in answer to a request sent at `sent`: `too_many` for a
    /// 429, false for `X-RateLimit-Remaining: 0` on a success (the next request would be
    /// refused). A request sent before the last cut says nothing about the pace since.
    pub fn throttled(&self, too_many: bool, sent: Instant) -> Option<PaceChange> {
        self.throttled_at(too_many, sent, Instant::now())
    }

    fn throttled_at(&self, too_many: bool, sent: Instant, now: Instant) -> Option<PaceChange> {
        let mut s = self.lock();
        s.forget_before(now);
        let change = match s.rate {
            None => {
                // What got through over the last second is what the server admits, plus
                // the burst its bucket held at the start: a pace the cuts soon correct.
                let mut rate = s.admitted_rate().max(MIN_START);
                if let Some(cap) = s.cap {
                    rate = rate.min(cap);
                }
                s.rate = Some(rate);
                s.pending = 0;
                s.refused = false;
                s.last_cut = now;
                s.last_growth = now;
                Some(PaceChange::Started(rate))
            }
            Some(_) if sent < s.last_cut => None,
            Some(rate) => {
                if too_many {
                    s.pending = s.pending.saturating_add(1);
                } else {
                    s.pending = s.pending.max(1);
                }
                // While the first guess is climbing, the first signal ends the climb.
                if too_many {
                    s.refused = true;
                }
                if !s.cut_once || now.duration_since(s.last_cut) >= CUT_INTERVAL {
                    // Sending faster than the server admits, what got through over the last
                    // second is its rate: never stay above it.
                    let admitted = s.recent_rate(now).max(MIN_RATE);
                    // A refusal means the pace is over the limit: cut below what got through.
                    // `Remaining: 0` alone means it is at the limit (a small bucket reads 0
                    // after every request at exactly its rate): cutting below would only
                    // slow down, 5% at a time, to the minimum.
                    let factor = if s.refused {
                        0.95f64.powi(i32::try_from(s.pending.min(7)).unwrap_or(7))
                    } else {
                        1.0
                    };
                    let rate = (rate * factor).min(admitted).max(rate * 0.7).max(MIN_RATE);
                    if rate < s.rate.unwrap_or(rate) {
                        // Slower: the slots handed out so far are taken again at the new
                        // pace (see `wait`).
                        s.next = now + Duration::from_secs_f64(1.0 / rate.max(0.1));
                        s.last_slowdown = now;
                    }
                    s.cut_once = true;
                    s.rate = Some(rate);
                    s.pending = 0;
                    s.refused = false;
                    s.last_cut = now;
                    s.last_growth = now;
                    Some(PaceChange::Cut(rate))
                } else {
                    None
                }
            }
        };
        if too_many {
            // The bucket is empty: whatever fell behind schedule waits its turn instead of
            // leaving at once.
            if let Some(rate) = s.effective() {
                let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
                s.next = s.next.max(now + interval);
            }
        }
        change
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

    #[test]
    fn the_first_signal_paces_at_what_got_through_and_later_ones_cut() {
        let p = Pacer::default();
        for _ in 0..120 {
            p.admitted();
        }
        assert_eq!(p.rate(), None);
        let before = Instant::now();
        assert_eq!(p.throttled(true, before), Some(PaceChange::Started(120.0)));
        // Requests sent before pacing started belong to the same burst.
        assert_eq!(p.throttled(true, before), None);
        assert_eq!(p.rate(), Some(120.0));
        // One sent since ends the climb at once, cut by at most 30%.
        let Some(PaceChange::Cut(rate)) = p.throttled(true, Instant::now()) else {
            panic!("no cut")
        };
        assert!((84.0..=114.0).contains(&rate), "{rate}");
        // Then cuts wait for the cut interval: one burst is one signal.
        assert_eq!(p.throttled(true, Instant::now()), None);
    }

    /// What a simulated apply against the emulator's token bucket achieved.
    #[derive(Debug)]
    struct Run {
        /// Requests that got through.
        admitted: usize,
        /// 429 answers.
        throttled: usize,
        /// Simulated time from the first request to the last answer.
        elapsed: Duration,
    }

    /// Runs `requests` requests through the pacer on a simulated clock against the emulator's
    /// own token bucket (`rps`, `burst`), with `workers` in flight and `latency` per answer.
    /// A 429 makes its request wait out `Retry-After`, then go through the pacer again, as
    /// the client does; an answer reports to the pacer the way the client reports it (a 429,
    /// or `Remaining: 0` on a success). Deterministic: no real time passes.
    fn simulate(rps: f64, burst: u32, workers: usize, latency: Duration, requests: usize) -> Run {
        use crate::emulator::config::RateLimit;
        use crate::emulator::faults::{Decision, TokenBucket};
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        enum Event {
            /// A worker's request is ready to go through the pacer.
            Ready,
            /// Its slot, reserved at the given time, has come (it leaves unless the pace
            /// was cut meanwhile, as in [`Pacer::wait`]).
            Send(Instant),
            /// Its answer arrives.
            Answer {
                sent: Instant,
                /// `Retry-After` of a 429.
                retry_after: Option<u64>,
                /// `X-RateLimit-Remaining: 0` on a success.
                empty: bool,
            },
        }
        struct Queue {
            heap: BinaryHeap<Reverse<(Instant, usize)>>,
            events: Vec<Option<Event>>,
        }
        impl Queue {
            fn push(&mut self, at: Instant, event: Event) {
                self.events.push(Some(event));
                self.heap.push(Reverse((at, self.events.len() - 1)));
            }
            fn pop(&mut self) -> Option<(Instant, Event)> {
                let Reverse((at, id)) = self.heap.pop()?;
                Some((at, self.events[id].take().expect("each event runs once")))
            }
        }

        let pacer = Pacer::default();
        let start = Instant::now();
        let mut bucket = TokenBucket::new(RateLimit { rps, burst }, start);
        let mut queue = Queue {
            heap: BinaryHeap::new(),
            events: Vec::new(),
        };
        let mut started = workers.min(requests);
        for _ in 0..started {
            queue.push(start, Event::Ready);
        }
        let (mut admitted, mut throttled, mut last) = (0, 0, start);
        while let Some((now, event)) = queue.pop() {
            match event {
                Event::Ready => queue.push(now + pacer.reserve(now), Event::Send(now)),
                Event::Send(reserved) if pacer.cut_since(reserved) => queue.push(now, Event::Ready),
                Event::Send(_) => {
                    let (retry_after, empty) = match bucket.take(now) {
                        Decision::Allowed { remaining, .. } => (None, remaining == 0),
                        Decision::Limited { retry_after, .. } => (Some(retry_after), false),
                    };
                    let answer = Event::Answer {
                        sent: now,
                        retry_after,
                        empty,
                    };
                    queue.push(now + latency, answer);
                }
                Event::Answer {
                    sent,
                    retry_after,
                    empty,
                } => {
                    last = now;
                    if let Some(secs) = retry_after {
                        throttled += 1;
                        pacer.throttled_at(true, sent, now);
                        queue.push(now + Duration::from_secs(secs), Event::Ready);
                        continue;
                    }
                    admitted += 1;
                    pacer.admitted_at(now);
                    if empty {
                        pacer.throttled_at(false, sent, now);
                    }
                    if started < requests {
                        started += 1;
                        queue.push(now, Event::Ready);
                    }
                }
            }
        }
        Run {
            admitted,
            throttled,
            elapsed: last - start,
        }
    }

    /// The pacer on a fake clock: against the emulator's token bucket, at a full second's
    /// burst, a tenth of it and a bucket of one, with few or many requests in flight, an
    /// apply runs at three quarters of the server's rate or more and draws under 5% 429s.
    /// (Measured: 77–100% of the rate, 0.5–3% 429s. Before slots were re-spaced after a cut,
    /// 64 in flight drew 9% 429s at 78% of the rate; before `Remaining: 0` stopped cutting
    /// below what got through, a bucket of one slowed to 12% of its rate.) The real-time
    /// counterpart is the CLI test `a_rate_limit_draws_under_five_percent_429s_at_any_burst`.
    #[test]
    fn on_a_simulated_clock_the_pace_settles_near_the_limit_with_few_429s() {
        for (rps, burst, workers) in [
            (50.0, 50, 8),
            (50.0, 5, 8),
            (50.0, 5, 64),
            (400.0, 40, 32),
            (10.0, 1, 4),
        ] {
            let requests = (rps as usize) * 60;
            let run = simulate(rps, burst, workers, Duration::from_millis(20), requests);
            assert_eq!(run.admitted, requests, "{run:?}");
            let throughput = run.admitted as f64 / run.elapsed.as_secs_f64();
            let share = run.throttled as f64 / (run.admitted + run.throttled) as f64;
            assert!(
                throughput >= 0.75 * rps,
                "{rps}/s burst {burst}, {workers} in flight: {throughput:.1}/s, {run:?}"
            );
            assert!(
                share < 0.05,
                "{rps}/s burst {burst}, {workers} in flight: {:.1}% 429s, {run:?}",
                share * 100.0
            );
        }
    }

    #[test]
    fn the_cap_bounds_the_start_and_the_growth() {
        let p = Pacer::default();
        p.set_cap(Some(50.0));
        assert_eq!(p.rate(), Some(50.0));
        for _ in 0..300 {
            p.admitted();
        }
        assert_eq!(
            p.throttled(false, Instant::now()),
            Some(PaceChange::Started(50.0))
        );
        for _ in 0..300 {
            p.admitted();
        }
        assert_eq!(p.rate(), Some(50.0));
    }
}
