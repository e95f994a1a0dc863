//! Printing plans for people and machines. Renderers read a [`Plan`] and write text; they
//! never touch the network. Sensitive values print as `(sensitive)`.
//!
//! [`Plan`]: crate::plan::Plan

pub mod markdown;
pub mod progress;
pub mod style;
pub mod text;

/// Output formats for `plan` and `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Terraform-like text.
    #[default]
    Text,
    /// The plan schema, as JSON.
    Json,
    /// Markdown for a pull-request comment (at most 60,000 characters, PII masked).
    Markdown,
}

/// Renders `plan` as JSON (the plan file format).
pub fn json(plan: &crate::plan::Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}
