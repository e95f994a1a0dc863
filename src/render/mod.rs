//! Printing plans for people and machines. Renderers read a [`Plan`] (its header, footer and
//! review sample, never the whole change list) and write text; they never touch the network.
//! Sensitive values print as `(sensitive)`, and every value from an export, a manifest or the
//! API goes through [`escape`] for its medium. Machines read the plan file itself.
//!
//! The reports of `validate` ([`validate_report`], also as JSON) and `verify`
//! ([`verify_report`]) are rendered here too, so the commands only gather what they report.
//!
//! [`Plan`]: crate::plan::Plan

pub mod escape;
pub mod markdown;
pub mod progress;
#[cfg(test)]
pub(crate) mod sample;
pub mod style;
pub mod text;
pub mod validate_report;
pub mod verify_report;

/// How many `--only` addresses a rendering names before counting the rest.
pub const LISTED_ADDRESSES: usize = 20;

/// What a partial plan's banner says after its addresses.
pub const PARTIAL_NOTE: &str = "objects outside the selection are not planned and nothing is deleted; the next full plan shows the rest";

/// A partial plan's addresses (the first [`LISTED_ADDRESSES`], each through `quote`) joined
/// with commas, and "and N more" past them; `None` for a full plan.
pub fn partial_addresses(
    plan: &crate::plan::Plan,
    quote: impl Fn(&str) -> String,
) -> Option<String> {
    let only = &plan.header.only;
    if only.is_empty() {
        return None;
    }
    let mut listed: Vec<String> = only
        .iter()
        .take(LISTED_ADDRESSES)
        .map(|a| quote(a))
        .collect();
    if only.len() > LISTED_ADDRESSES {
        listed.push(format!("and {} more", only.len() - LISTED_ADDRESSES));
    }
    Some(listed.join(", "))
}

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
