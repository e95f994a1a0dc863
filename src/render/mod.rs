//! Printing plans for people and machines. Renderers read a [`Plan`] and write text; they
//! never touch the network. Sensitive values print as `(sensitive)`.
//!
//! [`Plan`]: crate::plan::Plan

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

#[cfg(test)]
mod tests {
    #[test]
    fn json_is_the_plan_file_format() {
        let plan = super::sample::plan();
        let out = super::json(&plan);
        let back: crate::plan::Plan = serde_json::from_str(&out).unwrap();
        assert_eq!(back, plan);
        insta::assert_snapshot!(out.lines().take(12).collect::<Vec<_>>().join("\n"), @r#"
{
  "format_version": 1,
  "plan_id": "0123456789abcdef",
  "tool_version": "0.1.0",
  "created_at": "2026-11-27T00:00:00Z",
  "destroy": false,
  "target": {
    "url": "sandbox:.avnology-sandbox",
    "organization": "acme"
  },
  "manifest": {
    "path": "migration.toml",
"#);
    }
}
