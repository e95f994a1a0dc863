//! `avnology-migrate apply`: execute a saved plan, or plan, show, confirm and execute.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

use super::{output, target};
use crate::apply::journal::{self, Journal};
use crate::apply::secrets::SecretsFile;
use crate::apply::{self, ApplyOptions, ApplyReport, ChangeOutcome, Observer, OutcomeKind};
use crate::cli::GlobalArgs;
use crate::error::{Exit, with_hint};
use crate::live::Client;
use crate::manifest::Manifest;
use crate::plan::file::PlanFile;
use crate::plan::{self, BuildOptions, Plan};
use crate::render::progress::Progress;
use crate::render::text::{self, TextOptions};

/// Apply the changes: a saved plan exactly, or a fresh plan after confirmation.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ApplyArgs {
    /// A plan file from `plan --out`. Without it, a fresh plan is made and shown first.
    pub plan: Option<PathBuf>,
    /// The manifest (with a plan file: defaults to the one the plan was made from).
    #[arg(short, long)]
    pub manifest: Option<PathBuf>,
    /// Apply a fresh plan without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// The most requests in flight at once (the tool adapts below this to the server).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Never start more than this many changes per second.
    #[arg(long, value_parser = super::apply::parse_rate)]
    pub max_rps: Option<f64>,
    /// Write one NDJSON line per finished change (key, action, outcome, attempts, id, error).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Where newly minted client secrets and API keys are written (NDJSON, mode 0600). Required
    /// when the plan creates a confidential client or a service account; secrets go nowhere
    /// else.
    #[arg(long, value_name = "FILE")]
    pub secrets_out: Option<PathBuf>,
}

/// Parses `--max-rps`: a positive, finite number of changes per second (0 or NaN would
/// otherwise silently mean "no cap").
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        Ok(_) => Err(format!(
            "`{s}` is not a rate: give a positive number of changes per second, or leave --max-rps out for no cap"
        )),
        Err(e) => Err(format!("`{s}`: {e}")),
    }
}

/// Requests in flight at once unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Runs `apply`.
pub async fn run(args: ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    match &args.plan {
        Some(plan_path) => apply_saved(&args, plan_path, global).await,
        None => apply_fresh(&args, global).await,
    }
}

async fn apply_fresh(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest_path = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from("migration.toml"));
    let manifest = crate::manifest::load(&manifest_path)?;
    apply_manifest(args, &manifest, global).await
}

/// Plans `manifest`, shows the plan, asks (unless `--auto-approve`) and applies it.
pub async fn apply_manifest(
    args: &ApplyArgs,
    manifest: &Manifest,
    global: &GlobalArgs,
) -> anyhow::Result<Exit> {
    let conn = target::connect(manifest, global).await?;
    let mut live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let built = target::build_plan(manifest, &mut live, BuildOptions::default())?;
    drop(live);
    output::stdout(&text::render(
        &built.plan,
        TextOptions {
            color: true,
            ..Default::default()
        },
    ))?;
    if built.plan.is_empty() {
        return Ok(Exit::Success);
    }
    if !args.auto_approve && !output::confirm("Do you want to perform these actions?")? {
        output::status("Apply cancelled.");
        return Ok(Exit::Failure);
    }
    // The plan just shown, from its (temporary) file: applied exactly as a saved plan is.
    let written = built
        .file
        .context("a plan computed for apply has a plan file")?;
    let file = PlanFile::open(written.path())?;
    let cancel = on_interrupt();
    let exit = run_plan(
        args,
        &conn.client,
        &file,
        manifest,
        None,
        cancel,
        global.verbose,
    )
    .await?;
    drop(written);
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    Ok(exit)
}

async fn apply_saved(
    args: &ApplyArgs,
    plan_path: &Path,
    global: &GlobalArgs,
) -> anyhow::Result<Exit> {
    // A saved plan asks nothing: Ctrl-C from the first moment means "stop cleanly".
    let cancel = on_interrupt();
    let file = PlanFile::open(plan_path)?;
    let plan = &file.plan;
    let manifest_path = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from(&plan.header.manifest.path));
    let manifest = crate::manifest::load(&manifest_path)?;
    check_current(plan, &manifest)?;
    if plan.is_empty() {
        output::status("The plan has no changes: nothing to apply.");
        return Ok(Exit::Success);
    }
    let journal = Arc::new(Journal::open(&journal::path_for(plan_path), &plan.plan_id)?);
    let recorded = journal.count_done()?;
    if recorded >= plan.total_changes() {
        output::status(&format!(
            "Plan {} was already applied in full (journal {}): nothing to do.",
            short(&plan.plan_id),
            journal.path().display()
        ));
        return Ok(Exit::Success);
    }
    let conn = target::connect(&manifest, global).await?;
    if journal.is_empty()? {
        output::status(&format!(
            "Applying plan {} ({} changes).",
            short(&plan.plan_id),
            plan.total_changes()
        ));
    } else {
        output::status(&format!(
            "Resuming plan {} from its journal ({recorded} of {} changes done).",
            short(&plan.plan_id),
            plan.total_changes()
        ));
    }
    let exit = run_plan(
        args,
        &conn.client,
        &file,
        &manifest,
        Some((journal, plan_path)),
        cancel,
        global.verbose,
    )
    .await?;
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    Ok(exit)
}

