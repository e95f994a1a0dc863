//! Binding a saved plan's apply to the tenant the plan was made against, before any request
//! that writes: the live organization of the plan's name, and the journal's record of the
//! organization this plan created, are read here and judged by
//! [`crate::plan::freshness::check_tenant`].

use super::journal::{self, Journal, JournalState};
use crate::live::Client;
use crate::model::ExternalId;
use crate::plan::freshness;
use crate::plan::{Action, ObjectKind, Plan};

/// Refuses a tenant other than the one `plan` was made against (the refusal carries its
/// hint).
pub async fn check(client: &Client, plan: &Plan, journal: &Journal) -> anyhow::Result<()> {
    let Some(name) = plan.header.target.organization.as_deref() else {
        return Ok(());
    };
    let live = client
        .find_organization_by_name(name)
        .await?
        .map(|org| org.id);
    // Only a plan that does not record the organization's id is bound by its journal.
    let journaled = match (&plan.header.target.organization_id, &live) {
        (None, Some(_)) => {
            let created = journal::outcome_id(
                ObjectKind::Organization,
                Action::Create,
                &ExternalId::from(name),
            );
            match journal.state(&created)? {
                Some(JournalState::Done(id)) => Some(id),
                // This plan sent the create and was stopped before it recorded the answer:
                // the organization is its own (the create is sent again with the same
                // Idempotency-Key, and a conflict is settled by name, as on a first run).
                Some(JournalState::InFlight) => live.clone(),
                _ => None,
            }
        }
        _ => None,
    };
    freshness::check_tenant(plan, live.as_deref(), journaled.as_deref())
        .map_err(freshness::NotCurrent::hinted)
}
