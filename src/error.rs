//! The one error sink: how failures become messages, hints and exit codes.
//!
//! Library modules define their own `thiserror` enums; commands bubble them up as
//! `anyhow::Error`. [`with_hint`] attaches a `hint:` line to any error, and [`report`] prints the
//! chain once, then the hints, on stderr.
//!
//! Messages quote ids, paths and server text. Where a message keeps line breaks of its own
//! (a list of invalid records), the values are escaped where they are interpolated; [`report`]
//! then escapes every remaining control, bidi and invisible format character except `\n`, so
//! no value can recolour the terminal, rewrite a line or reorder what is read.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use crate::render::escape::terminal_lines;

/// Exit statuses (Terraform's contract): 0 success / no changes, 1 error, 2 changes present
/// (only with `--detailed-exitcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; with `--detailed-exitcode`, also "no changes".
    Success,
    /// Something failed.
    Failure,
    /// Success with changes present (`plan --detailed-exitcode`).
    Changes,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Changes => ExitCode::from(2),
        }
    }
}

/// An error with a `hint:` line for the user. Its own `Display` is empty so the chain prints
/// only the underlying message, followed by the hint.
#[derive(Debug)]
pub struct Hinted {
    hint: String,
    source: anyhow::Error,
}

impl fmt::Display for Hinted {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Attaches a hint to an error.
pub fn with_hint(err: impl Into<anyhow::Error>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        hint: hint.into(),
        source: err.into(),
    })
}

/// Extension to attach a hint to a `Result`'s error.
pub trait WithHint<T> {
    /// Adds `hint: …` below the error message.
    fn hint(self, hint: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E> WithHint<T> for Result<T, E>
where
    E: Into<anyhow::Error>,
{
    fn hint(self, hint: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| with_hint(e, hint))
    }
}

/// Prints `error: <chain>` and any `hint:` lines to stderr and returns exit status 1.
pub fn report(err: &anyhow::Error) -> Exit {
    let mut messages = Vec::new();
    let mut hints = Vec::new();
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hints.push(h.hint.clone());
        } else {
            let text = cause.to_string();
            // thiserror sources are not repeated in their parents' messages, but guard
            // against a layer that does so the chain never prints a line twice.
            if !text.is_empty() && !messages.iter().any(|m: &String| m.contains(&text)) {
                messages.push(text);
            }
        }
    }
    let mut stderr = anstream::stderr().lock();
    let _ = writeln!(stderr, "error: {}", terminal_lines(&messages.join(": ")));
    for h in hints {
        let _ = writeln!(stderr, "hint: {}", terminal_lines(&h));
    }
    Exit::Failure
}
