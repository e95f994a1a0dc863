//! Runs a plan's changes on a bounded pool of concurrent requests and reports each outcome.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::request::{create_request, idempotency_key, update_request};
use crate::diff::{self, IdentityAction};
use crate::live::{wire, Client};
use crate::plan::{Action, Change, DesiredSet, ObjectKind, Plan};

/// Options for [`execute`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { concurrency: 8 }
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
    /// A create met an identity that an earlier, interrupted run already created with the
    /// same content: nothing to do.
    AlreadyApplied {
        /// Avnology id.
        id: String,
    },
    /// The live object changed since the plan (`If-Match` failed): skipped.
    Stale,
    /// Failed; the message names the change.
    Failed {
        /// Why, without secrets.
        error: String,
    },
}

/// The outcome of one change.
#[derive(Debug, Clone)]
pub struct ChangeOutcome {
    /// The change's key.
    pub key: String,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its action.
    pub action: Action,
    /// How it ended.
    pub outcome: OutcomeKind,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Every outcome, in completion order.
    pub outcomes: Vec<ChangeOutcome>,
}

impl ApplyReport {
    /// Changes applied (including creates found already applied).
    pub fn applied(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.outcome, OutcomeKind::Applied { .. } | OutcomeKind::AlreadyApplied { .. }))
            .count()
    }

    /// Changes skipped as stale.
    pub fn stale(&self) -> usize {
        self.outcomes.iter().filter(|o| o.outcome == OutcomeKind::Stale).count()
    }

    /// Changes that failed.
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o.outcome, OutcomeKind::Failed { .. })).count()
    }
}

/// Executes `plan` with the desired records it needs.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    desired: Arc<DesiredSet>,
    options: &ApplyOptions,
) -> anyhow::Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let org_id = resolve_organization(client, plan, &mut report).await?;
    let sem = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let plan_id: Arc<str> = plan.plan_id.clone().into();
    // Identities first, deletes last (a delete and a create never race for one email).
    for phase in [false, true] {
        let mut tasks = JoinSet::new();
        for change in plan.changes.iter().filter(|c| c.kind == ObjectKind::Identity) {
            if (change.action == Action::Delete) != phase {
                continue;
            }
            let permit = sem.clone().acquire_owned().await?;
            let (client, change, desired, plan_id, org_id) =
                (client.clone(), change.clone(), desired.clone(), plan_id.clone(), org_id.clone());
            tasks.spawn(async move {
                let outcome = apply_identity(&client, &plan_id, &change, &desired, org_id.as_deref()).await;
                drop(permit);
                ChangeOutcome { key: change.key, kind: change.kind, action: change.action, outcome }
            });
        }
        while let Some(done) = tasks.join_next().await {
            report.outcomes.push(done?);
        }
    }
    Ok(report)
}

/// Creates the organization if the plan says so; returns its id.
async fn resolve_organization(
    client: &Client,
    plan: &Plan,
    report: &mut ApplyReport,
) -> anyhow::Result<Option<String>> {
    let Some(name) = plan.target.organization.as_deref() else {
        return Ok(None);
    };
    if let Some(change) = plan.changes.iter().find(|c| c.kind == ObjectKind::Organization) {
        let req = wire::CreateOrganizationRequest {
            name: name.to_string(),
            display_name: None,
            slug: None,
            registration_mode: None,
        };
        let key = idempotency_key(&plan.plan_id, change);
        match client.create_organization(&req, Some(&key)).await {
            Ok(org) => {
                report.outcomes.push(ChangeOutcome {
                    key: name.to_string(),
                    kind: ObjectKind::Organization,
                    action: Action::Create,
                    outcome: OutcomeKind::Applied { id: org.id.clone() },
                });
                return Ok(Some(org.id));
            }
            // Someone (or an interrupted run) created it meanwhile: use it.
            Err(e) if e.is_conflict() => {}
            Err(e) => return Err(e.into()),
        }
    }
    match client.find_organization_by_name(name).await? {
        Some(org) => Ok(Some(org.id)),
        None => anyhow::bail!("organization `{name}` does not exist in the tenant"),
    }
}

