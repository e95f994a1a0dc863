//! The plan's organization, settled before any other change: created when the plan says so
//! (once, journaled like any change), otherwise looked up by name. Every object the apply
//! creates goes in it.

use super::context::ApplyOptions;
use super::journal::{Journal, JournalState, change_id};
use super::outcome::{ApplyReport, ChangeOutcome, OutcomeKind};
use super::request::idempotency_key;
use crate::live::Client;
use crate::model::ExternalId;
use crate::plan::{Action, Change, ObjectKind, Plan};
use crate::wire;

/// Creates the organization if the plan says so, or finds it; returns its id (`None` when
/// the plan names no organization). A create is reported through `finish`, as every
/// finished change is.
pub(super) async fn resolve_organization(
    client: &Client,
    plan: &Plan,
    report: &mut ApplyReport,
    options: &ApplyOptions,
    journal: Option<&Journal>,
) -> anyhow::Result<Option<String>> {
    let Some(name) = plan.header.target.organization.as_deref() else {
        return Ok(None);
    };
    if plan.count(ObjectKind::Organization, Action::Create) == 0 {
        return match client.find_organization_by_name(name).await? {
            Some(org) => Ok(Some(org.id)),
            None => anyhow::bail!("organization `{name}` does not exist in the tenant"),
        };
    }
    // The organization's change is keyed by its name.
    let key = ExternalId::from(name);
    let change = &Change {
        kind: ObjectKind::Organization,
        action: Action::Create,
        key: key.clone(),
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
    // Recorded as in flight before the request: a run killed between the create and the
    // journal's record of it is resumed as this plan's own create (see `apply::tenant`).
    if let Some(j) = journal {
        j.start(&change_id(change))?;
    }
    let idempotency = idempotency_key(&plan.plan_id, change);
    let id = match client.create_organization(&req, Some(&idempotency)).await {
        Ok(org) => org.id,
        // Created meanwhile (by someone, or by a run whose response was lost): use it.
        Err(e) if e.is_conflict() => match client.find_organization_by_name(name).await? {
            Some(org) => org.id,
            None => anyhow::bail!("organization `{name}` could not be created or found"),
        },
        Err(e) => return Err(e.into()),
    };
    super::executor::finish(
        report,
        options,
        Some(ChangeOutcome {
            key,
            kind: ObjectKind::Organization,
            action: Action::Create,
            outcome: OutcomeKind::Applied { id: id.clone() },
            attempts: 1,
        }),
    );
    Ok(Some(id))
}
