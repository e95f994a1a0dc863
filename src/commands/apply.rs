//! `avnology-migrate apply`: execute a saved plan, or plan, show, confirm and execute.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

use super::{PaceArgs, target};
use crate::apply::journal::{self, Journal};
use crate::apply::lock::{self, LockError, TenantLock};
use crate::apply::log::OutcomeLog;
use crate::apply::secrets::SecretsFile;
use crate::apply::secrets_out::{self, ApplyFiles, TakenPath};
use crate::apply::{self, ApplyOptions, ApplyReport, ChangeOutcome, Observer, OutcomeKind};
use crate::cli::GlobalArgs;
use crate::error::{Exit, with_hint};
use crate::live::Client;
use crate::manifest::Manifest;
use crate::plan::file::PlanFile;
use crate::plan::freshness::{self, NotCurrent};
use crate::plan::{self, BuildOptions, Plan};
use crate::printer::{self, Trace};
use crate::render::escape::terminal;
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
    /// Concurrency, pace and the log.
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Where newly minted client secrets and API keys are written (NDJSON, mode 0600): a new
    /// file, or the one an interrupted apply of the same plan created. Required when the plan
    /// creates a confidential client or a service account; secrets go nowhere else.
    #[arg(long, value_name = "FILE")]
    pub secrets_out: Option<PathBuf>,
    /// Without a plan file: plan and apply only this object or source (repeatable), as
    /// `plan --only` does: `identity:<external_id>`, `oauth_client:<key>`,
    /// `service_account:<key>` or `source:<name>`. A partial plan never deletes anything. A
    /// saved plan records its own selection.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "plan")]
    pub only: Vec<crate::plan::selection::Address>,
    /// How long to wait for the tenant lock when another apply against the same tenant runs
    /// on this machine (e.g. `10m`); `0` (the default) fails at once, naming the holder.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_lock_timeout)]
    pub lock_timeout: std::time::Duration,
    /// The folder of the tenant lock files (default: `AVNOLOGY_MIGRATE_LOCK_DIR`, else
    /// `$XDG_STATE_HOME` or `~/.local/state`, then `avnology-migrate/locks`).
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
}

/// Parses `--lock-timeout`: `0`, or a duration as `--give-up-after` takes it.
pub fn parse_lock_timeout(s: &str) -> Result<std::time::Duration, String> {
    if s.trim().trim_end_matches(['s', 'm', 'h']) == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    crate::cli::parse_duration(s)
}