/// Opens `--secrets-out`, refusing to start a plan that mints secrets without one.
fn open_secrets(args: &ApplyArgs, plan: &Plan) -> anyhow::Result<Option<Arc<SecretsFile>>> {
    match &args.secrets_out {
        Some(path) => Ok(Some(Arc::new(SecretsFile::open(path).with_context(
            || format!("cannot open the secrets file `{}`", path.display()),
        )?))),
        None if plan.summary().clients.mint_secrets > 0 => Err(crate::error::with_hint(
            anyhow::anyhow!(
                "this plan creates clients or service accounts whose secrets Avnology shows only once; nothing was applied"
            ),
            "pass --secrets-out FILE (created with mode 0600) to keep them",
        )),
        None => Ok(None),
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// From now on Ctrl-C (SIGINT) and SIGTERM (what CI cancellation and Kubernetes send) stop
/// dispatching instead of killing the process: no new change starts, those in flight finish
/// and are journaled, and the summary and resume hint are printed.
fn on_interrupt() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    tokio::spawn(async move {
        if interrupted().await {
            flag.store(true, Ordering::SeqCst);
            eprintln!("\nInterrupted: no new changes will start; waiting for requests in flight…");
        }
    });
    cancel
}

/// Waits for Ctrl-C or SIGTERM; `false` if neither can be listened for.
async fn interrupted() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.is_ok(),
            r = term.recv() => r.is_some(),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Executes a plan file with progress, the journal, the NDJSON log and `cancel` (raised by
/// Ctrl-C). The changes stream from the file, paired with the records re-read from the
/// manifest's sources.
async fn run_plan(
    args: &ApplyArgs,
    client: &Client,
    file: &PlanFile,
    manifest: &Manifest,
    journal: Option<(Arc<Journal>, &Path)>,
    cancel: Arc<AtomicBool>,
    verbose: bool,
) -> anyhow::Result<Exit> {
    let plan = &file.plan;
    let secrets = open_secrets(args, plan)?;
    let clients = Arc::new(plan::collect_desired_clients(manifest)?);
    let progress = {
        let c = client.clone();
        Progress::new(
            plan.total_changes(),
            std::io::stderr().is_terminal(),
            move || c.stats().retries,
        )
    };
    progress.spawn_plain_ticker();
    let log = match &args.log {
        Some(path) => Some(Arc::new(Mutex::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file `{}`", path.display()))?,
        )))),
        None => None,
    };
    let observer: Observer = {
        let (progress, log) = (progress.clone(), log.clone());
        Arc::new(move |o: &ChangeOutcome| {
            progress.inc();
            if let Some(log) = &log {
                let line = log_line(o);
                let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(f, "{line}");
            }
        })
    };
    let options = ApplyOptions {
        secrets,
        service_account_owner: manifest.target.service_account_owner.clone(),
        concurrency: args.concurrency,
        max_rps: args.max_rps,
        journal: journal.as_ref().map(|(j, _)| j.clone()),
        cancel: cancel.clone(),
        observer: Some(observer),
        verbose,
    };
    let (work, reader) = apply::stream::spawn(file, manifest.clone(), clients.clone())?;
    let report = apply::execute(client, plan, work, clients, &options).await;
    progress.finish();
    if let Some(log) = &log {
        let _ = log.lock().unwrap_or_else(|p| p.into_inner()).flush();
    }
    let report = report?;
    // The reader has ended (it ends with the plan, or when the executor stops listening).
    if !report.cancelled {
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    }
    let stats = client.stats();
    let exit = finish(plan, &report, stats.retries);
    let resume = match &journal {
        Some((_, path)) => format!("avnology-migrate apply {}", path.display()),
        None => "avnology-migrate apply (a fresh plan picks up what is left)".to_string(),
    };
    if let Some(outage) = &report.outage {
        output::status(&format!(
            "error: {outage}; apply stopped. {} changes were in flight (a resume looks each one up before acting) and {} were not started. The journal is saved.\nhint: check AVNOLOGY_API_URL and the network; when the API answers again, resume with `{resume}`",
            report.unfinished,
            not_started(plan, &report),
        ));
        return Ok(Exit::Failure);
    }
    if report.cancelled {
        output::status(&format!(
            "Stopped after an interrupt (Ctrl-C or SIGTERM): {} changes not started. The journal is saved.\nhint: resume with `{resume}`",
            not_started(plan, &report)
        ));
        return Ok(Exit::Failure);
    }
    Ok(exit)
}

