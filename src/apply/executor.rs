//! Runs a plan's changes on a bounded pool of concurrent requests whose size adapts to the
//! server, records each outcome in the journal, and reports it.
//!
//! Dispatch stops when the cancel flag is raised (Ctrl-C); requests in flight finish and are
//! journaled, so the next `apply plan.json` resumes with nothing lost or doubled. It also
//! stops when the client gives up on a server that stopped answering: the changes then in
//! flight are left unfinished in the journal (a resume looks each one up before acting)
//! rather than reported one by one as failures, and the report names the outage once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use tokio::sync::mpsc;

use super::journal::{self, Journal, JournalState, change_id};
use super::rate::RateController;
use super::request::{create_request, idempotency_key, update_request};
use super::secrets::SecretsFile;
use super::stream::Work;
use super::{clients, guard};
use crate::diff::{self, IdentityAction};
use crate::live::Client;
use crate::model::ExternalId;
use crate::plan::ownership::{Owner, Ownership};
use crate::plan::{Action, Change, DesiredIdentity, DesiredSet, ObjectKind, Plan};
use crate::printer::Trace;
use crate::wire;

/// Called with every finished change (progress bars, the NDJSON log).
pub type Observer = Arc<dyn Fn(&ChangeOutcome) + Send + Sync>;

/// Options for [`execute`].
#[derive(Clone)]
pub struct ApplyOptions {
    /// The most requests in flight at once (the adaptive limit starts here and never
    /// exceeds it).
    pub concurrency: usize,
    /// A cap on changes started per second.
    pub max_rps: Option<f64>,
    /// Where finished changes are recorded, for resume.
    pub journal: Option<Arc<Journal>>,
    /// Raised to stop dispatching (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Called with every outcome.
    pub observer: Option<Observer>,
    /// Where rate-control decisions go (`--verbose`); off by default.
    pub trace: Trace,
    /// Where warnings that do not stop the apply go (a journal write that failed); stderr
    /// by default.
    pub notices: Trace,
    /// Where minted client secrets and API keys go.
    pub secrets: Option<Arc<SecretsFile>>,
    /// Email of the identity that owns new service accounts.
    pub service_account_owner: Option<String>,
    /// The sources whose objects this apply may change or delete: the live object's owner
    /// marker is checked against them before every update, state change and delete.
    pub ownership: Arc<Ownership>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_rps: None,
            journal: None,
            cancel: Arc::default(),
            observer: None,
            trace: Trace::off(),
            notices: Trace::stderr(),
            secrets: None,
            service_account_owner: None,
            ownership: Arc::default(),
        }
    }
}

impl std::fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("concurrency", &self.concurrency)
            .field("max_rps", &self.max_rps)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

/// How one change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Done; the Avnology id of the object.
    Applied {
        /// Avnology id.
        id: String,
    },
    /// Already done: by an earlier, interrupted run of this plan (journal or lookup), or a
    /// create whose lost response is found reconciled by external_id.
    AlreadyApplied {
        /// Avnology id.
        id: String,
    },
    /// The live object changed since the plan (`If-Match` failed): skipped.
    Stale,
    /// Failed; the message names the problem, never a secret.
    Failed {
        /// Why.
        error: String,
    },
}

/// The outcome of one change.
#[derive(Debug, Clone)]
pub struct ChangeOutcome {
    /// The change's key.
    pub key: ExternalId,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its action.
    pub action: Action,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// Times the executor sent it (1 unless an uncertain failure was retried).
    pub attempts: u32,
}

/// How many failed or stale outcomes a report keeps to print; the rest are counted (and
/// written to `--log`).
pub const MAX_REPORTED_OUTCOMES: usize = 1000;

