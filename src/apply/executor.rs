//! Runs a plan's changes on a bounded pool of concurrent requests whose size adapts to the
//! server, phase by phase, records each outcome in the journal, and reports it. What a
//! change does to the tenant is in [`super::identities`], [`super::oauth_clients`] and
//! [`super::service_accounts`]; this file decides when it runs, how often it is tried, and
//! what becomes of its outcome.
//!
//! Dispatch stops when the cancel flag is raised (Ctrl-C); requests in flight finish and are
//! journaled, so the next `apply plan.json` resumes with nothing lost or doubled. It also
//! stops when the client gives up on a server that stopped answering: the changes then in
//! flight are left unfinished in the journal (a resume looks each one up before acting)
//! rather than reported one by one as failures, and the report names the outage once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::clients::apply_client;
use super::context::{ApplyContext, ApplyOptions};
use super::identities::apply_identity;
use super::journal::{self, JournalState, change_id};
use super::oauth_clients::OAuthClients;
use super::organization::resolve_organization;
use super::outcome::{ApplyReport, Attempt, ChangeOutcome, OutcomeKind};
use super::rate::RateController;
use super::service_accounts::{ServiceAccounts, resolve_owner};
use super::stream::Work;
use crate::live::Client;
use crate::plan::{Action, Change, DesiredIdentity, DesiredSet, ObjectKind, Plan};

/// How many times the executor itself re-sends a change whose outcome was uncertain (the
/// client already retried transient failures inside each attempt).
const MAX_CHANGE_ATTEMPTS: u32 = 4;

/// Executes the changes `work` yields (in plan order, from [`super::stream`]) for `plan`,
/// with the desired clients in `clients`. Phases run one after the other: a change of a
/// later phase waits until every change of the earlier ones has finished.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    mut work: mpsc::Receiver<anyhow::Result<Work>>,
    clients: Arc<DesiredSet>,
    options: &ApplyOptions,
) -> anyhow::Result<ApplyReport> {
    let mut report = ApplyReport::default();
    // A fresh journal needs no lookups; a resumed one is asked change by change.
    let journal = match &options.journal {
        Some(j) if !j.is_empty()? => Some(j.clone()),
        _ => None,
    };

    let organization_id =
        resolve_organization(client, plan, &mut report, options, journal.as_deref()).await?;
    let mut ctx = Arc::new(ApplyContext {
        client: client.clone(),
        plan_id: plan.plan_id.clone().into(),
        desired: clients,
        organization_id,
        // The owner of new service accounts is looked up once, when their phase starts (it
        // may be created by this plan's identity phase).
        owner_id: None,
        secrets: options.secrets.clone(),
        ownership: options.ownership.clone(),
        controller: Arc::new(RateController::new(
            options.concurrency.max(1),
            options.max_rps,
            client.clone(),
            options.trace.clone(),
        )),
    });
    let cancelled = || options.cancel.load(Ordering::SeqCst) || client.outage().is_some();

    let mut phase = Phase::Clients;
    let mut tasks = JoinSet::new();
    let mut failure: Option<anyhow::Error> = None;
    while let Some(item) = work.recv().await {
        let Work {
            change,
            identity: desired,
        } = match item {
            Ok(w) => w,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let Some(change_phase) = Phase::of(&change) else {
            continue;
        };
        if change_phase != phase {
            if change_phase < phase {
                failure = Some(anyhow::anyhow!(
                    "the plan lists {} `{}` out of apply order",
                    change.kind.noun(),
                    change.key
                ));
                break;
            }
            // Every change of the earlier phase finishes first.
            while let Some(done) = tasks.join_next().await {
                finish(&mut report, options, done?);
            }
            phase = change_phase;
            if phase == Phase::ServiceAccounts
                && plan.count(ObjectKind::ServiceAccount, Action::Create) > 0
                && !options.cancel.load(Ordering::SeqCst)
            {
                let owner_id =
                    resolve_owner(client, options.service_account_owner.as_deref()).await?;
                ctx = Arc::new(ApplyContext {
                    owner_id,
                    ..(*ctx).clone()
                });
            }
        }
        let id = change_id(&change);
        let mut resuming = false;
        if let Some(j) = &journal {
            match j.state(&id)? {
                Some(JournalState::Done(_)) => {
                    report.resumed += 1;
                    continue;
                }
                Some(_) => resuming = true,
                None => {}
            }
        }
        if cancelled() {
            break;
        }
        // Wait for a slot; harvest finished tasks meanwhile so outcomes stream.
        let permit = loop {
            tokio::select! {
                permit = ctx.controller.acquire() => break permit,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    finish(&mut report, options, done?);
                }
            }
        };
        if cancelled() {
            drop(permit);
            break;
        }
        if let Some(j) = &options.journal {
            j.start(&id)?;
        }
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let outcome = run_change(&ctx, change, desired, resuming).await;
            drop(permit);
            outcome
        });
    }
    // Stop the reader (it may be waiting to hand over more) and finish what is in flight.
    drop(work);
    while let Some(done) = tasks.join_next().await {
        finish(&mut report, options, done?);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    report.cancelled = options.cancel.load(Ordering::SeqCst);
    report.outage = client.outage();
    Ok(report)
}

