//! The client records' part in a plan: what the client half ([`super::super::clients`])
//! found besides its changes — skipped and invalid records, warnings, conflicts, counts —
//! merged into the plan's footer once the identities have been read.

use super::super::ObjectKind;
use super::super::clients::ClientPlan;
use super::Planner;
use super::only::selected;
use crate::model::ClientDecl;

impl Planner<'_> {
    /// Merges the client half's records, warnings, conflicts and counts into the footer.
    pub(super) fn client_records(&mut self, plan: &mut ClientPlan) {
        for r in std::mem::take(&mut plan.skipped) {
            self.skip(r);
        }
        for r in std::mem::take(&mut plan.invalid) {
            self.reject(r);
        }
        for w in std::mem::take(&mut plan.warnings) {
            self.warn(w);
        }
        let conflicts = std::mem::take(&mut plan.conflicts);
        self.footer.summary.conflicts += conflicts.len() as u64;
        self.footer.conflicts.extend(conflicts);
        for d in plan.desired.values() {
            if selected(
                self.options.only.as_ref(),
                client_kind(&d.decl),
                d.decl.external_id().as_str(),
                Some(&d.source),
            ) {
                self.tally(&d.source).accepted += 1;
            }
        }
        self.footer.summary.no_op += plan.no_op;
        self.footer.summary.clients.no_op = plan.no_op;
        self.footer.summary.clients.records = plan.records;
    }
}

/// The plan kind of a client declaration.
fn client_kind(decl: &ClientDecl) -> ObjectKind {
    match decl {
        ClientDecl::OAuth(_) => ObjectKind::OAuthClient,
        ClientDecl::ServiceAccount(_) => ObjectKind::ServiceAccount,
    }
}
