//! The delete phase of a plan, last in apply order: identities of this manifest's sources
//! that no source declared (prune), or every one of them (destroy), and the clients the
//! client half found to delete; and the count of what the plan leaves alone.

use super::super::clients::unowned;
use super::super::live_index::{LiveIdentities, owner_source};
use super::super::ownership::Owner;
use super::super::{Action, Change, ObjectKind};
use super::{LiveState, PlanError, Planner};
use crate::model::ExternalId;
use crate::wire;

impl Planner<'_> {
    /// Plans the deletes: never another source's identity, never one already scheduled for
    /// deletion, never in a partial plan. They are counted first, so a plan over
    /// `max_deletes` is refused before any is written.
    pub(super) fn deletes(
        &mut self,
        live: &mut LiveIdentities,
        client_deletes: Vec<Change>,
    ) -> Result<(), PlanError> {
        let (manifest, options) = (self.manifest, self.options);
        let ownership = self.ownership.clone();
        // A partial plan never deletes.
        let deleting = (options.destroy || manifest.policy.prune) && options.only.is_none();
        let wanted = |l: &wire::Identity| {
            deleting
                && l.state != wire::IdentityState::ScheduledDeletion
                && ownership.owner(&l.admin_metadata).is_ours()
        };
        let mut identity_deletes = 0u64;
        let mut kept = 0u64;
        live.for_each_undeclared(|l| {
            if wanted(&l) {
                identity_deletes += 1;
            } else if l.state != wire::IdentityState::ScheduledDeletion
                && let Owner::Ours(s) | Owner::Adopted(s) = ownership.owner(&l.admin_metadata)
            {
                *self.footer.owned_after.entry(s.to_string()).or_default() += 1;
                kept += 1;
            }
        })
        .map_err(PlanError::LiveIndex)?;
        // At a final sync these are users deleted in the old provider: say so, once.
        if kept > 0 && !options.destroy && options.only.is_none() {
            self.warn(format!(
                "{kept} identit{} of this manifest's sources in the tenant {} no longer in any source; kept, since prune is off (`verify` names them; prune = true deletes them)",
                if kept == 1 { "y" } else { "ies" },
                if kept == 1 { "is" } else { "are" },
            ));
        }
        let total_deletes = identity_deletes + client_deletes.len() as u64;
        let max_deletes = options.max_deletes.unwrap_or(manifest.policy.max_deletes);
        if total_deletes > max_deletes {
            return Err(PlanError::TooManyDeletes {
                deletes: total_deletes,
                max: max_deletes,
            });
        }
        if identity_deletes > 0 {
            let mut result = Ok(());
            live.for_each_undeclared(|l| {
                if result.is_err() || !wanted(&l) {
                    return;
                }
                result = self.emit(Change {
                    kind: ObjectKind::Identity,
                    action: Action::Delete,
                    key: ExternalId::from(l.external_id.clone().unwrap_or_default()),
                    source: owner_source(&l).map(str::to_string),
                    live_id: Some(l.id.clone()),
                    etag: Some(l.etag.clone()),
                    desired_digest: None,
                    fields: Vec::new(),
                    record: None,
                });
            })
            .map_err(PlanError::LiveIndex)?;
            result?;
        }
        self.emit_all(client_deletes)
    }

    /// Counts what the tenant holds that this manifest does not own: identities without an
    /// external_id, without a marker or with another source's marker, and clients alike.
    pub(super) fn count_unowned(&mut self, live: &LiveState) {
        let foreign_identities: u64 = live
            .identities
            .owned_by_source
            .iter()
            .filter(|(source, _)| !self.ownership.is_ours(source))
            .map(|(_, n)| n)
            .sum();
        self.footer.summary.unowned = live.identities.without_external_id
            + live.identities.unowned
            + foreign_identities
            + unowned(&live.oauth_clients, &live.service_accounts, &self.ownership)
            + (live.unkeyed_oauth_clients.len() + live.unkeyed_service_accounts.len()) as u64;
    }
}
