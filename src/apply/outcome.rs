//! How a change ends: one [`Attempt`] at it (its outcome known, or worth another look), the
//! [`ChangeOutcome`] reported and journaled, and the [`ApplyReport`] that counts them. The
//! helpers here turn the API's answers into attempts the same way for every kind of object.

use crate::live;
use crate::model::ExternalId;
use crate::plan::{Action, ObjectKind};

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

    pub(super) fn record(&mut self, outcome: ChangeOutcome) {
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

    /// Changes of a plan of `planned` changes neither finished nor in flight when the run
    /// ended.
    pub fn not_started(&self, planned: u64) -> u64 {
        planned.saturating_sub(
            self.resumed + self.applied() + self.stale + self.failed + self.unfinished,
        )
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

/// Whether a failed request may have changed the tenant anyway (a timeout, a 5xx after
/// commit): the change is looked at again rather than reported as failed.
pub(super) fn uncertain(e: &live::Error) -> bool {
    e.is_retryable() || e.status().is_some_and(|s| s >= 500)
}

/// The change failed for the reason `e`.
pub(super) fn failed(e: &dyn std::fmt::Display) -> Attempt {
    Attempt::Final(OutcomeKind::Failed {
        error: e.to_string(),
    })
}

/// The change is done: `id` is the object's Avnology id.
pub(super) fn applied(id: &str) -> Attempt {
    Attempt::Final(OutcomeKind::Applied { id: id.to_string() })
}

/// The change was already done (a lost response, an earlier run).
pub(super) fn already_applied(id: &str) -> Attempt {
    Attempt::Final(OutcomeKind::AlreadyApplied { id: id.to_string() })
}

/// A request failed: worth another look if it may have happened, otherwise the change
/// failed.
pub(super) fn request_failed(e: &live::Error) -> Attempt {
    if uncertain(e) {
        Attempt::Uncertain(e.to_string())
    } else {
        failed(e)
    }
}

/// The answer to a delete of `id` sent with the planned `If-Match`: gone already is done,
/// a conflict is someone else's edit.
pub(super) fn deleted(id: &str, answer: live::Result<()>) -> Attempt {
    match answer {
        Ok(()) => applied(id),
        Err(e) if e.is_not_found() => already_applied(id),
        Err(e) if e.is_conflict() => Attempt::Final(OutcomeKind::Stale),
        Err(e) => request_failed(&e),
    }
}

/// An `If-Match` conflict on `id`, with the object read again: done if it already is as
/// desired (a lost response of this very change), otherwise someone else changed it: stale.
/// Not knowing is not the same as someone else's edit: an uncertain read looks again.
pub(super) fn settle_conflict<T>(
    id: &str,
    reread: live::Result<T>,
    as_desired: impl FnOnce(&T) -> bool,
) -> Attempt {
    match reread {
        Ok(live) if as_desired(&live) => already_applied(id),
        Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
        _ => Attempt::Final(OutcomeKind::Stale),
    }
}