/// What an apply did: counts, and the first failed or stale outcomes. Memory stays flat in
/// the number of changes.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Changes applied in this run.
    pub applied: u64,
    /// Changes found already done (a lost response, or an interrupted earlier run).
    pub already_applied: u64,
    /// Changes skipped as stale.
    pub stale: u64,
    /// Changes that failed.
    pub failed: u64,
    /// The first [`MAX_REPORTED_OUTCOMES`] failed or stale outcomes, in completion order.
    pub notable: Vec<ChangeOutcome>,
    /// Changes the journal showed done before this run.
    pub resumed: u64,
    /// Whether dispatch was cancelled.
    pub cancelled: bool,
    /// Why dispatch stopped because the API stopped answering.
    pub outage: Option<crate::live::Outage>,
    /// Changes in flight when the API stopped answering, left for a resume to look up.
    pub unfinished: u64,
}

impl ApplyReport {
    /// Changes applied in this run (including ones found already done by lookup).
    pub fn applied(&self) -> u64 {
        self.applied + self.already_applied
    }

    fn record(&mut self, outcome: ChangeOutcome) {
        match &outcome.outcome {
            OutcomeKind::Applied { .. } => self.applied += 1,
            OutcomeKind::AlreadyApplied { .. } => self.already_applied += 1,
            OutcomeKind::Stale => self.stale += 1,
            OutcomeKind::Failed { .. } => self.failed += 1,
        }
        if matches!(
            outcome.outcome,
            OutcomeKind::Stale | OutcomeKind::Failed { .. }
        ) && self.notable.len() < MAX_REPORTED_OUTCOMES
        {
            self.notable.push(outcome);
        }
    }
}

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

    let org_id =
        resolve_organization(client, plan, &mut report, options, journal.as_deref()).await?;
    let controller = Arc::new(RateController::new(
        options.concurrency.max(1),
        options.max_rps,
        client.clone(),
        options.trace.clone(),
    ));
    let plan_id: Arc<str> = plan.plan_id.clone().into();

    // The owner of new service accounts, looked up once (it may be created by this plan's
    // identity phase, so only when the service-account phase starts).
    let mut owner_id: Option<Arc<str>> = None;
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
                owner_id = resolve_owner(client, options.service_account_owner.as_deref())
                    .await?
                    .map(Into::into);
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
        if options.cancel.load(Ordering::SeqCst) || client.outage().is_some() {
            break;
        }
        // Wait for a slot; harvest finished tasks meanwhile so outcomes stream.
        let permit = loop {
            tokio::select! {
                permit = controller.acquire() => break permit,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    finish(&mut report, options, done?);
                }
            }
        };
        if options.cancel.load(Ordering::SeqCst) || client.outage().is_some() {
            drop(permit);
            break;
        }
        if let Some(j) = &options.journal {
            j.start(&id)?;
        }
        let (client, clients, plan_id, org_id, controller, owner_id, secrets, ownership) = (
            client.clone(),
            clients.clone(),
            plan_id.clone(),
            org_id.clone(),
            controller.clone(),
            owner_id.clone(),
            options.secrets.clone(),
            options.ownership.clone(),
        );
        tasks.spawn(async move {
            let mut attempts = 0;
            let outcome = loop {
                attempts += 1;
                let started = Instant::now();
                let look_first = resuming || attempts > 1;
                let org = org_id.as_deref();
                let outcome = match change.kind {
                    ObjectKind::OAuthClient => {
                        clients::apply_oauth_client(
                            &client,
                            &plan_id,
                            &change,
                            &clients,
                            org,
                            secrets.as_deref(),
                            &ownership,
                            look_first,
                        )
                        .await
                    }
                    ObjectKind::ServiceAccount => {
                        clients::apply_service_account(
                            &client,
                            &plan_id,
                            &change,
                            &clients,
                            org,
                            owner_id.as_deref(),
                            secrets.as_deref(),
                            &ownership,
                            look_first,
                        )
                        .await
                    }
                    _ => {
                        apply_identity(
                            &client,
                            &plan_id,
                            &change,
                            desired.as_ref(),
                            org,
                            &ownership,
                            look_first,
                        )
                        .await
                    }
                };
                controller.record(&outcome, started.elapsed());
                // The client gave up on the server: whatever this attempt met, the change's
                // fate is unknown and a resume settles it.
                let settled = matches!(
                    outcome,
                    Attempt::Final(
                        OutcomeKind::Applied { .. }
                            | OutcomeKind::AlreadyApplied { .. }
                            | OutcomeKind::Stale
                    )
                );
                if !settled && client.outage().is_some() {
                    return None;
                }
                match outcome {
                    Attempt::Final(o) => break o,
                    Attempt::Uncertain(e) if attempts >= MAX_CHANGE_ATTEMPTS => {
                        break OutcomeKind::Failed { error: e };
                    }
                    Attempt::Uncertain(_) => {
                        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempts))).await;
                    }
                }
            };
            drop(permit);
            Some(ChangeOutcome {
                key: change.key,
                kind: change.kind,
                action: change.action,
                outcome,
                attempts,
            })
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

