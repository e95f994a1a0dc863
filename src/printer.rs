//! The one place the tool writes to the terminal: data (plans, reports, JSON, generated
//! scripts) on stdout; status, warnings and `--verbose` traces on stderr. Both go through
//! anstream, so `NO_COLOR`, `--color` and non-terminals are honoured here and nowhere else.
//!
//! While a progress bar or spinner is drawn on stderr ([`crate::render::progress`]), every
//! stderr line is written with the bar suspended (cleared, the line written, the bar drawn
//! again), so a trace line and the bar never interleave. The rest of the crate never calls the
//! print macros; clippy's `print_stdout` and `print_stderr` lints hold it to that.
//!
//! Library code that may want to say something as it works (the HTTP client's trace, apply's
//! concurrency changes) takes a [`Trace`] sink instead of printing, so that a test can collect
//! the lines and a caller can decide where they go.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use indicatif::ProgressBar;

use crate::cli::ColorChoice;
use crate::render::escape::terminal;

/// The bar currently drawn on stderr, if any.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn bar() -> MutexGuard<'static, Option<ProgressBar>> {
    BAR.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets the process-wide colour choice from `--color`.
pub fn init_color(choice: ColorChoice) {
    let c = match choice {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    };
    c.write_global();
}

/// Writes data to stdout (ANSI stripped where colour is off).
///
/// # Errors
/// When stdout cannot be written (a closed pipe).
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes bytes to stdout as they are (generated scripts and pages).
///
/// # Errors
/// When stdout cannot be written.
pub fn stdout_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Copies a file (a plan file for `--format json`) to stdout as it is, streamed.
///
/// # Errors
/// When the file cannot be read or stdout written.
pub fn stdout_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)?;
    out.flush()
}

/// Writes `text` to stderr, with any progress bar suspended around it. A failed write to
/// stderr has nowhere to be reported, so it is dropped.
fn stderr(text: &str) {
    let write = || {
        let mut err = anstream::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    };
    // Clone the handle so the lock is not held while writing (a bar redraw takes its own).
    let active = bar().clone();
    match active {
        Some(bar) if !bar.is_hidden() => bar.suspend(write),
        _ => write(),
    }
}

/// Writes a status line to stderr. The text is the caller's own; anything in it that came
/// from outside must already be escaped ([`terminal`]).
pub fn status(text: &str) {
    stderr(&format!("{text}\n"));
}

/// Writes `warning: <text>` to stderr, escaping `text` for the terminal.
pub fn warning(text: &str) {
    status(&format!("warning: {}", terminal(text)));
}

/// Asks for `yes` on a terminal. Off a terminal there is nobody to ask, so this refuses.
///
/// # Errors
/// When standard input is not a terminal or cannot be read.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(crate::error::with_hint(
            anyhow::anyhow!(
                "refusing to apply without confirmation: standard input is not a terminal"
            ),
            "review the plan and pass --auto-approve, or apply a saved plan file",
        ));
    }
    status(&format!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n"
    ));
    stderr("  Enter a value: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// Registers the bar now drawn on stderr, so that status lines suspend it.
pub(crate) fn show_bar(progress: &ProgressBar) {
    *bar() = Some(progress.clone());
}

/// Forgets the bar (it has been cleared).
pub(crate) fn hide_bar() {
    *bar() = None;
}

type Sink = dyn Fn(&str) + Send + Sync;

/// Where `--verbose` trace lines go: nowhere (the default), to stderr through the printer, or
/// to a collector in tests. Cheap to clone; [`Trace::is_on`] lets a caller skip building a
/// line nobody reads.
#[derive(Clone, Default)]
pub struct Trace(Option<Arc<Sink>>);

impl Trace {
    /// No tracing.
    pub fn off() -> Self {
        Self(None)
    }

    /// Trace lines to stderr (escaped for the terminal), with the bar suspended.
    pub fn stderr() -> Self {
        Self(Some(Arc::new(|line: &str| status(&terminal(line)))))
    }

    /// [`Trace::stderr`] when `verbose`, [`Trace::off`] otherwise.
    pub fn verbose(verbose: bool) -> Self {
        if verbose { Self::stderr() } else { Self::off() }
    }

    /// Trace lines handed to `sink`.
    pub fn to(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(sink)))
    }

    /// A trace that keeps its lines, and the list they are kept in (for tests).
    pub fn collect() -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let trace = Self::to(move |line| {
            kept.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(line.to_string());
        });
        (trace, lines)
    }

    /// Whether lines go anywhere.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Writes one line, when tracing is on.
    pub fn line(&self, line: &str) {
        if let Some(sink) = &self.0 {
            sink(line);
        }
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_on() {
            "Trace(on)"
        } else {
            "Trace(off)"
        })
    }
}
