//! Applying identity changes: creates (deactivated after when the record is inactive),
//! updates and state changes with `If-Match`, adoptions of dual-write sign-ups, and deletes.
//! A create that meets its `external_id` already in the tenant, a conflict, or a change
//! looked at again after an interrupted run or an uncertain failure is settled against the
//! desired record: done when the identity already is as desired, stale when someone else
//! changed it, never created twice or overwritten.

use super::context::ApplyContext;
use super::guard;
use super::outcome::{
    Attempt, OutcomeKind, already_applied, applied, failed, request_failed, uncertain,
};
use super::request::{create_request, update_request};
use crate::diff::{self, IdentityAction};
use crate::plan::ownership::{Owner, Ownership};
use crate::plan::{Action, Change, DesiredIdentity};
use crate::wire;

/// Applies one identity change; `look_first` when it may have been done already (in flight
/// when an earlier run stopped, or retried after an uncertain failure).
pub(super) async fn apply_identity(
    ctx: &ApplyContext,
    change: &Change,
    desired: Option<&DesiredIdentity>,
    look_first: bool,
) -> Attempt {
    match change.action {
        Action::Create => {
            let Some(d) = desired else {
                return failed(&"the desired record is missing from the sources");
            };
            create(ctx, change, d, look_first).await
        }
        Action::Update | Action::Deactivate | Action::Reactivate => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id for this change");
            };
            let Some(d) = desired else {
                return failed(&"the desired record is missing from the sources");
            };
            update(ctx, change, d, id, look_first).await
        }
        Action::Adopt => {
            let (Some(id), Some(d)) = (change.live_id.as_deref(), desired) else {
                return failed(&"the plan has no live id or desired record for this adoption");
            };
            adopt(ctx, change, d, id).await
        }
        Action::Delete => {
            let Some(id) = change.live_id.as_deref() else {
                return failed(&"the plan has no live id for this change");
            };
            delete(ctx, change, id).await
        }
    }
}

async fn create(
    ctx: &ApplyContext,
    change: &Change,
    d: &DesiredIdentity,
    look_first: bool,
) -> Attempt {
    let client = &ctx.client;
    if look_first {
        // In flight when an earlier run stopped, or retried after an uncertain failure:
        // look it up by external_id before creating it again.
        match client
            .find_identity_by_external_id(ctx.organization(), &change.key)
            .await
        {
            Ok(Some(existing)) => return settle_existing(ctx, d, existing).await,
            Ok(None) => {}
            Err(e) => return request_failed(&e),
        }
    }
    let req = create_request(d, ctx.organization());
    let key = ctx.idempotency_key(change);
    let created = match client.create_identity(&req, Some(&key)).await {
        Ok(created) => created,
        Err(e) if e.is_conflict() => return reconcile_create(ctx, change, d).await,
        Err(e) => return request_failed(&e),
    };
    if d.identity.active {
        return applied(&created.id);
    }
    match client.deactivate_identity(&created.id, None).await {
        Ok(_) => applied(&created.id),
        Err(e) if uncertain(&e) => Attempt::Uncertain(e.to_string()),
        Err(e) => failed(&format!(
            "created as {} but not deactivated: {e}",
            created.id
        )),
    }
}

/// An update, deactivation or reactivation of the live identity `id`.
async fn update(
    ctx: &ApplyContext,
    change: &Change,
    d: &DesiredIdentity,
    id: &str,
    look_first: bool,
) -> Attempt {
    let client = &ctx.client;
    let mut etag = change.etag.clone();
    // The live object decides whether this manifest may touch it, not the plan.
    let live = match guard::checked(change, id, client.get_identity(id).await, &ctx.ownership) {
        Ok(live) => live,
        Err(end) => return end,
    };
    if look_first {
        let diff = diff::diff_identity(&d.fields, Some(&live), &[]);
        if diff.action == IdentityAction::NoOp {
            return already_applied(id);
        }
        // Only continue where this plan left off (a PATCH done, a state change pending);
        // any other difference is someone else's edit.
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
                Err(e) if e.is_conflict() => return settle_conflict(ctx, id, d).await,
                Err(e) => return request_failed(&e),
            }
        }
    }
    let state = match change.action {
        Action::Deactivate => client.deactivate_identity(id, etag.as_deref()).await,
        Action::Reactivate => client.reactivate_identity(id, etag.as_deref()).await,
        _ => return applied(id),
    };
    match state {
        Ok(_) => applied(id),
        Err(e) if e.is_conflict() => settle_conflict(ctx, id, d).await,
        Err(e) => request_failed(&e),
    }
}

