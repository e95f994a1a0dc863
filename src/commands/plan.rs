//! `avnology-migrate plan`: read the sources and the live tenant, print the diff.

use std::path::PathBuf;

use anyhow::Context as _;

use super::target;
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::plan::BuildOptions;
use crate::printer;
use crate::render::Format;

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
    /// Plan the removal of everything this manifest owns (the rollback path). Refused when it
    /// deletes more than `max_deletes`.
    #[arg(long)]
    pub destroy: bool,
    /// Allow this many deletes in this plan, overriding `[policy] max_deletes` (prune and
    /// `--destroy`).
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<u64>,
    /// Plan only this object or source (repeatable): `identity:<external_id>`,
    /// `oauth_client:<key>`, `service_account:<key>` or `source:<name>`, e.g. a pilot of a few
    /// users. A partial plan never deletes anything (no prune; not with --destroy); the
    /// organization is created if missing; the next full plan shows the rest. An address
    /// that matches nothing in the manifest is an error.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "destroy")]
    pub only: Vec<crate::plan::selection::Address>,
}

/// Runs `plan`.
pub async fn run(args: PlanArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest = crate::manifest::load(&args.manifest)?;
    let options = BuildOptions {
        destroy: args.destroy,
        max_deletes: args.max_deletes,
        // Written beside `--out`, so saving it is a rename on one filesystem.
        dir: args.out.as_deref().map(crate::plan::file::folder_of),
        only: crate::plan::selection::Selection::of(&args.only),
        ..BuildOptions::default()
    };
    crate::plan::build::check_selection(&manifest, &options)?;
    let conn = target::connect(&manifest, global).await?;
    let mut live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let built = target::build_plan(&manifest, &mut live, options)?;
    drop(live);
    let file = built
        .file
        .context("a plan computed for output has a plan file")?;
    super::show::print_plan(&built.plan, file.path(), args.format, args.show_pii)?;
    if let Some(out) = &args.out {
        file.persist(out)?;
        let out = crate::render::escape::terminal(&out.display().to_string()).into_owned();
        printer::status(&format!(
            "\nSaved the plan to {out}. To apply exactly this plan, run:\n  avnology-migrate apply {out}"
        ));
    }
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    // Conflicts are work left to do, like changes.
    let converged = built.plan.is_empty() && built.plan.footer.summary.conflicts == 0;
    Ok(if args.detailed_exitcode && !converged {
        Exit::Changes
    } else {
        Exit::Success
    })
}