async fn apply_identity(
    client: &Client,
    plan_id: &str,
    change: &Change,
    desired: &DesiredSet,
    org_id: Option<&str>,
) -> OutcomeKind {
    let failed = |e: &dyn std::fmt::Display| OutcomeKind::Failed { error: e.to_string() };
    match change.action {
        Action::Create => {
            let Some(d) = desired.identities.get(&change.key) else {
                return failed(&"the desired record is missing from the sources");
            };
            let req = create_request(d, org_id);
            let key = idempotency_key(plan_id, change);
            let created = match client.create_identity(&req, Some(&key)).await {
                Ok(created) => created,
                Err(e) if e.is_conflict() => return reconcile_create(client, change, d, org_id).await,
                Err(e) => return failed(&e),
            };
            if d.identity.active {
                return OutcomeKind::Applied { id: created.id };
            }
            match client.deactivate_identity(&created.id, Some(&created.etag)).await {
                Ok(_) => OutcomeKind::Applied { id: created.id },
                Err(e) => failed(&format!("created as {} but not deactivated: {e}", created.id)),
            }
        }
        Action::Update | Action::Deactivate | Action::Reactivate => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id for this change");
            };
            let mut etag = change.etag.clone();
            if let Some(req) = update_request(change, desired) {
                match client.update_identity(id, &req, etag.as_deref()).await {
                    Ok(updated) => etag = Some(updated.etag),
                    Err(e) if e.is_conflict() => return OutcomeKind::Stale,
                    Err(e) => return failed(&e),
                }
            }
            let state = match change.action {
                Action::Deactivate => client.deactivate_identity(id, etag.as_deref()).await,
                Action::Reactivate => client.reactivate_identity(id, etag.as_deref()).await,
                _ => return OutcomeKind::Applied { id: id.to_string() },
            };
            match state {
                Ok(_) => OutcomeKind::Applied { id: id.to_string() },
                Err(e) if e.is_conflict() => OutcomeKind::Stale,
                Err(e) => failed(&e),
            }
        }
        Action::Delete => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id for this change");
            };
            match client.delete_identity(id, change.etag.as_deref()).await {
                Ok(()) => OutcomeKind::Applied { id: id.to_string() },
                Err(e) if e.is_not_found() => OutcomeKind::AlreadyApplied { id: id.to_string() },
                Err(e) if e.is_conflict() => OutcomeKind::Stale,
                Err(e) => failed(&e),
            }
        }
    }
}

/// A create answered 409: look the identity up by external_id. If it is ours and already
/// as declared (an earlier attempt's response was lost), the change is done; otherwise it
/// is reported, never duplicated or overwritten.
async fn reconcile_create(
    client: &Client,
    change: &Change,
    d: &crate::plan::DesiredIdentity,
    org_id: Option<&str>,
) -> OutcomeKind {
    let existing = match client.find_identity_by_external_id(org_id, &change.key).await {
        Ok(Some(existing)) => existing,
        Ok(None) => {
            return OutcomeKind::Failed {
                error: "Avnology refused the create as a conflict (is the email already used by another identity?)"
                    .into(),
            };
        }
        Err(e) => return OutcomeKind::Failed { error: e.to_string() },
    };
    let diff = diff::diff_identity(&d.fields, Some(&existing), &[]);
    match diff.action {
        IdentityAction::NoOp => OutcomeKind::AlreadyApplied { id: existing.id },
        // Created by a run that stopped before deactivating it.
        IdentityAction::Deactivate if diff.changes.len() == 1 => {
            match client.deactivate_identity(&existing.id, Some(&existing.etag)).await {
                Ok(_) => OutcomeKind::AlreadyApplied { id: existing.id },
                Err(e) => OutcomeKind::Failed { error: e.to_string() },
            }
        }
        IdentityAction::Unowned => OutcomeKind::Failed {
            error: format!("an identity with this external_id exists ({}) but was not created by avnology-migrate", existing.id),
        },
        _ => OutcomeKind::Failed {
            error: format!("an identity with this external_id exists ({}) with different content; re-plan", existing.id),
        },
    }
}
