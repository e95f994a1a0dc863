//! `avnology-migrate apply`: execute a saved plan, or plan, show, confirm and execute.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{output, target};
use crate::apply::{self, ApplyOptions, ApplyReport, OutcomeKind};
use crate::cli::GlobalArgs;
use crate::error::{with_hint, Exit};
use crate::manifest::Manifest;
use crate::plan::{self, BuildOptions, Plan};
use crate::render::text::{self, TextOptions};

/// Apply the changes: a saved plan exactly, or a fresh plan after confirmation.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A plan file from `plan --out`. Without it, a fresh plan is made and shown first.
    pub plan: Option<PathBuf>,
    /// The manifest (with a plan file: defaults to the one the plan was made from).
    #[arg(short, long)]
    pub manifest: Option<PathBuf>,
    /// Apply a fresh plan without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

/// Runs `apply`.
pub async fn run(args: ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    match &args.plan {
        Some(plan_path) => apply_saved(&args, plan_path, global).await,
        None => apply_fresh(&args, global).await,
    }
}

async fn apply_fresh(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest_path = args.manifest.clone().unwrap_or_else(|| PathBuf::from("migration.toml"));
    let manifest = crate::manifest::load(&manifest_path)?;
    let conn = target::connect(&manifest, global.verbose).await?;
    let live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let (plan, desired) = plan::build(&manifest, &live, BuildOptions::default())?;
    output::stdout(&text::render(&plan, TextOptions { color: true, ..Default::default() }))?;
    if plan.is_empty() {
        return Ok(Exit::Success);
    }
    if !args.auto_approve && !output::confirm("Do you want to perform these actions?")? {
        output::status("Apply cancelled.");
        return Ok(Exit::Failure);
    }
    let report = apply::execute(&conn.client, &plan, Arc::new(desired), &options(args)).await?;
    let exit = finish(&plan, &report);
    if let Some(s) = conn.sandbox {
        s.shutdown().await;
    }
    Ok(exit)
}

async fn apply_saved(args: &ApplyArgs, plan_path: &Path, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let plan = plan::file::load(plan_path)?;
    let manifest_path = args.manifest.clone().unwrap_or_else(|| PathBuf::from(&plan.manifest.path));
    let manifest = crate::manifest::load(&manifest_path)?;
    check_current(&plan, &manifest)?;
    if plan.is_empty() {
        output::status("The plan has no changes: nothing to apply.");
        return Ok(Exit::Success);
    }
    let keys: HashSet<String> = plan.changes.iter().map(|c| c.key.clone()).collect();
    let desired = plan::collect_desired(&manifest, &keys)?;
    for change in &plan.changes {
        if let (Some(want), Some(d)) = (&change.desired_digest, desired.identities.get(&change.key)) {
            if &d.digest != want {
                anyhow::bail!(
                    "the record `{}` of source `{}` no longer matches the plan",
                    change.key,
                    d.source
                );
            }
        }
    }
    let conn = target::connect(&manifest, global.verbose).await?;
    output::status(&format!(
        "Applying plan {} ({} changes).",
        &plan.plan_id[..12],
        plan.changes.len()
    ));
    let report = apply::execute(&conn.client, &plan, Arc::new(desired), &options(args)).await?;
    let exit = finish(&plan, &report);
    if let Some(s) = conn.sandbox {
        s.shutdown().await;
    }
    Ok(exit)
}

/// Refuses a plan whose manifest or source files changed since it was made, before any
/// request that could change the tenant.
fn check_current(plan: &Plan, manifest: &Manifest) -> anyhow::Result<()> {
    let stale = |what: String| {
        with_hint(
            anyhow::anyhow!("the plan is stale: {what} changed since the plan was made; nothing was applied"),
            "run `avnology-migrate plan --out PLAN` again and review the new plan",
        )
    };
    if manifest.sha256 != plan.manifest.sha256 {
        return Err(stale(format!("the manifest `{}`", manifest.path.display())));
    }
    for source in &plan.sources {
        for file in &source.files {
            let path = manifest.dir.join(&file.path);
            let now = plan::file::sha256_file(&path).unwrap_or_default();
            if now != file.sha256 {
                return Err(stale(format!("source file `{}` (source `{}`)", path.display(), source.name)));
            }
        }
    }
    Ok(())
}

fn options(args: &ApplyArgs) -> ApplyOptions {
    ApplyOptions { concurrency: args.concurrency }
}

/// Prints failures and the summary; the exit status says whether everything applied.
fn finish(plan: &Plan, report: &ApplyReport) -> Exit {
    for o in &report.outcomes {
        match &o.outcome {
            OutcomeKind::Failed { error } => output::status(&format!(
                "error: {} {} `{}`: {error}",
                o.action.infinitive(),
                o.kind.noun(),
                o.key
            )),
            OutcomeKind::Stale => output::status(&format!(
                "stale: {} `{}` changed in the tenant since the plan was made; skipped",
                o.kind.noun(),
                o.key
            )),
            _ => {}
        }
    }
    let (applied, stale, failed) = (report.applied(), report.stale(), report.failed());
    output::status(&format!(
        "\nApply complete: {applied} applied, {stale} stale, {failed} failed (of {} planned).",
        plan.changes.len()
    ));
    if stale > 0 || failed > 0 {
        output::status("hint: run `avnology-migrate plan` to see what remains");
        Exit::Failure
    } else {
        Exit::Success
    }
}