/// Finds the identity that owns new service accounts, by email.
async fn resolve_owner(client: &Client, email: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(email) = email else { return Ok(None) };
    let filter = crate::live::filter::all_equal(&[("email", email)]);
    let page = client.list_identities(Some(&filter), 1, None).await?;
    match page.identities.into_iter().next() {
        Some(i) => Ok(Some(i.id)),
        None => Err(crate::error::with_hint(
            anyhow::anyhow!("service_account_owner `{email}` is not an identity in the tenant"),
            "set [target] service_account_owner to the email of an existing (or migrated) user",
        )),
    }
}

/// Journals, reports and records one outcome; `None` is a change left unfinished by an
/// outage (its journal entry stays "started").
fn finish(report: &mut ApplyReport, options: &ApplyOptions, outcome: Option<ChangeOutcome>) {
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

/// Creates the organization if the plan says so; returns its id.
async fn resolve_organization(
    client: &Client,
    plan: &Plan,
    report: &mut ApplyReport,
    options: &ApplyOptions,
    journal: Option<&Journal>,
) -> anyhow::Result<Option<String>> {
    let Some(name) = plan.header.target.organization.as_deref() else {
        return Ok(None);
    };
    if plan.count(ObjectKind::Organization, Action::Create) > 0 {
        let change = &Change {
            kind: ObjectKind::Organization,
            action: Action::Create,
            key: ExternalId::from(name.to_string()),
            source: None,
            live_id: None,
            etag: None,
            desired_digest: None,
            fields: Vec::new(),
            record: None,
        };
        if let Some(j) = journal
            && let Some(JournalState::Done(id)) = j.state(&change_id(change))?
        {
            report.resumed += 1;
            return Ok(Some(id));
        }
        let req = wire::CreateOrganizationRequest {
            name: name.to_string(),
            display_name: None,
            slug: None,
            registration_mode: None,
        };
        let key = idempotency_key(&plan.plan_id, change);
        let outcome = match client.create_organization(&req, Some(&key)).await {
            Ok(org) => Some(OutcomeKind::Applied { id: org.id }),
            // Created meanwhile (by someone, or by a run whose response was lost): use it.
            Err(e) if e.is_conflict() => None,
            Err(e) => return Err(e.into()),
        };
        let id = match outcome {
            Some(OutcomeKind::Applied { id }) => id,
            _ => match client.find_organization_by_name(name).await? {
                Some(org) => org.id,
                None => anyhow::bail!("organization `{name}` could not be created or found"),
            },
        };
        finish(
            report,
            options,
            Some(ChangeOutcome {
                key: ExternalId::from(name.to_string()),
                kind: ObjectKind::Organization,
                action: Action::Create,
                outcome: OutcomeKind::Applied { id: id.clone() },
                attempts: 1,
            }),
        );
        return Ok(Some(id));
    }
    match client.find_organization_by_name(name).await? {
        Some(org) => Ok(Some(org.id)),
        None => anyhow::bail!("organization `{name}` does not exist in the tenant"),
    }
}

/// One attempt at a change.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The change's outcome is known.
    Final(OutcomeKind),
    /// A failure after which the write may or may not have happened; worth another look.
    Uncertain(String),
}