/// One NDJSON log line for a finished change.
fn log_line(o: &ChangeOutcome) -> String {
    let (outcome, id, error) = match &o.outcome {
        OutcomeKind::Applied { id } => ("applied", Some(id.as_str()), None),
        OutcomeKind::AlreadyApplied { id } => ("already_applied", Some(id.as_str()), None),
        OutcomeKind::Stale => ("stale", None, None),
        OutcomeKind::Failed { error } => ("failed", None, Some(error.as_str())),
    };
    serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "kind": o.kind,
        "key": o.key,
        "action": o.action,
        "outcome": outcome,
        "attempts": o.attempts,
        "avnology_id": id,
        "error": error,
    })
    .to_string()
}

/// Refuses a plan made for another tenant URL, or whose manifest or source files changed
/// since it was made, before any request that could change the tenant.
fn check_current(plan: &Plan, manifest: &Manifest) -> anyhow::Result<()> {
    let stale = |what: String| {
        with_hint(
            anyhow::anyhow!(
                "the plan is stale: {what} changed since the plan was made; nothing was applied"
            ),
            "run `avnology-migrate plan --out PLAN` again and review the new plan",
        )
    };
    let target = plan::build::target_url(manifest);
    if target != plan.header.target.url {
        return Err(with_hint(
            anyhow::anyhow!(
                "the plan was made for the tenant at `{}`, but the target is now `{target}`; nothing was applied",
                plan.header.target.url
            ),
            "apply a plan where it was made: check AVNOLOGY_API_URL and [target] url, or plan again for this tenant",
        ));
    }
    if manifest.sha256 != plan.header.manifest.sha256 {
        return Err(stale(format!("the manifest `{}`", manifest.path.display())));
    }
    for source in &plan.header.sources {
        for file in &source.files {
            let path = manifest.dir.join(&file.path);
            let now = plan::file::sha256_path(&path).unwrap_or_default();
            if now != file.sha256 {
                return Err(stale(format!(
                    "source file `{}` (source `{}`)",
                    path.display(),
                    source.name
                )));
            }
        }
    }
    Ok(())
}

/// Changes neither finished nor in flight when the run ended.
fn not_started(plan: &Plan, report: &ApplyReport) -> u64 {
    plan.total_changes().saturating_sub(
        report.resumed + report.applied() + report.stale + report.failed + report.unfinished,
    )
}

/// Prints failures and the summary; the exit status says whether everything applied.
fn finish(plan: &Plan, report: &ApplyReport, retries: u64) -> Exit {
    for o in &report.notable {
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
    let listed = report.notable.len() as u64;
    if report.stale + report.failed > listed {
        output::status(&format!(
            "… and {} more failed or stale changes (pass --log FILE for every outcome)",
            report.stale + report.failed - listed
        ));
    }
    let (stale, failed) = (report.stale, report.failed);
    let not_started = not_started(plan, report);
    let unfinished = match report.unfinished {
        0 => String::new(),
        n => format!("{n} unfinished, "),
    };
    output::status(&format!(
        "\nApply {}: {} planned, {} applied ({} found already applied), {} applied by an earlier run, {stale} stale, {failed} failed, {unfinished}{not_started} not started; {retries} retries. Source records: {}, skipped: {}.",
        if report.outage.is_some() {
            "stopped (the API stopped answering)"
        } else if report.cancelled {
            "interrupted"
        } else {
            "complete"
        },
        plan.total_changes(),
        report.applied(),
        report.already_applied,
        report.resumed,
        plan.summary().source_records,
        plan.summary().skipped,
    ));
    if stale > 0 || failed > 0 {
        output::status("hint: run `avnology-migrate plan` to see what remains");
        Exit::Failure
    } else {
        Exit::Success
    }
}
