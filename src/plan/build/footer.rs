//! What a plan's footer accumulates while the planner runs: each change counted, sampled
//! for review and written to the plan file; skipped and invalid records, warnings and
//! per-source tallies; and, at the end, the footer and the seal.

use serde_json::Value;

use super::super::file::WrittenPlan;
use super::super::{
    Action, Change, GroupCount, LISTED_PER_GROUP, MAX_LISTED_RECORDS, ObjectKind, Plan, PlanHeader,
    SkippedRecord, SourceTally,
};
use super::error::{MAX_LISTED_ERRORS, describe_invalid};
use super::{PlanError, Planner};
use crate::manifest::OnInvalid;

impl Planner<'_> {
    /// Counts a change of `kind` and `action`; returns whether it is among the first of its
    /// group, which the review sample lists.
    pub(super) fn count(&mut self, kind: ObjectKind, action: Action) -> bool {
        let group = if let Some(g) = self
            .footer
            .groups
            .iter_mut()
            .find(|g| g.kind == kind && g.action == action)
        {
            g
        } else {
            self.footer.groups.push(GroupCount {
                kind,
                action,
                count: 0,
            });
            self.footer.groups.last_mut().expect("just pushed")
        };
        group.count += 1;
        if kind != ObjectKind::Organization {
            match action {
                Action::Create => self.footer.summary.create += 1,
                Action::Adopt => self.footer.summary.adopt += 1,
                Action::Update => self.footer.summary.update += 1,
                Action::Deactivate => self.footer.summary.deactivate += 1,
                Action::Reactivate => self.footer.summary.reactivate += 1,
                Action::Delete => self.footer.summary.delete += 1,
            }
        }
        group.count <= LISTED_PER_GROUP as u64
    }

    /// Records one change: counted, sampled, and written to the plan file (an identity
    /// create without its fields: those stay in the sources and the sample).
    pub(super) fn emit(&mut self, mut change: Change) -> Result<(), PlanError> {
        let listed = self.count(change.kind, change.action);
        if matches!(
            change.kind,
            ObjectKind::OAuthClient | ObjectKind::ServiceAccount
        ) {
            match change.action {
                Action::Create => {
                    self.footer.summary.clients.create += 1;
                    if mints_secret(&change) {
                        self.footer.summary.clients.mint_secrets += 1;
                    }
                }
                Action::Delete => self.footer.summary.clients.delete += 1,
                _ => self.footer.summary.clients.update += 1,
            }
        }
        if let Some(writer) = &mut self.writer {
            if change.kind == ObjectKind::Identity && change.action == Action::Create {
                // Written without its fields; the sample keeps them for the first few.
                let fields = std::mem::take(&mut change.fields);
                writer.change(&change)?;
                change.fields = fields;
            } else {
                writer.change(&change)?;
            }
        }
        if listed {
            self.footer.sample.push(change);
        }
        Ok(())
    }

    /// Records each of `changes` in turn.
    pub(super) fn emit_all(&mut self, changes: Vec<Change>) -> Result<(), PlanError> {
        for change in changes {
            self.emit(change)?;
        }
        Ok(())
    }

    /// Keeps a warning for the reviewer (the first ones; the rest are counted).
    pub(super) fn warn(&mut self, warning: String) {
        if self.footer.warnings.len() < MAX_LISTED_RECORDS {
            self.footer.warnings.push(warning);
        } else {
            self.warnings_dropped += 1;
        }
    }

    /// The record counts of `source`, started at its first record.
    pub(super) fn tally(&mut self, source: &str) -> &mut SourceTally {
        if let Some(i) = self.footer.tallies.iter().position(|t| t.source == source) {
            &mut self.footer.tallies[i]
        } else {
            self.footer.tallies.push(SourceTally {
                source: source.to_string(),
                ..Default::default()
            });
            self.footer.tallies.last_mut().expect("just pushed")
        }
    }

    /// Counts a record left out on purpose (listing the first ones).
    pub(super) fn skip(&mut self, record: SkippedRecord) {
        if !self.in_selection(&record) {
            return;
        }
        self.footer.summary.skipped += 1;
        self.tally(&record.source).skipped += 1;
        if self.footer.skipped.len() < MAX_LISTED_RECORDS {
            self.footer.skipped.push(record);
        }
    }

    /// Counts an invalid record (listing the first ones).
    pub(super) fn reject(&mut self, record: SkippedRecord) {
        if !self.in_selection(&record) {
            return;
        }
        self.footer.summary.invalid += 1;
        self.tally(&record.source).invalid += 1;
        if self.footer.invalid.len() < MAX_LISTED_RECORDS {
            self.footer.invalid.push(record);
        }
    }

    /// Refuses the plan when a record was invalid and `[policy] on_invalid = "fail"` (unless
    /// the caller lists invalid records as data).
    pub(super) fn refuse_invalid(&self) -> Result<(), PlanError> {
        let summary = &self.footer.summary;
        if summary.invalid > 0
            && self.manifest.policy.on_invalid == OnInvalid::Fail
            && !self.options.keep_invalid
        {
            let errors = self
                .footer
                .invalid
                .iter()
                .take(MAX_LISTED_ERRORS)
                .map(describe_invalid)
                .collect();
            return Err(PlanError::InvalidRecords {
                errors,
                total: summary.invalid,
            });
        }
        Ok(())
    }

    /// Closes the plan: the warnings about what was left alone, then the footer and the
    /// seal (unless counting only).
    pub(super) fn finish(
        mut self,
        header: PlanHeader,
    ) -> Result<(Plan, Option<WrittenPlan>), PlanError> {
        for (other, n) in std::mem::take(&mut self.foreign) {
            self.warn(format!(
                "{n} identit{} this manifest declares belong{} to source `{other}`, which it does not name; left untouched (if `{other}` was renamed, add adopt_sources = [\"{other}\"] to [policy] to take them over)",
                if n == 1 { "y" } else { "ies" },
                if n == 1 { "s" } else { "" },
            ));
        }
        if self.restores > 0 {
            let n = self.restores;
            self.warn(format!(
                "{n} identit{} of this manifest's sources {} scheduled for deletion in the tenant and will be restored",
                if n == 1 { "y" } else { "ies" },
                if n == 1 { "is" } else { "are" },
            ));
        }
        if self.warnings_dropped > 0 {
            let dropped = self.warnings_dropped;
            self.footer
                .warnings
                .push(format!("… and {dropped} more warnings of the kinds above"));
        }
        let file = match self.writer {
            Some(writer) => Some(writer.finish(&self.footer)?),
            None => None,
        };
        let plan = Plan {
            plan_id: file.as_ref().map(|f| f.plan_id.clone()).unwrap_or_default(),
            header,
            footer: self.footer,
        };
        Ok((plan, file))
    }
}

/// Whether creating `change` mints a secret Avnology shows only once.
fn mints_secret(change: &Change) -> bool {
    change.action == Action::Create
        && (change.kind == ObjectKind::ServiceAccount
            || (change.kind == ObjectKind::OAuthClient
                && change.fields.iter().any(|f| {
                    f.path == "client_type"
                        && f.after.as_ref().and_then(Value::as_str) == Some("confidential")
                })))
}
