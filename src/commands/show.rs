//! `avnology-migrate show`: render a saved plan.

use std::path::PathBuf;

use super::output;
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::render::{self, Format, text::TextOptions};

/// Render a saved plan file.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The plan file.
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Markdown: show emails, names and metadata values unmasked.
    #[arg(long)]
    pub show_pii: bool,
}

/// Runs `show`.
pub async fn run(args: ShowArgs, _global: &GlobalArgs) -> anyhow::Result<Exit> {
    let plan = crate::plan::file::load(&args.plan)?;
    match args.format {
        Format::Text => output::stdout(&render::text::render(
            &plan,
            TextOptions {
                color: true,
                ..Default::default()
            },
        ))?,
        Format::Json => output::stdout(&render::json(&plan))?,
        Format::Markdown => output::stdout(&render::markdown::render(
            &plan,
            render::markdown::MarkdownOptions {
                show_pii: args.show_pii,
            },
        ))?,
    }
    Ok(Exit::Success)
}