fn uncertain(e: &crate::live::Error) -> bool {
    e.is_retryable() || e.status().is_some_and(|s| s >= 500)
}

async fn apply_identity(
    client: &Client,
    plan_id: &str,
    change: &Change,
    desired: Option<&DesiredIdentity>,
    org_id: Option<&str>,
    ownership: &Ownership,
    look_first: bool,
) -> Attempt {
    let failed = |e: &dyn std::fmt::Display| {
        Attempt::Final(OutcomeKind::Failed {
            error: e.to_string(),
        })
    };
    match change.action {
        Action::Create => {
            let Some(d) = desired else {
                return failed(&"the desired record is missing from the sources");
            };
            if look_first {
                // In flight when an earlier run stopped, or retried after an uncertain
                // failure: look it up by external_id before creating it again.
                match client
                    .find_identity_by_external_id(org_id, &change.key)
                    .await
                {
                    Ok(Some(existing)) => {
                        return settle_existing(client, d, existing).await;
                    }
                    Ok(None) => {}
                    Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                    Err(e) => return failed(&e),
                }
            }
            let req = create_request(d, org_id);
            let key = idempotency_key(plan_id, change);
            let created = match client.create_identity(&req, Some(&key)).await {
                Ok(created) => created,
                Err(e) if e.is_conflict() => {
                    return reconcile_create(client, change, d, org_id).await;
                }
                Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                Err(e) => return failed(&e),
            };
            if d.identity.active {
                return Attempt::Final(OutcomeKind::Applied { id: created.id });
            }
            match client.deactivate_identity(&created.id, None).await {
                Ok(_) => Attempt::Final(OutcomeKind::Applied { id: created.id }),
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&format!(
                    "created as {} but not deactivated: {e}",
                    created.id
                )),
            }
        }
        Action::Update | Action::Deactivate | Action::Reactivate => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id for this change");
            };
            let Some(d) = desired else {
                return failed(&"the desired record is missing from the sources");
            };
            let mut etag = change.etag.clone();
            // The live object decides whether this manifest may touch it, not the plan.
            let live = match client.get_identity(id).await {
                Ok(live) => live,
                Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                Err(e) => return failed(&e),
            };
            if let Some(refused) = guard::refusal(
                change,
                id,
                live.external_id.as_deref(),
                &live.admin_metadata,
                ownership,
            ) {
                return failed(&refused);
            }
            if look_first {
                let diff = diff::diff_identity(&d.fields, Some(&live), &[]);
                if diff.action == IdentityAction::NoOp {
                    return Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() });
                }
                // Only continue where this plan left off (a PATCH done, a state change
                // pending); any other difference is someone else's edit.
                if Some(&live.etag) != change.etag.as_ref() && !only_state_differs(&diff) {
                    return Attempt::Final(OutcomeKind::Stale);
                }
                etag = Some(live.etag);
            }
            if let Some(req) = update_request(change, d) {
                let patch_needed = !look_first || etag == change.etag;
                if patch_needed {
                    match client.update_identity(id, &req, etag.as_deref()).await {
                        Ok(updated) => etag = Some(updated.etag),
                        Err(e) if e.is_conflict() => {
                            return settle_conflict(client, id, d).await;
                        }
                        Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                        Err(e) => return failed(&e),
                    }
                }
            }
            let state = match change.action {
                Action::Deactivate => client.deactivate_identity(id, etag.as_deref()).await,
                Action::Reactivate => client.reactivate_identity(id, etag.as_deref()).await,
                _ => return Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
            };
            match state {
                Ok(_) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
                Err(e) if e.is_conflict() => settle_conflict(client, id, d).await,
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
        Action::Adopt => {
            let (Some(id), Some(d)) = (change.live_id.as_deref(), desired) else {
                return failed(&"the plan has no live id or desired record for this adoption");
            };
            adopt_identity(client, change, d, id, ownership).await
        }
        Action::Delete => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id for this change");
            };
            // Fetched first, always: the owner marker on the live object decides.
            match client.get_identity(id).await {
                Ok(live) => {
                    if let Some(refused) = guard::refusal(
                        change,
                        id,
                        live.external_id.as_deref(),
                        &live.admin_metadata,
                        ownership,
                    ) {
                        return failed(&refused);
                    }
                    if live.state == wire::IdentityState::ScheduledDeletion {
                        return Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() });
                    }
                }
                Err(e) if e.is_not_found() => {
                    return Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() });
                }
                Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                Err(e) => return failed(&e),
            }
            match client.delete_identity(id, change.etag.as_deref()).await {
                Ok(()) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
                Err(e) if e.is_not_found() => {
                    Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() })
                }
                Err(e) if e.is_conflict() => Attempt::Final(OutcomeKind::Stale),
                Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
                Err(e) => failed(&e),
            }
        }
    }
}