/// Takes the tenant lock for this apply (see [`crate::apply::lock`]).
async fn take_lock(
    args: &ApplyArgs,
    manifest: &Manifest,
    plan_id: &str,
) -> anyhow::Result<TenantLock> {
    let dir = lock::lock_dir(args.lock_dir.as_deref());
    let tenant = lock::tenant_of(manifest);
    lock::acquire(&dir, &tenant, plan_id, args.lock_timeout, &Trace::stderr())
        .await
        .map_err(|e| {
            let hint = if matches!(e, LockError::Held { .. }) {
                "wait for it to finish, or pass --lock-timeout 10m to wait for it; the lock is released when that process exits (the lock covers one machine: across CI runners, use the workflow's concurrency group)"
            } else {
                "pass --lock-dir DIR (or set AVNOLOGY_MIGRATE_LOCK_DIR) to a writable folder"
            };
            with_hint(e, hint)
        })
}

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
    freshness::check_target_set(manifest).map_err(NotCurrent::hinted)?;
    let options = BuildOptions {
        only: crate::plan::selection::Selection::of(&args.only),
        ..BuildOptions::default()
    };
    crate::plan::build::check_selection(manifest, &options)?;
    // Held from before the plan is made to the end of the apply, like Terraform's state lock.
    let mut lock = take_lock(args, manifest, "").await?;
    let conn = target::connect(manifest, global).await?;
    let mut live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let built = target::build_plan(manifest, &mut live, options)?;
    drop(live);
    lock.set_plan(&built.plan.plan_id);
    printer::stdout(&text::render(
        &built.plan,
        TextOptions {
            color: true,
            ..Default::default()
        },
    ))?;
    if built.plan.is_empty() {
        return Ok(conflicts_left(&built.plan));
    }
    if !args.auto_approve && !printer::confirm("Do you want to perform these actions?")? {
        printer::status("Apply cancelled.");
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
    drop(lock);
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
    let manifest_path = match &args.manifest {
        Some(path) => path.clone(),
        None => recorded_manifest(plan_path, &plan.header.manifest.path)?,
    };
    let manifest = crate::manifest::load(&manifest_path)?;
    freshness::check_current(plan, &manifest).map_err(NotCurrent::hinted)?;
    if plan.is_empty() {
        printer::status("The plan has no changes: nothing to apply.");
        return Ok(conflicts_left(plan));
    }
    let lock = take_lock(args, &manifest, &plan.plan_id).await?;
    let journal = Arc::new(Journal::open(&journal::path_for(plan_path), &plan.plan_id)?);
    let recorded = journal.count_done()?;
    let conn = target::connect(&manifest, global).await?;
    apply::tenant::check(&conn.client, plan, &journal).await?;
    if recorded >= plan.total_changes() {
        // The journal's word is checked against the tenant before "nothing to do".
        let exit = reconciled(&conn.client, plan).await?;
        if exit == Exit::Success {
            printer::status(&format!(
                "Plan {} was already applied in full (journal {}): nothing to do.",
                terminal(short(&plan.plan_id)),
                terminal(&journal.path().display().to_string())
            ));
        }
        return Ok(exit);
    }
    if journal.is_empty()? {
        printer::status(&format!(
            "Applying plan {} ({} changes).",
            terminal(short(&plan.plan_id)),
            plan.total_changes()
        ));
    } else {
        printer::status(&format!(
            "Resuming plan {} from its journal ({recorded} of {} changes done).",
            terminal(short(&plan.plan_id)),
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
    drop(lock);
    Ok(exit)
}

/// The manifest a saved plan was made from. The plan records its path relative to the plan
/// file's folder; plans saved by earlier versions recorded it as given on the command line, so
/// that path, relative to the working directory, is tried next. Either way the manifest's
/// digest must then match the plan's.
pub(crate) fn recorded_manifest(plan_path: &Path, recorded: &str) -> anyhow::Result<PathBuf> {
    let recorded = Path::new(recorded);
    let beside_plan = match plan_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) => folder.join(recorded),
        None => recorded.to_path_buf(),
    };
    if beside_plan.exists() {
        return Ok(beside_plan);
    }
    if recorded.exists() {
        return Ok(recorded.to_path_buf());
    }
    Err(with_hint(
        anyhow::anyhow!(
            "cannot find the manifest the plan was made from: `{}` does not exist (the plan records `{}`, relative to its own folder); nothing was applied",
            beside_plan.display(),
            recorded.display()
        ),
        "pass the manifest with -m FILE",
    ))
}

/// Opens `--secrets-out`, refusing to start a plan that mints secrets without one, and a path
/// that is one of the files this apply reads or writes (`plan_file`: the saved plan, when
/// there is one).
fn open_secrets(
    args: &ApplyArgs,
    plan: &Plan,
    manifest: &Manifest,
    plan_file: Option<&Path>,
) -> anyhow::Result<Option<Arc<SecretsFile>>> {
    let mints = plan.summary().clients.mint_secrets > 0;
    match &args.secrets_out {
        Some(path) if !mints => {
            printer::status(&format!(
                "This plan mints no secrets: `{}` is not written.",
                path.display()
            ));
            Ok(None)
        }
        Some(path) => {
            let files = ApplyFiles {
                manifest,
                plan_file,
                log: args.pace.log.as_deref(),
            };
            secrets_out::check_destination(path, &files)
                .map_err(|e| with_hint(e, TakenPath::HINT))?;
            let file = SecretsFile::open(path, &plan.plan_id).map_err(|e| {
                with_hint(
                    anyhow::Error::new(e).context(format!(
                        "cannot use `{}` for the secrets; nothing was applied",
                        path.display()
                    )),
                    "pass --secrets-out a path that does not exist yet; a resumed apply of the same plan may reuse the file its first run created",
                )
            })?;
            Ok(Some(Arc::new(file)))
        }
        None if mints => Err(with_hint(
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
            printer::status(
                "\nInterrupted: no new changes will start; waiting for requests in flight…",
            );
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
    let secrets = open_secrets(args, plan, manifest, journal.as_ref().map(|(_, p)| *p))?;
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
    let log = match &args.pace.log {
        Some(path) => Some(Arc::new(OutcomeLog::open(path)?)),
        None => None,
    };
    let observer: Observer = {
        let (progress, log) = (progress.clone(), log.clone());
        Arc::new(move |o: &ChangeOutcome| {
            progress.inc();
            if let Some(log) = &log {
                log.write(o);
            }
        })
    };
    let options = ApplyOptions {
        secrets,
        service_account_owner: manifest.target.service_account_owner.clone(),
        concurrency: args.pace.concurrency,
        max_rps: args.pace.max_rps,
        journal: journal.as_ref().map(|(j, _)| j.clone()),
        cancel: cancel.clone(),
        observer: Some(observer),
        trace: Trace::verbose(verbose),
        notices: Trace::stderr(),
        ownership: Arc::new(crate::plan::ownership::Ownership::of(manifest)),
    };
    let (work, reader) = apply::stream::spawn(file, manifest.clone(), clients.clone())?;
    let report = apply::execute(client, plan, work, clients, &options).await;
    progress.finish();
    if let Some(log) = &log {
        log.flush();
    }
    let report = report?;
    // The reader has ended (it ends with the plan, or when the executor stops listening).
    if !report.cancelled {
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    }
    let stats = client.stats();
    let mut exit = finish(plan, &report, stats.retries);
    let resume = match &journal {
        Some((_, path)) => format!(
            "avnology-migrate apply {}",
            terminal(&path.display().to_string())
        ),
        None => "avnology-migrate apply (a fresh plan picks up what is left)".to_string(),
    };
    if let Some(outage) = &report.outage {
        printer::status(&format!(
            "error: {}; apply stopped. {} changes were in flight (a resume looks each one up before acting) and {} were not started. The journal is saved.\nhint: check AVNOLOGY_API_URL and the network; when the API answers again, resume with `{resume}`",
            terminal(&outage.to_string()),
            report.unfinished,
            report.not_started(plan.total_changes()),
        ));
        return Ok(Exit::Failure);
    }
    // A run that skipped changes on its journal's word checks the tenant before it says done.
    if exit == Exit::Success && !report.cancelled && report.resumed > 0 {
        exit = reconciled(client, plan).await?;
    }
    if exit == Exit::Success && !report.cancelled {
        exit = conflicts_left(plan);
    }
    if report.cancelled {
        printer::status(&format!(
            "Stopped after an interrupt (Ctrl-C or SIGTERM): {} changes not started. The journal is saved.\nhint: resume with `{resume}`",
            report.not_started(plan.total_changes())
        ));
        return Ok(Exit::Failure);
    }
    Ok(exit)
}

/// A plan that left records out because of conflicts did not migrate them: say so and fail.
fn conflicts_left(plan: &Plan) -> Exit {
    let n = plan.footer.summary.conflicts;
    if n == 0 {
        return Exit::Success;
    }
    printer::status(&format!(
        "error: {n} record(s) conflict with live objects and were left out (listed in the plan)\nhint: resolve them, or set [policy] adopt = \"verified_email\" to adopt dual-write sign-ups whose email is verified on both sides, then plan again"
    ));
    Exit::Failure
}

/// Counts the identities of each source the plan expects in the tenant; a difference (a
/// journal that records as done what the tenant does not show) is reported as a failure.
async fn reconciled(client: &Client, plan: &Plan) -> anyhow::Result<Exit> {
    let differences = apply::reconcile::check(client, plan).await?;
    if differences.is_empty() {
        return Ok(Exit::Success);
    }
    for d in &differences {
        printer::status(&format!("error: {}", terminal(&d.to_string())));
    }
    printer::status(
        "error: the journal records changes as done that the tenant does not show; the apply is not complete\nhint: run `avnology-migrate plan` to see what is missing, and apply that plan",
    );
    Ok(Exit::Failure)
}

/// Prints failures and the summary; the exit status says whether everything applied. Keys
/// come from exports and errors quote the server, so both are escaped: one line per outcome.
fn finish(plan: &Plan, report: &ApplyReport, retries: u64) -> Exit {
    for o in &report.notable {
        match &o.outcome {
            OutcomeKind::Failed { error } => printer::status(&format!(
                "error: {} {} `{}`: {}",
                o.action.infinitive(),
                o.kind.noun(),
                terminal(&o.key),
                terminal(error)
            )),
            OutcomeKind::Stale => printer::status(&format!(
                "stale: {} `{}` changed in the tenant since the plan was made; skipped",
                o.kind.noun(),
                terminal(&o.key)
            )),
            _ => {}
        }
    }
    let listed = report.notable.len() as u64;
    if report.stale + report.failed > listed {
        printer::status(&format!(
            "… and {} more failed or stale changes (pass --log FILE for every outcome)",
            report.stale + report.failed - listed
        ));
    }
    let (stale, failed) = (report.stale, report.failed);
    let not_started = report.not_started(plan.total_changes());
    let unfinished = match report.unfinished {
        0 => String::new(),
        n => format!("{n} unfinished, "),
    };
    printer::status(&format!(
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
        printer::status("hint: run `avnology-migrate plan` to see what remains");
        Exit::Failure
    } else {
        Exit::Success
    }
}
