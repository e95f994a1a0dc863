//! Progress on stderr: for apply, an indicatif bar (changes done / total, rate, ETA, retries)
//! on a terminal; for long plans ([`Activity`]), a spinner with what has been read; and off a
//! terminal a plain line every few seconds, so CI logs show progress without control
//! characters. A bar drawn here is registered with the [`crate::printer`], which suspends it
//! around every other line written to stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one apply.
pub struct Progress {
    total: u64,
    done: AtomicU64,
    started: Instant,
    bar: Option<ProgressBar>,
    stopped: AtomicBool,
    retries: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

/// How often the plain progress line is printed off a terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

impl Progress {
    /// Progress over `total` changes; a bar when `terminal`, plain lines otherwise.
    /// `retries` reads the client's retry count.
    pub fn new(
        total: u64,
        terminal: bool,
        retries: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Arc<Self> {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} changes  {per_sec}  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            crate::printer::show_bar(&bar);
            bar
        });
        Arc::new(Self {
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            bar,
            stopped: AtomicBool::new(false),
            retries: Box::new(retries),
        })
    }

    /// One more change finished.
    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{} retries", (self.retries)()));
        }
    }

    /// The plain progress line.
    pub fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 {
            ((self.total - done.min(self.total)) as f64 / rate).round() as u64
        } else {
            0
        };
        format!(
            "progress: {done}/{} changes ({:.1}%), {rate:.1}/s, {} retries, ETA {eta}s",
            self.total,
            if self.total == 0 {
                100.0
            } else {
                done as f64 * 100.0 / self.total as f64
            },
            (self.retries)()
        )
    }

    /// Off a terminal: prints [`Progress::line`] every [`PLAIN_INTERVAL`] until
    /// [`Progress::finish`].
    pub fn spawn_plain_ticker(self: &Arc<Self>) {
        if self.bar.is_some() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PLAIN_INTERVAL).await;
                if me.stopped.load(Ordering::Relaxed) {
                    break;
                }
                crate::printer::status(&me.line().clone());
            }
        });
    }

    /// Stops the bar or ticker.
    pub fn finish(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            crate::printer::hide_bar();
            bar.finish_and_clear();
        }
    }
}

/// Progress of a long step that is not an apply (listing the tenant, reading the sources):
/// a spinner with a message on a terminal, a plain line every [`PLAIN_INTERVAL`] elsewhere.
/// The message is read from `describe` by a thread of its own, so the work it reports on
/// (often a blocking loop) never has to call back.
pub struct Activity {
    stopped: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity").finish_non_exhaustive()
    }
}

impl Activity {
    /// Starts reporting `describe()` until [`Activity::finish`].
    pub fn start(terminal: bool, describe: impl Fn() -> String + Send + 'static) -> Self {
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        let thread = std::thread::spawn(move || {
            let spinner = terminal.then(|| {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}  {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                crate::printer::show_bar(&bar);
                bar
            });
            let tick = Duration::from_millis(100);
            let mut last_line = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                match &spinner {
                    Some(bar) => {
                        bar.set_message(describe());
                        bar.tick();
                    }
                    None if last_line.elapsed() >= PLAIN_INTERVAL => {
                        last_line = Instant::now();
                        crate::printer::status(&format!("progress: {}", describe()));
                    }
                    None => {}
                }
            }
            if let Some(bar) = spinner {
                crate::printer::hide_bar();
                bar.finish_and_clear();
            }
        });
        Self {
            stopped,
            thread: std::sync::Mutex::new(Some(thread)),
        }
    }

    /// Stops reporting (and clears the spinner).
    pub fn finish(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.finish();
    }
}