/// Adopts the live identity `id` as the record `d`: only an identity without an owner
/// marker, without another `external_id`, whose email is the record's and verified on both
/// sides, and only as it was when planned (`If-Match`). Found already adopted (a lost
/// response, a resumed run), it is done or finishes its state change.
async fn adopt_identity(
    client: &Client,
    change: &Change,
    d: &DesiredIdentity,
    id: &str,
    ownership: &Ownership,
) -> Attempt {
    let failed = |e: &dyn std::fmt::Display| {
        Attempt::Final(OutcomeKind::Failed {
            error: e.to_string(),
        })
    };
    let live = match client.get_identity(id).await {
        Ok(live) => live,
        Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
        Err(e) => return failed(&e),
    };
    if live.external_id.as_deref() == Some(change.key.as_str())
        && ownership.owner(&live.admin_metadata).is_ours()
    {
        let diff = diff::diff_identity(&d.fields, Some(&live), &[]);
        if diff.action == IdentityAction::NoOp {
            return Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() });
        }
        if !only_state_differs(&diff) {
            return Attempt::Final(OutcomeKind::Stale);
        }
        return set_state(client, id, d, Some(&live.etag), &diff.changes).await;
    }
    if let Some(refused) = adoption_refusal(&live, change, d, ownership) {
        return failed(&refused);
    }
    let mut etag = change.etag.clone();
    if let Some(req) = update_request(change, d) {
        match client.update_identity(id, &req, etag.as_deref()).await {
            Ok(updated) => etag = Some(updated.etag),
            Err(e) if e.is_conflict() => return settle_conflict(client, id, d).await,
            Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
            Err(e) => return failed(&e),
        }
    }
    set_state(client, id, d, etag.as_deref(), &change.fields).await
}

/// Why the live identity may not be adopted as the change's record, if it may not.
fn adoption_refusal(
    live: &wire::Identity,
    change: &Change,
    d: &DesiredIdentity,
    ownership: &Ownership,
) -> Option<String> {
    if !matches!(ownership.owner(&live.admin_metadata), Owner::Unmarked) {
        return Some(format!(
            "refused: the live identity {} carries an owner marker; only identities avnology-migrate did not create are adopted",
            live.id
        ));
    }
    if live
        .external_id
        .as_deref()
        .is_some_and(|k| k != change.key.as_str())
    {
        return Some(format!(
            "refused: the live identity {} has another external_id (was the plan edited?)",
            live.id
        ));
    }
    let same_email = d
        .identity
        .email
        .as_deref()
        .is_some_and(|e| e.to_lowercase() == live.email.to_lowercase());
    if !same_email || !live.email_verified || d.identity.email_verified != Some(true) {
        return Some(format!(
            "refused: the live identity {} does not have this record's email, verified on both sides",
            live.id
        ));
    }
    None
}

