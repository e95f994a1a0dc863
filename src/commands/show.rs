//! `avnology-migrate show`: render a saved plan.

use std::path::PathBuf;

use super::output;
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::render::Format;

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
    let file = crate::plan::file::PlanFile::open(&args.plan)?;
    output::plan(&file.plan, file.path(), args.format, args.show_pii)?;
    Ok(Exit::Success)
}