/// Runs one change until its outcome is known, re-sending it (looking first) after an
/// uncertain failure. `None` when the client gave up on the server: whatever the change
/// met, its fate is unknown and a resume settles it.
async fn run_change(
    ctx: &ApplyContext,
    change: Change,
    desired: Option<DesiredIdentity>,
    resuming: bool,
) -> Option<ChangeOutcome> {
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let started = Instant::now();
        let look_first = resuming || attempts > 1;
        let attempt = match change.kind {
            ObjectKind::OAuthClient => apply_client::<OAuthClients>(ctx, &change, look_first).await,
            ObjectKind::ServiceAccount => {
                apply_client::<ServiceAccounts>(ctx, &change, look_first).await
            }
            _ => apply_identity(ctx, &change, desired.as_ref(), look_first).await,
        };
        ctx.controller.record(&attempt, started.elapsed());
        let settled = matches!(
            attempt,
            Attempt::Final(
                OutcomeKind::Applied { .. }
                    | OutcomeKind::AlreadyApplied { .. }
                    | OutcomeKind::Stale
            )
        );
        if !settled && ctx.client.outage().is_some() {
            return None;
        }
        match attempt {
            Attempt::Final(o) => break o,
            Attempt::Uncertain(e) if attempts >= MAX_CHANGE_ATTEMPTS => {
                break OutcomeKind::Failed { error: e };
            }
            Attempt::Uncertain(_) => {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempts))).await;
            }
        }
    };
    Some(ChangeOutcome {
        key: change.key,
        kind: change.kind,
        action: change.action,
        outcome,
        attempts,
    })
}

/// The phases of an apply, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// OAuth client creates and updates.
    Clients,
    /// Identity creates, updates and state changes.
    Identities,
    /// Service accounts (their documented create needs an existing owner identity).
    ServiceAccounts,
    /// Every delete, last, so a delete and a create never race for one email.
    Deletes,
}

impl Phase {
    /// The phase a change belongs to (`None` for the organization, settled before any).
    fn of(c: &Change) -> Option<Phase> {
        Some(match (c.kind, c.action) {
            (ObjectKind::Organization, _) => return None,
            (_, Action::Delete) => Phase::Deletes,
            (ObjectKind::OAuthClient, _) => Phase::Clients,
            (ObjectKind::Identity, _) => Phase::Identities,
            (ObjectKind::ServiceAccount, _) => Phase::ServiceAccounts,
        })
    }
}

/// Journals, reports and records one outcome; `None` is a change left unfinished by an
/// outage (its journal entry stays "started").
pub(super) fn finish(
    report: &mut ApplyReport,
    options: &ApplyOptions,
    outcome: Option<ChangeOutcome>,
) {
    let Some(outcome) = outcome else {
        report.unfinished += 1;
        return;
    };
    if let Some(j) = &options.journal {
        let state = match &outcome.outcome {
            OutcomeKind::Applied { id } | OutcomeKind::AlreadyApplied { id } => {
                JournalState::Done(id.clone())
            }
            OutcomeKind::Stale => JournalState::Stale,
            OutcomeKind::Failed { error } => JournalState::Failed(error.clone()),
        };
        let key = journal::outcome_id(outcome.kind, outcome.action, &outcome.key);
        if let Err(e) = j.finish(&key, &state) {
            // A journal write failure must not be silent: the change itself is done, but a
            // resume would look it up again (safe, just slower).
            options.notices.line(&format!("warning: {e:#}"));
        }
    }
    if let Some(observer) = &options.observer {
        observer(&outcome);
    }
    report.record(outcome);
}