/// The state change among `fields`, if any (after the fields were written).
async fn set_state(
    client: &Client,
    id: &str,
    d: &DesiredIdentity,
    etag: Option<&str>,
    fields: &[diff::FieldChange],
) -> Attempt {
    let state = fields
        .iter()
        .find(|f| f.path == "state")
        .and_then(|f| f.after.as_ref())
        .and_then(serde_json::Value::as_str);
    let result = match state {
        Some("inactive") => client.deactivate_identity(id, etag).await,
        Some("active") => client.reactivate_identity(id, etag).await,
        _ => return Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
    };
    match result {
        Ok(_) => Attempt::Final(OutcomeKind::Applied { id: id.to_string() }),
        Err(e) if e.is_conflict() => settle_conflict(client, id, d).await,
        Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
        Err(e) => Attempt::Final(OutcomeKind::Failed {
            error: e.to_string(),
        }),
    }
}

fn only_state_differs(diff: &diff::IdentityDiff) -> bool {
    diff.changes.iter().all(|c| c.path == "state")
}

/// An `If-Match` conflict: done if the identity already is as desired (a lost response of
/// this very change), otherwise someone else changed it: stale.
async fn settle_conflict(client: &Client, id: &str, d: &DesiredIdentity) -> Attempt {
    match client.get_identity(id).await {
        Ok(live)
            if diff::diff_identity(&d.fields, Some(&live), &[]).action == IdentityAction::NoOp =>
        {
            Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() })
        }
        // Not knowing is not the same as someone else's edit: look again.
        Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
        _ => Attempt::Final(OutcomeKind::Stale),
    }
}

/// A create answered 409: look the identity up by external_id. If it is ours and as
/// declared (an earlier attempt's response was lost), the change is done; otherwise it is
/// reported, never duplicated or overwritten.
async fn reconcile_create(
    client: &Client,
    change: &Change,
    d: &DesiredIdentity,
    org_id: Option<&str>,
) -> Attempt {
    match client.find_identity_by_external_id(org_id, &change.key).await {
        Ok(Some(existing)) => settle_existing(client, d, existing).await,
        Ok(None) => Attempt::Final(OutcomeKind::Failed {
            error: "Avnology refused the create as a conflict: another identity already uses this email".into(),
        }),
        Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
        Err(e) => Attempt::Final(OutcomeKind::Failed { error: e.to_string() }),
    }
}

/// An identity with the change's external_id exists: decide whether the create is done.
async fn settle_existing(
    client: &Client,
    d: &DesiredIdentity,
    existing: wire::Identity,
) -> Attempt {
    let diff = diff::diff_identity(&d.fields, Some(&existing), &[]);
    Attempt::Final(match diff.action {
        IdentityAction::NoOp => OutcomeKind::AlreadyApplied { id: existing.id },
        // Created by an attempt that stopped before deactivating it.
        IdentityAction::Deactivate if only_state_differs(&diff) => {
            match client
                .deactivate_identity(&existing.id, Some(&existing.etag))
                .await
            {
                Ok(_) => OutcomeKind::AlreadyApplied { id: existing.id },
                // The deactivation may have happened (a 500 after commit): look again.
                Err(e) if uncertain(&e) => return Attempt::Uncertain(e.to_string()),
                Err(e) => OutcomeKind::Failed {
                    error: e.to_string(),
                },
            }
        }
        IdentityAction::Unowned => OutcomeKind::Failed {
            error: format!(
                "an identity with this external_id exists ({}) but was not created by avnology-migrate",
                existing.id
            ),
        },
        _ => OutcomeKind::Failed {
            error: format!(
                "an identity with this external_id exists ({}) with different content; re-plan",
                existing.id
            ),
        },
    })
}
