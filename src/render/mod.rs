//! Printing plans for people and machines. Renderers read a [`Plan`] (its header, footer and
//! review sample, never the whole change list) and write text; they never touch the network.
//! Sensitive values print as `(sensitive)`, and every value from an export, a manifest or the
//! API goes through [`escape`] for its medium. Machines read the plan file itself.
//!
//! [`Plan`]: crate::plan::Plan

pub mod escape;
pub mod markdown;
pub mod progress;
#[cfg(test)]
mod sample;
pub mod style;
pub mod text;

/// Output formats for `plan` and `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Terraform-like text.
    #[default]
    Text,
    /// The plan file itself: NDJSON lines of `schemas/plan.schema.json` (a header, one line
    /// per change, a footer, the seal).
    Json,
    /// Markdown for a pull-request comment (at most 60,000 characters, PII masked).
    Markdown,
}