/// A delete of the live identity `id`, fetched first, always: the owner marker on the live
/// object decides.
async fn delete(ctx: &ApplyContext, change: &Change, id: &str) -> Attempt {
    let client = &ctx.client;
    match guard::checked(change, id, client.get_identity(id).await, &ctx.ownership) {
        Ok(live) if live.state == wire::IdentityState::ScheduledDeletion => {
            return already_applied(id);
        }
        Ok(_) => {}
        Err(end) => return end,
    }
    super::outcome::deleted(id, client.delete_identity(id, change.etag.as_deref()).await)
}

/// Adopts the live identity `id` as the record `d`: only an identity without an owner
/// marker, without another `external_id`, whose email is the record's and verified on both
/// sides, and only as it was when planned (`If-Match`). Found already adopted (a lost
/// response, a resumed run), it is done or finishes its state change.
async fn adopt(ctx: &ApplyContext, change: &Change, d: &DesiredIdentity, id: &str) -> Attempt {
    let client = &ctx.client;
    let live = match client.get_identity(id).await {
        Ok(live) => live,
        Err(e) => return request_failed(&e),
    };
    if live.external_id.as_deref() == Some(change.key.as_str())
        && ctx.ownership.owner(&live.admin_metadata).is_ours()
    {
        let diff = diff::diff_identity(&d.fields, Some(&live), &[]);
        if diff.action == IdentityAction::NoOp {
            return already_applied(id);
        }
        if !only_state_differs(&diff) {
            return Attempt::Final(OutcomeKind::Stale);
        }
        return set_state(ctx, id, d, Some(&live.etag), &diff.changes).await;
    }
    if let Some(refused) = adoption_refusal(&live, change, d, &ctx.ownership) {
        return failed(&refused);
    }
    let mut etag = change.etag.clone();
    if let Some(req) = update_request(change, d) {
        match client.update_identity(id, &req, etag.as_deref()).await {
            Ok(updated) => etag = Some(updated.etag),
            Err(e) if e.is_conflict() => return settle_conflict(ctx, id, d).await,
            Err(e) => return request_failed(&e),
        }
    }
    set_state(ctx, id, d, etag.as_deref(), &change.fields).await
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
    ctx: &ApplyContext,
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
        Some("inactive") => ctx.client.deactivate_identity(id, etag).await,
        Some("active") => ctx.client.reactivate_identity(id, etag).await,
        _ => return applied(id),
    };
    match result {
        Ok(_) => applied(id),
        Err(e) if e.is_conflict() => settle_conflict(ctx, id, d).await,
        Err(e) => request_failed(&e),
    }
}

fn only_state_differs(diff: &diff::IdentityDiff) -> bool {
    diff.changes.iter().all(|c| c.path == "state")
}

/// An `If-Match` conflict on identity `id` (see [`super::outcome::settle_conflict`]).
async fn settle_conflict(ctx: &ApplyContext, id: &str, d: &DesiredIdentity) -> Attempt {
    super::outcome::settle_conflict(id, ctx.client.get_identity(id).await, |live| {
        diff::diff_identity(&d.fields, Some(live), &[]).action == IdentityAction::NoOp
    })
}

/// A create answered 409: look the identity up by external_id. If it is ours and as
/// declared (an earlier attempt's response was lost), the change is done; otherwise it is
/// reported, never duplicated or overwritten.
async fn reconcile_create(ctx: &ApplyContext, change: &Change, d: &DesiredIdentity) -> Attempt {
    match ctx
        .client
        .find_identity_by_external_id(ctx.organization(), &change.key)
        .await
    {
        Ok(Some(existing)) => settle_existing(ctx, d, existing).await,
        Ok(None) => failed(
            &"Avnology refused the create as a conflict: another identity already uses this email",
        ),
        Err(e) => request_failed(&e),
    }
}

/// An identity with the change's external_id exists: decide whether the create is done.
async fn settle_existing(
    ctx: &ApplyContext,
    d: &DesiredIdentity,
    existing: wire::Identity,
) -> Attempt {
    let diff = diff::diff_identity(&d.fields, Some(&existing), &[]);
    Attempt::Final(match diff.action {
        IdentityAction::NoOp => OutcomeKind::AlreadyApplied { id: existing.id },
        // Created by an attempt that stopped before deactivating it.
        IdentityAction::Deactivate if only_state_differs(&diff) => {
            match ctx
                .client
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
