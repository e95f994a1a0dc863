//! `avnology-migrate plan`: read the sources and the live tenant, print the diff.

use std::path::PathBuf;

use super::{output, target};
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::plan::{self, BuildOptions};
use crate::render::{self, Format, text::TextOptions};

/// Show what apply would change, without changing anything.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The manifest.
    #[arg(short, long, default_value = "migration.toml")]
    pub manifest: PathBuf,
    /// Save the plan to this file, for `apply PLAN` (no secrets are written to it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Markdown: show emails, names and metadata values unmasked.
    #[arg(long)]
    pub show_pii: bool,
    /// Exit 0 when there are no changes, 1 on error, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the removal of everything this manifest owns (the rollback path).
    #[arg(long)]
    pub destroy: bool,
}

/// Runs `plan`.
pub async fn run(args: PlanArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest = crate::manifest::load(&args.manifest)?;
    let conn = target::connect(&manifest, global.verbose).await?;
    let live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let (plan, _) = plan::build(
        &manifest,
        &live,
        BuildOptions {
            destroy: args.destroy,
            keep_desired: false,
            count_only: false,
        },
    )?;
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
    if let Some(out) = &args.out {
        plan::file::save(&plan, out)?;
        output::status(&format!(
            "\nSaved the plan to {}. To apply exactly this plan, run:\n  avnology-migrate apply {}",
            out.display(),
            out.display()
        ));
    }
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
