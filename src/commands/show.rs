//! `avnology-migrate show`: render a saved plan.

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::printer;
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
pub fn run(args: &ShowArgs, _global: &GlobalArgs) -> anyhow::Result<Exit> {
    let file = crate::plan::file::PlanFile::open(&args.plan)?;
    print_plan(&file.plan, file.path(), args.format, args.show_pii)?;
    Ok(Exit::Success)
}

/// Renders `plan` on stdout in `format`; `file` is the plan file the JSON format prints.
pub(super) fn print_plan(
    plan: &crate::plan::Plan,
    file: &std::path::Path,
    format: crate::render::Format,
    show_pii: bool,
) -> std::io::Result<()> {
    use crate::render::{self, Format};
    match format {
        Format::Text => printer::stdout(&render::text::render(
            plan,
            render::text::TextOptions {
                color: true,
                ..Default::default()
            },
        )),
        Format::Json => printer::stdout_file(file),
        Format::Markdown => printer::stdout(&render::markdown::render(
            plan,
            render::markdown::MarkdownOptions { show_pii },
        )),
    }
}
